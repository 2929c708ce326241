/**
 * Local Auth0 tenant simulator for tests, demos and benchmarks.
 *
 * It implements just enough of an Auth0 tenant for the post-login Action's
 * Management API token cache to be exercised end to end:
 *
 * - `POST /oauth/token` (client-credentials grant) issuing RS256 JWTs,
 * - `GET /.well-known/jwks.json` publishing the signing key,
 * - a slice of the Management API v2 (`GET`/`PATCH /api/v2/users/{id}`,
 *   `GET /api/v2/users/{id}/roles`, `GET /api/v2/users/{id}/permissions`)
 *   over an in-memory user store, checking bearer tokens (signature, expiry,
 *   audience, revocation, scope) and answering with Auth0's error bodies,
 * - `/__sim/*` control endpoints so a separate process (demo, benchmark) can
 *   read stats, inject faults, change the token lifetime, revoke tokens,
 *   rotate the signing key, rate-limit the Management API and manage users.
 *
 * Requests are dispatched through a small route table (`ROUTES`). Entries with
 * a `management` property are Management API routes: the dispatcher counts
 * them, applies Management faults and the rate limiter, and checks the bearer
 * token and the route's scopes before calling the handler, so a further
 * endpoint is one table entry plus a handler.
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
  compactVerify,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
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

/** Fault `type`s understood by {@link Simulator.setManagementFault} (`token` makes no sense there). */
const MANAGEMENT_FAULT_TYPES = new Set(["rate_limit", "delay", "html", "invalid_json", "response", "close"]);

/** Paths under this prefix count as Management API calls in the stats. */
const MANAGEMENT_PREFIX = "/api/v2/";

/** Auth0's Management API answer when a rate limit is hit. */
const MANAGEMENT_RATE_LIMIT_BODY = {
  statusCode: 429,
  error: "Too Many Requests",
  message: "Global limit has been reached",
  errorCode: "too_many_requests",
};

/** `x-ratelimit-limit` sent with `rate_limit` faults. */
const FAULT_RATE_LIMIT = "30";

/** Default page size of the list endpoints when `page` or `per_page` is given (as Auth0). */
const DEFAULT_PER_PAGE = 50;
const MAX_PER_PAGE = 100;

/**
 * The user store used when the `users` option is omitted: one database user
 * with two roles and a permission from each.
 * @type {UserSeed[]}
 */
const DEFAULT_USERS = [
  {
    user_id: "auth0|user-1",
    email: "user-1@example.com",
    email_verified: true,
    name: "User One",
    nickname: "user-1",
    picture: "https://s.gravatar.com/avatar/user-1.png",
    created_at: "2024-01-01T00:00:00.000Z",
    updated_at: "2024-01-01T00:00:00.000Z",
    last_login: "2024-01-01T00:00:00.000Z",
    logins_count: 1,
    app_metadata: {},
    user_metadata: {},
    roles: [
      { id: "rol_admin", name: "admin", description: "Administrator" },
      { id: "rol_editor", name: "editor", description: "Can edit content" },
    ],
    permissions: [
      {
        permission_name: "read:reports",
        resource_server_identifier: "https://api.example.com/",
        resource_server_name: "Example API",
        description: "Read reports",
        sources: [{ source_id: "rol_admin", source_name: "admin", source_type: "ROLE" }],
      },
      {
        permission_name: "write:articles",
        resource_server_identifier: "https://api.example.com/",
        resource_server_name: "Example API",
        description: "Write articles",
        sources: [{ source_id: "rol_editor", source_name: "editor", source_type: "ROLE" }],
      },
    ],
  },
];

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
 * @property {UserSeed[]} [users] Initial Management API user store; defaults
 *   to one user `auth0|user-1` with the roles `admin` (`rol_admin`) and
 *   `editor` (`rol_editor`). `reset()` restores it.
 */

/**
 * A user for the Management API store: an Auth0 user object plus the user's
 * roles and permissions, which are kept apart (Auth0 does not return them in
 * the user object). Missing `app_metadata`/`user_metadata` default to `{}`,
 * `created_at`/`updated_at` to the time the store is built, and `identities`
 * is derived from a `provider|id` user id. Any other field is kept as given.
 * @typedef {object} UserSeed
 * @property {string} user_id
 * @property {{ id: string, name: string, description?: string }[]} [roles]
 *   `description` defaults to "".
 * @property {Permission[]} [permissions]
 */

