// Verifies `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
// Stripe-style. WebCrypto's `verify` compares in constant time.

/** Largest accepted distance between the signature's timestamp and the Worker's clock. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const HEADER = /^t=(\d{1,12}),v1=([0-9a-fA-F]{64})$/;
const encoder = new TextEncoder();

// Importing a key costs more than verifying; keep one per isolate (per secret value).
let cachedKey = { secret: null, key: null };

async function hmacKey(secret) {
  if (cachedKey.secret !== secret) {
    const key = await crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    cachedKey = { secret, key };
  }
  return cachedKey.key;
}

function hexToBytes(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * @param {string | null} header the X-Signature header
 * @param {Uint8Array} body the raw request body
 * @param {string} secret LOGIN_HANDLER_SECRET
 * @param {number} nowSeconds
 * @returns {Promise<{ ok: true } | { ok: false, reason: string }>}
 */
export async function verifySignature(header, body, secret, nowSeconds) {
  if (!header) return { ok: false, reason: "missing X-Signature header" };
  const match = HEADER.exec(header.trim());
  if (!match) return { ok: false, reason: "malformed X-Signature header" };
  const timestamp = Number(match[1]);
  if (Math.abs(nowSeconds - timestamp) > SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, reason: "signature timestamp outside the allowed window" };
  }
  const prefix = encoder.encode(`${match[1]}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix, 0);
  signed.set(body, prefix.length);
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), hexToBytes(match[2]), signed);
  return valid ? { ok: true } : { ok: false, reason: "signature does not match" };
}

/** Signs a body as a client must (used by the demo, tests and benchmarks). */
export async function signBody(body, secret, nowSeconds) {
  const t = String(Math.floor(nowSeconds));
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const prefix = encoder.encode(`${t}.`);
  const signed = new Uint8Array(prefix.length + bytes.length);
  signed.set(prefix, 0);
  signed.set(bytes, prefix.length);
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), signed);
  const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${t},v1=${hex}`;
}
