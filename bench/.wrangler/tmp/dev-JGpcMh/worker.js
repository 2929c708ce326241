var __defProp = Object.defineProperty;
var __name = (target, value) => __defProp(target, "name", { value, configurable: true });
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// ../js/runtime/event.js
var OBJECT_FIELDS = [
  "user",
  "client",
  "connection",
  "request",
  "tenant",
  "transaction",
  "authentication",
  "authorization",
  "organization",
  "stats",
  "resource_server",
  "custom_domain",
  "session",
  "refresh_token",
  "prompt",
  "security_context"
];
var RUNTIME_FIELDS = ["secrets", "configuration"];
var FIELD_TYPES = {
  "user.user_id": "string",
  "user.email": "string",
  "user.email_verified": "boolean",
  "user.name": "string",
  "user.nickname": "string",
  "user.given_name": "string",
  "user.family_name": "string",
  "user.picture": "string",
  "user.phone_number": "string",
  "user.phone_verified": "boolean",
  "user.username": "string",
  "user.created_at": "string",
  "user.updated_at": "string",
  "user.last_password_reset": "string",
  "user.app_metadata": "object",
  "user.user_metadata": "object",
  "user.identities": "array",
  "user.multifactor": "array",
  "user.enrolledFactors": "array",
  "client.client_id": "string",
  "client.name": "string",
  "client.metadata": "object",
  "connection.id": "string",
  "connection.name": "string",
  "connection.strategy": "string",
  "connection.metadata": "object",
  "request.ip": "string",
  "request.method": "string",
  "request.hostname": "string",
  "request.user_agent": "string",
  "request.language": "string",
  "request.query": "object",
  "request.body": "object",
  "request.geoip": "object",
  "tenant.id": "string",
  "transaction.id": "string",
  "transaction.protocol": "string",
  "transaction.requested_scopes": "array",
  "transaction.metadata": "object",
  "authentication.methods": "array",
  "authorization.roles": "array",
  "organization.id": "string",
  "organization.name": "string",
  "organization.display_name": "string",
  "organization.metadata": "object",
  "stats.logins_count": "number",
  "resource_server.identifier": "string"
};
var InvalidEventError = class extends Error {
  static {
    __name(this, "InvalidEventError");
  }
  constructor(message) {
    super(message);
    this.name = "InvalidEventError";
  }
};
var isPlainObject = /* @__PURE__ */ __name((value) => typeof value === "object" && value !== null && !Array.isArray(value), "isPlainObject");
function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
__name(typeOf, "typeOf");
function validateEventInput(body) {
  if (!isPlainObject(body)) throw new InvalidEventError("the event must be a JSON object");
  for (const field of RUNTIME_FIELDS) {
    if (Object.hasOwn(body, field)) {
      throw new InvalidEventError(`"${field}" is set by the runtime and must not be sent`);
    }
  }
  for (const field of Object.keys(body)) {
    if (!OBJECT_FIELDS.includes(field)) throw new InvalidEventError(`unknown field "${field}"`);
    if (!isPlainObject(body[field])) {
      throw new InvalidEventError(`"${field}" must be an object, got ${typeOf(body[field])}`);
    }
  }
  if (!body.user) throw new InvalidEventError('"user" is required');
  for (const [path, expected] of Object.entries(FIELD_TYPES)) {
    const [parent, child] = path.split(".");
    const container = body[parent];
    if (!container || !Object.hasOwn(container, child)) continue;
    const actual = typeOf(container[child]);
    if (actual !== expected) {
      throw new InvalidEventError(
        `"${path}" must be ${expected === "array" ? "an" : "a"} ${expected}, got ${actual}`
      );
    }
  }
  if (typeof body.user.user_id !== "string" || body.user.user_id.length === 0) {
    throw new InvalidEventError('"user.user_id" is required and must be a non-empty string');
  }
  return body;
}
__name(validateEventInput, "validateEventInput");
function deepFreeze(value) {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze(value[key]);
  }
  return value;
}
__name(deepFreeze, "deepFreeze");
function pickStrings(env, names) {
  const out = {};
  for (const name of names) {
    if (typeof env[name] === "string") out[name] = env[name];
  }
  return Object.freeze(out);
}
__name(pickStrings, "pickStrings");
function buildEvent(input, { secrets = {}, configuration = {} } = {}) {
  const user = input.user;
  const withDefaults = {
    ...input,
    user: {
      ...user,
      app_metadata: user.app_metadata ?? {},
      user_metadata: user.user_metadata ?? {},
      identities: user.identities ?? []
    },
    stats: input.stats ?? { logins_count: 0 },
    secrets,
    configuration
  };
  return deepFreeze(withDefaults);
}
__name(buildEvent, "buildEvent");

// ../js/runtime/cache.js
var DEFAULT_TTL_MS = 15 * 60 * 1e3;
var MAX_LIFETIME_MS = 24 * 60 * 60 * 1e3;
var MAX_KEY_BYTES = 64;
var MAX_VALUE_BYTES = 4096;
var MAX_TOTAL_BYTES = 8192;
var MAX_ENTRIES = 20;
var encoder = new TextEncoder();
function utf8Bytes(text) {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 127) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}
__name(utf8Bytes, "utf8Bytes");
function requireString(name, value) {
  if (typeof value !== "string") {
    throw new TypeError(`api.cache: ${name} must be a string, got ${value === null ? "null" : typeof value}`);
  }
}
__name(requireString, "requireString");
var error = /* @__PURE__ */ __name((code) => ({ type: "error", code }), "error");
var TriggerCache = class {
  static {
    __name(this, "TriggerCache");
  }
  /**
   * @param {object} [options]
   * @param {() => number} [options.now] clock in ms (tests inject a fake one)
   * @param {Iterable<[string, {value: string, expires_at: number}]>} [options.records] initial
   *   records (from KV); expired or malformed ones are dropped.
   */
  constructor({ now = Date.now, records = [] } = {}) {
    this.now = now;
    this.records = /* @__PURE__ */ new Map();
    this.dirty = false;
    this.replace(records);
  }
  /** Replaces every record (a fresh copy from KV); expired or malformed ones are dropped. */
  replace(records) {
    this.records.clear();
    this.dirty = false;
    const at = this.now();
    for (const [key, record] of records) {
      if (typeof key === "string" && record && typeof record.value === "string" && Number.isSafeInteger(record.expires_at) && record.expires_at > at && this.records.size < MAX_ENTRIES) {
        this.records.set(key, { value: record.value, expires_at: record.expires_at });
      }
    }
  }
  /** Drops records whose time has come; they neither count toward limits nor get returned. */
  #purge(at) {
    for (const [key, record] of this.records) {
      if (record.expires_at <= at) {
        this.records.delete(key);
        this.dirty = true;
      }
    }
  }
  /** `api.cache.get(key)` → `{ value, expires_at }` or `undefined`. */
  get(key) {
    requireString("key", key);
    const record = this.records.get(key);
    if (record === void 0) return void 0;
    if (record.expires_at <= this.now()) {
      this.records.delete(key);
      this.dirty = true;
      return void 0;
    }
    return { value: record.value, expires_at: record.expires_at };
  }
  /** `api.cache.set(key, value, { ttl, expires_at })` → `{type: "success", record}` or `{type: "error", code}`. */
  set(key, value, options = {}) {
    requireString("key", key);
    requireString("value", value);
    const keyBytes = utf8Bytes(key);
    if (keyBytes > MAX_KEY_BYTES) return error("CacheKeySizeExceeded");
    const valueBytes = utf8Bytes(value);
    if (valueBytes > MAX_VALUE_BYTES) return error("CacheValueSizeExceeded");
    const at = this.now();
    this.#purge(at);
    let total = keyBytes + valueBytes;
    for (const [k, record2] of this.records) {
      if (k !== key) total += utf8Bytes(k) + utf8Bytes(record2.value);
    }
    if (total > MAX_TOTAL_BYTES) return error("CacheSizeExceeded");
    if (!this.records.has(key) && this.records.size >= MAX_ENTRIES) return error("CacheSizeExceeded");
    const expiresAt = resolveExpiry(options ?? {}, at);
    if (typeof expiresAt === "string") return error(expiresAt);
    const record = { value, expires_at: expiresAt };
    this.records.set(key, record);
    this.dirty = true;
    return { type: "success", record: { ...record } };
  }
  /** `api.cache.delete(key)` → `{type: "success"}` or `{type: "error", code: "CacheKeyDoesNotExist"}`. */
  delete(key) {
    requireString("key", key);
    this.#purge(this.now());
    if (!this.records.delete(key)) return error("CacheKeyDoesNotExist");
    this.dirty = true;
    return { type: "success" };
  }
  /** The object handed to Actions as `api.cache`: only Auth0's three methods. */
  api() {
    return Object.freeze({
      get: /* @__PURE__ */ __name((key) => this.get(key), "get"),
      set: /* @__PURE__ */ __name((key, value, options) => this.set(key, value, options), "set"),
      delete: /* @__PURE__ */ __name((key) => this.delete(key), "delete")
    });
  }
  /** Live records, for persistence. */
  entries() {
    this.#purge(this.now());
    return [...this.records];
  }
};
function resolveExpiry(options, at) {
  const { ttl, expires_at: absolute } = options;
  const candidates = [];
  if (ttl !== void 0) {
    if (typeof ttl !== "number" || !Number.isFinite(ttl)) return "InvalidExpiry";
    candidates.push(at + Math.floor(ttl));
  }
  if (absolute !== void 0) {
    if (typeof absolute !== "number" || !Number.isFinite(absolute)) return "InvalidExpiry";
    candidates.push(Math.floor(absolute));
  }
  const expiresAt = candidates.length ? Math.min(...candidates) : at + DEFAULT_TTL_MS;
  if (!Number.isSafeInteger(expiresAt)) return "InvalidExpiry";
  if (expiresAt <= at) return "ItemAlreadyExpired";
  return Math.min(expiresAt, at + MAX_LIFETIME_MS);
}
__name(resolveExpiry, "resolveExpiry");

