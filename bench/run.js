// `npm run bench`: ours (the Rust wasm Action as shipped) vs seed (a JS port of the seed Action)
// vs naive (a token on every login), all in the same JS Actions runtime under `wrangler dev`
// (bench/wrangler.toml), against the in-process Auth0 tenant simulator. Also CPU per login in
// Node (bench/cpu.js) and the wasm module's size and start-up cost (bench/wasm.js).
//
//   npm run bench                     warm, restart, cold burst; CPU; wasm  (a few minutes)
//   npm run bench -- --lifetimes      + the lifetimes scenario (90 s tokens over 4 lifetimes, ~6 min more)
//   npm run bench -- --quick          reduced sizes, writes bench/results/tmp/ (a smoke test)
//   npm run bench -- --fleet          + the fleet scenarios (lib/fleet.js: N processes per variant;
//                                     cold burst, lifetimes, misconfiguration; ~11 min more)
//   npm run bench -- --fleet-only     the fleet scenarios alone (no CPU, wasm or single-process scenarios)
//   other flags: --repeat N (default 3)  --variants ours,seed  --scenarios warm,cold  --skip-cpu
//                --no-build (use build/ as it is)  --out DIR (instead of bench/results)
//                --lifetime-seconds 90  --lifetime-count 4
//                --fleet-size 3  --fleet-concurrency 50 (cold burst, per process)  --fleet-misconfig-seconds 75
//                --fleet-variants ours+broker,ours-no-broker,seed  --fleet-scenarios cold,lifetimes,misconfig
//
// Writes bench/results/latest.json, latest.md and latest.svg (fleet.json and fleet.md for the
// fleet scenarios); prints a progress line per scenario and a compact table at the end. See
// bench/README.md.

import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";

import { root, setup } from "../scripts/lib/setup.js";

const { values: args } = parseArgs({
  options: {
    lifetimes: { type: "boolean", default: false },
    "lifetime-seconds": { type: "string", default: "90" },
    "lifetime-count": { type: "string", default: "4" },
    quick: { type: "boolean", default: false },
    variants: { type: "string", default: "ours,seed,naive" },
    "skip-cpu": { type: "boolean", default: false },
    "no-build": { type: "boolean", default: false },
    repeat: { type: "string" },
    scenarios: { type: "string", default: "warm,restart,cold" },
    out: { type: "string" },
    fleet: { type: "boolean", default: false },
    "fleet-only": { type: "boolean", default: false },
    "fleet-size": { type: "string" },
    "fleet-concurrency": { type: "string" },
    "fleet-misconfig-seconds": { type: "string" },
    "fleet-variants": { type: "string" },
    "fleet-scenarios": { type: "string" },
  },
});
const FLEET_ONLY = args["fleet-only"];
const FLEET = args.fleet || FLEET_ONLY;

const started = performance.now();
// npm packages and the wasm build, when missing or stale (as `npm run demo` does).
if (!args["no-build"]) await setup();

const { WorkerProcess, CLIENT_SECRET, LOGIN_HANDLER_SECRET, startTenant, tempPersistDir, workerEnv } =
  await import("../tests/support/stack.js");
const { assertSignerAgrees, loginBodies, runLogins, summarize } = await import("./lib/load.js");
const { workerdCpuMs, cpuPerLogin } = await import("./lib/proc.js");
const { consoleTable, markdown, scenarioRatios, formatNumber, VARIANT_ORDER } =
  await import("./lib/report.js");
const { renderSvg } = await import("./lib/chart.js");
const { countRequests, loginsWithoutLiveToken, perWindow, requestsOf } = await import("./lib/tokens.js");
const { FLEET_CLIENT_IDS, FLEET_SCENARIOS, FLEET_VARIANTS, fleetSizes, runFleet } =
  await import("./lib/fleet.js");
const { fleetConsoleTable, fleetMarkdown } = await import("./lib/fleet-report.js");

const here = dirname(fileURLToPath(import.meta.url));

