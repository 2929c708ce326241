// End to end under `wrangler dev`: the login handler, the Actions runtime, the Rust wasm Action,
// local Workers KV and the Auth0 tenant simulator, all real, on loopback.

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import { signBody } from "../../js/signature.js";
import {
  freePort,
  CLIENT_ID,
  CLIENT_SECRET,
  LOGIN_HANDLER_SECRET,
  WorkerProcess,
  eventually,
  kvGet,
  kvList,
  loginEvent,
  postLogin,
  startTenant,
  tempPersistDir,
  workerEnv,
} from "../support/stack.js";

const CACHE_KEY = "actions-cache/post-login";
const SECOND_CLIENT = { clientId: "rotated-client", clientSecret: "rotated-client-secret-9f8e7d" };
const SECOND_AUDIENCE = "https://reporting.example/api/";

/** Everything printed or answered during the run, checked for leaks at the end. */
const transcript = { lines: [], bodies: [] };
const workers = [];
const dirs = [];

async function startWorker(sim, persistTo, overrides) {
  const worker = await WorkerProcess.start({ env: workerEnv(sim, overrides), persistTo });
  workers.push(worker);
  return worker;
}

async function stopWorker(worker) {
  await worker.stop();
  transcript.lines.push(...worker.lines);
}

async function login(worker, event, options) {
  const response = await postLogin(worker, event, options);
  transcript.bodies.push(response.text);
  return response;
}

/** The M2M record the Action stored, parsed, or null. */
async function storedToken(persistTo) {
  const raw = await kvGet(persistTo, CACHE_KEY);
  if (raw === null) return null;
  const record = JSON.parse(raw).records.M2M;
  return record ? { ...record, token: JSON.parse(record.value) } : null;
}

const count = (logs, event) => logs.filter((r) => r.event === event).length;

/** Waits for the waitUntil KV write of the worker's first login to land (it is logged after). */
function settled(worker) {
  return worker.expectLogs((records) => records.some((r) => r.event === "kv_write"), "the login's kv_write");
}

/** Waits until the M2M record in KV satisfies `predicate`; fails with the identity it saw. */
function storedTokenWhere(persistTo, predicate, what) {
  return eventually(
    async () => {
      const stored = await storedToken(persistTo);
      return stored && predicate(stored) ? stored : null;
    },
    {
      what,
      seen: async () => {
        const stored = await storedToken(persistTo);
        return stored
          ? `client_id ${stored.token.client_id}, audience ${stored.token.audience}`
          : "no M2M record";
      },
    },
  );
}

let sim;
/** Every token the simulator issued in this run (its own list is cleared by reset). */
const issuedTokens = new Set();
function resetSim() {
  for (const token of sim.issuedTokens) issuedTokens.add(token);
  sim.reset();
}

before(async () => {
  const port = await freePort();
  const managementApi = `http://127.0.0.1:${port}/api/v2/`;
  sim = await startTenant({
    port,
    clients: [
      { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, audiences: [managementApi, SECOND_AUDIENCE] },
      {
        clientId: SECOND_CLIENT.clientId,
        clientSecret: SECOND_CLIENT.clientSecret,
        audiences: [managementApi],
      },
    ],
  });
});

