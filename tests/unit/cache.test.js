import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  CACHE_RELOAD,
  DEFAULT_TTL_MS,
  MAX_LIFETIME_MS,
  TriggerCache,
  utf8Bytes,
} from "../../js/runtime/cache.js";

const START = 1_700_000_000_000;
let t = START;
const now = () => t;

beforeEach(() => {
  t = START;
});

const newCache = (records) => new TriggerCache({ now, records });
const ok = (cache, key, value, options) => {
  const outcome = cache.set(key, value, options);
  assert.equal(outcome.type, "success", `set(${key}) failed: ${outcome.code}`);
  return outcome;
};
const errorCode = (outcome) => {
  assert.equal(outcome.type, "error");
  return outcome.code;
};
const label = (value) => `${String(value)} (${typeof value})`;
/** A cache whose live entries total exactly `bytes` (keys "k0".."kN", values of "v"). */
function fillTo(cache, bytes) {
  const first = 4096 - 2; // "k0" + value = 4096 bytes
  ok(cache, "k0", "v".repeat(first));
  ok(cache, "k1", "v".repeat(bytes - 4096 - 2));
}

describe("utf8Bytes", () => {
  test("counts ASCII and multibyte characters in UTF-8 bytes", () => {
    assert.equal(utf8Bytes("abc"), 3);
    assert.equal(utf8Bytes("é"), 2);
    assert.equal(utf8Bytes("€"), 3);
    assert.equal(utf8Bytes("😀"), 4);
  });
});

describe("get", () => {
  test("returns undefined for a missing key", () => {
    assert.equal(newCache().get("nope"), undefined);
  });

  test("returns { value, expires_at } for a live key", () => {
    const cache = newCache();
    ok(cache, "k", "v", { ttl: 1000 });
    assert.deepEqual(cache.get("k"), { value: "v", expires_at: START + 1000 });
  });

  test("returns a copy: mutating it does not change the cache", () => {
    const cache = newCache();
    ok(cache, "k", "v", { ttl: 1000 });
    const record = cache.get("k");
    record.value = "changed";
    record.expires_at = 0;
    assert.deepEqual(cache.get("k"), { value: "v", expires_at: START + 1000 });
  });

  test("returns the record one millisecond before it expires", () => {
    const cache = newCache();
    ok(cache, "k", "v", { ttl: 1000 });
    t = START + 999;
    assert.equal(cache.get("k")?.value, "v");
  });

  test("never returns a record once the clock reaches expires_at", () => {
    const cache = newCache();
    ok(cache, "k", "v", { ttl: 1000 });
    t = START + 1000;
    assert.equal(cache.get("k"), undefined);
  });
});

