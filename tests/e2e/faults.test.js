// The fault matrix, end to end under `wrangler dev`: every fault of the token endpoint and of
// Workers KV, each with no token cached and with a valid token cached (in its refresh window, so
// the background refresh meets the fault). Each row says what the login answers, how many token
// requests the fault may cost, what KV holds afterwards, and which log event must appear.
// Then: a Rust panic does not break later logins.
//
// Runs on the test Worker (tests/support/fault-worker): the same handler, runtime and Action
// (test-hooks build), with KV behind a fault-injecting proxy.

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { base64url } from "jose";

import { root } from "../../scripts/lib/setup.js";
import {
  CLIENT_ID,
  WorkerProcess,
  eventually,
  freePort,
  loginEvent,
  postLogin,
  startTenant,
  tempPersistDir,
  workerEnv,
} from "../support/stack.js";

const CONFIG = join(root, "tests", "support", "fault-worker", "wrangler.toml");
const KV_KEY = "actions-cache/post-login";
const dirs = [];
let sim;

before(async () => {
  sim = await startTenant();
});
after(async () => {
  await sim?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const nowS = () => Math.floor(Date.now() / 1000);
const b64url = (text) => base64url.encode(text);
const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));

/** A valid token issued ~23.6 h ago: cached, usable for ~17 min, and due for refresh. */
async function seedCachedToken(worker, domain) {
  const now = nowS();
  const token = await sim.signToken({
    iss: `${sim.url}/`,
    sub: `${CLIENT_ID}@clients`,
    aud: sim.managementAudience,
    iat: now - 85_000,
    exp: now + 1_400,
    scope: "read:users",
  });
  const useUntil = (now + 1_000) * 1000;
  const value = JSON.stringify({
    v: 1,
    domain,
    client_id: CLIENT_ID,
    audience: sim.managementAudience,
    access_token: token,
    issued_at: (now - 85_000) * 1000,
    expires_at: (now + 1_400) * 1000,
    use_until: useUntil,
  });
  await control(worker, "PUT", "/__test/kv", {
    key: KV_KEY,
    value: JSON.stringify({ v: 1, records: { M2M: { value, expires_at: useUntil } } }),
    expiration: now + 1_000,
  });
  return token;
}

