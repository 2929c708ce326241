// The tenant simulator's own tests: what the other tests, the demo and the bench rely on — the
// token endpoint's validation and Auth0 error bodies, faults, counters, JWKS and key rotation,
// the Management API's bearer checks (revocation included) and routes, and the CLI.

import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  base64url,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import { MAX_BODY_BYTES, startSimulator } from "../support/simulator.js";

const CLI_PATH = fileURLToPath(new URL("../support/simulator-cli.js", import.meta.url));
const SCOPE = "read:users update:users read:roles read:groups";

/** Valid client-credentials parameters for the default client. */
function credentials(sim, overrides = {}) {
  return {
    grant_type: "client_credentials",
    client_id: "sim-client-id",
    client_secret: "sim-client-secret",
    audience: sim.managementAudience,
    ...overrides,
  };
}

/** POST /oauth/token with a JSON body; returns status, headers, text and parsed JSON. */
async function requestToken(sim, params, { signal } = {}) {
  const response = await fetch(`${sim.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(params),
    signal,
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

const jwksOf = (sim) => createRemoteJWKSet(new URL(`${sim.url}/.well-known/jwks.json`));

describe("token endpoint", () => {
  let sim;
  const OTHER_API = "https://other.example/api";

  before(async () => {
    sim = await startSimulator({
      clients: [
        { clientId: "sim-client-id", clientSecret: "sim-client-secret" },
        { clientId: "other-api-client", clientSecret: "other-secret", audiences: [OTHER_API] },
      ],
    });
  });
  after(() => sim.close());
  beforeEach(() => sim.reset());

  test("exposes url, port, issuer and management audience", () => {
    assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(sim.url, `http://127.0.0.1:${sim.port}`);
    assert.equal(sim.issuer, `${sim.url}/`);
    assert.equal(sim.managementAudience, `${sim.url}/api/v2/`);
  });

  test("publishes an RS256 signing key on the JWKS endpoint, without its private parts", async () => {
    const response = await fetch(`${sim.url}/.well-known/jwks.json`);
    assert.equal(response.status, 200);
    const jwks = await response.json();
    assert.equal(jwks.keys.length, 1);
    const [key] = jwks.keys;
    assert.equal(key.kty, "RSA");
    assert.equal(key.alg, "RS256");
    assert.equal(key.use, "sig");
    assert.equal(typeof key.kid, "string");
    assert.equal(key.d, undefined, "private parts must not be published");
  });

  test("issues a verifiable client-credentials token shaped like Auth0's", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { status, headers, json } = await requestToken(sim, credentials(sim));
    assert.equal(status, 200);
    assert.match(headers.get("content-type"), /^application\/json/);
    assert.equal(headers.get("cache-control"), "no-store");
    assert.deepEqual(Object.keys(json).sort(), ["access_token", "expires_in", "scope", "token_type"]);
    assert.equal(json.token_type, "Bearer");
    assert.equal(json.expires_in, 86400);
    assert.equal(json.scope, SCOPE);

    const { payload, protectedHeader } = await jwtVerify(json.access_token, jwksOf(sim), {
      issuer: sim.issuer,
      audience: sim.managementAudience,
      algorithms: ["RS256"],
    });
    assert.equal(protectedHeader.typ, "JWT");
    assert.equal(typeof protectedHeader.kid, "string");
    assert.equal(payload.sub, "sim-client-id@clients");
    assert.equal(payload.aud, sim.managementAudience, "aud is a string");
    assert.equal(payload.azp, "sim-client-id");
    assert.equal(payload.gty, "client-credentials");
    assert.equal(payload.scope, SCOPE);
    assert.ok(payload.iat >= before && payload.iat <= before + 2);
    assert.equal(payload.exp, payload.iat + 86400);
    assert.equal(typeof payload.jti, "string");
  });

  test("issues unique tokens, and for another API a client has a grant for", async () => {
    const first = await requestToken(sim, credentials(sim));
    const second = await requestToken(sim, credentials(sim));
    assert.notEqual(first.json.access_token, second.json.access_token);
    assert.notEqual(decodeJwt(first.json.access_token).jti, decodeJwt(second.json.access_token).jti);
    const other = await requestToken(
      sim,
      credentials(sim, { client_id: "other-api-client", client_secret: "other-secret", audience: OTHER_API }),
    );
    assert.equal(other.status, 200);
    const { payload } = await jwtVerify(other.json.access_token, jwksOf(sim), { audience: OTHER_API });
    assert.equal(payload.sub, "other-api-client@clients");
    assert.deepEqual(sim.issuedTokens, [
      first.json.access_token,
      second.json.access_token,
      other.json.access_token,
    ]);
  });

  test("counts token requests per client and records each request's body and status", async () => {
    const ok = await requestToken(sim, credentials(sim));
    await requestToken(sim, credentials(sim, { client_secret: "wrong" }));
    await requestToken(sim, credentials(sim, { client_id: "other-api-client" }));
    assert.deepEqual(sim.stats, {
      tokenRequests: 3,
      byClient: { "sim-client-id": 2, "other-api-client": 1 },
      managementByStatus: {},
      groupRequests: 0,
    });
    assert.deepEqual(sim.issuedTokens, [ok.json.access_token]);
    assert.equal(sim.requests.length, 3);
    const [first, second] = sim.requests;
    assert.equal(first.body.client_id, "sim-client-id");
    assert.equal(first.body.audience, sim.managementAudience);
    assert.equal(first.status, 200);
    assert.equal(typeof first.at, "number");
    assert.equal(second.status, 401);
  });

  describe("request validation: Auth0's error bodies", () => {
    test("an unsupported grant type is 400 unsupported_grant_type", async () => {
      const { status, json } = await requestToken(sim, credentials(sim, { grant_type: "password" }));
      assert.equal(status, 400);
      assert.deepEqual(json, {
        error: "unsupported_grant_type",
        error_description: "Unsupported grant type: password",
      });
    });

    for (const name of ["grant_type", "client_id", "client_secret", "audience"]) {
      test(`a missing ${name} is 400 invalid_request`, async () => {
        const params = credentials(sim);
        delete params[name];
        const { status, json } = await requestToken(sim, params);
        assert.equal(status, 400);
        assert.deepEqual(json, {
          error: "invalid_request",
          error_description: `Missing required parameter: ${name}`,
        });
      });
    }

    test("an unknown client and a wrong secret are 401 access_denied", async () => {
      const expected = { error: "access_denied", error_description: "Unauthorized" };
      const unknown = await requestToken(sim, credentials(sim, { client_id: "nobody" }));
      assert.equal(unknown.status, 401);
      assert.deepEqual(unknown.json, expected);
      const wrong = await requestToken(sim, credentials(sim, { client_secret: "nope" }));
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.json, expected);
    });

    test("an audience without a client grant is 403 access_denied", async () => {
      const audience = "https://elsewhere.example/";
      const { status, json } = await requestToken(sim, credentials(sim, { audience }));
      assert.equal(status, 403);
      assert.deepEqual(json, {
        error: "access_denied",
        error_description: `Client is not authorized to access "${audience}". You need to create a "client-grant" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants`,
      });
    });

    test("invalid JSON and other content types are 400 invalid_request", async () => {
      for (const [contentType, body] of [
        ["application/json", "{not json"],
        ["application/json", "[]"],
        ["text/plain", "grant_type=client_credentials"],
      ]) {
        const response = await fetch(`${sim.url}/oauth/token`, {
          method: "POST",
          headers: { "content-type": contentType },
          body,
        });
        assert.equal(response.status, 400, body);
        assert.equal((await response.json()).error, "invalid_request");
      }
      assert.equal(sim.stats.tokenRequests, 3);
    });

    test("a body over 64 KiB is 413, and the simulator goes on", async () => {
      const { status } = await requestToken(sim, credentials(sim, { padding: "x".repeat(MAX_BODY_BYTES) }));
      assert.equal(status, 413);
      assert.equal(sim.stats.tokenRequests, 1);
      assert.deepEqual(sim.issuedTokens, []);
      assert.equal(sim.requests[0].body, null);
      assert.equal(sim.requests[0].status, 413);
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
    });

    test("unknown routes are 404 JSON", async () => {
      for (const [method, path] of [
        ["GET", "/nope"],
        ["GET", "/oauth/token"],
        ["POST", "/api/v2/users/x"],
      ]) {
        const response = await fetch(`${sim.url}${path}`, { method });
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.deepEqual(await response.json(), { error: "not_found" });
      }
      assert.equal(sim.stats.tokenRequests, 0);
    });
  });

  describe("token lifetime", () => {
    test("setTokenLifetime changes expires_in and exp; reset restores it", async () => {
      sim.setTokenLifetime(60);
      const short = await requestToken(sim, credentials(sim));
      assert.equal(short.json.expires_in, 60);
      const claims = decodeJwt(short.json.access_token);
      assert.equal(claims.exp - claims.iat, 60);
      sim.reset();
      assert.equal((await requestToken(sim, credentials(sim))).json.expires_in, 86400);
    });

    test("rejects non-integer lifetimes", () => {
      assert.throws(() => sim.setTokenLifetime(1.5), TypeError);
      assert.throws(() => sim.setTokenLifetime("60"), TypeError);
    });
  });

  describe("faults", () => {
    test("status faults answer Auth0's error bodies until cleared", async () => {
      sim.setFault({ status: 500 });
      for (let i = 0; i < 2; i += 1) {
        const failed = await requestToken(sim, credentials(sim));
        assert.equal(failed.status, 500);
        assert.deepEqual(failed.json, { error: "server_error", error_description: "Internal Server Error" });
      }
      sim.clearFault();
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
      assert.equal(sim.stats.tokenRequests, 3);
      assert.equal(sim.issuedTokens.length, 1);

      for (const [status, error] of [
        [401, "access_denied"],
        [502, "server_error"],
        [503, "temporarily_unavailable"],
        [504, "server_error"],
      ]) {
        sim.setFault({ status });
        const response = await requestToken(sim, credentials(sim));
        assert.equal(response.status, status);
        assert.equal(response.json.error, error);
      }
    });

    test("status faults with a custom string or object body and headers", async () => {
      sim.setFault({
        status: 502,
        body: "<h1>upstream down</h1>",
        headers: { "Content-Type": "text/html", "x-custom": "1" },
      });
      const raw = await requestToken(sim, credentials(sim));
      assert.equal(raw.status, 502);
      assert.equal(raw.text, "<h1>upstream down</h1>");
      assert.equal(raw.headers.get("content-type"), "text/html");
      assert.equal(raw.headers.get("x-custom"), "1");

      const body = { error: "access_denied", error_description: 'Client is not authorized to access "x".' };
      sim.setFault({ status: 403, body });
      const object = await requestToken(sim, credentials(sim));
      assert.equal(object.status, 403);
      assert.deepEqual(object.json, body);
    });

    test("rate_limit faults answer Auth0's 429 with its rate-limit headers", async () => {
      const now = Math.floor(Date.now() / 1000);
      sim.setFault({ type: "rate_limit" });
      const limited = await requestToken(sim, credentials(sim));
      assert.equal(limited.status, 429);
      assert.deepEqual(limited.json, {
        error: "too_many_requests",
        error_description: "Global limit has been reached",
      });
      assert.equal(limited.headers.get("x-ratelimit-limit"), "30");
      assert.equal(limited.headers.get("x-ratelimit-remaining"), "0");
      const reset = Number(limited.headers.get("x-ratelimit-reset"));
      assert.ok(Math.abs(reset - (now + 10)) <= 2, `reset ${reset}`);
      assert.equal(limited.headers.get("retry-after"), null);

      sim.setFault({ type: "rate_limit", resetInSeconds: 60, retryAfterSeconds: 3 });
      const withRetry = await requestToken(sim, credentials(sim));
      assert.equal(withRetry.headers.get("retry-after"), "3");
      assert.ok(Math.abs(Number(withRetry.headers.get("x-ratelimit-reset")) - (now + 60)) <= 2);
      assert.deepEqual(sim.issuedTokens, []);
    });

    test("a delay fault answers normally after the delay, and survives the client going away", async () => {
      sim.setFault({ type: "delay", ms: 150 });
      const started = Date.now();
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
      assert.ok(Date.now() - started >= 140);

      sim.reset();
      sim.setFault({ type: "delay", ms: 200 });
      await assert.rejects(requestToken(sim, credentials(sim), { signal: AbortSignal.timeout(50) }), {
        name: "TimeoutError",
      });
      sim.clearFault();
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
      assert.equal(sim.requests[0].status, null, "nobody was answered");
    });

    test("html, invalid_json and response faults", async () => {
      sim.setFault({ type: "html" });
      const html = await requestToken(sim, credentials(sim));
      assert.equal(html.status, 200);
      assert.match(html.headers.get("content-type"), /^text\/html/);
      assert.equal(html.text, "<html><body>Bad gateway</body></html>");

      sim.setFault({ type: "invalid_json" });
      const truncated = await requestToken(sim, credentials(sim));
      assert.equal(truncated.status, 200);
      assert.match(truncated.headers.get("content-type"), /^application\/json/);
      assert.equal(truncated.json, undefined);

      sim.setFault({ type: "response", body: { token_type: "Bearer" } });
      const custom = await requestToken(sim, credentials(sim));
      assert.equal(custom.status, 200);
      assert.deepEqual(custom.json, { token_type: "Bearer" });
      assert.deepEqual(sim.issuedTokens, []);
    });

    test("token faults merge claims and replace or omit fields of the answer", async () => {
      const past = Math.floor(Date.now() / 1000) - 60;
      sim.setFault({ type: "token", claims: { aud: "other", exp: past }, expiresIn: 0, tokenType: "MAC" });
      const { status, json } = await requestToken(sim, credentials(sim));
      assert.equal(status, 200);
      assert.equal(json.expires_in, 0);
      assert.equal(json.token_type, "MAC");
      const claims = decodeJwt(json.access_token);
      assert.equal(claims.aud, "other");
      assert.equal(claims.exp, past);
      assert.equal(claims.sub, "sim-client-id@clients", "the other claims are kept");
      await assert.rejects(
        jwtVerify(json.access_token, jwksOf(sim), { audience: "other" }),
        joseErrors.JWTExpired,
      );

      sim.setFault({ type: "token", omit: ["expires_in"] });
      const omitted = await requestToken(sim, credentials(sim));
      assert.equal("expires_in" in omitted.json, false);
      assert.equal(typeof omitted.json.access_token, "string");
      for (const expiresIn of [-30, 1e15]) {
        sim.setFault({ type: "token", expiresIn });
        assert.equal((await requestToken(sim, credentials(sim))).json.expires_in, expiresIn);
      }
      sim.setFault({ type: "token", claims: { padding: "x".repeat(5000) } });
      assert.ok((await requestToken(sim, credentials(sim))).json.access_token.length > 5000);
    });

    test("token faults can hand out a malformed access token", async () => {
      const malformed = ["not-a-jwt", "only.twoparts", "!!!.@@@.###"];
      for (const accessToken of malformed) {
        sim.setFault({ type: "token", accessToken });
        const { json } = await requestToken(sim, credentials(sim));
        assert.equal(json.access_token, accessToken);
        assert.equal(json.token_type, "Bearer");
      }
      assert.deepEqual(sim.issuedTokens, malformed);
    });

    test("token faults still validate the request", async () => {
      sim.setFault({ type: "token", claims: { aud: "x" } });
      assert.equal((await requestToken(sim, credentials(sim, { client_secret: "bad" }))).status, 401);
    });

    test("setFault rejects malformed faults", () => {
      for (const fault of [
        null,
        {},
        { status: 99 },
        { type: "bogus" },
        { type: "delay" },
        { type: "response" },
        { type: "token", claims: "x" },
      ]) {
        assert.throws(() => sim.setFault(fault), TypeError, JSON.stringify(fault));
      }
    });
  });

  test("signToken signs the claims as they are with the simulator key", async () => {
    const token = await sim.signToken({ iss: sim.issuer, aud: "custom", sub: "user|1" });
    const { payload } = await jwtVerify(token, jwksOf(sim), { issuer: sim.issuer, audience: "custom" });
    assert.equal(payload.sub, "user|1");
    assert.equal(payload.exp, undefined, "no defaults are added");
    assert.deepEqual(sim.issuedTokens, [], "not counted as issued");
  });
});

