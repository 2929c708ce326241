// The trigger cache across a fleet under `wrangler dev`: 3 processes (each its own isolate and
// KV), process 0 hosting the token broker and the cache's single writer (tests/support/fleet.js).
// Concurrent changes of different api.cache keys from different isolates all survive; with
// TOKEN_ENCRYPTION_KEY the KV value is sealed, still read after a key rotation, and rewritten
// under the new key.
//
// Runs on the test Worker tests/support/fleet-worker: the production Worker plus an Action that
// sets and reads the api.cache keys a login names in its query.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { open } from "../../js/runtime/sealed.js";
import { root } from "../../scripts/lib/setup.js";
import { startFleet } from "../support/fleet.js";
import {
  eventually,
  kvGet,
  loginEvent,
  postLogin,
  record,
  startTenant,
  workerEnv,
} from "../support/stack.js";

const CONFIG = join(root, "tests", "support", "fleet-worker", "wrangler.toml");
const KV_KEY = "actions-cache/post-login";
const SIZE = 3;

/** A login on `worker` that sets the keys of `set` and reads the keys of `get` (the probe Action). */
async function probe(worker, userId, { set, get } = {}) {
  const event = loginEvent(userId);
  if (set) event.request.query.cache_set = JSON.stringify(set);
  if (get) event.request.query.cache_get = JSON.stringify(get);
  const answer = await postLogin(worker, event);
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.body.access.denied, false, answer.text);
  const claims = answer.body.idToken.claims;
  if (set) {
    const outcomes = Object.fromEntries(Object.keys(set).map((key) => [key, "success"]));
    assert.deepEqual(claims["https://fleet.test/cache_set"], outcomes);
  }
  return { answer, values: claims["https://fleet.test/cache"] };
}

/** How many times `worker` wrote the trigger cache back (through the writer, or to its KV). */
const writes = (worker) => worker.logs().filter((r) => r.event === "kv_write").length;

/** The raw KV value of the trigger cache in `worker`'s KV, or null. */
async function kvValue(worker) {
  // `wrangler kv key get` ends its output with a newline the value does not have.
  return (await kvGet(worker.persistTo, KV_KEY))?.replace(/\n$/, "") ?? null;
}

/** The records `worker`'s KV holds (plain), or null. */
async function kvRecords(worker) {
  const raw = await kvValue(worker);
  return raw === null ? null : JSON.parse(raw).records;
}

describe("a fleet writing different api.cache keys at once", () => {
  let sim;
  let fleet;

  before(async () => {
    sim = await startTenant();
    fleet = await startFleet({ size: SIZE, env: workerEnv(sim), config: CONFIG });
  });

  after(async () => {
    await fleet?.stop();
    await sim?.close();
  });

  test(`3 keys from each of ${SIZE} isolates, written concurrently, all survive everywhere`, async () => {
    // Warm: every isolate holds the token and has written it (one writer round trip each).
    await Promise.all(fleet.workers.map((worker, w) => probe(worker, `auth0|warm-${w}`)));
    for (const worker of fleet.workers) {
      await worker.expectLogs(() => writes(worker) >= 1, "the token written back");
    }

    const nonce = Date.now().toString(36);
    const expected = {};
    const logins = fleet.workers.flatMap((worker, w) =>
      [0, 1, 2].map((j) => {
        const key = `w${w}-${j}`;
        expected[key] = `${key}-${nonce}`;
        return probe(worker, `auth0|writer-${w}-${j}`, { set: { [key]: expected[key] } });
      }),
    );
    await Promise.all(logins);

    // KV (process 0's, which the writer writes) holds every key, with its value.
    let records = null;
    await eventually(
      async () => {
        records = await kvRecords(fleet.workers[0]);
        return Object.entries(expected).every(([key, value]) => records?.[key]?.value === value);
      },
      { what: "every key in KV", seen: () => JSON.stringify(Object.keys(records ?? {})) },
    );
    assert.ok(records.M2M, "the token's record survived too");

    // Each isolate adopts the merged records with the writer's answer to its next write: after
    // one more write of its own, a login reads every isolate's keys.
    for (const [w, worker] of fleet.workers.entries()) {
      const before = writes(worker);
      await probe(worker, `auth0|ack-${w}`, { set: { [`ack-${w}`]: "1" } });
      await worker.expectLogs(() => writes(worker) > before, `isolate ${w}'s next write`);
      const { values } = await probe(worker, `auth0|reader-${w}`, { get: Object.keys(expected) });
      assert.deepEqual(values, expected, `what isolate ${w} reads`);
    }
    for (const worker of fleet.workers) {
      const logs = worker.logs();
      assert.equal(logs.filter((r) => r.event === "cache_writer_unavailable").length, 0);
      assert.ok(logs.filter((r) => r.event === "kv_write").every((r) => r.via === "writer"));
    }
    assert.equal(sim.stats.tokenRequests, 1);
  });
});

