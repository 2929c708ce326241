// Test-only Worker entry (see wrangler.toml beside it). Control routes:
//   POST /__test/kv-faults {read, write}  — make KV get / put+delete throw with that message (null: off)
//   PUT  /__test/kv {key, value, expiration} — write KV directly (to seed a cached token)
//   GET  /__test/kv?key=K                — read KV directly ({value: string|null})
//   GET  /__test/pending                 — {waitUntil: n}: work the logins left running (a
//                                          background refresh, the KV write) not yet finished
import * as action from "../../../build/test-hooks/index.js";
import { bindPostLoginActions } from "../../../js/actions.js";
import { createLoginHandler } from "../../../js/handler.js";

const faults = { read: null, write: null };
let pending = 0;

/** `ctx` counting the waitUntil promises still running. */
function countingCtx(ctx) {
  return {
    waitUntil(promise) {
      pending++;
      ctx.waitUntil(Promise.resolve(promise).finally(() => pending--));
    },
    passThroughOnException: () => ctx.passThroughOnException?.(),
  };
}
const handler = createLoginHandler({ actions: bindPostLoginActions(action) });
let wrappedEnv = null;

function faultyKv(kv) {
  return {
    async get(key, options) {
      if (faults.read) throw new Error(faults.read);
      return kv.get(key, options);
    },
    async put(key, value, options) {
      if (faults.write) throw new Error(faults.write);
      return kv.put(key, value, options);
    },
    async delete(key) {
      if (faults.write) throw new Error(faults.write);
      return kv.delete(key);
    },
  };
}

const json = (body) =>
  new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__test/kv-faults" && request.method === "POST") {
      Object.assign(faults, await request.json());
      return json(faults);
    }
    if (url.pathname === "/__test/kv" && request.method === "PUT") {
      const { key, value, expiration } = await request.json();
      await env.ACTIONS_CACHE.put(key, value, { expiration });
      return json({ ok: true });
    }
    if (url.pathname === "/__test/pending" && request.method === "GET") {
      return json({ waitUntil: pending });
    }
    if (url.pathname === "/__test/kv" && request.method === "GET") {
      return json({ value: await env.ACTIONS_CACHE.get(url.searchParams.get("key")) });
    }
    // One wrapped environment per isolate, as production has one env: the runtime and the Action
    // recognise their settings by object identity.
    wrappedEnv ??= { ...env, ACTIONS_CACHE: faultyKv(env.ACTIONS_CACHE) };
    return handler.fetch(request, wrappedEnv, countingCtx(ctx));
  },
};
