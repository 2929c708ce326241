import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { MAX_ENTRIES, TriggerCache } from "../../js/runtime/cache.js";
import { checkDelta, checkRecords, mergeDelta } from "../../js/runtime/cache-merge.js";

const NOW = 1_700_000_000_000;
const rec = (value, ttl = 60_000) => ({ value, expires_at: NOW + ttl });

describe("TriggerCache: the delta since the last write-back", () => {
  test("records each changed key once, the latest change, in the order of the latest changes", () => {
    const cache = new TriggerCache({ now: () => NOW, records: [["old", rec("o")]] });
    cache.set("a", "1");
    cache.set("b", "2");
    cache.set("a", "3", { ttl: 1000 });
    cache.delete("old");
    assert.equal(cache.dirty, true);
    const delta = cache.takeDelta();
    assert.deepEqual(delta, {
      changes: [
        ["b", { value: "2", expires_at: NOW + 15 * 60_000 }],
        ["a", { value: "3", expires_at: NOW + 1000 }],
        ["old", null],
      ],
      rewrite: false,
    });
    assert.equal(cache.dirty, false, "taken");
    assert.deepEqual(cache.takeDelta().changes, []);
  });

  test("failed reads, refused sets and a delete of a missing key change nothing", () => {
    const cache = new TriggerCache({ now: () => NOW });
    cache.get("x");
    cache.set("k".repeat(65), "v");
    cache.set("k", "v", { ttl: -1 });
    cache.delete("missing");
    assert.equal(cache.dirty, false);
  });

  test("restoreDelta puts a failed delta back; changes made since win", () => {
    const cache = new TriggerCache({ now: () => NOW });
    cache.set("a", "1");
    cache.set("b", "1");
    const delta = cache.takeDelta();
    cache.set("b", "2");
    cache.restoreDelta(delta);
    assert.deepEqual(
      cache.takeDelta().changes.map(([k, r]) => [k, r.value]),
      [
        ["a", "1"],
        ["b", "2"],
      ],
    );
  });

  test("adopt takes another copy's records and keeps this copy's pending changes over them", () => {
    const cache = new TriggerCache({ now: () => NOW, records: [["gone", rec("g")]] });
    cache.set("mine", "m");
    cache.adopt([
      ["theirs", rec("t")],
      ["mine", rec("stale")],
    ]);
    assert.equal(cache.get("theirs").value, "t");
    assert.equal(cache.get("mine").value, "m");
    assert.equal(cache.get("gone"), undefined);
    assert.deepEqual(
      cache.takeDelta().changes.map(([k]) => k),
      ["mine"],
    );
  });

  test("a pending set that expires before the write-back becomes a delete", () => {
    let now = NOW;
    const cache = new TriggerCache({ now: () => now });
    cache.set("short", "s", { ttl: 1000 });
    now += 1000;
    assert.deepEqual(cache.entries(), []);
    assert.deepEqual(cache.takeDelta().changes, [["short", null]]);
  });

  test("dirty = true asks for a rewrite without changes; dirty = false forgets everything", () => {
    const cache = new TriggerCache({ now: () => NOW });
    cache.dirty = true;
    assert.deepEqual(cache.takeDelta(), { changes: [], rewrite: true });
    cache.set("a", "1");
    cache.dirty = false;
    assert.equal(cache.dirty, false);
  });
});