// ../js/runtime/kv-store.js
var KV_MIN_EXPIRATION_SECONDS = 60;
var DEFAULT_SYNC_INTERVAL_MS = 6e4;
var LAYOUT_VERSION = 1;
var kvKey = /* @__PURE__ */ __name((trigger) => `actions-cache/${trigger}`, "kvKey");
var KvTriggerCache = class {
  static {
    __name(this, "KvTriggerCache");
  }
  /**
   * @param {string} trigger e.g. "post-login"
   * @param {{ now?: () => number, log: (level: string, event: string, fields?: object) => void,
   *   syncIntervalMs?: number }} options
   */
  constructor(trigger, { now = Date.now, log: log2, syncIntervalMs = DEFAULT_SYNC_INTERVAL_MS }) {
    this.key = kvKey(trigger);
    this.now = now;
    this.log = log2;
    this.syncIntervalMs = syncIntervalMs;
    this.cache = new TriggerCache({ now });
    this.syncedAt = -Infinity;
    this.loading = null;
    this.counts = { reads: 0, writes: 0 };
  }
  /**
   * The cache for a login: the isolate's copy, re-read from KV when older than the sync
   * interval. Resolves to `{ cache, kvRead }`; never rejects.
   * @param {KVNamespace | undefined} kv
   */
  async forLogin(kv) {
    if (this.now() - this.syncedAt < this.syncIntervalMs) return { cache: this.cache, kvRead: false };
    this.loading ??= this.#sync(kv).finally(() => this.loading = null);
    await this.loading;
    return { cache: this.cache, kvRead: true };
  }
  async #sync(kv) {
    if (!kv) {
      this.log("error", "kv_unavailable", { reason: "no ACTIONS_CACHE binding" });
      this.syncedAt = this.now();
      return;
    }
    let text;
    try {
      this.counts.reads++;
      text = await kv.get(this.key, { type: "text" });
      this.log("info", "kv_read", { key: this.key, found: text !== null, reads: this.counts.reads });
    } catch (error2) {
      this.log("error", "kv_read_failed", { key: this.key, error: describe(error2) });
      this.syncedAt = this.now();
      return;
    }
    this.syncedAt = this.now();
    if (this.cache.dirty) return;
    if (text === null) {
      this.cache.replace([]);
      return;
    }
    let stored;
    try {
      stored = JSON.parse(text);
    } catch {
      stored = null;
    }
    if (stored?.v !== LAYOUT_VERSION || typeof stored.records !== "object" || stored.records === null) {
      this.log("warn", "kv_value_unreadable", { key: this.key, bytes: text.length });
      this.cache.replace([]);
      this.cache.dirty = true;
      return;
    }
    this.cache.replace(Object.entries(stored.records));
  }
  /**
   * Writes the cache back to KV if it changed. Never rejects.
   * @param {KVNamespace | undefined} kv
   */
  async persist(kv) {
    if (!kv || !this.cache.dirty) return;
    this.cache.dirty = false;
    const entries = this.cache.entries();
    try {
      this.counts.writes++;
      if (entries.length === 0) {
        await kv.delete(this.key);
        this.log("info", "kv_write", { key: this.key, records: 0, writes: this.counts.writes });
        return;
      }
      const records = {};
      let latest = 0;
      for (const [name, record] of entries) {
        Object.defineProperty(records, name, { value: record, enumerable: true });
        latest = Math.max(latest, record.expires_at);
      }
      const expiration = Math.max(
        Math.ceil(latest / 1e3),
        Math.ceil(this.now() / 1e3) + KV_MIN_EXPIRATION_SECONDS
      );
      await kv.put(this.key, JSON.stringify({ v: LAYOUT_VERSION, records }), { expiration });
      this.log("info", "kv_write", {
        key: this.key,
        records: entries.length,
        expiration,
        writes: this.counts.writes
      });
    } catch (error2) {
      this.cache.dirty = true;
      this.log("error", "kv_write_failed", { key: this.key, error: describe(error2) });
    }
  }
};
function describe(error2) {
  return error2 instanceof Error ? `${error2.name}: ${error2.message}` : String(error2);
}
__name(describe, "describe");

