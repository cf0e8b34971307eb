// worker-build entry shim: bundled by esbuild together with wasm-bindgen's glue (`./index.js`).
//
// What it does:
// - The default export is a WorkerEntrypoint. The glue's `fetch`, `scheduled`, `queue` and
//   `email` exports become its handlers (called as `glue.NAME(arg, env, ctx)`); every other
//   plain function export becomes an RPC method.
// - Exported classes (Durable Objects) are wrapped by `__workerBuildClass(name)`: the bundle
//   step appends one `export const NAME = __workerBuildClass("NAME");` line per class found in
//   the glue. A wrapper re-creates its inner Rust object when the Wasm instance changed.
// - Recovery. A Rust panic in an unwind build reaches us as wasm-bindgen's `PanicError`: the
//   call fails (a fetch gets a 500) and the instance is kept. A hard abort (trap, OOM, stack
//   overflow, or any panic in a panic=abort build) poisons the instance: it is replaced
//   (`__wbg_reset_state`), the instance id is bumped, the calls still pending on the dead
//   instance fail, and the handlers registered with `onAbort` run.
//
// WORKER_BUILD_CONFIG is replaced by esbuild (`--define`):
//   { "panicUnwind": bool, "panicBody": "message" | "generic" }

import { WorkerEntrypoint } from "cloudflare:workers";
import * as glue from "./index.js";

// Without the define (a bundle made by hand) the defaults apply.
const defined = typeof WORKER_BUILD_CONFIG === "object" ? WORKER_BUILD_CONFIG : null;
const config = { panicUnwind: false, panicBody: "message", ...defined };

const HANDLERS = ["fetch", "scheduled", "queue", "email"];
const GENERIC_BODY = "Internal Server Error";
const LOG_PREFIX = "[worker-build]";

// ---------------------------------------------------------------------------------------------
// Instance generation

// The worker crate keeps `{ criticalError, instanceId }` on globalThis and bumps instanceId each
// time the Wasm start function runs, i.e. once per (re)instantiation.
function readInitState() {
  if (typeof glue.__worker_init_state === "function") return glue.__worker_init_state();
  return globalThis.__worker_init_state;
}
const initState = readInitState() ?? { criticalError: false, instanceId: 0 };

let knownGeneration = initState.instanceId;
let resets = 0;
let lastFatal = null; // the error that caused the pending/last reset

function generation() {
  return initState.instanceId;
}

// ---------------------------------------------------------------------------------------------
// Abort hooks (public API)
//
// `onAbort(handler)` registers `handler(info)` to run after a hard abort once the fresh instance
// is in place, with info = { error, previousInstanceId, instanceId, resets }. It returns a
// function that unregisters the handler. Handlers are kept across resets; one that throws is
// logged (one that is a closure of a dead Wasm instance is dropped).
// Code that runs before this module is evaluated (a wasm-bindgen snippet, the Wasm start
// function) can push handlers onto the array `globalThis.__workerBuildAbortHooks` instead.

const abortHooks = (globalThis.__workerBuildAbortHooks ??= []);

export function onAbort(handler) {
  if (typeof handler !== "function") throw new TypeError("onAbort expects a function");
  if (!abortHooks.includes(handler)) abortHooks.push(handler);
  return () => {
    const index = abortHooks.indexOf(handler);
    if (index !== -1) abortHooks.splice(index, 1);
  };
}

globalThis.__workerBuild = Object.freeze({
  onAbort,
  get instanceId() {
    return generation();
  },
  get resets() {
    return resets;
  },
});

function isStaleInstanceError(e) {
  const message = e instanceof Error ? e.message : "";
  return /from previous (Wasm|WASM) instance/.test(message);
}

