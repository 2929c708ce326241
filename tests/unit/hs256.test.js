import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { SignJWT, jwtVerify } from "jose";
import { hmacSha256, sha256, signHs256, verifyHs256, InvalidTokenError } from "../../js/runtime/hs256.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const utf8 = (text) => new TextEncoder().encode(text);

describe("sha256 / hmacSha256 against node:crypto", () => {
  test("every length from 0 to 300 bytes (all padding cases)", () => {
    for (let n = 0; n <= 300; n++) {
      const data = randomBytes(n);
      assert.equal(
        hex(sha256(new Uint8Array(data))),
        createHash("sha256").update(data).digest("hex"),
        `length ${n}`,
      );
    }
  });

  test("HMAC with short, 64-byte and long keys", () => {
    for (const keyLength of [0, 1, 32, 63, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      const message = randomBytes(100);
      assert.equal(
        hex(hmacSha256(new Uint8Array(key), new Uint8Array(message))),
        createHmac("sha256", key).update(message).digest("hex"),
        `key length ${keyLength}`,
      );
    }
  });
});

describe("HS256 tokens", () => {
  const secret = "a-shared-secret-of-reasonable-length";

  test("a token signed here verifies with jose", async () => {
    const token = signHs256({ sub: "auth0|1", exp: Math.floor(Date.now() / 1000) + 60, n: "ü" }, secret);
    const { payload, protectedHeader } = await jwtVerify(token, utf8(secret), { algorithms: ["HS256"] });
    assert.equal(protectedHeader.alg, "HS256");
    assert.equal(payload.sub, "auth0|1");
    assert.equal(payload.n, "ü");
  });

  test("a token signed by jose verifies here", async () => {
    const token = await new SignJWT({ state: "abc", color: "blue" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1m")
      .sign(utf8(secret));
    assert.equal(verifyHs256(token, secret).color, "blue");
  });

  test("a wrong secret, a changed payload or a changed signature is refused", () => {
    const token = signHs256({ a: 1 }, secret);
    assert.throws(() => verifyHs256(token, "another secret"), InvalidTokenError);
    const [h, , s] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ a: 2 })).toString("base64url");
    assert.throws(() => verifyHs256(`${h}.${forged}.${s}`, secret), InvalidTokenError);
    assert.throws(() => verifyHs256(`${token.slice(0, -2)}AA`, secret), InvalidTokenError);
  });

  test('alg "none" and other algorithms are refused', async () => {
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from("{}").toString("base64url")}.`;
    assert.throws(() => verifyHs256(none, secret), /HS256/);
    const hs512 = await new SignJWT({}).setProtectedHeader({ alg: "HS512" }).sign(utf8(secret.repeat(2)));
    assert.throws(() => verifyHs256(hs512, secret.repeat(2)), /HS256/);
  });

  for (const bad of ["", "a.b", "a.b.c.d", "!!.??.**", 42, null]) {
    test(`malformed token ${JSON.stringify(bad)} is refused`, () => {
      assert.throws(() => verifyHs256(bad, secret), InvalidTokenError);
    });
  }
});
