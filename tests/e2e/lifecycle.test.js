// Token lifecycle end to end under `wrangler dev`: single-flight, the isolate memory tier,
// refresh-ahead, the negative cache, the time budget, and the Management API client.

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import {
  CLIENT_SECRET,
  LOGIN_HANDLER_SECRET,
  WorkerProcess,
  freePort,
  loginEvent,
  postLogin,
  startTenant,
  tempPersistDir,
  workerEnv,
} from "../support/stack.js";

const ROLES_CLAIM = "https://example.com/roles";
const workers = [];
const dirs = [];
const transcript = [];
const issued = new Set();
let sim;

async function startWorker(overrides = {}) {
  const persistTo = tempPersistDir();
  dirs.push(persistTo);
  const worker = await WorkerProcess.start({ env: workerEnv(sim, overrides), persistTo });
  workers.push(worker);
  return worker;
}

async function stopWorker(worker) {
  await worker.stop();
  transcript.push(...worker.lines);
}

async function login(worker, userId = "auth0|user-1") {
  const started = performance.now();
  const response = await postLogin(worker, loginEvent(userId));
  transcript.push(response.text);
  return { ...response, ms: performance.now() - started };
}

function resetSim() {
  for (const token of sim.issuedTokens) issued.add(token);
  sim.reset();
}

const count = (logs, event, predicate = () => true) =>
  logs.filter((r) => r.event === event && predicate(r)).length;

before(async () => {
  sim = await startTenant();
});

after(async () => {
  for (const worker of workers) await worker.stop();
  await sim?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("one isolate, many logins", () => {
  let worker;
  before(async () => {
    resetSim();
    worker = await startWorker();
  });
  after(() => stopWorker(worker));

  test("200 concurrent logins on a cold isolate and empty KV make exactly 1 token request", async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => postLogin(worker, loginEvent(`auth0|cold-${i}`))),
    );
    assert.deepEqual(
      responses.filter((r) => r.status !== 200 || r.body.access.denied),
      [],
      "every login succeeds",
    );
    assert.equal(sim.stats.tokenRequests, 1);
    await worker.expectLogs(
      (r) => count(r, "login") >= 200 && count(r, "kv_write") >= 1,
      "200 logins and a kv_write",
    );
    const logs = await worker.logBarrier();
    assert.equal(count(logs, "kv_read"), 1, "concurrent cold logins share one KV read");
    assert.equal(count(logs, "kv_write"), 1, "only the request's leader writes the cache");
  });

  test("hits from isolate memory make no KV reads", async () => {
    const before = (await worker.logBarrier()).length;
    for (let i = 0; i < 30; i++) {
      const response = await login(worker, `auth0|warm-${i}`);
      assert.equal(response.status, 200);
    }
    const logs = (await worker.logBarrier()).slice(before);
    assert.equal(count(logs, "kv_read"), 0);
    assert.equal(
      count(logs, "cache_hit", (r) => r.tier === "memory"),
      30,
    );
    assert.equal(
      count(logs, "login", (r) => r.kv_read === false),
      30,
    );
    assert.equal(sim.stats.tokenRequests, 1);
  });
});

describe("refresh-ahead", () => {
  test("short-lived tokens are refreshed in the background: logins never block after the first", async () => {
    // 40 s tokens: cached until 30 s (10 s safety margin); with a 20 s minimum window the
    // refresh point falls between 20 s and 25 s after issue.
    resetSim();
    sim.setTokenLifetime(40);
    const worker = await startWorker({ TOKEN_REFRESH_MIN_SECONDS: "20" });
    try {
      const durationMs = 62_000;
      const started = Date.now();
      const slow = [];
      let logins = 0;
      while (Date.now() - started < durationMs) {
        const response = await login(worker, `auth0|refresh-${logins}`);
        assert.equal(response.status, 200);
        assert.equal(response.body.access.denied, false);
        if (logins > 0 && response.ms > 1000) slow.push(response.ms);
        logins++;
        await sleep(250);
      }
      // A refresh may still be running: wait until each one started has ended (its token stored,
      // or its failure logged), then for the barrier that follows their lines.
      await worker.expectLogs(
        (r) => count(r, "refresh_started") === count(r, "kv_write") - 1 + count(r, "refresh_failed"),
        "every background refresh ended",
      );
      const logs = await worker.logBarrier();
      const refreshes = count(logs, "refresh_started");
      const inline = count(logs, "cache_miss");
      assert.equal(inline, 1, "only the first login found no token");
      assert.ok(refreshes >= 2, `${refreshes} background refreshes in ${durationMs / 1000} s`);
      assert.equal(sim.stats.tokenRequests, 1 + refreshes, "one request per refresh window crossed");
      assert.equal(
        count(logs, "cache_hit", (r) => r.refresh === "due"),
        refreshes,
      );
      assert.deepEqual(slow, [], "no login waited on a token request");
    } finally {
      await stopWorker(workers.at(-1));
      sim.setTokenLifetime(86_400);
    }
  });
});

