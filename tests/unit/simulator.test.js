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
      });

      assert.equal((await control(sim, "POST", "/__sim/reset")).status, 200);
      assert.deepEqual((await control(sim, "GET", "/__sim/stats")).json, {
        tokenRequests: 0,
        tokensIssued: 0,
        byClient: {},
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
