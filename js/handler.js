// The login handler: the HTTP contract in front of the Actions runtime.
//
//   POST /post-login   Content-Type: application/json   X-Signature: t=…,v1=…
//   body: a post-login event (v3 shape) without `secrets`; `user.user_id` required
//   200 → { access, idToken, accessToken, user, multifactor, redirect[, error] }
//   4xx/5xx → { error, error_description }
//   GET /healthz → 200
//
// Everything a refused request could cost is behind the signature check: no KV read, no token
// request and no wasm call happens before it passes.

import { InvalidEventError, validateEventInput } from "./runtime/event.js";
import { KvTriggerCache } from "./runtime/kv-store.js";
import { executePostLogin } from "./runtime/trigger.js";
import { verifySignature } from "./signature.js";
import { createLogger, describeError } from "./log.js";

/** Largest accepted request body. */
export const MAX_BODY_BYTES = 64 * 1024;
const TRIGGER = "post-login";
const log = createLogger("login-handler");

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

/** An error answer; every refusal is logged (without the body, which is the caller's data). */
function refuse(status, error, description, headers) {
  log(status >= 500 ? "error" : "warn", "request_refused", {
    status,
    error,
    reason: description.slice(0, 200),
  });
  return json(status, { error, error_description: description }, headers);
}

/** The body could not be read (the client went away mid-stream). */
class UnreadableBodyError extends Error {}

/** Reads at most `limit` bytes of the body; `null` when it is longer. */
async function readBody(request, limit) {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) return null;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      throw new UnreadableBodyError();
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function isJson(contentType) {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  return type === "application/json";
}

/**
 * Creates the Worker's `fetch` handler. Each handler is one isolate's worth of state: its
 * trigger cache lives as long as the handler (module scope in the Worker).
 * @param {{ actions: import("./runtime/trigger.js").ActionBinding[], now?: () => number }} options
 */
export function createLoginHandler({ actions, now = Date.now }) {
  let triggerCache = null;

  function cacheFor(env) {
    if (!triggerCache) {
      const seconds = Number(env.ACTIONS_CACHE_SYNC_SECONDS);
      triggerCache = new KvTriggerCache(TRIGGER, {
        now,
        log,
        ...(Number.isFinite(seconds) && seconds >= 0 ? { syncIntervalMs: seconds * 1000 } : {}),
      });
    }
    return triggerCache;
  }

  async function postLogin(request, env, ctx) {
    if (!isJson(request.headers.get("content-type"))) {
      return refuse(415, "unsupported_media_type", "Content-Type must be application/json");
    }
    let body;
    try {
      body = await readBody(request, MAX_BODY_BYTES);
    } catch (error) {
      if (!(error instanceof UnreadableBodyError)) throw error;
      return refuse(400, "invalid_request", "the body could not be read");
    }
    if (body === null) {
      return refuse(413, "payload_too_large", `the body must not exceed ${MAX_BODY_BYTES} bytes`);
    }
    const secret = env.LOGIN_HANDLER_SECRET;
    if (typeof secret !== "string" || secret.length === 0) {
      log("error", "config_invalid", { setting: "LOGIN_HANDLER_SECRET", message: "is missing or empty" });
      return refuse(500, "server_error", "the login handler is not configured");
    }
    const signature = await verifySignature(request.headers.get("x-signature"), body, secret, now() / 1000);
    if (!signature.ok) {
      return refuse(401, "invalid_signature", signature.reason);
    }
    let input;
    try {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(body);
      input = JSON.parse(text);
    } catch {
      return refuse(400, "invalid_request", "the body must be UTF-8 encoded JSON");
    }
    try {
      validateEventInput(input);
    } catch (error) {
      if (error instanceof InvalidEventError) return refuse(400, "invalid_event", error.message);
      throw error;
    }

    const store = cacheFor(env);
    const { cache, kvRead } = await store.forLogin(env.ACTIONS_CACHE);
    // Work an Action leaves running (a token refresh) is kept alive, then its changes written.
    const waitUntil = (work) =>
      ctx.waitUntil(Promise.resolve(work).then(() => store.persist(env.ACTIONS_CACHE)));
    const result = await executePostLogin({ actions, input, env, cache, log, waitUntil });
    ctx.waitUntil(store.persist(env.ACTIONS_CACHE));
    log("info", "login", {
      user_id: input.user.user_id,
      denied: result.access.denied,
      kv_read: kvRead,
      ...(result.error ? { error: result.error.code } : {}),
    });
    return json(200, result);
  }

  return {
    async fetch(request, env, ctx) {
      try {
        const { pathname } = new URL(request.url);
        if (pathname === "/healthz") {
          if (request.method !== "GET" && request.method !== "HEAD") {
            return refuse(405, "method_not_allowed", "use GET", { allow: "GET, HEAD" });
          }
          return json(200, { status: "ok" });
        }
        if (pathname === "/post-login") {
          if (request.method !== "POST") {
            return refuse(405, "method_not_allowed", "use POST", { allow: "POST" });
          }
          return await postLogin(request, env, ctx);
        }
        return refuse(404, "not_found", "no such route");
      } catch (error) {
        log("error", "unexpected_error", { error: describeError(error) });
        return refuse(500, "server_error", "unexpected error");
      }
    },
  };
}