// ../js/runtime/api.js
var MAX_METADATA_BYTES = 32 * 1024;
var MFA_PROVIDERS = ["any", "duo", "google-authenticator", "guardian", "none"];
var encoder2 = new TextEncoder();
function setOwn(target, key, value) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
__name(setOwn, "setOwn");
function jsonCopy(method, value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (error2) {
    throw new TypeError(`${method}: value must be JSON-serializable (${error2.message})`);
  }
  if (text === void 0) throw new TypeError(`${method}: value must be JSON-serializable`);
  return JSON.parse(text);
}
__name(jsonCopy, "jsonCopy");
function requireString2(method, name, value) {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`${method}: ${name} must be a non-empty string`);
  }
}
__name(requireString2, "requireString");
function emptyResult() {
  return {
    access: { denied: false, reason: null, action: null },
    idToken: { claims: {} },
    accessToken: { claims: {}, scopes: { added: [], removed: [] } },
    user: { app_metadata: null, user_metadata: null },
    multifactor: null,
    redirect: null
  };
}
__name(emptyResult, "emptyResult");
var MetadataBatch = class {
  static {
    __name(this, "MetadataBatch");
  }
  constructor(user) {
    this.original = { app_metadata: user.app_metadata ?? {}, user_metadata: user.user_metadata ?? {} };
    this.changes = { app_metadata: /* @__PURE__ */ new Map(), user_metadata: /* @__PURE__ */ new Map() };
  }
  set(kind, method, key, value) {
    requireString2(method, "key", key);
    if (value === void 0)
      throw new TypeError(`${method}: value must not be undefined (use null to delete)`);
    const copy = value === null ? null : jsonCopy(method, value);
    const changes = this.changes[kind];
    const had = changes.has(key);
    const previous = changes.get(key);
    changes.set(key, copy);
    const size = encoder2.encode(JSON.stringify(this.#applied(kind))).length;
    if (size > MAX_METADATA_BYTES) {
      if (had) changes.set(key, previous);
      else changes.delete(key);
      throw new RangeError(`${method}: ${kind} would exceed ${MAX_METADATA_BYTES} bytes`);
    }
  }
  #applied(kind) {
    const out = {};
    for (const [k, v] of Object.entries(this.original[kind])) setOwn(out, k, v);
    for (const [k, v] of this.changes[kind]) {
      if (v === null) delete out[k];
      else setOwn(out, k, v);
    }
    return out;
  }
  /** The metadata after the batch, or null for a kind nothing changed. */
  apply() {
    const result = {};
    for (const kind of ["app_metadata", "user_metadata"]) {
      result[kind] = this.changes[kind].size ? this.#applied(kind) : null;
    }
    return result;
  }
};
function createPostLoginApi(state, actionName) {
  const { result, metadata, cache } = state;
  const api = {
    access: {
      deny(reason) {
        requireString2("api.access.deny", "reason", reason);
        if (!result.access.denied) result.access = { denied: true, reason, action: actionName };
        return api;
      }
    },
    idToken: {
      setCustomClaim(key, value) {
        requireString2("api.idToken.setCustomClaim", "key", key);
        setOwn(result.idToken.claims, key, jsonCopy("api.idToken.setCustomClaim", value));
        return api;
      }
    },
    accessToken: {
      setCustomClaim(key, value) {
        requireString2("api.accessToken.setCustomClaim", "key", key);
        setOwn(result.accessToken.claims, key, jsonCopy("api.accessToken.setCustomClaim", value));
        return api;
      },
      addScope(scope) {
        requireString2("api.accessToken.addScope", "scope", scope);
        const { added, removed } = result.accessToken.scopes;
        if (!added.includes(scope)) added.push(scope);
        result.accessToken.scopes.removed = removed.filter((s) => s !== scope);
      },
      removeScope(scope) {
        requireString2("api.accessToken.removeScope", "scope", scope);
        const { added, removed } = result.accessToken.scopes;
        if (!removed.includes(scope)) removed.push(scope);
        result.accessToken.scopes.added = added.filter((s) => s !== scope);
      }
    },
    user: {
      setAppMetadata(key, value) {
        metadata.set("app_metadata", "api.user.setAppMetadata", key, value);
        return api;
      },
      setUserMetadata(key, value) {
        metadata.set("user_metadata", "api.user.setUserMetadata", key, value);
        return api;
      }
    },
    multifactor: {
      enable(provider, options = {}) {
        if (!MFA_PROVIDERS.includes(provider)) {
          throw new TypeError(`api.multifactor.enable: provider must be one of ${MFA_PROVIDERS.join(", ")}`);
        }
        result.multifactor = {
          provider,
          allowRememberBrowser: Boolean(options?.allowRememberBrowser)
        };
        return api;
      }
    },
    redirect: {
      sendUserTo(url, options = {}) {
        requireString2("api.redirect.sendUserTo", "url", url);
        let parsed;
        try {
          parsed = new URL(url);
        } catch {
          throw new TypeError("api.redirect.sendUserTo: url must be an absolute URL");
        }
        for (const [k, v] of Object.entries(options?.query ?? {})) parsed.searchParams.set(k, String(v));
        result.redirect = { url: parsed.toString() };
        return api;
      }
    },
    cache: cache.api()
  };
  return api;
}
__name(createPostLoginApi, "createPostLoginApi");

// ../js/runtime/trigger.js
var EXECUTION_BUDGET_MS = 2e4;
var ACTION_FAILURE_REASON = "Login could not be completed.";
async function executePostLogin({ actions, input, env, cache, log: log2, budgetMs = EXECUTION_BUDGET_MS }) {
  const result = emptyResult();
  const state = { result, metadata: new MetadataBatch(input.user), cache };
  let current = null;
  let timer;
  const budget = new Promise((resolve) => {
    timer = setTimeout(() => resolve("timeout"), budgetMs);
  });
  const run = (async () => {
    for (const action of actions) {
      current = action.name;
      const event = buildEvent(input, {
        secrets: pickStrings(env, action.secrets ?? []),
        configuration: pickStrings(env, action.configuration ?? [])
      });
      await action.onExecutePostLogin(event, createPostLoginApi(state, action.name));
      if (result.access.denied) break;
    }
    return "done";
  })();
  try {
    const outcome = await Promise.race([run, budget]);
    if (outcome === "timeout") {
      log2("error", "execution_timeout", { action: current, budget_ms: budgetMs });
      return failed(result, "execution_timeout", current);
    }
  } catch (error2) {
    log2("error", "action_failed", { action: current, error: describe2(error2) });
    return failed(result, "action_failed", current);
  } finally {
    clearTimeout(timer);
  }
  const metadata = state.metadata.apply();
  result.user.app_metadata = metadata.app_metadata;
  result.user.user_metadata = metadata.user_metadata;
  return result;
}
__name(executePostLogin, "executePostLogin");
function failed(result, code, action) {
  result.access = { denied: true, reason: ACTION_FAILURE_REASON, action };
  result.error = { code, action };
  return result;
}
__name(failed, "failed");
function describe2(error2) {
  return error2 instanceof Error ? `${error2.name}: ${error2.message}` : String(error2);
}
__name(describe2, "describe");

// ../js/signature.js
var SIGNATURE_TOLERANCE_SECONDS = 300;
var HEADER = /^t=(\d{1,12}),v1=([0-9a-fA-F]{64})$/;
var encoder3 = new TextEncoder();
var cachedKey = { secret: null, key: null };
async function hmacKey(secret) {
  if (cachedKey.secret !== secret) {
    const key = await crypto.subtle.importKey(
      "raw",
      encoder3.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"]
    );
    cachedKey = { secret, key };
  }
  return cachedKey.key;
}
__name(hmacKey, "hmacKey");
function hexToBytes(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
__name(hexToBytes, "hexToBytes");
async function verifySignature(header, body, secret, nowSeconds) {
  if (!header) return { ok: false, reason: "missing X-Signature header" };
  const match = HEADER.exec(header.trim());
  if (!match) return { ok: false, reason: "malformed X-Signature header" };
  const timestamp = Number(match[1]);
  if (Math.abs(nowSeconds - timestamp) > SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, reason: "signature timestamp outside the allowed window" };
  }
  const prefix = encoder3.encode(`${match[1]}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix, 0);
  signed.set(body, prefix.length);
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), hexToBytes(match[2]), signed);
  return valid ? { ok: true } : { ok: false, reason: "signature does not match" };
}
__name(verifySignature, "verifySignature");

// ../js/log.js
var sinks = { info: console.log, warn: console.warn, error: console.error };
function createLogger(component) {
  return (level, event, fields = {}) => {
    const sink = sinks[level] ?? console.log;
    sink.call(console, JSON.stringify({ level, event, component, ...fields }));
  };
}
__name(createLogger, "createLogger");

// ../js/handler.js
var MAX_BODY_BYTES = 64 * 1024;
var TRIGGER = "post-login";
var log = createLogger("login-handler");
function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers }
  });
}
__name(json, "json");
var refuse = /* @__PURE__ */ __name((status, error2, description, headers) => json(status, { error: error2, error_description: description }, headers), "refuse");
async function readBody(request, limit) {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) return null;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (; ; ) {
    const { done, value } = await reader.read();
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
__name(readBody, "readBody");
function isJson(contentType) {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  return type === "application/json";
}
__name(isJson, "isJson");
function createLoginHandler({ actions, now = Date.now }) {
  let triggerCache = null;
  function cacheFor(env) {
    if (!triggerCache) {
      const seconds = Number(env.ACTIONS_CACHE_SYNC_SECONDS);
      triggerCache = new KvTriggerCache(TRIGGER, {
        now,
        log,
        ...Number.isFinite(seconds) && seconds >= 0 ? { syncIntervalMs: seconds * 1e3 } : {}
      });
    }
    return triggerCache;
  }
  __name(cacheFor, "cacheFor");
  async function postLogin(request, env, ctx) {
    if (!isJson(request.headers.get("content-type"))) {
      return refuse(415, "unsupported_media_type", "Content-Type must be application/json");
    }
    const body = await readBody(request, MAX_BODY_BYTES);
    if (body === null) {
      return refuse(413, "payload_too_large", `the body must not exceed ${MAX_BODY_BYTES} bytes`);
    }
    const secret = env.LOGIN_HANDLER_SECRET;
    if (typeof secret !== "string" || secret.length === 0) {
      log("error", "config_invalid", { setting: "LOGIN_HANDLER_SECRET", message: "is missing or empty" });
      return refuse(500, "server_error", "the login handler is not configured");
    }
    const signature = await verifySignature(request.headers.get("x-signature"), body, secret, now() / 1e3);
    if (!signature.ok) {
      log("warn", "request_refused", { status: 401, reason: signature.reason });
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
    } catch (error2) {
      if (error2 instanceof InvalidEventError) return refuse(400, "invalid_event", error2.message);
      throw error2;
    }
    const store = cacheFor(env);
    const { cache, kvRead } = await store.forLogin(env.ACTIONS_CACHE);
    const result = await executePostLogin({ actions, input, env, cache, log });
    ctx.waitUntil(store.persist(env.ACTIONS_CACHE));
    for (const action of actions) {
      const pending = action.pending?.();
      if (pending) ctx.waitUntil(Promise.resolve(pending).then(() => store.persist(env.ACTIONS_CACHE)));
    }
    log("info", "login", {
      user_id: input.user.user_id,
      denied: result.access.denied,
      kv_read: kvRead,
      ...result.error ? { error: result.error.code } : {}
    });
    return json(200, result);
  }
  __name(postLogin, "postLogin");
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
      } catch (error2) {
        log("error", "unexpected_error", {
          error: error2 instanceof Error ? `${error2.name}: ${error2.message}` : "unknown"
        });
        return refuse(500, "server_error", "unexpected error");
      }
    }
  };
}
__name(createLoginHandler, "createLoginHandler");

// ../build/index.js
import source wasmModule from "./144ad7a91afd6e409a82df5915be6f591e4a5675-index_bg.wasm";
var ManagementApi = class {
  static {
    __name(this, "ManagementApi");
  }
  __destroy_into_raw() {
    const ptr = this.__wbg_ptr;
    this.__wbg_ptr = 0;
    ManagementApiFinalization.unregister(this);
    return ptr;
  }
  free() {
    const ptr = this.__destroy_into_raw();
    wasm.__wbg_managementapi_free(ptr, 0);
  }
  /**
   * `GET /api/v2/users/{id}/permissions`.
   * @param {string} user_id
   * @returns {Promise<any>}
   */
  getUserPermissions(user_id) {
    const ptr0 = passStringToWasm0(user_id, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
    const len0 = WASM_VECTOR_LEN;
    const ret = wasm.managementapi_getUserPermissions(this.__wbg_ptr, ptr0, len0);
    return ret;
  }
  /**
   * `GET /api/v2/users/{id}/roles`.
   * @param {string} user_id
   * @returns {Promise<any>}
   */
  getUserRoles(user_id) {
    const ptr0 = passStringToWasm0(user_id, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
    const len0 = WASM_VECTOR_LEN;
    const ret = wasm.managementapi_getUserRoles(this.__wbg_ptr, ptr0, len0);
    return ret;
  }
  /**
   * `GET /api/v2/users/{id}`.
   * @param {string} user_id
   * @returns {Promise<any>}
   */
  getUser(user_id) {
    const ptr0 = passStringToWasm0(user_id, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
    const len0 = WASM_VECTOR_LEN;
    const ret = wasm.managementapi_getUser(this.__wbg_ptr, ptr0, len0);
    return ret;
  }
  /**
   * A client for the secrets in `event` and the trigger cache in `api`.
   * @param {any} event
   * @param {any} api
   */
  constructor(event, api) {
    const ret = wasm.managementapi_new(event, api);
    this.__wbg_ptr = ret;
    ManagementApiFinalization.register(this, this.__wbg_ptr, this);
    return this;
  }
  /**
   * `PATCH /api/v2/users/{id}` with `{ app_metadata: patch }`.
   * @param {string} user_id
   * @param {any} patch
   * @returns {Promise<any>}
   */
  updateAppMetadata(user_id, patch) {
    const ptr0 = passStringToWasm0(user_id, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
    const len0 = WASM_VECTOR_LEN;
    const ret = wasm.managementapi_updateAppMetadata(this.__wbg_ptr, ptr0, len0, patch);
    return ret;
  }
};
if (Symbol.dispose) ManagementApi.prototype[Symbol.dispose] = ManagementApi.prototype.free;
function configurationNames() {
  const ret = wasm.configurationNames();
  return ret;
}
__name(configurationNames, "configurationNames");
function onExecutePostLogin(event, api) {
  const ret = wasm.onExecutePostLogin(event, api);
  return ret;
}
__name(onExecutePostLogin, "onExecutePostLogin");
function pendingWork() {
  const ret = wasm.pendingWork();
  return ret;
}
__name(pendingWork, "pendingWork");
function __wbg_get_imports() {
  const import0 = {
    __proto__: null,
    __wbg_Error_208446807d0d1e30: /* @__PURE__ */ __name(function(arg0, arg1) {
      const ret = Error(getStringFromWasm0(arg0, arg1));
      return ret;
    }, "__wbg_Error_208446807d0d1e30"),
    __wbg___wbindgen_is_function_741ff2bb612836f5: /* @__PURE__ */ __name(function(arg0) {
      const ret = typeof arg0 === "function";
      return ret;
    }, "__wbg___wbindgen_is_function_741ff2bb612836f5"),
    __wbg___wbindgen_is_null_c22311b1cc228e3a: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0 === null;
      return ret;
    }, "__wbg___wbindgen_is_null_c22311b1cc228e3a"),
    __wbg___wbindgen_is_undefined_be5b34249ff1fc15: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0 === void 0;
      return ret;
    }, "__wbg___wbindgen_is_undefined_be5b34249ff1fc15"),
    __wbg___wbindgen_number_get_934b640d0889af78: /* @__PURE__ */ __name(function(arg0, arg1) {
      const obj = arg1;
      const ret = typeof obj === "number" ? obj : void 0;
      getDataViewMemory0().setFloat64((arg0 >>> 0) + 8 * 1, isLikeNone(ret) ? 0 : ret, true);
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, !isLikeNone(ret), true);
    }, "__wbg___wbindgen_number_get_934b640d0889af78"),
    __wbg___wbindgen_string_get_7ce8eee7fd327545: /* @__PURE__ */ __name(function(arg0, arg1) {
      const obj = arg1;
      const ret = typeof obj === "string" ? obj : void 0;
      var ptr1 = isLikeNone(ret) ? 0 : passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
      var len1 = WASM_VECTOR_LEN;
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
    }, "__wbg___wbindgen_string_get_7ce8eee7fd327545"),
    __wbg___wbindgen_throw_4c88d8bf264fd984: /* @__PURE__ */ __name(function(arg0, arg1) {
      throw new Error(getStringFromWasm0(arg0, arg1));
    }, "__wbg___wbindgen_throw_4c88d8bf264fd984"),
    __wbg__wbg_cb_unref_09736879a3f67559: /* @__PURE__ */ __name(function(arg0) {
      arg0._wbg_cb_unref();
    }, "__wbg__wbg_cb_unref_09736879a3f67559"),
    __wbg_accessToken_8b0402b8e6f45987: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0.accessToken;
      return ret;
    }, "__wbg_accessToken_8b0402b8e6f45987"),
    __wbg_access_b874f5c2d2c98ef1: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0.access;
      return ret;
    }, "__wbg_access_b874f5c2d2c98ef1"),
    __wbg_cache_ca99eefc2b1eca3d: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0.cache;
      return ret;
    }, "__wbg_cache_ca99eefc2b1eca3d"),
    __wbg_call_a410eb4b59ed5965: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0, arg1, arg2) {
        const ret = arg0.call(arg1, arg2);
        return ret;
      }, arguments);
    }, "__wbg_call_a410eb4b59ed5965"),
    __wbg_delete_3aa65cc77a787536: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0, arg1, arg2) {
        const ret = arg0.delete(getStringFromWasm0(arg1, arg2));
        return ret;
      }, arguments);
    }, "__wbg_delete_3aa65cc77a787536"),
    __wbg_deny_400e4fd979df2b7a: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0, arg1, arg2) {
        const ret = arg0.deny(getStringFromWasm0(arg1, arg2));
        return ret;
      }, arguments);
    }, "__wbg_deny_400e4fd979df2b7a"),
    __wbg_error_71d96b2566743be2: /* @__PURE__ */ __name(function(arg0, arg1) {
      console.error(getStringFromWasm0(arg0, arg1));
    }, "__wbg_error_71d96b2566743be2"),
    __wbg_fetch_ff6170332fa1c63f: /* @__PURE__ */ __name(function(arg0, arg1, arg2) {
      const ret = fetch(getStringFromWasm0(arg0, arg1), arg2);
      return ret;
    }, "__wbg_fetch_ff6170332fa1c63f"),
    __wbg_get_2080c49015e35254: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0, arg1) {
        const ret = Reflect.get(arg0, arg1);
        return ret;
      }, arguments);
    }, "__wbg_get_2080c49015e35254"),
    __wbg_get_60780df4a3713237: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0, arg1, arg2) {
        const ret = arg0.get(getStringFromWasm0(arg1, arg2));
        return ret;
      }, arguments);
    }, "__wbg_get_60780df4a3713237"),
    __wbg_get_eeccfff2ba074ae9: /* @__PURE__ */ __name(function(arg0, arg1, arg2, arg3) {
      const ret = arg1.get(getStringFromWasm0(arg2, arg3));
      var ptr1 = isLikeNone(ret) ? 0 : passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
      var len1 = WASM_VECTOR_LEN;
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
      getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
    }, "__wbg_get_eeccfff2ba074ae9"),
    __wbg_headers_91bda024a14c99be: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0.headers;
      return ret;
    }, "__wbg_headers_91bda024a14c99be"),
    __wbg_idToken_9aa00d923b3b273a: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0.idToken;
      return ret;
    }, "__wbg_idToken_9aa00d923b3b273a"),
    __wbg_log_96189fa2ac7001d7: /* @__PURE__ */ __name(function(arg0, arg1) {
      console.log(getStringFromWasm0(arg0, arg1));
    }, "__wbg_log_96189fa2ac7001d7"),
    __wbg_new_37eb45aaf5eeb820: /* @__PURE__ */ __name(function() {
      const ret = new Array();
      return ret;
    }, "__wbg_new_37eb45aaf5eeb820"),
    __wbg_new_ba40181b3f24ac80: /* @__PURE__ */ __name(function(arg0, arg1) {
      try {
        var state0 = { a: arg0, b: arg1 };
        var cb0 = /* @__PURE__ */ __name((arg02, arg12) => {
          const a = state0.a;
          state0.a = 0;
          try {
            return wasm_bindgen__convert__closures_____invoke__hb98d63cc49481475(a, state0.b, arg02, arg12);
          } finally {
            state0.a = a;
          }
        }, "cb0");
        const ret = new Promise(cb0);
        return ret;
      } finally {
        state0.a = 0;
      }
    }, "__wbg_new_ba40181b3f24ac80"),
    __wbg_new_cd4348290afae586: /* @__PURE__ */ __name(function() {
      const ret = new Object();
      return ret;
    }, "__wbg_new_cd4348290afae586"),
    __wbg_new_typed_e09da9dae6ee5935: /* @__PURE__ */ __name(function(arg0, arg1) {
      try {
        var state0 = { a: arg0, b: arg1 };
        var cb0 = /* @__PURE__ */ __name((arg02, arg12) => {
          const a = state0.a;
          state0.a = 0;
          try {
            return wasm_bindgen__convert__closures_____invoke__hb98d63cc49481475(a, state0.b, arg02, arg12);
          } finally {
            state0.a = a;
          }
        }, "cb0");
        const ret = new Promise(cb0);
        return ret;
      } finally {
        state0.a = 0;
      }
    }, "__wbg_new_typed_e09da9dae6ee5935"),
    __wbg_now_463ac581d2fc7ea3: /* @__PURE__ */ __name(function() {
      const ret = Date.now();
      return ret;
    }, "__wbg_now_463ac581d2fc7ea3"),
    __wbg_parse_c3f72b5a24f83c01: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0, arg1) {
        const ret = JSON.parse(getStringFromWasm0(arg0, arg1));
        return ret;
      }, arguments);
    }, "__wbg_parse_c3f72b5a24f83c01"),
    __wbg_push_c9f4893fc209f768: /* @__PURE__ */ __name(function(arg0, arg1) {
      const ret = arg0.push(arg1);
      return ret;
    }, "__wbg_push_c9f4893fc209f768"),
    __wbg_queueMicrotask_1e8503a8a690f0a3: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0.queueMicrotask;
      return ret;
    }, "__wbg_queueMicrotask_1e8503a8a690f0a3"),
    __wbg_queueMicrotask_4a1a4d8dd332373b: /* @__PURE__ */ __name(function(arg0) {
      queueMicrotask(arg0);
    }, "__wbg_queueMicrotask_4a1a4d8dd332373b"),
    __wbg_random_df36b90cd78a7d54: /* @__PURE__ */ __name(function() {
      const ret = Math.random();
      return ret;
    }, "__wbg_random_df36b90cd78a7d54"),
    __wbg_resolve_dbf78ab4942478b0: /* @__PURE__ */ __name(function(arg0) {
      const ret = Promise.resolve(arg0);
      return ret;
    }, "__wbg_resolve_dbf78ab4942478b0"),
    __wbg_setCustomClaim_4a433cf67f2cb9b5: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0, arg1, arg2, arg3) {
        const ret = arg0.setCustomClaim(getStringFromWasm0(arg1, arg2), arg3);
        return ret;
      }, arguments);
    }, "__wbg_setCustomClaim_4a433cf67f2cb9b5"),
    __wbg_setTimeout_2ee3699fc58d4a16: /* @__PURE__ */ __name(function(arg0, arg1) {
      const ret = setTimeout(arg0, arg1);
      return ret;
    }, "__wbg_setTimeout_2ee3699fc58d4a16"),
    __wbg_set_2793479888329cb6: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0, arg1, arg2) {
        const ret = Reflect.set(arg0, arg1, arg2);
        return ret;
      }, arguments);
    }, "__wbg_set_2793479888329cb6"),
    __wbg_set_715f9aefe8ab7ebe: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0, arg1, arg2, arg3, arg4, arg5) {
        const ret = arg0.set(getStringFromWasm0(arg1, arg2), getStringFromWasm0(arg3, arg4), arg5);
        return ret;
      }, arguments);
    }, "__wbg_set_715f9aefe8ab7ebe"),
    __wbg_static_accessor_GLOBAL_THIS_003ee833af9699fc: /* @__PURE__ */ __name(function() {
      const ret = typeof globalThis === "undefined" ? void 0 : globalThis;
      return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
    }, "__wbg_static_accessor_GLOBAL_THIS_003ee833af9699fc"),
    __wbg_static_accessor_GLOBAL_e4293fb22cbe77da: /* @__PURE__ */ __name(function() {
      const ret = typeof global === "undefined" ? void 0 : global;
      return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
    }, "__wbg_static_accessor_GLOBAL_e4293fb22cbe77da"),
    __wbg_static_accessor_SELF_53bb20457401453d: /* @__PURE__ */ __name(function() {
      const ret = typeof self === "undefined" ? void 0 : self;
      return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
    }, "__wbg_static_accessor_SELF_53bb20457401453d"),
    __wbg_static_accessor_WINDOW_b5e0810bfecb7feb: /* @__PURE__ */ __name(function() {
      const ret = typeof window === "undefined" ? void 0 : window;
      return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
    }, "__wbg_static_accessor_WINDOW_b5e0810bfecb7feb"),
    __wbg_status_b4d550a067253ef5: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0.status;
      return ret;
    }, "__wbg_status_b4d550a067253ef5"),
    __wbg_stringify_0a0fbf2ef722380a: /* @__PURE__ */ __name(function() {
      return handleError(function(arg0) {
        const ret = JSON.stringify(arg0);
        return ret;
      }, arguments);
    }, "__wbg_stringify_0a0fbf2ef722380a"),
    __wbg_text_933fbe58f2aec399: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0.text();
      return ret;
    }, "__wbg_text_933fbe58f2aec399"),
    __wbg_then_656f253a5dd7d8ea: /* @__PURE__ */ __name(function(arg0, arg1, arg2) {
      const ret = arg0.then(arg1, arg2);
      return ret;
    }, "__wbg_then_656f253a5dd7d8ea"),
    __wbg_then_e3f7f2d365708be8: /* @__PURE__ */ __name(function(arg0, arg1) {
      const ret = arg0.then(arg1);
      return ret;
    }, "__wbg_then_e3f7f2d365708be8"),
    __wbg_timeout_bb0d86537449b2f1: /* @__PURE__ */ __name(function(arg0) {
      const ret = AbortSignal.timeout(arg0);
      return ret;
    }, "__wbg_timeout_bb0d86537449b2f1"),
    __wbg_warn_f7d769ab283cb777: /* @__PURE__ */ __name(function(arg0, arg1) {
      console.warn(getStringFromWasm0(arg0, arg1));
    }, "__wbg_warn_f7d769ab283cb777"),
    __wbindgen_generic_0000000000000001: /* @__PURE__ */ __name(function(arg0, arg1) {
      const ret = makeMutClosure(arg0, arg1, wasm_bindgen__convert__closures_____invoke__h60702a48838d1764);
      return ret;
    }, "__wbindgen_generic_0000000000000001"),
    __wbindgen_generic_0000000000000002: /* @__PURE__ */ __name(function(arg0) {
      const ret = arg0;
      return ret;
    }, "__wbindgen_generic_0000000000000002"),
    __wbindgen_generic_0000000000000003: /* @__PURE__ */ __name(function(arg0, arg1) {
      const ret = getStringFromWasm0(arg0, arg1);
      return ret;
    }, "__wbindgen_generic_0000000000000003"),
    __wbindgen_init_externref_table: /* @__PURE__ */ __name(function() {
      const table = wasm.__wbindgen_externrefs;
      table.set(0, void 0);
      table.set(1024, void 0);
      table.set(1025, null);
      table.set(1026, true);
      table.set(1027, false);
    }, "__wbindgen_init_externref_table")
  };
  return {
    __proto__: null,
    "./index_bg.js": import0
  };
}
__name(__wbg_get_imports, "__wbg_get_imports");
function wasm_bindgen__convert__closures_____invoke__h60702a48838d1764(arg0, arg1, arg2) {
  const ret = wasm.wasm_bindgen__convert__closures_____invoke__h60702a48838d1764(arg0, arg1, arg2);
  if (ret[1]) {
    throw takeFromExternrefTable0(ret[0]);
  }
}
__name(wasm_bindgen__convert__closures_____invoke__h60702a48838d1764, "wasm_bindgen__convert__closures_____invoke__h60702a48838d1764");
function wasm_bindgen__convert__closures_____invoke__hb98d63cc49481475(arg0, arg1, arg2, arg3) {
  wasm.wasm_bindgen__convert__closures_____invoke__hb98d63cc49481475(arg0, arg1, arg2, arg3);
}
__name(wasm_bindgen__convert__closures_____invoke__hb98d63cc49481475, "wasm_bindgen__convert__closures_____invoke__hb98d63cc49481475");
var ManagementApiFinalization = typeof FinalizationRegistry === "undefined" ? { register: /* @__PURE__ */ __name(() => {
}, "register"), unregister: /* @__PURE__ */ __name(() => {
}, "unregister") } : new FinalizationRegistry((ptr) => wasm.__wbg_managementapi_free(ptr, 1));
function addToExternrefTable0(obj) {
  const idx = wasm.__externref_table_alloc();
  wasm.__wbindgen_externrefs.set(idx, obj);
  return idx;
}
__name(addToExternrefTable0, "addToExternrefTable0");
var CLOSURE_DTORS = typeof FinalizationRegistry === "undefined" ? { register: /* @__PURE__ */ __name(() => {
}, "register"), unregister: /* @__PURE__ */ __name(() => {
}, "unregister") } : new FinalizationRegistry((state) => wasm.__wbindgen_destroy_closure(state.a, state.b));
var cachedDataViewMemory0 = null;
function getDataViewMemory0() {
  if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer.detached === true || cachedDataViewMemory0.buffer.detached === void 0 && cachedDataViewMemory0.buffer !== wasm.memory.buffer) {
    cachedDataViewMemory0 = new DataView(wasm.memory.buffer);
  }
  return cachedDataViewMemory0;
}
__name(getDataViewMemory0, "getDataViewMemory0");
function getStringFromWasm0(ptr, len) {
  ptr = ptr >>> 0;
  return decodeText(getUint8ArrayMemory0().subarray(ptr, ptr + len));
}
__name(getStringFromWasm0, "getStringFromWasm0");
var cachedUint8ArrayMemory0 = null;
function getUint8ArrayMemory0() {
  if (cachedUint8ArrayMemory0 === null || cachedUint8ArrayMemory0.byteLength === 0) {
    cachedUint8ArrayMemory0 = new Uint8Array(wasm.memory.buffer);
  }
  return cachedUint8ArrayMemory0;
}
__name(getUint8ArrayMemory0, "getUint8ArrayMemory0");
function handleError(f, args) {
  try {
    return f.apply(this, args);
  } catch (e) {
    const idx = addToExternrefTable0(e);
    wasm.__wbindgen_exn_store(idx);
  }
}
__name(handleError, "handleError");
function isLikeNone(x) {
  return x === void 0 || x === null;
}
__name(isLikeNone, "isLikeNone");
function makeMutClosure(arg0, arg1, f) {
  const state = { a: arg0, b: arg1, cnt: 1 };
  const real = /* @__PURE__ */ __name((...args) => {
    state.cnt++;
    const a = state.a;
    state.a = 0;
    try {
      return f(a, state.b, ...args);
    } finally {
      state.a = a;
      real._wbg_cb_unref();
    }
  }, "real");
  real._wbg_cb_unref = () => {
    if (--state.cnt === 0) {
      wasm.__wbindgen_destroy_closure(state.a, state.b);
      state.a = 0;
      CLOSURE_DTORS.unregister(state);
    }
  };
  CLOSURE_DTORS.register(real, state, state);
  return real;
}
__name(makeMutClosure, "makeMutClosure");
function passStringToWasm0(arg, malloc, realloc) {
  if (realloc === void 0) {
    const buf = cachedTextEncoder.encode(arg);
    const ptr2 = malloc(buf.length, 1) >>> 0;
    getUint8ArrayMemory0().subarray(ptr2, ptr2 + buf.length).set(buf);
    WASM_VECTOR_LEN = buf.length;
    return ptr2;
  }
  let len = arg.length;
  let ptr = malloc(len, 1) >>> 0;
  const mem = getUint8ArrayMemory0();
  let offset = 0;
  for (; offset < len; offset++) {
    const code = arg.charCodeAt(offset);
    if (code > 127) break;
    mem[ptr + offset] = code;
  }
  if (offset !== len) {
    if (offset !== 0) {
      arg = arg.slice(offset);
    }
    ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
    const view = getUint8ArrayMemory0().subarray(ptr + offset, ptr + len);
    const ret = cachedTextEncoder.encodeInto(arg, view);
    offset += ret.written;
    ptr = realloc(ptr, len, offset, 1) >>> 0;
  }
  WASM_VECTOR_LEN = offset;
  return ptr;
}
__name(passStringToWasm0, "passStringToWasm0");
function takeFromExternrefTable0(idx) {
  const value = wasm.__wbindgen_externrefs.get(idx);
  wasm.__externref_table_dealloc(idx);
  return value;
}
__name(takeFromExternrefTable0, "takeFromExternrefTable0");
var cachedTextDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
cachedTextDecoder.decode();
function decodeText(bytes) {
  return cachedTextDecoder.decode(bytes);
}
__name(decodeText, "decodeText");
var cachedTextEncoder = new TextEncoder();
if (!("encodeInto" in cachedTextEncoder)) {
  cachedTextEncoder.encodeInto = function(arg, view) {
    const buf = cachedTextEncoder.encode(arg);
    view.set(buf);
    return {
      read: arg.length,
      written: buf.length
    };
  };
}
var WASM_VECTOR_LEN = 0;
var wasmInstance = new WebAssembly.Instance(wasmModule, __wbg_get_imports());
var wasm = wasmInstance.exports;
wasm.__wbindgen_start();

// ../js/actions.js
var postLoginActions = [
  {
    name: "management-api-token",
    onExecutePostLogin,
    secrets: ["AUTH0_CUSTOM_DOMAIN", "CLIENT_ID", "CLIENT_SECRET", "ACCOUNT_API"],
    // The Action reports the settings it reads, so the list lives in one place.
    configuration: configurationNames(),
    pending: pendingWork
  }
];

// actions/seed.js
var seed_exports = {};
__export(seed_exports, {
  onExecutePostLogin: () => onExecutePostLogin2
});
var CACHE_KEY = "M2M";
var TTL_MS = 86e3 * 1e3;
function tokenUrl(domain) {
  const base = /^https?:\/\//i.test(domain) ? domain : `https://${domain}`;
  return `${base.replace(/\/+$/, "")}/oauth/token`;
}
__name(tokenUrl, "tokenUrl");
async function onExecutePostLogin2(event, api) {
  const cached = api.cache.get(CACHE_KEY);
  if (cached?.value) {
    console.log("M2M token: cache hit");
    return;
  }
  console.log("M2M token: cache miss, requesting a new token");
  try {
    const response = await fetch(tokenUrl(event.secrets.AUTH0_CUSTOM_DOMAIN), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: event.secrets.CLIENT_ID,
        client_secret: event.secrets.CLIENT_SECRET,
        audience: event.secrets.ACCOUNT_API
      })
    });
    console.log(`M2M token: token request status ${response.status}`);
    if (!response.ok) {
      console.error(`M2M token: token request failed with status ${response.status}`);
      return;
    }
    const data = await response.json();
    if (typeof data?.access_token !== "string" || data.access_token.length === 0) {
      console.error("M2M token: invalid token response (no access_token)");
      return;
    }
    console.log("M2M token: token received and valid");
    const result = api.cache.set(CACHE_KEY, data.access_token, { ttl: TTL_MS });
    if (result?.type === "error") console.error(`M2M token: cache set failed (${result.code})`);
  } catch (error2) {
    console.error(`M2M token: error while getting a token: ${error2?.message ?? error2}`);
  }
}
__name(onExecutePostLogin2, "onExecutePostLogin");

