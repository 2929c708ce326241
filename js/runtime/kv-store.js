// Persists one trigger's `api.cache` in Workers KV: one KV key per trigger, read at most once
// per login before the Actions run, and written back (only if something changed) after them,
// through `ctx.waitUntil` so the write never delays the response.
//
// The KV expiration follows the records: it is the latest `expires_at` among them (KV needs at
// least 60 s ahead), so an Action's 86,000 s record lives 86,000 s in KV. A KV fault never fails
// a login: it is logged and the Actions see an empty cache.

import { TriggerCache } from "./cache.js";

/** Workers KV refuses expirations less than 60 s ahead. */
export const KV_MIN_EXPIRATION_SECONDS = 60;
const LAYOUT_VERSION = 1;

/** The KV key holding a trigger's cache. */
export const kvKey = (trigger) => `actions-cache/${trigger}`;

/**
 * Reads the trigger's cache from KV.
 * @param {KVNamespace | undefined} kv
 * @param {string} trigger e.g. "post-login"
 * @param {{ now?: () => number, log: (level: string, event: string, fields?: object) => void }} options
 * @returns {Promise<TriggerCache>}
 */
export async function loadTriggerCache(kv, trigger, { now = Date.now, log }) {
  if (!kv) {
    log("error", "kv_unavailable", { reason: "no ACTIONS_CACHE binding" });
    return new TriggerCache({ now });
  }
  let text;
  try {
    text = await kv.get(kvKey(trigger), { type: "text" });
  } catch (error) {
    log("error", "kv_read_failed", { error: describe(error) });
    return new TriggerCache({ now });
  }
  if (text === null) return new TriggerCache({ now });
  let stored;
  try {
    stored = JSON.parse(text);
  } catch {
    stored = null;
  }
  if (stored?.v !== LAYOUT_VERSION || typeof stored.records !== "object" || stored.records === null) {
    log("warn", "kv_value_unreadable", { key: kvKey(trigger), bytes: text.length });
    // Marked dirty so the next write replaces the unreadable value.
    const cache = new TriggerCache({ now });
    cache.dirty = true;
    return cache;
  }
  return new TriggerCache({ now, records: Object.entries(stored.records) });
}

/**
 * Writes the trigger's cache back to KV if it changed. Never throws.
 * @returns {Promise<void>}
 */
export async function persistTriggerCache(kv, trigger, cache, { now = Date.now, log }) {
  if (!kv || !cache.dirty) return;
  const key = kvKey(trigger);
  const entries = cache.entries();
  try {
    if (entries.length === 0) {
      await kv.delete(key);
      log("info", "kv_write", { key, records: 0 });
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
      Math.ceil(now() / 1000) + KV_MIN_EXPIRATION_SECONDS,
    );
    await kv.put(key, JSON.stringify({ v: LAYOUT_VERSION, records }), { expiration });
    log("info", "kv_write", { key, records: entries.length, expiration });
  } catch (error) {
    log("error", "kv_write_failed", { key, error: describe(error) });
  }
}

function describe(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