describe("mergeDelta", () => {
  test("changes of different keys all survive; keys not named are kept", () => {
    const base = [["keep", rec("k")]];
    const fromA = mergeDelta(base, [["a", rec("1")]], NOW);
    const fromB = mergeDelta(fromA.entries, [["b", rec("2")]], NOW);
    assert.deepEqual(Object.fromEntries(fromB.entries), { keep: rec("k"), a: rec("1"), b: rec("2") });
    assert.equal(fromB.changed, true);
  });

  test("the same key: the change merged last wins", () => {
    const first = mergeDelta([], [["k", rec("first")]], NOW);
    const second = mergeDelta(first.entries, [["k", rec("second")]], NOW);
    assert.equal(Object.fromEntries(second.entries).k.value, "second");
  });

  test("a delete removes the key; deleting a missing key is nothing", () => {
    const merged = mergeDelta(
      [
        ["a", rec("1")],
        ["b", rec("2")],
      ],
      [
        ["a", null],
        ["nope", null],
      ],
      NOW,
    );
    assert.deepEqual(
      merged.entries.map(([k]) => k),
      ["b"],
    );
    assert.equal(mergeDelta([["b", rec("2")]], [["nope", null]], NOW).changed, false);
  });

  test("the same records again: not changed (no KV write)", () => {
    const base = [["a", rec("1")]];
    assert.equal(mergeDelta(base, [["a", rec("1")]], NOW).changed, false);
    assert.equal(mergeDelta(base, [], NOW).changed, false);
    assert.equal(mergeDelta(base, [["a", rec("1", 1)]], NOW).changed, true, "another expiry");
  });

  test("expired records are dropped: from the base, and a set that expired on the way deletes its key", () => {
    const merged = mergeDelta(
      [
        ["old", { value: "o", expires_at: NOW }],
        ["k", rec("base")],
      ],
      [["k", { value: "late", expires_at: NOW - 1 }]],
      NOW,
    );
    assert.deepEqual(merged.entries, []);
    assert.deepEqual(merged.rejected, []);
  });

  test("Auth0's limits hold beside the other isolates' records: too many entries → CacheSizeExceeded", () => {
    const base = Array.from({ length: MAX_ENTRIES }, (_, i) => [`k${i}`, rec("v")]);
    const merged = mergeDelta(
      base,
      [
        ["extra", rec("x")],
        ["k0", rec("replaced")],
      ],
      NOW,
    );
    assert.deepEqual(merged.rejected, [{ key: "extra", code: "CacheSizeExceeded" }]);
    assert.equal(merged.entries.length, MAX_ENTRIES);
    assert.equal(Object.fromEntries(merged.entries).k0.value, "replaced");
  });

  test("total bytes beyond 8,192 → refused; the key keeps the record it had", () => {
    const big = "x".repeat(4000);
    const merged = mergeDelta(
      [
        ["a", rec(big)],
        ["b", rec(big)],
        ["c", rec("small")],
      ],
      [["c", rec(big)]],
      NOW,
    );
    assert.deepEqual(merged.rejected, [{ key: "c", code: "CacheSizeExceeded" }]);
    assert.equal(Object.fromEntries(merged.entries).c.value, "small");
  });

  test("a lifetime past 24 h is clamped, as api.cache.set does", () => {
    const merged = mergeDelta([], [["k", { value: "v", expires_at: NOW + 48 * 3_600_000 }]], NOW);
    assert.equal(merged.entries[0][1].expires_at, NOW + 24 * 3_600_000);
  });

  test("a '__proto__' key is an ordinary key", () => {
    const merged = mergeDelta([], [["__proto__", rec("p")]], NOW);
    assert.deepEqual(merged.entries, [["__proto__", rec("p")]]);
  });
});

describe("checkDelta / checkRecords", () => {
  test("accepts a delta and copies only the record fields", () => {
    assert.deepEqual(
      checkDelta({
        changes: [
          ["a", { ...rec("1"), extra: true }],
          ["b", null],
        ],
      }),
      {
        changes: [
          ["a", rec("1")],
          ["b", null],
        ],
        rewrite: false,
      },
    );
  });

  for (const [label, value] of [
    ["not an object", "x"],
    ["no changes", {}],
    ["a change that is not a pair", { changes: [["a"]] }],
    ["a key too long", { changes: [["k".repeat(65), null]] }],
    ["a non-string value", { changes: [["a", { value: 1, expires_at: NOW }]] }],
    ["a fractional expiry", { changes: [["a", { value: "v", expires_at: 1.5 }]] }],
    ["too many changes", { changes: Array.from({ length: 257 }, (_, i) => [`k${i}`, null]) }],
    ["a non-boolean rewrite", { changes: [], rewrite: "yes" }],
  ]) {
    test(`refuses ${label}`, () => {
      assert.throws(() => checkDelta(value), TypeError);
    });
  }

  test("checkRecords refuses deletes and non-arrays", () => {
    assert.throws(() => checkRecords([["a", null]]), TypeError);
    assert.throws(() => checkRecords({}), TypeError);
    assert.deepEqual(checkRecords([["a", rec("1")]]), [["a", rec("1")]]);
  });
});