// actions/naive.js
var naive_exports = {};
__export(naive_exports, {
  onExecutePostLogin: () => onExecutePostLogin3
});
function tokenUrl2(domain) {
  const base = /^https?:\/\//i.test(domain) ? domain : `https://${domain}`;
  return `${base.replace(/\/+$/, "")}/oauth/token`;
}
__name(tokenUrl2, "tokenUrl");
async function onExecutePostLogin3(event) {
  try {
    const response = await fetch(tokenUrl2(event.secrets.AUTH0_CUSTOM_DOMAIN), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: event.secrets.CLIENT_ID,
        client_secret: event.secrets.CLIENT_SECRET,
        audience: event.secrets.ACCOUNT_API
      })
    });
    if (!response.ok) {
      console.error(`M2M token: token request failed with status ${response.status}`);
      return;
    }
    const data = await response.json();
    if (typeof data?.access_token !== "string" || data.access_token.length === 0) {
      console.error("M2M token: invalid token response (no access_token)");
    }
  } catch (error2) {
    console.error(`M2M token: error while getting a token: ${error2?.message ?? error2}`);
  }
}
__name(onExecutePostLogin3, "onExecutePostLogin");

// actions/index.js
function actionsFor(variant, postLoginActions2) {
  if (variant === "ours") return postLoginActions2;
  const [shipped] = postLoginActions2;
  const module = { seed: seed_exports, naive: naive_exports }[variant];
  if (!module) throw new Error(`unknown bench variant ${JSON.stringify(variant)} (ours | seed | naive)`);
  return [
    {
      name: `${variant}-management-api-token`,
      onExecutePostLogin: module.onExecutePostLogin,
      secrets: [...shipped.secrets ?? []],
      configuration: [...shipped.configuration ?? []]
    }
  ];
}
__name(actionsFor, "actionsFor");