describe("set: result and lifetime", () => {
  test("returns { type: 'success', record: { value, expires_at } }", () => {
    const cache = newCache();
    assert.deepEqual(cache.set("k", "v", { ttl: 5000 }), {
      type: "success",
      record: { value: "v", expires_at: START + 5000 },
    });
  });

  test("the returned record is a copy", () => {
    const cache = newCache();
    const { record } = ok(cache, "k", "v", { ttl: 5000 });
    record.value = "changed";
    assert.equal(cache.get("k").value, "v");
  });

  test("ttl is in milliseconds: ttl 86000 expires 86 s later", () => {
    const cache = newCache();
    const { record } = ok(cache, "k", "v", { ttl: 86000 });
    assert.equal(record.expires_at, START + 86_000);
    t = START + 85_999;
    assert.notEqual(cache.get("k"), undefined);
    t = START + 86_000;
    assert.equal(cache.get("k"), undefined);
  });

  test("defaults to 15 minutes when neither ttl nor expires_at is given", () => {
    const cache = newCache();
    assert.equal(DEFAULT_TTL_MS, 15 * 60 * 1000);
    assert.equal(ok(cache, "a", "v").record.expires_at, START + 900_000);
    assert.equal(ok(cache, "b", "v", {}).record.expires_at, START + 900_000);
  });

  test("expires_at alone sets the absolute expiry", () => {
    const cache = newCache();
    const { record } = ok(cache, "k", "v", { expires_at: START + 42_000 });
    assert.equal(record.expires_at, START + 42_000);
  });

  test("the earlier of ttl and expires_at wins (ttl earlier)", () => {
    const cache = newCache();
    const { record } = ok(cache, "k", "v", {
      ttl: 1000,
      expires_at: START + 60_000,
    });
    assert.equal(record.expires_at, START + 1000);
  });

  test("the earlier of ttl and expires_at wins (expires_at earlier)", () => {
    const cache = newCache();
    const { record } = ok(cache, "k", "v", {
      ttl: 60_000,
      expires_at: START + 1000,
    });
    assert.equal(record.expires_at, START + 1000);
  });

  test("ttl is floored to whole milliseconds", () => {
    const cache = newCache();
    assert.equal(ok(cache, "k", "v", { ttl: 1500.9 }).record.expires_at, START + 1500);
  });

  test("lifetime is clamped to 24 h via ttl", () => {
    const cache = newCache();
    const { record } = ok(cache, "k", "v", { ttl: MAX_LIFETIME_MS + 1 });
    assert.equal(MAX_LIFETIME_MS, 24 * 60 * 60 * 1000);
    assert.equal(record.expires_at, START + MAX_LIFETIME_MS);
  });

  test("lifetime is clamped to 24 h via expires_at", () => {
    const cache = newCache();
    const { record } = ok(cache, "k", "v", {
      expires_at: START + 7 * MAX_LIFETIME_MS,
    });
    assert.equal(record.expires_at, START + MAX_LIFETIME_MS);
  });

  test("exactly 24 h is kept as is", () => {
    const cache = newCache();
    const { record } = ok(cache, "k", "v", { ttl: MAX_LIFETIME_MS });
    assert.equal(record.expires_at, START + MAX_LIFETIME_MS);
  });
});

describe("set: invalid expiry", () => {
  for (const ttl of [NaN, Infinity, -Infinity, "1000", null, true, 10n]) {
    test(`ttl ${label(ttl)} → InvalidExpiry`, () => {
      assert.equal(errorCode(newCache().set("k", "v", { ttl })), "InvalidExpiry");
    });
  }

  for (const expiresAt of [NaN, Infinity, "1800000000000", null, {}]) {
    test(`expires_at ${label(expiresAt)} → InvalidExpiry`, () => {
      assert.equal(errorCode(newCache().set("k", "v", { expires_at: expiresAt })), "InvalidExpiry");
    });
  }

  test("an expiry beyond the safe-integer range → InvalidExpiry", () => {
    const cache = newCache();
    assert.equal(errorCode(cache.set("k", "v", { expires_at: 2 ** 53 })), "InvalidExpiry");
    assert.equal(errorCode(cache.set("k", "v", { ttl: 1e300 })), "InvalidExpiry");
  });

  test("an invalid expiry leaves the cache unchanged", () => {
    const cache = newCache();
    cache.set("k", "v", { ttl: NaN });
    assert.equal(cache.get("k"), undefined);
    assert.equal(cache.dirty, false);
  });

  test("ttl 0 → ItemAlreadyExpired", () => {
    assert.equal(errorCode(newCache().set("k", "v", { ttl: 0 })), "ItemAlreadyExpired");
  });

  test("a ttl under 1 ms floors to 0 → ItemAlreadyExpired", () => {
    assert.equal(errorCode(newCache().set("k", "v", { ttl: 0.9 })), "ItemAlreadyExpired");
  });

  test("negative ttl → ItemAlreadyExpired", () => {
    assert.equal(errorCode(newCache().set("k", "v", { ttl: -1000 })), "ItemAlreadyExpired");
  });

  test("expires_at equal to now → ItemAlreadyExpired", () => {
    assert.equal(errorCode(newCache().set("k", "v", { expires_at: START })), "ItemAlreadyExpired");
  });

  test("expires_at in the past → ItemAlreadyExpired", () => {
    assert.equal(errorCode(newCache().set("k", "v", { expires_at: START - 1 })), "ItemAlreadyExpired");
  });

  test("an already-expired item does not replace an existing record", () => {
    const cache = newCache();
    ok(cache, "k", "old", { ttl: 1000 });
    cache.set("k", "new", { ttl: 0 });
    assert.equal(cache.get("k").value, "old");
  });
});

