// CPU per login outside workerd: the same login handler, Actions runtime and wasm Action (its
// Node build), driven in Node with the tests' fake KV and a replayed simulator token answer, measured with
// process.cpuUsage (user + system). Run by bench/run.js in a child process; on its own:
//
//   node --expose-gc bench/cpu.js [--hits 10000] [--misses 1000] [--rounds 3] [--json]
//
// A hit login: one handler and one KV, primed by one login (so for *ours* the token is in the
// isolate-memory tier as well, as in a warm isolate). A miss login: a fresh KV, a fresh handler
// and (for every variant) a fresh CLIENT_ID, so no tier can serve it; the fake endpoint counts
// the token requests, and the run fails if a hit requested one or a miss did not.
// Warm-up logins run before every measured round; the median round is reported.

import module from "node:module";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";

import { loginEvent } from "../tests/support/events.js";
import { fakeKv } from "../tests/support/fake-kv.js";
import { startSimulator } from "../tests/support/simulator.js";

// The runtime's logger binds console's methods when it is loaded: silence them first, so a login
// pays for building its log records but not for terminal output. Results go to stdout directly.
const out = (text) => process.stdout.write(`${text}\n`);
for (const method of ["log", "info", "warn", "error", "debug"]) console[method] = () => {};

const LOGIN_HANDLER_SECRET = "bench-login-handler-secret";
const TENANT = "bench-tenant.eu.auth0.com";
const ACCOUNT_API = `https://${TENANT}/api/v2/`;
const USERS = 50;

const CLIENT_SECRET = "bench-client-secret-0123456789";

/**
 * The token endpoint every login's fetch reaches: one real answer of the tenant simulator,
 * obtained once and replayed, so the measured CPU holds no RS256 signing and no HTTP. Counts the
 * token requests.
 */