async function control(worker, method, path, body) {
  const response = await fetch(`${worker.url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(response.status, 200, `${method} ${path}`);
  return response.json();
}

/** Waits until no work a login started (`ctx.waitUntil`) is still running in the Worker. */
function settle(worker) {
  let last;
  return eventually(
    async () => {
      last = await control(worker, "GET", "/__test/pending");
      return last.waitUntil === 0;
    },
    { what: "the logins' background work finished", seen: () => `${last?.waitUntil} still running` },
  );
}

/** The token KV holds for M2M now, or null. */
async function cachedToken(worker) {
  const { value } = await control(worker, "GET", `/__test/kv?key=${encodeURIComponent(KV_KEY)}`);
  if (value === null) return null;
  const m2m = JSON.parse(value).records?.M2M;
  return m2m ? JSON.parse(m2m.value).access_token : null;
}

// What each fault does to the token endpoint, KV, or the Worker's configuration.
const endpoint = (fault) => ({ setup: () => sim.setFault(fault) });
const response = (body) => endpoint({ type: "response", body });
const accessToken = (token) => endpoint({ type: "token", accessToken: token });
const kvFault = (faults) => ({ kv: faults });

/**
 * Rows. `requests`: [min, max] token requests. `outcome`:
 *   "failed"  — no new token (the endpoint fault);  "fresh" — a new token was obtained;
 *   "uncached" — a new token was obtained but could not be written to KV.
 * `cached: false` marks rows where "with a token cached" makes no sense (the fault replaces it).
 */
const ROWS = [
  { name: "token endpoint 500", ...endpoint({ status: 500 }), requests: [2, 4], outcome: "failed" },
  { name: "token endpoint 502", ...endpoint({ status: 502 }), requests: [2, 4], outcome: "failed" },
  { name: "token endpoint 503", ...endpoint({ status: 503 }), requests: [2, 4], outcome: "failed" },
  { name: "token endpoint 504", ...endpoint({ status: 504 }), requests: [2, 4], outcome: "failed" },
  {
    name: "429 with x-ratelimit-reset beyond the budget",
    ...endpoint({ type: "rate_limit", resetInSeconds: 30 }),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "429 with Retry-After inside the budget",
    ...endpoint({ type: "rate_limit", resetInSeconds: 30, retryAfterSeconds: 1 }),
    requests: [2, 4],
    outcome: "failed",
  },
  {
    name: "response slower than the budget",
    ...endpoint({ type: "delay", ms: 9000 }),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "connection refused",
    env: async () => ({ AUTH0_CUSTOM_DOMAIN: `http://127.0.0.1:${await freePort()}` }),
    requests: [0, 0],
    outcome: "failed",
  },
  { name: "HTML body", ...endpoint({ type: "html" }), requests: [1, 1], outcome: "failed" },
  { name: "invalid JSON", ...endpoint({ type: "invalid_json" }), requests: [1, 1], outcome: "failed" },
  {
    name: "JSON without access_token",
    ...response({ token_type: "Bearer", expires_in: 86400 }),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "token_type not Bearer",
    ...endpoint({ type: "token", tokenType: "MAC" }),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "JWT with two parts",
    ...accessToken(`${header}.${b64url("{}")}`),
    requests: [1, 1],
    outcome: "failed",
  },
  { name: "JWT with bad base64", ...accessToken("!!!.@@@.###"), requests: [1, 1], outcome: "failed" },
  {
    name: "JWT payload not JSON",
    ...accessToken(`${header}.${b64url("not json")}.c2ln`),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "exp in the past",
    ...endpoint({ type: "token", claims: { exp: nowS() - 60 } }),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "wrong aud",
    ...endpoint({ type: "token", claims: { aud: "https://elsewhere.example/api/v2/" } }),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "expires_in missing",
    ...endpoint({ type: "token", omit: ["expires_in"] }),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "expires_in zero",
    ...endpoint({ type: "token", expiresIn: 0 }),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "expires_in negative",
    ...endpoint({ type: "token", expiresIn: -30 }),
    requests: [1, 1],
    outcome: "failed",
  },
  {
    name: "expires_in absurdly large (exp still bounds it)",
    ...endpoint({ type: "token", expiresIn: 1e15 }),
    requests: [1, 1],
    outcome: "fresh",
  },
  {
    name: "access token larger than the 4 KB cache value limit",
    ...endpoint({ type: "token", claims: { padding: "x".repeat(5000) } }),
    requests: [1, 1],
    outcome: "uncached",
    log: "cache_write_failed",
  },
  {
    name: "KV read throws",
    ...kvFault({ read: "KV GET failed: 500 Internal Server Error" }),
    requests: [1, 1],
    outcome: "fresh",
    log: "kv_read_failed",
    kvRead: false,
  },
  {
    name: "KV write throws",
    ...kvFault({ write: "KV PUT failed: 500 Internal Server Error" }),
    requests: [1, 1],
    outcome: "uncached",
    log: "kv_write_failed",
  },
  {
    name: "KV write rate-limited",
    ...kvFault({ write: "KV PUT failed: 429 Too Many Requests" }),
    requests: [1, 1],
    outcome: "uncached",
    log: "kv_write_failed",
  },
  {
    name: "corrupted value under the cache key",
    seed: "{not json",
    requests: [1, 1],
    outcome: "fresh",
    log: "kv_value_unreadable",
    cached: false,
  },
  {
    name: "foreign value under the M2M record",
    seed: JSON.stringify({
      v: 1,
      records: { M2M: { value: "eyJhbGciOi.foreign", expires_at: Date.now() + 3_600_000 } },
    }),
    requests: [1, 1],
    outcome: "fresh",
    log: "cache_miss",
    cached: false,
  },
];