after(async () => {
  for (const worker of workers) await worker.stop();
  await sim?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("token caching across logins and restarts", () => {
  const persistTo = tempPersistDir();
  dirs.push(persistTo);
  let worker;
  let firstToken;

  before(async () => {
    resetSim();
    worker = await startWorker(sim, persistTo);
  });

  test("the first login makes one token request and logs a miss", async () => {
    const response = await login(worker, loginEvent("auth0|first"));
    assert.equal(response.status, 200);
    assert.equal(response.body.access.denied, false);
    assert.equal(sim.stats.tokenRequests, 1);
    const logs = await settled(worker);
    const events = logs.map((r) => r.event);
    assert.ok(events.includes("cache_miss"), events.join(","));
    // The isolate got it from the token broker (bound by default), which made the request.
    assert.ok(events.includes("broker_token"), events.join(","));
    const brokered = worker.logs({ broker: true }).filter((r) => r.host === "token-broker");
    assert.ok(
      brokered.some((r) => r.event === "token_request"),
      "the broker made the request",
    );
    assert.ok(events.includes("cache_write"));
    firstToken = sim.issuedTokens[0];
  });

  test("KV keeps an 86,400 s token for 86,000 s", async () => {
    const now = Math.floor(Date.now() / 1000);
    const [entry] = await kvList(persistTo);
    assert.equal(entry.name, CACHE_KEY);
    assert.ok(
      Math.abs(entry.expiration - (now + 86_000)) <= 5,
      `expiration ${entry.expiration - now} s ahead`,
    );
    const stored = await storedToken(persistTo);
    assert.equal(stored.token.access_token, firstToken);
    assert.equal(stored.expires_at, stored.token.use_until);
  });

  test("50 more logins make no token request", async () => {
    for (let i = 0; i < 50; i++) {
      const response = await login(worker, loginEvent(`auth0|user-${i}`));
      assert.equal(response.status, 200);
      assert.equal(response.body.access.denied, false);
    }
    assert.equal(sim.stats.tokenRequests, 1);
    await worker.expectLogs((r) => count(r, "cache_hit") >= 50, "50 cache_hit records");
    // Nothing more after them: the barrier's lines come after every line of those logins.
    assert.equal(count(await worker.logBarrier(), "cache_hit"), 50);
  });

  test("a restart on the same persisted KV makes no token request", async () => {
    await stopWorker(worker);
    worker = await startWorker(sim, persistTo);
    const response = await login(worker, loginEvent("auth0|after-restart"));
    assert.equal(response.status, 200);
    assert.equal(sim.stats.tokenRequests, 1);
    await worker.expectLogs((r) => r.some((x) => x.event === "cache_hit"), "a cache_hit after the restart");
  });

  test("changing CLIENT_ID never serves the old token", async () => {
    await stopWorker(worker);
    worker = await startWorker(sim, persistTo, {
      CLIENT_ID: SECOND_CLIENT.clientId,
      CLIENT_SECRET: SECOND_CLIENT.clientSecret,
    });
    const response = await login(worker, loginEvent("auth0|rotated"));
    assert.equal(response.status, 200);
    assert.equal(sim.stats.tokenRequests, 2);
    assert.equal(sim.stats.byClient[SECOND_CLIENT.clientId], 1);
    await worker.expectLogs(
      (r) => r.some((x) => x.event === "cache_miss" && x.reason === "other_identity"),
      "a cache_miss for the other identity",
    );
    await settled(worker);
    const stored = await storedTokenWhere(
      persistTo,
      (record) => record.token.client_id === SECOND_CLIENT.clientId,
      "the second client's token in KV",
    );
    assert.notEqual(stored.token.access_token, firstToken);
  });

  test("changing ACCOUNT_API never serves the old token", async () => {
    await stopWorker(worker);
    worker = await startWorker(sim, persistTo, { ACCOUNT_API: SECOND_AUDIENCE });
    const before = sim.stats.tokenRequests;
    const response = await login(worker, loginEvent("auth0|other-audience"));
    assert.equal(response.status, 200);
    assert.equal(sim.stats.tokenRequests, before + 1);
    assert.equal(sim.requests.at(-1).body.audience, SECOND_AUDIENCE);
    await worker.expectLogs(
      (r) => r.some((x) => x.event === "cache_miss" && x.reason === "other_identity"),
      "a cache_miss for the other identity",
    );
    await settled(worker);
    await storedTokenWhere(
      persistTo,
      (record) => record.token.audience === SECOND_AUDIENCE,
      "the second audience's token in KV",
    );
    await stopWorker(worker);
  });
});

describe("short-lived tokens", () => {
  test("a 600 s token is kept in KV until 60 s before it expires, never past it", async () => {
    resetSim();
    sim.setTokenLifetime(600);
    const persistTo = tempPersistDir();
    dirs.push(persistTo);
    const worker = await startWorker(sim, persistTo);
    const response = await login(worker, loginEvent("auth0|short"));
    assert.equal(response.status, 200);
    await settled(worker);
    const now = Math.floor(Date.now() / 1000);
    const [entry] = await kvList(persistTo);
    assert.ok(Math.abs(entry.expiration - (now + 540)) <= 5, `expiration ${entry.expiration - now} s ahead`);
    const stored = await storedToken(persistTo);
    assert.ok(stored.token.use_until < stored.token.expires_at);
    await stopWorker(worker);
    resetSim();
  });
});

const FAULTS = [
  { name: "401 wrong secret", fault: { status: 401 }, error: "token_endpoint", requests: [1, 1] },
  {
    name: "403 missing client grant",
    fault: {
      status: 403,
      body: { error: "access_denied", error_description: 'Client is not authorized to access "x".' },
    },
    error: "token_endpoint",
    requests: [1, 1],
  },
  // The reset is beyond the 5 s budget: no retry.
  {
    name: "429 rate limited",
    fault: { type: "rate_limit", resetInSeconds: 30 },
    error: "token_endpoint",
    requests: [1, 1],
  },
  // Retried with backoff inside the budget (at most 4 attempts).
  { name: "500 server error", fault: { status: 500 }, error: "token_endpoint", requests: [2, 4] },
  {
    name: "invalid JWT",
    fault: { type: "token", accessToken: "not-a-jwt" },
    error: "invalid_token",
    requests: [1, 1],
  },
  {
    name: "wrong audience",
    fault: { type: "token", claims: { aud: "https://elsewhere/api/v2/" } },
    error: "invalid_token",
    requests: [1, 1],
  },
];

for (const policy of ["continue", "deny"]) {
  describe(`token failures with ON_TOKEN_ERROR=${policy}`, () => {
    for (const { name, fault, error, requests } of FAULTS) {
      test(`${name}: ${policy === "deny" ? "denied" : "not denied"}, nothing cached, error logged`, async () => {
        // A fresh isolate each time: the negative cache would otherwise suppress the request.
        const persistTo = tempPersistDir();
        dirs.push(persistTo);
        const worker = await startWorker(sim, persistTo, { ON_TOKEN_ERROR: policy });
        try {
          resetSim();
          sim.setFault(fault);
          const response = await login(worker, loginEvent(`auth0|${policy}`));
          assert.equal(response.status, 200);
          assert.equal(response.body.access.denied, policy === "deny");
          if (policy === "deny") {
            assert.equal(
              response.body.access.reason,
              "Login is temporarily unavailable. Please try again later.",
            );
          }
          const [least, most] = requests;
          assert.ok(
            sim.stats.tokenRequests >= least && sim.stats.tokenRequests <= most,
            `${sim.stats.tokenRequests} token requests`,
          );
          const logs = await worker.expectLogs(
            (r) => r.some((x) => x.event === "token_error"),
            "token_error",
          );
          const failure = logs.find((r) => r.event === "token_error");
          assert.equal(failure.error, error);
          assert.equal(failure.on_token_error, policy);
          // A write would be logged before the barrier's lines (the Worker logs kv_write once
          // the put resolved): none was, and KV holds nothing.
          assert.equal(count(await worker.logBarrier(), "kv_write"), 0, "nothing written");
          assert.deepEqual(await kvList(persistTo), [], "nothing cached");
        } finally {
          await stopWorker(worker);
        }
      });
    }
  });
}

describe("refused requests", () => {
  const persistTo = tempPersistDir();
  dirs.push(persistTo);
  let worker;
  before(async () => {
    resetSim();
    worker = await startWorker(sim, persistTo);
  });
  after(() => stopWorker(worker));

  const big = JSON.stringify(
    loginEvent("auth0|big", { user: { user_id: "auth0|big", name: "x".repeat(70_000) } }),
  );
  const cases = [
    { name: "GET /post-login", status: 405, options: { method: "GET" } },
    { name: "text/plain", status: 415, options: { headers: { "content-type": "text/plain" } } },
    { name: "body over 64 KiB", status: 413, options: { body: big } },
    { name: "no signature", status: 401, options: { signature: null } },
    { name: "malformed signature", status: 401, options: { signature: "v1=abc" } },
    { name: "wrong secret", status: 401, options: { secret: "not-the-secret" } },
    {
      name: "stale timestamp",
      status: 401,
      options: { signature: `t=${Math.floor(Date.now() / 1000) - 301},v1=${"0".repeat(64)}` },
    },
    {
      name: "timestamp 301 s in the future",
      status: 401,
      options: { signature: `t=${Math.floor(Date.now() / 1000) + 301},v1=${"0".repeat(64)}` },
    },
    { name: "body changed by one byte after signing", status: 401, tamper: "byte" },
    { name: "signature made for a different body", status: 401, tamper: "other-body" },
    { name: "invalid JSON", status: 400, options: { body: "{" } },
    { name: "secrets in the body", status: 400, event: { ...loginEvent(), secrets: { CLIENT_SECRET: "x" } } },
    { name: "no user_id", status: 400, event: { user: { email: "a@example.com" } } },
  ];
  /** Options for a correctly signed request whose body then changes, or a signature of another body. */
  async function tampered(kind) {
    const body = JSON.stringify(loginEvent("auth0|tampered"));
    const signed = await signBody(
      kind === "other-body" ? JSON.stringify(loginEvent("auth0|someone-else")) : body,
      LOGIN_HANDLER_SECRET,
      Date.now() / 1000,
    );
    const sent = kind === "byte" ? body.replace("tampered", "tamperee") : body;
    return { body: sent, signature: signed };
  }

  for (const { name, status, options, event, tamper } of cases) {
    test(`${name} → ${status}, no token request`, async () => {
      const response = await login(worker, event ?? loginEvent(), tamper ? await tampered(tamper) : options);
      assert.equal(response.status, status, response.text);
      assert.equal(typeof response.body.error, "string");
      assert.equal(typeof response.body.error_description, "string");
      assert.equal(sim.stats.tokenRequests, 0);
    });
  }

  test("GET /healthz → 200", async () => {
    const response = await fetch(`${worker.url}/healthz`);
    assert.equal(response.status, 200);
  });

  test("refused requests cost nothing: no KV read, no Action run, no token request", async () => {
    // Every line of the refusals above has been relayed once the barrier's have.
    const logs = await worker.logBarrier();
    const refusals = logs.filter((r) => r.event === "request_refused" && r.status !== 404);
    assert.equal(refusals.length, cases.length, "every refusal was logged");
    assert.deepEqual(
      logs.filter((r) => r.event === "kv_read" || r.component === "m2m-token-action").map((r) => r.event),
      [],
    );
    assert.equal(sim.stats.tokenRequests, 0);
  });
});

test("no log line or response contains the client secret, the HMAC secret or an issued token", async () => {
  for (const worker of workers) transcript.lines.push(...worker.lines);
  const everything = [...transcript.lines, ...transcript.bodies].join("\n");
  assert.ok(transcript.bodies.length > 50, "the run produced responses to check");
  assert.ok(everything.includes("cache_hit"), "the run produced Action logs to check");
  for (const secret of [CLIENT_SECRET, SECOND_CLIENT.clientSecret, LOGIN_HANDLER_SECRET]) {
    assert.ok(!everything.includes(secret), "a secret leaked");
  }
  for (const token of sim.issuedTokens) issuedTokens.add(token);
  assert.ok(issuedTokens.size >= 4, "the run issued tokens to check");
  for (const token of issuedTokens) {
    assert.ok(!everything.includes(token), "an issued token leaked");
    assert.ok(!everything.includes(token.split(".")[2]), "a token signature leaked");
  }
});