// Everything the bench Worker and the Node measurements load (bench/, js/, build/) is copied once,
// and every `wrangler dev` of the run serves the copy: all variants and runs measure the same code,
// and an edit or rebuild in the work tree during the run cannot make wrangler reload the Worker.
const SNAPSHOT = mkdtempSync(join(os.tmpdir(), "edge-login-bench-src-"));
cpSync(join(root, "js"), join(SNAPSHOT, "js"), { recursive: true });
cpSync(join(root, "build"), join(SNAPSHOT, "build"), { recursive: true });
mkdirSync(join(SNAPSHOT, "tests"), { recursive: true });
// The CPU bench uses the test support's fake KV, events and one simulator answer.
cpSync(join(root, "tests", "support"), join(SNAPSHOT, "tests", "support"), { recursive: true });
// Packages (jose for the simulator) resolve from the repository's node_modules.
symlinkSync(join(root, "node_modules"), join(SNAPSHOT, "node_modules"), "dir");
cpSync(here, join(SNAPSHOT, "bench"), {
  recursive: true,
  filter: (source) => !/[\\/](results|\.wrangler|node_modules)$/.test(source),
});
const CONFIG = join(SNAPSHOT, "bench", "wrangler.toml");
const CRATE_WASM = join(root, "target", "wasm32-unknown-unknown", "release", "post_login_action.wasm");
const OUT_DIR = args.out ? resolve(args.out) : join(here, "results", args.quick ? "tmp" : "");
const variants = args.variants
  .split(",")
  .map((v) => v.trim())
  .filter(Boolean);
for (const v of variants) if (!VARIANT_ORDER.includes(v)) throw new Error(`unknown variant ${v}`);
const listArg = (value, known, what) => {
  const list = (value ?? known.join(","))
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  for (const x of list) if (!known.includes(x)) throw new Error(`unknown ${what} ${x} (${known.join(", ")})`);
  return list;
};
const fleetVariants = listArg(args["fleet-variants"], FLEET_VARIANTS, "fleet variant");
const fleetScenarios = listArg(args["fleet-scenarios"], FLEET_SCENARIOS, "fleet scenario");

const Q = args.quick;
const SIZES = {
  users: 50,
  warm: { logins: Q ? 500 : 5_000, connections: 20, warmup: Q ? 100 : 500 },
  cold: { logins: Q ? 50 : 200, connections: Q ? 50 : 200 },
  restart: { logins: Q ? 20 : 100, connections: 10 },
  lifetimes: {
    lifetimeSeconds: Number(args["lifetime-seconds"]),
    count: Number(args["lifetime-count"]),
    rate: 10,
    connections: 2,
  },
  cpu: { hits: Q ? 1_000 : 10_000, misses: Q ? 100 : 1_000, rounds: Q ? 1 : 5 },
  // Each of warm, restart and cold burst runs this many times, the variants in a rotated order
  // (each variant once in each position); the tables show the median run's figures.
  repeat: Number(args.repeat ?? (Q ? 1 : 3)),
  wasmRuns: Q ? 5 : 20,
  fleet: fleetSizes(Q, {
    size: args["fleet-size"] ? Number(args["fleet-size"]) : undefined,
    concurrency: args["fleet-concurrency"] ? Number(args["fleet-concurrency"]) : undefined,
    misconfigSeconds: args["fleet-misconfig-seconds"] ? Number(args["fleet-misconfig-seconds"]) : undefined,
  }),
};
const CLIENT_IDS = { ours: "bench-ours-m2m", seed: "bench-seed-m2m", naive: "bench-naive-m2m" };

const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
const say = (line) => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// Processes started here, stopped on every way out.
const live = { workers: new Set(), fleets: new Set(), dirs: new Set(), sim: null };
async function cleanup() {
  await Promise.allSettled([...live.workers].map((w) => w.stop()));
  live.workers.clear();
  await Promise.allSettled([...live.fleets].map((f) => f.stop()));
  live.fleets.clear();
  for (const dir of live.dirs) rmSync(dir, { recursive: true, force: true });
  live.dirs.clear();
  await live.sim?.close();
  live.sim = null;
  rmSync(SNAPSHOT, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    say(`\n${signal}: stopping wrangler dev and the simulator`);
    cleanup().finally(() => process.exit(130));
  });
}

async function startWorker(variant, persistTo) {
  const env = { ...workerEnv(live.sim, { CLIENT_ID: CLIENT_IDS[variant] }), BENCH_VARIANT: variant };
  const worker = await WorkerProcess.start({ env, persistTo, config: CONFIG });
  live.workers.add(worker);
  return worker;
}

