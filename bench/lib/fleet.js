// The fleet scenarios of `npm run bench -- --fleet`: N `wrangler dev` processes per variant, each
// its own isolate with its own --persist-to (its own KV, as locations see different KV replicas),
// against the one tenant simulator, loaded at the same time.
//
//   ours+broker     the production Worker (../wrangler.toml) as tests/support/fleet.js runs it:
//                   process 0 hosts the Durable Objects (TokenBroker, TriggerCacheWriter), the
//                   others reach them through `script_name`; TOKEN_BROKER_MODE=on
//   ours-no-broker  the same fleet layout with TOKEN_BROKER_MODE=off: every isolate requests its
//                   own tokens
//   seed            the bench Worker (bench/wrangler.toml, BENCH_VARIANT=seed) in N processes, each
//                   with its own persist directory; it has no broker and no Durable Object
//
// Scenarios (each variant × scenario gets a fresh fleet: empty KV and broker storage everywhere):
//
//   cold       C concurrent logins on every process at once, right after the fleet started
//   lifetimes  simulator tokens of L s; a steady rate of logins on every process for k lifetimes
//   misconfig  CLIENT_SECRET wrong on every process; a steady rate of logins for M s
//
// Figures: the simulator's token requests from the variant's client id (answered 200 / not),
// login latency over all processes (p50/p99), non-2xx answers and other failed logins.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { startFleet } from "../../tests/support/fleet.js";
import { LOGIN_HANDLER_SECRET, WorkerProcess, tempPersistDir, workerEnv } from "../../tests/support/stack.js";
import { loginBodies, runLogins, summarize } from "./load.js";
import { countRequests, loginsWithoutLiveToken, perWindow, requestsOf } from "./tokens.js";

export const FLEET_VARIANTS = ["ours+broker", "ours-no-broker", "seed"];
export const FLEET_SCENARIOS = ["cold", "lifetimes", "misconfig"];
export const FLEET_CLIENT_IDS = {
  "ours+broker": "bench-fleet-broker-m2m",
  "ours-no-broker": "bench-fleet-nobroker-m2m",
  seed: "bench-fleet-seed-m2m",
};
const WRONG_SECRET = "bench-fleet-not-the-client-secret";

/** The fleet's sizes: full, or reduced with `quick`; `overrides` from the command line. */
export function fleetSizes(quick, { size, concurrency, misconfigSeconds } = {}) {
  return {
    size: size ?? (quick ? 2 : 3),
    users: 50,
    // Repeated (a fresh fleet each time, variants in rotated order): one burst is noisy.
    cold: { connections: concurrency ?? (quick ? 10 : 50), repeat: quick ? 1 : 3 },
    lifetimes: {
      lifetimeSeconds: quick ? 20 : 40,
      count: quick ? 2 : 3,
      rate: 5, // logins per second on each process
      connections: 2,
    },
    // ours' cool-down after a 401 is 30 s, then 60 s, 120 s …: failed requests at +0, +30, +90 s.
    // 75 s (and 45 s) keep the ends of the run away from those instants, and 75 s shows whether
    // the second cool-down is longer than the first (a request at +60 s if it is not).
    misconfig: { seconds: misconfigSeconds ?? (quick ? 45 : 75), rate: 5, connections: 2 },
    // After the load, for background work (KV writes, refreshes) before the counters are read.
    settleMs: 2_000,
  };
}

export function fleetDescriptions(sizes) {
  const { size, cold, lifetimes, misconfig } = sizes;
  return {
    cold:
      `${size} processes per variant, fresh (empty KV and broker storage everywhere), then ${cold.connections} concurrent ` +
      `logins on every process at once (${size * cold.connections} in all, one per connection).` +
      (cold.repeat > 1
        ? ` ${cold.repeat} runs (a fresh fleet each, variants in rotated order): medians, errors summed over the runs.`
        : ""),
    lifetimes:
      `Simulator tokens of ${lifetimes.lifetimeSeconds} s; ${lifetimes.rate} logins/s on each of ${size} processes ` +
      `(${lifetimes.connections} connections each) for ${lifetimes.count} lifetimes. "Logins without a live token": ` +
      `logins that completed when no token issued to that variant (by any process) was younger than the lifetime.`,
    misconfig:
      `CLIENT_SECRET wrong on every process (the simulator answers 401 access_denied); ${misconfig.rate} logins/s on ` +
      `each of ${size} processes for ${misconfig.seconds} s. ours cools down 30 s after a 401, then 60 s, 120 s …`,
  };
}

