// Load: 10,000 signed logins at concurrency 100 against `wrangler dev` (autocannon as the load
// generator). Every login must answer 2xx, the whole run must cost exactly one token request,
// and the latency percentiles are printed.
//
// One exception, outside the Worker: wrangler dev's ProxyWorker (in front of the Worker, only in
// dev) now and then loses a pooled connection when its 5 s keep-alive timeouts collide, and
// answers that POST "503 Your worker restarted mid-request" with Retry-After: 0 although the
// Worker never restarted (cloudflare/workers-sdk#14641, #15252). Such an answer is retried once,
// as it asks, and counted; any other non-2xx fails the test, as does a retry that is not 2xx.

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import autocannon from "autocannon";

import { signBody } from "../../js/signature.js";
import {
  LOGIN_HANDLER_SECRET,
  WorkerProcess,
  loginEvent,
  startTenant,
  tempPersistDir,
  workerEnv,
} from "../support/stack.js";

const LOGINS = 10_000;
const CONCURRENCY = 100;
const PROXY_RESTART = "Your worker restarted mid-request";

test(`${LOGINS} signed logins at concurrency ${CONCURRENCY}: all 2xx, one token request`, async (t) => {
  const sim = await startTenant();
  const persistTo = tempPersistDir();
  const worker = await WorkerProcess.start({ env: workerEnv(sim), persistTo });
  try {
    // 200 distinct users, each body signed now (valid for the 300 s window).
    const proxyRestarts = [];
    const requests = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const body = JSON.stringify(loginEvent(`auth0|load-${i}`));
        const headers = {
          "content-type": "application/json",
          "x-signature": await signBody(body, LOGIN_HANDLER_SECRET, Date.now() / 1000),
        };
        return {
          method: "POST",
          path: "/post-login",
          headers,
          body,
          onResponse: (status, text) => {
            if (status === 503 && String(text).startsWith(PROXY_RESTART)) {
              proxyRestarts.push({ headers, body });
            }
          },
        };
      }),
    );
    const result = await autocannon({
      url: worker.url,
      connections: CONCURRENCY,
      amount: LOGINS,
      requests,
      timeout: 30,
    });
    const retried = [];
    for (const { headers, body } of proxyRestarts) {
      const response = await fetch(`${worker.url}/post-login`, { method: "POST", headers, body });
      await response.text();
      retried.push(response.status);
    }
    const { p50, p90, p99, max } = result.latency;
    const line = `${LOGINS} logins, c=${CONCURRENCY}: ${result.requests.average.toFixed(0)} logins/s, latency p50 ${p50} ms, p90 ${p90} ms, p99 ${p99} ms, max ${max} ms; non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}; token requests ${sim.stats.tokenRequests}; statuses ${JSON.stringify(result.statusCodeStats)}; dev-proxy 503s retried ${retried.length} → ${JSON.stringify(retried)}`;
    t.diagnostic(line);
    console.log(line);
    assert.equal(result.non2xx, proxyRestarts.length, "every non-2xx was the dev proxy's 503");
    assert.ok(
      retried.every((status) => status >= 200 && status < 300),
      "each retry answered 2xx",
    );
    assert.ok(proxyRestarts.length <= LOGINS / 1000, `at most 0.1 % dev-proxy 503s`);
    // A connection the dev proxy dropped can take autocannon's count of one more request with
    // it (seen: 9,998 × 200 + 1 × 503 for 10,000); any other shortfall fails.
    assert.ok(
      result["2xx"] + result.non2xx >= LOGINS - proxyRestarts.length,
      `${result["2xx"] + result.non2xx} of ${LOGINS} logins answered`,
    );
    assert.equal(result.errors, 0);
    assert.equal(result.timeouts, 0);
    assert.equal(sim.stats.tokenRequests, 1, "exactly one token request for the whole run");
  } finally {
    await worker.stop();
    await sim.close();
    rmSync(persistTo, { recursive: true, force: true });
  }
});
