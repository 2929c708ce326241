// A Durable Object's storage with its string values sealed at rest (js/runtime/sealed.js) when
// TOKEN_ENCRYPTION_KEY is set — what the token broker (src/broker_object.rs) is given instead of
// the object's own storage, so its records (the token) are never stored in plain text.
//
// Only `get(key)` and `put(key, value)` of string values, as the broker uses them. The sealed
// text is bound to the object and the storage key (authenticated context), so a value copied to
// another object or key is refused. What cannot be read is "nothing stored" (the broker then
// requests a new token, once), logged; a read or write the key makes impossible is a rejected
// promise the caller logs. The same rules as the trigger cache's KV value (cache-value.js):
// - key set: values are sealed with its first key; any of its keys opens; a plain value is
//   refused (it is replaced, sealed, by the next write);
// - no key: values are stored as they are; a sealed value cannot be opened and is refused.
// Log fields name key ids and reasons, never key material or values.

import { describeKeySpec, isSealed, open, seal } from "./sealed.js";

/** @typedef {{ get(key: string): Promise<unknown>, put(key: string, value: unknown): Promise<unknown> }} StringStorage */

/**
 * @param {StringStorage} storage the object's storage (`ctx.storage`)
 * @param {string | undefined} keySpec TOKEN_ENCRYPTION_KEY
 * @param {string} owner names the object in the sealing context (e.g. its id)
 * @param {(level: string, event: string, fields?: object) => void} log
 * @returns {StringStorage}
 */
export function sealedStorage(storage, keySpec, owner, log) {
  if (keySpec === undefined || keySpec === null) {
    return {
      async get(key) {
        const value = await storage.get(key);
        if (!isSealed(value)) return value;
        log("warn", "storage_value_refused", {
          key,
          reason: "sealed, and TOKEN_ENCRYPTION_KEY is not set",
        });
        return undefined;
      },
      put: (key, value) => storage.put(key, value),
    };
  }
  let keyProblem = null;
  try {
    describeKeySpec(keySpec);
  } catch (error) {
    keyProblem = error;
    log("error", "token_encryption_key_invalid", {
      message: error.message,
      effect: "the object's storage is neither read nor written",
    });
  }
  const context = (key) => `${owner}\n${key}`;
  return {
    async get(key) {
      if (keyProblem) throw keyProblem;
      const value = await storage.get(key);
      if (value === undefined || value === null) return undefined;
      if (!isSealed(value)) {
        log("warn", "storage_value_refused", {
          key,
          reason: "not sealed, and TOKEN_ENCRYPTION_KEY is set",
        });
        return undefined;
      }
      try {
        return await open(String(value), keySpec, context(key));
      } catch (error) {
        log("warn", "storage_value_refused", { key, reason: error.code, message: error.message });
        return undefined;
      }
    },
    async put(key, value) {
      if (keyProblem) throw keyProblem;
      return storage.put(key, await seal(String(value), keySpec, context(key)));
    },
  };
}
