// worker-build's local harness for `loader.serve()` (worker_build/serve): a second worker in
// the same workerd, next to the user's Worker ("main"). It never serves the Worker's own HTTP
// traffic (that goes straight to "main" on its own socket); it serves:
//
// - the control socket: POST /scheduled, /queue, /rpc call the Worker through the service
//   binding WORKER (`scheduled()` and `queue()` need the compatibility flag
//   service_binding_extra_handlers), answering JSON (serve_control.mjs);
// - the KV namespaces: every `kvNamespace` binding of "main" points at the entrypoint
//   `KvNamespace` with props { namespace }, which speaks workerd's KV protocol and keeps the
//   data in the Durable Object `KvStore` (one object per namespace; in memory or on disk like
//   the Worker's own Durable Objects).
//
// The control routes and how values cross the JSON boundary are serve_control.mjs's.

import { DurableObject, WorkerEntrypoint } from "cloudflare:workers";
import { control, isControlRoute } from "./serve_control.mjs";

export default {
  async fetch(request, env) {
    const name = new URL(request.url).pathname.slice(1);
    if (request.method !== "POST" || !isControlRoute(name)) {
      return new Response("not a worker-build control route", { status: 404 });
    }
    return Response.json(await control(env.WORKER, name, await request.json()));
  },
};
// ---------------------------------------------------------------------------------------------
// KV

export class KvNamespace extends WorkerEntrypoint {
  fetch(request) {
    const id = this.env.KV_STORE.idFromName(String(this.ctx.props.namespace));
    return this.env.KV_STORE.get(id).fetch(request);
  }
}

// Values are stored in chunks below the storage API's 128 KiB value limit.
const CHUNK = 64 * 1024;
const LIST_LIMIT = 1000;

export class KvStore extends DurableObject {
  async fetch(request) {
    const url = new URL(request.url);
    const path = url.pathname.slice(1);
    if (request.method === "GET" && path === "") return this.list(url.searchParams);
    if (request.method === "POST" && path === "bulk/get") return this.bulkGet(await request.json());
    if (path.startsWith("bulk/")) {
      return new Response(`worker-build's local KV does not implement ${path}`, { status: 501 });
    }
    const key = url.searchParams.get("urlencoded") === "true" ? decodeURIComponent(path) : path;
    switch (request.method) {
      case "GET":
        return this.get(key);
      case "PUT":
        return this.put(key, request, url.searchParams);
      case "DELETE":
        await this.remove(key);
        return new Response(null);
      default:
        return new Response("method not allowed", { status: 405 });
    }
  }

  now() {
    return Math.floor(Date.now() / 1000);
  }

  async entry(key) {
    const meta = await this.ctx.storage.get(`m:${key}`);
    if (meta === undefined) return undefined;
    if (meta.expiration !== null && meta.expiration <= this.now()) {
      await this.remove(key);
      return undefined;
    }
    return meta;
  }

  async get(key) {
    const meta = await this.entry(key);
    if (meta === undefined) return new Response(null, { status: 404 });
    const chunks = await this.ctx.storage.get(
      Array.from({ length: meta.chunks }, (_, i) => `c:${key}:${i}`),
    );
    const value = new Uint8Array(meta.size);
    let offset = 0;
    for (let i = 0; i < meta.chunks; i++) {
      const chunk = chunks.get(`c:${key}:${i}`);
      value.set(chunk, offset);
      offset += chunk.byteLength;
    }
    const headers = {};
    if (meta.metadata !== null) headers["CF-KV-Metadata"] = JSON.stringify(meta.metadata);
    return new Response(value, { headers });
  }

  // get([keys], type) answers one JSON object: key -> value (text, or parsed with type
  // "json"; null when missing), or -> { value, metadata } with withMetadata.
  async bulkGet({ keys, type, withMetadata }) {
    const result = {};
    for (const key of keys) {
      const found = await this.get(key);
      let value = null;
      let metadata = null;
      if (found.status === 200) {
        const text = await found.text();
        value = type === "json" ? JSON.parse(text) : text;
        const header = found.headers.get("CF-KV-Metadata");
        metadata = header === null ? null : JSON.parse(header);
      }
      result[key] = withMetadata ? { value, metadata } : value;
    }
    return Response.json(result);
  }

  async put(key, request, params) {
    const value = new Uint8Array(await request.arrayBuffer());
    let expiration = null;
    if (params.has("expiration")) expiration = Number(params.get("expiration"));
    if (params.has("expiration_ttl")) expiration = this.now() + Number(params.get("expiration_ttl"));
    const header = request.headers.get("CF-KV-Metadata");
    const metadata = header === null ? null : JSON.parse(header);
    await this.remove(key);
    const chunks = Math.max(1, Math.ceil(value.byteLength / CHUNK));
    for (let i = 0; i < chunks; i++) {
      await this.ctx.storage.put(`c:${key}:${i}`, value.slice(i * CHUNK, (i + 1) * CHUNK));
    }
    await this.ctx.storage.put(`m:${key}`, { size: value.byteLength, chunks, expiration, metadata });
    return new Response(null);
  }

  async remove(key) {
    const meta = await this.ctx.storage.get(`m:${key}`);
    if (meta === undefined) return;
    await this.ctx.storage.delete(`m:${key}`);
    const keys = Array.from({ length: meta.chunks }, (_, i) => `c:${key}:${i}`);
    for (let i = 0; i < keys.length; i += 128) await this.ctx.storage.delete(keys.slice(i, i + 128));
  }

  async list(params) {
    const prefix = params.get("prefix") ?? "";
    const limit = Math.min(Number(params.get("key_count_limit") ?? LIST_LIMIT), LIST_LIMIT);
    const cursor = params.get("cursor");
    const options = { prefix: `m:${prefix}`, limit: limit + 1 };
    if (cursor) options.startAfter = `m:${decodeURIComponent(cursor)}`;
    const found = [...(await this.ctx.storage.list(options))];
    const now = this.now();
    const page = found.slice(0, limit);
    const keys = page
      .filter(([, meta]) => meta.expiration === null || meta.expiration > now)
      .map(([name, meta]) => {
        const key = { name: name.slice(2) };
        if (meta.expiration !== null) key.expiration = meta.expiration;
        if (meta.metadata !== null) key.metadata = meta.metadata;
        return key;
      });
    const complete = found.length <= limit;
    const result = { keys, list_complete: complete, cacheStatus: null };
    if (!complete) result.cursor = encodeURIComponent(page[page.length - 1][0].slice(2));
    return Response.json(result);
  }
}
