// `api.cache` with Auth0's semantics and limits (see README, "api.cache semantics").
//
// Synchronous, string values, `ttl` in milliseconds, `expires_at` in ms since the epoch, the
// earlier of the two wins, 15 minutes when neither is given, never more than 24 hours.
// Limits in UTF-8 bytes: key ≤ 64, value ≤ 4096, all keys + values ≤ 8192, ≤ 20 entries.
// The cache is one per trigger; `TriggerCache` holds it for the executions of one isolate and
// records which keys changed since the last write-back (a delta: each key's new record, or its
// deletion), so the KV layer writes back only when needed and the single writer
// (js/runtime/cache-merge.js) can merge per key what several isolates changed at once.

export const DEFAULT_TTL_MS = 15 * 60 * 1000;
export const MAX_LIFETIME_MS = 24 * 60 * 60 * 1000;
export const MAX_KEY_BYTES = 64;
export const MAX_VALUE_BYTES = 4096;
export const MAX_TOTAL_BYTES = 8192;
export const MAX_ENTRIES = 20;

/**
 * The one method `api.cache` has beyond Auth0's three, under a symbol no Action names by
 * accident: `api.cache[CACHE_RELOAD]()` re-reads the stored copy (KV) into this isolate's copy
 * and resolves when done (never rejects). The Rust Action calls it before it refreshes a token,
 * to adopt a newer one another isolate stored. Its name is the Rust module's
 * `cacheReloadSymbol()` (tests/unit/cache.test.js checks they agree).
 */
export const CACHE_RELOAD = Symbol.for("actions-runtime.cache.reload");

const encoder = new TextEncoder();

/** UTF-8 length of a string, without allocating for ASCII. */
export function utf8Bytes(text) {
  // Fast path: most keys and values (tokens, JSON) are ASCII.
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}

function requireString(name, value) {
  if (typeof value !== "string") {
    throw new TypeError(`api.cache: ${name} must be a string, got ${value === null ? "null" : typeof value}`);
  }
}

const error = (code) => ({ type: "error", code });

/** One trigger's cache, shared by the executions of one isolate. */
export class TriggerCache {
  /**
   * @param {object} [options]
   * @param {() => number} [options.now] clock in ms (tests inject a fake one)
   * @param {Iterable<[string, {value: string, expires_at: number}]>} [options.records] initial
   *   records (from KV); expired or malformed ones are dropped.
   */
  constructor({ now = Date.now, records = [] } = {}) {
    this.now = now;
    /** @type {Map<string, {value: string, expires_at: number}>} */
    this.records = new Map();
    /**
     * Keys changed since the last `takeDelta`: the record set, or null for a delete.
     * @type {Map<string, {value: string, expires_at: number} | null>}
     */
    this.changes = new Map();
    /** What `api.cache[CACHE_RELOAD]()` runs (set by the KV layer); nothing without one. */
    this.reload = null;
    /** @type {object | null} the `api.cache` object, built once */
    this.apiObject = null;
    /** The stored value must be rewritten even with no change (it was unreadable, or stale). */
    this.rewrite = false;
    this.replace(records);
  }

  /** Whether something must be written back: a change, or a rewrite of the stored value. */
  get dirty() {
    return this.changes.size > 0 || this.rewrite;
  }

  /** `true` asks for a rewrite; `false` forgets every pending change. */
  set dirty(value) {
    this.rewrite = Boolean(value);
    if (!value) this.changes.clear();
  }

  /** Replaces every record (a fresh copy from KV) and forgets pending changes. */
  replace(records) {
    this.changes.clear();
    this.rewrite = false;
    this.#load(records);
  }

  /**
   * Takes the records another copy holds (KV, or the writer's merge) while keeping this copy's
   * changes not yet written back: they are newer, so they are applied over what was adopted.
   */
  adopt(records) {
    this.#load(records);
    const at = this.now();
    for (const [key, record] of this.changes) {
      if (record === null || record.expires_at <= at) this.records.delete(key);
      else this.records.set(key, { ...record });
    }
  }

  /**
   * The changes since the last call, as `{ changes: [[key, record | null], …], rewrite }`, and
   * forgets them: the caller writes them, or hands them back with `restoreDelta` when it could not.
   */
  takeDelta() {
    const delta = { changes: [...this.changes].map(([k, r]) => [k, r && { ...r }]), rewrite: this.rewrite };
    this.changes.clear();
    this.rewrite = false;
    return delta;
  }

  /** Hands back a delta that could not be written; changes made since it was taken win. */
  restoreDelta(delta) {
    const newer = this.changes;
    this.changes = new Map(delta.changes);
    for (const [key, record] of newer) {
      this.changes.delete(key);
      this.changes.set(key, record);
    }
    this.rewrite ||= delta.rewrite;
  }

