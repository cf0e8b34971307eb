// worker-build: replay on abort (--replay-on-abort), bundled with templates/shim.js, which
// imports it before wasm-bindgen's glue. Builds without the option get shim-replay-off.js.
//
// When the Wasm instance aborts, every request still waiting on it is lost. With this module
// the entrypoint's `fetch` runs such a request once more on the fresh instance, from the
// request's own context (workerd's rule: a request is settled only from its own context),
// when all of these hold:
// - it matches a replay rule (default: GET, HEAD, OPTIONS; WORKER_BUILD_CONFIG.replay);
// - it did not cause the abort: every call into Rust runs inside an AsyncLocalStorage store
//   (its "attempt"), which workerd carries through promise reactions, microtasks and timers;
//   the module wraps the Wasm instance's exports, so the first exception that leaves Wasm and
//   kills the instance names the attempt that was running. A Durable Object request carries
//   its caller's attempt in a header (see `linkedEnv`), so an abort inside the object blames
//   the request that called it too. An abort whose cause is unknown replays nothing. (A Rust
//   task woken by another request's code runs in that request's async context: a trap there
//   blames the waker. workerd forbids such cross-request I/O anyway.)
// - it was not replayed already (at most one replay per request);
// - replay is not paused: once PAUSE_AFTER replays in a row were lost to later aborts (aborts
//   come faster than replays finish), none starts until a request that started after that
//   finishes.
// New requests wait while the replays an abort owes run (see "Holding new requests"), so that
// the next abort cannot kill them.
// A request waits for its instance to die by polling from its own context (a microtask,
// then timers at 2 ms doubling to WATCH_MAX_INTERVAL_MS), for at most WATCH_FOR_MS; after
// that it is left to the runtime as without this module.
//
// Needs AsyncLocalStorage: the Worker's compatibility flags must include `nodejs_als` or
// `nodejs_compat`.

import { AsyncLocalStorage } from "node:async_hooks";

export const enabled = true;

const defined = typeof WORKER_BUILD_CONFIG === "object" ? WORKER_BUILD_CONFIG : null;
const RULES = (defined?.replay ?? ["GET", "HEAD", "OPTIONS"]).map(parseRule);
const LOG_PREFIX = "[worker-build]";
const WATCH_FIRST_MS = 2;
const WATCH_MAX_INTERVAL_MS = 20;
const WATCH_FOR_MS = 30_000;
const PAUSE_AFTER = 4;
// The header that carries a Durable Object request's caller (stripped before Rust sees it).
const LINK_HEADER = "x-worker-build-replay-caller";
const UNKNOWN = Symbol("unknown cause");

function parseRule(text) {
  const [method, prefix = "/"] = String(text).trim().split(/\s+/, 2);
  return { method: method.toUpperCase(), prefix };
}

function replayable(request) {
  const method = request.method.toUpperCase();
  const path = new URL(request.url).pathname;
  return RULES.some((rule) => rule.method === method && path.startsWith(rule.prefix));
}

// ---------------------------------------------------------------------------------------------
// Attempts: one per call into Rust made by a handler

const als = new AsyncLocalStorage();
const isolate = Math.random().toString(36).slice(2);
const linked = new Map(); // attempt id -> attempt, while its request may call an object
let nextId = 1;

function attempt(kind, caller = null, replayOf = null) {
  // eligible: a first attempt a rule matches; watching: its watch runs (shim-replay's own).
  const flags = { eligible: false, watching: false, poke: null };
  return { id: nextId++, kind, caller, replayOf, serial: 0, ...flags };
}

// Runs `fn` (a call into Rust) as `current`, which stays linkable (a Durable Object it calls
// names it as its caller) until the call's promise settles.
function run(current, fn) {
  current.serial = serial;
  linked.set(current.id, current);
  let result;
  try {
    result = als.run(current, fn);
  } catch (e) {
    linked.delete(current.id);
    throw e;
  }
  const unlinkAttempt = () => linked.delete(current.id);
  if (result !== null && typeof result === "object" && typeof result.then === "function") {
    result.then(unlinkAttempt, unlinkAttempt);
  } else {
    unlinkAttempt();
  }
  return result;
}

// A handler other than the entrypoint's fetch (an object's method, scheduled, queue, an RPC
// method...): never replayed, but run as an attempt so that an abort it causes is known.
export function runHandler(kind, caller, fn) {
  return run(attempt(kind, caller), fn);
}

// ---------------------------------------------------------------------------------------------
// The instance's exports, wrapped: who killed it

let serial = 0; // of the newest instance of the glue's module
const causes = new Map(); // instance serial -> the attempt whose exception killed it, or UNKNOWN
const MAX_CAUSES = 1024; // a request is watched for 30 s: far fewer aborts than that matter

function guard(fn, instanceSerial) {
  return function (...args) {
    try {
      return Reflect.apply(fn, this, args);
    } catch (e) {
      // The glue marks the instance dead for any exception but its own rethrow tag (a
      // WebAssembly.Exception). Only the first fatal one counts: after it no call enters.
      if (!(e instanceof WebAssembly.Exception) && !causes.has(instanceSerial)) {
        const cause = als.getStore() ?? UNKNOWN;
        causes.set(instanceSerial, cause);
        owe(instanceSerial, cause);
        if (cause !== UNKNOWN && typeof cause.poke === "function") cause.poke();
      }
      throw e;
    }
  };
}

