/**
 * The Auth0 tenant simulator of the tests, the demo and the benchmark: the one fake tenant.
 *
 * - `POST /oauth/token` (client-credentials grant, JSON body) issuing RS256 JWTs, validating the
 *   request the way Auth0 does and answering Auth0's error bodies;
 * - `GET /.well-known/jwks.json` publishing the signing key (`rotateKeys` replaces it);
 * - the Management API v2 routes the Action's client calls (`GET`/`PATCH /api/v2/users/{id}`,
 *   `GET /api/v2/users/{id}/roles`, `GET /api/v2/users/{id}/permissions`,
 *   `GET /api/v2/users/{id}/groups` with `from`/`take` checkpoint pagination) over a fixed user
 *   store, checking bearer tokens (signature, expiry, audience, issuer, revocation, scope) and
 *   answering with Auth0's error bodies;
 * - token-endpoint faults, and counters of what it was asked.
 *
 * It is controlled in-process (the object `startSimulator` resolves to). It never writes a
 * secret or a token to the console: the tests assert that tokens do not leak into logs.
 *
 * @module simulator
 */
import http from "node:http";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  SignJWT,
  calculateJwkThumbprint,
  compactVerify,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
} from "jose";

/** Requests with a larger body are answered with 413. */
export const MAX_BODY_BYTES = 64 * 1024;

const SIGNING_ALG = "RS256";
const CLIENT_CREDENTIALS = "client_credentials";
/** The scope of every issued token. */
const SCOPE = "read:users update:users read:roles read:groups";
const FAULT_TYPES = new Set(["rate_limit", "delay", "html", "invalid_json", "response", "token"]);

/**
 * The Management API's user store: one database user with two roles and a permission from each,
 * and three groups (a tenant group, and an `admins` group in each of two connections).
 */
const USERS = [
  {
    profile: {
      user_id: "auth0|user-1",
      email: "user-1@example.com",
      email_verified: true,
      name: "User One",
      created_at: "2024-01-01T00:00:00.000Z",
      updated_at: "2024-01-01T00:00:00.000Z",
      identities: [
        {
          connection: "Username-Password-Authentication",
          provider: "auth0",
          user_id: "user-1",
          isSocial: false,
        },
      ],
      app_metadata: {},
      user_metadata: {},
    },
    roles: [
      { id: "rol_admin", name: "admin", description: "Administrator" },
      { id: "rol_editor", name: "editor", description: "Can edit content" },
    ],
    permissions: [
      {
        permission_name: "read:reports",
        description: "Read reports",
        resource_server_name: "Example API",
        resource_server_identifier: "https://api.example.com/",
        sources: [{ source_id: "rol_admin", source_name: "admin", source_type: "ROLE" }],
      },
      {
        permission_name: "write:articles",
        description: "Write articles",
        resource_server_name: "Example API",
        resource_server_identifier: "https://api.example.com/",
        sources: [{ source_id: "rol_editor", source_name: "editor", source_type: "ROLE" }],
      },
    ],
    groups: [
      group("grp_staff00000000001", "staff", {}),
      group("grp_admins000000001", "admins", { connection_id: "con_database00001" }),
      group("grp_admins000000002", "admins", { connection_id: "con_enterprise001" }),
    ],
  },
];

/** A user's group as `GET /api/v2/users/{id}/groups` lists it. */
function group(id, name, extra) {
  const at = "2024-01-01T00:00:00.000Z";
  return {
    id,
    name,
    ...extra,
    tenant_name: "simulator",
    created_at: at,
    updated_at: at,
    membership_created_at: at,
  };
}

