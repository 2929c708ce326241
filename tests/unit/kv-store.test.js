import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CACHE_RELOAD, TriggerCache } from "../../js/runtime/cache.js";
import {
  DEFAULT_SYNC_INTERVAL_MS,
  KV_MIN_EXPIRATION_SECONDS,
  KvTriggerCache,
  kvKey,
} from "../../js/runtime/kv-store.js";
import { fakeKv as sharedFakeKv } from "../support/fake-kv.js";

const START = 1_700_000_000_000;
let t = START;
const now = () => t;

beforeEach(() => {
  t = START;
});

const TRIGGER = "post-login";
const KEY = "actions-cache/post-login";

const fakeKv = (initial = {}) => sharedFakeKv({ initial });

/** A fake KV whose `method` rejects. */
const failingKv = (method) => sharedFakeKv({ fail: { [method]: `${method} exploded` } });

/** Captures `log(level, event, fields)` calls. */
function recorder() {
  const entries = [];
  const log = (level, event, fields) => entries.push({ level, event, fields });
  return { log, entries };
}

/** The store behind each cache `load` returned, so `persist` writes through the same one. */
const stores = new WeakMap();

/** A cold isolate's first login: one KV read. */
async function load(kv, log) {
  const store = new KvTriggerCache(TRIGGER, { now, log });
  const { cache } = await store.forLogin(kv);
  stores.set(cache, store);
  return cache;
}

/** Writes `cache` back (through the store that loaded it, or a fresh one holding it). */
function persist(kv, cache, log) {
  let store = stores.get(cache);
  if (!store) {
    store = new KvTriggerCache(TRIGGER, { now, log });
    store.cache = cache;
  }
  store.log = log;
  return store.persist(kv);
}

describe("kvKey", () => {
  test("is one key per trigger", () => {
    assert.equal(kvKey(TRIGGER), KEY);
    assert.equal(kvKey("credentials-exchange"), "actions-cache/credentials-exchange");
  });
});