describe("failures do not become request storms", () => {
  test("a wrong client secret: 20 logins make at most 2 token requests", async () => {
    resetSim();
    const worker = await startWorker({ CLIENT_SECRET: "wrong-secret-value-0000" });
    try {
      for (let i = 0; i < 20; i++) {
        const response = await login(worker, `auth0|wrong-${i}`);
        assert.equal(response.status, 200);
        assert.equal(response.body.access.denied, false);
      }
      assert.ok(sim.stats.tokenRequests <= 2, `${sim.stats.tokenRequests} token requests`);
      const logs = await worker.expectLogs(
        (r) => count(r, "token_request_suppressed") >= 18 && count(r, "token_error") >= 1,
        "18 suppressed token requests and the token_error",
      );
      const failure = logs.find((r) => r.event === "token_error");
      assert.equal(failure.likely_cause, "wrong CLIENT_ID or CLIENT_SECRET");
    } finally {
      await stopWorker(workers.at(-1));
    }
  });

  test("the tenant unreachable: logins still answer within the budget", async () => {
    resetSim();
    const closed = await freePort();
    const worker = await startWorker({ AUTH0_CUSTOM_DOMAIN: `http://127.0.0.1:${closed}` });
    try {
      const first = await login(worker, "auth0|down-1");
      assert.equal(first.status, 200);
      assert.equal(first.body.access.denied, false);
      assert.ok(first.ms < 6000, `first login took ${first.ms.toFixed(0)} ms`);
      const second = await login(worker, "auth0|down-2");
      assert.ok(second.ms < 1000, `a cooling-down login took ${second.ms.toFixed(0)} ms`);
      const logs = await worker.expectLogs((r) => count(r, "cooldown_started") >= 1, "cooldown_started");
      assert.equal(logs.find((r) => r.event === "cooldown_started").class, "transient");
    } finally {
      await stopWorker(workers.at(-1));
    }
  });

  test("a token endpoint slower than the budget: the login answers within the budget", async () => {
    resetSim();
    sim.setFault({ type: "delay", ms: 9000 });
    const worker = await startWorker();
    try {
      const response = await login(worker, "auth0|slow");
      assert.equal(response.status, 200);
      assert.equal(response.body.access.denied, false);
      assert.ok(response.ms < 6500, `login took ${response.ms.toFixed(0)} ms`);
    } finally {
      sim.clearFault();
      await stopWorker(workers.at(-1));
    }
  });
});

describe("Management API", () => {
  let worker;
  before(async () => {
    resetSim();
    worker = await startWorker({ ROLES_CLAIM });
  });
  after(() => stopWorker(worker));

  test("the roles claim example puts the user's roles on the ID and access tokens", async () => {
    const response = await login(worker, "auth0|user-1");
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.idToken.claims[ROLES_CLAIM], ["admin", "editor"]);
    assert.deepEqual(response.body.accessToken.claims[ROLES_CLAIM], ["admin", "editor"]);
    assert.equal(sim.stats.tokenRequests, 1);
    assert.equal(sim.stats.managementByStatus["200"], 1);
  });

  test("a revoked token is replaced once and the call recovers", async () => {
    sim.revokeTokens();
    const response = await login(worker, "auth0|user-1");
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.idToken.claims[ROLES_CLAIM], ["admin", "editor"]);
    assert.equal(sim.stats.tokenRequests, 2, "exactly one new token");
    assert.equal(sim.stats.managementByStatus["401"], 1);
    await worker.expectLogs((r) => count(r, "token_discarded") >= 1, "token_discarded");
    assert.equal(count(await worker.logBarrier(), "token_discarded"), 1);
  });

  test("an unknown user: the login goes on without the claim and the error is logged", async () => {
    const response = await login(worker, "auth0|nobody");
    assert.equal(response.status, 200);
    assert.equal(response.body.access.denied, false);
    assert.equal(response.body.idToken.claims[ROLES_CLAIM], undefined);
    const logs = await worker.expectLogs((r) => count(r, "roles_claim_failed") >= 1, "roles_claim_failed");
    assert.match(logs.find((r) => r.event === "roles_claim_failed").message, /404/);
  });
});

test("no log line or response of this run contains a secret or an issued token", () => {
  for (const worker of workers) transcript.push(...worker.lines);
  for (const token of sim.issuedTokens) issued.add(token);
  const everything = transcript.join("\n");
  assert.ok(issued.size >= 3, "the run issued tokens to check");
  for (const secret of [CLIENT_SECRET, LOGIN_HANDLER_SECRET]) assert.ok(!everything.includes(secret));
  for (const token of issued) {
    assert.ok(!everything.includes(token), "an issued token leaked");
    assert.ok(!everything.includes(token.split(".")[2]), "a token signature leaked");
  }
});