const fakeEndpoint = { requests: 0, body: "" };
async function installTokenEndpoint() {
  const sim = await startSimulator({
    clients: [{ clientId: "bench-client", clientSecret: CLIENT_SECRET, audiences: [ACCOUNT_API] }],
  });
  try {
    const response = await fetch(`${sim.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: "bench-client",
        client_secret: CLIENT_SECRET,
        audience: ACCOUNT_API,
      }),
    });
    fakeEndpoint.body = await response.text();
    if (response.status !== 200) throw new Error(`the simulator answered ${response.status}`);
  } finally {
    await sim.close();
  }
  globalThis.fetch = async (_url, init) => {
    fakeEndpoint.requests++;
    if (typeof init?.body === "string") JSON.parse(init.body);
    return new Response(fakeEndpoint.body, { status: 200, headers: { "content-type": "application/json" } });
  };
}

function envFor(clientId) {
  return {
    AUTH0_CUSTOM_DOMAIN: TENANT,
    CLIENT_ID: clientId,
    CLIENT_SECRET,
    ACCOUNT_API,
    LOGIN_HANDLER_SECRET,
    ON_TOKEN_ERROR: "continue",
  };
}

async function signedBodies(signBody) {
  const now = Date.now() / 1000;
  return Promise.all(
    Array.from({ length: USERS }, async (_, i) => {
      const body = JSON.stringify(loginEvent(`auth0|cpu-user-${i}`));
      return { body, signature: await signBody(body, LOGIN_HANDLER_SECRET, now) };
    }),
  );
}

function request({ body, signature }) {
  return new Request("https://login.example.com/post-login", {
    method: "POST",
    headers: { "content-type": "application/json", "x-signature": signature },
    body,
  });
}

/** One login: the response, then every waitUntil promise (the KV write-back). */
async function login(handler, req, env) {
  const pending = [];
  const ctx = { waitUntil: (p) => pending.push(p), passThroughOnException() {} };
  const response = await handler.fetch(req, env, ctx);
  if (response.status !== 200) throw new Error(`login answered ${response.status}: ${await response.text()}`);
  const result = await response.json();
  await Promise.all(pending);
  if (result.access.denied || result.error) throw new Error(`login failed: ${JSON.stringify(result)}`);
}

/** CPU and wall time of `fn` (which performs `count` logins), per login in µs. */
async function measure(count, fn) {
  // Start every measured round with an empty heap (node --expose-gc): otherwise a round pays for
  // the garbage of the round before it, and the order of the variants biases the figures.
  globalThis.gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    logins: count,
    cpuUsPerLogin: (cpu.user + cpu.system) / count,
    userUsPerLogin: cpu.user / count,
    systemUsPerLogin: cpu.system / count,
    wallUsPerLogin: (wallMs * 1000) / count,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
};

function medianRound(rounds) {
  const chosen = median(rounds.map((r) => r.cpuUsPerLogin));
  const round = rounds.find((r) => r.cpuUsPerLogin === chosen);
  return { ...round, rounds: rounds.map((r) => Math.round(r.cpuUsPerLogin * 10) / 10) };
}

export async function runCpuBench({ hits = 10_000, misses = 1_000, rounds = 3 } = {}) {
  // First import of the Action in this process: read, compile and instantiate the wasm module
  // and evaluate its JS glue (what a fresh isolate pays once).
  module.register(new URL("./lib/node-hooks.js", import.meta.url));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const wasm = await import("../build/index.js"); // → build/node/index.js (lib/node-hooks.js)
  const instantiation = { wallMs: performance.now() - t0, cpuMs: 0 };
  const cpu = process.cpuUsage(cpu0);
  instantiation.cpuMs = (cpu.user + cpu.system) / 1000;

  const { createLoginHandler } = await import("../js/handler.js");
  const { signBody } = await import("../js/signature.js");
  const { actionsFor, shippedActions } = await import("./actions/index.js");
  const postLoginActions = shippedActions(await import("../js/actions.js"), wasm);
  await installTokenEndpoint();
  const bodies = await signedBodies(signBody);
  const variants = {
    ours: actionsFor("ours", postLoginActions),
    seed: actionsFor("seed", postLoginActions),
    // The runtime alone: signature check, event validation, KV read, an Action that does nothing.
    runtime: [{ name: "empty", onExecutePostLogin: async () => {}, secrets: [], configuration: [] }],
  };

  const hitRounds = { ours: [], seed: [], runtime: [] };
  const missRounds = { ours: [], seed: [] };
  const hitState = {};
  for (const [name, actions] of Object.entries(variants)) {
    const handler = createLoginHandler({ actions });
    const env = envFor(`bench-hit-${name}`);
    env.ACTIONS_CACHE = fakeKv();
    const before = fakeEndpoint.requests;
    await login(handler, request(bodies[0]), env);
    const expected = name === "runtime" ? 0 : 1;
    if (fakeEndpoint.requests - before !== expected) {
      throw new Error(`${name}: the priming login made ${fakeEndpoint.requests - before} token requests`);
    }
    hitState[name] = { handler, env };
  }

  let missSerial = 0;
  async function missRound(name, count, record) {
    const logins = Array.from({ length: count }, (_, i) => {
      const env = envFor(`bench-miss-${name}-${++missSerial}`);
      env.ACTIONS_CACHE = fakeKv();
      return {
        handler: createLoginHandler({ actions: variants[name] }),
        env,
        req: request(bodies[i % USERS]),
      };
    });
    const before = fakeEndpoint.requests;
    const result = await measure(count, async () => {
      for (const { handler, req, env } of logins) await login(handler, req, env);
    });
    if (fakeEndpoint.requests - before !== count) {
      throw new Error(`${name}: ${count} miss logins made ${fakeEndpoint.requests - before} token requests`);
    }
    if (record) missRounds[name].push(result);
  }

  async function hitRound(name, count, record) {
    const { handler, env } = hitState[name];
    const reqs = Array.from({ length: count }, (_, i) => request(bodies[i % USERS]));
    const before = fakeEndpoint.requests;
    const result = await measure(count, async () => {
      for (const req of reqs) await login(handler, req, env);
    });
    if (fakeEndpoint.requests !== before) {
      throw new Error(`${name}: ${count} hit logins made ${fakeEndpoint.requests - before} token requests`);
    }
    if (record) hitRounds[name].push(result);
  }

  // Warm-up (JIT, wasm tier-up), then interleaved measured rounds.
  for (const name of Object.keys(variants)) await hitRound(name, Math.min(hits, 2_000), false);
  for (const name of Object.keys(missRounds)) await missRound(name, Math.min(misses, 200), false);
  // Rotate the order every round, so no variant always runs right after the same other one.
  const rotate = (names, round) => names.map((_, i) => names[(i + round) % names.length]);
  for (let round = 0; round < rounds; round++) {
    for (const name of rotate(Object.keys(variants), round)) await hitRound(name, hits, true);
    for (const name of rotate(Object.keys(missRounds), round)) await missRound(name, misses, true);
  }

  // The Action call alone on a hit, without the runtime around it: what the Action itself costs
  // per login, which the whole-login figures above cannot resolve (their noise is larger).
  const { TriggerCache } = await import("../js/runtime/cache.js");
  const { createPostLoginApi, emptyResult, MetadataBatch } = await import("../js/runtime/api.js");
  const aloneCalls = hits * 10;
  const alone = { ours: [], seed: [] };
  const aloneState = {};
  for (const name of Object.keys(alone)) {
    const [binding] = variants[name];
    const env = envFor(`bench-alone-${name}`);
    const pick = (names) =>
      Object.freeze(
        Object.fromEntries(names.filter((k) => typeof env[k] === "string").map((k) => [k, env[k]])),
      );
    const cache = new TriggerCache();
    const api = createPostLoginApi(
      { result: emptyResult(), metadata: new MetadataBatch({ user_id: "auth0|alone" }), cache },
      name,
    );
    const event = {
      user: { user_id: "auth0|alone" },
      secrets: pick(binding.secrets ?? []),
      configuration: pick(binding.configuration ?? []),
    };
    const before = fakeEndpoint.requests;
    await binding.onExecutePostLogin(event, api); // the one miss: a token into memory and cache
    if (fakeEndpoint.requests - before !== 1) throw new Error(`${name}: priming the Action alone failed`);
    aloneState[name] = { binding, event, api };
  }
  async function aloneRound(name, count, record) {
    const { binding, event, api } = aloneState[name];
    const before = fakeEndpoint.requests;
    const result = await measure(count, async () => {
      for (let i = 0; i < count; i++) await binding.onExecutePostLogin(event, api);
    });
    if (fakeEndpoint.requests !== before)
      throw new Error(`${name}: a hit of the Action alone requested a token`);
    if (record) alone[name].push(result);
  }
  for (const name of Object.keys(alone)) await aloneRound(name, aloneCalls / 5, false);
  for (let round = 0; round < rounds; round++) {
    for (const name of rotate(Object.keys(alone), round)) await aloneRound(name, aloneCalls, true);
  }

  return {
    hitsPerRound: hits,
    missesPerRound: misses,
    rounds,
    instantiation,
    actionAlone: {
      callsPerRound: aloneCalls,
      ...Object.fromEntries(Object.entries(alone).map(([k, v]) => [k, medianRound(v)])),
    },
    hit: Object.fromEntries(Object.entries(hitRounds).map(([k, v]) => [k, medianRound(v)])),
    miss: Object.fromEntries(Object.entries(missRounds).map(([k, v]) => [k, medianRound(v)])),
    tokenRequests: fakeEndpoint.requests,
  };
}

if (import.meta.url === new URL(process.argv[1], "file:").href) {
  const { values } = parseArgs({
    options: {
      hits: { type: "string", default: "10000" },
      misses: { type: "string", default: "1000" },
      rounds: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
    },
  });
  const result = await runCpuBench({
    hits: Number(values.hits),
    misses: Number(values.misses),
    rounds: Number(values.rounds),
  });
  if (values.json) {
    out(JSON.stringify(result));
  } else {
    const f = (x) => x.toFixed(1).padStart(8);
    out(
      `module instantiation: ${result.instantiation.wallMs.toFixed(1)} ms wall, ${result.instantiation.cpuMs.toFixed(1)} ms CPU`,
    );
    out(`CPU µs per login (median of ${result.rounds} rounds)      hit     miss`);
    for (const name of ["ours", "seed", "runtime"]) {
      out(
        `  ${name.padEnd(44)}${f(result.hit[name].cpuUsPerLogin)} ${result.miss[name] ? f(result.miss[name].cpuUsPerLogin) : "       —"}`,
      );
    }
    out(
      `Action call alone on a hit (µs per call, median of ${result.rounds} rounds of ${result.actionAlone.callsPerRound}): ` +
        `ours ${result.actionAlone.ours.cpuUsPerLogin.toFixed(2)}, seed ${result.actionAlone.seed.cpuUsPerLogin.toFixed(2)}`,
    );
  }
}
