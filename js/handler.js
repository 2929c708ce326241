// The login handler: the HTTP contract in front of the Actions runtime.
//
//   POST /post-login   Content-Type: application/json   X-Signature: t=…,v1=…
//   body: a post-login event (v3 shape) without `secrets`; `user.user_id` required
//   200 → { access, idToken, accessToken, user, multifactor, redirect[, error] }
//   4xx/5xx → { error, error_description }
//   POST /continue-login   same headers; body { state, query?, body?, prompt? }: resumes a login
//   that an Action suspended (redirect, custom prompt, MFA challenge); same 200 shape
//   GET /healthz → 200
//
// Everything a refused request could cost is behind the signature check: no KV read, no token
// request and no wasm call happens before it passes.

import { InvalidEventError, validateEventInput } from "./runtime/event.js";
import { KvTriggerCache } from "./runtime/kv-store.js";
import { executePostLogin } from "./runtime/trigger.js";
import { ContinueError, executeContinuePostLogin } from "./runtime/continue.js";
import { STATE_TTL_SECONDS, stateKey, takeContinuation } from "./runtime/suspend.js";
import { storeState, takeState } from "./runtime/login-states.js";
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

const STATE_TTL_MS = STATE_TTL_SECONDS * 1000;
/** States remembered as used per isolate (KV's delete is the cross-isolate guard). */
const MAX_CONSUMED_STATES = 10_000;
const CONTINUE_FIELDS = ["state", "query", "body", "prompt"];
const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/** Why a /continue-login body is refused, or null. */
function continueRequestProblem(value) {
  if (!isObject(value)) return "the body must be a JSON object";
  for (const field of Object.keys(value)) {
    if (!CONTINUE_FIELDS.includes(field))
      return `unknown field "${field.length > 64 ? `${field.slice(0, 64)}…` : field}"`;
  }
  if (typeof value.state !== "string" || !/^[A-Za-z0-9_-]{16,128}$/.test(value.state)) {
    return '"state" is required: the state of the suspended login';
  }
  for (const field of ["query", "body", "prompt"]) {
    if (value[field] !== undefined && !isObject(value[field])) return `"${field}" must be an object`;
  }
  if (value.prompt) {
    for (const key of Object.keys(value.prompt)) {
      if (key !== "fields" && key !== "vars") return '"prompt" may only carry "fields" and "vars"';
      if (!isObject(value.prompt[key])) return `"prompt.${key}" must be an object`;
    }
  }
  return null;
}

function isJson(contentType) {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  return type === "application/json";
}

/**
 * Creates the Worker's `fetch` handler. Each handler is one isolate's worth of state: its
 * trigger cache lives as long as the handler (module scope in the Worker).
 * `tenant(env, cache)` gives a login its tenant data source for api.groups (js/runtime/tenant.js;
 * the Worker entry passes the Rust Action's Management API client); without it api.groups
 * rejects with "no tenant data source is configured".
 * @param {{ actions: import("./runtime/trigger.js").ActionBinding[], now?: () => number,
 *   tenant?: (env: object, cache: import("./runtime/cache.js").TriggerCache) => object }} options
 */
