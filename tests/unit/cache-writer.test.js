// The trigger cache's single writer (js/runtime/cache-writer.js, the core of the
// TriggerCacheWriter Durable Object) and KvTriggerCache's use of it: no lost write across
// isolates, every writer fault falling back to a read-modify-write of KV, and the value sealed
// at rest with TOKEN_ENCRYPTION_KEY.
import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";

import { CacheWriterCore, STATE_KEY, KV_RETRY_MS } from "../../js/runtime/cache-writer.js";
import { KvTriggerCache, WRITER_PAUSE_MS } from "../../js/runtime/kv-store.js";
import { isSealed, open } from "../../js/runtime/sealed.js";
import { fakeKv } from "../support/fake-kv.js";
import { K1, K2 } from "../support/keys.js";

const START = 1_700_000_000_000;
let t = START;
const now = () => t;
beforeEach(() => {
  t = START;
});

const TRIGGER = "post-login";
const KEY = "actions-cache/post-login";
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtMm0tdG9rZW4ifQ.c2lnbmF0dXJl";

function recorder() {
  const entries = [];
  const log = (level, event, fields = {}) => entries.push({ level, event, ...fields });
  log.entries = entries;
  log.events = (name) => entries.filter((e) => e.event === name);
  return log;
}

/** A Durable Object storage: structured clones, like the real one. */
function fakeStorage() {
  const map = new Map();
  return {
    map,
    alarms: [],
    async get(key) {
      return map.has(key) ? structuredClone(map.get(key)) : undefined;
    },
    async put(key, value) {
      map.set(key, structuredClone(value));
    },
    async setAlarm(at) {
      this.alarms.push(at);
    },
  };
}

const stored = (kv) => (kv.store.has(KEY) ? JSON.parse(kv.store.get(KEY)).records : null);
const plainValue = (records) => JSON.stringify({ v: 1, records });
const rec = (value, ttl = 3_600_000) => ({ value, expires_at: START + ttl });

function writer({ kv = fakeKv(), storage = fakeStorage(), keySpec, log = recorder() } = {}) {
  return new CacheWriterCore({ storage, kv, keySpec, log, now });
}

/**
 * An ACTIONS_CACHE_WRITER binding over a core, as the isolates see it: `fault` makes its fetch
 * throw ("throw"), never answer ("hang"), answer 500 ("500"), garbage ("garbage") or a body
 * with bad records ("bad-records").
 */
function binding(core) {
  const b = {
    fault: null,
    calls: 0,
    names: [],
    idFromName(name) {
      b.names.push(name);
      return { name };
    },
    get() {
      return {
        async fetch(url, init) {
          b.calls++;
          if (b.fault === "throw") throw new Error("Network connection lost.");
          if (b.fault === "hang") return new Promise(() => {});
          if (b.fault === "500") return new Response("Internal Server Error", { status: 500 });
          if (b.fault === "garbage") return new Response("<html>");
          if (b.fault === "bad-records") return Response.json({ v: 1, records: [["k", null]] });
          return core.fetch(new Request(url, init));
        },
      };
    },
  };
  return b;
}

/** An isolate: its own KvTriggerCache over the shared KV, in writer mode "on". */
async function isolate(kv, options = {}) {
  const log = options.log ?? recorder();
  const store = new KvTriggerCache(TRIGGER, { now, log, writerMode: "on", writerTimeoutMs: 50, ...options });
  const { cache } = await store.forLogin(kv);
  return { store, cache, log };
}

const delta = (changes, extra = {}) => ({ v: 1, trigger: TRIGGER, changes, ...extra });

