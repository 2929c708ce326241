/**
 * Local Auth0 tenant simulator for tests, demos and benchmarks.
 *
 * It implements just enough of an Auth0 tenant for the post-login Action's
 * Management API token cache to be exercised end to end:
 *
 * - `POST /oauth/token` (client-credentials grant) issuing RS256 JWTs,
 * - `GET /.well-known/jwks.json` publishing the signing key,
 * - `/__sim/*` control endpoints so a separate process (demo, benchmark) can
 *   read stats, inject faults and change the token lifetime.
 *
 * Requests are dispatched through a small route table (`ROUTES`), so further
 * tenant endpoints — e.g. Management API routes under `/api/v2/users/...`
 * that check bearer tokens with `verifyToken` — can be added as table entries
 * without touching the server plumbing.
 *
 * The simulator never writes secrets or tokens to the console: tests assert
 * that tokens do not leak into logs, and the simulator must not be the leak.
 *
 * @module simulator
 */
import http from "node:http";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  SignJWT,
  base64url,
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from "jose";

/** Requests with a larger body are answered with 413. */
export const MAX_BODY_BYTES = 64 * 1024;

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_LIFETIME_SECONDS = 86400;
const DEFAULT_SCOPE = "read:users update:users read:roles";
const DEFAULT_CLIENT_ID = "sim-client-id";
const DEFAULT_CLIENT_SECRET = "sim-client-secret";
const SIGNING_ALG = "RS256";
const CLIENT_CREDENTIALS = "client_credentials";

/** Fault `type`s understood by {@link Simulator.setFault}. */
const FAULT_TYPES = new Set(["rate_limit", "delay", "html", "invalid_json", "response", "token", "close"]);

/** Default bodies for `{ status }` faults, modelled on Auth0's error shape. */
const STATUS_FAULT_BODIES = {
  400: oauthError("invalid_request", "Bad Request"),
  401: oauthError("access_denied", "Unauthorized"),
  403: oauthError("access_denied", "Forbidden"),
  429: oauthError("too_many_requests", "Global limit has been reached"),
  500: oauthError("server_error", "Internal Server Error"),
  502: oauthError("server_error", "Bad Gateway"),
  503: oauthError("temporarily_unavailable", "Service Unavailable"),
  504: oauthError("server_error", "Gateway Timeout"),
};

/**
 * @typedef {object} ClientConfig
 * @property {string} clientId
 * @property {string} clientSecret
 * @property {string[]} [grantTypes] Defaults to `["client_credentials"]`.
 * @property {string[]} [audiences] APIs the client has a client grant for;
 *   defaults to the simulator's Management API audience.
 * @property {string} [scope] Scope granted to this client; defaults to the
 *   simulator-wide `scope` option.
 */

/**
 * @typedef {object} SimulatorOptions
 * @property {string} [host] Interface to listen on (default "127.0.0.1").
 * @property {number} [port] Port; 0 (default) picks a free one.
 * @property {number} [tokenLifetimeSeconds] `expires_in` and `exp - iat` of
 *   issued tokens (default 86400).
 * @property {ClientConfig[]} [clients] Registered applications; defaults to
 *   one client `sim-client-id` / `sim-client-secret`.
 * @property {string} [scope] Default granted scope.
 */

/**
 * @typedef {object} SimulatorStats
 * @property {number} tokenRequests Every `POST /oauth/token`, whatever the outcome.
 * @property {number} tokensIssued 200 responses that carried an `access_token`.
 * @property {Record<string, number>} byClient Token requests per `client_id`
 *   as sent by the caller (requests without a client id are not listed).
 */

/**
 * @typedef {object} RequestRecord
 * @property {number} at Arrival time (ms since epoch).
 * @property {string} method
 * @property {string} path
 * @property {string | null} contentType
 * @property {object | null} body Parsed body, or null if unreadable.
 * @property {number | null} status Status answered; null while pending or
 *   when no answer was sent (`close` fault, client went away).
 */

/**
 * Fault injected into the next token requests. One of:
 * `{ status, body?, headers? }`,
 * `{ type: "rate_limit", resetInSeconds?, retryAfterSeconds? }`,
 * `{ type: "delay", ms }`, `{ type: "html" }`, `{ type: "invalid_json" }`,
 * `{ type: "response", body }`,
 * `{ type: "token", claims?, omitClaims?, header?, expiresIn?, tokenType?, accessToken?, omit? }`,
 * `{ type: "close" }`; each may carry `times` (default: unlimited).
 * @typedef {Record<string, any>} Fault
 */