/** Starts `size` processes of the bench Worker for `env`, each with its own persist directory. */
async function startBenchFleet({ size, env, config }) {
  // Private to the run, as the production fleet's (the bench Worker binds no Durable Object).
  const registry = mkdtempSync(join(tmpdir(), "edge-login-registry-"));
  const persistDirs = Array.from({ length: size }, () => tempPersistDir());
  const started = await Promise.allSettled(
    persistDirs.map((persistTo) =>
      WorkerProcess.start({ env, persistTo, config, processEnv: { WRANGLER_REGISTRY_PATH: registry } }),
    ),
  );
  const workers = started.filter((s) => s.status === "fulfilled").map((s) => s.value);
  const stop = async () => {
    await Promise.all(workers.map((w) => w.stop()));
    for (const dir of [registry, ...persistDirs]) rmSync(dir, { recursive: true, force: true });
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { workers, stop };
}

function envFor(sim, variant, scenario) {
  const overrides = { CLIENT_ID: FLEET_CLIENT_IDS[variant] };
  if (scenario === "misconfig") overrides.CLIENT_SECRET = WRONG_SECRET;
  if (variant === "seed") overrides.BENCH_VARIANT = "seed";
  else overrides.TOKEN_BROKER_MODE = variant === "ours+broker" ? "on" : "off";
  return workerEnv(sim, overrides);
}

function loadOptions(sizes, scenario) {
  if (scenario === "cold") return { connections: sizes.cold.connections, amount: sizes.cold.connections };
  if (scenario === "lifetimes") {
    const { connections, rate, lifetimeSeconds, count } = sizes.lifetimes;
    return { connections, overallRate: rate, duration: lifetimeSeconds * count };
  }
  const { connections, rate, seconds } = sizes.misconfig;
  return { connections, overallRate: rate, duration: seconds };
}

/** Refuses a run during which wrangler dev reloaded a Worker or one of them exited. */
function assertIntact(workers, variant) {
  for (const [i, worker] of workers.entries()) {
    const exited = worker.child.exitCode ?? worker.child.signalCode;
    const reloaded = worker.lines.some((line) => line.includes("Reloading local server"));
    if (exited != null || reloaded) {
      throw new Error(
        `${variant} process ${i}: wrangler dev ${reloaded ? "reloaded the Worker" : `exited (${exited})`} during the measurement\n` +
          worker.lines.slice(-30).join("\n"),
      );
    }
  }
}

/** What the production Worker's isolates logged about the broker (none for the seed). */
function brokerLogs(workers, variant) {
  if (variant === "seed") return {};
  const expected = variant === "ours+broker";
  const count = (name) => workers.reduce((n, w) => n + w.logs().filter((r) => r.event === name).length, 0);
  const bound = workers.map((w) => w.logs().find((r) => r.event === "token_broker")?.bound ?? null);
  for (const [i, b] of bound.entries()) {
    if (b !== null && b !== expected) {
      throw new Error(`${variant} process ${i} logged token_broker bound=${b}, expected ${expected}`);
    }
  }
  // The cool-downs started (after a failed token request) by the isolates, and by the broker
  // itself (its records, host "token-broker", are printed by process 0): consecutive failures and
  // the length chosen, in order.
  const cooldowns = (records) =>
    records
      .filter((r) => r.event === "cooldown_started")
      .map((r) => ({ failures: r.failures, cooldownMs: r.cooldown_ms }));
  return {
    brokerBound: bound,
    brokerToken: count("broker_token"),
    brokerUnavailable: count("broker_unavailable"),
    brokerCoolingDown: count("broker_cooling_down"),
    isolateCooldowns: workers.map((w) => cooldowns(w.logs())),
    brokerCooldowns: cooldowns(workers[0].logs({ broker: true }).filter((r) => r.host === "token-broker")),
  };
}

/**
 * Runs the fleet scenarios, each variant after the other (one fleet at a time, so the machine
 * runs N processes, not 3·N). `track(fleet)` / `untrack(fleet)` let the caller stop a fleet that is
 * still running when the bench is interrupted.
 */
export async function runFleet({
  sim,
  sizes,
  variants = FLEET_VARIANTS,
  scenarios = FLEET_SCENARIOS,
  benchConfig,
  say,
  elapsed,
  track,
  untrack,
}) {
  const started = performance.now();
  const bodies = loginBodies(sizes.users, "fleet-user");
  const descriptions = fleetDescriptions(sizes);
  const out = { config: sizes, scenarios: {} };
  for (const scenario of scenarios) {
    const repeat = scenario === "cold" ? sizes.cold.repeat : 1;
    const list = Object.fromEntries(variants.map((v) => [v, []]));
    for (let rep = 0; rep < repeat; rep++) {
      // Rotated order, as the single-process scenarios: each variant once first, once last.
      const order = variants.map((_, i) => variants[(i + rep) % variants.length]);
      const label = repeat > 1 ? ` ${rep + 1}/${repeat}` : "";
      for (const variant of order) {
        const t0 = performance.now();
        const result = await measure({ sim, sizes, scenario, variant, bodies, benchConfig, track, untrack });
        list[variant].push(result);
        say(progressLine(`${scenario}${label}`, variant, result, (performance.now() - t0) / 1000, elapsed()));
      }
    }
    out.scenarios[scenario] = {
      description: descriptions[scenario],
      variants: Object.fromEntries(variants.map((v) => [v, combineRuns(list[v])])),
    };
  }
  out.durationSeconds = Math.round((performance.now() - started) / 1000);
  return out;
}

/** Starts a fresh fleet of `variant`, loads it as `scenario` says, stops it; its figures. */
async function measure({ sim, sizes, scenario, variant, bodies, benchConfig, track, untrack }) {
  const t0 = performance.now();
  const env = envFor(sim, variant, scenario);
  const fleet =
    variant === "seed"
      ? await startBenchFleet({ size: sizes.size, env, config: benchConfig })
      : await startFleet({ size: sizes.size, env });
  track?.(fleet);
  try {
    const startedUpSeconds = (performance.now() - t0) / 1000;
    sim.reset();
    if (scenario === "lifetimes") sim.setTokenLifetime(sizes.lifetimes.lifetimeSeconds);
    const options = loadOptions(sizes, scenario);
    const startedAt = Date.now();
    const runs = await Promise.all(
      fleet.workers.map((w) => runLogins({ url: w.url, secret: LOGIN_HANDLER_SECRET, bodies, ...options })),
    );
    const endedAt = Date.now();
    await sleep(sizes.settleMs);
    assertIntact(fleet.workers, variant);
    const result = figures({ sim, sizes, scenario, variant, runs, startedAt, endedAt });
    return Object.assign(result, brokerLogs(fleet.workers, variant), { startedUpSeconds });
  } finally {
    await fleet.stop();
    untrack?.(fleet);
  }
}

/**
 * A variant's figures over repeated runs: the median of each count and latency figure, errors
 * and non-2xx summed, every run kept under `runs`.
 */
function combineRuns(list) {
  if (list.length === 1) return list[0];
  const median = (f) => {
    const xs = list
      .map(f)
      .filter((x) => x != null)
      .sort((a, b) => a - b);
    if (!xs.length) return null;
    const mid = xs.length / 2;
    return xs.length % 2 ? xs[Math.floor(mid)] : (xs[mid - 1] + xs[mid]) / 2;
  };
  const sum = (f) => list.reduce((n, r) => n + f(r), 0);
  const statusCodes = {};
  for (const r of list) {
    for (const [status, n] of Object.entries(r.statusCodes))
      statusCodes[status] = (statusCodes[status] ?? 0) + n;
  }
  return {
    processes: list[0].processes,
    logins: median((r) => r.logins),
    ok: median((r) => r.ok),
    errors: Object.fromEntries(Object.keys(list[0].errors).map((k) => [k, sum((r) => r.errors[k])])),
    errorTotal: sum((r) => r.errorTotal),
    non2xx: sum((r) => r.non2xx),
    statusCodes,
    errorSamples: list.flatMap((r) => r.errorSamples),
    durationMs: median((r) => r.durationMs),
    tokenRequests: median((r) => r.tokenRequests),
    tokenOk: median((r) => r.tokenOk),
    tokenFailed: median((r) => r.tokenFailed),
    latency: Object.fromEntries(Object.keys(list[0].latency).map((k) => [k, median((r) => r.latency[k])])),
    runs: list,
  };
}

/** One variant's figures in one scenario, over all its processes. */
function figures({ sim, sizes, scenario, variant, runs, startedAt, endedAt }) {
  const errors = { http: 0, failed: 0, socket: 0, timeouts: 0 };
  const statusCodes = {};
  for (const run of runs) {
    for (const key of Object.keys(errors)) errors[key] += run.errors[key];
    for (const [status, n] of Object.entries(run.statusCodes))
      statusCodes[status] = (statusCodes[status] ?? 0) + n;
  }
  const latencies = runs.flatMap((r) => r.latencies);
  const responseTimes = runs.flatMap((r) => r.responseTimes);
  const requests = requestsOf(sim, FLEET_CLIENT_IDS[variant]);
  const { ok, failed } = countRequests(requests);
  const latency = summarize(latencies);
  delete latency.curve;
  const result = {
    processes: runs.length,
    logins: latencies.length,
    ok: runs.reduce((n, r) => n + r.ok, 0),
    errors,
    errorTotal: errors.http + errors.failed + errors.socket + errors.timeouts,
    non2xx: errors.http,
    statusCodes,
    errorSamples: runs.flatMap((r, process) =>
      r.errorSamples.map(({ at, ...rest }) => ({ process, atSeconds: (at - startedAt) / 1000, ...rest })),
    ),
    durationMs: endedAt - startedAt,
    tokenRequests: requests.length,
    tokenOk: ok,
    tokenFailed: failed,
    latency,
    perProcess: runs.map((r) => {
      const { p50, p99 } = summarize(r.latencies);
      return { logins: r.logins, p50, p99, errorTotal: r.errorTotal };
    }),
  };
  if (scenario === "lifetimes") {
    const lifetimeMs = sizes.lifetimes.lifetimeSeconds * 1000;
    const crossed = (endedAt - startedAt) / lifetimeMs;
    result.lifetimesCrossed = crossed;
    // Requests still in flight when autocannon stopped land just past the end: last window.
    result.perLifetime = perWindow(requests, startedAt, lifetimeMs, Math.round(crossed));
    result.loginsWithoutLiveToken = loginsWithoutLiveToken(responseTimes, requests, lifetimeMs);
  }
  if (scenario === "misconfig") {
    const failedAt = requests.filter((r) => r.status !== 200).map((r) => (r.at - startedAt) / 1000);
    result.failedPer30s = perWindow(
      requests.filter((r) => r.status !== 200),
      startedAt,
      30_000,
      Math.ceil((endedAt - startedAt) / 30_000),
    );
    if (failedAt.length <= 20) result.failedAtSeconds = failedAt;
  }
  return result;
}

function progressLine(scenario, variant, r, seconds, total) {
  const f = (x) => (x == null ? "—" : x.toFixed(1));
  return (
    `  fleet ${scenario.padEnd(9)} ${variant.padEnd(14)} ${r.processes}× ${String(r.logins).padStart(5)} logins` +
    `  p50 ${f(r.latency.p50).padStart(7)}  p99 ${f(r.latency.p99).padStart(7)} ms` +
    `  token requests ${r.tokenOk} ok / ${r.tokenFailed} failed  non-2xx ${r.non2xx}  errors ${r.errorTotal}` +
    `  (${seconds.toFixed(1)} s, total ${total})`
  );
}
