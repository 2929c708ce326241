// The benchmark Worker (bench/wrangler.toml). The production login handler and Actions runtime,
// running the Action named by BENCH_VARIANT, with two additions that exist only here:
//
// - `env.ACTIONS_CACHE` is wrapped in a proxy counting get/put/delete/list calls (module scope,
//   so per isolate — wrangler dev runs one) and the ones still in flight;
// - `ctx.waitUntil` is wrapped to count background work still pending;
// - GET /__bench/stats → { variant, isolate, kv: {get, getWithMetadata, put, delete, list}, inflight }
//   POST /__bench/reset → zeroes the counters.
//
// Everything else (POST /post-login, GET /healthz) is the production handler, unchanged.

import { createLoginHandler } from "../js/handler.js";
import * as actionsModule from "../js/actions.js";
import * as wasm from "../build/index.js";
import { actionsFor, shippedActions } from "./actions/index.js";

const OPERATIONS = ["get", "getWithMetadata", "put", "delete", "list"];
/** Changes when wrangler dev reloads the Worker (counters restart): the bench refuses such a run. */
let isolate = null; // random values are not allowed at global scope: set by the first request
const counts = Object.fromEntries(OPERATIONS.map((op) => [op, 0]));
const inflight = { kv: 0, waitUntil: 0 };
const handlers = new Map();
let shipped = null;
const wrappedKv = new WeakMap();
let benchEnv = null;

function countingKv(kv) {
  if (!kv) return kv;
  let proxy = wrappedKv.get(kv);
  if (proxy) return proxy;
  proxy = new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (!OPERATIONS.includes(property)) return value.bind(target);
      return async (...args) => {
        counts[property]++;
        inflight.kv++;
        try {
          return await value.apply(target, args);
        } finally {
          inflight.kv--;
        }
      };
    },
  });
  wrappedKv.set(kv, proxy);
  return proxy;
}

function trackingCtx(ctx) {
  return {
    waitUntil(promise) {
      inflight.waitUntil++;
      ctx.waitUntil(Promise.resolve(promise).finally(() => inflight.waitUntil--));
    },
    passThroughOnException: () => ctx.passThroughOnException?.(),
    get props() {
      return ctx.props;
    },
  };
}

function handlerFor(variant) {
  let handler = handlers.get(variant);
  if (!handler) {
    shipped ??= shippedActions(actionsModule, wasm);
    handler = createLoginHandler({ actions: actionsFor(variant, shipped) });
    handlers.set(variant, handler);
  }
  return handler;
}

const json = (status, body) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });

export default {
  async fetch(request, env, ctx) {
    const variant = env.BENCH_VARIANT ?? "ours";
    isolate ??= crypto.randomUUID();
    const { pathname } = new URL(request.url);
    if (pathname === "/__bench/stats" && request.method === "GET") {
      return json(200, { variant, isolate, kv: { ...counts }, inflight: { ...inflight } });
    }
    if (pathname === "/__bench/reset" && request.method === "POST") {
      for (const op of OPERATIONS) counts[op] = 0;
      return json(200, { variant, isolate, kv: { ...counts }, inflight: { ...inflight } });
    }
    let handler;
    try {
      handler = handlerFor(variant);
    } catch (error) {
      return json(500, { error: "bench_misconfigured", error_description: error.message });
    }
    // One environment object per isolate, as production has: the runtime and the Action
    // recognise their settings by its identity (a new object per request would measure a path
    // production never takes).
    benchEnv ??= { ...env, ACTIONS_CACHE: countingKv(env.ACTIONS_CACHE) };
    return handler.fetch(request, benchEnv, trackingCtx(ctx));
  },
};