/** Adds the Worker's last output lines to an error. */
function withOutput(error, worker) {
  if (error instanceof Error && worker && !error.workerOutput) {
    error.workerOutput = worker.lines.slice(-30).join("\n");
    const reloaded = worker.lines.some((line) => line.includes("Reloading local server"));
    const exited = worker.child.exitCode ?? worker.child.signalCode;
    error.message +=
      (reloaded ? "\n(wrangler dev reloaded the Worker: a file it bundles changed)" : "") +
      (exited != null ? `\n(wrangler dev exited: ${exited})` : "") +
      `\n--- last lines of wrangler dev (${worker.url}) ---\n${error.workerOutput}`;
  }
  return error;
}

async function stopWorker(worker) {
  await worker.stop();
  live.workers.delete(worker);
}

function newDir() {
  const dir = tempPersistDir();
  live.dirs.add(dir);
  return dir;
}

function dropDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  live.dirs.delete(dir);
}

async function benchCall(worker, method, path) {
  const response = await fetch(`${worker.url}${path}`, { method });
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}`);
  return response.json();
}

/** Waits until the Worker has no KV call or waitUntil work in flight; returns its counters. */
async function settle(worker, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await benchCall(worker, "GET", "/__bench/stats");
    if ((stats.inflight.kv === 0 && stats.inflight.waitUntil === 0) || Date.now() > deadline) return stats;
    await sleep(50);
  }
}

/** Token requests the simulator saw for a client since its last reset, and how many failed. */
function tokenCounts(clientId) {
  return {
    tokenRequests: live.sim.stats.byClient[clientId] ?? 0,
    tokenErrors: countRequests(requestsOf(live.sim, clientId)).failed,
  };
}

const bodies = loginBodies(SIZES.users);
const load = (worker, options) =>
  runLogins({ url: worker.url, secret: LOGIN_HANDLER_SECRET, bodies, ...options });

/** Measures one load on a running worker: counters reset first, read after everything settled. */
async function measured(worker, variant, loadOptions) {
  await settle(worker);
  live.sim.reset();
  const { isolate } = await benchCall(worker, "POST", "/__bench/reset");
  const cpu0 = workerdCpuMs(worker.child.pid, worker.port);
  const run = await load(worker, loadOptions);
  const stats = await settle(worker);
  if (stats.isolate !== isolate) {
    throw new Error(
      "wrangler dev reloaded the Worker during the measurement (a file it bundles changed: build/, js/, bench/?)",
    );
  }
  const cpu1 = workerdCpuMs(worker.child.pid, worker.port);
  const workerdCpu = cpuPerLogin(cpu0, cpu1, run.logins);
  const { latencies, responseTimes, ...rest } = run;
  return {
    result: {
      ...rest,
      ...tokenCounts(CLIENT_IDS[variant]),
      kv: stats.kv,
      kvReads: stats.kv.get + stats.kv.getWithMetadata + stats.kv.list,
      kvWrites: stats.kv.put + stats.kv.delete,
      latency: summarize(latencies),
      workerdCpuUsPerLogin: workerdCpu.runtime,
      workerdCpuUsPerLoginByProcess: workerdCpu,
    },
    responseTimes,
  };
}

let runLabel = "";
function progress(scenario, variant, r, seconds) {
  const f = (x, d = 1) => formatNumber(x, d);
  say(
    `  ${scenario.padEnd(10)}${runLabel} ${variant.padEnd(5)} ${String(r.logins).padStart(5)} logins ${f(r.loginsPerSecond, 0).padStart(6)}/s` +
      `  p50 ${f(r.latency.p50).padStart(6)}  p95 ${f(r.latency.p95).padStart(6)}  p99 ${f(r.latency.p99).padStart(6)} ms` +
      `  tokens ${String(r.tokenRequests).padStart(5)}  KV ${r.kvReads}r/${r.kvWrites}w  errors ${r.errorTotal}` +
      `  (${seconds.toFixed(1)} s, total ${elapsed()})`,
  );
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const warmDirs = {};

async function warmScenario(variant) {
  const t0 = performance.now();
  const dir = newDir();
  const worker = await startWorker(variant, dir);
  try {
    await load(worker, { connections: 1, amount: 1 }); // the token into KV
    await settle(worker);
    await load(worker, { connections: SIZES.warm.connections, amount: SIZES.warm.warmup }); // JIT, connections
    const { result } = await measured(worker, variant, {
      connections: SIZES.warm.connections,
      amount: SIZES.warm.logins,
    });
    warmDirs[variant] = dir;
    progress("warm", variant, result, (performance.now() - t0) / 1000);
    return result;
  } catch (error) {
    throw withOutput(error, worker);
  } finally {
    await stopWorker(worker);
  }
}

async function restartScenario(variant) {
  const t0 = performance.now();
  const dir = warmDirs[variant];
  if (!dir) throw new Error(`restart needs the warm scenario's KV for ${variant}`);
  const worker = await startWorker(variant, dir);
  try {
    const { result } = await measured(worker, variant, {
      connections: SIZES.restart.connections,
      amount: SIZES.restart.logins,
    });
    progress("restart", variant, result, (performance.now() - t0) / 1000);
    return result;
  } catch (error) {
    throw withOutput(error, worker);
  } finally {
    await stopWorker(worker);
    dropDir(dir);
  }
}

