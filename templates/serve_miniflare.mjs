// worker-build's miniflare runner for `loader.serve()` (worker_build/serve/miniflare_process.py):
// runs a Worker build in miniflare, the local simulator `wrangler dev` uses, for the bindings
// plain workerd cannot provide (R2, D1, queues, rate limiters, assets, ...).
//
//   node serve_miniflare.mjs OPTIONS.json MINIFLARE_PACKAGE_DIR CONTROL_FD
//
// OPTIONS.json holds miniflare's v4 option shape (worker_build/serve/miniflare_options.py).
// Once miniflare is ready, one JSON line per socket goes to the control fd, as workerd's
// --control-fd does: {"event":"listen","socket":"http"|"control","port":N}; "http" is
// miniflare's entry socket (the Worker), "control" the direct socket of worker-build's
// harness worker. SIGTERM or SIGINT disposes of miniflare (and its workerd), then exits.

import { readFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const [optionsPath, packageDir, controlFd] = process.argv.slice(2);
// The package is loaded from its directory: worker-build's cache or a node_modules that is
// not on this script's resolution path.
const miniflare = createRequire(join(packageDir, "package.json"))(packageDir);
const { Miniflare, Log, LogLevel } = miniflare;

const options = JSON.parse(readFileSync(optionsPath, "utf8"));
options.log = new Log(LogLevel.INFO);
// miniflare 5 takes the v4 shape through its converter (as wrangler does); 4 takes it as is.
const converted = miniflare.convertV4MiniflareOptions
  ? miniflare.convertV4MiniflareOptions(options)
  : options;

let mf;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  const bounded = new Promise((resolve) => setTimeout(resolve, 5000).unref());
  try {
    if (mf !== undefined) await Promise.race([mf.dispose(), bounded]);
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));

function report(socket, url) {
  const line = JSON.stringify({ event: "listen", socket, port: Number(new URL(url).port) });
  writeSync(Number(controlFd), `${line}\n`);
}

try {
  mf = new Miniflare(converted);
  report("http", await mf.ready);
  report("control", await mf.unsafeGetDirectURL("harness"));
} catch (error) {
  console.error(`miniflare did not start: ${error?.code ? `${error.code}: ` : ""}${error?.message ?? error}`);
  await stop(1);
}