describe("CacheWriterCore", () => {
  test("the first delta starts from the KV value; the merged value is written to KV and answered", async () => {
    const kv = fakeKv({ initial: { [KEY]: plainValue({ old: rec("o") }) } });
    const core = writer({ kv });
    const { status, body } = await core.merge(delta([["new", rec("n")]]));
    assert.equal(status, 200);
    assert.deepEqual(body, {
      v: 1,
      records: [
        ["old", rec("o")],
        ["new", rec("n")],
      ],
      rejected: [],
      kv: "written",
    });
    assert.deepEqual(stored(kv), { old: rec("o"), new: rec("n") });
    assert.deepEqual(kv.calls.put[0][2], { expiration: START / 1000 + 3600 });
    assert.equal(kv.gets, 1);
  });

  test("deltas of different keys from different isolates all survive, in KV and in the answers", async () => {
    const kv = fakeKv();
    const core = writer({ kv });
    const answers = await Promise.all(["a", "b", "c"].map((key) => core.merge(delta([[key, rec(key)]]))));
    assert.deepEqual(Object.keys(stored(kv)).sort(), ["a", "b", "c"]);
    assert.deepEqual(
      answers
        .at(-1)
        .body.records.map(([k]) => k)
        .sort(),
      ["a", "b", "c"],
    );
    assert.equal(kv.gets, 1, "KV read once, to initialise");
  });

  test("KV writes are coalesced: at most one in flight, the last one holds every merge", async () => {
    const kv = fakeKv({ holdPuts: true });
    const core = writer({ kv });
    const first = core.merge(delta([["a", rec("a")]]));
    await new Promise((r) => setImmediate(r));
    const second = core.merge(delta([["b", rec("b")]]));
    const third = core.merge(delta([["c", rec("c")]]));
    await new Promise((r) => setImmediate(r));
    assert.equal(kv.puts, 1);
    kv.releasePuts();
    await new Promise((r) => setImmediate(r));
    kv.releasePuts();
    await Promise.all([first, second, third]);
    assert.equal(kv.puts, 2);
    assert.deepEqual(Object.keys(stored(kv)).sort(), ["a", "b", "c"]);
  });

  test("a delta that changes nothing does not write KV", async () => {
    const kv = fakeKv();
    const core = writer({ kv });
    await core.merge(delta([["a", rec("a")]]));
    const { body } = await core.merge(
      delta([
        ["a", rec("a")],
        ["missing", null],
      ]),
    );
    assert.equal(body.kv, "unchanged");
    assert.equal(kv.puts, 1);
  });

  test("the last delete deletes the KV key", async () => {
    const kv = fakeKv({ initial: { [KEY]: plainValue({ a: rec("a") }) } });
    await writer({ kv }).merge(delta([["a", null]]));
    assert.equal(kv.store.has(KEY), false);
    assert.equal(kv.deletes, 1);
  });

  test("the records live in its storage: a recycled object does not read KV again", async () => {
    const kv = fakeKv();
    const storage = fakeStorage();
    await writer({ kv, storage }).merge(delta([["a", rec("a")]]));
    kv.store.set(KEY, plainValue({ stale: rec("s") })); // KV lags (another location's replica)
    const { body } = await writer({ kv, storage }).merge(delta([["b", rec("b")]]));
    assert.deepEqual(
      body.records.map(([k]) => k),
      ["a", "b"],
    );
    assert.equal(kv.gets, 1);
    assert.equal(storage.map.get(STATE_KEY).trigger, TRIGGER);
  });

  test("expired records are dropped and not answered", async () => {
    const kv = fakeKv({ initial: { [KEY]: plainValue({ short: rec("s", 1000), long: rec("l") }) } });
    const core = writer({ kv });
    await core.merge(delta([]));
    t += 1000;
    const { body } = await core.merge(delta([["new", rec("n")]]));
    assert.deepEqual(
      body.records.map(([k]) => k),
      ["long", "new"],
    );
    assert.deepEqual(Object.keys(stored(kv)), ["long", "new"]);
  });

  test("a set that no longer fits beside the others is rejected with Auth0's code", async () => {
    const records = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, rec("v")]));
    const core = writer({ kv: fakeKv({ initial: { [KEY]: plainValue(records) } }) });
    const { body } = await core.merge(delta([["k20", rec("v")]]));
    assert.deepEqual(body.rejected, [{ key: "k20", code: "CacheSizeExceeded" }]);
    assert.equal(body.kv, "unchanged");
  });

  for (const [label, body] of [
    ["another version", { v: 2, trigger: TRIGGER, changes: [] }],
    ["a bad trigger", { v: 1, trigger: "../x", changes: [] }],
    ["bad changes", { v: 1, trigger: TRIGGER, changes: [["k", { value: 1 }]] }],
  ]) {
    test(`refuses ${label} with 400`, async () => {
      const log = recorder();
      const { status } = await writer({ log }).merge(body);
      assert.equal(status, 400);
      assert.equal(log.events("cache_writer_refused").length, 1);
    });
  }

  test("fetch: POST /merge only, JSON only", async () => {
    const core = writer();
    const post = (path, body) => core.fetch(new Request(`https://w${path}`, { method: "POST", body }));
    assert.equal((await post("/other", "{}")).status, 404);
    assert.equal((await post("/merge", "{nope")).status, 400);
    assert.equal((await post("/merge", "x".repeat(70_000))).status, 413);
    const ok = await post("/merge", JSON.stringify(delta([["a", rec("a")]])));
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).kv, "written");
  });

  test("the first KV read failing → 503 (the isolate falls back); the next delta loads again", async () => {
    const kv = fakeKv({ fail: { get: "get exploded" } });
    const core = writer({ kv });
    assert.equal((await core.merge(delta([["a", rec("a")]]))).status, 503);
    kv.fail.get = null;
    assert.equal((await core.merge(delta([["a", rec("a")]]))).status, 200);
  });

  test("a failed KV write is answered kv: failed, kept stale, and the alarm writes it", async () => {
    const kv = fakeKv({ fail: { put: "put exploded" } });
    const storage = fakeStorage();
    const log = recorder();
    const core = writer({ kv, storage, log });
    const { status, body } = await core.merge(delta([["a", rec("a")]]));
    assert.equal(status, 200, "the merge itself is durable in storage");
    assert.equal(body.kv, "failed");
    assert.deepEqual(storage.alarms, [START + KV_RETRY_MS]);
    assert.equal(log.events("kv_write_failed").length, 1);
    kv.fail.put = null;
    await core.alarm();
    assert.deepEqual(stored(kv), { a: rec("a") });
    // A recycled object's alarm too.
    kv.store.clear();
    const recycled = writer({ kv, storage });
    storage.map.get(STATE_KEY).kvStale = true;
    await recycled.alarm();
    assert.deepEqual(stored(kv), { a: rec("a") });
  });
});