async function coldScenario(variant) {
  const t0 = performance.now();
  const dir = newDir();
  const worker = await startWorker(variant, dir);
  try {
    const { result } = await measured(worker, variant, {
      connections: SIZES.cold.connections,
      amount: SIZES.cold.logins,
    });
    progress("cold burst", variant, result, (performance.now() - t0) / 1000);
    return result;
  } catch (error) {
    throw withOutput(error, worker);
  } finally {
    await stopWorker(worker);
    dropDir(dir);
  }
}

/**
 * All variants at once (one simulator, one client id each), logins at a steady rate over
 * `count` token lifetimes: token requests per lifetime window, the slowest login, and the logins
 * that completed when no token issued to that variant was still live (issued < lifetime ago).
 */
async function lifetimesScenario() {
  const { lifetimeSeconds, count, rate, connections } = SIZES.lifetimes;
  const lifetimeMs = lifetimeSeconds * 1000;
  const duration = lifetimeSeconds * count;
  const workers = {};
  const dirs = {};
  try {
    for (const variant of variants) {
      dirs[variant] = newDir();
      workers[variant] = await startWorker(variant, dirs[variant]);
    }
    live.sim.reset();
    live.sim.setTokenLifetime(lifetimeSeconds);
    const isolates = {};
    for (const variant of variants) {
      isolates[variant] = (await benchCall(workers[variant], "POST", "/__bench/reset")).isolate;
    }
    const cpu0 = Object.fromEntries(
      variants.map((v) => [v, workerdCpuMs(workers[v].child.pid, workers[v].port)]),
    );
    const startedAt = Date.now();
    const ticker = setInterval(() => {
      const t = (Date.now() - startedAt) / 1000;
      const counts = variants.map((v) => `${v} ${live.sim.stats.byClient[CLIENT_IDS[v]] ?? 0}`).join(", ");
      say(`  lifetimes  +${t.toFixed(0)} s of ${duration} s — token requests so far: ${counts}`);
    }, 30_000);
    let runs;
    try {
      runs = await Promise.all(
        variants.map((variant) => load(workers[variant], { connections, overallRate: rate, duration })),
      );
    } finally {
      clearInterval(ticker);
    }
    const endedAt = Date.now();
    const crossed = (endedAt - startedAt) / lifetimeMs;
    const out = {};
    for (const [i, variant] of variants.entries()) {
      const stats = await settle(workers[variant]).catch((error) => {
        throw withOutput(error, workers[variant]);
      });
      if (stats.isolate !== isolates[variant]) {
        throw withOutput(
          new Error(`wrangler dev reloaded the ${variant} Worker during the measurement`),
          workers[variant],
        );
      }
      const workerdCpu = cpuPerLogin(
        cpu0[variant],
        workerdCpuMs(workers[variant].child.pid, workers[variant].port),
        runs[i].logins,
      );
      const { latencies, responseTimes, ...rest } = runs[i];
      const requests = requestsOf(live.sim, CLIENT_IDS[variant]);
      // Requests still in flight when autocannon stopped land just past the end: last window.
      const perLifetime = perWindow(requests, startedAt, lifetimeMs, Math.round(crossed));
      let slowest = [startedAt, -1];
      let slowestSteady = [startedAt, -1]; // after the first 10 s (the cold start)
      for (const [at, ms] of responseTimes) {
        if (ms > slowest[1]) slowest = [at, ms];
        if (at - ms - startedAt >= 10_000 && ms > slowestSteady[1]) slowestSteady = [at, ms];
      }
      const uncovered = loginsWithoutLiveToken(responseTimes, requests, lifetimeMs);
      out[variant] = {
        ...rest,
        ...tokenCounts(CLIENT_IDS[variant]),
        kv: stats.kv,
        kvReads: stats.kv.get + stats.kv.getWithMetadata + stats.kv.list,
        kvWrites: stats.kv.put + stats.kv.delete,
        latency: summarize(latencies),
        workerdCpuUsPerLogin: workerdCpu.runtime,
        workerdCpuUsPerLoginByProcess: workerdCpu,
        perLifetime,
        tokenRequestsPerLifetime: requests.length / crossed,
        slowestAtSeconds: (slowest[0] - startedAt) / 1000,
        slowestAfterStartMs: slowestSteady[1] >= 0 ? slowestSteady[1] : null,
        slowestAfterStartAtSeconds: slowestSteady[1] >= 0 ? (slowestSteady[0] - startedAt) / 1000 : null,
        loginsWithoutLiveToken: uncovered,
      };
      progress("lifetimes", variant, out[variant], (endedAt - startedAt) / 1000);
    }
    return { variants: out, lifetimesCrossed: crossed };
  } finally {
    for (const variant of Object.keys(workers)) await stopWorker(workers[variant]);
    for (const dir of Object.values(dirs)) dropDir(dir);
  }
}

