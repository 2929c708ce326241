// Merging one isolate's changes to a trigger cache (a delta, from TriggerCache#takeDelta) into
// the records another copy holds — the single writer's (js/runtime/cache-writer.js), or the KV
// value an isolate re-reads when the writer is unavailable. Pure: no I/O, the clock passed in.
//
// Per key: a set replaces that key's record, a delete removes it; keys the delta does not name
// are kept as they are. So two isolates that change different keys at once both keep their
// change. Two changes of the same key: the one merged last wins (the writer merges in the order
// deltas reach it). Auth0's rules are applied by TriggerCache itself (js/runtime/cache.js), not a
// copy of them: expired records are dropped, and a set that no longer fits the limits beside the
// other isolates' records (total 8,192 bytes, 20 entries) is refused with Auth0's error code and
// the key keeps the record it had.

import { MAX_KEY_BYTES, TriggerCache, utf8Bytes } from "./cache.js";

/** Most changes one delta may carry (a cache holds at most 20 keys; deletes of others add up). */
export const MAX_DELTA_CHANGES = 256;

/**
 * @typedef {{ value: string, expires_at: number }} CacheRecord
 * @typedef {[string, CacheRecord | null]} CacheChange  a set (the record) or a delete (null)
 */

/**
 * Applies `changes` in order over `base` at time `now`.
 * @param {Iterable<[string, CacheRecord]>} base
 * @param {CacheChange[]} changes
 * @param {number} now ms since the epoch
 * @returns {{ entries: [string, CacheRecord][], changed: boolean,
 *   rejected: { key: string, code: string }[] }}
 */
export function mergeDelta(base, changes, now) {
  const cache = new TriggerCache({ now: () => now, records: base });
  const before = fingerprint(cache.entries());
  const rejected = [];
  for (const [key, record] of changes) {
    if (record === null) {
      cache.delete(key); // CacheKeyDoesNotExist: already gone, nothing to do
      continue;
    }
    const result = cache.set(key, record.value, { expires_at: record.expires_at });
    if (result.type === "success") continue;
    // Expired on the way: it replaced whatever the key held, and is gone with it.
    if (result.code === "ItemAlreadyExpired") cache.delete(key);
    else rejected.push({ key, code: result.code });
  }
  const entries = cache.entries();
  return { entries, changed: fingerprint(entries) !== before, rejected };
}

/** Same live records ⇔ same fingerprint (order-independent). */
function fingerprint(entries) {
  return JSON.stringify([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Checks a delta from outside (a request body): `{ changes: CacheChange[], rewrite?: boolean }`.
 * Returns `{ changes, rewrite }` or throws TypeError saying what is wrong.
 * @param {any} value
 * @returns {{ changes: CacheChange[], rewrite: boolean }}
 */
export function checkDelta(value) {
  if (typeof value !== "object" || value === null) throw new TypeError("the delta must be an object");
  const { changes, rewrite = false } = value;
  if (!Array.isArray(changes)) throw new TypeError('"changes" must be an array');
  if (changes.length > MAX_DELTA_CHANGES) throw new TypeError(`more than ${MAX_DELTA_CHANGES} changes`);
  if (typeof rewrite !== "boolean") throw new TypeError('"rewrite" must be a boolean');
  const checked = changes.map((change, i) => {
    if (!Array.isArray(change) || change.length !== 2)
      throw new TypeError(`change ${i} is not [key, record]`);
    const [key, record] = change;
    if (typeof key !== "string" || utf8Bytes(key) > MAX_KEY_BYTES) {
      throw new TypeError(`change ${i}: the key must be a string of at most ${MAX_KEY_BYTES} bytes`);
    }
    if (record === null) return /** @type {CacheChange} */ ([key, null]);
    if (
      typeof record !== "object" ||
      typeof record.value !== "string" ||
      !Number.isSafeInteger(record.expires_at)
    ) {
      throw new TypeError(`change ${i}: the record must be { value: string, expires_at: integer }`);
    }
    return /** @type {CacheChange} */ ([key, { value: record.value, expires_at: record.expires_at }]);
  });
  return { changes: checked, rewrite };
}

/**
 * Checks the records of a writer's answer: an array of [key, record]; throws TypeError.
 * @param {any} value
 * @returns {[string, CacheRecord][]}
 */
export function checkRecords(value) {
  if (!Array.isArray(value) || value.length > MAX_DELTA_CHANGES)
    throw new TypeError('"records" must be an array');
  return checkDelta({ changes: value }).changes.map(([key, record]) => {
    if (record === null) throw new TypeError(`record "${key.slice(0, 64)}" is null`);
    return /** @type {[string, CacheRecord]} */ ([key, record]);
  });
}
