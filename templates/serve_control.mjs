// The control routes of worker-build's Python client (worker_build/serve/client.py): POST
// /scheduled, /queue and /rpc, each a call of the Worker's handler or method through a
// Fetcher, answered as JSON { ok: true, value } or { ok: false, error: { name, message } }.
// Shared by the harness worker of a workerd run (serve_harness.js, with a service binding)
// and the miniflare runner (serve_miniflare.mjs, with miniflare's getWorker()), so both
// runtimes answer alike. Plain ES, no imports: it runs in workerd and in Node.
//
// Values cross the JSON boundary with one tag: { "$bytes": base64 } is a Uint8Array; a Map
// becomes an object, a Date its ISO text, a bigint its decimal text, undefined null.

export function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object") {
    if (typeof value.$bytes === "string" && Object.keys(value).length === 1) {
      return Uint8Array.from(atob(value.$bytes), (c) => c.charCodeAt(0));
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

export function encode(value) {
  if (value === undefined) return null;
  if (value instanceof ArrayBuffer) value = new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return { $bytes: btoa(text) };
  }
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, encode(v)]));
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

const CONTROL = {
  async scheduled(worker, { cron, scheduledTime }) {
    return worker.scheduled({ cron, scheduledTime: new Date(scheduledTime) });
  },
  async queue(worker, { queue, messages }) {
    const batch = messages.map((m) => ({
      id: m.id,
      timestamp: new Date(m.timestamp),
      body: decode(m.body),
      attempts: m.attempts,
    }));
    return worker.queue(queue, batch);
  },
  async rpc(worker, { method, args }) {
    return worker[method](...decode(args));
  },
};

export function isControlRoute(name) {
  return Object.hasOwn(CONTROL, name);
}

// The answer to one control request (`payload`: its parsed JSON body) made to `worker`.
export async function control(worker, name, payload) {
  try {
    return { ok: true, value: encode(await CONTROL[name](worker, payload)) };
  } catch (error) {
    return {
      ok: false,
      error: { name: error?.name ?? "Error", message: String(error?.message ?? error) },
    };
  }
}