/**
 * One variant's figures over repeated runs: the median of each figure (latency percentiles point
 * by point), errors summed over all runs, and every run kept under `runs`.
 */
function medianRun(list) {
  if (list.length === 1) return list[0];
  const med = (values) => {
    const xs = values.filter((x) => x != null).sort((a, b) => a - b);
    if (!xs.length) return null;
    const mid = xs.length / 2;
    return xs.length % 2 ? xs[Math.floor(mid)] : (xs[mid - 1] + xs[mid]) / 2;
  };
  const pick = (f) => med(list.map(f));
  const sumErrors = (key) => list.reduce((total, r) => total + r.errors[key], 0);
  return {
    logins: pick((r) => r.logins),
    ok: pick((r) => r.ok),
    errors: {
      http: sumErrors("http"),
      failed: sumErrors("failed"),
      socket: sumErrors("socket"),
      timeouts: sumErrors("timeouts"),
    },
    errorTotal: list.reduce((total, r) => total + r.errorTotal, 0),
    durationMs: pick((r) => r.durationMs),
    loginsPerSecond: pick((r) => r.loginsPerSecond),
    tokenRequests: pick((r) => r.tokenRequests),
    tokenErrors: list.reduce((total, r) => total + r.tokenErrors, 0),
    kvReads: pick((r) => r.kvReads),
    kvWrites: pick((r) => r.kvWrites),
    latency: {
      count: pick((r) => r.latency.count),
      p50: pick((r) => r.latency.p50),
      p95: pick((r) => r.latency.p95),
      p99: pick((r) => r.latency.p99),
      min: pick((r) => r.latency.min),
      max: pick((r) => r.latency.max),
      mean: pick((r) => r.latency.mean),
      curve: list[0].latency.curve.map(({ p }, i) => ({ p, ms: pick((r) => r.latency.curve[i]?.ms) })),
    },
    workerdCpuUsPerLogin: pick((r) => r.workerdCpuUsPerLogin),
    workerdCpuUsPerLoginByProcess: Object.fromEntries(
      ["runtime", "proxy", "all", "wrangler"].map((role) => [
        role,
        pick((r) => r.workerdCpuUsPerLoginByProcess?.[role]),
      ]),
    ),
    runs: list.map(({ latency, ...rest }) => ({ ...rest, latency: { ...latency, curve: undefined } })),
  };
}

/** Runs bench/<script> of the snapshot with --json in a child process; its last stdout line. */
function nodeJson(script, scriptArgs) {
  // --expose-gc: the CPU bench collects garbage before each measured round, so no round pays for
  // the garbage of the one before it.
  const child = spawnSync(
    process.execPath,
    ["--expose-gc", join(SNAPSHOT, "bench", script), "--json", ...scriptArgs],
    {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 16 * 2 ** 20,
    },
  );
  if (child.status !== 0) throw new Error(`bench/${script} failed:\n${child.stderr}${child.stdout}`);
  return JSON.parse(child.stdout.trim().split("\n").pop());
}

