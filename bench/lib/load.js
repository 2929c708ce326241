// Signed logins with autocannon. The login handler refuses a login whose X-Signature
// (t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>) is missing, wrong or more than 300 s
// off, so every request carries a valid one: the bodies are fixed (one per user) and the
// signature is recomputed in `setupRequest` whenever the precomputed one is older than 60 s —
// long scenarios (--lifetimes) run past the 300 s window.

import { createHmac } from "node:crypto";
import autocannon from "autocannon";

import { signBody } from "../../js/signature.js";
import { loginEvent } from "../../tests/support/stack.js";

const RESIGN_AFTER_SECONDS = 60;

/** The same header as js/signature.js `signBody`, synchronously (autocannon's hook is sync). */
export function signSync(body, secret, nowSeconds) {
  const t = String(Math.floor(nowSeconds));
  const mac = createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
  return `t=${t},v1=${mac}`;
}

/** Checks once that `signSync` agrees with the project's `signBody`. */
export async function assertSignerAgrees(secret) {
  const body = JSON.stringify(loginEvent("auth0|signer-check"));
  const now = Date.now() / 1000;
  const expected = await signBody(body, secret, now);
  const actual = signSync(body, secret, now);
  if (expected !== actual) throw new Error(`bench signer disagrees with signBody: ${actual} != ${expected}`);
}

/** `count` distinct login bodies (users bench-user-00 …). */
export function loginBodies(count = 50, prefix = "bench-user") {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify(loginEvent(`auth0|${prefix}-${String(i).padStart(2, "0")}`)),
  );
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Latency summary of a list of ms values: p50/p95/p99, min, max, mean, and a percentile curve. */
export function summarize(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  const curve = [];
  for (const p of [0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97.5, 99, 99.5, 99.9, 100]) {
    if (sorted.length) curve.push({ p, ms: p === 0 ? sorted[0] : percentile(sorted, p) });
  }
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    min: sorted.length ? sorted[0] : null,
    max: sorted.length ? sorted[sorted.length - 1] : null,
    mean: sorted.length ? sum / sorted.length : null,
    curve,
  };
}

/**
 * Runs autocannon against POST /post-login.
 * @param {object} options
 * @param {string} options.url the Worker's base URL
 * @param {string} options.secret LOGIN_HANDLER_SECRET
 * @param {string[]} options.bodies login bodies, cycled through by every connection
 * @param {number} options.connections
 * @param {number} [options.amount] total logins (or `duration`)
 * @param {number} [options.duration] seconds
 * @param {number} [options.overallRate] logins per second over all connections
 * @param {number} [options.timeout] seconds per request (autocannon's default 10)
 * @returns {Promise<{ logins, ok, errors, statusCodes, errorSamples, latencies, responseTimes, durationMs,
 *   loginsPerSecond }>}
 *   durationMs: first request sent → last response received; loginsPerSecond: logins ÷ that
 *   errors: { http: non-2xx, failed: 2xx with the login denied or an Action error, socket, timeouts }
 */
export async function runLogins({
  url,
  secret,
  bodies,
  connections,
  amount,
  duration,
  overallRate,
  timeout,
}) {
  const signed = bodies.map((body) => ({ body, at: 0, header: "" }));
  const sign = (entry) => {
    const now = Date.now() / 1000;
    if (now - entry.at > RESIGN_AFTER_SECONDS) {
      entry.header = signSync(entry.body, secret, now);
      entry.at = now;
    }
    return entry.header;
  };
  const errors = { http: 0, failed: 0, socket: 0, timeouts: 0 };
  const statusCodes = {};
  /** The first few non-2xx answers: when, status, the start of the body. */
  const errorSamples = [];
  const requests = signed.map((entry) => ({
    method: "POST",
    path: "/post-login",
    body: entry.body,
    setupRequest(request) {
      request.headers = {
        ...request.headers,
        "content-type": "application/json",
        "x-signature": sign(entry),
      };
      return request;
    },
    onResponse(status, body) {
      statusCodes[status] = (statusCodes[status] ?? 0) + 1;
      if (status < 200 || status > 299) {
        errors.http++;
        if (errorSamples.length < 5) {
          errorSamples.push({ at: Date.now(), status, body: String(body ?? "").slice(0, 300) });
        }
        return;
      }
      try {
        const result = JSON.parse(body);
        if (result?.access?.denied !== false || result.error) errors.failed++;
      } catch {
        errors.failed++;
      }
    },
  }));
  const latencies = [];
  /** [completion time (ms since epoch), latency ms] per response, for time-windowed analyses. */
  const responseTimes = [];
  const started = performance.now();
  const options = { url, connections, timeout: timeout ?? 10, requests };
  if (amount !== undefined) options.amount = amount;
  if (duration !== undefined) options.duration = duration;
  if (overallRate !== undefined) options.overallRate = overallRate;
  const instance = autocannon(options);
  // autocannon notices the end of a run on its 1 s tick, so the promise's timing is coarse: the
  // load's duration is taken from the responses (first request sent → last response received).
  let firstStart = Infinity;
  let lastEnd = -Infinity;
  instance.on("response", (_client, _status, _bytes, responseTime) => {
    const now = performance.now();
    firstStart = Math.min(firstStart, now - responseTime);
    lastEnd = Math.max(lastEnd, now);
    latencies.push(responseTime);
    responseTimes.push([Date.now(), responseTime]);
  });
  const result = await instance;
  const durationMs = latencies.length ? lastEnd - firstStart : performance.now() - started;
  errors.socket = Math.max(0, result.errors - result.timeouts);
  errors.timeouts = result.timeouts;
  const logins = latencies.length;
  return {
    logins,
    ok: logins - errors.http - errors.failed,
    errors,
    errorTotal: errors.http + errors.failed + errors.socket + errors.timeouts,
    statusCodes,
    errorSamples,
    latencies,
    responseTimes,
    durationMs,
    loginsPerSecond: logins / (durationMs / 1000),
  };
}
