// worker-build entry shim without recovery: the legacy layout of `--no-panic-recovery` (and the
// default template when CUSTOM_SHIM is not set). wasm-bindgen's bundler-target glue
// (`./index_bg.js`) is wired to a module instantiated here; esbuild bundles the result into
// worker/shim.mjs next to worker/index.wasm. A panic or abort is not recovered from: an
// aborted instance stays dead until the runtime replaces the isolate.
//
// Placeholders (a dollar sign, then the name) are replaced before bundling, everywhere in
// the text, as in a CUSTOM_SHIM template: SNIPPET_JS_IMPORTS by one namespace import per
// wasm-bindgen snippet file, SNIPPET_WASM_IMPORTS by one `"./snippets/...": namespace,`
// entry per snippet file, WAIT_UNTIL_RESPONSE by `this.ctx.waitUntil(response);` when
// RUN_TO_COMPLETION is set (else by nothing).

import { WorkerEntrypoint } from "cloudflare:workers";
import * as glue from "./index_bg.js";
import wasmModule from "./index.wasm";
$SNIPPET_JS_IMPORTS

export * from "./index_bg.js";
export { wasmModule };

const wasmInstance = new WebAssembly.Instance(wasmModule, {
  "./index_bg.js": glue,
  $SNIPPET_WASM_IMPORTS
});
glue.__wbg_set_wasm(wasmInstance.exports);
wasmInstance.exports.__wbindgen_start?.();

// Handlers besides fetch, called as glue.NAME(arg, env, ctx).
const HANDLERS = ["queue", "scheduled", "email", "connect"];
// Types the worker crate exports for its own use: not RPC methods.
const NOT_RPC = new Set([
  "IntoUnderlyingByteSource",
  "IntoUnderlyingSink",
  "IntoUnderlyingSource",
  "MinifyConfig",
  "PolishConfig",
  "R2Range",
  "RequestRedirect",
  "getMemory",
]);

function isClass(value) {
  return typeof value === "function" && /^class\b/.test(Function.prototype.toString.call(value));
}

class Entrypoint extends WorkerEntrypoint {}

if (typeof glue.fetch === "function") {
  Entrypoint.prototype.fetch = async function fetch(request) {
    const response = glue.fetch(request, this.env, this.ctx);
    $WAIT_UNTIL_RESPONSE;
    return await response;
  };
}

for (const name of HANDLERS) {
  const handler = glue[name];
  if (typeof handler !== "function") continue;
  Entrypoint.prototype[name] = {
    async [name](arg) {
      return await handler(arg, this.env, this.ctx);
    },
  }[name];
}

for (const [name, value] of Object.entries(glue)) {
  if (typeof value !== "function" || isClass(value) || name.startsWith("__")) continue;
  if (name === "fetch" || HANDLERS.includes(name) || NOT_RPC.has(name)) continue;
  if (name in Entrypoint.prototype) continue; // never shadow WorkerEntrypoint's own members
  Entrypoint.prototype[name] = value;
}

export default Entrypoint;