describe("KvTriggerCache: loading", () => {
  test("reads the trigger's key once, as text", async () => {
    const kv = fakeKv();
    await load(kv, recorder().log);
    assert.deepEqual(kv.calls.get, [[KEY, { type: "text" }]]);
  });

  test("a missing key gives an empty, clean cache and logs only the read", async () => {
    const { log, entries } = recorder();
    const cache = await load(fakeKv(), log);
    assert.ok(cache instanceof TriggerCache);
    assert.deepEqual(cache.entries(), []);
    assert.equal(cache.dirty, false);
    assert.deepEqual(
      entries.map((e) => [e.level, e.event, e.fields.found]),
      [["info", "kv_read", false]],
    );
  });

  test("api.cache's reload re-reads KV however recent the last read, keeping unwritten changes", async () => {
    const kv = fakeKv();
    const { log } = recorder();
    const other = await load(kv, log);
    const cache = await load(kv, log);
    cache.set("mine", "unwritten", { ttl: 60_000 });
    other.set("theirs", "stored elsewhere", { ttl: 60_000 });
    await persist(kv, other, log);

    t += 1000; // well inside the sync interval: a login would not read KV
    const api = cache.api();
    assert.equal(api.get("theirs"), undefined);
    const reads = kv.calls.get.length;
    await api[CACHE_RELOAD]();
    assert.equal(kv.calls.get.length, reads + 1);
    assert.equal(api.get("theirs")?.value, "stored elsewhere");
    assert.equal(api.get("mine")?.value, "unwritten");
    assert.ok(cache.dirty, "the unwritten change is still to be written");
  });

  test("the reload never rejects: a KV fault is logged and the copy kept", async () => {
    const { log, entries } = recorder();
    const store = new KvTriggerCache(TRIGGER, { now, log });
    const { cache } = await store.forLogin(fakeKv());
    cache.set("k", "v", { ttl: 60_000 });
    store.cache.reload = () => store.reload(failingKv("get"));
    await cache.api()[CACHE_RELOAD]();
    assert.equal(cache.get("k")?.value, "v");
    assert.equal(entries.at(-1).event, "kv_read_failed");
  });

  test("the cache it returns uses the given clock", async () => {
    const cache = await load(fakeKv(), recorder().log);
    const { record } = cache.set("k", "v", { ttl: 1000 });
    assert.equal(record.expires_at, START + 1000);
  });

  test("round-trips the records written by persistTriggerCache", async () => {
    const kv = fakeKv();
    const { log } = recorder();
    const first = await load(kv, log);
    first.set("token", "abc", { ttl: 60_000 });
    first.set("é-key", "välue €", { ttl: 120_000 });
    await persist(kv, first, log);

    const second = await load(kv, log);
    assert.equal(second.dirty, false);
    assert.deepEqual(second.get("token"), {
      value: "abc",
      expires_at: START + 60_000,
    });
    assert.deepEqual(second.get("é-key"), {
      value: "välue €",
      expires_at: START + 120_000,
    });
  });

  test("round-trips a '__proto__' key as an ordinary key", async () => {
    const kv = fakeKv();
    const { log } = recorder();
    const first = await load(kv, log);
    first.set("__proto__", "v", { ttl: 60_000 });
    await persist(kv, first, log);
    const second = await load(kv, log);
    assert.equal(second.get("__proto__")?.value, "v");
    assert.equal({}.value, undefined);
  });

  test("records that expired since they were written are not loaded", async () => {
    const kv = fakeKv();
    const { log } = recorder();
    const first = await load(kv, log);
    first.set("short", "a", { ttl: 1000 });
    first.set("long", "b", { ttl: 60_000 });
    await persist(kv, first, log);

    t = START + 1000;
    const second = await load(kv, log);
    assert.deepEqual(
      second.entries().map(([key]) => key),
      ["long"],
    );
  });

  for (const [label, text] of [
    ["corrupt JSON", "{not json"],
    ["a JSON value that is not an object", "null"],
    ["the wrong layout version", JSON.stringify({ v: 2, records: {} })],
    ["no version", JSON.stringify({ records: {} })],
    ["records that are not an object", JSON.stringify({ v: 1, records: "x" })],
    ["null records", JSON.stringify({ v: 1, records: null })],
  ]) {
    test(`${label} → empty cache, warn kv_value_unreadable, marked dirty`, async () => {
      const { log, entries: all } = recorder();
      const cache = await load(fakeKv({ [KEY]: text }), log);
      const entries = all.filter((e) => e.event !== "kv_read");
      assert.deepEqual(cache.entries(), []);
      assert.equal(cache.dirty, true);
      assert.equal(entries.length, 1);
      assert.equal(entries[0].level, "warn");
      assert.equal(entries[0].event, "kv_value_unreadable");
      assert.equal(entries[0].fields.key, KEY);
    });
  }

  test("an unreadable value is replaced by the next persist even when nothing was set", async () => {
    const kv = fakeKv({ [KEY]: "{not json" });
    const { log } = recorder();
    const cache = await load(kv, log);
    await persist(kv, cache, log);
    assert.equal(kv.calls.delete.length, 1);
    assert.equal(kv.store.has(KEY), false);
  });

  test("an unreadable value is overwritten by the next persist after a set", async () => {
    const kv = fakeKv({ [KEY]: "{not json" });
    const { log } = recorder();
    const cache = await load(kv, log);
    cache.set("k", "v", { ttl: 60_000 });
    await persist(kv, cache, log);
    assert.equal(kv.calls.put.length, 1);
    const reloaded = await load(kv, log);
    assert.equal(reloaded.get("k")?.value, "v");
  });

  test("a get that throws → empty cache, error kv_read_failed, no throw", async () => {
    const { log, entries } = recorder();
    const cache = await load(failingKv("get"), log);
    assert.deepEqual(cache.entries(), []);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].level, "error");
    assert.equal(entries[0].event, "kv_read_failed");
    assert.match(entries[0].fields.error, /get exploded/);
  });

  test("a missing binding → empty cache and an error log, no throw", async () => {
    const { log, entries } = recorder();
    const cache = await load(undefined, log);
    assert.ok(cache instanceof TriggerCache);
    assert.deepEqual(cache.entries(), []);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].level, "error");
    assert.equal(entries[0].event, "kv_unavailable");
  });
});