describe("set: size limits", () => {
  test("a 64-byte ASCII key is accepted, 65 bytes → CacheKeySizeExceeded", () => {
    const cache = newCache();
    ok(cache, "k".repeat(64), "v");
    assert.equal(errorCode(cache.set("k".repeat(65), "v")), "CacheKeySizeExceeded");
  });

  test("key size is counted in UTF-8 bytes: 32×'é' (64 bytes) ok, +'a' (65) refused", () => {
    const cache = newCache();
    const key = "é".repeat(32);
    assert.equal(key.length, 32);
    ok(cache, key, "v");
    assert.equal(cache.get(key).value, "v");
    assert.equal(errorCode(cache.set(key + "a", "v")), "CacheKeySizeExceeded");
  });

  test("a 4096-byte value is accepted, 4097 bytes → CacheValueSizeExceeded", () => {
    const cache = newCache();
    ok(cache, "a", "v".repeat(4096));
    assert.equal(errorCode(cache.set("b", "v".repeat(4097))), "CacheValueSizeExceeded");
  });

  test("value size is counted in UTF-8 bytes: 2048×'é' ok, +'a' refused", () => {
    const cache = newCache();
    ok(cache, "a", "é".repeat(2048));
    assert.equal(errorCode(cache.set("b", "é".repeat(2048) + "a")), "CacheValueSizeExceeded");
  });

  test("keys and values may total exactly 8192 bytes", () => {
    const cache = newCache();
    fillTo(cache, 8192);
    assert.equal(cache.entries().length, 2);
  });

  test("8193 bytes in total → CacheSizeExceeded", () => {
    const cache = newCache();
    fillTo(cache, 8192 - 1);
    assert.equal(errorCode(cache.set("x", "y")), "CacheSizeExceeded");
    assert.equal(cache.get("x"), undefined);
  });

  test("the total is counted in UTF-8 bytes", () => {
    const cache = newCache();
    fillTo(cache, 8192 - 1);
    assert.equal(errorCode(cache.set("é", "")), "CacheSizeExceeded");
    ok(cache, "e", "");
  });

  test("replacing a key counts its new size, not the old and new together", () => {
    const cache = newCache();
    fillTo(cache, 8192);
    // "k0" holds 4094 bytes; replacing it with 4094 bytes keeps the total at 8192.
    ok(cache, "k0", "w".repeat(4094));
    assert.equal(cache.get("k0").value, "w".repeat(4094));
    // One byte more is refused.
    assert.equal(errorCode(cache.set("k0", "w".repeat(4095))), "CacheSizeExceeded");
  });

  test("20 entries are accepted, a 21st key → CacheSizeExceeded", () => {
    const cache = newCache();
    for (let i = 0; i < 20; i++) ok(cache, `key${i}`, "v");
    assert.equal(errorCode(cache.set("key20", "v")), "CacheSizeExceeded");
    assert.equal(cache.get("key20"), undefined);
  });

  test("overwriting an existing key at 20 entries works", () => {
    const cache = newCache();
    for (let i = 0; i < 20; i++) ok(cache, `key${i}`, "v");
    ok(cache, "key7", "new");
    assert.equal(cache.get("key7").value, "new");
    assert.equal(cache.entries().length, 20);
  });

  test("the key is checked before the value", () => {
    assert.equal(errorCode(newCache().set("k".repeat(65), "v".repeat(5000))), "CacheKeySizeExceeded");
  });

  test("the key is checked before the expiry", () => {
    assert.equal(errorCode(newCache().set("k".repeat(65), "v", { ttl: NaN })), "CacheKeySizeExceeded");
  });

  test("the value is checked before the total and the expiry", () => {
    const cache = newCache();
    fillTo(cache, 8192);
    assert.equal(errorCode(cache.set("x", "v".repeat(4097), { ttl: -1 })), "CacheValueSizeExceeded");
  });

  test("the total is checked before the expiry", () => {
    const cache = newCache();
    fillTo(cache, 8192);
    assert.equal(errorCode(cache.set("x", "y", { ttl: "bad" })), "CacheSizeExceeded");
    assert.equal(errorCode(cache.set("x", "y", { ttl: 0 })), "CacheSizeExceeded");
  });

  test("expired records do not count toward the total size", () => {
    const cache = newCache();
    ok(cache, "k0", "v".repeat(4094), { ttl: 1000 });
    ok(cache, "k1", "v".repeat(4094), { ttl: 60_000 });
    assert.equal(errorCode(cache.set("x", "y")), "CacheSizeExceeded");
    t = START + 1000;
    ok(cache, "x", "y");
  });

  test("expired records do not count toward the 20 entries", () => {
    const cache = newCache();
    ok(cache, "short", "v", { ttl: 1000 });
    for (let i = 0; i < 19; i++) ok(cache, `key${i}`, "v", { ttl: 60_000 });
    assert.equal(errorCode(cache.set("extra", "v")), "CacheSizeExceeded");
    t = START + 1000;
    ok(cache, "extra", "v");
    assert.equal(cache.entries().length, 20);
  });
});