describe("simulator lifecycle", () => {
  test("the tokenLifetimeSeconds option; reset restores it", async () => {
    const sim = await startSimulator({ tokenLifetimeSeconds: 3600 });
    try {
      assert.equal((await requestToken(sim, credentials(sim))).json.expires_in, 3600);
      sim.setTokenLifetime(5);
      sim.reset();
      assert.equal((await requestToken(sim, credentials(sim))).json.expires_in, 3600);
    } finally {
      await sim.close();
    }
  });

  test("rejects invalid options before listening", async () => {
    await assert.rejects(startSimulator({ clients: [{ clientId: "x" }] }), TypeError);
    await assert.rejects(startSimulator({ tokenLifetimeSeconds: "1" }), TypeError);
  });

  test("close() drops keep-alive connections and pending delays promptly", async () => {
    const sim = await startSimulator();
    assert.equal((await requestToken(sim, credentials(sim))).status, 200); // keeps a connection
    sim.setFault({ type: "delay", ms: 10_000 });
    const pending = requestToken(sim, credentials(sim)).catch((error) => error);
    while (sim.stats.tokenRequests < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    const started = Date.now();
    await sim.close();
    assert.ok(Date.now() - started < 1000, "close took too long");
    assert.ok((await pending) instanceof Error);
    await sim.close(); // idempotent
  });
});

describe("simulator CLI", () => {
  for (const signal of ["SIGTERM", "SIGINT"]) {
    test(`announces its URL, serves tokens and exits cleanly on ${signal}`, async () => {
      const child = spawn(
        process.execPath,
        [
          CLI_PATH,
          "--port",
          "0",
          "--lifetime",
          "600",
          "--client-id",
          "cli-client",
          "--client-secret",
          "cli-secret",
          "--audience",
          "https://cli.example/api/",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (chunk) => (stderr += chunk));
      try {
        const lines = createInterface({ input: child.stdout });
        const [line] = await Promise.race([
          once(lines, "line"),
          once(child, "exit").then(([code]) => {
            throw new Error(`CLI exited with ${code}: ${stderr}`);
          }),
        ]);
        let extraOutput = "";
        lines.on("line", (l) => (extraOutput += l));
        const announced = JSON.parse(line);
        assert.equal(announced.simulator, "listening");
        assert.match(announced.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        const { status, json } = await requestToken(
          { url: announced.url },
          {
            grant_type: "client_credentials",
            client_id: "cli-client",
            client_secret: "cli-secret",
            audience: "https://cli.example/api/",
          },
        );
        assert.equal(status, 200);
        assert.equal(json.expires_in, 600);

        const exited = once(child, "exit");
        child.kill(signal);
        const [code] = await exited;
        assert.equal(code, 0, stderr);
        // Nothing but the announcement: no secret or token on the console.
        assert.equal(extraOutput, "");
        assert.ok(!stderr.includes("cli-secret"));
        assert.ok(!stderr.includes(json.access_token));
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    });
  }

  test("fails with a usage message on bad arguments", async () => {
    const child = spawn(process.execPath, [CLI_PATH, "--port", "abc"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const [code] = await once(child, "exit");
    assert.equal(code, 2);
    assert.match(stderr, /--port must be an integer/);
  });
});

// ---------------------------------------------------------------------------------------------
// Management API v2
// ---------------------------------------------------------------------------------------------

const USER_ID = "auth0|user-1";
const USER_PATH = `/api/v2/users/${encodeURIComponent(USER_ID)}`;

/** Calls the Management API; `token` becomes a bearer header, `authorization` is sent as is. */
async function api(sim, method, path, { token, authorization, body, rawBody } = {}) {
  const headers = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (authorization !== undefined) headers.authorization = authorization;
  if (body !== undefined || rawBody !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers,
    body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Claims like those of an /oauth/token token, for signToken. */
function tokenClaims(sim, overrides = {}) {
  const iat = Math.floor(Date.now() / 1000);
  return {
    iss: sim.issuer,
    sub: "sim-client-id@clients",
    aud: sim.managementAudience,
    iat,
    exp: iat + 3600,
    scope: SCOPE,
    gty: "client-credentials",
    jti: crypto.randomUUID(),
    ...overrides,
  };
}

/** `token` with its header replaced by `header` (the signature no longer matches). */
function withHeader(token, header) {
  const [, payload, signature] = token.split(".");
  return `${base64url.encode(JSON.stringify(header))}.${payload}.${signature}`;
}

const unauthorized = (message) => ({
  statusCode: 401,
  error: "Unauthorized",
  message,
  attributes: { error: message },
});

describe("management API", () => {
  let sim;
  let token;

  before(async () => {
    sim = await startSimulator();
  });
  after(() => sim.close());
  beforeEach(async () => {
    sim.reset();
    const { status, json } = await requestToken(sim, credentials(sim));
    assert.equal(status, 200);
    token = json.access_token;
  });

  describe("users", () => {
    test("GET /api/v2/users/{id} returns the user for a URL-encoded or raw id", async () => {
      const { status, headers, json } = await api(sim, "GET", USER_PATH, { token });
      assert.equal(status, 200);
      assert.match(headers.get("content-type"), /^application\/json/);
      assert.equal(json.user_id, USER_ID);
      assert.equal(json.email, "user-1@example.com");
      assert.deepEqual(json.app_metadata, {});
      assert.deepEqual(json.user_metadata, {});
      assert.equal(json.identities[0].provider, "auth0");
      assert.equal(json.roles, undefined, "roles are not part of the user object");
      const raw = await api(sim, "GET", `/api/v2/users/${USER_ID}`, { token });
      assert.equal(raw.status, 200);
      assert.equal(raw.json.user_id, USER_ID);
      // A malformed escape matches nobody.
      assert.equal((await api(sim, "GET", "/api/v2/users/%E0%A4%A", { token })).status, 404);
    });

    test("unknown users answer Auth0's 404 on every route", async () => {
      const expected = {
        statusCode: 404,
        error: "Not Found",
        message: "The user does not exist.",
        errorCode: "inexistent_user",
      };
      const path = `/api/v2/users/${encodeURIComponent("auth0|nobody")}`;
      for (const [method, suffix, body] of [
        ["GET", ""],
        ["PATCH", "", { app_metadata: { a: 1 } }],
        ["GET", "/roles"],
        ["GET", "/permissions"],
        ["GET", "/groups"],
        ["GET", "/groups?take=1"],
      ]) {
        const reply = await api(sim, method, `${path}${suffix}`, { token, body });
        assert.equal(reply.status, 404, `${method} ${suffix}`);
        assert.deepEqual(reply.json, expected);
      }
    });

    test("GET /roles and /permissions list the user's entries", async () => {
      const roles = await api(sim, "GET", `${USER_PATH}/roles`, { token });
      assert.equal(roles.status, 200);
      assert.deepEqual(roles.json, [
        { id: "rol_admin", name: "admin", description: "Administrator" },
        { id: "rol_editor", name: "editor", description: "Can edit content" },
      ]);
      const permissions = await api(sim, "GET", `${USER_PATH}/permissions`, { token });
      assert.equal(permissions.status, 200);
      assert.deepEqual(
        permissions.json.map((p) => p.permission_name),
        ["read:reports", "write:articles"],
      );
      for (const permission of permissions.json) {
        assert.deepEqual(Object.keys(permission).sort(), [
          "description",
          "permission_name",
          "resource_server_identifier",
          "resource_server_name",
          "sources",
        ]);
      }
    });
  });

  describe("GET /api/v2/users/{id}/groups", () => {
    const ids = ["grp_staff00000000001", "grp_admins000000001", "grp_admins000000002"];

    test("without from or take: the whole list as an array", async () => {
      const reply = await api(sim, "GET", `${USER_PATH}/groups`, { token });
      assert.equal(reply.status, 200);
      assert.deepEqual(
        reply.json.map((g) => g.id),
        ids,
      );
      assert.deepEqual(Object.keys(reply.json[1]).sort(), [
        "connection_id",
        "created_at",
        "id",
        "membership_created_at",
        "name",
        "tenant_name",
        "updated_at",
      ]);
      assert.equal(reply.json[0].connection_id, undefined, "a tenant group");
    });

    test("checkpoint pagination: take, then from = next until there is no next", async () => {
      const seen = [];
      let from;
      for (let page = 0; page < 5; page++) {
        const query = `?take=2${from ? `&from=${encodeURIComponent(from)}` : ""}`;
        const reply = await api(sim, "GET", `${USER_PATH}/groups${query}`, { token });
        assert.equal(reply.status, 200);
        seen.push(...reply.json.groups.map((g) => g.id));
        from = reply.json.next;
        if (!from) break;
      }
      assert.deepEqual(seen, ids);
      const all = await api(sim, "GET", `${USER_PATH}/groups?take=100`, { token });
      assert.deepEqual(Object.keys(all.json), ["groups"], "no next on the last page");
      assert.equal(sim.stats.groupRequests, 3);
    });

    test("a take outside 1-100 or an unknown from is a 400", async () => {
      for (const query of ["?take=0", "?take=101", "?take=1.5", "?take=x", "?from=grp_nope"]) {
        const reply = await api(sim, "GET", `${USER_PATH}/groups${query}`, { token });
        assert.equal(reply.status, 400, query);
        assert.equal(reply.json.errorCode, "invalid_query_string");
      }
    });

    test("needs read:groups", async () => {
      const reader = await sim.signToken(tokenClaims(sim, { scope: "read:users" }));
      const reply = await api(sim, "GET", `${USER_PATH}/groups`, { token: reader });
      assert.equal(reply.status, 403);
      assert.equal(reply.json.message, "Insufficient scope, expected any of: read:groups");
      assert.equal(sim.stats.groupRequests, 0, "refused before the handler");
    });
  });

  describe("PATCH /api/v2/users/{id}", () => {
    test("merges top-level metadata keys, deletes keys set to null, an empty object clears", async () => {
      const first = await api(sim, "PATCH", USER_PATH, {
        token,
        body: {
          app_metadata: { plan: "free", keep: true, nested: { a: 1 }, drop: "x" },
          user_metadata: { theme: "dark" },
        },
      });
      assert.equal(first.status, 200);
      const { json } = await api(sim, "PATCH", USER_PATH, {
        token,
        body: { app_metadata: { plan: "pro", nested: { c: 3 }, drop: null, missing: null } },
      });
      assert.deepEqual(json.app_metadata, { plan: "pro", keep: true, nested: { c: 3 } });
      assert.deepEqual(json.user_metadata, { theme: "dark" }, "untouched");
      assert.notEqual(json.updated_at, "2024-01-01T00:00:00.000Z");
      assert.deepEqual((await api(sim, "GET", USER_PATH, { token })).json, json, "a GET sees the change");

      const cleared = await api(sim, "PATCH", USER_PATH, { token, body: { app_metadata: {} } });
      assert.deepEqual(cleared.json.app_metadata, {});
      assert.deepEqual(cleared.json.user_metadata, { theme: "dark" });
      sim.reset();
      assert.deepEqual(
        (await api(sim, "GET", USER_PATH, { token })).json.user_metadata,
        {},
        "reset restores the store",
      );
    });

    test("'__proto__' keys are stored as plain properties", async () => {
      const { json } = await api(sim, "PATCH", USER_PATH, {
        token,
        rawBody: '{"app_metadata":{"__proto__":{"polluted":true},"x":1}}',
      });
      assert.deepEqual(Object.keys(json.app_metadata).sort(), ["__proto__", "x"]);
      assert.equal({}.polluted, undefined);
    });

    test("malformed bodies are Auth0's 400s and change nothing", async () => {
      const invalidJson = await api(sim, "PATCH", USER_PATH, { token, rawBody: "{" });
      assert.equal(invalidJson.status, 400);
      assert.deepEqual(invalidJson.json, {
        statusCode: 400,
        error: "Bad Request",
        message: "Invalid request payload JSON format",
      });
      for (const rawBody of [
        "[]",
        "{}",
        '{"email":"x@example.com"}',
        '{"app_metadata":"pro"}',
        '{"user_metadata":null}',
      ]) {
        const reply = await api(sim, "PATCH", USER_PATH, { token, rawBody });
        assert.equal(reply.status, 400, rawBody);
        assert.equal(reply.json.statusCode, 400, rawBody);
        assert.equal(reply.json.errorCode, "invalid_body", rawBody);
        assert.match(reply.json.message, /^Payload validation error/, rawBody);
      }
      assert.deepEqual(
        (await api(sim, "GET", USER_PATH, { token })).json.app_metadata,
        {},
        "nothing changed",
      );
    });

    test("a body over 64 KiB is 413", async () => {
      const reply = await api(sim, "PATCH", USER_PATH, {
        token,
        body: { app_metadata: { padding: "x".repeat(MAX_BODY_BYTES) } },
      });
      assert.equal(reply.status, 413);
      assert.equal(reply.json.statusCode, 413);
    });
  });

  describe("bearer checks", () => {
    test("a missing or malformed Authorization header, or a garbage token, is 401 Missing authentication", async () => {
      const expected = { statusCode: 401, error: "Unauthorized", message: "Missing authentication" };
      for (const authorization of [
        undefined,
        "",
        "Bearer",
        "Bearer ",
        `Basic ${Buffer.from("a:b").toString("base64")}`,
        `Token ${token}`,
        `Bearer ${token} extra`,
        "Bearer garbage",
        "Bearer a.b.c",
        `Bearer ${token}x.y`,
      ]) {
        const reply = await api(sim, "GET", USER_PATH, { authorization });
        assert.equal(reply.status, 401, String(authorization).slice(0, 12));
        assert.deepEqual(reply.json, expected);
      }
      // The scheme is case-insensitive.
      assert.equal((await api(sim, "GET", USER_PATH, { authorization: `bearer ${token}` })).status, 200);
    });

    test("a bad signature, unknown kid or other alg is 401 Invalid signature", async () => {
      const [header, payload, signature] = token.split(".");
      const tampered = base64url.encode(
        JSON.stringify({ ...decodeJwt(token), scope: `${SCOPE} delete:users` }),
      );
      const kid = decodeProtectedHeader(token).kid;
      for (const bad of [
        `${header}.${tampered}.${signature}`,
        `${header}.${payload}.${signature.slice(0, -4)}AAAA`,
        withHeader(token, { alg: "RS256", typ: "JWT", kid: "unknown-kid" }),
        withHeader(token, { alg: "HS256", typ: "JWT", kid }),
      ]) {
        const reply = await api(sim, "GET", USER_PATH, { token: bad });
        assert.equal(reply.status, 401);
        assert.deepEqual(
          reply.json,
          unauthorized("Invalid signature received for JSON Web Token validation"),
        );
      }
    });

    test("an expired token is 401 Expired token, checked before the audience", async () => {
      const past = Math.floor(Date.now() / 1000) - 10;
      const expired = await sim.signToken(tokenClaims(sim, { iat: past - 3600, exp: past }));
      const reply = await api(sim, "GET", USER_PATH, { token: expired });
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.json, unauthorized("Expired token received for JSON Web Token validation"));
      const both = await sim.signToken(tokenClaims(sim, { exp: past, aud: "https://other.example/" }));
      assert.equal((await api(sim, "GET", USER_PATH, { token: both })).json.message, reply.json.message);
    });

    test("a token for another audience is 401 Bad audience", async () => {
      const other = await sim.signToken(tokenClaims(sim, { aud: "https://other.example/api/" }));
      const reply = await api(sim, "GET", USER_PATH, { token: other });
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.json, unauthorized("Bad audience: https://other.example/api/"));
      const several = await sim.signToken(
        tokenClaims(sim, { aud: ["https://a.example/", "https://b.example/"] }),
      );
      assert.equal(
        (await api(sim, "GET", USER_PATH, { token: several })).json.message,
        "Bad audience: https://a.example/ https://b.example/",
      );
      // An array holding the Management audience is fine.
      const multi = await sim.signToken(
        tokenClaims(sim, { aud: [sim.managementAudience, `${sim.url}/userinfo`] }),
      );
      assert.equal((await api(sim, "GET", USER_PATH, { token: multi })).status, 200);
    });

    test("a token from another issuer is 401 Invalid token", async () => {
      const foreign = await sim.signToken(tokenClaims(sim, { iss: "https://elsewhere.example/" }));
      const reply = await api(sim, "GET", USER_PATH, { token: foreign });
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.json, unauthorized("Invalid token"));
    });

    test("missing scopes are 403 insufficient_scope", async () => {
      const reader = await sim.signToken(tokenClaims(sim, { scope: "read:users" }));
      assert.equal((await api(sim, "GET", USER_PATH, { token: reader })).status, 200);
      assert.equal((await api(sim, "GET", `${USER_PATH}/permissions`, { token: reader })).status, 200);
      const patch = await api(sim, "PATCH", USER_PATH, { token: reader, body: { app_metadata: { a: 1 } } });
      assert.equal(patch.status, 403);
      assert.deepEqual(patch.json, {
        statusCode: 403,
        error: "Forbidden",
        message: "Insufficient scope, expected any of: update:users",
        errorCode: "insufficient_scope",
      });
      assert.deepEqual((await api(sim, "GET", USER_PATH, { token })).json.app_metadata, {}, "not applied");
      const roles = await api(sim, "GET", `${USER_PATH}/roles`, { token: reader });
      assert.equal(roles.status, 403);
      assert.equal(roles.json.message, "Insufficient scope, expected any of: read:roles");

      const rolesOnly = await sim.signToken(tokenClaims(sim, { scope: "read:roles" }));
      assert.equal(
        (await api(sim, "GET", USER_PATH, { token: rolesOnly })).json.message,
        "Insufficient scope, expected any of: read:users",
      );
      const none = await sim.signToken(tokenClaims(sim, { scope: undefined }));
      const noScope = await api(sim, "GET", `${USER_PATH}/roles`, { token: none });
      assert.equal(noScope.status, 403);
      assert.equal(noScope.json.message, "Insufficient scope, expected any of: read:users,read:roles");
    });

    test("the checks run before the user lookup", async () => {
      assert.equal((await api(sim, "GET", "/api/v2/users/auth0%7Cnobody")).status, 401);
    });

    test("revokeTokens rejects every earlier token, before the scope check, and not later ones", async () => {
      const signed = await sim.signToken(tokenClaims(sim));
      const reader = await sim.signToken(tokenClaims(sim, { scope: "read:users" }));
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
      sim.revokeTokens();
      for (const revoked of [token, signed]) {
        const reply = await api(sim, "GET", USER_PATH, { token: revoked });
        assert.equal(reply.status, 401);
        assert.deepEqual(reply.json, unauthorized("Invalid token"));
      }
      const patch = await api(sim, "PATCH", USER_PATH, { token: reader, body: { app_metadata: { a: 1 } } });
      assert.equal(patch.status, 401, "revocation comes before the scopes");

      const fresh = (await requestToken(sim, credentials(sim))).json.access_token;
      assert.equal((await api(sim, "GET", USER_PATH, { token: fresh })).status, 200);
      const freshSigned = await sim.signToken(tokenClaims(sim));
      assert.equal((await api(sim, "GET", USER_PATH, { token: freshSigned })).status, 200);
      // reset() lifts the revocation.
      sim.reset();
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
    });

    test("rotateKeys invalidates tokens signed with the old key; reset keeps the new one", async () => {
      const oldKid = decodeProtectedHeader(token).kid;
      const newKid = await sim.rotateKeys();
      assert.notEqual(newKid, oldKid);
      const jwks = await (await fetch(`${sim.url}/.well-known/jwks.json`)).json();
      assert.deepEqual(
        jwks.keys.map((k) => k.kid),
        [newKid],
      );
      const reply = await api(sim, "GET", USER_PATH, { token });
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.json, unauthorized("Invalid signature received for JSON Web Token validation"));

      const fresh = (await requestToken(sim, credentials(sim))).json.access_token;
      assert.equal(decodeProtectedHeader(fresh).kid, newKid);
      assert.equal((await api(sim, "GET", USER_PATH, { token: fresh })).status, 200);
      await jwtVerify(fresh, jwksOf(sim), { issuer: sim.issuer, audience: sim.managementAudience });
      sim.reset();
      assert.equal((await api(sim, "GET", USER_PATH, { token: fresh })).status, 200);
    });
  });

  test("counts every /api/v2 answer by status, apart from token requests; reset zeroes them", async () => {
    await api(sim, "GET", USER_PATH, { token });
    await api(sim, "PATCH", USER_PATH, { token, body: { app_metadata: { a: 1 } } });
    await api(sim, "GET", USER_PATH);
    await api(sim, "GET", "/api/v2/users/auth0%7Cnobody", { token });
    await api(sim, "GET", "/api/v2/clients", { token });
    assert.deepEqual(sim.stats.managementByStatus, { 200: 2, 401: 1, 404: 2 });
    assert.equal(sim.stats.tokenRequests, 1, "only the beforeEach token");
    sim.reset();
    assert.deepEqual(sim.stats.managementByStatus, {});
  });
});
