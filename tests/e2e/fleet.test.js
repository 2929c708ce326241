// The fleet under `wrangler dev`: several processes (isolates with their own KV) bound to one
// token broker. One token request for a cold burst across all of them; one request per token
// lifetime under steady load, no login waiting on it; one failed request per cool-down for a
// wrong secret; a broker that hangs or is gone never fails a login.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { startFleet } from "../support/fleet.js";
import { loginEvent, postLogin, startTenant, workerEnv } from "../support/stack.js";

const SIZE = 3;

/** `count` concurrent logins on every worker; returns their statuses and bodies. */
async function burst(workers, count) {
  const logins = workers.flatMap((worker, w) =>
    Array.from({ length: count }, (_, i) => postLogin(worker, loginEvent(`auth0|fleet-${w}-${i}`))),
  );
  return Promise.all(logins);
}

const events = (worker, name) => worker.logs().filter((r) => r.event === name);

describe("a fleet of isolates sharing one token broker", () => {
  let sim;
  let fleet;

  before(async () => {
    sim = await startTenant();
    fleet = await startFleet({ size: SIZE, env: workerEnv(sim) });
  });

  after(async () => {
    await fleet?.stop();
    await sim?.close();
  });

  test(`a cold burst of 20 logins on each of ${SIZE} isolates makes one token request`, async () => {
    const answers = await burst(fleet.workers, 20);
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 200),
    );
    assert.ok(answers.every((a) => a.body.access.denied === false));
    assert.equal(sim.stats.tokenRequests, 1, "one request for the whole fleet");
    // Every isolate got it from the broker (none asked Auth0 itself).
    for (const worker of fleet.workers) {
      await worker.expectLogs((logs) => logs.some((r) => r.event === "broker_token"), "broker_token");
      assert.equal(events(worker, "broker_unavailable").length, 0);
    }
    // Later logins are served from each isolate's memory: still one request.
    await burst(fleet.workers, 5);
    assert.equal(sim.stats.tokenRequests, 1);
  });

  test("with the broker hung, a cold isolate falls back to its own token request within the budget", async () => {
    const before = sim.stats.tokenRequests;
    const cold = await fleet.addMember(); // no login yet: nothing in memory, its own empty KV
    const host = fleet.workers[0];
    // The broker's process (wrangler and workerd) frozen: its sockets still accept connections,
    // nothing answers — a hung Durable Object, not a refused one.
    process.kill(-host.child.pid, "SIGSTOP");
    try {
      const started = Date.now();
      const answer = await postLogin(cold, loginEvent("auth0|broker-hung"));
      const elapsed = Date.now() - started;
      assert.equal(answer.status, 200);
      assert.equal(answer.body.access.denied, false);
      assert.equal(answer.body.error, undefined);
      // The broker's 3 s timeout, then the isolate's own request: well inside Auth0's 20 s.
      assert.ok(elapsed < 20_000, `the login took ${elapsed} ms`);
      assert.equal(sim.stats.tokenRequests, before + 1, "the isolate asked Auth0 itself");
      const logs = await cold.expectLogs(
        (logs) => logs.some((r) => r.event === "broker_unavailable"),
        "broker_unavailable",
      );
      const unavailable = logs.find((r) => r.event === "broker_unavailable");
      assert.equal(unavailable.fallback, "token_endpoint");
      assert.ok(unavailable.duration_ms >= 2_900, `gave up after ${unavailable.duration_ms} ms: a timeout`);
      console.log(
        `broker hung: the cold login took ${elapsed} ms (broker wait ${unavailable.duration_ms} ms)`,
      );
      // Its later logins are served from its memory: no second request, no second wait.
      const warm = await postLogin(cold, loginEvent("auth0|broker-hung-2"));
      assert.equal(warm.status, 200);
      assert.equal(sim.stats.tokenRequests, before + 1);
    } finally {
      process.kill(-host.child.pid, "SIGCONT");
    }
  });

  test("with the broker gone, a cold isolate falls back to its own token request", async () => {
    const before = sim.stats.tokenRequests;
    await fleet.workers[0].stop(); // the broker's host
    const late = await fleet.addMember(); // a cold isolate, its own empty KV
    const answer = await postLogin(late, loginEvent("auth0|after-broker"));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.access.denied, false);
    assert.equal(sim.stats.tokenRequests, before + 1, "the isolate asked Auth0 itself");
    const logs = await late.expectLogs(
      (logs) => logs.some((r) => r.event === "broker_unavailable"),
      "broker_unavailable",
    );
    assert.equal(logs.find((r) => r.event === "broker_unavailable").fallback, "token_endpoint");
    // The isolates that hold a token keep serving without the broker.
    const warm = await postLogin(fleet.workers[1], loginEvent("auth0|warm"));
    assert.equal(warm.status, 200);
    assert.equal(sim.stats.tokenRequests, before + 1);
  });
});

