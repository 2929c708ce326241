// api.transaction.setMetadata: shared data for the later Actions of one transaction.
//
// @auth0/actions post-login v3 (TransactionAPI): "Metadata modified using this method is updated
// in real-time in the `event.transaction.metadata` object"; values are string | number | boolean,
// null removes the key. Limits ("Actions limitations", https://auth0.com/docs/customize/actions/
// limitations): key ≤ 64 characters, value ≤ 8 KB, all metadata ≤ 16 KB; post-login only, not
// persisted after the transaction. The current metadata is kept in the login result
// (`transaction.metadata`), so the events of later Actions — also after a redirect — carry it.

import { byteLength, bounded, requireString, setOwn, typeName } from "./checks.js";

export const MAX_TRANSACTION_KEY_LENGTH = 64;
export const MAX_TRANSACTION_VALUE_BYTES = 8 * 1024;
export const MAX_TRANSACTION_METADATA_BYTES = 16 * 1024;

export function transactionApi(ctx) {
  const { event } = ctx;
  return {
    setMetadata(key, value) {
      const method = "api.transaction.setMetadata";
      requireString(method, "key", key, { max: MAX_TRANSACTION_KEY_LENGTH });
      const type = typeof value;
      if (value !== null && type !== "string" && type !== "boolean" && type !== "number") {
        throw new TypeError(
          `${method}: value must be a string, number, boolean or null, got ${typeName(value)}`,
        );
      }
      if (type === "number" && !Number.isFinite(value))
        throw new TypeError(`${method}: value must be a finite number`);
      if (value !== null && byteLength(JSON.stringify(value)) > MAX_TRANSACTION_VALUE_BYTES) {
        throw new RangeError(
          `${method}: the value of "${bounded(key)}" must not exceed ${MAX_TRANSACTION_VALUE_BYTES} bytes`,
        );
      }
      const next = { ...(ctx.result.transaction?.metadata ?? ctx.input.transaction?.metadata ?? {}) };
      if (value === null) delete next[key];
      else setOwn(next, key, value);
      if (byteLength(JSON.stringify(next)) > MAX_TRANSACTION_METADATA_BYTES) {
        throw new RangeError(
          `${method}: the transaction metadata must not exceed ${MAX_TRANSACTION_METADATA_BYTES} bytes`,
        );
      }
      ctx.section("transaction").metadata = next;
      event.transaction ??= {};
      event.transaction.metadata = { ...next };
    },
  };
}
