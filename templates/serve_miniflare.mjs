// worker-build's miniflare runner for `loader.serve()` (worker_build/serve/miniflare_process.py):
// runs a Worker build in miniflare, the local simulator `wrangler dev` uses, for the bindings
// plain workerd cannot provide (R2, D1, queues, rate limiters, assets, ...).
//
//   node serve_miniflare.mjs OPTIONS.json MINIFLARE_PACKAGE_DIR CONTROL_FD
//
// OPTIONS.json holds miniflare's v4 option shape (worker_build/serve/miniflare_options.py).
// Once ready, one JSON line per socket goes to the control fd, as workerd's --control-fd
// does: {"event":"listen","socket":"http"|"control","port":N}. "http" is miniflare's entry
// socket (the Worker, behind its assets when it has some); "control" is this script's own
// loopback HTTP server for the client's scheduled()/queue()/call(), which calls the Worker
// through miniflare's getWorker() with the routes of serve_control.mjs. SIGTERM or SIGINT
// disposes of miniflare (and the workerd it started), then exits.

import { readFileSync, writeSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { control, isControlRoute } from "./serve_control.mjs";

const [optionsPath, packageDir, controlFd] = process.argv.slice(2);
// Loaded from its directory: worker-build's cache, or a node_modules that is not on this
// script's own resolution path.
const miniflare = createRequire(join(packageDir, "package.json"))(packageDir);
const { Miniflare, Log, LogLevel } = miniflare;

const options = JSON.parse(readFileSync(optionsPath, "utf8"));
options.log = new Log(LogLevel.INFO);
// miniflare 5 takes the v4 shape through its converter (as wrangler does); 4 takes it as is.
const converted = miniflare.convertV4MiniflareOptions
  ? miniflare.convertV4MiniflareOptions(options)
  : options;

let mf;
let server;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  server?.close();
  const bounded = new Promise((resolve) => setTimeout(resolve, 5000).unref());
  try {
    if (mf !== undefined) await Promise.race([mf.dispose(), bounded]);
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));

function report(socket, port) {
  writeSync(Number(controlFd), `${JSON.stringify({ event: "listen", socket, port })}\n`);
}

function serveControl(worker) {
  server = createServer(async (request, response) => {
    const name = new URL(request.url, "http://control").pathname.slice(1);
    if (request.method !== "POST" || !isControlRoute(name)) {
      response.writeHead(404).end("not a worker-build control route");
      return;
    }
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    const answer = await control(worker, name, JSON.parse(Buffer.concat(chunks).toString()));
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(answer));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

try {
  mf = new Miniflare(converted);
  const url = await mf.ready;
  const controlPort = await serveControl(await mf.getWorker("main"));
  report("http", Number(url.port));
  report("control", controlPort);
} catch (error) {
  const code = error?.code ? `${error.code}: ` : "";
  console.error(`miniflare did not start: ${code}${error?.message ?? error}`);
  await stop(1);
}
