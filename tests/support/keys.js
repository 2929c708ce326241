// TOKEN_ENCRYPTION_KEY material for tests: two fixed 32-byte keys and the specs that use them
// (`k1` alone, and `k2` rotated in front of it), as `wrangler secret put` would hold them.

/** A 32-byte key of one repeated byte, base64. */
export const encryptionKey = (fill) => Buffer.alloc(32, fill).toString("base64");
export const K1 = encryptionKey(1);
export const K2 = encryptionKey(2);
/** The spec before a rotation: `k1` seals and opens. */
export const SPEC_OLD = `k1:${K1}`;
/** The spec after it: `k2` seals, both open. */
export const SPEC_ROTATED = `k2:${K2},k1:${K1}`;
