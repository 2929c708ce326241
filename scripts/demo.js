// `npm run demo`: the main job on the bundled simulator. Builds what is missing, starts the Auth0
// tenant simulator and `wrangler dev` with local KV, sends a burst of signed logins, prints per
// login whether the Action's token came from the cache, restarts the Worker on the same KV, and
// prints the total number of token requests. Stops everything it started.
// The Worker also runs the Deploy CLI export in examples/deploy-cli-export/ (two JS Actions around
// the Rust one), unless AUTH0_ACTIONS_EXPORT names another export (or `none`).
import { rmSync } from "node:fs";
import { setup } from "./lib/setup.js";

process.env.AUTH0_ACTIONS_EXPORT ??= "examples/deploy-cli-export";
await setup();
const { WorkerProcess, loginEvent, postLogin, startTenant, tempPersistDir, workerEnv } =
  await import("../tests/support/stack.js");

const SEQUENTIAL = 20;
const CONCURRENT = 30;
const persistTo = tempPersistDir();
const sim = await startTenant();
let worker;

/** Sends one login and classifies it by the Action's log records it produced. */
async function loginAndClassify(userId) {
  const seen = worker.logs().length;
  const started = performance.now();
  const response = await postLogin(worker, loginEvent(userId));
  const ms = performance.now() - started;
  // The Action's lines are written from a microtask: wait until the login's own line is there.
  const logs = await worker.waitForLogs(
    (r) =>
      r.slice(seen).some((x) => x.event === "login") &&
      r.slice(seen).some((x) => x.component === "m2m-token-action"),
    2000,
  );
  const mine = logs.slice(seen);
  const hit = mine.find((r) => r.event === "cache_hit");
  const outcome = hit
    ? `hit (${hit.tier === "memory" ? "isolate memory" : "trigger cache / KV"})`
    : mine.some((r) => r.event === "token_valid")
      ? "miss → token requested"
      : "miss → no token (see logs)";
  return { status: response.status, denied: response.body?.access?.denied, outcome, ms };
}

function row(n, userId, result) {
  const cols = [
    `login ${String(n).padStart(2)}`,
    userId.padEnd(16),
    String(result.status),
    result.outcome.padEnd(30),
    `${result.ms.toFixed(0).padStart(4)} ms`,
  ];
  console.log(cols.join("  "));
}

try {
  worker = await WorkerProcess.start({ env: workerEnv(sim), persistTo });
  console.log(`simulator  ${sim.url}`);
  console.log(`worker     ${worker.url}   (wrangler dev, KV persisted in ${persistTo})\n`);

  for (let i = 1; i <= SEQUENTIAL; i++) {
    const userId = `auth0|demo-${String(i).padStart(2, "0")}`;
    row(i, userId, await loginAndClassify(userId));
  }

  const seen = worker.logs().length;
  const started = performance.now();
  const burst = await Promise.all(
    Array.from({ length: CONCURRENT }, (_, i) => postLogin(worker, loginEvent(`auth0|burst-${i}`))),
  );
  const burstMs = performance.now() - started;
  const logs = await worker.waitForLogs(
    (r) => r.slice(seen).filter((x) => x.event === "login").length >= CONCURRENT,
    5000,
  );
  const hits = logs.slice(seen).filter((r) => r.event === "cache_hit").length;
  const ok = burst.filter((r) => r.status === 200).length;
  console.log(
    `\nconcurrent burst: ${CONCURRENT} logins in ${burstMs.toFixed(0)} ms, ${ok} × 200, ${hits} cache hits, ${CONCURRENT - hits} misses`,
  );

  await worker.stop();
  worker = await WorkerProcess.start({ env: workerEnv(sim), persistTo });
  const afterRestart = await loginAndClassify("auth0|restarted");
  console.log(`restart on the same KV: login ${afterRestart.status}, ${afterRestart.outcome}`);

  // The exported JS Actions ran around the Rust one, unchanged.
  const planned = await postLogin(
    worker,
    loginEvent("auth0|demo-pro", {
      user: { ...loginEvent("auth0|demo-pro").user, app_metadata: { plan: "pro" } },
    }),
  );
  const suspended = await postLogin(
    worker,
    loginEvent("auth0|demo-suspended", {
      user: { ...loginEvent("auth0|demo-suspended").user, app_metadata: { suspended: true } },
    }),
  );
  console.log(`\nexported Actions (${process.env.AUTH0_ACTIONS_EXPORT}):`);
  console.log(`  plan "pro"      → ID token claims ${JSON.stringify(planned.body?.idToken?.claims)}`);
  console.log(
    `  suspended user → denied ${suspended.body?.access?.denied} by "${suspended.body?.access?.action}": ${suspended.body?.access?.reason}`,
  );
  const exportWorks =
    planned.body?.idToken?.claims?.["https://example.com/plan"] === "pro" &&
    suspended.body?.access?.action === "Block suspended users";
  if (process.env.AUTH0_ACTIONS_EXPORT === "examples/deploy-cli-export" && !exportWorks) process.exitCode = 1;

  const total = SEQUENTIAL + CONCURRENT + 3;
  console.log(`\ntoken requests to /oauth/token: ${sim.stats.tokenRequests} for ${total} logins`);
  if (sim.stats.tokenRequests !== 1) process.exitCode = 1;
} finally {
  await worker?.stop();
  await sim.close();
  rmSync(persistTo, { recursive: true, force: true });
}
