// Starts the whole local stack: the Auth0 tenant simulator (in this process) and `wrangler dev`
// serving the login handler with local KV. Used by the demo, the end-to-end tests and the
// benchmark. Everything it starts it stops.

import { execFile, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

import { signBody } from "../../js/signature.js";
import { startSimulator } from "./simulator.js";
import { loginEvent } from "./events.js";

export { loginEvent };
import { root } from "../../scripts/lib/setup.js";

// wrangler colours console.error output even when told not to.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

export const LOGIN_HANDLER_SECRET = "test-login-handler-secret-7f3a9c";
export const CLIENT_ID = "edge-m2m-client";
export const CLIENT_SECRET = "edge-m2m-client-secret-d41d8cd98f";

/**
 * The run's transcript, for the secret-hygiene check (tests/hygiene.test.js): every line a
 * Worker printed, every response body, every token the simulator issued and every secret a
 * Worker was given. Recorded into $E2E_TRANSCRIPT_DIR when set (`npm test` sets it).
 */
export const record = {
  lines: (lines) => append("lines", lines),
  response: (text) => append("responses", [text]),
  tokens: (tokens) => append("tokens", tokens),
  secrets: (secrets) => append("secrets", secrets),
};

function append(kind, items) {
  const dir = process.env.E2E_TRANSCRIPT_DIR;
  if (!dir || items.length === 0) return;
  appendFileSync(join(dir, `${kind}.jsonl`), items.map((item) => JSON.stringify(item)).join("\n") + "\n");
}

/** How long a test waits for something asynchronous (a log line, a KV write) by default. */
export const DEADLINE_MS = 20_000;

/**
 * Polls `check()` until it returns something truthy, and returns that. At the deadline throws
 * `${what} not seen within N ms; saw: ${seen()}` — never a silent timeout.
 */
export async function eventually(
  check,
  { what, seen = () => "nothing", timeoutMs = DEADLINE_MS, intervalMs = 50 },
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline)
      throw new Error(`${what} not seen within ${timeoutMs} ms; saw: ${await seen()}`);
    await sleep(intervalMs);
  }
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts the simulator with the client the Worker is configured for. */
export async function startTenant(options = {}) {
  const sim = await startSimulator({
    tokenLifetimeSeconds: 86_400,
    ...options,
    clients: options.clients ?? [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
  });
  // reset() and close() forget the issued tokens: record them first.
  for (const method of ["reset", "close"]) {
    const original = sim[method].bind(sim);
    sim[method] = (...args) => {
      record.tokens(sim.issuedTokens);
      return original(...args);
    };
  }
  return sim;
}

/** The Worker's secrets and vars for a simulator, with overrides. */
export function workerEnv(sim, overrides = {}) {
  const env = {
    AUTH0_CUSTOM_DOMAIN: sim.url,
    CLIENT_ID,
    CLIENT_SECRET,
    ACCOUNT_API: sim.managementAudience,
    LOGIN_HANDLER_SECRET,
    ON_TOKEN_ERROR: "continue",
    ...overrides,
  };
  record.secrets([env.CLIENT_SECRET, env.LOGIN_HANDLER_SECRET]);
  return env;
}

/**
 * `config` without its `[build]` table, as a hidden sibling file (paths stay relative to the same
 * folder). The test runner builds before it starts a Worker; wrangler dev with a `[build]` command
 * builds once more when its file watcher is ready and reloads the Worker, and a request in flight
 * then gets "503 Your worker restarted mid-request" — seen under load.
 */
export function withoutCustomBuild(config) {
  const text = readFileSync(config, "utf8");
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.trim() === "[build]");
  if (start === -1) return config;
  let end = lines.findIndex((line, i) => i > start && /^\s*\[/.test(line));
  if (end === -1) end = lines.length;
  const copy = join(dirname(config), ".wrangler.nobuild.toml");
  const stripped = [...lines.slice(0, start), ...lines.slice(end)].join("\n");
  if (!existsSync(copy) || readFileSync(copy, "utf8") !== stripped) writeFileSync(copy, stripped);
  return copy;
}

/**
 * A running `wrangler dev`.
 * `lines` collects every line it printed (the Worker's console output included);
 * `logs()` returns the JSON log records among them.
 */
export class WorkerProcess {
  static async start({
    env,
    persistTo,
    port,
    config = join(root, "wrangler.toml"),
    timeoutMs = 60_000,
    processEnv = {},
  }) {
    const worker = new WorkerProcess();
    worker.port = port ?? (await freePort());
    worker.url = `http://127.0.0.1:${worker.port}`;
    worker.dir = mkdtempSync(join(tmpdir(), "edge-login-env-"));
    const envFile = join(worker.dir, "worker.env");
    writeFileSync(
      envFile,
      Object.entries(env)
        .map(([k, v]) => `${k}=${JSON.stringify(String(v))}`)
        .join("\n"),
    );
    worker.lines = [];
    const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
    worker.child = spawn(
      process.execPath,
      [
        wrangler,
        "dev",
        "--config",
        withoutCustomBuild(config),
        "--ip",
        "127.0.0.1",
        "--port",
        String(worker.port),
        "--inspector-port",
        String(await freePort()),
        "--persist-to",
        persistTo,
        "--env-file",
        envFile,
        "--show-interactive-dev-session=false",
        "--log-level",
        "log",
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: "false",
          CLOUDFLARE_CF_FETCH_ENABLED: "false",
          WRANGLER_LOG_SANITIZE: "false",
          NO_COLOR: "1",
          FORCE_COLOR: "0",
          CI: "true",
          ...processEnv,
        },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      },
    );
    const collect = (stream) => {
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk) => {
        partial += chunk;
        const parts = partial.replace(ANSI, "").split("\n");
        partial = parts.pop();
        worker.lines.push(...parts);
      });
    };
    collect(worker.child.stdout);
    collect(worker.child.stderr);
    worker.exited = new Promise((resolve) => worker.child.on("exit", resolve));
    await worker.#waitReady(timeoutMs);
    return worker;
  }

  async #waitReady(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    this.exited.then(() => (exited = true));
    while (Date.now() < deadline && !exited) {
      try {
        const response = await fetch(`${this.url}/healthz`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    const output = this.lines.slice(-40).join("\n");
    await this.stop();
    throw new Error(`wrangler dev did not become ready${exited ? " (it exited)" : ""}:\n${output}`);
  }

  /**
   * JSON log records printed so far (the Action's and the runtime's). The token broker's own
   * records (`host: "token-broker"`, when this process hosts it) only with `{ broker: true }`:
   * the tests count what the isolate did.
   */
  logs({ broker = false } = {}) {
    const records = [];
    for (const line of this.lines) {
      const start = line.indexOf("{");
      if (start === -1) continue;
      try {
        const value = JSON.parse(line.slice(start));
        if (value && typeof value.event === "string" && (broker || value.host !== "token-broker")) {
          records.push(value);
        }
      } catch {
        // not a log record
      }
    }
    return records;
  }

  /** Waits until `predicate(logs())` holds (logs arrive asynchronously). */
  async waitForLogs(predicate, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (predicate(this.logs())) return this.logs();
      await sleep(50);
    }
    return this.logs();
  }

  /**
   * Waits until `predicate(logs())` holds and returns the logs; at the deadline throws, naming
   * `what` and listing the events seen (`wrangler dev` relays the Worker's lines with a delay).
   */
  async expectLogs(predicate, what, timeoutMs = DEADLINE_MS) {
    return eventually(() => (predicate(this.logs()) ? this.logs() : null), {
      what,
      timeoutMs,
      seen: () =>
        `events ${this.logs()
          .map((r) => r.event)
          .join(",")}`,
    });
  }

  /**
   * A log barrier: requests an unknown route and waits until both of its traces have arrived —
   * wrangler's request line on stdout (where the Worker's info records go) and the refusal on
   * stderr (warnings, errors). Every line the Worker printed for earlier requests has then been
   * relayed: "nothing was logged" can be asserted on what came before. Returns the logs.
   */
  async logBarrier() {
    this.barriers = (this.barriers ?? 0) + 1;
    const path = `/__log-barrier-${this.barriers}`;
    const refusals = () =>
      this.logs().filter((r) => r.event === "request_refused" && r.status === 404).length;
    const before = refusals();
    const response = await fetch(`${this.url}${path}`);
    await response.text();
    if (response.status !== 404) throw new Error(`the log barrier answered ${response.status}`);
    await eventually(
      () => this.lines.some((line) => line.includes(`GET ${path} 404`)) && refusals() > before,
      {
        what: `the log barrier ${path}`,
        seen: () => this.lines.slice(-5).join(" | "),
      },
    );
    return this.logs();
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-this.child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const killed = await Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        try {
          process.kill(-this.child.pid, "SIGKILL");
        } catch {
          // already gone
        }
        await this.exited;
      }
    }
    if (!this.recorded) {
      this.recorded = true;
      record.lines(this.lines);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Sends a signed login. Returns `{ status, body, text }`.
 * `options.body` replaces the JSON body (string or bytes), `options.headers` adds headers,
 * `options.signature` replaces the X-Signature header (null omits it).
 */
export async function postLogin(worker, event = loginEvent(), options = {}) {
  const raw = options.body ?? JSON.stringify(event);
  const signature =
    options.signature === undefined
      ? await signBody(raw, options.secret ?? LOGIN_HANDLER_SECRET, Date.now() / 1000)
      : options.signature;
  const headers = { "content-type": "application/json", ...(options.headers ?? {}) };
  if (signature !== null) headers["x-signature"] = signature;
  const response = await fetch(`${worker.url}${options.path ?? "/post-login"}`, {
    method: options.method ?? "POST",
    headers,
    body: options.method === "GET" ? undefined : raw,
  });
  const text = await response.text();
  record.response(text);
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // left null
  }
  return { status: response.status, body, text };
}