describe("CacheWriterCore with TOKEN_ENCRYPTION_KEY", () => {
  test("KV and storage hold sealed values only; no plaintext token anywhere", async () => {
    const kv = fakeKv();
    const storage = fakeStorage();
    const keySpec = `k1:${K1}`;
    await writer({ kv, storage, keySpec }).merge(delta([["M2M", rec(TOKEN)]]));
    const value = kv.store.get(KEY);
    assert.ok(isSealed(value));
    assert.ok(!value.includes(TOKEN) && !value.includes("M2M"));
    const state = JSON.stringify(storage.map.get(STATE_KEY));
    assert.ok(!state.includes(TOKEN) && !state.includes(K1));
    assert.equal(JSON.parse(await open(value, keySpec, KEY)).records.M2M.value, TOKEN);
  });

  test("a plain KV value with a key set is refused: the writer starts empty and rewrites it sealed", async () => {
    const kv = fakeKv({ initial: { [KEY]: plainValue({ planted: rec("x") }) } });
    const log = recorder();
    const { body } = await writer({ kv, keySpec: `k1:${K1}`, log }).merge(delta([]));
    assert.deepEqual(body.records, []);
    assert.equal(log.events("kv_value_unreadable").length, 1);
    assert.equal(kv.store.has(KEY), false, "nothing to store: the planted value is deleted");
  });

  test("rotation: a value sealed with k1 is read under 'k2,k1' and re-sealed with k2 at the next delta", async () => {
    const kv = fakeKv();
    const storage = fakeStorage();
    await writer({ kv, storage, keySpec: `k1:${K1}` }).merge(delta([["a", rec("a")]]));
    assert.equal(kv.store.get(KEY).split(".")[2], "k1");
    const rotated = writer({ kv, storage, keySpec: `k2:${K2},k1:${K1}` });
    const { body } = await rotated.merge(delta([]));
    assert.deepEqual(
      body.records.map(([k]) => k),
      ["a"],
    );
    assert.equal(body.kv, "written", "unchanged records, but stored under the old key");
    assert.equal(kv.store.get(KEY).split(".")[2], "k2");
    assert.equal((await rotated.merge(delta([]))).body.kv, "unchanged");
  });

  test("a bad key spec → 500, nothing written", async () => {
    const kv = fakeKv();
    const log = recorder();
    const { status } = await writer({ kv, keySpec: "k1:short", log }).merge(delta([["a", rec("a")]]));
    assert.equal(status, 500);
    assert.equal(kv.puts, 0);
    assert.equal(log.events("token_encryption_key_invalid").length, 1);
    assert.ok(!JSON.stringify(log.entries).includes("short"));
  });
});

