// The trigger cache's single writer: what the TriggerCacheWriter Durable Object
// (js/cache-writer-object.js, one instance per trigger) does, without the platform, so Node tests
// run it over fakes.
//
//   POST /merge   { v: 1, trigger, changes: [[key, {value, expires_at} | null], …], rewrite? }
//   200 → { v: 1, records: [[key, {value, expires_at}], …], rejected: [{key, code}], kv }
//         kv: "written" (KV now holds the merged records), "unchanged" (it already did) or
//         "failed" (KV will be written again: with the next delta, or by the alarm)
//   400 → a bad delta; 500 → TOKEN_ENCRYPTION_KEY unusable or storage failed; 503 → the first
//         read of KV failed. The isolate falls back to KV on anything but 200.
//
// The records live in the object's storage (sealed like KV when TOKEN_ENCRYPTION_KEY is set),
// initialised from the KV value the first time. Each delta is merged per key (cache-merge.js:
// Auth0's limits and expiry through TriggerCache); the merged value is written to KV, in the same
// layout as an isolate writes it, only when it changed (or KV holds it under an older key or not
// at all). KV writes are coalesced: at most one in flight; deltas arriving meanwhile go out with
// the next one.

import { describeError } from "../log.js";
import { checkDelta, mergeDelta } from "./cache-merge.js";
import { decodeStored, encodeLayout, encodeStored, kvExpiration, sealingKid } from "./cache-value.js";
import { kvKey } from "./kv-store.js";

/** The storage key of the writer's state. */
export const STATE_KEY = "state";
/** The largest delta body accepted. */
export const MAX_DELTA_BYTES = 64 * 1024;
/** When a KV write failed, the alarm tries again after this long. */
export const KV_RETRY_MS = 5_000;
const TRIGGER = /^[a-z0-9-]{1,64}$/;

