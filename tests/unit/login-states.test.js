import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { LoginStateCore, storeState, takeState } from "../../js/runtime/login-states.js";
import { STATE_TTL_SECONDS } from "../../js/runtime/suspend.js";
import { fakeKv } from "../support/fake-kv.js";

const NOW = 1_700_000_000_000;
const KEY = "continue-login/abc";
const RECORD = { v: 1, kind: "redirect", action: "a", expires_at: NOW + 1000 };

/** A Durable Object storage in a Map, with its alarm. */
function fakeStorage() {
  const map = new Map();
  return {
    map,
    alarm: null,
    get: async (k) => structuredClone(map.get(k)),
    put: async (k, v) => void map.set(k, structuredClone(v)),
    deleteAll: async () => map.clear(),
    async setAlarm(at) {
      this.alarm = at;
    },
  };
}

const post = (path, body = {}) =>
  new Request(`https://login-state${path}`, { method: "POST", body: JSON.stringify(body) });

/** A LOGIN_STATES binding: one LoginStateCore per name, or `fault` for every call. */
function fakeNamespace({ now = () => NOW, fault } = {}) {
  const objects = new Map();
  const calls = [];
  return {
    calls,
    objects,
    idFromName: (name) => name,
    get: (id) => ({
      async fetch(url, init) {
        calls.push([id, new URL(url).pathname]);
        if (fault) return fault();
        if (!objects.has(id)) objects.set(id, new LoginStateCore({ storage: fakeStorage(), now }));
        return objects.get(id).fetch(new Request(url, init));
      },
    }),
  };
}

function recorder() {
  const entries = [];
  return { entries, log: (level, event, fields) => entries.push({ level, event, ...fields }) };
}

describe("LoginStateCore (one state's object)", () => {
  test("a put record is taken once, then gone", async () => {
    const storage = fakeStorage();
    const core = new LoginStateCore({ storage, now: () => NOW });
    assert.equal((await core.fetch(post("/put", { record: RECORD }))).status, 204);
    assert.equal(storage.alarm, RECORD.expires_at, "deleted by an alarm at its expiry");
    const taken = await core.fetch(post("/take"));
    assert.equal(taken.status, 200);
    assert.deepEqual(await taken.json(), RECORD);
    assert.equal((await core.fetch(post("/take"))).status, 404);
    assert.equal(storage.map.size, 0);
  });

  test("concurrent takes: exactly one gets the record", async () => {
    const core = new LoginStateCore({ storage: fakeStorage(), now: () => NOW });
    await core.fetch(post("/put", { record: RECORD }));
    const statuses = (await Promise.all([1, 2, 3].map(() => core.fetch(post("/take"))))).map((r) => r.status);
    assert.deepEqual(statuses.sort(), [200, 404, 404]);
  });

  test("an expired record is not handed out (and is deleted)", async () => {
    const storage = fakeStorage();
    let t = NOW;
    const core = new LoginStateCore({ storage, now: () => t });
    await core.fetch(post("/put", { record: RECORD }));
    t = RECORD.expires_at;
    assert.equal((await core.fetch(post("/take"))).status, 404);
    assert.equal(storage.map.size, 0);
  });

  test("the alarm deletes the record", async () => {
    const storage = fakeStorage();
    const core = new LoginStateCore({ storage, now: () => NOW });
    await core.fetch(post("/put", { record: RECORD }));
    await core.alarm();
    assert.equal((await core.fetch(post("/take"))).status, 404);
  });

  test("refuses a bad put and other methods or routes", async () => {
    const core = new LoginStateCore({ storage: fakeStorage() });
    assert.equal((await core.fetch(post("/put", { record: { v: 1 } }))).status, 400);
    assert.equal(
      (await core.fetch(new Request("https://login-state/put", { method: "POST", body: "{" }))).status,
      400,
    );
    assert.equal((await core.fetch(new Request("https://login-state/take"))).status, 405);
    assert.equal((await core.fetch(post("/other"))).status, 404);
  });
});

describe("storeState / takeState (the handler's side)", () => {
  const continuation = { key: KEY, record: { v: 1, kind: "redirect", action: "a" } };

  test("bound: the state goes to its object, not KV, stamped with the state's lifetime; taken once", async () => {
    const env = { LOGIN_STATES: fakeNamespace(), ACTIONS_CACHE: fakeKv() };
    const { log, entries } = recorder();
    assert.equal(await storeState(env, continuation, NOW, log), "object");
    assert.equal(env.ACTIONS_CACHE.calls.put.length, 0);
    const record = await takeState(env, KEY, log);
    assert.equal(record.expires_at, NOW + STATE_TTL_SECONDS * 1000);
    assert.equal(record.created_at, NOW);
    assert.equal(await takeState(env, KEY, log), null, "taken once");
    assert.deepEqual(entries, []);
  });

  test("unbound: KV, as before; the take deletes it there", async () => {
    const env = { ACTIONS_CACHE: fakeKv() };
    const { log } = recorder();
    assert.equal(await storeState(env, continuation, NOW, log), "kv");
    assert.equal(env.ACTIONS_CACHE.calls.put.length, 1);
    assert.equal((await takeState(env, KEY, log)).action, "a");
    assert.equal(await takeState(env, KEY, log), null);
  });

  for (const [name, fault] of [
    ["throws", () => Promise.reject(new Error("object exploded"))],
    ["answers 500", () => Promise.resolve(new Response("no", { status: 500 }))],
  ]) {
    test(`an object that ${name}: the state falls back to KV, logged, and is still taken`, async () => {
      const env = { LOGIN_STATES: fakeNamespace({ fault }), ACTIONS_CACHE: fakeKv() };
      const { log, entries } = recorder();
      assert.equal(await storeState(env, continuation, NOW, log), "kv");
      assert.equal((await takeState(env, KEY, log)).action, "a");
      assert.deepEqual(
        entries.map((e) => [e.event, e.op, e.fallback]),
        [
          ["login_state_object_unavailable", "put", "kv"],
          ["login_state_object_unavailable", "take", "kv"],
        ],
      );
    });
  }

  test("a state in neither place is null; a KV read fault with no object throws for the handler's 500", async () => {
    const { log } = recorder();
    assert.equal(await takeState({ LOGIN_STATES: fakeNamespace(), ACTIONS_CACHE: fakeKv() }, KEY, log), null);
    const failing = fakeKv({ fail: { get: "get exploded" } });
    await assert.rejects(takeState({ ACTIONS_CACHE: failing }, KEY, log), /get exploded/);
  });
});