describe("KvTriggerCache through the writer", () => {
  test("three isolates change different keys at the same moment: every key survives", async () => {
    const kv = fakeKv();
    const core = writer({ kv });
    const ACTIONS_CACHE_WRITER = binding(core);
    const isolates = await Promise.all([0, 1, 2].map(() => isolate(kv)));
    isolates.forEach(({ cache }, i) => cache.set(`key-${i}`, `value-${i}`, { ttl: 3_600_000 }));
    await Promise.all(isolates.map(({ store }) => store.persist(kv, ACTIONS_CACHE_WRITER)));
    assert.deepEqual(Object.keys(stored(kv)).sort(), ["key-0", "key-1", "key-2"]);
    assert.deepEqual(ACTIONS_CACHE_WRITER.names, [TRIGGER, TRIGGER, TRIGGER]);
    assert.ok(kv.puts >= 1 && kv.puts <= 3, "the writer writes KV (coalesced); no isolate does");
    assert.equal(kv.gets, 4, "three cold reads and the writer's first: no read-modify-write");
    // The isolate whose delta was merged last adopted the others' keys at once; the next
    // write-back of each isolate brings it every key.
    for (const { cache, store } of isolates) {
      cache.set("touch", "x");
      await store.persist(kv, ACTIONS_CACHE_WRITER);
      for (const i of [0, 1, 2]) assert.equal(cache.get(`key-${i}`)?.value, `value-${i}`);
    }
  });

  test("the same scenario without the writer (mode off) loses writes: what the writer is for", async () => {
    const kv = fakeKv();
    const isolates = await Promise.all([0, 1, 2].map(() => isolate(kv, { writerMode: "off" })));
    isolates.forEach(({ cache }, i) => cache.set(`key-${i}`, "v"));
    await Promise.all(isolates.map(({ store }) => store.persist(kv)));
    assert.equal(Object.keys(stored(kv)).length, 1, "last whole-value write wins");
  });

  test("a delete travels as a delete: other isolates' keys stay", async () => {
    const kv = fakeKv({ initial: { [KEY]: plainValue({ mine: rec("m"), theirs: rec("t") }) } });
    const ACTIONS_CACHE_WRITER = binding(writer({ kv }));
    const { cache, store } = await isolate(kv);
    cache.delete("mine");
    await store.persist(kv, ACTIONS_CACHE_WRITER);
    assert.deepEqual(stored(kv), { theirs: rec("t") });
  });

  for (const fault of ["throw", "hang", "500", "garbage", "bad-records", "unbound"]) {
    test(`writer fault "${fault}": read-modify-write of KV, logged, the change and the others' keys kept`, async () => {
      const kv = fakeKv({ initial: { [KEY]: plainValue({ theirs: rec("t") }) } });
      const b = binding(writer({ kv }));
      b.fault = fault === "unbound" ? null : fault;
      const { cache, store, log } = await isolate(kv);
      cache.set("mine", "m", { ttl: 3_600_000 });
      const started = Date.now();
      await store.persist(kv, fault === "unbound" ? undefined : b);
      assert.ok(Date.now() - started < 1000, "bounded by the writer timeout");
      assert.deepEqual(Object.keys(stored(kv)).sort(), ["mine", "theirs"]);
      const [unavailable] = log.events("cache_writer_unavailable");
      assert.ok(unavailable, `logged: ${JSON.stringify(log.entries)}`);
      assert.equal(unavailable.level, "warn");
      assert.equal(unavailable.fallback, "kv_read_modify_write");
      if (fault === "hang") assert.match(unavailable.reason, /no answer within 50 ms/);
      if (fault === "500") assert.match(unavailable.reason, /answered 500/);
      assert.equal(cache.dirty, false);
      assert.equal(cache.get("theirs").value, "t", "adopted what KV held");
    });
  }

  test("after a fault the writer is skipped for 30 s, then the fallback's changes are sent to it again", async () => {
    const kv = fakeKv();
    const core = writer({ kv });
    const b = binding(core);
    const a = await isolate(kv);
    b.fault = "throw";
    a.cache.set("from-fallback", "f", { ttl: 3_600_000 });
    await a.store.persist(kv, b);
    assert.equal(b.calls, 1);
    a.cache.set("second", "s", { ttl: 3_600_000 });
    await a.store.persist(kv, b);
    assert.equal(b.calls, 1, "paused");
    assert.equal(a.log.events("cache_writer_unavailable").length, 1, "logged at the fault only");

    // The writer is back, and another isolate writes through it: its KV write must not drop the
    // key the fallback wrote.
    b.fault = null;
    t += WRITER_PAUSE_MS;
    const other = await isolate(kv);
    other.cache.set("other", "o", { ttl: 3_600_000 });
    await other.store.persist(kv, b);
    a.cache.set("third", "3", { ttl: 3_600_000 });
    await a.store.persist(kv, b);
    assert.deepEqual(Object.keys(stored(kv)).sort(), ["from-fallback", "other", "second", "third"]);
    assert.equal(a.store.unsynced.size, 0);
  });

  test("a delta that fails entirely (writer and KV down) is kept and written by the next persist", async () => {
    const kv = fakeKv();
    const b = binding(writer({ kv }));
    const { cache, store, log } = await isolate(kv);
    b.fault = "throw";
    kv.fail.get = "get exploded";
    kv.fail.put = "put exploded";
    cache.set("kept", "k", { ttl: 3_600_000 });
    await store.persist(kv, b);
    assert.equal(cache.dirty, true);
    assert.equal(log.events("kv_write_failed").length, 1);
    kv.fail.get = null;
    kv.fail.put = null;
    b.fault = null;
    t += WRITER_PAUSE_MS;
    cache.set("later", "l", { ttl: 3_600_000 });
    await store.persist(kv, b);
    assert.deepEqual(Object.keys(stored(kv)).sort(), ["kept", "later"]);
    assert.equal(cache.dirty, false);
  });

  test("writer down and KV reads failing: the isolate writes its copy whole rather than lose it", async () => {
    const kv = fakeKv();
    const b = binding(writer({ kv }));
    const { cache, store, log } = await isolate(kv);
    b.fault = "throw";
    kv.fail.get = "get exploded";
    cache.set("kept", "k", { ttl: 3_600_000 });
    await store.persist(kv, b);
    assert.equal(cache.dirty, false);
    assert.equal(log.events("kv_merge_read_failed").length, 1);
    kv.fail.get = null;
    assert.deepEqual(Object.keys(stored(kv)), ["kept"]);
  });

  test("persists of one isolate run one at a time; one asked for meanwhile runs right after", async () => {
    const kv = fakeKv();
    const b = binding(writer({ kv }));
    const { cache, store } = await isolate(kv);
    cache.set("a", "1");
    const first = store.persist(kv, b);
    cache.set("b", "2");
    const second = store.persist(kv, b);
    assert.equal(first, second);
    await first;
    assert.equal(b.calls, 2);
    assert.deepEqual(Object.keys(stored(kv)).sort(), ["a", "b"]);
  });
});

