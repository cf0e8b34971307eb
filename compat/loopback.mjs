// Loaded into every Node process of the workers-rs suite run (NODE_OPTIONS --import, see
// compat/suite_runs.py). The machine's rule: servers started by tests listen on
// 127.0.0.1 only. A spec helper starts an echo server with `listen(PORT)`, which binds
// every interface; such bare-port calls get host 127.0.0.1 (the worker connects to
// 127.0.0.1 anyway). Calls that name a host, a path or a handle are left alone.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const [first] = args;
  if (typeof first === "number" && typeof args[1] !== "string") {
    args.splice(1, 0, "127.0.0.1");
  } else if (
    first !== null &&
    typeof first === "object" &&
    "port" in first &&
    first.host === undefined &&
    first.path === undefined
  ) {
    args[0] = { ...first, host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};