describe("a fleet under steady load over short token lifetimes", () => {
  // 30 s simulator tokens. By src/policy.rs a token issued at t is used until t + 20 s (expiry
  // minus the 10 s minimum safety margin) and its refresh window is the last tenth of that span:
  // the broker refreshes at t + 18 s, each isolate asks at its own point in [t + 18 s, t + 19 s]
  // (t from the token, whole seconds). So one request every ~17-20 s, made when the first login
  // past a point asks the broker: a "lifetime" below is that cycle.
  const LIFETIME_S = 30;
  const CYCLE_MS = 18_000;
  const K = 3;
  let sim;
  let fleet;

  before(async () => {
    sim = await startTenant({ tokenLifetimeSeconds: LIFETIME_S });
    fleet = await startFleet({ size: SIZE, env: workerEnv(sim) });
  });

  after(async () => {
    await fleet?.stop();
    await sim?.close();
  });

  test(`logins every second on each of ${SIZE} isolates over ${K} token lifetimes make ${K} token requests, none waited on`, async () => {
    const latencies = fleet.workers.map(() => []);
    const login = async (w, i) => {
      const started = Date.now();
      const answer = await postLogin(fleet.workers[w], loginEvent(`auth0|steady-${w}-${i}`));
      latencies[w].push(Date.now() - started);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.access.denied, false);
      assert.equal(answer.body.error, undefined);
    };
    // Cold: the first token, for everyone.
    await Promise.all(fleet.workers.map((_, w) => login(w, 0)));
    assert.equal(sim.stats.tokenRequests, 1);
    const start = Date.now();
    // Tokens 2..K come at ~17-20 s intervals, token K+1 not before ~K * 17 s: stop halfway into
    // the K-th token's cycle — later if the K-th request is late on a loaded machine.
    const end = start + (K - 1) * CYCLE_MS + CYCLE_MS / 2;
    await Promise.all(
      fleet.workers.map(async (_, w) => {
        for (let i = 1; Date.now() < end || sim.stats.tokenRequests < K; i++) {
          const tick = Date.now();
          await login(w, i);
          await sleep(Math.max(0, tick + 1000 - Date.now())); // pacing: one login a second
          if (Date.now() > end + CYCLE_MS) break; // the K-th request never came: asserted below
        }
      }),
    );
    const elapsedS = Math.round((Date.now() - start) / 1000);
    // K; K + 1 only when the broker retried a refresh request (a transport error or a 5xx under
    // load counts twice at the simulator). Never one per isolate: that is 3 per cycle (9 here with
    // TOKEN_BROKER_MODE = "off").
    const requests = sim.stats.tokenRequests;
    assert.ok(requests >= K && requests <= K + 1, `${requests} token requests in ${elapsedS} s`);
    await fleet.workers[0].logBarrier();
    const brokerRequests = fleet.workers[0]
      .logs({ broker: true })
      .filter((r) => r.host === "token-broker" && r.event === "token_request");
    assert.equal(brokerRequests.length, requests, "the broker made every request");
    for (const [w, worker] of fleet.workers.entries()) {
      const logs = await worker.logBarrier();
      const seen = (name) => logs.filter((r) => r.event === name);
      // No isolate asked Auth0 itself, and only its cold first login missed: every later login
      // was served a token from memory (a refresh ran in the background, after the response).
      assert.equal(seen("token_request").length, 0, `isolate ${w} requested a token itself`);
      assert.equal(seen("cache_miss").length, 1, `isolate ${w}: logins that waited for a token`);
      assert.equal(seen("broker_unavailable").length, 0);
      const hits = seen("cache_hit");
      assert.ok(hits.length >= latencies[w].length - 1, `isolate ${w}: ${hits.length} cache hits`);
      // It went through every token generation.
      const generations = new Set(hits.map((r) => r.fingerprint)).size;
      assert.ok(generations >= K, `isolate ${w} used ${generations} tokens`);
    }
    const steady = latencies.flatMap((l) => l.slice(1)).sort((a, b) => a - b);
    const at = sim.requests.map((r) => ((r.at - start) / 1000).toFixed(1));
    console.log(
      `steady load: ${requests} token requests in ${elapsedS} s (at ${at.join(", ")} s), ` +
        `${steady.length + SIZE} logins; steady-state latency p50 ${steady[steady.length >> 1]} ms, ` +
        `max ${steady.at(-1)} ms`,
    );
  });
});

describe("a fleet with a wrong client secret", () => {
  let sim;
  let fleet;

  before(async () => {
    sim = await startTenant();
    fleet = await startFleet({ size: SIZE, env: workerEnv(sim, { CLIENT_SECRET: "not-the-secret" }) });
  });

  after(async () => {
    await fleet?.stop();
    await sim?.close();
  });

  test("makes one failed token request per cool-down for the whole fleet; logins continue", async () => {
    for (let round = 0; round < 4; round++) {
      const answers = await burst(fleet.workers, 5);
      assert.ok(answers.every((a) => a.status === 200 && a.body.access.denied === false));
    }
    // The first cool-down after a 401 is 30 s: the whole run fits in it.
    assert.equal(sim.stats.tokenRequests, 1, "one failed request, fleet-wide");
    for (const worker of fleet.workers.slice(1)) {
      await worker.expectLogs(
        (logs) => logs.some((r) => r.event === "broker_cooling_down"),
        "broker_cooling_down",
      );
    }
  });
});