/** A temporary directory for `--persist-to`; remove it with `rmSync` when done. */
export function tempPersistDir() {
  return mkdtempSync(join(tmpdir(), "edge-login-kv-"));
}

// Asynchronous on purpose: a synchronous child blocks the event loop for seconds, and fetch then
// reuses a keep-alive connection that `wrangler dev` closed meanwhile ("fetch failed").
async function wranglerKv(args, persistTo) {
  const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [wrangler, "kv", "key", ...args, "--binding", "ACTIONS_CACHE", "--local", "--persist-to", persistTo],
      { cwd: root, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
    );
    return stdout;
  } catch (error) {
    throw new Error(`wrangler kv key ${args[0]} failed: ${error.stderr ?? error.message}`);
  }
}

/** The keys in the local ACTIONS_CACHE namespace, with their KV expiration (epoch seconds). */
export async function kvList(persistTo) {
  const out = await wranglerKv(["list"], persistTo);
  return JSON.parse(out.slice(out.indexOf("[")));
}

/** The raw value of a key in the local ACTIONS_CACHE namespace, or null. */
export async function kvGet(persistTo, key) {
  if (!(await kvList(persistTo)).some((entry) => entry.name === key)) return null;
  return wranglerKv(["get", key, "--text"], persistTo);
}