/**
 * An entry of `GET /api/v2/users/{id}/permissions`. `resource_server_name`
 * defaults to the identifier, `description` to "", `sources` to a direct
 * assignment `[{ source_id: "", source_name: "", source_type: "DIRECT" }]`.
 * @typedef {object} Permission
 * @property {string} permission_name
 * @property {string} resource_server_identifier
 * @property {string} [resource_server_name]
 * @property {string} [description]
 * @property {{ source_id: string, source_name: string, source_type: string }[]} [sources]
 */

/**
 * Token-bucket rate limit on the Management API: `burst` requests at once,
 * refilled at `perSecond` requests per second. An empty bucket answers 429
 * with Auth0's body and `x-ratelimit-*` headers (`retry-after` too when
 * `retryAfter` is true); other Management answers carry the `x-ratelimit-*`
 * headers while a limit is set.
 * @typedef {object} ManagementRateLimit
 * @property {number} burst Bucket size, a positive integer.
 * @property {number} perSecond Refill rate, a positive number.
 * @property {boolean} [retryAfter] Send `retry-after` (whole seconds) on 429s.
 */

/**
 * @typedef {object} SimulatorStats
 * @property {number} tokenRequests Every `POST /oauth/token`, whatever the outcome.
 * @property {number} tokensIssued 200 responses that carried an `access_token`.
 * @property {Record<string, number>} byClient Token requests per `client_id`
 *   as sent by the caller (requests without a client id are not listed).
 * @property {number} managementRequests Every request under `/api/v2/`,
 *   whatever the outcome (unknown routes, faults and 429s included).
 * @property {Record<string, number>} managementByStatus Management answers
 *   per HTTP status, e.g. `{ "200": 3, "401": 1 }` (dropped connections and
 *   requests whose client went away are not counted).
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
 * Fault injected into the next Management API requests (before the rate
 * limiter and the bearer check). The forms of {@link Fault} except `token`:
 * `{ status, body?, headers? }` (default body `{ statusCode, error, message }`,
 * Auth0's 429 body for 429), `{ type: "rate_limit", resetInSeconds?, retryAfterSeconds? }`
 * (Auth0's Management 429 body and headers), `{ type: "delay", ms }` (then
 * answers normally), `{ type: "html" }`, `{ type: "invalid_json" }`,
 * `{ type: "response", body }` (200 with that body instead of the real answer),
 * `{ type: "close" }`; each may carry `times` (default: unlimited).
 * @typedef {Record<string, any>} ManagementFault
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
 * @property {{ keys: object[] }} jwks The published key set (the current key
 *   only; a getter, so it follows `rotateKeys`).
 * @property {(fault: Fault) => void} setFault
 * @property {() => void} clearFault
 * @property {(seconds: number) => void} setTokenLifetime
 * @property {() => void} reset Zero all stats; clear the request log, issued
 *   tokens, token and Management faults, the lifetime override, the
 *   Management rate limit and token revocations (revoked tokens become valid
 *   again); restore the initial user store (users added or changed since are
 *   lost). The signing key is kept: after `rotateKeys` it stays rotated.
 * @property {(claims: object, header?: object) => Promise<string>} signToken
 *   Sign arbitrary claims (no defaults added) with the simulator key.
 * @property {(token: string, options?: { audience?: string }) => Promise<object>} verifyToken
 *   Verify a token against the simulator key and issuer; resolves to its claims.
 * @property {(fault: ManagementFault) => void} setManagementFault Throws a
 *   TypeError for a malformed fault.
 * @property {() => void} clearManagementFault
 * @property {(limit: ManagementRateLimit | null) => void} setManagementRateLimit
 *   Enable (with a full bucket) or, with null, disable the Management rate limiter.
 * @property {() => number} revokeTokens Reject every token signed so far (by
 *   `/oauth/token` or `signToken`) with 401 "Invalid token"; later tokens are
 *   not affected (RS256 is deterministic, so `signToken` with the very same
 *   claims reproduces a revoked token). Returns how many distinct tokens have
 *   been signed so far.
 * @property {() => Promise<string>} rotateKeys Replace the signing key; the
 *   JWKS then publishes only the new key and tokens signed with the old one
 *   fail the signature check. Resolves to the new `kid`.
 * @property {(user: UserSeed) => object} addUser Add (or replace, by
 *   `user_id`) a user; returns the stored user object. Throws a TypeError for
 *   an invalid user.
 * @property {(id: string) => object | undefined} getUser The stored user
 *   object (live: later PATCHes show through), without roles/permissions.
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
    users = DEFAULT_USERS,
  } = options;
  assertLifetime(tokenLifetimeSeconds);
  // Validate before listening so a bad option never leaves a server running.
  const clientConfigs = clients ?? [{ clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }];
  validateClients(clientConfigs);
  const userSeed = buildUserStore(users);

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
    stats: {
      tokenRequests: 0,
      tokensIssued: 0,
      byClient: {},
      managementRequests: 0,
      managementByStatus: {},
    },
    requests: [],
    issuedTokens: [],
    /** @type {{ spec: Fault, remaining: number } | null} */
    fault: null,
    /** @type {{ spec: ManagementFault, remaining: number } | null} */
    managementFault: null,
    /** @type {(ManagementRateLimit & { tokens: number, updatedAt: number }) | null} */
    rateLimit: null,
    /** The initial user store, copied into `users` at start and on reset. */
    userSeed,
    /** @type {Map<string, { profile: object, roles: object[], permissions: object[] }>} */
    users: structuredClone(userSeed),
    // Revocation: every signed token gets a sequence number; tokens numbered
    // below `revokedBelow` are revoked.
    /** @type {Map<string, number>} */
    signedTokens: new Map(),
    revokedBelow: 0,
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
    get jwks() {
      return state.keys.jwks;
    },
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
      const { payload } = await jwtVerify(token, state.keys.localJwks, {
        issuer: state.issuer,
        audience,
        algorithms: [SIGNING_ALG],
      });
      return payload;
    },
    setManagementFault: (fault) => setManagementFault(state, fault),
    clearManagementFault: () => {
      state.managementFault = null;
    },
    setManagementRateLimit: (limit) => setManagementRateLimit(state, limit),
    revokeTokens: () => revokeTokens(state),
    rotateKeys: () => rotateKeys(state),
    addUser: (user) => addUser(state, user),
    getUser: (id) => state.users.get(id)?.profile,
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
 * A route table entry.
 * @typedef {object} Route
 * @property {string} method
 * @property {string | RegExp} path An exact pathname, or a RegExp whose named
 *   groups become `ctx.params` (still URL-encoded).
 * @property {(ctx: object, state: object) => any} handler Receives
 *   `(ctx, state)` and returns (or resolves to) a reply (see `send`), or null
 *   when nothing must be sent.
 * @property {{ scopes: string[] }} [management] Marks a Management API route:
 *   before the handler runs, Management faults and the rate limiter apply and
 *   the bearer token must be valid and grant every one of `scopes`; the
 *   handler then finds the token's claims in `ctx.claims`.
 */

