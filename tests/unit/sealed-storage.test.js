import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { sealedStorage } from "../../js/runtime/sealed-storage.js";
import { K1, K2, SPEC_OLD, SPEC_ROTATED } from "../support/keys.js";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtMm0ifQ.c2lnbmF0dXJl";
const RECORDS = JSON.stringify({
  "mgmt-token": { value: JSON.stringify({ access_token: TOKEN }), expires_at: 1 },
});

/** A Durable Object storage of values in a Map, and the log records written over it. */
function fixture() {
  const map = new Map();
  const storage = {
    get: async (k) => map.get(k),
    put: async (k, v) => void map.set(k, v),
  };
  const logs = [];
  const log = (level, event, fields = {}) => logs.push({ level, event, ...fields });
  return { map, storage, logs, log };
}

describe("sealedStorage (the token broker's storage at rest)", () => {
  test("with a key: what reaches storage is sealed, holds no token, and reads back", async () => {
    const { map, storage, log } = fixture();
    const sealed = sealedStorage(storage, SPEC_OLD, "token-broker:a", log);
    await sealed.put("records", RECORDS);
    const stored = map.get("records");
    assert.match(stored, /^sealed\.v1\.k1\./);
    assert.ok(!stored.includes(TOKEN) && !stored.includes("mgmt-token") && !stored.includes(K1));
    assert.equal(await sealed.get("records"), RECORDS);
  });

  test("a rotated key still opens the old value, and the next write seals with the new key", async () => {
    const { map, storage, log } = fixture();
    await sealedStorage(storage, SPEC_OLD, "token-broker:a", log).put("records", RECORDS);
    const rotated = sealedStorage(storage, SPEC_ROTATED, "token-broker:a", log);
    assert.equal(await rotated.get("records"), RECORDS);
    await rotated.put("records", RECORDS);
    assert.match(map.get("records"), /^sealed\.v1\.k2\./);
    // The old key alone can no longer open it: the value is refused, read as nothing stored.
    const { logs, log: oldLog } = fixture();
    assert.equal(await sealedStorage(storage, SPEC_OLD, "token-broker:a", oldLog).get("records"), undefined);
    assert.deepEqual(
      logs.map((r) => [r.event, r.reason]),
      [["storage_value_refused", "sealed value refused (unknown_kid)"]],
    );
  });

  test("a value copied to another object or key is refused (the context is authenticated)", async () => {
    const { map, storage, logs, log } = fixture();
    await sealedStorage(storage, SPEC_OLD, "token-broker:a", log).put("records", RECORDS);
    map.set("other", map.get("records"));
    assert.equal(await sealedStorage(storage, SPEC_OLD, "token-broker:b", log).get("records"), undefined);
    assert.equal(await sealedStorage(storage, SPEC_OLD, "token-broker:a", log).get("other"), undefined);
    assert.deepEqual(
      logs.map((r) => [r.event, r.reason]),
      [
        ["storage_value_refused", "sealed value refused (refused)"],
        ["storage_value_refused", "sealed value refused (refused)"],
      ],
    );
  });

  test("with a key, a plain value is refused (read as nothing stored) and replaced sealed", async () => {
    const { map, storage, logs, log } = fixture();
    map.set("records", RECORDS);
    const sealed = sealedStorage(storage, SPEC_OLD, "token-broker:a", log);
    assert.equal(await sealed.get("records"), undefined);
    assert.equal(logs[0].event, "storage_value_refused");
    assert.match(logs[0].reason, /a plain value while TOKEN_ENCRYPTION_KEY is set/);
    await sealed.put("records", RECORDS);
    assert.match(map.get("records"), /^sealed\.v1\.k1\./);
  });

  test("without a key, values are stored as they are and a sealed value is refused", async () => {
    const { map, storage, logs, log } = fixture();
    const plain = sealedStorage(storage, undefined, "token-broker:a", log);
    await plain.put("records", RECORDS);
    assert.equal(map.get("records"), RECORDS);
    assert.equal(await plain.get("records"), RECORDS);
    await sealedStorage(storage, SPEC_OLD, "token-broker:a", log).put("records", RECORDS);
    assert.equal(await plain.get("records"), undefined);
    assert.match(logs.at(-1).reason, /a sealed value and no TOKEN_ENCRYPTION_KEY/);
  });

  test("an invalid key: logged once, every read and write rejects, nothing is stored, no key material logged", async () => {
    const { map, storage, logs, log } = fixture();
    const badKey = "k1:" + Buffer.alloc(16, 7).toString("base64");
    const sealed = sealedStorage(storage, badKey, "token-broker:a", log);
    await assert.rejects(sealed.put("records", RECORDS), /32 bytes/);
    await assert.rejects(sealed.get("records"), /32 bytes/);
    assert.equal(map.size, 0);
    assert.deepEqual(
      logs.map((r) => r.event),
      ["token_encryption_key_invalid"],
    );
    assert.ok(!JSON.stringify(logs).includes(badKey.slice(3)));
  });
});