// ---------------------------------------------------------------------------------------------

function machine() {
  const cpus = os.cpus();
  const wranglerVersion = JSON.parse(
    readFileSync(join(root, "node_modules", "wrangler", "package.json"), "utf8"),
  ).version;
  return {
    cpuModel: cpus[0]?.model?.trim() ?? "unknown CPU",
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    wrangler: wranglerVersion,
  };
}

const repeated = () =>
  SIZES.repeat > 1
    ? `Median of ${SIZES.repeat} runs (variants in rotated order; errors summed over all runs). Each run: `
    : "";

const DESCRIPTIONS = {
  warm: () =>
    `${repeated()}${formatNumber(SIZES.warm.logins)} signed logins at concurrency ${SIZES.warm.connections} on a warm cache ` +
    `(one login put the token in KV, then ${SIZES.warm.warmup} unmeasured warm-up logins; ${SIZES.users} distinct users).`,
  restart: () =>
    `${repeated()}\`wrangler dev\` restarted on the warm scenario's persisted KV (a fresh isolate), then ${SIZES.restart.logins} logins ` +
    `at concurrency ${SIZES.restart.connections}.`,
  cold: () =>
    `${repeated()}${SIZES.cold.logins} logins at once (${SIZES.cold.connections} connections, one login each) on an empty KV, ` +
    `right after \`wrangler dev\` started.`,
  lifetimes: (crossed) =>
    `Simulator tokens of ${SIZES.lifetimes.lifetimeSeconds} s; ${SIZES.lifetimes.rate} logins/s per variant for ` +
    `${SIZES.lifetimes.count} lifetimes (${formatNumber(crossed, 2)} crossed), the three variants running at the same ` +
    `time against one simulator (so latencies here are not comparable with the other scenarios). ` +
    `"Logins without a live token": logins that completed when no token issued to that variant was younger than ` +
    `the token lifetime — the variant can only have had an expired token (or none).`,
};