/**
 * @typedef {object} Simulator
 * @property {string} url Base URL, e.g. "http://127.0.0.1:8788" (no trailing slash).
 * @property {number} port
 * @property {string} issuer `${url}/`, the `iss` of issued tokens.
 * @property {string} managementAudience `${url}/api/v2/`.
 * @property {SimulatorStats} stats Live counters (mutated in place).
 * @property {string[]} issuedTokens Every access token handed out.
 * @property {RequestRecord[]} requests Log of `/oauth/token` requests.
 * @property {{ keys: object[] }} jwks The published key set.
 * @property {(fault: Fault) => void} setFault
 * @property {() => void} clearFault
 * @property {(seconds: number) => void} setTokenLifetime
 * @property {() => void} reset Zero stats, clear logs, fault and lifetime override.
 * @property {(claims: object, header?: object) => Promise<string>} signToken
 *   Sign arbitrary claims (no defaults added) with the simulator key.
 * @property {(token: string, options?: { audience?: string }) => Promise<object>} verifyToken
 *   Verify a token against the simulator key and issuer; resolves to its claims.
 * @property {() => Promise<void>} close Stop listening and drop open connections.
 */

/**
 * Start a simulated Auth0 tenant on a local HTTP port.
 *
 * @param {SimulatorOptions} [options]
 * @returns {Promise<Simulator>}
 */