describe("KvTriggerCache: persisting", () => {
  test("does nothing when the cache is not dirty", async () => {
    const kv = fakeKv();
    const cache = new TriggerCache({
      now,
      records: [["k", { value: "v", expires_at: START + 60_000 }]],
    });
    cache.get("k");
    await persist(kv, cache, recorder().log);
    assert.equal(kv.calls.put.length, 0);
    assert.equal(kv.calls.delete.length, 0);
  });

  test("writes the trigger's key with the layout version and the records", async () => {
    const kv = fakeKv();
    const cache = new TriggerCache({ now });
    cache.set("k", "v", { ttl: 60_000 });
    await persist(kv, cache, recorder().log);
    assert.equal(kv.calls.put.length, 1);
    const [key, value] = kv.calls.put[0];
    assert.equal(key, KEY);
    assert.deepEqual(JSON.parse(value), {
      v: 1,
      records: { k: { value: "v", expires_at: START + 60_000 } },
    });
  });

  test("KV expiration is ceil(latest expires_at / 1000)", async () => {
    const kv = fakeKv();
    const cache = new TriggerCache({ now });
    cache.set("a", "v", { ttl: 100_000 });
    cache.set("b", "v", { ttl: 200_500 }); // latest, not a whole second
    cache.set("c", "v", { ttl: 150_000 });
    await persist(kv, cache, recorder().log);
    const [, , options] = kv.calls.put[0];
    assert.deepEqual(options, { expiration: START / 1000 + 201 });
  });

  test("a record living 86,000,000 ms keeps the KV key 86,000 s", async () => {
    const kv = fakeKv();
    const cache = new TriggerCache({ now });
    cache.set("token", "v", { expires_at: START + 86_000_000 });
    await persist(kv, cache, recorder().log);
    assert.equal(kv.calls.put[0][2].expiration, START / 1000 + 86_000);
  });

  test("KV expiration is at least 60 s ahead when records expire sooner", async () => {
    const kv = fakeKv();
    const cache = new TriggerCache({ now });
    cache.set("k", "v", { ttl: 10_000 });
    await persist(kv, cache, recorder().log);
    assert.equal(KV_MIN_EXPIRATION_SECONDS, 60);
    assert.equal(kv.calls.put[0][2].expiration, START / 1000 + 60);
  });

  test("the 60 s floor is taken from the clock at persist time", async () => {
    const kv = fakeKv();
    const cache = new TriggerCache({ now });
    cache.set("k", "v", { ttl: 30_000 });
    t = START + 5_000;
    await persist(kv, cache, recorder().log);
    assert.equal(kv.calls.put[0][2].expiration, START / 1000 + 5 + 60);
  });

  test("records that expired before persist are not written", async () => {
    const kv = fakeKv();
    const cache = new TriggerCache({ now });
    cache.set("short", "a", { ttl: 1000 });
    cache.set("long", "b", { ttl: 120_000 });
    t = START + 1000;
    await persist(kv, cache, recorder().log);
    const written = JSON.parse(kv.calls.put[0][1]);
    assert.deepEqual(Object.keys(written.records), ["long"]);
  });

  test("a dirty cache with no records deletes the key", async () => {
    const kv = fakeKv({ [KEY]: "old" });
    const cache = new TriggerCache({
      now,
      records: [["k", { value: "v", expires_at: START + 60_000 }]],
    });
    cache.delete("k");
    await persist(kv, cache, recorder().log);
    assert.deepEqual(kv.calls.delete, [[KEY]]);
    assert.equal(kv.calls.put.length, 0);
    assert.equal(kv.store.has(KEY), false);
  });

  test("a put that throws → error kv_write_failed, no throw", async () => {
    const { log, entries } = recorder();
    const cache = new TriggerCache({ now });
    cache.set("k", "v");
    await persist(failingKv("put"), cache, log);
    const failure = entries.find((e) => e.event === "kv_write_failed");
    assert.ok(failure, `logged: ${JSON.stringify(entries)}`);
    assert.equal(failure.level, "error");
    assert.equal(failure.fields.key, KEY);
    assert.match(failure.fields.error, /put exploded/);
  });

  test("a delete that throws → error kv_write_failed, no throw", async () => {
    const { log, entries } = recorder();
    const cache = new TriggerCache({ now });
    cache.set("k", "v");
    cache.delete("k");
    await persist(failingKv("delete"), cache, log);
    assert.deepEqual(
      entries.map((e) => `${e.level}:${e.event}`),
      ["error:kv_write_failed"],
    );
  });

  test("a missing binding is a no-op", async () => {
    const { log } = recorder();
    const cache = new TriggerCache({ now });
    cache.set("k", "v");
    await assert.doesNotReject(persist(undefined, cache, log));
  });
});

