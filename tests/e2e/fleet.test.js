// The fleet under `wrangler dev`: several processes (isolates with their own KV) bound to one
// token broker. One token request for a cold burst across all of them; one failed request per
// cool-down for a wrong secret; a broker that is gone never fails a login.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

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