  #load(records) {
    this.records.clear();
    this.lostToExpiry = false;
    const at = this.now();
    for (const [key, record] of records) {
      if (
        typeof key === "string" &&
        record &&
        typeof record.value === "string" &&
        Number.isSafeInteger(record.expires_at) &&
        record.expires_at > at &&
        this.records.size < MAX_ENTRIES
      ) {
        this.records.set(key, { value: record.value, expires_at: record.expires_at });
      }
    }
  }

  /**
   * Drops records whose time has come; they neither count toward limits nor get returned.
   * Expiry alone does not make the cache dirty: KV expires the stored copy by itself.
   */
  #purge(at) {
    for (const [key, record] of this.records) {
      if (record.expires_at <= at) this.#expire(key);
    }
    // A pending set that expired is written as a delete: it replaced whatever the stored copy
    // holds for that key, and that is gone with it.
    for (const [key, record] of this.changes) {
      if (record !== null && record.expires_at <= at) this.changes.set(key, null);
    }
  }

  #expire(key) {
    this.records.delete(key);
    this.lostToExpiry = true;
  }

  /**
   * Whether this copy may be missing something KV has: it is empty, or it lost a record to
   * expiry (another isolate may have stored a newer one).
   */
  needsSync() {
    this.#purge(this.now());
    return this.lostToExpiry || this.records.size === 0;
  }

  /** `api.cache.get(key)` → `{ value, expires_at }` or `undefined`. */
  get(key) {
    requireString("key", key);
    const record = this.records.get(key);
    if (record === undefined) return undefined;
    if (record.expires_at <= this.now()) {
      this.#expire(key);
      return undefined;
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
    for (const [k, record] of this.records) {
      if (k !== key) total += utf8Bytes(k) + utf8Bytes(record.value);
    }
    if (total > MAX_TOTAL_BYTES) return error("CacheSizeExceeded");
    if (!this.records.has(key) && this.records.size >= MAX_ENTRIES) return error("CacheSizeExceeded");

    const expiresAt = resolveExpiry(options ?? {}, at);
    if (typeof expiresAt === "string") return error(expiresAt);

    const record = { value, expires_at: expiresAt };
    this.records.set(key, record);
    this.changes.delete(key); // insertion order = order of the latest changes
    this.changes.set(key, { ...record });
    return { type: "success", record: { ...record } };
  }

  /** `api.cache.delete(key)` → `{type: "success"}` or `{type: "error", code: "CacheKeyDoesNotExist"}`. */
  delete(key) {
    requireString("key", key);
    this.#purge(this.now());
    if (!this.records.delete(key)) return error("CacheKeyDoesNotExist");
    this.changes.delete(key);
    this.changes.set(key, null);
    return { type: "success" };
  }

  /**
   * The object handed to Actions as `api.cache`: Auth0's three methods (and CACHE_RELOAD). One
   * per cache (it holds no state of its own), not one per login.
   */
  api() {
    if (this.apiObject) return this.apiObject;
    const api = {
      get: (key) => this.get(key),
      set: (key, value, options) => this.set(key, value, options),
      delete: (key) => this.delete(key),
    };
    Object.defineProperty(api, CACHE_RELOAD, {
      value: () => Promise.resolve(this.reload?.()).then(() => undefined),
    });
    this.apiObject = Object.freeze(api);
    return this.apiObject;
  }

  /** Live records, for persistence. */
  entries() {
    this.#purge(this.now());
    return [...this.records];
  }
}

/**
 * The absolute expiry for `set` options, or an error code.
 * ttl is floored (Auth0's harness does the same); a lifetime past 24 h is clamped to 24 h
 * (Auth0 documents 24 h as the maximum item lifetime without saying what happens past it).
 */
function resolveExpiry(options, at) {
  const { ttl, expires_at: absolute } = options;
  const candidates = [];
  if (ttl !== undefined) {
    if (typeof ttl !== "number" || !Number.isFinite(ttl)) return "InvalidExpiry";
    candidates.push(at + Math.floor(ttl));
  }
  if (absolute !== undefined) {
    if (typeof absolute !== "number" || !Number.isFinite(absolute)) return "InvalidExpiry";
    candidates.push(Math.floor(absolute));
  }
  const expiresAt = candidates.length ? Math.min(...candidates) : at + DEFAULT_TTL_MS;
  if (!Number.isSafeInteger(expiresAt)) return "InvalidExpiry";
  if (expiresAt <= at) return "ItemAlreadyExpired";
  return Math.min(expiresAt, at + MAX_LIFETIME_MS);
}