/** Matches `/api/v2/users/{id}` followed by `suffix`; `{id}` is URL-encoded. */
const userPath = (suffix = "") => new RegExp(`^/api/v2/users/(?<id>[^/]+)${suffix}$`);

/** @type {Route[]} */
const ROUTES = [
  { method: "POST", path: "/oauth/token", handler: handleTokenRequest },
  { method: "GET", path: "/.well-known/jwks.json", handler: handleJwks },
  // Management API v2
  {
    method: "GET",
    path: userPath(),
    management: { scopes: ["read:users"] },
    handler: handleGetUser,
  },
  {
    method: "PATCH",
    path: userPath(),
    management: { scopes: ["update:users"] },
    handler: handlePatchUser,
  },
  {
    method: "GET",
    path: userPath("/roles"),
    management: { scopes: ["read:users", "read:roles"] },
    handler: handleGetUserRoles,
  },
  {
    method: "GET",
    path: userPath("/permissions"),
    management: { scopes: ["read:users"] },
    handler: handleGetUserPermissions,
  },
  // Control endpoints
  { method: "GET", path: "/__sim/stats", handler: handleGetStats },
  { method: "POST", path: "/__sim/reset", handler: handleReset },
  { method: "POST", path: "/__sim/fault", handler: handleSetFault },
  { method: "DELETE", path: "/__sim/fault", handler: handleClearFault },
  { method: "POST", path: "/__sim/lifetime", handler: handleSetLifetime },
  { method: "POST", path: "/__sim/revoke", handler: handleRevoke },
  { method: "POST", path: "/__sim/rotate-keys", handler: handleRotateKeys },
  { method: "POST", path: "/__sim/management-fault", handler: handleSetManagementFault },
  { method: "DELETE", path: "/__sim/management-fault", handler: handleClearManagementFault },
  { method: "POST", path: "/__sim/management-rate-limit", handler: handleSetRateLimit },
  { method: "DELETE", path: "/__sim/management-rate-limit", handler: handleClearRateLimit },
  { method: "POST", path: "/__sim/users", handler: handleAddUser },
  { method: "GET", path: /^\/__sim\/users\/(?<id>[^/]+)$/, handler: handleControlGetUser },
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
  const isManagement = url.pathname.startsWith(MANAGEMENT_PREFIX);
  if (isManagement) state.stats.managementRequests += 1;
  const match = matchRoute(req.method, url.pathname);
  let reply;
  if (!match) {
    reply = jsonReply(404, { error: "not_found" });
  } else {
    const ctx = { req, res, url, params: match.params };
    reply = match.route.management
      ? await handleManagementRequest(ctx, state, match.route)
      : await match.route.handler(ctx, state);
  }
  if (!reply) return;
  if (isManagement && !reply.destroy && !res.destroyed) {
    const { managementByStatus } = state.stats;
    managementByStatus[reply.status] = (managementByStatus[reply.status] ?? 0) + 1;
  }
  send(res, reply);
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
function validateFault(fault, types = FAULT_TYPES) {
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
  if (!types.has(fault.type)) {
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

/**
 * How fault replies look on an endpoint family: `statusBody(status)` is the
 * default body of `{ status }` and `rate_limit` faults, `truncatedJson` the
 * body of `invalid_json` faults.
 */
const TOKEN_FAULT_STYLE = {
  statusBody: (status) => STATUS_FAULT_BODIES[status] ?? defaultStatusBody(status),
  truncatedJson: '{"access_token": "abc"',
};
const MANAGEMENT_FAULT_STYLE = {
  statusBody: (status) => managementError(status).json,
  truncatedJson: '{"user_id": "auth0|',
};

/** Reply for faults that replace the normal answer entirely. */
function faultReply(fault, style = TOKEN_FAULT_STYLE) {
  switch (fault.type) {
    case undefined: {
      const body = fault.body ?? style.statusBody(fault.status);
      return typeof body === "string"
        ? textReply(fault.status, body, "text/plain; charset=utf-8", fault.headers)
        : jsonReply(fault.status, body, fault.headers);
    }
    case "rate_limit": {
      const resetAt = Math.floor(Date.now() / 1000) + (fault.resetInSeconds ?? 10);
      const headers = {
        "x-ratelimit-limit": FAULT_RATE_LIMIT,
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(resetAt),
      };
      if (fault.retryAfterSeconds !== undefined) {
        headers["retry-after"] = String(fault.retryAfterSeconds);
      }
      return jsonReply(429, style.statusBody(429), headers);
    }
    case "html":
      return textReply(200, "<html><body>Bad gateway</body></html>", "text/html; charset=utf-8");
    case "invalid_json":
      return textReply(200, style.truncatedJson, "application/json");
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
// Management API v2 (/api/v2/*)
// ---------------------------------------------------------------------------

/**
 * Run a Management route: consume a Management fault, take a rate-limit
 * token, check the bearer token and scopes, then call the route's handler
 * with `ctx.claims` set. Rate-limit headers are added to every answer while
 * a limit is set.
 */
async function handleManagementRequest(ctx, state, route) {
  const fault = takeManagementFault(state);
  if (fault?.type === "delay") {
    const completed = await waitUnlessGone(ctx.res, fault.ms, state.shutdown.signal);
    if (!completed) return null;
  } else if (fault) {
    return faultReply(fault, MANAGEMENT_FAULT_STYLE);
  }

  const limit = takeRateLimitToken(state);
  if (limit.limited) return jsonReply(429, MANAGEMENT_RATE_LIMIT_BODY, limit.headers);

  const auth = await authenticate(state, ctx.req, route.management.scopes);
  const reply = auth.reply ?? (await route.handler({ ...ctx, claims: auth.claims }, state));
  if (reply && !reply.destroy && limit.headers) {
    reply.headers = { ...limit.headers, ...reply.headers };
  }
  return reply;
}

/**
 * Check the request's bearer token like the Management API, in this order:
 * a `Bearer <JWT>` header (else 401 "Missing authentication"), the signature
 * against the current key (an unknown kid, e.g. after `rotateKeys`, or a
 * non-RS256 alg also fail), expiry, audience (`managementAudience`, a string
 * or an array containing it), issuer, revocation, and finally the scopes
 * (403). Resolves to `{ claims }` or `{ reply }`.
 */
async function authenticate(state, req, scopes) {
  const header = req.headers.authorization;
  const match = typeof header === "string" ? /^Bearer +(\S+) *$/i.exec(header) : null;
  const token = match?.[1];
  // Anything that is not a decodable JWT counts as missing credentials.
  if (!token || !isDecodableJwt(token)) {
    return { reply: managementError(401, "Missing authentication") };
  }

  let claims;
  try {
    ({ payload: claims } = await jwtVerifySignatureOnly(state, token));
  } catch {
    return { reply: tokenError("Invalid signature received for JSON Web Token validation") };
  }

  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp === "number" && claims.exp <= now) {
    return { reply: tokenError("Expired token received for JSON Web Token validation") };
  }
  const audiences = [claims.aud].flat().filter((aud) => typeof aud === "string");
  if (!audiences.includes(state.managementAudience)) {
    return { reply: tokenError(`Bad audience: ${audiences.join(" ")}`) };
  }
  if (claims.iss !== state.issuer) return { reply: tokenError("Invalid token") };
  const sequence = state.signedTokens.get(token);
  if (sequence !== undefined && sequence < state.revokedBelow) {
    return { reply: tokenError("Invalid token") };
  }

  const granted = new Set(typeof claims.scope === "string" ? claims.scope.split(" ") : []);
  const missing = scopes.filter((scope) => !granted.has(scope));
  if (missing.length > 0) {
    return {
      reply: managementError(403, `Insufficient scope, expected any of: ${missing.join(",")}`, {
        errorCode: "insufficient_scope",
      }),
    };
  }
  return { claims };
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

/** Verify only the signature (RS256, current key); claims are checked by the caller. */
async function jwtVerifySignatureOnly(state, token) {
  const { payload } = await compactVerify(token, state.keys.localJwks, { algorithms: [SIGNING_ALG] });
  return { payload: JSON.parse(new TextDecoder().decode(payload)) };
}

/** A 401 for a token that failed validation; Auth0 repeats the message in `attributes`. */
function tokenError(message) {
  return managementError(401, message, { attributes: { error: message } });
}

/** An Auth0 Management API error reply: `{ statusCode, error, message, ...extra }`. */
function managementError(status, message, extra) {
  if (status === 429 && message === undefined) return jsonReply(429, MANAGEMENT_RATE_LIMIT_BODY);
  const error = http.STATUS_CODES[status] ?? "Error";
  return jsonReply(status, { statusCode: status, error, message: message ?? error, ...extra });
}

function notFoundUser() {
  return managementError(404, "The user does not exist.", { errorCode: "inexistent_user" });
}

/** A `Payload validation error` 400, as Auth0 answers for a bad PATCH body. */
function invalidBody(detail) {
  return managementError(400, `Payload validation error: ${detail}`, { errorCode: "invalid_body" });
}

/** The user addressed by the `{id}` path parameter, or undefined. */
function findUser(ctx, state) {
  return state.users.get(decodeParam(ctx.params.id));
}

/** URL-decode a path parameter; an undecodable one matches nothing. */
function decodeParam(value) {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** `GET /api/v2/users/{id}`, honouring `fields` and `include_fields`. */
function handleGetUser(ctx, state) {
  const record = findUser(ctx, state);
  if (!record) return notFoundUser();
  const fields = (ctx.url.searchParams.get("fields") ?? "")
    .split(",")
    .map((field) => field.trim())
    .filter(Boolean);
  if (fields.length === 0) return jsonReply(200, record.profile);
  const include = ctx.url.searchParams.get("include_fields") !== "false";
  const selected = Object.entries(record.profile).filter(([name]) => fields.includes(name) === include);
  return jsonReply(200, Object.fromEntries(selected));
}

/** Properties a PATCH may change (only metadata in this simulator). */
const PATCHABLE = ["app_metadata", "user_metadata"];

/**
 * `PATCH /api/v2/users/{id}` with `app_metadata` and/or `user_metadata`:
 * top-level keys are merged into the stored metadata, a key set to null is
 * deleted, and an empty object clears the metadata (Auth0's semantics).
 * Other properties are rejected with Auth0's payload validation error.
 */
async function handlePatchUser(ctx, state) {
  const raw = await readBody(ctx.req, MAX_BODY_BYTES);
  if (raw.aborted) return null;
  if (raw.tooLarge) {
    return managementError(413, `Payload content length greater than maximum allowed: ${MAX_BODY_BYTES}`);
  }
  let body;
  try {
    body = JSON.parse(raw.text);
  } catch {
    return managementError(400, "Invalid request payload JSON format");
  }
  if (!isPlainObject(body)) return invalidBody(`'Expected type object but found type ${jsonType(body)}'.`);
  const names = Object.keys(body);
  if (names.length === 0) return invalidBody("'Too few properties defined (0), minimum 1'.");
  const extra = names.filter((name) => !PATCHABLE.includes(name));
  if (extra.length > 0) return invalidBody(`'Additional properties not allowed: ${extra.join(",")}'.`);
  for (const name of names) {
    if (!isPlainObject(body[name])) {
      return invalidBody(
        `'Expected type object but found type ${jsonType(body[name])}' on property ${name}.`,
      );
    }
  }

  const record = findUser(ctx, state);
  if (!record) return notFoundUser();
  const { profile } = record;
  for (const name of names) profile[name] = mergeMetadata(profile[name], body[name]);
  profile.updated_at = new Date().toISOString();
  return jsonReply(200, profile);
}

/** Auth0's metadata merge: `{}` clears, top-level keys replace, null deletes. */
function mergeMetadata(current, patch) {
  const patchEntries = Object.entries(patch);
  if (patchEntries.length === 0) return {};
  // A Map and fromEntries keep keys such as "__proto__" as plain own properties.
  const merged = new Map(Object.entries(isPlainObject(current) ? current : {}));
  for (const [key, value] of patchEntries) {
    if (value === null) merged.delete(key);
    else merged.set(key, value);
  }
  return Object.fromEntries(merged);
}

function jsonType(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** `GET /api/v2/users/{id}/roles` (paginated with `page`, `per_page`, `include_totals`). */
function handleGetUserRoles(ctx, state) {
  const record = findUser(ctx, state);
  if (!record) return notFoundUser();
  return jsonReply(200, paginate(record.roles, ctx.url.searchParams, "roles"));
}

/** `GET /api/v2/users/{id}/permissions` (paginated like the roles). */
function handleGetUserPermissions(ctx, state) {
  const record = findUser(ctx, state);
  if (!record) return notFoundUser();
  return jsonReply(200, paginate(record.permissions, ctx.url.searchParams, "permissions"));
}

/**
 * Auth0-style pagination: without `page`/`per_page` everything is returned;
 * otherwise page `page` (0-based) of `per_page` (default 50, at most 100).
 * `include_totals=true` wraps the list as `{ [key]: [...], start, limit, total }`.
 */
function paginate(items, params, key) {
  const paged = params.has("page") || params.has("per_page");
  const perPage = paged
    ? Math.min(MAX_PER_PAGE, Math.max(1, parseInt(params.get("per_page") ?? "", 10) || DEFAULT_PER_PAGE))
    : items.length;
  const page = paged ? Math.max(0, parseInt(params.get("page") ?? "", 10) || 0) : 0;
  const start = page * perPage;
  const slice = paged ? items.slice(start, start + perPage) : items;
  if (params.get("include_totals") !== "true") return slice;
  return { [key]: slice, start, limit: perPage, total: items.length };
}

// ---------------------------------------------------------------------------
// Management faults and rate limit
// ---------------------------------------------------------------------------

function setManagementFault(state, fault) {
  validateFault(fault, MANAGEMENT_FAULT_TYPES);
  const { times, ...spec } = fault;
  state.managementFault = { spec, remaining: times ?? Infinity };
}

function takeManagementFault(state) {
  if (!state.managementFault) return null;
  const { spec } = state.managementFault;
  state.managementFault.remaining -= 1;
  if (state.managementFault.remaining <= 0) state.managementFault = null;
  return spec;
}

function setManagementRateLimit(state, limit) {
  if (limit === null) {
    state.rateLimit = null;
    return;
  }
  if (!isPlainObject(limit)) throw new TypeError("rate limit must be an object or null");
  const { burst, perSecond, retryAfter = false } = limit;
  if (!(Number.isInteger(burst) && burst > 0)) {
    throw new TypeError("rate limit burst must be a positive integer");
  }
  if (!(Number.isFinite(perSecond) && perSecond > 0)) {
    throw new TypeError("rate limit perSecond must be a positive number");
  }
  if (typeof retryAfter !== "boolean") throw new TypeError("rate limit retryAfter must be a boolean");
  state.rateLimit = { burst, perSecond, retryAfter, tokens: burst, updatedAt: Date.now() };
}

/**
 * Take a token from the bucket. Resolves to `{ limited, headers }`; headers
 * is undefined while no limit is set. `x-ratelimit-reset` is when the next
 * request will be let through (for a 429) or when the bucket is full again.
 */
function takeRateLimitToken(state) {
  const limit = state.rateLimit;
  if (!limit) return { limited: false };
  const now = Date.now();
  limit.tokens = Math.min(limit.burst, limit.tokens + ((now - limit.updatedAt) / 1000) * limit.perSecond);
  limit.updatedAt = now;
  const limited = limit.tokens < 1;
  if (!limited) limit.tokens -= 1;
  const secondsUntil = (tokens) => Math.max(0, tokens - limit.tokens) / limit.perSecond;
  const waitSeconds = limited ? secondsUntil(1) : secondsUntil(limit.burst);
  const headers = {
    "x-ratelimit-limit": String(limit.burst),
    "x-ratelimit-remaining": String(Math.floor(limit.tokens)),
    "x-ratelimit-reset": String(Math.ceil(now / 1000 + waitSeconds)),
  };
  if (limited && limit.retryAfter) headers["retry-after"] = String(Math.ceil(waitSeconds));
  return { limited, headers };
}

// ---------------------------------------------------------------------------
// User store
// ---------------------------------------------------------------------------

/** Build the store from seed users; throws a TypeError for an invalid seed. */
function buildUserStore(users) {
  if (!Array.isArray(users)) throw new TypeError("users must be an array");
  const store = new Map();
  for (const user of users) {
    const record = normalizeUser(user);
    if (store.has(record.profile.user_id)) {
      throw new TypeError(`duplicate user_id ${record.profile.user_id}`);
    }
    store.set(record.profile.user_id, record);
  }
  return store;
}

function addUser(state, user) {
  const record = normalizeUser(user);
  state.users.set(record.profile.user_id, record);
  return record.profile;
}

/** Copy a {@link UserSeed} into `{ profile, roles, permissions }`, filling defaults. */
function normalizeUser(user) {
  if (!isPlainObject(user)) throw new TypeError("user must be an object");
  const { roles = [], permissions = [], ...fields } = structuredClone(user);
  if (typeof fields.user_id !== "string" || fields.user_id === "") {
    throw new TypeError("each user needs a non-empty user_id");
  }
  for (const name of PATCHABLE) {
    if (fields[name] !== undefined && !isPlainObject(fields[name])) {
      throw new TypeError(`user ${fields.user_id}: ${name} must be an object`);
    }
  }
  if (!Array.isArray(roles) || !roles.every((r) => typeof r?.id === "string" && typeof r.name === "string")) {
    throw new TypeError(`user ${fields.user_id}: roles must be an array of { id, name, description? }`);
  }
  if (
    !Array.isArray(permissions) ||
    !permissions.every(
      (p) => typeof p?.permission_name === "string" && typeof p.resource_server_identifier === "string",
    )
  ) {
    throw new TypeError(
      `user ${fields.user_id}: permissions must be an array of { permission_name, resource_server_identifier, ... }`,
    );
  }

  const now = new Date().toISOString();
  const identities = deriveIdentities(fields.user_id);
  const profile = {
    user_id: fields.user_id,
    created_at: now,
    updated_at: now,
    ...(identities && { identities }),
    ...fields,
    app_metadata: fields.app_metadata ?? {},
    user_metadata: fields.user_metadata ?? {},
  };
  return {
    profile,
    roles: roles.map(({ id, name, description = "" }) => ({ id, name, description })),
    permissions: permissions.map((p) => ({
      permission_name: p.permission_name,
      description: p.description ?? "",
      resource_server_name: p.resource_server_name ?? p.resource_server_identifier,
      resource_server_identifier: p.resource_server_identifier,
      sources: p.sources ?? [{ source_id: "", source_name: "", source_type: "DIRECT" }],
    })),
  };
}

/** `[{ provider, user_id, connection, isSocial }]` for a `provider|id` user id. */
function deriveIdentities(userId) {
  const separator = userId.indexOf("|");
  if (separator <= 0) return undefined;
  const provider = userId.slice(0, separator);
  const isDatabase = provider === "auth0";
  return [
    {
      connection: isDatabase ? "Username-Password-Authentication" : provider,
      provider,
      user_id: userId.slice(separator + 1),
      isSocial: !isDatabase,
    },
  ];
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
  let token = jwt;
  if (alg !== undefined && alg !== SIGNING_ALG) {
    const [, payload, signature] = jwt.split(".");
    const forged = base64url.encode(JSON.stringify({ ...protectedHeader, alg }));
    token = `${forged}.${payload}.${signature}`;
  }
  // Numbered for revokeTokens(); identical tokens keep their first number.
  if (!state.signedTokens.has(token)) state.signedTokens.set(token, state.signedTokens.size);
  return token;
}

/** Revoke every token signed so far; returns how many that is. */
function revokeTokens(state) {
  state.revokedBelow = state.signedTokens.size;
  return state.revokedBelow;
}

/** Replace the signing key (and the published JWKS); resolves to the new kid. */
async function rotateKeys(state) {
  state.keys = await createSigningKey();
  return state.keys.kid;
}

// ---------------------------------------------------------------------------
// Control endpoints (/__sim/*)
// ---------------------------------------------------------------------------

function handleGetStats(_ctx, state) {
  const { tokenRequests, tokensIssued, byClient, managementRequests, managementByStatus } = state.stats;
  return jsonReply(200, {
    tokenRequests,
    tokensIssued,
    byClient: { ...byClient },
    managementRequests,
    managementByStatus: { ...managementByStatus },
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

function handleRevoke(_ctx, state) {
  return jsonReply(200, { ok: true, revoked: revokeTokens(state) });
}

async function handleRotateKeys(_ctx, state) {
  return jsonReply(200, { ok: true, kid: await rotateKeys(state) });
}

async function handleSetManagementFault(ctx, state) {
  return applyControl(ctx, (value) => setManagementFault(state, value));
}

function handleClearManagementFault(_ctx, state) {
  state.managementFault = null;
  return jsonReply(200, { ok: true });
}

/** Body `{ burst, perSecond, retryAfter? }`, or `null` to disable. */
async function handleSetRateLimit(ctx, state) {
  return applyControl(ctx, (value) => setManagementRateLimit(state, value));
}

function handleClearRateLimit(_ctx, state) {
  state.rateLimit = null;
  return jsonReply(200, { ok: true });
}

/** Body: a {@link UserSeed}; answers `{ ok: true, user }` with the stored user. */
async function handleAddUser(ctx, state) {
  return applyControl(ctx, (value) => ({ user: addUser(state, value) }));
}

/** The stored user object (no bearer token needed), or 404. */
function handleControlGetUser(ctx, state) {
  const record = state.users.get(decodeParam(ctx.params.id));
  return record ? jsonReply(200, record.profile) : jsonReply(404, { error: "not_found" });
}

/**
 * Read a JSON control body and pass it to `apply`; a TypeError from `apply`
 * becomes a 400. Answers `{ ok: true, ...result }`.
 */
async function applyControl(ctx, apply) {
  const { value, reply } = await readControlJson(ctx.req);
  if (reply !== undefined) return reply;
  let result;
  try {
    result = apply(value);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return jsonReply(400, oauthError("invalid_request", error.message));
  }
  return jsonReply(200, { ok: true, ...(isPlainObject(result) ? result : {}) });
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
  state.stats.managementRequests = 0;
  for (const key of Object.keys(state.stats.managementByStatus)) delete state.stats.managementByStatus[key];
  state.managementFault = null;
  state.rateLimit = null;
  state.revokedBelow = 0;
  state.users = structuredClone(state.userSeed);
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
