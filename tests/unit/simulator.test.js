import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";
import { MAX_BODY_BYTES, startSimulator } from "../support/simulator.js";

const CLI_PATH = fileURLToPath(new URL("../support/simulator-cli.js", import.meta.url));

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

/** POST /oauth/token as JSON (default) or form-encoded; returns status, headers, text, json. */
async function requestToken(sim, params, { form = false, signal } = {}) {
  const response = await fetch(`${sim.url}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": form ? "application/x-www-form-urlencoded" : "application/json",
    },
    body: form ? new URLSearchParams(params).toString() : JSON.stringify(params),
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

async function control(sim, method, path, body) {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

describe("simulator", () => {
  let sim;

  before(async () => {
    sim = await startSimulator({
      clients: [
        { clientId: "sim-client-id", clientSecret: "sim-client-secret" },
        {
          clientId: "spa-client",
          clientSecret: "spa-secret",
          grantTypes: ["authorization_code"],
        },
        {
          clientId: "other-api-client",
          clientSecret: "other-secret",
          audiences: ["https://other.example/api"],
          scope: "read:things",
        },
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

  test("publishes an RS256 signing key on the JWKS endpoint", async () => {
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

  test("issues a verifiable client-credentials token (JSON body)", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { status, headers, json } = await requestToken(sim, credentials(sim));
    assert.equal(status, 200);
    assert.match(headers.get("content-type"), /^application\/json/);
    assert.equal(headers.get("cache-control"), "no-store");
    assert.deepEqual(Object.keys(json).sort(), ["access_token", "expires_in", "scope", "token_type"]);
    assert.equal(json.token_type, "Bearer");
    assert.equal(json.expires_in, 86400);
    assert.equal(json.scope, "read:users update:users read:roles");

    const jwks = createRemoteJWKSet(new URL(`${sim.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(json.access_token, jwks, {
      issuer: sim.issuer,
      audience: sim.managementAudience,
      algorithms: ["RS256"],
    });
    assert.equal(protectedHeader.alg, "RS256");
    assert.equal(protectedHeader.typ, "JWT");
    assert.equal(protectedHeader.kid, sim.jwks.keys[0].kid);
    assert.equal(payload.iss, sim.issuer);
    assert.equal(payload.sub, "sim-client-id@clients");
    assert.equal(payload.aud, sim.managementAudience, "aud is a string");
    assert.equal(payload.azp, "sim-client-id");
    assert.equal(payload.gty, "client-credentials");
    assert.equal(payload.scope, "read:users update:users read:roles");
    assert.ok(payload.iat >= before && payload.iat <= before + 2);
    assert.equal(payload.exp, payload.iat + 86400);
    assert.equal(typeof payload.jti, "string");
  });

  test("accepts form-encoded bodies and issues unique tokens", async () => {
    const first = await requestToken(sim, credentials(sim), { form: true });
    const second = await requestToken(sim, credentials(sim), { form: true });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.notEqual(first.json.access_token, second.json.access_token);
    assert.notEqual(decodeJwt(first.json.access_token).jti, decodeJwt(second.json.access_token).jti);
    assert.deepEqual(sim.issuedTokens, [first.json.access_token, second.json.access_token]);
  });

  test("uses the per-client scope and audiences", async () => {
    const audience = "https://other.example/api";
    const { status, json } = await requestToken(
      sim,
      credentials(sim, {
        client_id: "other-api-client",
        client_secret: "other-secret",
        audience,
      }),
    );
    assert.equal(status, 200);
    assert.equal(json.scope, "read:things");
    const payload = await sim.verifyToken(json.access_token, { audience });
    assert.equal(payload.sub, "other-api-client@clients");
  });

  test("tracks stats, issued tokens and a request log", async () => {
    const ok = await requestToken(sim, credentials(sim), { form: true });
    await requestToken(sim, credentials(sim, { client_secret: "wrong" }));
    await requestToken(sim, credentials(sim, { client_id: "spa-client" }));

    assert.deepEqual(sim.stats, {
      tokenRequests: 3,
      tokensIssued: 1,
      byClient: { "sim-client-id": 2, "spa-client": 1 },
      managementRequests: 0,
      managementByStatus: {},
    });
    assert.deepEqual(sim.issuedTokens, [ok.json.access_token]);
    assert.equal(sim.requests.length, 3);
    const [first, second] = sim.requests;
    assert.equal(first.method, "POST");
    assert.equal(first.path, "/oauth/token");
    assert.equal(first.contentType, "application/x-www-form-urlencoded");
    assert.equal(first.body.client_id, "sim-client-id");
    assert.equal(first.status, 200);
    assert.equal(typeof first.at, "number");
    assert.equal(second.contentType, "application/json");
    assert.equal(second.status, 401);

    const stats = await control(sim, "GET", "/__sim/stats");
    assert.deepEqual(stats, { status: 200, json: sim.stats });
  });

  describe("request validation", () => {
    test("rejects an unsupported grant type", async () => {
      const { status, json } = await requestToken(sim, credentials(sim, { grant_type: "password" }));
      assert.equal(status, 400);
      assert.deepEqual(json, {
        error: "unsupported_grant_type",
        error_description: "Unsupported grant type: password",
      });
    });

    for (const name of ["grant_type", "client_id", "client_secret", "audience"]) {
      test(`rejects a missing ${name}`, async () => {
        const params = credentials(sim);
        delete params[name];
        const { status, json } = await requestToken(sim, params, {
          form: true,
        });
        assert.equal(status, 400);
        assert.deepEqual(json, {
          error: "invalid_request",
          error_description: `Missing required parameter: ${name}`,
        });
      });
    }

    test("rejects an unknown client and a wrong secret with 401", async () => {
      const expected = {
        error: "access_denied",
        error_description: "Unauthorized",
      };
      const unknown = await requestToken(sim, credentials(sim, { client_id: "nobody" }));
      assert.equal(unknown.status, 401);
      assert.deepEqual(unknown.json, expected);
      const wrong = await requestToken(sim, credentials(sim, { client_secret: "nope" }));
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.json, expected);
    });

    test("rejects a client without the client_credentials grant with 403", async () => {
      const { status, json } = await requestToken(
        sim,
        credentials(sim, {
          client_id: "spa-client",
          client_secret: "spa-secret",
        }),
      );
      assert.equal(status, 403);
      assert.deepEqual(json, {
        error: "unauthorized_client",
        error_description: "Grant type 'client_credentials' not allowed for the client.",
        error_uri: "https://auth0.com/docs/clients/client-grant-types",
      });
    });

    test("rejects an audience without a client grant with 403", async () => {
      const audience = "https://elsewhere.example/";
      const { status, json } = await requestToken(sim, credentials(sim, { audience }));
      assert.equal(status, 403);
      assert.deepEqual(json, {
        error: "access_denied",
        error_description: `Client is not authorized to access "${audience}". You need to create a "client-grant" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants`,
      });
    });

    test("rejects invalid JSON and unsupported content types with 400", async () => {
      const badJson = await fetch(`${sim.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{not json",
      });
      assert.equal(badJson.status, 400);
      assert.equal((await badJson.json()).error, "invalid_request");
      const textBody = await fetch(`${sim.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "grant_type=client_credentials",
      });
      assert.equal(textBody.status, 400);
      assert.equal((await textBody.json()).error, "invalid_request");
      assert.equal(sim.stats.tokenRequests, 2);
    });

    test("answers 413 for bodies over 64 KiB", async () => {
      const params = credentials(sim, { padding: "x".repeat(MAX_BODY_BYTES) });
      const { status } = await requestToken(sim, params, { form: true });
      assert.equal(status, 413);
      assert.equal(sim.stats.tokenRequests, 1);
      assert.equal(sim.stats.tokensIssued, 0);
      assert.equal(sim.requests[0].body, null);
      assert.equal(sim.requests[0].status, 413);
      // The server is still healthy afterwards.
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
    });

    test("answers 404 JSON for unknown routes", async () => {
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
      const normal = await requestToken(sim, credentials(sim));
      assert.equal(normal.json.expires_in, 86400);
    });

    test("rejects non-integer lifetimes", () => {
      assert.throws(() => sim.setTokenLifetime(1.5), TypeError);
      assert.throws(() => sim.setTokenLifetime("60"), TypeError);
    });
  });

  describe("faults", () => {
    test("status fault with default bodies, limited by times", async () => {
      sim.setFault({ status: 500, times: 1 });
      const failed = await requestToken(sim, credentials(sim));
      assert.equal(failed.status, 500);
      assert.deepEqual(failed.json, {
        error: "server_error",
        error_description: "Internal Server Error",
      });
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
      assert.equal(sim.stats.tokenRequests, 2);
      assert.equal(sim.stats.tokensIssued, 1);

      sim.setFault({ status: 503 });
      for (let i = 0; i < 3; i += 1) {
        const unavailable = await requestToken(sim, credentials(sim));
        assert.equal(unavailable.status, 503);
        assert.equal(unavailable.json.error, "temporarily_unavailable");
      }
      for (const status of [502, 504]) {
        sim.setFault({ status, times: 1 });
        const response = await requestToken(sim, credentials(sim));
        assert.equal(response.status, status);
        assert.equal(response.json.error, "server_error");
      }
    });

    test("status fault with custom string/object body and headers", async () => {
      sim.setFault({
        status: 502,
        body: "<h1>upstream down</h1>",
        headers: { "Content-Type": "text/html", "x-custom": "1" },
        times: 1,
      });
      const raw = await requestToken(sim, credentials(sim));
      assert.equal(raw.status, 502);
      assert.equal(raw.text, "<h1>upstream down</h1>");
      assert.equal(raw.headers.get("content-type"), "text/html");
      assert.equal(raw.headers.get("x-custom"), "1");

      sim.setFault({ status: 400, body: { error: "custom" }, times: 1 });
      const object = await requestToken(sim, credentials(sim));
      assert.equal(object.status, 400);
      assert.deepEqual(object.json, { error: "custom" });
    });

    test("clearFault stops an unlimited fault", async () => {
      sim.setFault({ status: 500 });
      assert.equal((await requestToken(sim, credentials(sim))).status, 500);
      sim.clearFault();
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
    });

    test("rate_limit fault sends Auth0 rate-limit headers", async () => {
      sim.setFault({ type: "rate_limit", times: 1 });
      const now = Math.floor(Date.now() / 1000);
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

      sim.setFault({
        type: "rate_limit",
        resetInSeconds: 60,
        retryAfterSeconds: 3,
        times: 1,
      });
      const withRetry = await requestToken(sim, credentials(sim));
      assert.equal(withRetry.headers.get("retry-after"), "3");
      const reset2 = Number(withRetry.headers.get("x-ratelimit-reset"));
      assert.ok(Math.abs(reset2 - (now + 60)) <= 2);
      assert.equal(sim.stats.tokenRequests, 2);
      assert.equal(sim.stats.tokensIssued, 0);
    });

    test("delay fault answers normally after the delay", async () => {
      sim.setFault({ type: "delay", ms: 150, times: 1 });
      const started = Date.now();
      const { status } = await requestToken(sim, credentials(sim));
      assert.equal(status, 200);
      assert.ok(Date.now() - started >= 140);
      assert.equal(sim.stats.tokensIssued, 1);
    });

    test("delay fault survives the client disconnecting", async () => {
      sim.setFault({ type: "delay", ms: 200, times: 1 });
      await assert.rejects(
        requestToken(sim, credentials(sim), {
          signal: AbortSignal.timeout(50),
        }),
        { name: "TimeoutError" },
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(sim.stats.tokenRequests, 1);
      assert.equal(sim.stats.tokensIssued, 0);
      assert.equal(sim.requests[0].status, null);
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
    });

    test("html, invalid_json and response faults", async () => {
      sim.setFault({ type: "html", times: 1 });
      const html = await requestToken(sim, credentials(sim));
      assert.equal(html.status, 200);
      assert.match(html.headers.get("content-type"), /^text\/html/);
      assert.equal(html.text, "<html><body>Bad gateway</body></html>");

      sim.setFault({ type: "invalid_json", times: 1 });
      const truncated = await requestToken(sim, credentials(sim));
      assert.equal(truncated.status, 200);
      assert.match(truncated.headers.get("content-type"), /^application\/json/);
      assert.equal(truncated.text, '{"access_token": "abc"');
      assert.equal(truncated.json, undefined);

      sim.setFault({
        type: "response",
        body: { token_type: "Bearer" },
        times: 1,
      });
      const custom = await requestToken(sim, credentials(sim));
      assert.equal(custom.status, 200);
      assert.deepEqual(custom.json, { token_type: "Bearer" });

      assert.equal(sim.stats.tokenRequests, 3);
      assert.equal(sim.stats.tokensIssued, 0);
    });

    test("token fault merges claims and overrides response fields", async () => {
      const past = Math.floor(Date.now() / 1000) - 60;
      sim.setFault({
        type: "token",
        claims: { aud: "other", exp: past },
        expiresIn: 0,
        tokenType: "bearer",
        times: 1,
      });
      const { status, json } = await requestToken(sim, credentials(sim));
      assert.equal(status, 200);
      assert.equal(json.expires_in, 0);
      assert.equal(json.token_type, "bearer");
      const claims = decodeJwt(json.access_token);
      assert.equal(claims.aud, "other");
      assert.equal(claims.exp, past);
      assert.equal(claims.sub, "sim-client-id@clients", "defaults kept");
      await assert.rejects(sim.verifyToken(json.access_token, { audience: "other" }), joseErrors.JWTExpired);
      await assert.rejects(
        sim.verifyToken(json.access_token, {
          audience: sim.managementAudience,
        }),
        joseErrors.JWTClaimValidationFailed,
      );
      assert.deepEqual(sim.issuedTokens, [json.access_token]);
    });

    test("token fault can omit fields and use odd expires_in values", async () => {
      sim.setFault({
        type: "token",
        expiresIn: undefined,
        omit: ["expires_in"],
        times: 1,
      });
      const omitted = await requestToken(sim, credentials(sim));
      assert.equal("expires_in" in omitted.json, false);
      assert.equal(typeof omitted.json.access_token, "string");

      for (const expiresIn of [-5, 1e12, "3600"]) {
        sim.setFault({ type: "token", expiresIn, times: 1 });
        const odd = await requestToken(sim, credentials(sim));
        assert.equal(odd.json.expires_in, expiresIn);
      }

      sim.setFault({ type: "token", omitClaims: ["exp"], times: 1 });
      const noExp = await requestToken(sim, credentials(sim));
      assert.equal(decodeJwt(noExp.json.access_token).exp, undefined);
    });

    test("token fault can replace the access token with malformed strings", async () => {
      const malformed = [
        "only.twoparts",
        "!!!.@@@.###",
        `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from("not json").toString("base64url")}.sig`,
      ];
      for (const accessToken of malformed) {
        sim.setFault({ type: "token", accessToken, times: 1 });
        const { json } = await requestToken(sim, credentials(sim));
        assert.equal(json.access_token, accessToken);
        assert.equal(json.token_type, "Bearer");
      }
      assert.deepEqual(sim.issuedTokens, malformed);
    });

    test("token fault header overrides produce unverifiable tokens", async () => {
      const jwks = createRemoteJWKSet(new URL(`${sim.url}/.well-known/jwks.json`));
      sim.setFault({ type: "token", header: { kid: "unknown-kid" }, times: 1 });
      const unknownKid = await requestToken(sim, credentials(sim));
      assert.equal(decodeProtectedHeader(unknownKid.json.access_token).kid, "unknown-kid");
      await assert.rejects(jwtVerify(unknownKid.json.access_token, jwks), joseErrors.JWKSNoMatchingKey);

      sim.setFault({ type: "token", header: { alg: "HS256" }, times: 1 });
      const wrongAlg = await requestToken(sim, credentials(sim));
      assert.equal(decodeProtectedHeader(wrongAlg.json.access_token).alg, "HS256");
      await assert.rejects(jwtVerify(wrongAlg.json.access_token, jwks));
    });

    test("token fault still validates the request", async () => {
      sim.setFault({ type: "token", claims: { aud: "x" }, times: 1 });
      const { status } = await requestToken(sim, credentials(sim, { client_secret: "bad" }));
      assert.equal(status, 401);
    });

    test("close fault drops the connection without answering", async () => {
      sim.setFault({ type: "close", times: 1 });
      await assert.rejects(requestToken(sim, credentials(sim)), TypeError);
      assert.equal(sim.stats.tokenRequests, 1);
      assert.equal(sim.stats.tokensIssued, 0);
      assert.equal(sim.requests[0].status, null);
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
    });

    test("setFault rejects malformed faults", () => {
      for (const fault of [
        null,
        {},
        { status: 99 },
        { type: "bogus" },
        { type: "delay" },
        { type: "response" },
        { status: 500, times: 0 },
        { type: "token", omit: "expires_in" },
      ]) {
        assert.throws(() => sim.setFault(fault), TypeError, JSON.stringify(fault));
      }
    });
  });

  describe("control endpoints", () => {
    test("fault, lifetime, stats and reset over HTTP", async () => {
      assert.deepEqual(await control(sim, "POST", "/__sim/fault", { status: 503, times: 1 }), {
        status: 200,
        json: { ok: true },
      });
      assert.equal((await requestToken(sim, credentials(sim))).status, 503);
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);

      await control(sim, "POST", "/__sim/fault", { type: "rate_limit" });
      assert.equal((await requestToken(sim, credentials(sim))).status, 429);
      assert.equal((await control(sim, "DELETE", "/__sim/fault")).status, 200);
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);

      const lifetime = await control(sim, "POST", "/__sim/lifetime", {
        seconds: 120,
      });
      assert.equal(lifetime.status, 200);
      assert.equal((await requestToken(sim, credentials(sim))).json.expires_in, 120);

      const stats = await control(sim, "GET", "/__sim/stats");
      assert.deepEqual(stats.json, {
        tokenRequests: 5,
        tokensIssued: 3,
        byClient: { "sim-client-id": 5 },
        managementRequests: 0,
        managementByStatus: {},
      });

      assert.equal((await control(sim, "POST", "/__sim/reset")).status, 200);
      assert.deepEqual((await control(sim, "GET", "/__sim/stats")).json, {
        tokenRequests: 0,
        tokensIssued: 0,
        byClient: {},
        managementRequests: 0,
        managementByStatus: {},
      });
      assert.equal(sim.issuedTokens.length, 0);
      assert.equal(sim.requests.length, 0);
      assert.equal((await requestToken(sim, credentials(sim))).json.expires_in, 86400);
    });

    test("rejects invalid control input with 400", async () => {
      const badFault = await control(sim, "POST", "/__sim/fault", {
        type: "nope",
      });
      assert.equal(badFault.status, 400);
      assert.equal(badFault.json.error, "invalid_request");
      const badLifetime = await control(sim, "POST", "/__sim/lifetime", {
        seconds: "soon",
      });
      assert.equal(badLifetime.status, 400);
      const notJson = await fetch(`${sim.url}/__sim/fault`, {
        method: "POST",
        body: "{",
      });
      assert.equal(notJson.status, 400);
    });
  });

  test("signToken signs arbitrary claims with the simulator key", async () => {
    const token = await sim.signToken({
      iss: sim.issuer,
      aud: "custom",
      sub: "user|1",
    });
    const jwks = createRemoteJWKSet(new URL(`${sim.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, jwks, {
      issuer: sim.issuer,
      audience: "custom",
    });
    assert.equal(payload.sub, "user|1");
    assert.equal(payload.exp, undefined, "no defaults are added");
    assert.equal(sim.stats.tokensIssued, 0);
  });
});

describe("simulator lifecycle", () => {
  test("tokenLifetimeSeconds and scope options; reset restores the option value", async () => {
    const sim = await startSimulator({
      tokenLifetimeSeconds: 3600,
      scope: "read:users",
    });
    try {
      const first = await requestToken(sim, credentials(sim));
      assert.equal(first.json.expires_in, 3600);
      assert.equal(first.json.scope, "read:users");
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
    // fetch keeps the connection alive after this request.
    assert.equal((await requestToken(sim, credentials(sim))).status, 200);
    sim.setFault({ type: "delay", ms: 10_000 });
    const pending = requestToken(sim, credentials(sim)).catch((error) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await sim.close();
    assert.ok(Date.now() - started < 1000, "close took too long");
    assert.ok((await pending) instanceof Error);
    await sim.close(); // idempotent
  });
});

describe("simulator CLI", () => {
  /** Spawn the CLI and resolve with the child and its announced URL. */
  async function spawnCli(args) {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const lines = createInterface({ input: child.stdout });
    const [line] = await Promise.race([
      once(lines, "line"),
      once(child, "exit").then(([code]) => {
        throw new Error(`CLI exited with ${code}: ${stderr}`);
      }),
    ]);
    const announced = JSON.parse(line);
    return { child, announced, lines, stderr: () => stderr };
  }

  for (const signal of ["SIGTERM", "SIGINT"]) {
    test(`announces its URL, serves tokens and exits cleanly on ${signal}`, async () => {
      const { child, announced, lines, stderr } = await spawnCli([
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
      ]);
      let extraOutput = "";
      lines.on("line", (l) => (extraOutput += l));
      try {
        assert.equal(announced.simulator, "listening");
        assert.match(announced.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        const sim = {
          url: announced.url,
          managementAudience: `${announced.url}/api/v2/`,
        };
        const { status, json } = await requestToken(sim, {
          grant_type: "client_credentials",
          client_id: "cli-client",
          client_secret: "cli-secret",
          audience: "https://cli.example/api/",
        });
        assert.equal(status, 200);
        assert.equal(json.expires_in, 600);
        const stats = await control(sim, "GET", "/__sim/stats");
        assert.deepEqual(stats.json.byClient, { "cli-client": 1 });

        const exited = once(child, "exit");
        child.kill(signal);
        const [code] = await exited;
        assert.equal(code, 0, stderr());
        // Nothing but the announcement: no secrets or tokens on the console.
        assert.equal(extraOutput, "");
        assert.ok(!stderr().includes("cli-secret"));
        assert.ok(!stderr().includes(json.access_token));
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    });
  }

  test("fails with a usage message on bad arguments", async () => {
    const child = spawn(process.execPath, [CLI_PATH, "--port", "abc"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const [code] = await once(child, "exit");
    assert.equal(code, 2);
    assert.match(stderr, /--port must be an integer/);
  });
});

// ---------------------------------------------------------------------------
// Management API v2
// ---------------------------------------------------------------------------

const USER_ID = "auth0|user-1";
const USER_PATH = `/api/v2/users/${encodeURIComponent(USER_ID)}`;
const FULL_SCOPE = "read:users update:users read:roles";

/** Client-credentials token for the Management API (default client unless given). */
async function managementToken(sim, clientId = "sim-client-id", clientSecret = "sim-client-secret") {
  const { status, json } = await requestToken(
    sim,
    credentials(sim, { client_id: clientId, client_secret: clientSecret }),
  );
  assert.equal(status, 200);
  return json.access_token;
}

/** Call the Management API; `token` becomes a bearer header, `authorization` is sent as is. */
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
    scope: FULL_SCOPE,
    gty: "client-credentials",
    ...overrides,
  };
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
    sim = await startSimulator({
      clients: [
        { clientId: "sim-client-id", clientSecret: "sim-client-secret" },
        { clientId: "reader", clientSecret: "reader-secret", scope: "read:users" },
        { clientId: "roles-only", clientSecret: "roles-secret", scope: "read:roles" },
      ],
    });
  });
  after(() => sim.close());
  beforeEach(async () => {
    sim.reset();
    token = await managementToken(sim);
  });

  describe("users", () => {
    test("the default store holds auth0|user-1 with two roles", () => {
      const user = sim.getUser(USER_ID);
      assert.equal(user.user_id, USER_ID);
      assert.equal(user.email, "user-1@example.com");
      assert.equal(user.name, "User One");
      assert.deepEqual(user.app_metadata, {});
      assert.deepEqual(user.user_metadata, {});
      assert.equal(typeof user.created_at, "string");
      assert.equal(typeof user.updated_at, "string");
      assert.deepEqual(user.identities, [
        {
          connection: "Username-Password-Authentication",
          provider: "auth0",
          user_id: "user-1",
          isSocial: false,
        },
      ]);
      assert.equal(user.roles, undefined, "roles are not part of the user object");
      assert.equal(sim.getUser("auth0|nobody"), undefined);
    });

    test("GET /api/v2/users/{id} returns the user for a URL-encoded id", async () => {
      const { status, headers, json } = await api(sim, "GET", USER_PATH, { token });
      assert.equal(status, 200);
      assert.match(headers.get("content-type"), /^application\/json/);
      assert.deepEqual(json, sim.getUser(USER_ID));
      assert.equal(Object.keys(json)[0], "user_id");
      // A raw "|" is accepted too.
      const raw = await api(sim, "GET", `/api/v2/users/${USER_ID}`, { token });
      assert.equal(raw.status, 200);
      assert.equal(raw.json.user_id, USER_ID);
    });

    test("ids with reserved characters are decoded", async () => {
      const id = "oddity|a/b c?d%e";
      sim.addUser({ user_id: id, email: "odd@example.com" });
      const { status, json } = await api(sim, "GET", `/api/v2/users/${encodeURIComponent(id)}`, { token });
      assert.equal(status, 200);
      assert.equal(json.user_id, id);
      assert.equal(json.email, "odd@example.com");
      const roles = await api(sim, "GET", `/api/v2/users/${encodeURIComponent(id)}/roles`, { token });
      assert.deepEqual(roles.json, []);
      // A malformed escape matches no user.
      const bad = await api(sim, "GET", "/api/v2/users/%E0%A4%A", { token });
      assert.equal(bad.status, 404);
    });

    test("GET honours fields and include_fields", async () => {
      const picked = await api(sim, "GET", `${USER_PATH}?fields=user_id,app_metadata`, { token });
      assert.deepEqual(picked.json, { user_id: USER_ID, app_metadata: {} });
      const excluded = await api(sim, "GET", `${USER_PATH}?fields=identities,picture&include_fields=false`, {
        token,
      });
      assert.equal(excluded.json.identities, undefined);
      assert.equal(excluded.json.picture, undefined);
      assert.equal(excluded.json.email, "user-1@example.com");
    });

    test("unknown users answer Auth0's 404 on every endpoint", async () => {
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
      ]) {
        const reply = await api(sim, method, `${path}${suffix}`, { token, body });
        assert.equal(reply.status, 404, `${method} ${suffix}`);
        assert.deepEqual(reply.json, expected);
      }
    });

    test("GET /roles and /permissions list the seeded entries", async () => {
      const roles = await api(sim, "GET", `${USER_PATH}/roles`, { token });
      assert.equal(roles.status, 200);
      assert.deepEqual(roles.json, [
        { id: "rol_admin", name: "admin", description: "Administrator" },
        { id: "rol_editor", name: "editor", description: "Can edit content" },
      ]);
      const permissions = await api(sim, "GET", `${USER_PATH}/permissions`, { token });
      assert.equal(permissions.status, 200);
      assert.equal(permissions.json.length, 2);
      for (const permission of permissions.json) {
        assert.deepEqual(Object.keys(permission).sort(), [
          "description",
          "permission_name",
          "resource_server_identifier",
          "resource_server_name",
          "sources",
        ]);
        assert.equal(permission.sources[0].source_type, "ROLE");
      }
      assert.deepEqual(
        permissions.json.map((p) => p.permission_name),
        ["read:reports", "write:articles"],
      );
    });

    test("list endpoints paginate like Auth0", async () => {
      const page = await api(sim, "GET", `${USER_PATH}/roles?per_page=1&page=1`, { token });
      assert.deepEqual(
        page.json.map((r) => r.id),
        ["rol_editor"],
      );
      const totals = await api(sim, "GET", `${USER_PATH}/roles?per_page=1&page=0&include_totals=true`, {
        token,
      });
      assert.deepEqual(totals.json, {
        roles: [{ id: "rol_admin", name: "admin", description: "Administrator" }],
        start: 0,
        limit: 1,
        total: 2,
      });
      const permissions = await api(sim, "GET", `${USER_PATH}/permissions?include_totals=true`, { token });
      assert.equal(permissions.json.total, 2);
      assert.equal(permissions.json.permissions.length, 2);
    });
  });

  describe("PATCH /api/v2/users/{id}", () => {
    test("merges top-level metadata keys and deletes keys set to null", async () => {
      sim.addUser({
        user_id: "auth0|meta",
        app_metadata: { plan: "free", keep: true, nested: { a: 1, b: 2 }, drop: "x" },
        user_metadata: { theme: "dark" },
        created_at: "2024-01-01T00:00:00.000Z",
        updated_at: "2024-01-01T00:00:00.000Z",
      });
      const path = `/api/v2/users/${encodeURIComponent("auth0|meta")}`;
      const { status, json } = await api(sim, "PATCH", path, {
        token,
        body: { app_metadata: { plan: "pro", nested: { c: 3 }, drop: null, missing: null, added: [1] } },
      });
      assert.equal(status, 200);
      assert.deepEqual(json.app_metadata, { plan: "pro", keep: true, nested: { c: 3 }, added: [1] });
      assert.deepEqual(json.user_metadata, { theme: "dark" }, "untouched");
      assert.notEqual(json.updated_at, "2024-01-01T00:00:00.000Z");
      assert.equal(json.created_at, "2024-01-01T00:00:00.000Z");
      assert.equal(json.user_id, "auth0|meta");
      assert.deepEqual(sim.getUser("auth0|meta"), json, "the store is updated");

      const both = await api(sim, "PATCH", path, {
        token,
        body: { app_metadata: { keep: null }, user_metadata: { lang: "fr" } },
      });
      assert.deepEqual(both.json.app_metadata, { plan: "pro", nested: { c: 3 }, added: [1] });
      assert.deepEqual(both.json.user_metadata, { theme: "dark", lang: "fr" });

      // A GET sees the same thing.
      assert.deepEqual((await api(sim, "GET", path, { token })).json, both.json);
    });

    test("an empty metadata object clears it", async () => {
      await api(sim, "PATCH", USER_PATH, {
        token,
        body: { app_metadata: { a: 1 }, user_metadata: { b: 2 } },
      });
      const { json } = await api(sim, "PATCH", USER_PATH, { token, body: { app_metadata: {} } });
      assert.deepEqual(json.app_metadata, {});
      assert.deepEqual(json.user_metadata, { b: 2 });
    });

    test("'__proto__' keys are stored as plain properties", async () => {
      const { json } = await api(sim, "PATCH", USER_PATH, {
        token,
        rawBody: '{"app_metadata":{"__proto__":{"polluted":true},"x":1}}',
      });
      const stored = sim.getUser(USER_ID).app_metadata;
      assert.ok(Object.hasOwn(stored, "__proto__"));
      assert.equal(Object.getPrototypeOf(stored), Object.prototype);
      assert.equal({}.polluted, undefined);
      assert.deepEqual(Object.keys(json.app_metadata).sort(), ["__proto__", "x"]);
    });

    test("rejects malformed bodies with Auth0's 400s", async () => {
      const cases = [
        ["{", { statusCode: 400, error: "Bad Request", message: "Invalid request payload JSON format" }],
        [
          "[]",
          {
            statusCode: 400,
            error: "Bad Request",
            message: "Payload validation error: 'Expected type object but found type array'.",
            errorCode: "invalid_body",
          },
        ],
        [
          "{}",
          {
            statusCode: 400,
            error: "Bad Request",
            message: "Payload validation error: 'Too few properties defined (0), minimum 1'.",
            errorCode: "invalid_body",
          },
        ],
        [
          '{"email":"x@example.com"}',
          {
            statusCode: 400,
            error: "Bad Request",
            message: "Payload validation error: 'Additional properties not allowed: email'.",
            errorCode: "invalid_body",
          },
        ],
        [
          '{"app_metadata":"pro"}',
          {
            statusCode: 400,
            error: "Bad Request",
            message:
              "Payload validation error: 'Expected type object but found type string' on property app_metadata.",
            errorCode: "invalid_body",
          },
        ],
        [
          '{"user_metadata":null}',
          {
            statusCode: 400,
            error: "Bad Request",
            message:
              "Payload validation error: 'Expected type object but found type null' on property user_metadata.",
            errorCode: "invalid_body",
          },
        ],
      ];
      for (const [rawBody, expected] of cases) {
        const reply = await api(sim, "PATCH", USER_PATH, { token, rawBody });
        assert.equal(reply.status, 400, rawBody);
        assert.deepEqual(reply.json, expected, rawBody);
      }
      assert.deepEqual(sim.getUser(USER_ID).app_metadata, {}, "nothing changed");
    });

    test("answers 413 for bodies over 64 KiB", async () => {
      const reply = await api(sim, "PATCH", USER_PATH, {
        token,
        body: { app_metadata: { padding: "x".repeat(MAX_BODY_BYTES) } },
      });
      assert.equal(reply.status, 413);
      assert.equal(reply.json.statusCode, 413);
    });
  });

  describe("bearer checks", () => {
    test("a missing or malformed Authorization header is 401 Missing authentication", async () => {
      const expected = { statusCode: 401, error: "Unauthorized", message: "Missing authentication" };
      for (const authorization of [
        undefined,
        "",
        "Bearer",
        "Bearer ",
        `Basic ${Buffer.from("a:b").toString("base64")}`,
        `Token ${token}`,
        `Bearer ${token} extra`,
      ]) {
        const reply = await api(sim, "GET", USER_PATH, { authorization });
        assert.equal(reply.status, 401, String(authorization));
        assert.deepEqual(reply.json, expected);
      }
      // The scheme is case-insensitive.
      assert.equal((await api(sim, "GET", USER_PATH, { authorization: `bearer ${token}` })).status, 200);
    });

    test("a garbage token is 401 Missing authentication", async () => {
      for (const garbage of ["garbage", "a.b.c", "only.two", `${token}x.y`]) {
        const reply = await api(sim, "GET", USER_PATH, { token: garbage });
        assert.equal(reply.status, 401, garbage);
        assert.deepEqual(reply.json, {
          statusCode: 401,
          error: "Unauthorized",
          message: "Missing authentication",
        });
      }
    });

    test("a bad signature, unknown kid or other alg is 401 Invalid signature", async () => {
      const expected = unauthorized("Invalid signature received for JSON Web Token validation");
      const [header, payload, signature] = token.split(".");
      const tamperedPayload = Buffer.from(
        JSON.stringify({ ...decodeJwt(token), scope: `${FULL_SCOPE} delete:users` }),
      ).toString("base64url");
      const forged = [
        `${header}.${tamperedPayload}.${signature}`,
        `${header}.${payload}.${signature.slice(0, -4)}AAAA`,
        await sim.signToken(tokenClaims(sim), { kid: "unknown-kid" }),
        await sim.signToken(tokenClaims(sim), { alg: "HS256" }),
      ];
      for (const bad of forged) {
        const reply = await api(sim, "GET", USER_PATH, { token: bad });
        assert.equal(reply.status, 401);
        assert.deepEqual(reply.json, expected);
      }
    });

    test("an expired token is 401 Expired token", async () => {
      const past = Math.floor(Date.now() / 1000) - 10;
      const expired = await sim.signToken(tokenClaims(sim, { iat: past - 3600, exp: past }));
      const reply = await api(sim, "GET", USER_PATH, { token: expired });
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.json, {
        statusCode: 401,
        error: "Unauthorized",
        message: "Expired token received for JSON Web Token validation",
        attributes: { error: "Expired token received for JSON Web Token validation" },
      });
      // Expiry is checked before the audience.
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
      const severalReply = await api(sim, "GET", USER_PATH, { token: several });
      assert.equal(severalReply.json.message, "Bad audience: https://a.example/ https://b.example/");

      // An array containing the Management audience is fine.
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
      const reader = await managementToken(sim, "reader", "reader-secret");
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
      assert.deepEqual(sim.getUser(USER_ID).app_metadata, {}, "not applied");

      const roles = await api(sim, "GET", `${USER_PATH}/roles`, { token: reader });
      assert.equal(roles.status, 403);
      assert.equal(roles.json.message, "Insufficient scope, expected any of: read:roles");

      const rolesOnly = await managementToken(sim, "roles-only", "roles-secret");
      const get = await api(sim, "GET", USER_PATH, { token: rolesOnly });
      assert.equal(get.status, 403);
      assert.deepEqual(get.json, {
        statusCode: 403,
        error: "Forbidden",
        message: "Insufficient scope, expected any of: read:users",
        errorCode: "insufficient_scope",
      });
      const rolesReply = await api(sim, "GET", `${USER_PATH}/roles`, { token: rolesOnly });
      assert.equal(rolesReply.json.message, "Insufficient scope, expected any of: read:users");

      const none = await sim.signToken(tokenClaims(sim, { scope: undefined }));
      const noScope = await api(sim, "GET", `${USER_PATH}/roles`, { token: none });
      assert.equal(noScope.status, 403);
      assert.equal(noScope.json.message, "Insufficient scope, expected any of: read:users,read:roles");
    });

    test("the checks run before the user lookup", async () => {
      const reply = await api(sim, "GET", "/api/v2/users/auth0%7Cnobody");
      assert.equal(reply.status, 401);
    });

    test("revokeTokens rejects every earlier token, not later ones", async () => {
      const signed = await sim.signToken(tokenClaims(sim));
      const reader = await managementToken(sim, "reader", "reader-secret");
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);

      // Counts every token signed by this simulator so far (reset() does not forget them).
      assert.ok(sim.revokeTokens() >= 3);
      for (const revoked of [token, signed]) {
        const reply = await api(sim, "GET", USER_PATH, { token: revoked });
        assert.equal(reply.status, 401);
        assert.deepEqual(reply.json, unauthorized("Invalid token"));
      }
      // Revocation is checked before the scopes.
      const patch = await api(sim, "PATCH", USER_PATH, { token: reader, body: { app_metadata: { a: 1 } } });
      assert.equal(patch.status, 401);

      const fresh = await managementToken(sim);
      assert.equal((await api(sim, "GET", USER_PATH, { token: fresh })).status, 200);
      // (RS256 is deterministic: the same claims would give the revoked token again.)
      const freshSigned = await sim.signToken(tokenClaims(sim, { jti: "after-revocation" }));
      assert.equal((await api(sim, "GET", USER_PATH, { token: freshSigned })).status, 200);

      // reset() lifts the revocation.
      sim.reset();
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
    });

    test("rotateKeys invalidates tokens signed with the old key", async () => {
      const oldKid = sim.jwks.keys[0].kid;
      const newKid = await sim.rotateKeys();
      assert.notEqual(newKid, oldKid);
      assert.equal(sim.jwks.keys.length, 1);
      assert.equal(sim.jwks.keys[0].kid, newKid);
      const jwks = await (await fetch(`${sim.url}/.well-known/jwks.json`)).json();
      assert.deepEqual(
        jwks.keys.map((k) => k.kid),
        [newKid],
      );

      const reply = await api(sim, "GET", USER_PATH, { token });
      assert.equal(reply.status, 401);
      assert.deepEqual(reply.json, unauthorized("Invalid signature received for JSON Web Token validation"));
      await assert.rejects(sim.verifyToken(token));

      const fresh = await managementToken(sim);
      assert.equal(decodeProtectedHeader(fresh).kid, newKid);
      assert.equal((await api(sim, "GET", USER_PATH, { token: fresh })).status, 200);
      const remote = createRemoteJWKSet(new URL(`${sim.url}/.well-known/jwks.json`));
      await jwtVerify(fresh, remote, { issuer: sim.issuer, audience: sim.managementAudience });

      // reset() keeps the rotated key.
      sim.reset();
      assert.equal(sim.jwks.keys[0].kid, newKid);
      assert.equal((await api(sim, "GET", USER_PATH, { token: fresh })).status, 200);
    });
  });

  describe("faults and rate limits", () => {
    test("status faults answer Auth0-style bodies, `times` limits them", async () => {
      sim.setManagementFault({ status: 503, times: 1 });
      const failed = await api(sim, "GET", USER_PATH, { token });
      assert.equal(failed.status, 503);
      assert.deepEqual(failed.json, {
        statusCode: 503,
        error: "Service Unavailable",
        message: "Service Unavailable",
      });
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);

      sim.setManagementFault({ status: 500, body: "oops", headers: { "x-test": 1 }, times: 2 });
      for (let i = 0; i < 2; i += 1) {
        const custom = await api(sim, "GET", USER_PATH, { token });
        assert.equal(custom.status, 500);
        assert.equal(custom.text, "oops");
        assert.equal(custom.headers.get("x-test"), "1");
      }
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);

      sim.setManagementFault({ status: 429 });
      const limited = await api(sim, "GET", USER_PATH, { token });
      assert.equal(limited.json.errorCode, "too_many_requests");
      sim.clearManagementFault();
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
    });

    test("faults apply before the bearer check and leave /oauth/token alone", async () => {
      sim.setManagementFault({ status: 502 });
      assert.equal((await api(sim, "GET", USER_PATH)).status, 502);
      assert.equal((await requestToken(sim, credentials(sim))).status, 200);
      sim.clearManagementFault();

      sim.setFault({ status: 503 });
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
    });

    test("rate_limit fault answers Auth0's Management 429 with headers", async () => {
      const now = Math.floor(Date.now() / 1000);
      sim.setManagementFault({ type: "rate_limit", resetInSeconds: 30, retryAfterSeconds: 4, times: 1 });
      const limited = await api(sim, "PATCH", USER_PATH, { token, body: { app_metadata: { a: 1 } } });
      assert.equal(limited.status, 429);
      assert.deepEqual(limited.json, {
        statusCode: 429,
        error: "Too Many Requests",
        message: "Global limit has been reached",
        errorCode: "too_many_requests",
      });
      assert.equal(limited.headers.get("x-ratelimit-limit"), "30");
      assert.equal(limited.headers.get("x-ratelimit-remaining"), "0");
      const reset = Number(limited.headers.get("x-ratelimit-reset"));
      assert.ok(Math.abs(reset - (now + 30)) <= 2, `reset ${reset}`);
      assert.equal(limited.headers.get("retry-after"), "4");
      assert.deepEqual(sim.getUser(USER_ID).app_metadata, {}, "not applied");

      sim.setManagementFault({ type: "rate_limit", times: 1 });
      const plain = await api(sim, "GET", USER_PATH, { token });
      assert.equal(plain.status, 429);
      assert.equal(plain.headers.get("retry-after"), null);
    });

    test("delay, close, html, invalid_json and response faults", async () => {
      sim.setManagementFault({ type: "delay", ms: 150, times: 1 });
      const started = Date.now();
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
      assert.ok(Date.now() - started >= 140);

      sim.setManagementFault({ type: "close", times: 1 });
      await assert.rejects(api(sim, "GET", USER_PATH, { token }), TypeError);

      sim.setManagementFault({ type: "html", times: 1 });
      const html = await api(sim, "GET", USER_PATH, { token });
      assert.match(html.headers.get("content-type"), /^text\/html/);

      sim.setManagementFault({ type: "invalid_json", times: 1 });
      const truncated = await api(sim, "GET", USER_PATH, { token });
      assert.match(truncated.headers.get("content-type"), /^application\/json/);
      assert.equal(truncated.json, undefined);

      sim.setManagementFault({ type: "response", body: { user_id: 42 }, times: 1 });
      const odd = await api(sim, "GET", USER_PATH, { token });
      assert.deepEqual(odd.json, { user_id: 42 });

      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
      assert.equal(sim.stats.managementRequests, 6);
      assert.deepEqual(sim.stats.managementByStatus, { 200: 5 }, "the dropped connection is not counted");
    });

    test("setManagementFault rejects malformed faults", () => {
      for (const fault of [
        null,
        {},
        { status: 99 },
        { type: "token" },
        { type: "delay" },
        { status: 500, times: 0 },
      ]) {
        assert.throws(() => sim.setManagementFault(fault), TypeError, JSON.stringify(fault));
      }
    });

    test("the rate limiter answers 429 once the bucket is empty", async () => {
      sim.setManagementRateLimit({ burst: 2, perSecond: 2 });
      const now = Math.floor(Date.now() / 1000);
      const first = await api(sim, "GET", USER_PATH, { token });
      const second = await api(sim, "GET", `${USER_PATH}/roles`, { token });
      const third = await api(sim, "GET", USER_PATH, { token });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get("x-ratelimit-limit"), "2");
      assert.equal(first.headers.get("x-ratelimit-remaining"), "1");
      assert.equal(second.status, 200);
      assert.equal(second.headers.get("x-ratelimit-remaining"), "0");

      assert.equal(third.status, 429);
      assert.deepEqual(third.json, {
        statusCode: 429,
        error: "Too Many Requests",
        message: "Global limit has been reached",
        errorCode: "too_many_requests",
      });
      assert.equal(third.headers.get("x-ratelimit-limit"), "2");
      assert.equal(third.headers.get("x-ratelimit-remaining"), "0");
      const reset = Number(third.headers.get("x-ratelimit-reset"));
      assert.ok(reset >= now && reset <= now + 2, `reset ${reset}`);
      assert.equal(third.headers.get("retry-after"), null);

      // Unauthenticated calls use up the bucket too.
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal((await api(sim, "GET", USER_PATH)).status, 401);
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 429);

      sim.setManagementRateLimit(null);
      const unlimited = await api(sim, "GET", USER_PATH, { token });
      assert.equal(unlimited.status, 200);
      assert.equal(unlimited.headers.get("x-ratelimit-limit"), null);
      assert.deepEqual(sim.stats.managementByStatus, { 200: 3, 401: 1, 429: 2 });
    });

    test("the rate limiter refills and can send retry-after", async () => {
      sim.setManagementRateLimit({ burst: 1, perSecond: 5, retryAfter: true });
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
      const limited = await api(sim, "GET", USER_PATH, { token });
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get("retry-after"), "1");
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
    });

    test("setManagementRateLimit rejects bad limits", () => {
      for (const limit of [
        undefined,
        {},
        { burst: 0, perSecond: 1 },
        { burst: 1.5, perSecond: 1 },
        { burst: 1, perSecond: 0 },
        { burst: 1, perSecond: 1, retryAfter: "yes" },
      ]) {
        assert.throws(() => sim.setManagementRateLimit(limit), TypeError, JSON.stringify(limit));
      }
    });
  });

  describe("stats and reset", () => {
    test("counts every /api/v2 call by status, apart from token requests", async () => {
      await api(sim, "GET", USER_PATH, { token });
      await api(sim, "PATCH", USER_PATH, { token, body: { app_metadata: { a: 1 } } });
      await api(sim, "GET", USER_PATH);
      await api(sim, "GET", "/api/v2/users/auth0%7Cnobody", { token });
      await api(sim, "GET", "/api/v2/clients", { token });
      assert.equal(sim.stats.managementRequests, 5);
      assert.deepEqual(sim.stats.managementByStatus, { 200: 2, 401: 1, 404: 2 });
      assert.equal(sim.stats.tokenRequests, 1, "only the beforeEach token");

      const stats = await control(sim, "GET", "/__sim/stats");
      assert.equal(stats.json.managementRequests, 5);
      assert.deepEqual(stats.json.managementByStatus, { 200: 2, 401: 1, 404: 2 });

      sim.reset();
      assert.equal(sim.stats.managementRequests, 0);
      assert.deepEqual(sim.stats.managementByStatus, {});
    });

    test("reset restores the user store and clears faults and limits", async () => {
      await api(sim, "PATCH", USER_PATH, { token, body: { app_metadata: { a: 1 } } });
      sim.addUser({ user_id: "auth0|extra" });
      sim.setManagementFault({ status: 500 });
      sim.setManagementRateLimit({ burst: 1, perSecond: 0.001 });
      sim.reset();

      assert.deepEqual(sim.getUser(USER_ID).app_metadata, {});
      assert.equal(sim.getUser("auth0|extra"), undefined);
      for (let i = 0; i < 3; i += 1) {
        assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
      }
    });

    test("addUser replaces a user with the same id and validates", () => {
      const stored = sim.addUser({
        user_id: "google-oauth2|42",
        name: "G",
        roles: [{ id: "rol_x", name: "x" }],
        permissions: [{ permission_name: "read:x", resource_server_identifier: "https://x/" }],
      });
      assert.equal(stored, sim.getUser("google-oauth2|42"));
      assert.deepEqual(stored.identities, [
        { connection: "google-oauth2", provider: "google-oauth2", user_id: "42", isSocial: true },
      ]);
      sim.addUser({ user_id: "google-oauth2|42", name: "H" });
      assert.equal(sim.getUser("google-oauth2|42").name, "H");

      for (const user of [
        null,
        {},
        { user_id: "" },
        { user_id: "x", app_metadata: [] },
        { user_id: "x", roles: [{ name: "no id" }] },
        { user_id: "x", permissions: [{ permission_name: "p" }] },
      ]) {
        assert.throws(() => sim.addUser(user), TypeError, JSON.stringify(user));
      }
    });

    test("roles and permissions get Auth0's defaults", async () => {
      sim.addUser({
        user_id: "auth0|defaults",
        roles: [{ id: "rol_x", name: "x" }],
        permissions: [{ permission_name: "read:x", resource_server_identifier: "https://x/" }],
      });
      const path = `/api/v2/users/${encodeURIComponent("auth0|defaults")}`;
      assert.deepEqual((await api(sim, "GET", `${path}/roles`, { token })).json, [
        { id: "rol_x", name: "x", description: "" },
      ]);
      assert.deepEqual((await api(sim, "GET", `${path}/permissions`, { token })).json, [
        {
          permission_name: "read:x",
          description: "",
          resource_server_name: "https://x/",
          resource_server_identifier: "https://x/",
          sources: [{ source_id: "", source_name: "", source_type: "DIRECT" }],
        },
      ]);
    });
  });

  describe("control endpoints", () => {
    test("revoke and rotate-keys over HTTP", async () => {
      const revoke = await control(sim, "POST", "/__sim/revoke");
      assert.equal(revoke.status, 200);
      assert.equal(revoke.json.ok, true);
      assert.equal((await api(sim, "GET", USER_PATH, { token })).json.message, "Invalid token");

      const fresh = await managementToken(sim);
      const rotate = await control(sim, "POST", "/__sim/rotate-keys");
      assert.equal(rotate.status, 200);
      assert.equal(rotate.json.kid, sim.jwks.keys[0].kid);
      assert.equal(
        (await api(sim, "GET", USER_PATH, { token: fresh })).json.message,
        "Invalid signature received for JSON Web Token validation",
      );
    });

    test("management fault and rate limit over HTTP", async () => {
      const fault = await control(sim, "POST", "/__sim/management-fault", { status: 503, times: 1 });
      assert.deepEqual(fault, { status: 200, json: { ok: true } });
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 503);
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);

      await control(sim, "POST", "/__sim/management-fault", { type: "rate_limit" });
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 429);
      assert.equal((await control(sim, "DELETE", "/__sim/management-fault")).status, 200);
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);

      const bad = await control(sim, "POST", "/__sim/management-fault", { type: "token" });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error, "invalid_request");

      const limit = await control(sim, "POST", "/__sim/management-rate-limit", { burst: 1, perSecond: 0.5 });
      assert.deepEqual(limit, { status: 200, json: { ok: true } });
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 429);
      assert.equal((await control(sim, "DELETE", "/__sim/management-rate-limit")).status, 200);
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);

      await control(sim, "POST", "/__sim/management-rate-limit", { burst: 1, perSecond: 0.5 });
      assert.equal((await control(sim, "POST", "/__sim/management-rate-limit", null)).status, 200);
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
      assert.equal((await api(sim, "GET", USER_PATH, { token })).status, 200);
      const badLimit = await control(sim, "POST", "/__sim/management-rate-limit", { burst: -1 });
      assert.equal(badLimit.status, 400);
    });

    test("users over HTTP", async () => {
      const added = await control(sim, "POST", "/__sim/users", {
        user_id: "auth0|http",
        app_metadata: { plan: "free" },
        roles: [{ id: "rol_a", name: "a" }],
      });
      assert.equal(added.status, 200);
      assert.equal(added.json.ok, true);
      assert.equal(added.json.user.user_id, "auth0|http");
      assert.equal((await control(sim, "POST", "/__sim/users", { name: "no id" })).status, 400);

      const path = `/api/v2/users/${encodeURIComponent("auth0|http")}`;
      await api(sim, "PATCH", path, { token, body: { app_metadata: { plan: "pro" } } });
      const stored = await control(sim, "GET", `/__sim/users/${encodeURIComponent("auth0|http")}`);
      assert.equal(stored.status, 200);
      assert.deepEqual(stored.json.app_metadata, { plan: "pro" });
      assert.deepEqual(stored.json, sim.getUser("auth0|http"));
      const missing = await control(sim, "GET", "/__sim/users/auth0%7Cnobody");
      assert.deepEqual(missing, { status: 404, json: { error: "not_found" } });
      assert.equal(sim.stats.managementRequests, 1, "control routes are not Management calls");
    });
  });
});

describe("management API options", () => {
  test("the users option replaces the default store; reset restores it", async () => {
    const seed = [
      {
        user_id: "auth0|a",
        email: "a@example.com",
        app_metadata: { plan: "free" },
        roles: [{ id: "rol_1", name: "one", description: "First" }],
        permissions: [
          {
            permission_name: "read:a",
            resource_server_identifier: "https://a/",
            resource_server_name: "A",
            description: "Read A",
            sources: [{ source_id: "rol_1", source_name: "one", source_type: "ROLE" }],
          },
        ],
      },
      { user_id: "auth0|b", created_at: "2020-01-01T00:00:00.000Z" },
    ];
    const sim = await startSimulator({ users: seed });
    try {
      assert.equal(sim.getUser(USER_ID), undefined);
      assert.equal(sim.getUser("auth0|b").created_at, "2020-01-01T00:00:00.000Z");
      const token = await managementToken(sim);
      const a = `/api/v2/users/${encodeURIComponent("auth0|a")}`;
      assert.deepEqual((await api(sim, "GET", `${a}/roles`, { token })).json, seed[0].roles);
      assert.deepEqual((await api(sim, "GET", `${a}/permissions`, { token })).json, seed[0].permissions);
      await api(sim, "PATCH", a, { token, body: { app_metadata: { plan: "pro" } } });
      assert.deepEqual(seed[0].app_metadata, { plan: "free" }, "the caller's objects are not mutated");
      sim.reset();
      assert.deepEqual(sim.getUser("auth0|a").app_metadata, { plan: "free" });
    } finally {
      await sim.close();
    }
  });

  test("rejects invalid users before listening", async () => {
    await assert.rejects(startSimulator({ users: {} }), TypeError);
    await assert.rejects(startSimulator({ users: [{ email: "x" }] }), TypeError);
    await assert.rejects(startSimulator({ users: [{ user_id: "a" }, { user_id: "a" }] }), TypeError);
  });

  test("the CLI loads users from --users", async () => {
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "sim-users-"));
    const file = join(dir, "users.json");
    await writeFile(file, JSON.stringify([{ user_id: "auth0|cli", app_metadata: { from: "file" } }]));
    const child = spawn(process.execPath, [CLI_PATH, "--port", "0", "--users", file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const [line] = await once(createInterface({ input: child.stdout }), "line");
      const { url } = JSON.parse(line);
      const sim = { url, managementAudience: `${url}/api/v2/` };
      const token = await managementToken(sim);
      const reply = await api(sim, "GET", "/api/v2/users/auth0%7Ccli", { token });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.json.app_metadata, { from: "file" });
      const stats = await control(sim, "GET", "/__sim/stats");
      assert.deepEqual(stats.json.managementByStatus, { 200: 1 });
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the CLI fails on an unreadable --users file", async () => {
    const child = spawn(process.execPath, [CLI_PATH, "--users", "/nonexistent/users.json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const [code] = await once(child, "exit");
    assert.equal(code, 2);
    assert.match(stderr, /--users: cannot read/);
  });
});