async function runRow(row, withToken) {
  const persistTo = tempPersistDir();
  dirs.push(persistTo);
  sim.reset();
  const env = workerEnv(sim, row.env ? await row.env() : {});
  const worker = await WorkerProcess.start({ env, persistTo, config: CONFIG });
  try {
    const old = withToken ? await seedCachedToken(worker, env.AUTH0_CUSTOM_DOMAIN) : null;
    if (row.seed) {
      await control(worker, "PUT", "/__test/kv", { key: KV_KEY, value: row.seed, expiration: nowS() + 3600 });
    }
    if (row.kv) await control(worker, "POST", "/__test/kv-faults", row.kv);
    row.setup?.();

    const started = performance.now();
    const login = await postLogin(worker, loginEvent("auth0|fault"));
    const ms = performance.now() - started;

    // The login itself: never an error, never denied (ON_TOKEN_ERROR=continue), within budget.
    assert.equal(login.status, 200, login.text);
    assert.equal(login.body.access.denied, false);
    assert.ok(ms < 6500, `login took ${ms.toFixed(0)} ms`);

    // Wait for everything the login started (the background refresh, the KV write) to finish,
    // then for every line it logged.
    await settle(worker);
    const events = (await worker.logBarrier()).map((r) => r.event);
    sim.clearFault();
    await control(worker, "POST", "/__test/kv-faults", { read: null, write: null });

    const [least, most] = row.requests;
    const requests = sim.stats.tokenRequests;
    assert.ok(
      requests >= least && requests <= most,
      `${requests} token requests, expected ${least}..${most}`,
    );

    const after = await cachedToken(worker);
    const issued = sim.issuedTokens.filter((t) => t !== old);
    if (withToken && row.kvRead !== false) {
      assert.ok(events.includes("cache_hit"), "served from the cache");
      if (row.outcome === "failed") {
        assert.ok(events.includes("refresh_failed"), `refresh_failed logged: ${events.join(",")}`);
        assert.equal(after, old, "the valid token stays cached (static stability)");
      } else if (row.outcome === "uncached") {
        assert.equal(after, old, "the old token is still what KV holds");
      } else {
        assert.ok(after && after !== old, "the refreshed token replaced the old one");
      }
    } else if (row.outcome === "failed") {
      assert.ok(events.includes("token_error"), `token_error logged: ${events.join(",")}`);
      assert.equal(after, null, "nothing cached");
    } else if (row.outcome === "uncached") {
      assert.equal(after, null, "nothing cached");
    } else {
      assert.ok(issued.includes(after), "the new token is cached");
    }
    if (row.log) assert.ok(events.includes(row.log), `${row.log} logged: ${events.join(",")}`);
  } finally {
    await worker.stop();
  }
}

for (const withToken of [false, true]) {
  describe(withToken ? "with a valid token cached (due for refresh)" : "with no token cached", () => {
    for (const row of ROWS) {
      if (withToken && row.cached === false) continue;
      test(row.name, () => runRow(row, withToken));
    }
  });
}

describe("panic recovery", () => {
  for (const [when, user, error] of [
    ["synchronously", "test|panic", /RuntimeError: unreachable/],
    ["inside the async part", "test|panic-async", /ActionPanicError/],
  ]) {
    test(`a panic in the wasm Action ${when} is reported, fails that login only, and later logins work`, async () => {
      const persistTo = tempPersistDir();
      dirs.push(persistTo);
      sim.reset();
      const worker = await WorkerProcess.start({ env: workerEnv(sim), persistTo, config: CONFIG });
      try {
        const first = await postLogin(worker, loginEvent("auth0|before"));
        assert.equal(first.status, 200);
        assert.equal(first.body.access.denied, false);

        const panicking = await postLogin(worker, loginEvent(user));
        assert.equal(panicking.status, 200);
        assert.equal(panicking.body.access.denied, true);
        assert.equal(panicking.body.error.code, "action_failed");

        for (let i = 0; i < 5; i++) {
          const later = await postLogin(worker, loginEvent(`auth0|after-${i}`));
          assert.equal(later.status, 200, later.text);
          assert.equal(later.body.access.denied, false);
        }
        await settle(worker);
        const logs = await worker.logBarrier();
        const panic = logs.find((r) => r.event === "panic");
        assert.ok(panic, "the panic hook reported the panic");
        assert.match(panic.message, /deliberate panic/);
        assert.match(logs.find((r) => r.event === "action_failed").error, error);
        assert.ok(
          logs.some((r) => r.event === "wasm_instance_replaced"),
          "the runtime replaced the instance",
        );
        assert.equal(sim.stats.tokenRequests, 1, "the cached token survived the new instance");
      } finally {
        await worker.stop();
      }
    });
  }
});