async function main() {
  const m = machine();
  say(`bench: ${m.cpuModel} × ${m.cores} cores, ${m.os}, Node ${m.node}, wrangler ${m.wrangler}`);
  say(
    `variants: ${FLEET_ONLY ? "(fleet only)" : variants.join(", ")}${FLEET ? `; fleet: ${SIZES.fleet.size} processes × ${fleetVariants.join(", ")}` : ""}` +
      `${Q ? "  (QUICK: reduced sizes, results in bench/results/tmp/)" : ""}\n`,
  );

  const results = {
    generatedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    quick: Q,
    machine: m,
    config: { ...SIZES, fleet: FLEET ? SIZES.fleet : undefined },
    wasm: null,
    cpu: null,
    scenarios: {},
  };

  // The wasm module and CPU per login first, while nothing else runs on the machine; both in
  // child processes, on the snapshot.
  let t = performance.now();
  if (!FLEET_ONLY)
    results.wasm = nodeJson("wasm.js", ["--runs", String(SIZES.wasmRuns), "--crate-wasm", CRATE_WASM]);
  if (results.wasm) {
    say(
      `  wasm       ${results.wasm.path} ${formatNumber(results.wasm.rawBytes)} B raw, ${formatNumber(results.wasm.gzipBytes)} B gzip; ` +
        `compile+instantiate ${formatNumber(results.wasm.compileInstantiateMs, 2)} ms (median of ${results.wasm.runs})` +
        `  (${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
  }
  if (!args["skip-cpu"] && !FLEET_ONLY) {
    t = performance.now();
    results.cpu = nodeJson("cpu.js", [
      "--hits",
      String(SIZES.cpu.hits),
      "--misses",
      String(SIZES.cpu.misses),
      "--rounds",
      String(SIZES.cpu.rounds),
    ]);
    const c = results.cpu;
    say(
      `  cpu        µs per login — ours hit ${formatNumber(c.hit.ours.cpuUsPerLogin)}, miss ${formatNumber(c.miss.ours.cpuUsPerLogin)}; ` +
        `seed hit ${formatNumber(c.hit.seed.cpuUsPerLogin)}, miss ${formatNumber(c.miss.seed.cpuUsPerLogin)}; ` +
        `runtime alone ${formatNumber(c.hit.runtime.cpuUsPerLogin)}  (${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
  }

  const clientIds = [
    ...variants.map((v) => CLIENT_IDS[v]),
    ...(FLEET ? fleetVariants.map((v) => FLEET_CLIENT_IDS[v]) : []),
  ];
  live.sim = await startTenant({
    clients: clientIds.map((clientId) => ({ clientId, clientSecret: CLIENT_SECRET })),
  });
  await assertSignerAgrees(LOGIN_HANDLER_SECRET);

  const wanted = FLEET_ONLY ? [] : args.scenarios.split(",").map((x) => x.trim());
  if (wanted.includes("restart") && !wanted.includes("warm")) wanted.push("warm"); // restart reuses warm's KV
  const plan = [
    ["warm", warmScenario],
    ["restart", restartScenario],
    ["cold", coldScenario],
  ].filter(([key]) => wanted.includes(key));
  const runs = Object.fromEntries(
    plan.map(([key]) => [key, Object.fromEntries(variants.map((v) => [v, []]))]),
  );
  for (let rep = 0; rep < SIZES.repeat; rep++) {
    const order = variants.map((_, i) => variants[(i + rep) % variants.length]);
    runLabel = SIZES.repeat > 1 ? ` ${rep + 1}/${SIZES.repeat}` : "";
    for (const [key, scenario] of plan) {
      for (const variant of order) runs[key][variant].push(await scenario(variant));
    }
  }
  runLabel = "";
  for (const [key] of plan) {
    const out = { description: DESCRIPTIONS[key](), variants: {} };
    for (const variant of variants) out.variants[variant] = medianRun(runs[key][variant]);
    out.ratios = scenarioRatios(out);
    results.scenarios[key] = out;
  }
  if (args.lifetimes && !FLEET_ONLY) {
    say(
      `  lifetimes  ${SIZES.lifetimes.count} × ${SIZES.lifetimes.lifetimeSeconds} s token lifetimes, all variants at once (~${Math.ceil((SIZES.lifetimes.count * SIZES.lifetimes.lifetimeSeconds) / 60)} min)`,
    );
    const { variants: out, lifetimesCrossed } = await lifetimesScenario();
    const scenario = {
      description: DESCRIPTIONS.lifetimes(lifetimesCrossed),
      config: { ...SIZES.lifetimes, lifetimesCrossed },
      variants: out,
    };
    scenario.ratios = scenarioRatios(scenario);
    results.scenarios.lifetimes = scenario;
  }
  if (FLEET) {
    const { size, lifetimes, misconfig } = SIZES.fleet;
    say(
      `  fleet      ${size} processes per variant, one variant at a time: ${fleetScenarios.join(", ")}` +
        ` (lifetimes ${lifetimes.count} × ${lifetimes.lifetimeSeconds} s, misconfig ${misconfig.seconds} s)`,
    );
    results.fleet = await runFleet({
      sim: live.sim,
      sizes: SIZES.fleet,
      variants: fleetVariants,
      scenarios: fleetScenarios,
      benchConfig: CONFIG,
      say,
      elapsed,
      track: (fleet) => live.fleets.add(fleet),
      untrack: (fleet) => live.fleets.delete(fleet),
    });
  }
  await cleanup();

  addNotes(results);
  results.durationSeconds = Math.round((performance.now() - started) / 1000);
  mkdirSync(OUT_DIR, { recursive: true });
  const { fleet, ...single } = results;
  const files = {};
  if (!FLEET_ONLY) {
    files.json = join(OUT_DIR, "latest.json");
    files.md = join(OUT_DIR, "latest.md");
    files.svg = join(OUT_DIR, "latest.svg");
    writeFileSync(files.json, `${JSON.stringify(single, null, 2)}\n`);
    writeFileSync(files.md, markdown(single));
    writeFileSync(files.svg, await renderSvg(single));
    say(`\n${consoleTable(single)}\n`);
  }
  if (fleet) {
    const { scenarios, cpu, wasm, ...about } = single;
    files.fleetJson = join(OUT_DIR, "fleet.json");
    files.fleetMd = join(OUT_DIR, "fleet.md");
    writeFileSync(files.fleetJson, `${JSON.stringify({ ...about, fleet }, null, 2)}\n`);
    writeFileSync(files.fleetMd, fleetMarkdown(results));
    say(`\n${fleetConsoleTable(fleet)}\n`);
  }
  say(
    `wrote ${Object.values(files)
      .map((f) => relative(root, f))
      .join(", ")} in ${elapsed()}`,
  );
  const failed = [...Object.values(results.scenarios), ...Object.values(results.fleet?.scenarios ?? {})].some(
    (s) => Object.values(s.variants).some((v) => v.errorTotal > 0),
  );
  if (failed) {
    say("some logins failed (errors column): see the Worker output above or rerun with fewer variants");
    process.exitCode = 1;
  }
}

/** Observations that the numbers alone do not say (only when they hold in this run). */
function addNotes(results) {
  for (const [key, scenario] of Object.entries(results.scenarios)) {
    const notes = [];
    const { ours, seed } = scenario.variants;
    if (ours && seed) {
      const slower = ["p50", "p95", "p99"].filter((p) => ours.latency[p] > seed.latency[p] * 1.05);
      if (slower.length) {
        notes.push(
          `ours is slower than seed here at ${slower.join(", ")} (more than 5%); see bench/README.md ("Reading the results").`,
        );
      }
      if (ours.tokenRequests > seed.tokenRequests) {
        notes.push(
          `ours made more token requests than seed (${ours.tokenRequests} vs ${seed.tokenRequests})` +
            (key === "lifetimes"
              ? ": it replaces each token before it expires; seed never does (next note)."
              : "."),
        );
      }
    }
    if (key === "warm") {
      const parts = Object.entries(scenario.variants)
        .filter(([, v]) => v.workerdCpuUsPerLoginByProcess?.wrangler != null)
        .map(
          ([name, v]) =>
            `${name}: Worker's workerd ${formatNumber(v.workerdCpuUsPerLoginByProcess.runtime)} µs, ` +
            `proxy workerd ${formatNumber(v.workerdCpuUsPerLoginByProcess.proxy)} µs, ` +
            `wrangler's Node ${formatNumber(v.workerdCpuUsPerLoginByProcess.wrangler)} µs`,
        );
      if (parts.length) {
        notes.push(
          `CPU per login in each wrangler dev process (the table's column is the first): ${parts.join("; ")}. ` +
            "The proxy and wrangler's Node are local-development overhead that production does not have.",
        );
      }
    }
    if (Object.values(scenario.variants).some((v) => v.runs)) {
      const per = Object.entries(scenario.variants)
        .map(([name, v]) => `${name} ${v.runs.map((r) => formatNumber(r.latency.p50, 1)).join(" / ")}`)
        .join("; ");
      notes.push(`p50 ms of each run (the table shows medians): ${per}.`);
    }
    for (const [name, v] of Object.entries(scenario.variants)) {
      const tokens = v.runs?.map((r) => r.tokenRequests) ?? [];
      if (new Set(tokens).size > 1) {
        notes.push(`${name}: token requests per run ${tokens.join(" / ")} (the table shows the median).`);
      }
    }
    if (key === "cold" && seed?.runs && new Set(seed.runs.map((r) => r.tokenRequests)).size > 1) {
      notes.push(
        "seed's count in a burst depends on timing: the runtime shares the trigger cache within the isolate, " +
          "so logins that reach the Action after the first token came back see it; the others each request one.",
      );
    }
    for (const [name, v] of Object.entries(scenario.variants)) {
      if (v.tokenErrors) notes.push(`${name}: ${v.tokenErrors} token requests were answered with an error.`);
      if (v.errorTotal) notes.push(`${name}: ${v.errorTotal} failed logins (${JSON.stringify(v.errors)}).`);
    }
    if (key === "lifetimes" && seed?.loginsWithoutLiveToken) {
      notes.push(
        `seed caches for 86,000 s whatever the token's lifetime, so after the first ${SIZES.lifetimes.lifetimeSeconds} s it keeps ` +
          `serving an expired token: its low token count here is a bug, not a saving.`,
      );
    }
    if (notes.length) scenario.notes = notes;
  }
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  say(`\nbench failed: ${error?.stack ?? error}`);
  for (const worker of live.workers)
    say(`--- last lines of wrangler dev ---\n${worker.lines.slice(-30).join("\n")}`);
} finally {
  await cleanup();
}
