// The stored form of one trigger's cache — the Workers KV value, and the cache writer's Durable
// Object storage — shared by the isolates (js/runtime/kv-store.js) and the writer
// (js/runtime/cache-writer.js), so both read and write exactly the same thing.
//
// Plain: `{"v":1,"records":{"<key>":{"value":"…","expires_at":<ms>}, …}}` (the layout since the
// first release). With TOKEN_ENCRYPTION_KEY set, that JSON text sealed (js/runtime/sealed.js):
// `sealed.v1.<kid>.<iv>.<ciphertext>`, authenticated with a context naming where it is stored
// (the KV key, or the writer's storage key), so a sealed value moved elsewhere is refused.
//
// With a key set, a plain value is refused (treated as unreadable, and replaced sealed by the next
// write): accepting it would let whoever can write the namespace plant records the Worker trusts.
// Without a key, a sealed value is unreadable too. Unreadable = a cache miss, logged.

import { isSealed, open, seal, SealedError, describeKeySpec } from "./sealed.js";

export const LAYOUT_VERSION = 1;
/** Workers KV refuses expirations less than 60 s ahead. */
export const KV_MIN_EXPIRATION_SECONDS = 60;
/** What `kid` says of a plain value. */
export const PLAIN = "plain";

/** Whether a Worker environment value means "a key is set" (anything but absent). */
export const hasKey = (keySpec) => keySpec !== undefined && keySpec !== null;

/**
 * The kid new values are sealed with (`PLAIN` without a key). Throws SealedError
 * ("bad_key_spec") for a key spec that cannot be used.
 */
export function sealingKid(keySpec) {
  return hasKey(keySpec) ? describeKeySpec(keySpec).sealWith : PLAIN;
}

/** The layout's JSON text for live records, and the latest `expires_at` among them. */
export function layoutText(entries) {
  const records = {};
  let latest = 0;
  for (const [name, record] of entries) {
    // defineProperty: a "__proto__" key is an ordinary key.
    Object.defineProperty(records, name, {
      value: { value: record.value, expires_at: record.expires_at },
      enumerable: true,
    });
    latest = Math.max(latest, record.expires_at);
  }
  return { text: JSON.stringify({ v: LAYOUT_VERSION, records }), latest };
}

/** The KV expiration (epoch seconds) for records whose latest expiry is `latest` ms. */
export function kvExpiration(latest, now) {
  return Math.max(Math.ceil(latest / 1000), Math.ceil(now / 1000) + KV_MIN_EXPIRATION_SECONDS);
}

/**
 * The stored text for `entries` (sealed when a key is set), even for none.
 * Throws SealedError for an unusable key spec (never writes plain text then).
 * @returns {Promise<{ value: string, latest: number, kid: string }>}
 */
export async function encodeLayout(entries, keySpec, context) {
  const { text, latest } = layoutText(entries);
  const value = await sealStored(text, keySpec, context);
  return { value, latest, kid: hasKey(keySpec) ? value.split(".")[2] : PLAIN };
}

/** As `encodeLayout`, but null when there is nothing to store (the KV key is deleted then). */
export async function encodeStored(entries, keySpec, context) {
  return entries.length === 0 ? null : encodeLayout(entries, keySpec, context);
}

/**
 * The text stored at rest as it is to be written: sealed for `context` when a key is set, else
 * as it is. Throws SealedError for an unusable key spec (never writes plain text then).
 */
export function sealStored(text, keySpec, context) {
  return hasKey(keySpec) ? seal(text, keySpec, context) : Promise.resolve(text);
}

/**
 * The text under a stored value, by the rules at rest (above): `{ text, kid }`, or
 * `{ unreadable }` saying why (no secret in it). Throws SealedError("bad_key_spec") when the key
 * spec itself is unusable.
 * @param {string} stored
 */
export async function openStored(stored, keySpec, context) {
  if (!hasKey(keySpec)) {
    if (isSealed(stored)) return { unreadable: "a sealed value and no TOKEN_ENCRYPTION_KEY" };
    return { text: stored, kid: PLAIN };
  }
  if (!isSealed(stored)) {
    describeKeySpec(keySpec); // a bad spec is the cause to report, before the value's
    return { unreadable: "a plain value while TOKEN_ENCRYPTION_KEY is set" };
  }
  try {
    return { text: await open(stored, keySpec, context), kid: stored.split(".")[2] };
  } catch (error) {
    if (error instanceof SealedError && error.code !== "bad_key_spec") {
      return { unreadable: `sealed value refused (${error.code})` };
    }
    throw error;
  }
}

/**
 * Reads a stored value: `{ entries, kid }`, or `{ unreadable }` saying why (no secret in it).
 * Throws SealedError("bad_key_spec") when the key spec itself is unusable.
 * @param {string} text
 */
export async function decodeStored(text, keySpec, context) {
  const opened = await openStored(text, keySpec, context);
  if (opened.unreadable) return { unreadable: opened.unreadable };
  const { text: json, kid } = opened;
  let stored;
  try {
    stored = JSON.parse(json);
  } catch {
    stored = null;
  }
  if (stored?.v !== LAYOUT_VERSION || typeof stored.records !== "object" || stored.records === null) {
    return { unreadable: "not the v1 layout" };
  }
  return { entries: Object.entries(stored.records), kid };
}
