// worker-build: the replay module of builds without --replay-on-abort (see shim-replay.js).
// Bundled in its place, so such builds import nothing from node:async_hooks.

export const enabled = false;

export function fetchHandler() {
  throw new Error("replay on abort is not built in (worker-build --replay-on-abort)");
}

export function runHandler(kind, caller, fn) {
  return fn();
}

export function unlink(request) {
  return [request, null];
}

export function linkedEnv(env) {
  return env;
}