describe("delete", () => {
  test("deleting an existing key → success, and the key is gone", () => {
    const cache = newCache();
    ok(cache, "k", "v");
    assert.deepEqual(cache.delete("k"), { type: "success" });
    assert.equal(cache.get("k"), undefined);
  });

  test("deleting a missing key → CacheKeyDoesNotExist", () => {
    assert.deepEqual(newCache().delete("nope"), {
      type: "error",
      code: "CacheKeyDoesNotExist",
    });
  });

  test("deleting an expired key → CacheKeyDoesNotExist", () => {
    const cache = newCache();
    ok(cache, "k", "v", { ttl: 1000 });
    t = START + 1000;
    assert.equal(errorCode(cache.delete("k")), "CacheKeyDoesNotExist");
  });
});

describe("argument types", () => {
  for (const bad of [1, null, undefined, {}, Symbol("k")]) {
    const label = typeof bad === "symbol" ? "symbol" : String(bad);
    test(`get/set/delete with a ${label} key throw TypeError`, () => {
      const cache = newCache();
      assert.throws(() => cache.get(bad), TypeError);
      assert.throws(() => cache.set(bad, "v"), TypeError);
      assert.throws(() => cache.delete(bad), TypeError);
    });
  }

  for (const bad of [1, null, undefined, { a: 1 }, ["v"]]) {
    test(`set with a ${JSON.stringify(bad) ?? "undefined"} value throws TypeError`, () => {
      const cache = newCache();
      assert.throws(() => cache.set("k", bad), TypeError);
      assert.equal(cache.get("k"), undefined);
    });
  }
});

describe("dirty flag", () => {
  const liveRecords = () => [["k", { value: "v", expires_at: START + 60_000 }]];

  test("is false after construction from records", () => {
    const cache = newCache(liveRecords());
    assert.equal(cache.dirty, false);
    assert.equal(cache.get("k").value, "v");
  });

  test("stays false after reading a live key or a missing key", () => {
    const cache = newCache(liveRecords());
    cache.get("k");
    cache.get("missing");
    assert.equal(cache.dirty, false);
  });

  test("is true after set", () => {
    const cache = newCache(liveRecords());
    ok(cache, "x", "y");
    assert.equal(cache.dirty, true);
  });

  test("is true after delete", () => {
    const cache = newCache(liveRecords());
    cache.delete("k");
    assert.equal(cache.dirty, true);
  });

  test("stays false after a failed delete or a refused set", () => {
    const cache = newCache(liveRecords());
    cache.delete("missing");
    cache.set("k".repeat(65), "v");
    cache.set("x", "y", { ttl: 0 });
    assert.equal(cache.dirty, false);
  });

  test("stays false when get drops an expired record (KV expires its copy itself), which needs a sync", () => {
    const cache = newCache(liveRecords());
    assert.equal(cache.needsSync(), false);
    t = START + 60_000;
    assert.equal(cache.get("k"), undefined);
    assert.equal(cache.dirty, false);
    assert.equal(cache.needsSync(), true);
  });

  test("an empty cache needs a sync; replace() clears the need", () => {
    const cache = newCache();
    assert.equal(cache.needsSync(), true);
    cache.replace([["k", { value: "v", expires_at: START + 1000 }]]);
    assert.equal(cache.needsSync(), false);
  });
});

