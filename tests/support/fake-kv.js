// The one in-memory Workers KV namespace of the tests and the CPU bench: the methods the runtime
// uses (js/runtime/kv-store.js): `get(key, { type })` ("text" or "json"), `put(key, value,
// { expiration, expirationTtl, metadata })` and `delete(key)`. It records every call, can make a
// method throw, and can hold puts pending until released. Expirations are recorded
// (`kv.options`), not enforced: the tests run on fake clocks.

/**
 * @param {object} [options]
 * @param {Record<string, string>} [options.initial] Keys and values it starts with.
 * @param {{ get?: string, put?: string, delete?: string }} [options.fail] Methods that throw an
 *   `Error` with that message (`kv.fail`, changeable later).
 * @param {boolean} [options.holdPuts] Keep each put pending until `releasePuts()`.
 */
export function fakeKv({ initial = {}, fail = {}, holdPuts = false } = {}) {
  /** key → value (a string, as KV stores it). */
  const store = new Map(Object.entries(initial));
  /** key → { expiration?: epoch seconds, metadata? } for the keys put with options. */
  const options = new Map();
  /** Every call's arguments, per method. */
  const calls = { get: [], put: [], delete: [] };
  const failIf = (method) => {
    if (kv.fail[method]) throw new Error(kv.fail[method]);
  };
  const kv = {
    fail: { ...fail },
    store,
    options,
    calls,
    get gets() {
      return calls.get.length;
    },
    get puts() {
      return calls.put.length;
    },
    get deletes() {
      return calls.delete.length;
    },
    /** Lets the puts held so far (`holdPuts`) complete. */
    releasePuts: () => {},
    async get(key, type) {
      calls.get.push([key, type]);
      failIf("get");
      if (!store.has(key)) return null;
      const value = store.get(key);
      return (typeof type === "string" ? type : (type?.type ?? "text")) === "json"
        ? JSON.parse(value)
        : value;
    },
    async put(key, value, putOptions) {
      calls.put.push([key, value, putOptions]);
      failIf("put");
      if (holdPuts) {
        const previous = kv.releasePuts;
        await new Promise((resolve) => (kv.releasePuts = () => (previous(), resolve())));
      }
      store.set(key, String(value));
      const { expiration, expirationTtl, metadata } = putOptions ?? {};
      const at = expirationTtl !== undefined ? Math.floor(Date.now() / 1000) + expirationTtl : expiration;
      if (at !== undefined || metadata !== undefined) options.set(key, { expiration: at, metadata });
      else options.delete(key);
    },
    async delete(key) {
      calls.delete.push([key]);
      failIf("delete");
      store.delete(key);
      options.delete(key);
    },
  };
  return kv;
}