export async function startSimulator(options = {}) {
  const {
    host = DEFAULT_HOST,
    port = 0,
    tokenLifetimeSeconds = DEFAULT_LIFETIME_SECONDS,
    clients,
    scope = DEFAULT_SCOPE,
  } = options;
  assertLifetime(tokenLifetimeSeconds);
  // Validate before listening so a bad option never leaves a server running.
  const clientConfigs = clients ?? [{ clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }];
  validateClients(clientConfigs);

  const keys = await createSigningKey();

  // The state is created before listening (requests may arrive as soon as the
  // port is open) and completed once the URL, which depends on the port, is known.
  const state = {
    issuer: "",
    managementAudience: "",
    scope,
    clients: new Map(),
    defaultLifetimeSeconds: tokenLifetimeSeconds,
    tokenLifetimeSeconds,
    stats: { tokenRequests: 0, tokensIssued: 0, byClient: {} },
    requests: [],
    issuedTokens: [],
    /** @type {{ spec: Fault, remaining: number } | null} */
    fault: null,
    keys,
    // Aborted on close() so pending delay faults do not hold the process open.
    shutdown: new AbortController(),
  };

  const server = http.createServer((req, res) => {
    handleRequest(state, req, res).catch((error) => {
      // Only the error name/message: never request data, which holds secrets.
      console.error(`[simulator] internal error: ${error?.message ?? error}`);
      if (!res.headersSent && !res.destroyed) {
        send(res, jsonReply(500, oauthError("server_error", "Internal Server Error")));
      } else {
        res.destroy();
      }
    });
  });

  await listen(server, port, host);
  const actualPort = server.address().port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${actualPort}`;
  state.issuer = `${url}/`;
  state.managementAudience = `${url}/api/v2/`;
  for (const client of clientConfigs) {
    state.clients.set(client.clientId, normalizeClient(client, state));
  }

  let closing = null;

  return {
    url,
    port: actualPort,
    issuer: state.issuer,
    managementAudience: state.managementAudience,
    stats: state.stats,
    issuedTokens: state.issuedTokens,
    requests: state.requests,
    jwks: keys.jwks,
    setFault: (fault) => setFault(state, fault),
    clearFault: () => {
      state.fault = null;
    },
    setTokenLifetime: (seconds) => {
      assertLifetime(seconds);
      state.tokenLifetimeSeconds = seconds;
    },
    reset: () => resetState(state),
    signToken: (claims, header) => signJwt(state, claims, header),
    verifyToken: async (token, { audience } = {}) => {
      const { payload } = await jwtVerify(token, keys.localJwks, {
        issuer: state.issuer,
        audience,
        algorithms: [SIGNING_ALG],
      });
      return payload;
    },
    close: () => {
      closing ??= new Promise((resolve, reject) => {
        state.shutdown.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections (e.g. from fetch) would otherwise keep
        // server.close() waiting for their idle timeout.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------

/**
 * Route table. `path` is an exact pathname or a RegExp whose named groups
 * become `ctx.params`. Handlers receive `(ctx, state)` and return a reply
 * (see `send`) or null when nothing must be sent.
 */
const ROUTES = [
  { method: "POST", path: "/oauth/token", handler: handleTokenRequest },
  { method: "GET", path: "/.well-known/jwks.json", handler: handleJwks },
  { method: "GET", path: "/__sim/stats", handler: handleGetStats },
  { method: "POST", path: "/__sim/reset", handler: handleReset },
  { method: "POST", path: "/__sim/fault", handler: handleSetFault },
  { method: "DELETE", path: "/__sim/fault", handler: handleClearFault },
  { method: "POST", path: "/__sim/lifetime", handler: handleSetLifetime },
];

function matchRoute(method, pathname) {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    if (typeof route.path === "string") {
      if (route.path === pathname) return { route, params: {} };
      continue;
    }
    const match = route.path.exec(pathname);
    if (match) return { route, params: { ...match.groups } };
  }
  return null;
}

async function handleRequest(state, req, res) {
  const url = new URL(req.url ?? "/", "http://simulator.invalid");
  const match = matchRoute(req.method, url.pathname);
  if (!match) {
    send(res, jsonReply(404, { error: "not_found" }));
    return;
  }
  const ctx = { req, res, url, params: match.params };
  const reply = await match.route.handler(ctx, state);
  if (reply) send(res, reply);
}

// ---------------------------------------------------------------------------
// POST /oauth/token
// ---------------------------------------------------------------------------

async function handleTokenRequest(ctx, state) {
  const { req, res, url } = ctx;
  state.stats.tokenRequests += 1;
  const contentType = req.headers["content-type"] ?? null;
  /** @type {RequestRecord} */
  const record = {
    at: Date.now(),
    method: req.method,
    path: url.pathname,
    contentType,
    body: null,
    status: null,
  };
  state.requests.push(record);

  const raw = await readBody(req, MAX_BODY_BYTES);
  if (raw.aborted) return null;
  const parsed = raw.tooLarge ? null : parseBody(contentType, raw.text);
  record.body = parsed?.value ?? null;
  const clientId = stringParam(record.body, "client_id");
  if (clientId !== undefined) {
    state.stats.byClient[clientId] = (state.stats.byClient[clientId] ?? 0) + 1;
  }

  // The fault is consumed on arrival, whatever the request contains: it models
  // the tenant misbehaving, not the request being wrong.
  const fault = takeFault(state);
  let reply;
  if (fault && fault.type !== "delay" && fault.type !== "token") {
    reply = faultReply(fault);
  } else {
    if (fault?.type === "delay") {
      const completed = await waitUnlessGone(res, fault.ms, state.shutdown.signal);
      if (!completed) return null; // client or simulator gone: nobody to answer
    }
    if (raw.tooLarge) {
      reply = jsonReply(413, oauthError("invalid_request", "Request entity too large"));
    } else if (parsed.error) {
      reply = jsonReply(400, oauthError("invalid_request", parsed.error));
    } else {
      reply = await processClientCredentials(state, parsed.value, fault ?? {});
    }
  }

  if (reply.destroy) return reply;
  if (reply.status === 200 && typeof reply.json?.access_token === "string") {
    state.stats.tokensIssued += 1;
    state.issuedTokens.push(reply.json.access_token);
  }
  record.status = reply.status;
  return reply;
}

/**
 * Validate a client-credentials request the way Auth0 does and issue a token.
 * `overrides` is a `{ type: "token" }` fault (or `{}`) shaping the result.
 */
async function processClientCredentials(state, params, overrides) {
  const grantType = stringParam(params, "grant_type");
  if (grantType === undefined) return missingParam("grant_type");
  if (grantType !== CLIENT_CREDENTIALS) {
    return jsonReply(400, oauthError("unsupported_grant_type", `Unsupported grant type: ${grantType}`));
  }
  const clientId = stringParam(params, "client_id");
  if (clientId === undefined) return missingParam("client_id");
  const clientSecret = stringParam(params, "client_secret");
  if (clientSecret === undefined) return missingParam("client_secret");
  const audience = stringParam(params, "audience");
  if (audience === undefined) return missingParam("audience");

  const client = state.clients.get(clientId);
  if (!client || client.clientSecret !== clientSecret) {
    return jsonReply(401, oauthError("access_denied", "Unauthorized"));
  }
  if (!client.grantTypes.includes(CLIENT_CREDENTIALS)) {
    return jsonReply(
      403,
      oauthError("unauthorized_client", "Grant type 'client_credentials' not allowed for the client.", {
        error_uri: "https://auth0.com/docs/clients/client-grant-types",
      }),
    );
  }
  if (!client.audiences.includes(audience)) {
    return jsonReply(
      403,
      oauthError(
        "access_denied",
        `Client is not authorized to access "${audience}". You need to create a "client-grant" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants`,
      ),
    );
  }

  const lifetime = state.tokenLifetimeSeconds;
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    iss: state.issuer,
    sub: `${client.clientId}@clients`,
    aud: audience,
    iat,
    exp: iat + lifetime,
    scope: client.scope,
    azp: client.clientId,
    gty: "client-credentials",
    jti: randomUUID(),
    ...overrides.claims,
  };
  for (const name of Object.keys(claims)) {
    if (claims[name] === undefined) delete claims[name];
  }
  for (const name of overrides.omitClaims ?? []) delete claims[name];

  const body = {
    access_token: overrides.accessToken ?? (await signJwt(state, claims, overrides.header)),
    scope: client.scope,
    expires_in: "expiresIn" in overrides ? overrides.expiresIn : lifetime,
    token_type: "tokenType" in overrides ? overrides.tokenType : "Bearer",
  };
  for (const field of overrides.omit ?? []) delete body[field];
  return jsonReply(200, body);
}

function missingParam(name) {
  return jsonReply(400, oauthError("invalid_request", `Missing required parameter: ${name}`));
}

/** Returns a non-empty string parameter, or undefined. */
function stringParam(params, name) {
  const value = params?.[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

function setFault(state, fault) {
  validateFault(fault);
  const { times, ...spec } = fault;
  state.fault = { spec, remaining: times ?? Infinity };
}

function takeFault(state) {
  if (!state.fault) return null;
  const { spec } = state.fault;
  state.fault.remaining -= 1;
  if (state.fault.remaining <= 0) state.fault = null;
  return spec;
}

/** Throws a TypeError describing the first problem with `fault`. */
function validateFault(fault) {
  if (!isPlainObject(fault)) throw new TypeError("fault must be an object");
  const { times } = fault;
  if (times !== undefined && !(Number.isInteger(times) && times > 0)) {
    throw new TypeError("fault.times must be a positive integer");
  }
  if (fault.type === undefined) {
    const { status, body, headers } = fault;
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new TypeError("fault needs a known type or an integer status (200-599)");
    }
    if (body !== undefined && typeof body !== "string" && typeof body !== "object") {
      throw new TypeError("fault.body must be a string or a JSON value");
    }
    assertHeaders(headers);
    return;
  }
  if (!FAULT_TYPES.has(fault.type)) {
    throw new TypeError(`unknown fault type: ${fault.type}`);
  }
  switch (fault.type) {
    case "delay":
      if (!(Number.isFinite(fault.ms) && fault.ms >= 0)) {
        throw new TypeError("delay fault needs ms >= 0");
      }
      break;
    case "rate_limit":
      for (const name of ["resetInSeconds", "retryAfterSeconds"]) {
        if (fault[name] !== undefined && !Number.isFinite(fault[name])) {
          throw new TypeError(`rate_limit fault ${name} must be a number`);
        }
      }
      break;
    case "response":
      if (!("body" in fault) || fault.body === undefined) {
        throw new TypeError("response fault needs a body");
      }
      break;
    case "token":
      for (const name of ["claims", "header"]) {
        if (fault[name] !== undefined && !isPlainObject(fault[name])) {
          throw new TypeError(`token fault ${name} must be an object`);
        }
      }
      for (const name of ["omit", "omitClaims"]) {
        if (
          fault[name] !== undefined &&
          !(Array.isArray(fault[name]) && fault[name].every((f) => typeof f === "string"))
        ) {
          throw new TypeError(`token fault ${name} must be an array of strings`);
        }
      }
      if (fault.accessToken !== undefined && typeof fault.accessToken !== "string") {
        throw new TypeError("token fault accessToken must be a string");
      }
      break;
    default:
      break;
  }
}

/** Reply for faults that replace the normal answer entirely. */
function faultReply(fault) {
  switch (fault.type) {
    case undefined: {
      const body = fault.body ?? STATUS_FAULT_BODIES[fault.status] ?? defaultStatusBody(fault.status);
      return typeof body === "string"
        ? textReply(fault.status, body, "text/plain; charset=utf-8", fault.headers)
        : jsonReply(fault.status, body, fault.headers);
    }
    case "rate_limit": {
      const resetAt = Math.floor(Date.now() / 1000) + (fault.resetInSeconds ?? 10);
      const headers = {
        "x-ratelimit-limit": "30",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(resetAt),
      };
      if (fault.retryAfterSeconds !== undefined) {
        headers["retry-after"] = String(fault.retryAfterSeconds);
      }
      return jsonReply(429, STATUS_FAULT_BODIES[429], headers);
    }
    case "html":
      return textReply(200, "<html><body>Bad gateway</body></html>", "text/html; charset=utf-8");
    case "invalid_json":
      return textReply(200, '{"access_token": "abc"', "application/json");
    case "response":
      return jsonReply(200, fault.body);
    case "close":
      return { destroy: true };
    default:
      throw new Error(`unhandled fault type ${fault.type}`);
  }
}

function defaultStatusBody(status) {
  const description = http.STATUS_CODES[status] ?? "Error";
  return status >= 500 ? oauthError("server_error", description) : oauthError("invalid_request", description);
}

/**
 * Sleep for `ms`, giving up early if the client disconnects or the simulator
 * closes. Resolves true if the wait completed and the client is still there.
 */
async function waitUnlessGone(res, ms, shutdownSignal) {
  const clientGone = new AbortController();
  const onClose = () => clientGone.abort();
  res.once("close", onClose);
  try {
    await sleep(ms, undefined, {
      signal: AbortSignal.any([clientGone.signal, shutdownSignal]),
    });
    return !clientGone.signal.aborted && !res.destroyed;
  } catch {
    return false;
  } finally {
    res.off("close", onClose);
  }
}

// ---------------------------------------------------------------------------
// JWKS and signing
// ---------------------------------------------------------------------------

function handleJwks(_ctx, state) {
  return jsonReply(200, state.keys.jwks);
}

async function createSigningKey() {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG);
  const jwk = await exportJWK(publicKey);
  // A thumbprint kid is stable for the key and needs no extra randomness.
  const kid = await calculateJwkThumbprint(jwk);
  const publicJwk = { ...jwk, kid, alg: SIGNING_ALG, use: "sig" };
  const jwks = { keys: [publicJwk] };
  return { privateKey, kid, jwks, localJwks: createLocalJWKSet(jwks) };
}

/**
 * Sign `claims` as-is with the simulator key. `header` is merged over
 * `{ alg: "RS256", typ: "JWT", kid }`; a different `alg` cannot be signed with
 * an RSA key, so the header segment is rewritten after signing, which yields
 * a token whose signature does not verify — what such tests want.
 */
async function signJwt(state, claims, header = {}) {
  const { alg, ...rest } = header;
  const protectedHeader = {
    alg: SIGNING_ALG,
    typ: "JWT",
    kid: state.keys.kid,
    ...rest,
  };
  const jwt = await new SignJWT(claims).setProtectedHeader(protectedHeader).sign(state.keys.privateKey);
  if (alg === undefined || alg === SIGNING_ALG) return jwt;
  const [, payload, signature] = jwt.split(".");
  const forged = base64url.encode(JSON.stringify({ ...protectedHeader, alg }));
  return `${forged}.${payload}.${signature}`;
}

// ---------------------------------------------------------------------------
// Control endpoints (/__sim/*)
// ---------------------------------------------------------------------------

function handleGetStats(_ctx, state) {
  const { tokenRequests, tokensIssued, byClient } = state.stats;
  return jsonReply(200, {
    tokenRequests,
    tokensIssued,
    byClient: { ...byClient },
  });
}

function handleReset(_ctx, state) {
  resetState(state);
  return jsonReply(200, { ok: true });
}

async function handleSetFault(ctx, state) {
  const { value, reply } = await readControlJson(ctx.req);
  if (reply) return reply;
  try {
    setFault(state, value);
  } catch (error) {
    return jsonReply(400, oauthError("invalid_request", error.message));
  }
  return jsonReply(200, { ok: true });
}

function handleClearFault(_ctx, state) {
  state.fault = null;
  return jsonReply(200, { ok: true });
}

async function handleSetLifetime(ctx, state) {
  const { value, reply } = await readControlJson(ctx.req);
  if (reply) return reply;
  try {
    assertLifetime(value?.seconds);
  } catch (error) {
    return jsonReply(400, oauthError("invalid_request", error.message));
  }
  state.tokenLifetimeSeconds = value.seconds;
  return jsonReply(200, { ok: true, seconds: value.seconds });
}

/** Read a JSON control body; an empty body counts as `{}`. */
async function readControlJson(req) {
  const raw = await readBody(req, MAX_BODY_BYTES);
  if (raw.aborted) return { reply: null };
  if (raw.tooLarge) {
    return {
      reply: jsonReply(413, oauthError("invalid_request", "Request entity too large")),
    };
  }
  if (raw.text.trim() === "") return { value: {} };
  try {
    return { value: JSON.parse(raw.text) };
  } catch {
    return {
      reply: jsonReply(400, oauthError("invalid_request", "Invalid JSON body")),
    };
  }
}

function resetState(state) {
  // Mutate in place: callers hold references to these "live" objects.
  state.stats.tokenRequests = 0;
  state.stats.tokensIssued = 0;
  for (const key of Object.keys(state.stats.byClient)) delete state.stats.byClient[key];
  state.requests.length = 0;
  state.issuedTokens.length = 0;
  state.fault = null;
  state.tokenLifetimeSeconds = state.defaultLifetimeSeconds;
}

// ---------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------

function jsonReply(status, value, headers) {
  return { status, json: value, headers };
}

function textReply(status, text, contentType, headers) {
  return { status, text, contentType, headers };
}

/**
 * Write a reply: `{ status, json | text, contentType?, headers? }`, or
 * `{ destroy: true }` to drop the connection without answering.
 */
function send(res, reply) {
  if (reply.destroy) {
    res.destroy();
    return;
  }
  if (res.destroyed || res.writableEnded) return;
  const isJson = "json" in reply;
  const payload = isJson ? (JSON.stringify(reply.json) ?? "") : reply.text;
  const headers = {
    "content-type": isJson ? "application/json; charset=utf-8" : reply.contentType,
    // Token responses must never be cached; harmless on the other endpoints.
    "cache-control": "no-store",
    pragma: "no-cache",
    "content-length": String(Buffer.byteLength(payload)),
  };
  for (const [name, value] of Object.entries(reply.headers ?? {})) {
    headers[name.toLowerCase()] = String(value);
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/**
 * Read a request body, keeping at most `limit` bytes. An oversized body is
 * still drained (not buffered) so the 413 reaches a client that is still
 * sending instead of a connection reset.
 */
function readBody(req, limit) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.once("end", () =>
      resolve(size > limit ? { tooLarge: true } : { text: Buffer.concat(chunks).toString("utf8") }),
    );
    // "close" without "end" means the client went away mid-body.
    req.once("close", () => resolve({ aborted: true }));
    req.once("error", () => resolve({ aborted: true }));
  });
}

/** Parse a token request body; returns `{ value }` or `{ error, value: null }`. */
function parseBody(contentType, text) {
  const mediaType = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType === "application/json") {
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      return { error: "Invalid JSON body", value: null };
    }
    return isPlainObject(value) ? { value } : { error: "Request body must be a JSON object", value: null };
  }
  if (mediaType === "application/x-www-form-urlencoded") {
    return { value: Object.fromEntries(new URLSearchParams(text)) };
  }
  return {
    error: `Unsupported content type: ${mediaType || "(none)"}`,
    value: null,
  };
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------
// Validation and small utilities
// ---------------------------------------------------------------------------

function oauthError(error, description, extra) {
  return { error, error_description: description, ...extra };
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function assertLifetime(seconds) {
  if (!Number.isInteger(seconds)) {
    throw new TypeError("token lifetime must be an integer number of seconds");
  }
}

function assertHeaders(headers) {
  if (headers === undefined) return;
  if (
    !isPlainObject(headers) ||
    !Object.values(headers).every((v) => typeof v === "string" || typeof v === "number")
  ) {
    throw new TypeError("fault.headers must map names to strings or numbers");
  }
}

function validateClients(clients) {
  if (!Array.isArray(clients)) throw new TypeError("clients must be an array");
  const seen = new Set();
  for (const client of clients) {
    if (typeof client?.clientId !== "string" || client.clientId === "") {
      throw new TypeError("each client needs a non-empty clientId");
    }
    if (typeof client.clientSecret !== "string" || client.clientSecret === "") {
      throw new TypeError(`client ${client.clientId} needs a non-empty clientSecret`);
    }
    if (seen.has(client.clientId)) {
      throw new TypeError(`duplicate clientId ${client.clientId}`);
    }
    seen.add(client.clientId);
  }
}

function normalizeClient(client, state) {
  return {
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    grantTypes: [...(client.grantTypes ?? [CLIENT_CREDENTIALS])],
    // Defaulted here because the Management API audience depends on the port.
    audiences: [...(client.audiences ?? [state.managementAudience])],
    scope: client.scope ?? state.scope,
  };
}