describe("KvTriggerCache: the isolate's memory tier", () => {
  test("a second login inside the sync interval reads no KV and sees the same records", async () => {
    const kv = fakeKv();
    const store = new KvTriggerCache(TRIGGER, { now, log: recorder().log });
    const first = await store.forLogin(kv);
    assert.equal(first.kvRead, true);
    first.cache.set("token", "abc", { ttl: 3_600_000 });
    t += DEFAULT_SYNC_INTERVAL_MS - 1;
    const second = await store.forLogin(kv);
    assert.equal(second.kvRead, false);
    assert.equal(second.cache.get("token").value, "abc");
    assert.equal(kv.calls.get.length, 1);
    assert.equal(store.counts.reads, 1);
  });

  test("after the sync interval KV is read again and its records replace a clean copy", async () => {
    const kv = fakeKv();
    const store = new KvTriggerCache(TRIGGER, { now, log: recorder().log });
    await store.forLogin(kv);
    kv.store.set(
      KEY,
      JSON.stringify({ v: 1, records: { other: { value: "from-kv", expires_at: START + 3_600_000 } } }),
    );
    t += DEFAULT_SYNC_INTERVAL_MS;
    const { cache, kvRead } = await store.forLogin(kv);
    assert.equal(kvRead, true);
    assert.equal(cache.get("other").value, "from-kv");
    assert.equal(kv.calls.get.length, 2);
  });

  test("a warm copy holding live records is never re-read, however old (memory already has them)", async () => {
    const kv = fakeKv();
    const store = new KvTriggerCache(TRIGGER, { now, log: recorder().log });
    const { cache } = await store.forLogin(kv);
    cache.set("token", "abc", { ttl: 3_600_000 });
    for (let i = 0; i < 10; i++) {
      t += DEFAULT_SYNC_INTERVAL_MS * 5;
      assert.equal((await store.forLogin(kv)).kvRead, false);
    }
    assert.equal(kv.calls.get.length, 1);
  });

  test("a copy that lost a record to expiry is re-read once the sync interval has passed", async () => {
    const kv = fakeKv();
    const store = new KvTriggerCache(TRIGGER, { now, log: recorder().log });
    const { cache } = await store.forLogin(kv);
    cache.set("short", "a", { ttl: 1000 });
    cache.set("long", "b", { ttl: 3_600_000 });
    t += 30_000;
    assert.equal((await store.forLogin(kv)).kvRead, false, "inside the interval");
    t += DEFAULT_SYNC_INTERVAL_MS;
    assert.equal(
      (await store.forLogin(kv)).kvRead,
      true,
      "lost 'short': another isolate may have renewed it",
    );
  });

  test("a change not yet written back survives a sync", async () => {
    const kv = fakeKv();
    const store = new KvTriggerCache(TRIGGER, { now, log: recorder().log, syncIntervalMs: 0 });
    const { cache } = await store.forLogin(kv);
    cache.set("token", "mine", { ttl: 3_600_000 });
    t += 1;
    await store.forLogin(kv);
    assert.equal(cache.get("token").value, "mine");
  });

  test("concurrent logins of a cold isolate share one KV read", async () => {
    const kv = fakeKv();
    const store = new KvTriggerCache(TRIGGER, { now, log: recorder().log });
    const results = await Promise.all(Array.from({ length: 50 }, () => store.forLogin(kv)));
    assert.equal(kv.calls.get.length, 1);
    assert.ok(results.every((r) => r.cache === results[0].cache));
  });

  test("a failed write leaves the cache dirty so the next persist retries", async () => {
    const kv = failingKv("put");
    const store = new KvTriggerCache(TRIGGER, { now, log: recorder().log });
    const { cache } = await store.forLogin(kv);
    cache.set("token", "abc", { ttl: 3_600_000 });
    await store.persist(kv);
    assert.equal(cache.dirty, true);
    kv.fail.put = null;
    await store.persist(kv);
    assert.equal(cache.dirty, false);
    assert.equal(JSON.parse(kv.store.get(KEY)).records.token.value, "abc");
  });

  test("reads and writes are counted and logged", async () => {
    const kv = fakeKv();
    const { log, entries } = recorder();
    const store = new KvTriggerCache(TRIGGER, { now, log });
    const { cache } = await store.forLogin(kv);
    cache.set("token", "abc", { ttl: 3_600_000 });
    await store.persist(kv);
    assert.deepEqual(store.counts, { reads: 1, writes: 1, writer: 0 });
    assert.deepEqual(
      entries.map((e) => e.event),
      ["kv_read", "kv_write"],
    );
  });
});