function isGlueImports(imports) {
  return imports !== null && typeof imports === "object" && "./index_bg.js" in imports;
}

WebAssembly.Instance = new Proxy(WebAssembly.Instance, {
  construct(target, args, newTarget) {
    const instance = Reflect.construct(target, args, newTarget);
    if (!isGlueImports(args[1])) return instance;
    serial += 1;
    // Calls on the instances before can no longer call an object: forget them (a call that
    // died never settles), and keep the causes of the last MAX_CAUSES aborts.
    for (const [id, old] of linked) if (old.serial < serial) linked.delete(id);
    for (const old of causes.keys()) if (causes.size > MAX_CAUSES) causes.delete(old);
    const exports = {};
    for (const [name, value] of Object.entries(instance.exports)) {
      exports[name] = typeof value === "function" ? guard(value, serial) : value;
    }
    Object.defineProperty(instance, "exports", { value: Object.freeze(exports) });
    return instance;
  },
});

// True when `current` (or a request it was made for) caused the death of its instance; null
// when the cause is unknown.
function causedBy(current) {
  return blames(causes.get(current.serial), current);
}

function blames(cause, current) {
  if (cause === undefined || cause === UNKNOWN) return null;
  for (let a = cause; a !== null; a = a.caller) if (a === current) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Holding new requests while replays run
//
// A replay dies if another abort comes before it finishes, and it is not replayed again. So
// from the moment an instance dies until the replays it owes have finished (at most
// HOLD_MAX_MS after the death), a new request waits before it calls into Rust, polling from
// its own context: only the replays, which did not abort the instance, run on it meanwhile.
// `globalThis.__workerBuildReplayHoldMs`, set before the first request, changes the bound.

const HOLD_MAX_MS = 1000;
const owed = new Set(); // first attempts of requests that are to be replayed or given up
let holdUntil = 0;
let holdLogged = false;

// At the death of an instance (synchronously, in the exception's frame): the requests on it
// that will be replayed.
function owe(deadSerial, cause) {
  if (cause === UNKNOWN || paused()) return;
  for (const a of linked.values()) {
    if (a.serial === deadSerial && a.eligible && a.watching && blames(cause, a) === false) {
      owed.add(a);
    }
  }
  if (owed.size > 0) {
    holdUntil = Date.now() + (globalThis.__workerBuildReplayHoldMs ?? HOLD_MAX_MS);
    holdLogged = false;
  }
}

async function admitted(request) {
  let interval = WATCH_FIRST_MS;
  while (owed.size > 0 && Date.now() < holdUntil) {
    if (!holdLogged) {
      holdLogged = true;
      const what = `${request.method} ${request.url}`;
      console.warn(LOG_PREFIX, `holding ${what} until ${owed.size} replay(s) finish`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
    interval = Math.min(interval * 2, WATCH_MAX_INTERVAL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// Watching a call from its own context until it settles or its instance dies

// `current.poke()` checks at once: the trap's frame calls it for the attempt that caused the
// abort, which runs in that attempt's own context, so it ends without waiting for a timer.
function watch(result, isDead, current) {
  return new Promise((resolve) => {
    let done = false;
    let timer = null;
    let waited = 0;
    let interval = WATCH_FIRST_MS;
    const finish = (outcome) => {
      if (done) return;
      done = true;
      if (timer !== null) clearTimeout(timer);
      resolve(outcome);
    };
    Promise.resolve(result).then(
      (value) => finish({ settled: true, value }),
      (error) => finish({ settled: true, error }),
    );
    const check = () => {
      timer = null;
      if (done) return;
      if (isDead()) {
        finish({ settled: false });
      } else if (waited < WATCH_FOR_MS) {
        timer = setTimeout(check, interval);
        waited += interval;
        interval = Math.min(interval * 2, WATCH_MAX_INTERVAL_MS);
      } else {
        finish({ settled: false, unwatched: true });
      }
    };
    current.poke = () => {
      if (done) return;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      queueMicrotask(check);
    };
    queueMicrotask(check);
  });
}

// ---------------------------------------------------------------------------------------------
// The entrypoint's fetch

// The bound: replays lost to a later abort since a replay last finished. At PAUSE_AFTER no
// replay starts until a request that started after the pause finishes (the instance lives
// long enough again to finish one).
let lostReplaysInARow = 0;
let pausedBefore = 0; // while paused: the first attempt id that can end the pause

function paused() {
  return lostReplaysInARow >= PAUSE_AFTER;
}

function replayLost() {
  lostReplaysInARow += 1;
  if (lostReplaysInARow === PAUSE_AFTER) {
    pausedBefore = nextId;
    const why = `${PAUSE_AFTER} replays in a row were lost to later aborts`;
    console.warn(LOG_PREFIX, `replay paused: ${why}`);
  }
}

function finished(current) {
  if (current.replayOf !== null && !paused()) {
    lostReplaysInARow = 0;
  } else if (paused() && current.id >= pausedBefore) {
    lostReplaysInARow = 0;
    console.warn(LOG_PREFIX, "replay resumed: a request finished on the fresh instance");
  }
}

// `call(request, env)` calls Rust from the handler's `this`; `shim` = { recover, generation,
// watchAll, lost() } from templates/shim.js: `lost` ends a request whose instance died and
// that is not replayed (InstanceAbortedError to the runtime, or the shim's own 500).
export function fetchHandler(call, shim) {
  return async function fetch(request) {
    const self = this;
    const env = linkedEnv(this.env);
    const eligible = replayable(request);
    // A body can be read once: the spare (a tee) keeps it for the replay.
    const spare = eligible ? request.clone() : null;
    let spareUsed = false;
    const once = (current, req) =>
      attemptCall(current, () => call.call(self, req, env), shim, eligible || shim.watchAll);
    const fresh = attempt("fetch");
    fresh.eligible = eligible;
    try {
      if (owed.size > 0) await admitted(request);
      const first = await once(fresh, request);
      if (first.settled) return settle(first);
      if (first.unwatched) return await first.pending; // alive: as without replay
      const what = `${request.method} ${request.url}`;
      const culprit = eligible ? causedBy(first.attempt) : true;
      if (culprit === null) {
        console.warn(LOG_PREFIX, `not replaying ${what}: the abort's cause is unknown`);
      } else if (culprit === false && paused()) {
        console.warn(LOG_PREFIX, `not replaying ${what}: replay is paused`);
      } else if (culprit === false) {
        console.warn(LOG_PREFIX, `replaying ${what} on the fresh instance`);
        spareUsed = true;
        const second = await once(attempt("fetch", null, first.attempt), spare);
        if (second.settled) return settle(second);
        if (second.unwatched) return await second.pending;
        replayLost();
        return shim.lost();
      }
      return shim.lost();
    } finally {
      owed.delete(fresh);
      if (spare !== null && !spareUsed && spare.body !== null) spare.body.cancel().catch(() => {});
    }
  };
}

async function attemptCall(current, call, shim, watched) {
  shim.recover(); // a reset still due happens now, not inside the call
  const generation = shim.generation();
  current.watching = watched;
  const pending = run(current, call);
  if (!watched) {
    const value = await pending;
    finished(current);
    return { settled: true, value };
  }
  const outcome = await watch(
    pending,
    () => {
      shim.recover();
      return shim.generation() !== generation;
    },
    current,
  );
  current.watching = false;
  current.poke = null;
  if (outcome.settled) finished(current);
  return { ...outcome, attempt: current, pending };
}

function settle(outcome) {
  if ("error" in outcome) throw outcome.error;
  return outcome.value;
}

// ---------------------------------------------------------------------------------------------
// Durable Object calls carry their caller's attempt (in one isolate, a caller and its object
// share the instance: an abort in the object must blame the request that called it)

const linkedEnvs = new WeakMap();

function isNamespace(value) {
  // The worker crate's own test for the binding's type.
  const type = value !== null && typeof value === "object" ? value.constructor?.name : null;
  return type === "DurableObjectNamespace";
}

export function linkedEnv(env) {
  if (env === null || typeof env !== "object") return env;
  let wrapped = linkedEnvs.get(env);
  if (wrapped === undefined) {
    const namespaces = new Map();
    wrapped = new Proxy(env, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (!isNamespace(value)) return value;
        if (!namespaces.has(key)) namespaces.set(key, linkedNamespace(value));
        return namespaces.get(key);
      },
    });
    linkedEnvs.set(env, wrapped);
  }
  return wrapped;
}

// Methods of a runtime object must be called on the object itself, not on the proxy.
function bound(target, key) {
  const value = Reflect.get(target, key);
  return typeof value === "function" && key !== "constructor" ? value.bind(target) : value;
}

function linkedNamespace(namespace) {
  return new Proxy(namespace, {
    get(target, key) {
      if (key === "get" || key === "getByName") {
        return (...args) => linkedStub(target[key](...args));
      }
      return bound(target, key);
    },
  });
}

function linkedStub(stub) {
  return new Proxy(stub, {
    get(target, key) {
      if (key !== "fetch") return bound(target, key);
      return (input, init) => {
        const caller = als.getStore();
        if (caller === undefined || !linked.has(caller.id)) return target.fetch(input, init);
        const request = new Request(input, init);
        request.headers.set(LINK_HEADER, `${isolate}:${caller.id}`);
        return target.fetch(request);
      };
    },
  });
}

// A Durable Object's request: its caller's attempt (when the caller runs in this isolate)
// and the request without the link header.
export function unlink(request) {
  if (!(request instanceof Request) || !request.headers.has(LINK_HEADER)) return [request, null];
  const [from, id] = request.headers.get(LINK_HEADER).split(":");
  const copy = new Request(request);
  copy.headers.delete(LINK_HEADER);
  return [copy, from === isolate ? (linked.get(Number(id)) ?? null) : null];
}