const json = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export class CacheWriterCore {
  /**
   * @param {object} options
   * @param {{ get(key: string): Promise<any>, put(key: string, value: any): Promise<void>,
   *   setAlarm?(at: number): Promise<void> }} options.storage the object's storage
   * @param {KVNamespace | undefined} options.kv
   * @param {string | undefined} options.keySpec TOKEN_ENCRYPTION_KEY
   * @param {(level: string, event: string, fields?: object) => void} options.log
   * @param {() => number} [options.now]
   */
  constructor({ storage, kv, keySpec, log, now = Date.now }) {
    this.storage = storage;
    this.kv = kv;
    this.keySpec = keySpec;
    this.log = log;
    this.now = now;
    this.trigger = null;
    /** @type {[string, {value: string, expires_at: number}][]} */
    this.records = [];
    /** KV does not hold the records as they are (or not sealed with the current key). */
    this.kvStale = false;
    /** The kid KV was last written with ("plain" without a key), or null. */
    this.kvKid = null;
    this.loading = null;
    this.kvFlight = null;
    this.kvWanted = false;
  }

  /** The storage context a sealed state is bound to. */
  #context() {
    return `cache-writer/${this.trigger}`;
  }

  /** Loads the state for `trigger` once: storage, else the KV value. Throws on a KV fault. */
  async #load(trigger) {
    this.trigger = trigger;
    const state = await this.storage.get(STATE_KEY);
    if (state && state.trigger === trigger && typeof state.records === "string") {
      const decoded = await decodeStored(state.records, this.keySpec, this.#context());
      if (!decoded.unreadable) {
        this.records = decoded.entries;
        this.kvStale = state.kvStale === true;
        this.kvKid = typeof state.kvKid === "string" ? state.kvKid : null;
        return;
      }
      this.log("warn", "cache_writer_state_unreadable", { reason: decoded.unreadable, using: "kv" });
    } else if (state) {
      this.log("warn", "cache_writer_state_unreadable", { reason: "unknown layout", using: "kv" });
    }
    const key = kvKey(trigger);
    const text = this.kv ? await this.kv.get(key, { type: "text" }) : null;
    if (text === null) {
      this.records = [];
      this.kvStale = false;
      this.kvKid = null;
      return;
    }
    const decoded = await decodeStored(text, this.keySpec, key);
    if (decoded.unreadable) {
      this.log("warn", "kv_value_unreadable", { key, bytes: text.length, reason: decoded.unreadable });
      this.records = [];
      this.kvStale = true; // replaced by the first write
      this.kvKid = null;
      return;
    }
    this.records = decoded.entries;
    this.kvStale = false;
    this.kvKid = decoded.kid;
  }

  async #save() {
    const stored = await encodeLayout(this.records, this.keySpec, this.#context());
    await this.storage.put(STATE_KEY, {
      v: 1,
      trigger: this.trigger,
      records: stored.value,
      kvStale: this.kvStale,
      kvKid: this.kvKid,
    });
  }

  /** `fetch` of the Durable Object. */
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname !== "/merge" || request.method !== "POST") return json(404, { error: "not_found" });
    const text = await request.text();
    if (text.length > MAX_DELTA_BYTES) return json(413, { error: "payload_too_large" });
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      return json(400, { error: "invalid_request", error_description: "the body is not JSON" });
    }
    const { status, body: answer } = await this.merge(body);
    return json(status, answer);
  }

  /**
   * Merges one delta (the RPC entry point too). Resolves to `{ status, body }`; never rejects.
   * @param {any} body `{ v: 1, trigger, changes, rewrite? }`, not trusted
   */
  async merge(body) {
    let delta;
    try {
      if (body?.v !== 1) throw new TypeError('"v" must be 1');
      if (typeof body.trigger !== "string" || !TRIGGER.test(body.trigger))
        throw new TypeError('bad "trigger"');
      if (this.trigger !== null && body.trigger !== this.trigger) {
        throw new TypeError(`this writer serves trigger "${this.trigger}"`);
      }
      delta = checkDelta(body);
    } catch (error) {
      this.log("warn", "cache_writer_refused", { reason: error.message.slice(0, 200) });
      return { status: 400, body: { error: "invalid_request", error_description: error.message } };
    }
    let sealWith;
    try {
      sealWith = sealingKid(this.keySpec);
    } catch (error) {
      this.log("error", "token_encryption_key_invalid", { message: error.message, effect: "merge refused" });
      return {
        status: 500,
        body: { error: "server_error", error_description: "TOKEN_ENCRYPTION_KEY is invalid" },
      };
    }
    this.loading ??= this.#load(body.trigger).catch((error) => {
      this.loading = null;
      throw error;
    });
    try {
      await this.loading;
    } catch (error) {
      this.log("error", "cache_writer_load_failed", { error: describeError(error) });
      return { status: 503, body: { error: "temporarily_unavailable" } };
    }

    // Synchronous from here to the storage write: deltas are merged one at a time, in arrival order.
    const merged = mergeDelta(this.records, delta.changes, this.now());
    this.records = merged.entries;
    if (merged.changed || delta.rewrite || this.kvKid !== sealWith) this.kvStale = true;
    try {
      await this.#save();
    } catch (error) {
      this.log("error", "cache_writer_storage_failed", { error: describeError(error) });
      return { status: 500, body: { error: "server_error" } };
    }
    const kv = this.kvStale ? await this.#flushKv() : "unchanged";
    this.log("info", "cache_writer_merged", {
      trigger: this.trigger,
      changes: delta.changes.length,
      records: this.records.length,
      changed: merged.changed,
      rejected: merged.rejected.length,
      kv,
    });
    return { status: 200, body: { v: 1, records: this.records, rejected: merged.rejected, kv } };
  }

  /** Writes KV until it holds the latest records (one write in flight at a time). */
  #flushKv() {
    this.kvWanted = true;
    this.kvFlight ??= (async () => {
      let outcome = "unchanged";
      while (this.kvWanted) {
        this.kvWanted = false;
        outcome = await this.#writeKv();
        if (outcome === "failed") break;
      }
      return outcome;
    })().finally(() => (this.kvFlight = null));
    return this.kvFlight;
  }

  async #writeKv() {
    const key = kvKey(this.trigger);
    const records = this.records;
    try {
      if (!this.kv) throw new Error("no ACTIONS_CACHE binding");
      const stored = await encodeStored(records, this.keySpec, key);
      if (stored === null) await this.kv.delete(key);
      else await this.kv.put(key, stored.value, { expiration: kvExpiration(stored.latest, this.now()) });
      // Records merged while the write was out are written by the next round.
      if (records === this.records) this.kvStale = false;
      this.kvKid = sealingKid(this.keySpec);
      await this.#save();
      return "written";
    } catch (error) {
      this.log("error", "kv_write_failed", { key, error: describeError(error), retry_ms: KV_RETRY_MS });
      try {
        await this.storage.setAlarm?.(this.now() + KV_RETRY_MS);
      } catch {
        // the next delta writes KV too
      }
      return "failed";
    }
  }

  /** The alarm: a KV write that failed is tried again. */
  async alarm() {
    if (this.trigger === null) {
      const state = await this.storage.get(STATE_KEY);
      if (!state?.trigger) return;
      this.loading ??= this.#load(state.trigger);
      await this.loading;
    }
    if (this.kvStale) await this.#flushKv();
  }
}
