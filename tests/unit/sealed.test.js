import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { describeKeySpec, isSealed, open, seal, SealedError } from "../../js/runtime/sealed.js";
import { K1, K2, SPEC_OLD, SPEC_ROTATED, encryptionKey as key } from "../support/keys.js";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtMm0ifQ.c2lnbmF0dXJl";

/** Rejects with a SealedError of `code` whose message holds none of `secrets`. */
async function refused(promise, code, secrets = []) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof SealedError, `${error}`);
    assert.equal(error.code, code, error.message);
    for (const secret of secrets) assert.ok(!error.message.includes(secret), "no secret in the message");
    return true;
  });
}

describe("sealed.js", () => {
  test("is self-contained: no import at all (the same file runs under Node and workerd)", () => {
    const source = readFileSync(new URL("../../js/runtime/sealed.js", import.meta.url), "utf8");
    assert.doesNotMatch(source, /^\s*import\b|\bimport\s*\(|\brequire\s*\(/m);
  });

  test("round trip; the sealed text holds no plaintext and names the kid", async () => {
    const sealed = await seal(TOKEN, SPEC_OLD, "ctx");
    assert.ok(isSealed(sealed));
    assert.match(sealed, /^sealed\.v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    assert.ok(!sealed.includes(TOKEN) && !sealed.includes("m2m") && !sealed.includes(K1));
    assert.equal(await open(sealed, SPEC_OLD, "ctx"), TOKEN);
  });

  test("a random IV per seal: the same plaintext seals differently", async () => {
    const a = await seal("same", SPEC_OLD);
    const b = await seal("same", SPEC_OLD);
    assert.notEqual(a, b);
    assert.notEqual(a.split(".")[3], b.split(".")[3]);
  });

  test("unicode and empty plaintexts round-trip", async () => {
    for (const text of ["", "välue € 🎉", "x".repeat(20_000)]) {
      assert.equal(await open(await seal(text, SPEC_OLD), SPEC_OLD), text);
    }
  });

  test("rotation: the first key seals, the old one still opens what it sealed", async () => {
    const old = await seal(TOKEN, SPEC_OLD);
    const fresh = await seal(TOKEN, SPEC_ROTATED);
    assert.equal(fresh.split(".")[2], "k2");
    assert.equal(await open(old, SPEC_ROTATED), TOKEN);
    assert.equal(await open(fresh, SPEC_ROTATED), TOKEN);
    // Once k1 is retired, what it sealed is unknown.
    await refused(open(old, `k2:${K2}`), "unknown_kid", [K1, K2, TOKEN]);
  });

  test("tampered ciphertext, IV or kid is refused", async () => {
    const sealed = await seal(TOKEN, SPEC_ROTATED);
    const [p, v, kid, iv, ct] = sealed.split(".");
    const flip = (text, i) => text.slice(0, i) + (text[i] === "A" ? "B" : "A") + text.slice(i + 1);
    await refused(open([p, v, kid, iv, flip(ct, 3)].join("."), SPEC_ROTATED), "refused", [TOKEN, K2]);
    await refused(open([p, v, kid, flip(iv, 2), ct].join("."), SPEC_ROTATED), "refused", [TOKEN, K2]);
    // The kid is authenticated: relabelled as k1 it fails under k1.
    await refused(open([p, v, "k1", iv, ct].join("."), SPEC_ROTATED), "refused", [TOKEN, K1]);
    // Truncated (the tag cut off).
    await refused(open([p, v, kid, iv, ct.slice(0, 10)].join("."), SPEC_ROTATED), "malformed");
  });

  test("another context (another storage key) is refused", async () => {
    const sealed = await seal(TOKEN, SPEC_OLD, "actions-cache/post-login");
    await refused(open(sealed, SPEC_OLD, "actions-cache/other"), "refused");
  });

  test("a wrong key under the right kid is refused", async () => {
    const sealed = await seal(TOKEN, SPEC_OLD);
    await refused(open(sealed, `k1:${key(9)}`), "refused", [TOKEN, key(9)]);
  });

  test("plain or malformed text is refused", async () => {
    await refused(open('{"v":1}', SPEC_OLD), "not_sealed");
    await refused(open("sealed.v1.k1.abc", SPEC_OLD), "malformed");
    await refused(open("sealed.v1.k 1.abc.def", SPEC_OLD), "malformed");
    assert.equal(isSealed('{"v":1}'), false);
    assert.equal(isSealed(null), false);
  });

  describe("key spec", () => {
    test("first entry seals, all open; spaces around entries and URL-safe base64 accepted", () => {
      const urlSafe = Buffer.alloc(32, 0xfb).toString("base64url");
      assert.deepEqual(describeKeySpec(` k3:${urlSafe} , k2:${K2}`), { sealWith: "k3", kids: ["k3", "k2"] });
    });

    for (const [label, spec, why] of [
      ["empty", "", /is empty/],
      ["not a string", undefined, /is empty/],
      ["no kid", K1, /entry 1 of 1 is not/],
      ["a bad kid", `k.1:${K1}`, /key id must be/],
      ["a duplicate kid", `k1:${K1},k1:${K2}`, /appears twice/],
      ["not base64", "k1:!!!notbase64!!!", /not base64/],
      ["16 bytes", `k1:${Buffer.alloc(16, 1).toString("base64")}`, /must be 32 bytes, got 16/],
      ["an empty second entry", `k1:${K1},`, /entry 2 of 2/],
    ]) {
      test(`${label} → bad_key_spec, saying why without the key`, async () => {
        assert.throws(
          () => describeKeySpec(spec),
          (error) => error instanceof SealedError && error.code === "bad_key_spec" && why.test(error.message),
        );
        await refused(seal("x", spec), "bad_key_spec", [K1, K2]);
        await refused(open("sealed.v1.k1.a.b", spec), "bad_key_spec", [K1, K2]);
      });
    }

    test("an error never quotes the key material", () => {
      const secret = "k1:" + Buffer.alloc(31, 7).toString("base64");
      try {
        describeKeySpec(secret);
        assert.fail("accepted");
      } catch (error) {
        assert.ok(!error.message.includes(secret.slice(3)));
      }
    });
  });
});
