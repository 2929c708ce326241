// A Durable Object's storage with its string values sealed at rest when TOKEN_ENCRYPTION_KEY is
// set — what the token broker (src/broker_object.rs) is given instead of the object's own
// storage, so its records (the token) are never stored in plain text.
//
// Only `get(key)` and `put(key, value)` of string values, as the broker uses them. The rules at
// rest are the trigger cache's (js/runtime/cache-value.js: `sealStored`, `openStored`), with the
// object and the storage key as the authenticated context, so a value copied to another object or
// key is refused. What cannot be read is "nothing stored" (the broker then requests a new token,
// once), logged as `storage_value_refused`; an unusable key makes every read and write reject
// (the caller logs it). Log fields name key ids and reasons, never key material or values.

import { hasKey, openStored, sealStored } from "./cache-value.js";
import { describeKeySpec } from "./sealed.js";

/** @typedef {{ get(key: string): Promise<unknown>, put(key: string, value: unknown): Promise<unknown> }} StringStorage */

/**
 * @param {StringStorage} storage the object's storage (`ctx.storage`)
 * @param {string | undefined} keySpec TOKEN_ENCRYPTION_KEY
 * @param {string} owner names the object in the sealing context (e.g. its id)
 * @param {(level: string, event: string, fields?: object) => void} log
 * @returns {StringStorage}
 */
export function sealedStorage(storage, keySpec, owner, log) {
  let keyProblem = null;
  if (hasKey(keySpec)) {
    try {
      describeKeySpec(keySpec);
    } catch (error) {
      keyProblem = error;
      log("error", "token_encryption_key_invalid", {
        message: error.message,
        effect: "the object's storage is neither read nor written",
      });
    }
  }
  const context = (key) => `${owner}\n${key}`;
  return {
    async get(key) {
      if (keyProblem) throw keyProblem;
      const value = await storage.get(key);
      if (value === undefined || value === null) return undefined;
      const opened = await openStored(String(value), keySpec, context(key));
      if (opened.unreadable) {
        log("warn", "storage_value_refused", { key, reason: opened.unreadable });
        return undefined;
      }
      return opened.text;
    },
    async put(key, value) {
      if (keyProblem) throw keyProblem;
      return storage.put(key, await sealStored(String(value), keySpec, context(key)));
    },
  };
}
