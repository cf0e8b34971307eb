// worker-build entry shim: bundled by esbuild together with wasm-bindgen's glue (`./index.js`).
//
// The bundle step (worker_build/steps/bundle.py) parses the glue's exports and appends:
//   export default __workerBuildEntrypoint(["fetch", ...]);   // the glue's function exports
//   export const NAME = __workerBuildClass("NAME");           // one line per exported class
//
// - The default export is a WorkerEntrypoint. `fetch`, `scheduled`, `queue`, `email` and
//   `connect` are its handlers, called as `glue.NAME(arg, env, ctx)`; every other function
//   export becomes an RPC method.
// - Exported classes (Durable Objects) are wrapped: a wrapper re-creates its inner Rust object
//   when the Wasm instance changed since it was made.
//
// Recovery, as the Rust worker-build's shims do it (panicBody "runtime", the default):
// - A Rust panic in an unwind build rejects the call with wasm-bindgen's PanicError. It is not
//   caught: it reaches the runtime, which answers the request (500) and logs it.
// - A hard abort (trap, OOM, stack overflow, any panic in a panic=abort build) kills the
//   instance. The request that aborted, and every request still waiting on the dead instance,
//   can never finish. They are left to the runtime, which cancels them ("The Workers runtime
//   canceled this request ..."): workerd lets a request's promise be settled only from that
//   request's own context, so the shim never settles one request from another's.
//   The instance is replaced (`__wbg_reset_state`) as soon as the shim learns of the abort,
//   Durable Object wrappers re-create their Rust object, and the `onAbort` handlers run.
//   The runtime never cancels a Durable Object's request, so a Durable Object call pending on
//   a dead instance is rejected from the object's own context (see `watched`).
// With panicBody "message" or "generic" the shim answers itself, from the request's own
// context: a fetch that panicked, or whose instance died before it finished (see `watched`),
// gets a 500 carrying the error text ("message") or a generic text ("generic"; detail in the
// logs).
//
// With --replay-on-abort, a request lost to another request's abort runs again on the fresh
// instance (./worker-build-replay.js, from templates/shim-replay.js; without the option it is
// shim-replay-off.js). It is imported before the glue: it wraps WebAssembly.Instance.
//
// WORKER_BUILD_CONFIG is replaced by esbuild (`--define`):
//   { "panicUnwind": bool, "panicBody": "runtime" | "message" | "generic",
//     "runToCompletion": bool, "replay": null | ["GET", "PUT /items/", ...] }

import { WorkerEntrypoint } from "cloudflare:workers";
import * as replay from "./worker-build-replay.js";
import * as glue from "./index.js";

// Without the define (a bundle made by hand) the defaults apply.
const defined = typeof WORKER_BUILD_CONFIG === "object" ? WORKER_BUILD_CONFIG : null;
const config = { panicUnwind: false, panicBody: "runtime", runToCompletion: false, ...defined };
const shimAnswers = config.panicBody === "message" || config.panicBody === "generic";

const HANDLERS = new Set(["fetch", "scheduled", "queue", "email", "connect"]);
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
let lastResetCause = null; // the error of the last reset, for the shim's own 500
const consumedFatal = new WeakSet(); // errors a reset was already made for

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
  return /(from )?previous (Wasm|WASM) instance/.test(message);
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
  // The panic hook of a panic=abort build sets criticalError before the abort; it described
  // the instance that is gone now.
  initState.criticalError = false;
  const error = lastFatal;
  lastFatal = null;
  if (error !== null && typeof error === "object") consumedFatal.add(error);
  lastResetCause = error;
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
//   call does that; `__worker_init_state` is the cheapest one; on a terminated instance
//   without a scheduled reinit it throws "Module terminated"), then
// - reset ourselves when the instance is known to be dead but nothing reset it: crates
//   without the worker crate have no abort handler, and the worker crate's panic hook in a
//   panic=abort build sets criticalError.
// A fatal error is acted on once: a second report of it (the error event, then the call's own
// rejection) must not reset the instance that replaced the one it killed.
function recover(error) {
  const fresh = error !== undefined && isFatal(error) && !consumedFatal.has(error);
  if (fresh && lastFatal === null) lastFatal = error;
  const before = generation();
  let probeFailed = null;
  if (typeof glue.__worker_init_state === "function") {
    try {
      glue.__worker_init_state();
    } catch (e) {
      probeFailed = e; // "Module terminated" or a trap: the instance is unusable
    }
  }
  if (generation() === before && (probeFailed !== null || initState.criticalError || fresh)) {
    if (lastFatal === null) lastFatal = probeFailed ?? new Error("criticalError was set");
    resetInstance(lastFatal);
  }
  observeGeneration();
}