// worker.js
var OPERATIONS = ["get", "getWithMetadata", "put", "delete", "list"];
var counts = Object.fromEntries(OPERATIONS.map((op) => [op, 0]));
var inflight = { kv: 0, waitUntil: 0 };
var handlers = /* @__PURE__ */ new Map();
var wrappedKv = /* @__PURE__ */ new WeakMap();
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
    }
  });
  wrappedKv.set(kv, proxy);
  return proxy;
}
__name(countingKv, "countingKv");
function trackingCtx(ctx) {
  return {
    waitUntil(promise) {
      inflight.waitUntil++;
      ctx.waitUntil(Promise.resolve(promise).finally(() => inflight.waitUntil--));
    },
    passThroughOnException: /* @__PURE__ */ __name(() => ctx.passThroughOnException?.(), "passThroughOnException"),
    get props() {
      return ctx.props;
    }
  };
}
__name(trackingCtx, "trackingCtx");
function handlerFor(variant) {
  let handler = handlers.get(variant);
  if (!handler) {
    handler = createLoginHandler({ actions: actionsFor(variant, postLoginActions) });
    handlers.set(variant, handler);
  }
  return handler;
}
__name(handlerFor, "handlerFor");
var json2 = /* @__PURE__ */ __name((status, body) => new Response(JSON.stringify(body), {
  status,
  headers: { "content-type": "application/json", "cache-control": "no-store" }
}), "json");
var worker_default = {
  async fetch(request, env, ctx) {
    const variant = env.BENCH_VARIANT ?? "ours";
    const { pathname } = new URL(request.url);
    if (pathname === "/__bench/stats" && request.method === "GET") {
      return json2(200, { variant, kv: { ...counts }, inflight: { ...inflight } });
    }
    if (pathname === "/__bench/reset" && request.method === "POST") {
      for (const op of OPERATIONS) counts[op] = 0;
      return json2(200, { variant, kv: { ...counts }, inflight: { ...inflight } });
    }
    let handler;
    try {
      handler = handlerFor(variant);
    } catch (error2) {
      return json2(500, { error: "bench_misconfigured", error_description: error2.message });
    }
    return handler.fetch(request, { ...env, ACTIONS_CACHE: countingKv(env.ACTIONS_CACHE) }, trackingCtx(ctx));
  }
};