/** Default bodies of `{ status }` faults: Auth0's token-endpoint error shape. */
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
 * A fault of the token endpoint, applied to every token request until `clearFault()`:
 * `{ status, body?, headers? }` (body: a string or a JSON value; default Auth0's error body),
 * `{ type: "rate_limit", resetInSeconds?, retryAfterSeconds? }` (Auth0's 429 with
 * `x-ratelimit-*` headers), `{ type: "delay", ms }` (then the normal answer),
 * `{ type: "html" }`, `{ type: "invalid_json" }`, `{ type: "response", body }` (200 with that
 * body), `{ type: "token", claims?, expiresIn?, tokenType?, accessToken?, omit? }` (the normal
 * answer, shaped: claims merged over the token's, a claim set to undefined removed; fields of
 * the answer replaced or, with `omit`, removed).
 * @typedef {Record<string, any>} Fault
 */

/**
 * @typedef {object} Simulator
 * @property {string} url Base URL, e.g. "http://127.0.0.1:8788" (no trailing slash).
 * @property {number} port
 * @property {string} issuer `${url}/`, the `iss` of issued tokens.
 * @property {string} managementAudience `${url}/api/v2/`.
 * @property {{ tokenRequests: number, byClient: Record<string, number>,
 *   managementByStatus: Record<string, number>, groupRequests: number }} stats Live counters:
 *   every token request, token requests per `client_id` sent, Management API answers per
 *   status, requests for a user's groups past the bearer check.
 * @property {string[]} issuedTokens Every access token handed out.
 * @property {{ at: number, body: object | null, status: number | null }[]} requests Every token
 *   request: arrival time (ms), parsed body, status answered (null if none was).
 * @property {(fault: Fault) => void} setFault Throws a TypeError for a malformed fault.
 * @property {() => void} clearFault
 * @property {(seconds: number) => void} setTokenLifetime `expires_in` and `exp - iat` of the
 *   tokens issued from now on.
 * @property {() => void} reset Zero the counters; forget the requests, issued tokens, fault,
 *   lifetime change, revocations and user changes. The signing key stays as it is.
 * @property {(claims: object) => Promise<string>} signToken Signs `claims` as they are.
 * @property {() => void} revokeTokens Every token signed so far is refused with 401 "Invalid
 *   token" by the Management API; later ones are not.
 * @property {() => Promise<string>} rotateKeys A new signing key: the JWKS publishes only it and
 *   tokens signed with the old one fail the signature check. Resolves to the new `kid`.
 * @property {() => Promise<void>} close Stops listening and drops open connections.
 */

/**
 * Starts a simulated Auth0 tenant on a local HTTP port.
 * @param {object} [options]
 * @param {string} [options.host] Default "127.0.0.1".
 * @param {number} [options.port] Default 0: a free one.
 * @param {number} [options.tokenLifetimeSeconds] Default 86400.
 * @param {{ clientId: string, clientSecret: string, audiences?: string[] }[]} [options.clients]
 *   The applications with a client-credentials grant, for the given APIs (default: the
 *   Management API). Default: `sim-client-id` / `sim-client-secret`.
 * @returns {Promise<Simulator>}
 */
export async function startSimulator({
  host = "127.0.0.1",
  port = 0,
  tokenLifetimeSeconds = 86_400,
  clients = [{ clientId: "sim-client-id", clientSecret: "sim-client-secret" }],
} = {}) {
  assertLifetime(tokenLifetimeSeconds);
  for (const client of clients) {
    if (typeof client?.clientId !== "string" || !client.clientId || typeof client.clientSecret !== "string") {
      throw new TypeError("each client needs a clientId and a clientSecret");
    }
  }
  const state = {
    issuer: "",
    managementAudience: "",
    clients: new Map(),
    defaultLifetimeSeconds: tokenLifetimeSeconds,
    tokenLifetimeSeconds,
    stats: { tokenRequests: 0, byClient: {}, managementByStatus: {}, groupRequests: 0 },
    requests: [],
    issuedTokens: [],
    fault: null,
    users: userStore(),
    // Revocation: each signed token is numbered; those numbered below `revokedBelow` are revoked.
    signedTokens: new Map(),
    revokedBelow: 0,
    keys: await createSigningKey(),
    // Aborted on close() so that pending delay faults do not hold the process open.
    shutdown: new AbortController(),
  };

  const server = http.createServer((req, res) => {
    handleRequest(state, req, res).catch((error) => {
      // The message only: never request data, which holds secrets.
      console.error(`[simulator] internal error: ${error?.message ?? error}`);
      if (!res.headersSent) send(res, jsonReply(500, oauthError("server_error", "Internal Server Error")));
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const actualPort = server.address().port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${actualPort}`;
  state.issuer = `${url}/`;
  state.managementAudience = `${url}/api/v2/`;
  for (const { clientId, clientSecret, audiences } of clients) {
    state.clients.set(clientId, { clientSecret, audiences: audiences ?? [state.managementAudience] });
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
    setFault: (fault) => {
      validateFault(fault);
      state.fault = fault;
    },
    clearFault: () => {
      state.fault = null;
    },
    setTokenLifetime: (seconds) => {
      assertLifetime(seconds);
      state.tokenLifetimeSeconds = seconds;
    },
    reset: () => resetState(state),
    signToken: (claims) => signJwt(state, claims),
    revokeTokens: () => {
      state.revokedBelow = state.signedTokens.size;
    },
    rotateKeys: async () => {
      state.keys = await createSigningKey();
      return state.keys.kid;
    },
    close: () => {
      closing ??= new Promise((resolve, reject) => {
        state.shutdown.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections (from fetch) would otherwise hold close() for their idle timeout.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

/** `/api/v2/users/{id}` followed by `suffix`; `{id}` is URL-encoded. */
const userPath = (suffix = "") => new RegExp(`^/api/v2/users/(?<id>[^/]+)${suffix}$`);

/** Routes; those with `scopes` are Management API routes behind the bearer check. */
const ROUTES = [
  { method: "POST", path: /^\/oauth\/token$/, handler: handleTokenRequest },
  {
    method: "GET",
    path: /^\/\.well-known\/jwks\.json$/,
    handler: (_ctx, state) => jsonReply(200, state.keys.jwks),
  },
  { method: "GET", path: userPath(), scopes: ["read:users"], handler: handleGetUser },
  { method: "PATCH", path: userPath(), scopes: ["update:users"], handler: handlePatchUser },
  { method: "GET", path: userPath("/roles"), scopes: ["read:users", "read:roles"], handler: listOf("roles") },
  { method: "GET", path: userPath("/permissions"), scopes: ["read:users"], handler: listOf("permissions") },
  { method: "GET", path: userPath("/groups"), scopes: ["read:groups"], handler: handleUserGroups },
];

async function handleRequest(state, req, res) {
  const url = new URL(req.url ?? "/", "http://simulator.invalid");
  let route;
  let match;
  for (route of ROUTES) {
    if (route.method === req.method && (match = route.path.exec(url.pathname))) break;
  }
  const ctx = { req, res, url, params: match?.groups ?? {} };
  let reply;
  if (!match) reply = jsonReply(404, { error: "not_found" });
  else if (route.scopes)
    reply = (await authenticate(state, req, route.scopes)) ?? (await route.handler(ctx, state));
  else reply = await route.handler(ctx, state);
  if (!reply) return;
  if (url.pathname.startsWith("/api/v2/")) {
    const { managementByStatus } = state.stats;
    managementByStatus[reply.status] = (managementByStatus[reply.status] ?? 0) + 1;
  }
  send(res, reply);
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/token
// ---------------------------------------------------------------------------------------------

async function handleTokenRequest({ req, res }, state) {
  state.stats.tokenRequests += 1;
  const record = { at: Date.now(), body: null, status: null };
  state.requests.push(record);
  const raw = await readBody(req);
  if (raw.aborted) return null;
  const parsed = raw.tooLarge ? null : parseJsonBody(req.headers["content-type"], raw.text);
  record.body = parsed?.value ?? null;
  const clientId = stringParam(record.body, "client_id");
  if (clientId !== undefined) state.stats.byClient[clientId] = (state.stats.byClient[clientId] ?? 0) + 1;

  // The fault applies whatever the request holds: it models the tenant misbehaving.
  const fault = state.fault;
  let reply;
  if (fault && fault.type !== "delay" && fault.type !== "token") {
    reply = faultReply(fault);
  } else {
    if (fault?.type === "delay") {
      try {
        await sleep(fault.ms, undefined, { signal: state.shutdown.signal });
      } catch {
        return null; // closing: nobody to answer
      }
      if (res.destroyed) return null;
    }
    if (raw.tooLarge) reply = jsonReply(413, oauthError("invalid_request", "Request entity too large"));
    else if (parsed.error) reply = jsonReply(400, oauthError("invalid_request", parsed.error));
    else reply = await clientCredentials(state, parsed.value, fault ?? {});
  }
  if (reply.status === 200 && typeof reply.json?.access_token === "string") {
    state.issuedTokens.push(reply.json.access_token);
  }
  record.status = reply.status;
  return reply;
}

/** Validates a client-credentials request as Auth0 does and issues a token, shaped by `overrides`. */
async function clientCredentials(state, params, overrides) {
  const grantType = stringParam(params, "grant_type");
  if (grantType === undefined) return missingParam("grant_type");
  if (grantType !== CLIENT_CREDENTIALS) {
    return jsonReply(400, oauthError("unsupported_grant_type", `Unsupported grant type: ${grantType}`));
  }
  for (const name of ["client_id", "client_secret", "audience"]) {
    if (stringParam(params, name) === undefined) return missingParam(name);
  }
  const { client_id: clientId, client_secret: clientSecret, audience } = params;
  const client = state.clients.get(clientId);
  if (!client || client.clientSecret !== clientSecret) {
    return jsonReply(401, oauthError("access_denied", "Unauthorized"));
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
    sub: `${clientId}@clients`,
    aud: audience,
    iat,
    exp: iat + lifetime,
    scope: SCOPE,
    azp: clientId,
    gty: "client-credentials",
    jti: randomUUID(),
    ...overrides.claims,
  };
  for (const name of Object.keys(claims)) if (claims[name] === undefined) delete claims[name];
  const body = {
    access_token: overrides.accessToken ?? (await signJwt(state, claims)),
    scope: SCOPE,
    expires_in: "expiresIn" in overrides ? overrides.expiresIn : lifetime,
    token_type: "tokenType" in overrides ? overrides.tokenType : "Bearer",
  };
  for (const field of overrides.omit ?? []) delete body[field];
  return jsonReply(200, body);
}

const missingParam = (name) =>
  jsonReply(400, oauthError("invalid_request", `Missing required parameter: ${name}`));

/** A non-empty string parameter, or undefined. */
function stringParam(params, name) {
  const value = params?.[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

/** Throws a TypeError describing the first problem with `fault`. */
function validateFault(fault) {
  if (!isPlainObject(fault)) throw new TypeError("fault must be an object");
  if (fault.type === undefined) {
    if (!Number.isInteger(fault.status) || fault.status < 200 || fault.status > 599) {
      throw new TypeError("fault needs a known type or an integer status (200-599)");
    }
    if (fault.headers !== undefined && !isPlainObject(fault.headers)) {
      throw new TypeError("fault.headers must be an object");
    }
    return;
  }
  if (!FAULT_TYPES.has(fault.type)) throw new TypeError(`unknown fault type: ${fault.type}`);
  if (fault.type === "delay" && !(Number.isFinite(fault.ms) && fault.ms >= 0)) {
    throw new TypeError("delay fault needs ms >= 0");
  }
  if (fault.type === "response" && fault.body === undefined)
    throw new TypeError("response fault needs a body");
  if (fault.type === "token" && fault.claims !== undefined && !isPlainObject(fault.claims)) {
    throw new TypeError("token fault claims must be an object");
  }
}

/** The answer of a fault that replaces the normal one. */
function faultReply(fault) {
  switch (fault.type) {
    case undefined: {
      const body = fault.body ?? STATUS_FAULT_BODIES[fault.status] ?? defaultStatusBody(fault.status);
      return typeof body === "string"
        ? textReply(fault.status, body, "text/plain; charset=utf-8", fault.headers)
        : jsonReply(fault.status, body, fault.headers);
    }
    case "rate_limit": {
      const headers = {
        "x-ratelimit-limit": "30",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + (fault.resetInSeconds ?? 10)),
      };
      if (fault.retryAfterSeconds !== undefined) headers["retry-after"] = String(fault.retryAfterSeconds);
      return jsonReply(429, STATUS_FAULT_BODIES[429], headers);
    }
    case "html":
      return textReply(200, "<html><body>Bad gateway</body></html>", "text/html; charset=utf-8");
    case "invalid_json":
      return textReply(200, '{"access_token": "abc"', "application/json");
    case "response":
      return jsonReply(200, fault.body);
    default:
      throw new Error(`unhandled fault type ${fault.type}`);
  }
}

function defaultStatusBody(status) {
  const description = http.STATUS_CODES[status] ?? "Error";
  return oauthError(status >= 500 ? "server_error" : "invalid_request", description);
}

// ---------------------------------------------------------------------------------------------
// Management API v2 (/api/v2/*)
// ---------------------------------------------------------------------------------------------

/**
 * Checks the bearer token as the Management API does, in this order: a `Bearer <JWT>` header
 * (else 401 "Missing authentication"), the signature against the current key (an unknown kid
 * or another alg fail too), expiry, audience, issuer, revocation, then the scopes (403).
 * Resolves to an error reply, or undefined when the request may go on.
 */
async function authenticate(state, req, scopes) {
  const header = req.headers.authorization;
  const token = typeof header === "string" ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
  if (!token || !isDecodableJwt(token)) return managementError(401, "Missing authentication");
  let claims;
  try {
    const { payload } = await compactVerify(token, state.keys.localJwks, { algorithms: [SIGNING_ALG] });
    claims = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return tokenError("Invalid signature received for JSON Web Token validation");
  }
  if (typeof claims.exp === "number" && claims.exp <= Math.floor(Date.now() / 1000)) {
    return tokenError("Expired token received for JSON Web Token validation");
  }
  const audiences = [claims.aud].flat().filter((aud) => typeof aud === "string");
  if (!audiences.includes(state.managementAudience))
    return tokenError(`Bad audience: ${audiences.join(" ")}`);
  if (claims.iss !== state.issuer) return tokenError("Invalid token");
  const sequence = state.signedTokens.get(token);
  if (sequence !== undefined && sequence < state.revokedBelow) return tokenError("Invalid token");
  const granted = new Set(typeof claims.scope === "string" ? claims.scope.split(" ") : []);
  const missing = scopes.filter((scope) => !granted.has(scope));
  if (missing.length > 0) {
    return managementError(403, `Insufficient scope, expected any of: ${missing.join(",")}`, {
      errorCode: "insufficient_scope",
    });
  }
  return undefined;
}

function isDecodableJwt(token) {
  try {
    decodeProtectedHeader(token);
    decodeJwt(token);
    return true;
  } catch {
    return false;
  }
}

/** A 401 for a token that failed validation; Auth0 repeats the message in `attributes`. */
const tokenError = (message) => managementError(401, message, { attributes: { error: message } });

/** An Auth0 Management API error: `{ statusCode, error, message, ...extra }`. */
function managementError(status, message, extra) {
  const error = http.STATUS_CODES[status] ?? "Error";
  return jsonReply(status, { statusCode: status, error, message: message ?? error, ...extra });
}

/** The user addressed by the `{id}` path parameter, or undefined. */
function findUser({ params }, state) {
  try {
    return state.users.get(decodeURIComponent(params.id));
  } catch {
    return undefined; // undecodable: matches nobody
  }
}

const notFoundUser = () => managementError(404, "The user does not exist.", { errorCode: "inexistent_user" });

function handleGetUser(ctx, state) {
  const user = findUser(ctx, state);
  return user ? jsonReply(200, user.profile) : notFoundUser();
}

/** `GET /api/v2/users/{id}/roles` or `/permissions`: the whole list. */
function listOf(name) {
  return (ctx, state) => {
    const user = findUser(ctx, state);
    return user ? jsonReply(200, user[name]) : notFoundUser();
  };
}

/**
 * `GET /api/v2/users/{id}/groups`: the whole list as an array, or with `take` (1–100) and/or
 * `from` (the id of the first group of the page) checkpoint pagination, `{ groups, next? }`
 * (`next`: the id of the first group of the next page). Every request past the bearer check is
 * counted in `stats.groupRequests`.
 */
function handleUserGroups(ctx, state) {
  state.stats.groupRequests += 1;
  const user = findUser(ctx, state);
  if (!user) return notFoundUser();
  const { searchParams } = ctx.url;
  if (!searchParams.has("take") && !searchParams.has("from")) return jsonReply(200, user.groups);
  const take = searchParams.has("take") ? Number(searchParams.get("take")) : 50;
  if (!Number.isInteger(take) || take < 1 || take > 100) {
    return managementError(400, "Query validation error: 'take' must be an integer from 1 to 100", {
      errorCode: "invalid_query_string",
    });
  }
  const from = searchParams.get("from");
  const start = from === null || from === "" ? 0 : user.groups.findIndex((g) => g.id === from);
  if (start < 0) {
    return managementError(400, "Query validation error: invalid 'from'", {
      errorCode: "invalid_query_string",
    });
  }
  const groups = user.groups.slice(start, start + take);
  const next = user.groups[start + take]?.id;
  return jsonReply(200, next === undefined ? { groups } : { groups, next });
}

const PATCHABLE = ["app_metadata", "user_metadata"];

/**
 * `PATCH /api/v2/users/{id}` with `app_metadata` and/or `user_metadata`, Auth0's merge: top-level
 * keys replace, a key set to null is deleted, an empty object clears. Anything else is Auth0's
 * payload validation error.
 */
async function handlePatchUser(ctx, state) {
  const raw = await readBody(ctx.req);
  if (raw.aborted) return null;
  if (raw.tooLarge)
    return managementError(413, `Payload content length greater than maximum allowed: ${MAX_BODY_BYTES}`);
  let body;
  try {
    body = JSON.parse(raw.text);
  } catch {
    return managementError(400, "Invalid request payload JSON format");
  }
  const names = isPlainObject(body) ? Object.keys(body) : [];
  if (names.length === 0 || names.some((name) => !PATCHABLE.includes(name) || !isPlainObject(body[name]))) {
    return managementError(400, "Payload validation error: only app_metadata and user_metadata objects", {
      errorCode: "invalid_body",
    });
  }
  const user = findUser(ctx, state);
  if (!user) return notFoundUser();
  for (const name of names) {
    const patch = Object.entries(body[name]);
    // A Map and fromEntries keep keys such as "__proto__" as plain own properties.
    const merged = new Map(patch.length === 0 ? [] : Object.entries(user.profile[name]));
    for (const [key, value] of patch) {
      if (value === null) merged.delete(key);
      else merged.set(key, value);
    }
    user.profile[name] = Object.fromEntries(merged);
  }
  user.profile.updated_at = new Date().toISOString();
  return jsonReply(200, user.profile);
}

/** A fresh copy of the user store. */
function userStore() {
  return new Map(USERS.map((user) => [user.profile.user_id, structuredClone(user)]));
}

// ---------------------------------------------------------------------------------------------
// Keys and signing
// ---------------------------------------------------------------------------------------------

async function createSigningKey() {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG);
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const jwks = { keys: [{ ...jwk, kid, alg: SIGNING_ALG, use: "sig" }] };
  return { privateKey, kid, jwks, localJwks: createLocalJWKSet(jwks) };
}

/** Signs `claims` as they are with the current key, numbering the token for revocation. */
async function signJwt(state, claims) {
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: SIGNING_ALG, typ: "JWT", kid: state.keys.kid })
    .sign(state.keys.privateKey);
  if (!state.signedTokens.has(token)) state.signedTokens.set(token, state.signedTokens.size);
  return token;
}

function resetState(state) {
  // In place: callers hold references to these objects.
  state.stats.tokenRequests = 0;
  state.stats.groupRequests = 0;
  for (const key of Object.keys(state.stats.byClient)) delete state.stats.byClient[key];
  for (const key of Object.keys(state.stats.managementByStatus)) delete state.stats.managementByStatus[key];
  state.requests.length = 0;
  state.issuedTokens.length = 0;
  state.fault = null;
  state.tokenLifetimeSeconds = state.defaultLifetimeSeconds;
  state.revokedBelow = 0;
  state.users = userStore();
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

const jsonReply = (status, json, headers) => ({ status, json, headers });
const textReply = (status, text, contentType, headers) => ({ status, text, contentType, headers });

function send(res, reply) {
  if (res.destroyed || res.writableEnded) return;
  const isJson = "json" in reply;
  const payload = isJson ? (JSON.stringify(reply.json) ?? "") : reply.text;
  const headers = {
    "content-type": isJson ? "application/json; charset=utf-8" : reply.contentType,
    // Token responses must never be cached; harmless on the other routes.
    "cache-control": "no-store",
    pragma: "no-cache",
    "content-length": String(Buffer.byteLength(payload)),
  };
  for (const [name, value] of Object.entries(reply.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/**
 * Reads a request body, keeping at most MAX_BODY_BYTES. A larger body is still drained, so that
 * the 413 reaches a client that is still sending.
 */
function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.once("end", () =>
      resolve(size > MAX_BODY_BYTES ? { tooLarge: true } : { text: Buffer.concat(chunks).toString("utf8") }),
    );
    // "close" without "end": the client went away mid-body.
    req.once("close", () => resolve({ aborted: true }));
    req.once("error", () => resolve({ aborted: true }));
  });
}

/** A token request body: `{ value }` or `{ error, value: null }`. */
function parseJsonBody(contentType, text) {
  const mediaType = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json") {
    return { error: `Unsupported content type: ${mediaType || "(none)"}`, value: null };
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: "Invalid JSON body", value: null };
  }
  return isPlainObject(value) ? { value } : { error: "Request body must be a JSON object", value: null };
}

function oauthError(error, description) {
  return { error, error_description: description };
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function assertLifetime(seconds) {
  if (!Number.isInteger(seconds)) throw new TypeError("token lifetime must be an integer number of seconds");
}
