// An in-process stack for hostile-input tests: the real login handler, the real Rust/wasm Action
// (the Node build in build/node; its ManagementApi answers api.groups), the fake KV
// (fake-kv.js), a `ctx.waitUntil` collector and the tenant simulator (simulator.js) on
// loopback, with `globalThis.fetch` counting what the Action asks and refusing any other host.
// One stack is one isolate: the handler's trigger cache and the wasm module's token memory live
// as long as the process.
//
// Everything the stack logs goes to `logs` (console is captured before the handler is loaded,
// because js/log.js binds console's methods at import time), and every log line and response is
// checked for the secrets and the issued token as it is produced.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fakeKv } from "./fake-kv.js";
import { signedLoginRequest } from "./requests.js";
import { startSimulator } from "./simulator.js";

const NODE_BUILD = new URL("../../build/node/index.js", import.meta.url);
if (!existsSync(fileURLToPath(NODE_BUILD))) {
  throw new Error("build/node/index.js is missing: run `node scripts/build.js` first");
}

/** Every console line written while the stack is loaded (capped), and lines that leaked a secret. */
export const logs = [];
export const leaks = [];
const MAX_LOGS = 2000;
const forbidden = [];
/** The secrets, and every token the simulators issued and its signature. */
const secrets = function* () {
  yield* forbidden;
  for (const sim of simulators) {
    for (const token of sim.issuedTokens) yield* [token, token.split(".")[2]].filter(Boolean);
  }
};
const simulators = [];

const originalConsole = { log: console.log, info: console.info, warn: console.warn, error: console.error };
for (const method of Object.keys(originalConsole)) {
  console[method] = (...args) => {
    const line = args.map((a) => (typeof a === "string" ? a : String(a))).join(" ");
    for (const secret of secrets()) {
      if (line.includes(secret)) leaks.push({ where: `console.${method}`, line: line.slice(0, 200) });
    }
    if (logs.length < MAX_LOGS) logs.push(line);
  };
}

/** Puts console back (the stack keeps logging into the captured sinks of js/log.js). */
export function restoreConsole() {
  Object.assign(console, originalConsole);
}

const { createLoginHandler } = await import("../../js/handler.js");
const wasmAction = await import(NODE_BUILD.href);
// After the console capture above: js/log.js binds console's methods when it loads.
const { bindPostLoginActions } = await import("../../js/actions.js");
const { managementTenantSource } = await import("../../js/runtime/tenant.js");

export const URL_BASE = "https://login.example.com";
export const CLIENT_ID = "hostile-test-client-id";
export const CLIENT_SECRET = "cs-7f3a9c1e5b2d4f6a8c0e2a4b6d8f0a1c";
export const LOGIN_HANDLER_SECRET = "lhs-0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
forbidden.push(CLIENT_SECRET, LOGIN_HANDLER_SECRET);

/**
 * The simulator as the Action's tenant: `globalThis.fetch` passes requests for it through and
 * answers 404 for any other host. `tenant` counts token requests (and those the simulator
 * refused: a wrong client, secret or audience), other requests, and lists the issued tokens.
 */
async function startTenant() {
  const sim = await startSimulator({ clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }] });
  simulators.push(sim);
  const tenant = {
    sim,
    get tokenRequests() {
      return sim.stats.tokenRequests;
    },
    get badTokenRequests() {
      return sim.requests.filter((r) => r.status !== 200).length;
    },
    otherRequests: 0,
    get issued() {
      return sim.issuedTokens;
    },
  };
  const fetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    const isTokenRequest = url.origin === sim.url && url.pathname === "/oauth/token";
    if (!isTokenRequest) tenant.otherRequests++;
    if (url.origin !== sim.url) return new Response('{"error":"not_found"}', { status: 404 });
    return fetch(input, init);
  };
  return tenant;
}

/**
 * The Actions of the trigger: the shipped binding (js/actions.js) over the Node build of the wasm
 * Action, its `onExecutePostLogin` wrapped with a call counter. A second, JS Action (`probe`)
 * runs after it; `probe.onExecute` can be swapped per test (default: nothing).
 */
function bindActions() {
  const counts = { wasm: 0, probe: 0 };
  const probe = { onExecute: null, lastEvent: null };
  const [shipped] = bindPostLoginActions(wasmAction);
  const actions = [
    {
      ...shipped,
      onExecutePostLogin(event, api, waitUntil) {
        counts.wasm++;
        return shipped.onExecutePostLogin(event, api, waitUntil);
      },
    },
    {
      name: "probe",
      async onExecutePostLogin(event, api) {
        counts.probe++;
        probe.lastEvent = event;
        await probe.onExecute?.(event, api);
      },
    },
  ];
  return { actions, counts, probe };
}

/**
 * The stack (a promise of it; `close()` it when done). `send(request)` never throws for a handler failure: it reports it as `threw`.
 * Each call returns the response (status, headers, raw text, parsed JSON or `undefined`) and
 * what the request cost (`delta`: Action calls, KV operations, token and other tenant requests,
 * waitUntil promises), measured after its waitUntil work settled.
 */
export async function createStack({ env: envOverrides = {} } = {}) {
  const tenant = await startTenant();
  const kv = fakeKv();
  const { actions, counts, probe } = bindActions();
  // api.groups as in the Worker entry: the Rust Action's Management API client.
  const handler = createLoginHandler({
    actions,
    now: Date.now,
    tenant: managementTenantSource(wasmAction.ManagementApi, actions[0]),
  });
  const env = {
    AUTH0_CUSTOM_DOMAIN: tenant.sim.url,
    CLIENT_ID,
    CLIENT_SECRET,
    ACCOUNT_API: tenant.sim.managementAudience,
    LOGIN_HANDLER_SECRET,
    ACTIONS_CACHE: kv,
    ...envOverrides,
  };
  const waitUntilFailures = [];
  let waitUntilCount = 0;

  const snapshot = () => ({
    wasmCalls: counts.wasm,
    probeCalls: counts.probe,
    kvGets: kv.gets,
    kvPuts: kv.puts,
    kvDeletes: kv.deletes,
    tokenRequests: tenant.tokenRequests,
    otherRequests: tenant.otherRequests,
    waitUntil: waitUntilCount,
  });

  async function send(request) {
    const before = snapshot();
    const pending = [];
    const ctx = {
      waitUntil(promise) {
        waitUntilCount++;
        pending.push(promise);
      },
    };
    let response;
    let threw = null;
    try {
      response = await handler.fetch(request, env, ctx);
    } catch (error) {
      threw = error;
    }
    for (const outcome of await Promise.allSettled(pending)) {
      if (outcome.status === "rejected") waitUntilFailures.push(outcome.reason);
    }
    const after = snapshot();
    const delta = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
    if (threw) return { threw, delta };
    const text = await response.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const headerText = [...response.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
    for (const secret of secrets()) {
      if (text.includes(secret) || headerText.includes(secret)) {
        leaks.push({ where: `response ${response.status}`, line: text.slice(0, 200) });
      }
    }
    return { status: response.status, headers: response.headers, text, body, delta };
  }

  /** A POST /post-login request with `body` (string or bytes), signed now unless told otherwise. */
  const signedRequest = (body, options = {}) =>
    signedLoginRequest(URL_BASE, body, { secret: LOGIN_HANDLER_SECRET, ...options });

  /** Stops the simulator (the process can then exit). */
  const close = () => tenant.sim.close();

  return { handler, env, kv, tenant, counts, probe, waitUntilFailures, send, signedRequest, snapshot, close };
}
