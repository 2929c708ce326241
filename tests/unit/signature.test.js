import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SIGNATURE_TOLERANCE_SECONDS, signBody, verifySignature } from "../../js/signature.js";

const SECRET = "test-login-handler-secret";
const NOW_SECONDS = 1_700_000_000;
const BODY = '{"user":{"user_id":"auth0|1"}}';
const bytes = (text) => new TextEncoder().encode(text);

const verify = (header, body = BODY, { secret = SECRET, at = NOW_SECONDS } = {}) =>
  verifySignature(header, bytes(body), secret, at);

function assertRefused(outcome, reasonPattern) {
  assert.equal(outcome.ok, false);
  assert.match(outcome.reason, reasonPattern);
}

describe("signBody", () => {
  test("produces t=<seconds>,v1=<64 lowercase hex>", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS);
    assert.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
  });

  test("floors a fractional timestamp", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS + 0.9);
    assert.ok(header.startsWith(`t=${NOW_SECONDS},`));
  });

  test("signs strings and bytes identically", async () => {
    assert.equal(await signBody(BODY, SECRET, NOW_SECONDS), await signBody(bytes(BODY), SECRET, NOW_SECONDS));
  });

  test("is HMAC-SHA256(secret, '<t>.<body>') in hex", async () => {
    const { createHmac } = await import("node:crypto");
    const expected = createHmac("sha256", SECRET).update(`${NOW_SECONDS}.${BODY}`).digest("hex");
    assert.equal(await signBody(BODY, SECRET, NOW_SECONDS), `t=${NOW_SECONDS},v1=${expected}`);
  });
});

describe("verifySignature", () => {
  test("accepts what signBody produced", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS);
    assert.deepEqual(await verify(header), { ok: true });
  });

  test("round-trips a body with multibyte characters", async () => {
    const body = '{"user":{"user_id":"auth0|1","name":"Zoë 😀"}}';
    const header = await signBody(body, SECRET, NOW_SECONDS);
    assert.deepEqual(await verify(header, body), { ok: true });
  });

  test("accepts uppercase hex", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS);
    const upper = header.replace(/v1=([0-9a-f]+)/, (_m, hex) => `v1=${hex.toUpperCase()}`);
    assert.notEqual(upper, header);
    assert.deepEqual(await verify(upper), { ok: true });
  });

  test("refuses a missing header", async () => {
    assertRefused(await verify(null), /missing/);
    assertRefused(await verify(""), /missing/);
  });

  for (const [label, header] of [
    ["garbage", "not-a-signature"],
    ["no v1", `t=${NOW_SECONDS}`],
    ["no t", `v1=${"a".repeat(64)}`],
    ["swapped order", `v1=${"a".repeat(64)},t=${NOW_SECONDS}`],
    ["a short digest", `t=${NOW_SECONDS},v1=${"a".repeat(63)}`],
    ["a long digest", `t=${NOW_SECONDS},v1=${"a".repeat(65)}`],
    ["non-hex digest", `t=${NOW_SECONDS},v1=${"g".repeat(64)}`],
    ["a non-numeric timestamp", `t=abc,v1=${"a".repeat(64)}`],
    ["a negative timestamp", `t=-1,v1=${"a".repeat(64)}`],
    ["a 13-digit timestamp", `t=1700000000000,v1=${"a".repeat(64)}`],
  ]) {
    test(`refuses a malformed header: ${label}`, async () => {
      assertRefused(await verify(header), /malformed/);
    });
  }

  test("refuses a signature made with another secret", async () => {
    const header = await signBody(BODY, "another-secret", NOW_SECONDS);
    assertRefused(await verify(header), /does not match/);
  });

  test("refuses when one byte of the body changed", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS);
    const changed = BODY.replace("auth0|1", "auth0|2");
    assert.equal(changed.length, BODY.length);
    assertRefused(await verify(header, changed), /does not match/);
  });

  test("refuses when the timestamp in the header was changed", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS);
    const moved = header.replace(`t=${NOW_SECONDS}`, `t=${NOW_SECONDS - 1}`);
    assertRefused(await verify(moved), /does not match/);
  });

  test("the tolerance is 300 s", () => {
    assert.equal(SIGNATURE_TOLERANCE_SECONDS, 300);
  });

  test("accepts a timestamp exactly 300 s old", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS - 300);
    assert.deepEqual(await verify(header), { ok: true });
  });

  test("accepts a timestamp exactly 300 s in the future", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS + 300);
    assert.deepEqual(await verify(header), { ok: true });
  });

  test("refuses a timestamp 301 s old", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS - 301);
    assertRefused(await verify(header), /outside the allowed window/);
  });

  test("refuses a timestamp 301 s in the future", async () => {
    const header = await signBody(BODY, SECRET, NOW_SECONDS + 301);
    assertRefused(await verify(header), /outside the allowed window/);
  });

  test("verifies correctly when different secrets alternate", async () => {
    const a = await signBody(BODY, "secret-a", NOW_SECONDS);
    const b = await signBody(BODY, "secret-b", NOW_SECONDS);
    assert.deepEqual(await verify(a, BODY, { secret: "secret-a" }), { ok: true });
    assert.deepEqual(await verify(b, BODY, { secret: "secret-b" }), { ok: true });
    assertRefused(await verify(a, BODY, { secret: "secret-b" }), /does not match/);
    const [x, y] = await Promise.all([
      verify(a, BODY, { secret: "secret-a" }),
      verify(b, BODY, { secret: "secret-b" }),
    ]);
    assert.deepEqual([x, y], [{ ok: true }, { ok: true }]);
  });
});