function runAbortHooks(info) {
  for (const handler of [...abortHooks]) {
    try {
      const result = handler(info);
      if (result && typeof result.then === "function") {
        result.then(undefined, (e) => console.error(LOG_PREFIX, "onAbort handler failed:", e));
      }
    } catch (e) {
      if (isStaleInstanceError(e)) {
        const index = abortHooks.indexOf(handler);
        if (index !== -1) abortHooks.splice(index, 1);
      } else {
        console.error(LOG_PREFIX, "onAbort handler failed:", e);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Calls pending on an instance: they can never settle once it is gone (their Rust futures
// died with it), so they are failed when the instance is replaced.

class InstanceAbortedError extends Error {
  constructor(cause) {
    super("The Wasm instance was aborted and reset while this call was pending", { cause });
    this.name = "InstanceAbortedError";
  }
}

const pending = new Set();

function failPendingCalls(deadGeneration, cause) {
  for (const entry of [...pending]) {
    if (entry.generation <= deadGeneration) {
      pending.delete(entry);
      entry.reject(new InstanceAbortedError(cause));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fatal-error detection and reset

function isPanic(e) {
  return e !== null && typeof e === "object" && e.name === "PanicError";
}

// Errors after which the instance must not be used again.
function isFatal(e) {
  if (e === null || typeof e !== "object" || isPanic(e) || isStaleInstanceError(e)) return false;
  if (e instanceof WebAssembly.RuntimeError) return true; // unreachable, OOM abort, bad access
  if (e instanceof RangeError && /call stack/i.test(e.message)) return true; // stack overflow
  return e instanceof Error && e.message === "Module terminated";
}

// Called whenever the generation may have changed: runs the consequences of a reset once.
function observeGeneration() {
  const current = generation();
  if (current === knownGeneration) return;
  const previous = knownGeneration;
  knownGeneration = current;
  resets += 1;
  const error = lastFatal;
  lastFatal = null;
  failPendingCalls(previous, error);
  runAbortHooks({ error, previousInstanceId: previous, instanceId: current, resets });
}

function resetInstance(reason) {
  const before = generation();
  const build = config.panicUnwind ? "" : " (panic=abort build: every panic is one)";
  console.error(LOG_PREFIX, `resetting the Wasm instance after a hard abort${build}:`, reason);
  glue.__wbg_reset_state();
  initState.criticalError = false;
  if (generation() === before) initState.instanceId = before + 1; // start fn did not bump it
}

// Bring the instance into a usable state before a call (or after a failure):
// - let the glue run a reinit that the worker crate's abort handler scheduled (any export
//   call does that; `__worker_init_state` is the cheapest one), then
// - reset ourselves when a fatal error is known but nothing reset the instance: crates
//   without the worker crate have no abort handler, and the worker crate's panic hook in a
//   panic=abort build also sets criticalError.
function recover(error) {
  const errorIsFatal = error !== undefined && isFatal(error);
  if (errorIsFatal && lastFatal === null) lastFatal = error;
  const before = generation();
  let probeFailed = null;
  if (typeof glue.__worker_init_state === "function") {
    try {
      glue.__worker_init_state();
    } catch (e) {
      probeFailed = e; // "Module terminated" or a trap: the instance is unusable
    }
  }
  const fatal = probeFailed !== null || initState.criticalError || errorIsFatal;
  if (fatal && generation() === before) {
    if (lastFatal === null) lastFatal = probeFailed ?? new Error("criticalError was set");
    resetInstance(lastFatal);
  }
  observeGeneration();
}

function onUncaught(error) {
  // Traps inside Wasm callbacks (microtasks, promise reactions, timers) surface here, not in
  // the promise of the call that started them: that promise never settles.
  if (isFatal(error) || initState.criticalError) recover(error);
}

if (typeof addEventListener === "function") {
  addEventListener("error", (event) => onUncaught(event.error));
  addEventListener("unhandledrejection", (event) => onUncaught(event.reason));
}

// Every call into Rust goes through here.
function invoke(fn, thisArg, args) {
  recover();
  const callGeneration = generation();
  let result;
  try {
    result = Reflect.apply(fn, thisArg, args);
  } catch (e) {
    if (!isPanic(e)) recover(e);
    throw e;
  }
  if (result === null || typeof result !== "object" || typeof result.then !== "function") {
    return result;
  }
  return new Promise((resolve, reject) => {
    const entry = { generation: callGeneration, reject };
    pending.add(entry);
    result.then(
      (value) => {
        pending.delete(entry);
        resolve(value);
      },
      (e) => {
        pending.delete(entry);
        if (!isPanic(e)) recover(e);
        reject(e);
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Error responses

function describe(e) {
  if (!(e instanceof Error)) return String(e);
  const text = `${e.name}: ${e.message}`;
  return e.cause instanceof Error ? `${text} (${e.cause.name}: ${e.cause.message})` : text;
}

function errorResponse(e, where) {
  console.error(LOG_PREFIX, `${where} failed:`, isPanic(e) ? describe(e) : e);
  const body = config.panicBody === "generic" ? GENERIC_BODY : describe(e);
  return new Response(body, {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

// ---------------------------------------------------------------------------------------------
// The default export: handlers and RPC methods

const SYSTEM_EXPORTS = new Set(["__wbg_reset_state", "__worker_init_state", "onAbort"]);

function isClass(value) {
  return typeof value === "function" && /^class\b/.test(Function.prototype.toString.call(value));
}

class Entrypoint extends WorkerEntrypoint {}

for (const name of Object.keys(glue)) {
  const value = glue[name];
  if (typeof value !== "function" || isClass(value) || SYSTEM_EXPORTS.has(name)) continue;
  if (name.startsWith("__wbg") || name.startsWith("__wbindgen")) continue;
  let method;
  if (name === "fetch") {
    method = async function fetch(request) {
      try {
        return await invoke(value, undefined, [request, this.env, this.ctx]);
      } catch (e) {
        return errorResponse(e, "fetch");
      }
    };
  } else if (HANDLERS.includes(name)) {
    method = {
      [name](arg) {
        return invoke(value, undefined, [arg, this.env, this.ctx]);
      },
    }[name];
  } else {
    if (name in Entrypoint.prototype) continue; // never shadow WorkerEntrypoint's own members
    method = {
      [name](...args) {
        return invoke(value, this, args);
      },
    }[name];
  }
  Object.defineProperty(Entrypoint.prototype, name, {
    value: method,
    writable: true,
    configurable: true,
  });
}

export default Entrypoint;

// ---------------------------------------------------------------------------------------------
// Exported classes (Durable Objects)

const INNER = Symbol("inner");
const INNER_GENERATION = Symbol("innerGeneration");
const ARGS = Symbol("constructorArgs");
const SKIPPED_MEMBERS = new Set(["constructor", "__destroy_into_raw"]);

function innerOf(wrapper, Inner) {
  if (wrapper[INNER] === undefined || wrapper[INNER_GENERATION] !== generation()) {
    // The old object belongs to a dead instance: its memory is gone, do not free it.
    wrapper[INNER] = Reflect.construct(Inner, wrapper[ARGS]);
    wrapper[INNER_GENERATION] = generation();
  }
  return wrapper[INNER];
}

// `fetch` of a wrapped class answers 500 on failure, like the entrypoint; other methods
// (alarm, webSocket*, RPC) reject and let the runtime report it.
function wrapMethod(Inner, name, original) {
  if (name === "fetch") {
    return async function fetch(...args) {
      try {
        recover();
        return await invoke(original, innerOf(this, Inner), args);
      } catch (e) {
        return errorResponse(e, `${Inner.name}.fetch`);
      }
    };
  }
  if (name === "free" || name === Symbol.dispose) {
    return function free() {
      const inner = this[INNER];
      this[INNER] = undefined;
      if (inner !== undefined && this[INNER_GENERATION] === generation()) inner.free();
    };
  }
  const wrapped = {
    [name](...args) {
      recover();
      return invoke(original, innerOf(this, Inner), args);
    },
  };
  return wrapped[name];
}

function wrapClass(Inner, name) {
  const Wrapper = {
    [name]: class {
      constructor(...args) {
        this[ARGS] = args;
        recover();
        innerOf(this, Inner);
      }
    },
  }[name];
  for (const key of Reflect.ownKeys(Inner.prototype)) {
    if (SKIPPED_MEMBERS.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(Inner.prototype, key);
    if (typeof descriptor.value === "function") {
      Object.defineProperty(Wrapper.prototype, key, {
        value: wrapMethod(Inner, key, descriptor.value),
        writable: true,
        configurable: true,
      });
    } else if (descriptor.get || descriptor.set) {
      Object.defineProperty(Wrapper.prototype, key, {
        get: descriptor.get
          ? function () {
              recover();
              return invoke(descriptor.get, innerOf(this, Inner), []);
            }
          : undefined,
        set: descriptor.set
          ? function (v) {
              recover();
              invoke(descriptor.set, innerOf(this, Inner), [v]);
            }
          : undefined,
        configurable: true,
      });
    }
  }
  // Static members (wasm-bindgen's `__wrap`, user statics) stay reachable.
  Object.setPrototypeOf(Wrapper, Inner);
  return Wrapper;
}

function __workerBuildClass(name) {
  const Inner = glue[name];
  if (!isClass(Inner)) {
    throw new TypeError(`${LOG_PREFIX} ${name} is not a class export of the glue`);
  }
  return wrapClass(Inner, name);
}