describe("KvTriggerCache with TOKEN_ENCRYPTION_KEY", () => {
  for (const mode of ["off", "on"]) {
    test(`writer mode ${mode}: the KV value is sealed, holds no plaintext token, and reads back`, async () => {
      const kv = fakeKv();
      const encryptionKey = `k1:${K1}`;
      const b = mode === "on" ? binding(writer({ kv, keySpec: encryptionKey })) : undefined;
      const first = await isolate(kv, { encryptionKey, writerMode: mode });
      first.cache.set("M2M", JSON.stringify({ access_token: TOKEN }), { ttl: 3_600_000 });
      await first.store.persist(kv, b);
      const value = kv.store.get(KEY);
      assert.ok(isSealed(value), value.slice(0, 40));
      assert.ok(!value.includes(TOKEN) && !value.includes("access_token"));
      const second = await isolate(kv, { encryptionKey, writerMode: mode });
      assert.equal(JSON.parse(second.cache.get("M2M").value).access_token, TOKEN);
    });
  }

  test("a plain value while the key is set is refused (a miss, logged) and replaced sealed", async () => {
    const kv = fakeKv({ initial: { [KEY]: plainValue({ M2M: rec("planted") }) } });
    const { cache, store, log } = await isolate(kv, { encryptionKey: `k1:${K1}` });
    assert.equal(cache.get("M2M"), undefined);
    const [unreadable] = log.events("kv_value_unreadable");
    assert.match(unreadable.reason, /plain value while TOKEN_ENCRYPTION_KEY is set/);
    cache.set("M2M", "fresh", { ttl: 3_600_000 });
    await store.persist(kv, undefined);
    assert.ok(isSealed(kv.store.get(KEY)));
  });

  test("a sealed value read without the key is a miss, logged", async () => {
    const kv = fakeKv();
    const sealer = await isolate(kv, { encryptionKey: `k1:${K1}`, writerMode: "off" });
    sealer.cache.set("M2M", TOKEN);
    await sealer.store.persist(kv);
    const { cache, log } = await isolate(kv, { writerMode: "off" });
    assert.equal(cache.get("M2M"), undefined);
    assert.match(log.events("kv_value_unreadable")[0].reason, /sealed value and no TOKEN_ENCRYPTION_KEY/);
  });

  test("a value sealed under an unknown kid, or tampered, is a miss, logged", async () => {
    const kv = fakeKv();
    const sealer = await isolate(kv, { encryptionKey: `k1:${K1}`, writerMode: "off" });
    sealer.cache.set("M2M", TOKEN);
    await sealer.store.persist(kv);
    const unknown = await isolate(kv, { encryptionKey: `k2:${K2}` });
    assert.equal(unknown.cache.get("M2M"), undefined);
    assert.match(unknown.log.events("kv_value_unreadable")[0].reason, /unknown_kid/);
    const value = kv.store.get(KEY);
    kv.store.set(KEY, value.slice(0, -4) + (value.endsWith("AAAA") ? "BBBB" : "AAAA"));
    const tampered = await isolate(kv, { encryptionKey: `k1:${K1}` });
    assert.equal(tampered.cache.get("M2M"), undefined);
    assert.match(tampered.log.events("kv_value_unreadable")[0].reason, /refused/);
  });

  test("rotation: the old key still reads; the next write seals with the new kid", async () => {
    const kv = fakeKv();
    const old = await isolate(kv, { encryptionKey: `k1:${K1}`, writerMode: "off" });
    old.cache.set("a", "1", { ttl: 3_600_000 });
    await old.store.persist(kv);
    const rotated = await isolate(kv, { encryptionKey: `k2:${K2},k1:${K1}` });
    assert.equal(rotated.cache.get("a").value, "1");
    rotated.cache.set("b", "2", { ttl: 3_600_000 });
    await rotated.store.persist(kv, undefined);
    assert.equal(kv.store.get(KEY).split(".")[2], "k2");
  });

  test("a bad key spec: logged once, the cache acts as empty, nothing is written (never plain text)", async () => {
    const kv = fakeKv({ initial: { [KEY]: plainValue({ a: rec("1") }) } });
    const log = recorder();
    const { cache, store } = await isolate(kv, { encryptionKey: "k1:not-32-bytes", log });
    assert.equal(cache.get("a"), undefined);
    assert.equal(kv.gets, 0);
    cache.set("b", "2");
    await store.persist(kv, undefined);
    await store.persist(kv, undefined);
    assert.equal(kv.puts, 0);
    assert.equal(log.events("token_encryption_key_invalid").length, 1);
    assert.ok(!JSON.stringify(log.entries).includes("not-32-bytes"));
    assert.equal(cache.dirty, true, "kept, for a fixed key");
  });
});