export function createLoginHandler({ actions, now = Date.now, tenant: tenantFor = undefined }) {
  let triggerCache = null;

  function cacheFor(env) {
    if (!triggerCache) {
      const seconds = Number(env.ACTIONS_CACHE_SYNC_SECONDS);
      let writerMode = env.ACTIONS_CACHE_WRITER_MODE ?? "on";
      if (writerMode !== "on" && writerMode !== "off") {
        log("warn", "cache_writer_mode_unknown", { mode: String(writerMode).slice(0, 32), using: "on" });
        writerMode = "on";
      }
      triggerCache = new KvTriggerCache(TRIGGER, {
        now,
        log,
        encryptionKey: env.TOKEN_ENCRYPTION_KEY,
        writerMode,
        ...(Number.isFinite(seconds) && seconds >= 0 ? { syncIntervalMs: seconds * 1000 } : {}),
      });
    }
    return triggerCache;
  }

  /** Writes the trigger cache back: through the single writer when bound (js/runtime/kv-store.js). */
  const persist = (store, env) => store.persist(env.ACTIONS_CACHE, env.ACTIONS_CACHE_WRITER ?? undefined);

  async function postLogin(request, env, ctx) {
    const read = await readSignedJson(request, env);
    if (read.response) return read.response;
    const input = read.value;
    try {
      validateEventInput(input);
    } catch (error) {
      if (error instanceof InvalidEventError) return refuse(400, "invalid_event", error.message);
      throw error;
    }

    const store = cacheFor(env);
    const { cache, kvRead } = await store.forLogin(env.ACTIONS_CACHE);
    // Work an Action leaves running (a token refresh) is kept alive, then its changes written.
    const waitUntil = (work) => ctx.waitUntil(Promise.resolve(work).then(() => persist(store, env)));
    const tenant = tenantFor?.(env, cache);
    const result = await executePostLogin({ actions, input, env, cache, log, waitUntil, tenant });
    ctx.waitUntil(persist(store, env));
    const suspended = await suspend(env, result);
    if (suspended) return suspended;
    log("info", "login", {
      user_id: input.user.user_id,
      denied: result.access.denied,
      kv_read: kvRead,
      ...(result.error ? { error: result.error.code } : {}),
    });
    return json(200, result);
  }

  /**
   * Stores what a suspended login needs to resume (its state object, else KV: see
   * js/runtime/login-states.js). A login that cannot be resumed is not handed out: a failed write
   * answers 500.
   */
  async function suspend(env, result) {
    const continuation = takeContinuation(result);
    if (!continuation) return null;
    try {
      await storeState(env, continuation, now(), log);
    } catch (error) {
      log("error", "continuation_write_failed", { error: describeError(error) });
      return refuse(500, "server_error", "the login could not be suspended");
    }
    log("info", "login_suspended", { action: continuation.record.action, kind: continuation.record.kind });
    return null;
  }

  // States consumed by this isolate: a second request with the same state is refused here even
  // before KV's delete is visible (KV is eventually consistent across locations).
  const consumed = new Map();

  function markConsumed(key) {
    const at = now();
    // Oldest first (insertion order): drop the expired ones, and the oldest beyond the cap.
    for (const [k, until] of consumed) {
      if (until > at && consumed.size < MAX_CONSUMED_STATES) break;
      consumed.delete(k);
    }
    if (consumed.has(key)) return false;
    consumed.set(key, at + STATE_TTL_MS);
    return true;
  }

  async function continueLogin(request, env, ctx) {
    const read = await readSignedJson(request, env);
    if (read.response) return read.response;
    const problem = continueRequestProblem(read.value);
    if (problem) return refuse(400, "invalid_request", problem);
    try {
      // The same depth and type rules as an event (the query and body become event.request's).
      const { query = {}, body = {}, prompt = {} } = read.value;
      validateEventInput({
        user: { user_id: "-" },
        request: { query, body },
        prompt: { id: "-", ...prompt },
      });
    } catch (error) {
      if (error instanceof InvalidEventError) return refuse(400, "invalid_request", error.message);
      throw error;
    }
    const { state: stateId, query, body, prompt } = read.value;
    const key = stateKey(stateId);
    if (!markConsumed(key)) return refuse(400, "invalid_state", "unknown, expired or already used state");
    let record;
    try {
      record = await takeState(env, key, log);
    } catch (error) {
      log("error", "continuation_read_failed", { error: describeError(error) });
      return refuse(500, "server_error", "the suspended login could not be read");
    }
    if (record === null || typeof record !== "object" || !(record.expires_at > now())) {
      return refuse(400, "invalid_state", "unknown, expired or already used state");
    }
    const store = cacheFor(env);
    const { cache, kvRead } = await store.forLogin(env.ACTIONS_CACHE);
    const waitUntil = (work) => ctx.waitUntil(Promise.resolve(work).then(() => persist(store, env)));
    let result;
    try {
      result = await executeContinuePostLogin({
        actions,
        record,
        stateId,
        query,
        body,
        prompt,
        env,
        cache,
        log,
        waitUntil,
        now,
        tenant: tenantFor?.(env, cache),
      });
    } catch (error) {
      if (!(error instanceof ContinueError)) throw error;
      return refuse(400, "invalid_state", error.message);
    }
    ctx.waitUntil(persist(store, env));
    const suspended = await suspend(env, result);
    if (suspended) return suspended;
    log("info", "login_continued", {
      user_id: record.input?.user?.user_id,
      action: record.action,
      denied: result.access.denied,
      kv_read: kvRead,
      ...(result.error ? { error: result.error.code } : {}),
    });
    return json(200, result);
  }

  /** Content type, size, signature (before anything else costs), then UTF-8 JSON. */
  async function readSignedJson(request, env) {
    if (!isJson(request.headers.get("content-type"))) {
      return { response: refuse(415, "unsupported_media_type", "Content-Type must be application/json") };
    }
    let body;
    try {
      body = await readBody(request, MAX_BODY_BYTES);
    } catch (error) {
      if (!(error instanceof UnreadableBodyError)) throw error;
      return { response: refuse(400, "invalid_request", "the body could not be read") };
    }
    if (body === null) {
      return {
        response: refuse(413, "payload_too_large", `the body must not exceed ${MAX_BODY_BYTES} bytes`),
      };
    }
    const secret = env.LOGIN_HANDLER_SECRET;
    if (typeof secret !== "string" || secret.length === 0) {
      log("error", "config_invalid", { setting: "LOGIN_HANDLER_SECRET", message: "is missing or empty" });
      return { response: refuse(500, "server_error", "the login handler is not configured") };
    }
    const signature = await verifySignature(request.headers.get("x-signature"), body, secret, now() / 1000);
    if (signature.ok === false) return { response: refuse(401, "invalid_signature", signature.reason) };
    try {
      return { value: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)) };
    } catch {
      return { response: refuse(400, "invalid_request", "the body must be UTF-8 encoded JSON") };
    }
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
        if (pathname === "/continue-login") {
          if (request.method !== "POST") {
            return refuse(405, "method_not_allowed", "use POST", { allow: "POST" });
          }
          return await continueLogin(request, env, ctx);
        }
        return refuse(404, "not_found", "no such route");
      } catch (error) {
        log("error", "unexpected_error", { error: describeError(error) });
        return refuse(500, "server_error", "unexpected error");
      }
    },
  };
}
