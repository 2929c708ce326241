// Persists one trigger's `api.cache` in Workers KV, with the isolate's memory in front.
//
// - One KV key per trigger holds all its records.
// - The isolate keeps the records in memory and shares them between its executions (Auth0's
//   cache is best-effort across executions, and module scope in Auth0's Node 22 runtime is
//   reused the same way). A cold isolate reads KV once (concurrent logins share the read). A
//   warm isolate never reads KV while its copy holds live records and has lost none to expiry:
//   memory already has what the Actions stored. Only a copy that is empty or lost a record (another
//   isolate may have stored a newer one) is re-read, at most once per sync interval (default
//   60 s, KV's own edge-cache time).
// - Changes are written back after the response, through `ctx.waitUntil`, only when something
//   changed. The KV expiration follows the records: the latest `expires_at` among them (KV
//   needs at least 60 s ahead), so an Action's 86,000 s record lives 86,000 s in KV.
// - A KV fault never fails a login: it is logged and the Actions see what memory holds
//   (nothing, on a cold isolate).

import { describeError } from "../log.js";
import { TriggerCache } from "./cache.js";

/** Workers KV refuses expirations less than 60 s ahead. */
export const KV_MIN_EXPIRATION_SECONDS = 60;
/** How long the isolate's copy is used before KV is read again. */
export const DEFAULT_SYNC_INTERVAL_MS = 60_000;
const LAYOUT_VERSION = 1;

/** The KV key holding a trigger's cache. */
export const kvKey = (trigger) => `actions-cache/${trigger}`;

/** One trigger's cache in one isolate, backed by KV. */
export class KvTriggerCache {
  /**
   * @param {string} trigger e.g. "post-login"
   * @param {{ now?: () => number, log: (level: string, event: string, fields?: object) => void,
   *   syncIntervalMs?: number }} options
   */
  constructor(trigger, { now = Date.now, log, syncIntervalMs = DEFAULT_SYNC_INTERVAL_MS }) {
    this.key = kvKey(trigger);
    this.now = now;
    this.log = log;
    this.syncIntervalMs = syncIntervalMs;
    this.cache = new TriggerCache({ now });
    this.syncedAt = -Infinity;
    this.loading = null;
    /** KV operations this isolate made, for logs and tests. */
    this.counts = { reads: 0, writes: 0 };
  }

  /**
   * The cache for a login: the isolate's copy; read from KV on a cold isolate, and re-read when
   * the copy is empty or lost a record and is older than the sync interval.
   * Resolves to `{ cache, kvRead }`; never rejects.
   * @param {KVNamespace | undefined} kv
   */
  async forLogin(kv) {
    const cold = this.syncedAt === -Infinity;
    const recent = this.now() - this.syncedAt < this.syncIntervalMs;
    if (!cold && (recent || !this.cache.needsSync())) return { cache: this.cache, kvRead: false };
    this.loading ??= this.#sync(kv).finally(() => (this.loading = null));
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
    } catch (error) {
      this.log("error", "kv_read_failed", { key: this.key, error: describeError(error) });
      this.syncedAt = this.now();
      return;
    }
    this.syncedAt = this.now();
    // A change not yet written back is newer than what KV holds.
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
      // Dirty, so the next write replaces the unreadable value.
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
        Math.ceil(latest / 1000),
        Math.ceil(this.now() / 1000) + KV_MIN_EXPIRATION_SECONDS,
      );
      await kv.put(this.key, JSON.stringify({ v: LAYOUT_VERSION, records }), { expiration });
      this.log("info", "kv_write", {
        key: this.key,
        records: entries.length,
        expiration,
        writes: this.counts.writes,
      });
    } catch (error) {
      // Try again with the next login's write.
      this.cache.dirty = true;
      this.log("error", "kv_write_failed", { key: this.key, error: describeError(error) });
    }
  }
}