describe("constructor", () => {
  test("keeps live records and drops expired and malformed ones", () => {
    const cache = newCache([
      ["live", { value: "v", expires_at: START + 1000 }],
      ["expired", { value: "v", expires_at: START - 1 }],
      ["expiring-now", { value: "v", expires_at: START }],
      ["number-value", { value: 42, expires_at: START + 1000 }],
      ["no-expiry", { value: "v" }],
      ["string-expiry", { value: "v", expires_at: String(START + 1000) }],
      ["fractional-expiry", { value: "v", expires_at: START + 1000.5 }],
      ["null-record", null],
      [7, { value: "v", expires_at: START + 1000 }],
    ]);
    assert.deepEqual(cache.entries(), [["live", { value: "v", expires_at: START + 1000 }]]);
  });

  test("with no options starts empty and not dirty", () => {
    const cache = new TriggerCache();
    assert.deepEqual(cache.entries(), []);
    assert.equal(cache.dirty, false);
  });
});

describe("api()", () => {
  test("exposes exactly get, set and delete", () => {
    const api = newCache().api();
    assert.deepEqual(Object.keys(api).sort(), ["delete", "get", "set"]);
    for (const name of ["get", "set", "delete"]) {
      assert.equal(typeof api[name], "function");
    }
  });

  test("is frozen", () => {
    const api = newCache().api();
    assert.ok(Object.isFrozen(api));
    assert.throws(() => {
      api.get = () => "hijacked";
    }, TypeError);
  });

  test("does not expose the cache's internals", () => {
    const api = newCache().api();
    assert.equal(api.records, undefined);
    assert.equal(api.dirty, undefined);
    assert.equal(api.entries, undefined);
  });

  test("offers the reload only under its symbol, which the Rust Action names the same way", async () => {
    const cache = newCache();
    const api = cache.api();
    assert.deepEqual(Object.getOwnPropertySymbols(api), [CACHE_RELOAD]);
    assert.equal(Object.getOwnPropertyDescriptor(api, CACHE_RELOAD).enumerable, false);
    assert.equal(await api[CACHE_RELOAD](), undefined, "nothing to reload: resolves");
    let reloads = 0;
    cache.reload = async () => void reloads++;
    await api[CACHE_RELOAD]();
    assert.equal(reloads, 1);
    const wasm = await import("../../build/node/index.js");
    assert.equal(CACHE_RELOAD, Symbol.for(wasm.cacheReloadSymbol()));
  });

  test("its methods act on the cache, with the same results", () => {
    const cache = newCache();
    const api = cache.api();
    assert.equal(api.set("k", "v", { ttl: 1000 }).type, "success");
    assert.deepEqual(cache.get("k"), { value: "v", expires_at: START + 1000 });
    assert.deepEqual(api.get("k"), { value: "v", expires_at: START + 1000 });
    assert.deepEqual(api.delete("k"), { type: "success" });
    assert.equal(cache.get("k"), undefined);
  });
});

describe("entries()", () => {
  test("returns only live records", () => {
    const cache = newCache();
    ok(cache, "short", "a", { ttl: 1000 });
    ok(cache, "long", "b", { ttl: 5000 });
    t = START + 1000;
    assert.deepEqual(cache.entries(), [["long", { value: "b", expires_at: START + 5000 }]]);
  });
});
