// Sealing text at rest (the trigger cache's KV value, Durable Object storage): AES-256-GCM through
// WebCrypto, a random 96-bit IV per seal, the key id in the sealed text so a new key can be
// rolled in while the old one still opens what it sealed.
//
// Used by the trigger cache (cache-value.js) and by the Durable Objects' storage
// (sealed-storage.js). No imports: only the globals Node 20 and workerd both have
// (`crypto.subtle`, `TextEncoder`, `atob`, `btoa`), so the same file runs in tests and Workers.
//
// Key spec (the Worker secret TOKEN_ENCRYPTION_KEY): comma-separated `<kid>:<base64 of 32 bytes>`
// entries; the first one seals, every one opens. `kid` is 1–32 of [A-Za-z0-9_-]; base64 standard
// or URL-safe, padding optional. Example: "k2:<new key>,k1:<old key>".
//
// Sealed text: `sealed.v1.<kid>.<iv>.<ciphertext>` — iv (12 bytes) and ciphertext (with GCM's
// 16-byte tag) in unpadded base64url. The additional authenticated data is
// `sealed.v1.<kid>\n<context>`: changing the kid, or opening under another context (e.g. another
// storage key) than the one it was sealed for, fails like tampering.
//
// Errors are `SealedError` with a `code`; their messages never carry key material, plaintext or
// ciphertext (a kid is not secret and may be named).

const PREFIX = "sealed.v1.";
const KID = /^[A-Za-z0-9_-]{1,32}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Why sealing or opening failed. `code`: bad_key_spec, not_sealed, malformed, unknown_kid, refused. */
export class SealedError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "SealedError";
    this.code = code;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function toBase64Url(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Bytes of standard or URL-safe base64 (padding optional), or null. */
function fromBase64(text) {
  const normalized = text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(normalized) || normalized.length % 4 === 1) return null;
  let binary;
  try {
    binary = atob(normalized + "=".repeat((4 - (normalized.length % 4)) % 4));
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The key ids of a key spec, checked, without importing anything: `{ sealWith, kids }`.
 * Throws `SealedError("bad_key_spec")` saying what is wrong (never quoting a key).
 */
export function describeKeySpec(keySpec) {
  const kids = parseKeySpec(keySpec).map((entry) => entry.kid);
  return { sealWith: kids[0], kids };
}

function parseKeySpec(keySpec) {
  const bad = (why) => new SealedError("bad_key_spec", `TOKEN_ENCRYPTION_KEY: ${why}`);
  if (typeof keySpec !== "string" || keySpec.trim() === "") throw bad("is empty");
  const entries = [];
  const parts = keySpec.split(",");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i].trim();
    const n = `entry ${i + 1} of ${parts.length}`;
    const colon = part.indexOf(":");
    if (colon === -1) throw bad(`${n} is not "<key id>:<base64 key>"`);
    const kid = part.slice(0, colon);
    if (!KID.test(kid)) throw bad(`${n}: the key id must be 1-32 of A-Z a-z 0-9 _ -`);
    if (entries.some((e) => e.kid === kid)) throw bad(`${n}: key id "${kid}" appears twice`);
    const bytes = fromBase64(part.slice(colon + 1).trim());
    if (bytes === null) throw bad(`${n} (key id "${kid}"): the key is not base64`);
    if (bytes.length !== KEY_BYTES) {
      throw bad(`${n} (key id "${kid}"): the key must be ${KEY_BYTES} bytes, got ${bytes.length}`);
    }
    entries.push({ kid, bytes });
  }
  return entries;
}

/** Imported keys per spec (a Worker has one or two specs in its life). */
const imported = new Map();
const MAX_SPECS = 4;

/** `{ sealWith, keys: Map<kid, CryptoKey> }` for a spec; imported once. */
function keysFor(keySpec) {
  let keys = imported.get(keySpec);
  if (keys) return keys;
  const entries = parseKeySpec(keySpec);
  keys = Promise.all(
    entries.map(async ({ kid, bytes }) => {
      const key = await crypto.subtle.importKey("raw", bytes, { name: "AES-GCM" }, false, [
        "encrypt",
        "decrypt",
      ]);
      return /** @type {[string, CryptoKey]} */ ([kid, key]);
    }),
  ).then((pairs) => ({ sealWith: entries[0].kid, keys: new Map(pairs) }));
  keys.catch(() => imported.delete(keySpec));
  if (imported.size >= MAX_SPECS) imported.delete(imported.keys().next().value);
  imported.set(keySpec, keys);
  return keys;
}

const aad = (kid, context) => encoder.encode(`${PREFIX}${kid}\n${context}`);

/** Whether `text` looks like sealed text (its shape only; `open` checks the rest). */
export function isSealed(text) {
  return typeof text === "string" && text.startsWith(PREFIX);
}

/**
 * Seals `plaintext` with the spec's first key. `context` (optional) is authenticated, not stored:
 * `open` must be given the same one.
 * @param {string} plaintext
 * @param {string} keySpec
 * @param {string} [context]
 * @returns {Promise<string>}
 */
export async function seal(plaintext, keySpec, context = "") {
  if (typeof plaintext !== "string")
    throw new SealedError("malformed", "seal: the plaintext must be a string");
  const { sealWith, keys } = await keysFor(keySpec);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(sealWith, String(context)), tagLength: TAG_BYTES * 8 },
    keys.get(sealWith),
    encoder.encode(plaintext),
  );
  return `${PREFIX}${sealWith}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ciphertext))}`;
}

/**
 * Opens sealed text with whichever of the spec's keys its kid names.
 * @param {string} sealedText
 * @param {string} keySpec
 * @param {string} [context] the one it was sealed with
 * @returns {Promise<string>}
 */
export async function open(sealedText, keySpec, context = "") {
  const { keys } = await keysFor(keySpec);
  if (!isSealed(sealedText)) throw new SealedError("not_sealed", "open: the value is not sealed");
  const parts = sealedText.slice(PREFIX.length).split(".");
  if (parts.length !== 3 || !KID.test(parts[0]) || !B64URL.test(parts[1]) || !B64URL.test(parts[2])) {
    throw new SealedError("malformed", "open: the sealed value is malformed");
  }
  const [kid, ivText, ciphertextText] = parts;
  const key = keys.get(kid);
  if (!key) {
    throw new SealedError(
      "unknown_kid",
      `open: sealed with key id "${kid}", which TOKEN_ENCRYPTION_KEY does not hold`,
    );
  }
  const iv = fromBase64(ivText);
  const ciphertext = fromBase64(ciphertextText);
  if (iv === null || iv.length !== IV_BYTES || ciphertext === null || ciphertext.length < TAG_BYTES) {
    throw new SealedError("malformed", "open: the sealed value is malformed");
  }
  let plaintext;
  try {
    plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: aad(kid, String(context)), tagLength: TAG_BYTES * 8 },
      key,
      ciphertext,
    );
  } catch {
    throw new SealedError(
      "refused",
      `open: authentication failed under key id "${kid}" (tampered, another context, or another key with this id)`,
    );
  }
  try {
    return decoder.decode(plaintext);
  } catch {
    throw new SealedError("malformed", "open: the sealed value is not UTF-8 text");
  }
}