// ../node_modules/wrangler/templates/middleware/middleware-ensure-req-body-drained.ts
var drainBody = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } finally {
    try {
      if (request.body !== null && !request.bodyUsed) {
        const reader = request.body.getReader();
        while (!(await reader.read()).done) {
        }
      }
    } catch (e) {
      console.error("Failed to drain the unused request body.", e);
    }
  }
}, "drainBody");
var middleware_ensure_req_body_drained_default = drainBody;

// ../node_modules/wrangler/templates/middleware/middleware-miniflare3-json-error.ts
function reduceError(e) {
  return {
    name: e?.name,
    message: e?.message ?? String(e),
    stack: e?.stack,
    cause: e?.cause === void 0 ? void 0 : reduceError(e.cause)
  };
}
__name(reduceError, "reduceError");
var jsonError = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } catch (e) {
    const error2 = reduceError(e);
    return Response.json(error2, {
      status: 500,
      headers: { "MF-Experimental-Error-Stack": "true" }
    });
  }
}, "jsonError");
var middleware_miniflare3_json_error_default = jsonError;

// .wrangler/tmp/bundle-x5DFhi/middleware-insertion-facade.js
var __INTERNAL_WRANGLER_MIDDLEWARE__ = [
  middleware_ensure_req_body_drained_default,
  middleware_miniflare3_json_error_default
];
var middleware_insertion_facade_default = worker_default;