describe("a fleet with TOKEN_ENCRYPTION_KEY", () => {
  const k1 = `k1:${randomBytes(32).toString("base64")}`;
  const k2 = `k2:${randomBytes(32).toString("base64")}`;
  // For the secret-hygiene check (tests/hygiene.test.js): no Worker line may hold them.
  record.secrets([k1, k2, k1.slice(3), k2.slice(3)]);
  let sim;
  let fleet;

  before(async () => {
    sim = await startTenant();
    fleet = await startFleet({
      size: SIZE,
      env: workerEnv(sim, { TOKEN_ENCRYPTION_KEY: k1 }),
      config: CONFIG,
    });
  });

  after(async () => {
    await fleet?.stop();
    await sim?.close();
  });

  /** Asserts `raw` holds none of the issued tokens, nor any of their parts, in plain text. */
  function assertNoPlainToken(raw) {
    assert.ok(sim.issuedTokens.length > 0);
    for (const token of sim.issuedTokens) {
      for (const part of [token, ...token.split(".")])
        assert.ok(!raw.includes(part), "a token in plain text");
    }
    for (const word of ["access_token", "records"]) assert.ok(!raw.includes(word), word);
  }

  test("seals the KV value; after rotating to k2 the k1 record still serves, the next write is sealed with k2", async () => {
    await Promise.all(fleet.workers.map((worker, w) => probe(worker, `auth0|sealed-${w}`)));
    assert.equal(sim.stats.tokenRequests, 1);
    let host = fleet.workers[0];
    let raw = null;
    await eventually(
      async () => {
        raw = await kvValue(host);
        return raw !== null;
      },
      { what: "the KV value" },
    );
    assert.ok(raw.startsWith("sealed.v1.k1."), raw.slice(0, 24));
    assertNoPlainToken(raw);
    // Sealed, not lost: k1 opens it, and it holds the token the fleet got.
    const m2m = JSON.parse(JSON.parse(await open(raw, k1, KV_KEY)).records.M2M.value);
    assert.deepEqual(sim.issuedTokens, [m2m.access_token]);

    // The rotation: k2 seals from now on, k1 still opens.
    await fleet.restart({ env: workerEnv(sim, { TOKEN_ENCRYPTION_KEY: `${k2},${k1}` }) });
    host = fleet.workers[0];
    await probe(host, "auth0|after-rotation");
    const logs = await host.logBarrier();
    const seen = (name) => logs.filter((r) => r.event === name);
    assert.deepEqual(
      seen("kv_read").map((r) => r.found),
      [true],
    );
    assert.equal(seen("kv_value_unreadable").length, 0);
    assert.equal(seen("cache_miss").length, 0, "the k1 record was read");
    assert.deepEqual(
      seen("cache_hit").map((r) => r.tier),
      ["cache"],
    );
    // The members' KV is empty (the writer writes process 0's): their token comes from the
    // broker's storage. Either way, no new request.
    await Promise.all(fleet.workers.slice(1).map((worker, w) => probe(worker, `auth0|rotated-${w}`)));
    assert.equal(sim.stats.tokenRequests, 1, "no new token request after the rotation");

    // A change: the writer rewrites KV, sealed with k2 (k1's kid no longer seals).
    await probe(host, "auth0|rotated-write", { set: { rotated: "yes" } });
    await eventually(
      async () => {
        raw = await kvValue(host);
        return raw?.startsWith("sealed.v1.k2.");
      },
      { what: "the KV value sealed with k2", seen: () => raw?.slice(0, 24) },
    );
    assertNoPlainToken(raw);
    await assert.rejects(open(raw, k1, KV_KEY), /key id "k2"/);
    const records = JSON.parse(await open(raw, `${k2},${k1}`, KV_KEY)).records;
    assert.equal(records.rotated.value, "yes");
    assert.equal(JSON.parse(records.M2M.value).access_token, m2m.access_token);
  });
});
