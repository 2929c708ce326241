// Load: 10,000 signed logins at concurrency 100 against `wrangler dev` (autocannon as the load
// generator). Every login must answer 2xx, the whole run must cost exactly one token request,
// and the latency percentiles are printed.

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

test(`${LOGINS} signed logins at concurrency ${CONCURRENCY}: all 2xx, one token request`, async (t) => {
  const sim = await startTenant();
  const persistTo = tempPersistDir();
  const worker = await WorkerProcess.start({ env: workerEnv(sim), persistTo });
  try {
    // 200 distinct users, each body signed now (valid for the 300 s window).
    const requests = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const body = JSON.stringify(loginEvent(`auth0|load-${i}`));
        return {
          method: "POST",
          path: "/post-login",
          headers: {
            "content-type": "application/json",
            "x-signature": await signBody(body, LOGIN_HANDLER_SECRET, Date.now() / 1000),
          },
          body,
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
    const { p50, p90, p99, max } = result.latency;
    const line = `${LOGINS} logins, c=${CONCURRENCY}: ${result.requests.average.toFixed(0)} logins/s, latency p50 ${p50} ms, p90 ${p90} ms, p99 ${p99} ms, max ${max} ms; non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}; token requests ${sim.stats.tokenRequests}; statuses ${JSON.stringify(result.statusCodeStats)}`;
    t.diagnostic(line);
    console.log(line);
    assert.equal(result["2xx"], LOGINS, "every login answered 2xx");
    assert.equal(result.non2xx, 0);
    assert.equal(result.errors, 0);
    assert.equal(result.timeouts, 0);
    assert.equal(sim.stats.tokenRequests, 1, "exactly one token request for the whole run");
  } finally {
    await worker.stop();
    await sim.close();
    rmSync(persistTo, { recursive: true, force: true });
  }
});