// ../node_modules/wrangler/templates/middleware/common.ts
var __facade_middleware__ = [];
function __facade_register__(...args) {
  __facade_middleware__.push(...args.flat());
}
__name(__facade_register__, "__facade_register__");
function __facade_invokeChain__(request, env, ctx, dispatch, middlewareChain) {
  const [head, ...tail] = middlewareChain;
  const middlewareCtx = {
    dispatch,
    next(newRequest, newEnv) {
      return __facade_invokeChain__(newRequest, newEnv, ctx, dispatch, tail);
    }
  };
  return head(request, env, ctx, middlewareCtx);
}
__name(__facade_invokeChain__, "__facade_invokeChain__");
function __facade_invoke__(request, env, ctx, dispatch, finalMiddleware) {
  return __facade_invokeChain__(request, env, ctx, dispatch, [
    ...__facade_middleware__,
    finalMiddleware
  ]);
}
__name(__facade_invoke__, "__facade_invoke__");

// .wrangler/tmp/bundle-x5DFhi/middleware-loader.entry.ts
var __Facade_ScheduledController__ = class ___Facade_ScheduledController__ {
  constructor(scheduledTime, cron, noRetry) {
    this.scheduledTime = scheduledTime;
    this.cron = cron;
    this.#noRetry = noRetry;
  }
  static {
    __name(this, "__Facade_ScheduledController__");
  }
  #noRetry;
  noRetry() {
    if (!(this instanceof ___Facade_ScheduledController__)) {
      throw new TypeError("Illegal invocation");
    }
    this.#noRetry();
  }
};
function wrapExportedHandler(worker) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return worker;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  const fetchDispatcher = /* @__PURE__ */ __name(function(request, env, ctx) {
    if (worker.fetch === void 0) {
      throw new Error("Handler does not export a fetch() function.");
    }
    return worker.fetch(request, env, ctx);
  }, "fetchDispatcher");
  return {
    ...worker,
    fetch(request, env, ctx) {
      const dispatcher = /* @__PURE__ */ __name(function(type, init) {
        if (type === "scheduled" && worker.scheduled !== void 0) {
          const controller = new __Facade_ScheduledController__(
            Date.now(),
            init.cron ?? "",
            () => {
            }
          );
          return worker.scheduled(controller, env, ctx);
        }
      }, "dispatcher");
      return __facade_invoke__(request, env, ctx, dispatcher, fetchDispatcher);
    }
  };
}
__name(wrapExportedHandler, "wrapExportedHandler");
function wrapWorkerEntrypoint(klass) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return klass;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  return class extends klass {
    #fetchDispatcher = /* @__PURE__ */ __name((request, env, ctx) => {
      this.env = env;
      this.ctx = ctx;
      if (super.fetch === void 0) {
        throw new Error("Entrypoint class does not define a fetch() function.");
      }
      return super.fetch(request);
    }, "#fetchDispatcher");
    #dispatcher = /* @__PURE__ */ __name((type, init) => {
      if (type === "scheduled" && super.scheduled !== void 0) {
        const controller = new __Facade_ScheduledController__(
          Date.now(),
          init.cron ?? "",
          () => {
          }
        );
        return super.scheduled(controller);
      }
    }, "#dispatcher");
    fetch(request) {
      return __facade_invoke__(
        request,
        this.env,
        this.ctx,
        this.#dispatcher,
        this.#fetchDispatcher
      );
    }
  };
}
__name(wrapWorkerEntrypoint, "wrapWorkerEntrypoint");
var WRAPPED_ENTRY;
if (typeof middleware_insertion_facade_default === "object") {
  WRAPPED_ENTRY = wrapExportedHandler(middleware_insertion_facade_default);
} else if (typeof middleware_insertion_facade_default === "function") {
  WRAPPED_ENTRY = wrapWorkerEntrypoint(middleware_insertion_facade_default);
}
var middleware_loader_entry_default = WRAPPED_ENTRY;
export {
  __INTERNAL_WRANGLER_MIDDLEWARE__,
  middleware_loader_entry_default as default
};
//# sourceMappingURL=worker.js.map