function onUncaught(error) {
  // Traps inside Wasm callbacks (microtasks, promise reactions, timers) surface here, not in
  // the promise of the call that started them: that promise never settles, and its request
  // is left to the runtime. Any uncaught error may come from a terminated instance (in a
  // panic=abort build a JS exception through Rust frames terminates it too), so look now:
  // resetting at once, rather than at the next call, makes a callback of the dead instance
  // that runs later throw "previous Wasm instance" instead of calling into the new instance
  // with the old instance's pointers.
  recover(error);
}

if (typeof addEventListener === "function") {
  addEventListener("error", (event) => onUncaught(event.error));
  addEventListener("unhandledrejection", (event) => onUncaught(event.reason));
}

// Every call into Rust goes through here. The result is returned as it is: a promise from
// Rust is settled by Rust (or never, if its instance dies), never by the shim.
function invoke(fn, thisArg, args) {
  recover();
  let result;
  try {
    result = Reflect.apply(fn, thisArg, args);
  } catch (e) {
    if (!isPanic(e)) recover(e);
    throw e;
  }
  if (isThenable(result)) {
    result.then(undefined, (e) => {
      if (!isPanic(e)) recover(e);
    });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Watching a pending call from its own context
//
// A call whose instance died can never settle. Only code running in the call's own request
// context may settle it, so the call is watched from there: a microtask queued after the call
// (it runs after wasm-bindgen's first poll of the call's future, still in this context), then
// timers with growing intervals (2 ms, doubling, at most 100 ms). Once the instance that ran
// the call is gone, the call is rejected with InstanceAbortedError.
//
// - Durable Object calls are always watched, for as long as they are pending: the runtime
//   never cancels a Durable Object's request for hanging (requests to one object share its
//   context and may settle each other's promises), so a call on a dead instance would hang
//   for ever, and with it the request waiting for the object.
// - With panicBody "message" | "generic", fetch is watched too, for its first 2 s (a pending
//   timer keeps the runtime from declaring a request hung, so a request that never answers
//   on a live instance is cancelled by the runtime once the watch ends). With "runtime" a
//   fetch is never watched: the runtime cancels it, as with the Rust tool's shims.

const WATCH_FIRST_MS = 2;
const WATCH_MAX_INTERVAL_MS = 100;
const WATCH_FETCH_FOR_MS = 2000;

class InstanceAbortedError extends Error {
  constructor(cause) {
    super("The Wasm instance aborted before this call finished", { cause });
    this.name = "InstanceAbortedError";
  }
}

function isThenable(value) {
  return value !== null && typeof value === "object" && typeof value.then === "function";
}

function watched(result, callGeneration, watchForMs = Infinity) {
  if (!isThenable(result)) return result;
  return new Promise((resolve, reject) => {
    let done = false;
    let timer = null;
    let waited = 0;
    let interval = WATCH_FIRST_MS;
    const finish = (settle) => (value) => {
      if (done) return;
      done = true;
      if (timer !== null) clearTimeout(timer);
      settle(value);
    };
    const fulfil = finish(resolve);
    const fail = finish(reject);
    result.then(fulfil, fail);
    const check = () => {
      timer = null;
      if (done) return;
      recover();
      if (generation() !== callGeneration) {
        fail(new InstanceAbortedError(lastResetCause));
      } else if (waited < watchForMs) {
        timer = setTimeout(check, interval);
        waited += interval;
        interval = Math.min(interval * 2, WATCH_MAX_INTERVAL_MS);
      }
    };
    queueMicrotask(check);
  });
}

function isDurableObjectState(value) {
  return value !== null && typeof value === "object" && "storage" in value && "id" in value;
}

// ---------------------------------------------------------------------------------------------
// The shim's own answers (panicBody "message" | "generic")

function describe(e) {
  if (!(e instanceof Error)) return String(e);
  const text = `${e.name}: ${e.message}`;
  return e.cause instanceof Error ? `${text} (${e.cause.name}: ${e.cause.message})` : text;
}

function errorResponse(e, where) {
  console.error(LOG_PREFIX, `${where} failed:`, describe(e));
  const body = config.panicBody === "generic" ? GENERIC_BODY : describe(e);
  return new Response(body, {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

// A fetch handler (of the entrypoint or of a Durable Object) over `call()`.
function fetchHandler(where, call) {
  if (!shimAnswers) return call;
  return async function fetch(...args) {
    try {
      // The instance the call will run on: a reset still pending from an earlier abort
      // happens now, not inside the call (which would make a live call look dead).
      recover();
      const callGeneration = generation();
      return await watched(call.apply(this, args), callGeneration, WATCH_FETCH_FOR_MS);
    } catch (e) {
      return errorResponse(e, where);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// The default export: handlers and RPC methods

const SYSTEM_EXPORTS = new Set(["__wbg_reset_state", "__worker_init_state", "onAbort"]);

function isClass(value) {
  return typeof value === "function" && /^class\b/.test(Function.prototype.toString.call(value));
}

// The entrypoint's fetch with replay on abort (shim-replay.js): the shim's side of it.
const replayShim = {
  recover: () => recover(),
  generation,
  watchAll: shimAnswers,
  // A request whose instance died and that is not replayed: the runtime's 500 at once (rather
  // than when it sees the request hang), or the shim's.
  lost() {
    const error = new InstanceAbortedError(lastResetCause);
    if (!shimAnswers) throw error;
    return errorResponse(error, "fetch");
  },
};

function handlerMethod(name, fn) {
  if (name === "fetch") {
    const call = function fetch(request, env = this.env) {
      return invoke(fn, undefined, [request, env, this.ctx]);
    };
    const handler = replay.enabled
      ? replay.fetchHandler(call, replayShim)
      : fetchHandler("fetch", call);
    if (!config.runToCompletion) return handler;
    return function fetch(request) {
      const response = handler.call(this, request);
      this.ctx.waitUntil(response);
      return response;
    };
  }
  return {
    [name](arg) {
      const env = replay.linkedEnv(this.env);
      return replay.runHandler(name, null, () => invoke(fn, undefined, [arg, env, this.ctx]));
    },
  }[name];
}

function __workerBuildEntrypoint(names) {
  class Entrypoint extends WorkerEntrypoint {}
  for (const name of names) {
    const fn = glue[name];
    if (typeof fn !== "function" || isClass(fn) || SYSTEM_EXPORTS.has(name)) continue;
    if (name.startsWith("__wbg") || name.startsWith("__wbindgen")) continue;
    let method;
    if (HANDLERS.has(name)) {
      method = handlerMethod(name, fn);
    } else {
      if (name in Entrypoint.prototype) continue; // never shadow WorkerEntrypoint's own members
      method = {
        [name](...args) {
          return replay.runHandler(name, null, () => invoke(fn, this, args));
        },
      }[name];
    }
    Object.defineProperty(Entrypoint.prototype, name, {
      value: method,
      writable: true,
      configurable: true,
    });
  }
  return Entrypoint;
}

// ---------------------------------------------------------------------------------------------
// Exported classes (Durable Objects)

const INNER = Symbol("inner");
const INNER_GENERATION = Symbol("innerGeneration");
const ARGS = Symbol("constructorArgs");
const ACTOR = Symbol("isDurableObject");
const SKIPPED_MEMBERS = new Set(["constructor", "__destroy_into_raw"]);

function innerOf(wrapper, Inner) {
  if (wrapper[INNER] === undefined || wrapper[INNER_GENERATION] !== generation()) {
    // The old object belongs to a dead instance: its memory is gone, do not free it.
    wrapper[INNER] = Reflect.construct(Inner, wrapper[ARGS]);
    wrapper[INNER_GENERATION] = generation();
  }
  return wrapper[INNER];
}

// Methods call into the current instance's object; errors propagate to the runtime, except
// that `fetch` answers 500 itself when the shim answers (panicBody "message" | "generic").
function wrapMethod(Inner, name, original) {
  if (name === "free" || name === Symbol.dispose) {
    return function free() {
      const inner = this[INNER];
      this[INNER] = undefined;
      if (inner !== undefined && this[INNER_GENERATION] === generation()) inner.free();
    };
  }
  const wrapped = {
    [name](...args) {
      let caller = null;
      if (name === "fetch") [args[0], caller] = replay.unlink(args[0]);
      recover();
      const callGeneration = generation();
      const inner = innerOf(this, Inner);
      const result = replay.runHandler(name, caller, () => invoke(original, inner, args));
      return this[ACTOR] ? watched(result, callGeneration) : result;
    },
  }[name];
  return name === "fetch" ? fetchHandler(`${Inner.name}.fetch`, wrapped) : wrapped;
}

function wrapClass(Inner, name) {
  const Wrapper = {
    [name]: class {
      constructor(...args) {
        this[ACTOR] = isDurableObjectState(args[0]);
        if (this[ACTOR] && args.length > 1) args[1] = replay.linkedEnv(args[1]);
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
