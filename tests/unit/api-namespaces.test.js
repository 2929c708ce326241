// Every api namespace's argument rules, each with a failing input, and what a valid call records.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createPostLoginApi, emptyResult, MetadataBatch } from "../../js/runtime/api.js";
import { TriggerCache } from "../../js/runtime/cache.js";
import { buildEvent } from "../../js/runtime/event.js";
import { RESTRICTED_CLAIMS } from "../../js/runtime/api/tokens.js";
import { verifyHs256, signHs256 } from "../../js/runtime/hs256.js";

const NOW = 1_700_000_000_000;

function setup({ input = { user: { user_id: "auth0|1" } }, phase, stateId, tenant } = {}) {
  const logs = [];
  const state = {
    result: emptyResult(),
    metadata: new MetadataBatch(input.user),
    cache: new TriggerCache({ now: () => NOW }),
    log: (level, event, fields) => logs.push({ level, event, fields }),
    input,
    now: () => NOW,
    tenant,
  };
  const event = buildEvent(input, {}, state.result);
  const api = createPostLoginApi(state, "act", event, { phase, stateId });
  return { state, result: state.result, api, event, logs };
}

/** Each [label, call] must throw `type` (TypeError, RangeError or Error) naming the method. */
function refuses(name, cases, type, build = setup) {
  for (const [label, call] of cases) {
    test(`${name}: ${label} → ${type.name}`, () => {
      const ctx = build();
      assert.throws(
        () => call(ctx.api, ctx),
        (error) => error instanceof type && error.message.includes(name),
      );
    });
  }
}

describe("api.idToken / api.accessToken.setCustomClaim", () => {
  test("every restricted claim is ignored with a warning, on both tokens", () => {
    const { api, result, logs } = setup();
    for (const claim of RESTRICTED_CLAIMS) {
      api.idToken.setCustomClaim(claim, "x");
      api.accessToken.setCustomClaim(claim, "x");
    }
    assert.deepEqual(result.idToken.claims, {});
    assert.deepEqual(result.accessToken.claims, {});
    assert.equal(logs.filter((l) => l.event === "claim_ignored").length, RESTRICTED_CLAIMS.size * 2);
    assert.deepEqual(logs[0].fields, {
      action: "act",
      method: "api.idToken.setCustomClaim",
      claim: "acr",
      reason: "restricted",
    });
  });

  test("an access token for an Auth0 API takes namespaced claims only; the ID token and other audiences take both", () => {
    const login = (identifier, hostname = "login.example.com") =>
      setup({
        input: {
          user: { user_id: "auth0|1" },
          resource_server: { identifier },
          request: { hostname, ip: "203.0.113.9" },
        },
      });
    for (const identifier of [
      "https://login.example.com/api/v2/",
      "https://tenant.eu.auth0.com/api/v2/",
      "https://login.example.com/mfa/",
      "https://login.example.com/me/",
    ]) {
      const { api, result, logs } = login(identifier);
      api.accessToken.setCustomClaim("plan", "pro");
      api.accessToken.setCustomClaim("https://example.com/plan", "pro");
      api.idToken.setCustomClaim("plan", "pro");
      assert.deepEqual(result.accessToken.claims, { "https://example.com/plan": "pro" }, identifier);
      assert.deepEqual(result.idToken.claims, { plan: "pro" });
      assert.deepEqual(
        logs.map((l) => [l.event, l.fields.claim, l.fields.reason]),
        [["claim_ignored", "plan", "not namespaced, on an access token for an Auth0 API"]],
      );
    }
    for (const identifier of [
      "https://api.example.com/",
      "https://login.example.com/userinfo",
      "https://other.example.com/api/v2/",
    ]) {
      const { api, result, logs } = login(identifier);
      api.accessToken.setCustomClaim("plan", "pro");
      assert.deepEqual(result.accessToken.claims, { plan: "pro" }, identifier);
      assert.deepEqual(logs, []);
    }
  });

  test("the list holds the registered claims Auth0 names (sub, iss, aud, exp, nbf, iat, jti, azp, nonce, …)", () => {
    for (const claim of [
      "sub",
      "iss",
      "aud",
      "exp",
      "nbf",
      "iat",
      "jti",
      "azp",
      "nonce",
      "auth_time",
      "at_hash",
      "c_hash",
      "acr",
      "amr",
      "sid",
      "org_id",
      "org_name",
      "cnf",
      "act",
      "gty",
    ]) {
      assert.ok(RESTRICTED_CLAIMS.has(claim), claim);
    }
  });

  test("a namespaced and a private claim are set", () => {
    const { api, result } = setup();
    api.idToken
      .setCustomClaim("https://example.com/roles", ["admin"])
      .accessToken.setCustomClaim("plan", "pro");
    assert.deepEqual(result.idToken.claims, { "https://example.com/roles": ["admin"] });
    assert.deepEqual(result.accessToken.claims, { plan: "pro" });
  });

  refuses(
    "api.idToken.setCustomClaim",
    [
      ['the "scope" claim', (api) => api.idToken.setCustomClaim("scope", "openid")],
      [
        "over 100 KB of claims",
        (api) => {
          api.idToken.setCustomClaim("a", "x".repeat(60_000));
          api.idToken.setCustomClaim("b", "x".repeat(60_000));
        },
      ],
    ],
    RangeError,
  );
  refuses(
    "api.accessToken.setCustomClaim",
    [['the "scope" claim', (api) => api.accessToken.setCustomClaim("scope", "read")]],
    RangeError,
  );
  refuses(
    "api.idToken.setCustomClaim",
    [
      ["an empty key", (api) => api.idToken.setCustomClaim("", 1)],
      ["a non-string key", (api) => api.idToken.setCustomClaim(7, 1)],
      ["an undefined value", (api) => api.idToken.setCustomClaim("k", undefined)],
      ["a BigInt value", (api) => api.idToken.setCustomClaim("k", 1n)],
    ],
    TypeError,
  );

  test("a claim over the 100 KB limit is not kept", () => {
    const { api, result } = setup();
    api.accessToken.setCustomClaim("a", "x".repeat(60_000));
    assert.throws(() => api.accessToken.setCustomClaim("b", "x".repeat(60_000)), RangeError);
    assert.deepEqual(Object.keys(result.accessToken.claims), ["a"]);
  });
});

describe("api.accessToken scopes", () => {
  test("a scope is trimmed (Auth0's harness) and recorded", () => {
    const { api, result } = setup();
    api.accessToken.addScope("  read:users ");
    api.accessToken.removeScope("write:users");
    assert.deepEqual(result.accessToken.scopes, { added: ["read:users"], removed: ["write:users"] });
  });

  refuses(
    "api.accessToken.addScope",
    [
      ["a number", (api) => api.accessToken.addScope(1)],
      ["an empty scope", (api) => api.accessToken.addScope("   ")],
    ],
    TypeError,
  );
  refuses(
    "api.accessToken.addScope",
    [
      ["an inner space", (api) => api.accessToken.addScope("read write")],
      ['a "', (api) => api.accessToken.addScope('read"x')],
      ["a backslash", (api) => api.accessToken.addScope("read\\x")],
      ["a non-ASCII character", (api) => api.accessToken.addScope("lire:é")],
      ["a control character", (api) => api.accessToken.addScope("read\u0001")],
      ["281 characters", (api) => api.accessToken.addScope("s".repeat(281))],
      [
        "the 1001st scope",
        (api) => {
          for (let i = 0; i <= 1000; i++) api.accessToken.addScope(`s${i}`);
        },
      ],
    ],
    RangeError,
  );
  refuses(
    "api.accessToken.removeScope",
    [["a tab", (api) => api.accessToken.removeScope("a\tb")]],
    RangeError,
  );
});

describe("api.multifactor.enable", () => {
  test("duo with providerOptions is recorded in full", () => {
    const { api, result } = setup();
    api.multifactor.enable("duo", {
      allowRememberBrowser: true,
      providerOptions: { host: "api-x.duosecurity.com", ikey: "DIXX", skey: "secret-key", username: "jane" },
    });
    assert.deepEqual(result.multifactor, {
      provider: "duo",
      allowRememberBrowser: true,
      providerOptions: { host: "api-x.duosecurity.com", ikey: "DIXX", skey: "secret-key", username: "jane" },
    });
  });

  refuses(
    "api.multifactor.enable",
    [
      ["an unknown provider", (api) => api.multifactor.enable("sms")],
      [
        "providerOptions for guardian",
        (api) => api.multifactor.enable("guardian", { providerOptions: { host: "h", ikey: "i", skey: "s" } }),
      ],
      [
        "duo without skey",
        (api) => api.multifactor.enable("duo", { providerOptions: { host: "h", ikey: "i" } }),
      ],
      [
        "duo with a numeric username",
        (api) =>
          api.multifactor.enable("duo", {
            providerOptions: { host: "h", ikey: "i", skey: "s", username: 1 },
          }),
      ],
      [
        "a non-boolean allowRememberBrowser",
        (api) => api.multifactor.enable("any", { allowRememberBrowser: "yes" }),
      ],
      ["an unknown option", (api) => api.multifactor.enable("any", { remember: true })],
    ],
    TypeError,
  );
});

describe("api.authentication", () => {
  test("challengeWith records the default and the additional factors and suspends", () => {
    const { api, result, state } = setup();
    api.authentication.challengeWith(
      { type: "otp" },
      { additionalFactors: [{ type: "push-notification" }, { type: "phone" }] },
    );
    assert.deepEqual(result.authentication.challenge, {
      method: "challengeWith",
      factors: [{ type: "otp" }, { type: "push-notification" }, { type: "phone" }],
      action: "act",
    });
    assert.deepEqual(state.suspended, { kind: "challenge", action: "act" });
  });

  test("enrollWithAny and challengeWithAny record their lists", () => {
    const a = setup();
    a.api.authentication.enrollWithAny([{ type: "webauthn-platform" }, { type: "recovery-code" }]);
    assert.equal(a.result.authentication.challenge.method, "enrollWithAny");
    const b = setup();
    b.api.authentication.challengeWithAny([
      { type: "email" },
      { type: "phone", options: { preferredMethod: "sms" } },
    ]);
    assert.deepEqual(b.result.authentication.challenge.factors[1], {
      type: "phone",
      options: { preferredMethod: "sms" },
    });
  });

  refuses(
    "api.authentication.challengeWith",
    [
      ["an unknown factor", (api) => api.authentication.challengeWith({ type: "sms" })],
      ["a string factor", (api) => api.authentication.challengeWith("otp")],
      [
        "a bad preferredMethod",
        (api) => api.authentication.challengeWith({ type: "phone", options: { preferredMethod: "fax" } }),
      ],
      [
        "a non-boolean otpFallback",
        (api) =>
          api.authentication.challengeWith({ type: "push-notification", options: { otpFallback: "no" } }),
      ],
      [
        "bad additionalFactors",
        (api) => api.authentication.challengeWith({ type: "otp" }, { additionalFactors: [{ type: "nope" }] }),
      ],
    ],
    TypeError,
  );
  refuses(
    "api.authentication.enrollWith",
    [["email (not enrollable)", (api) => api.authentication.enrollWith({ type: "email" })]],
    TypeError,
  );
  refuses(
    "api.authentication.challengeWithAny",
    [
      ["an empty list", (api) => api.authentication.challengeWithAny([])],
      ["not a list", (api) => api.authentication.challengeWithAny({ type: "otp" })],
    ],
    TypeError,
  );

  refuses(
    "api.authentication.recordMethod",
    [["a call in onExecutePostLogin", (api) => api.authentication.recordMethod("https://mfa.example.com")]],
    Error,
  );
  refuses(
    "api.authentication.recordMethod",
    [
      ["a non-http URL", (api) => api.authentication.recordMethod("ftp://x.example.com")],
      ["a relative URL", (api) => api.authentication.recordMethod("/x")],
    ],
    TypeError,
    () => setup({ phase: "continue" }),
  );

  test("recordMethod in onContinuePostLogin records the URL with a timestamp", () => {
    const { api, result } = setup({ phase: "continue" });
    assert.equal(api.authentication.recordMethod("https://mfa.example.com/method"), api);
    assert.deepEqual(result.authentication.recordedMethods, [
      { name: "https://mfa.example.com/method", timestamp: new Date(NOW).toISOString() },
    ]);
  });

  test("setPrimaryUser: once per transaction, at most 128 characters", () => {
    const { api, result, state, event } = setup();
    assert.throws(() => api.authentication.setPrimaryUser("x".repeat(129)), RangeError);
    assert.throws(() => api.authentication.setPrimaryUser(""), TypeError);
    api.authentication.setPrimaryUser("x".repeat(128));
    assert.equal(result.authentication.primaryUser, "x".repeat(128));
    const later = createPostLoginApi(state, "later", event);
    assert.throws(
      () => later.authentication.setPrimaryUser("auth0|2"),
      /only be altered once per transaction/,
    );
  });
});

describe("api.redirect", () => {
  const input = {
    user: { user_id: "auth0|1" },
    request: { ip: "203.0.113.9", hostname: "tenant.eu.auth0.com", query: {}, body: {} },
  };

  test("encodeToken: HS256 with iat, iss, sub, exp (default 900 s), ip and the payload", () => {
    const { api } = setup({ input });
    const claims = verifyHs256(
      api.redirect.encodeToken({ secret: "s3", payload: { email: "j@example.com" } }),
      "s3",
    );
    const iat = Math.floor(NOW / 1000);
    assert.deepEqual(claims, {
      iat,
      iss: "tenant.eu.auth0.com",
      sub: "auth0|1",
      exp: iat + 900,
      ip: "203.0.113.9",
      email: "j@example.com",
    });
    const short = verifyHs256(
      api.redirect.encodeToken({ secret: "s3", payload: {}, expiresInSeconds: 60 }),
      "s3",
    );
    assert.equal(short.exp, iat + 60);
  });

  refuses(
    "api.redirect.encodeToken",
    [
      ["no options", (api) => api.redirect.encodeToken()],
      ["no secret", (api) => api.redirect.encodeToken({ payload: {} })],
      ["a non-object payload", (api) => api.redirect.encodeToken({ secret: "s", payload: "x" })],
      [
        "a string lifetime",
        (api) => api.redirect.encodeToken({ secret: "s", payload: {}, expiresInSeconds: "60" }),
      ],
    ],
    TypeError,
    () => setup({ input }),
  );
  refuses(
    "api.redirect.encodeToken",
    [
      [
        "a zero lifetime",
        (api) => api.redirect.encodeToken({ secret: "s", payload: {}, expiresInSeconds: 0 }),
      ],
    ],
    RangeError,
    () => setup({ input }),
  );

  const continued = (claims, where = "query", name = "session_token") => ({
    user: { user_id: "auth0|1" },
    request: {
      ip: "1.2.3.4",
      [where]: { [name]: signHs256(claims, "shh") },
      ...(where === "query" ? { body: {} } : { query: {} }),
    },
  });
  const exp = Math.floor(NOW / 1000) + 60;

  test("validateToken returns the payload of a valid token from the query or the body", () => {
    for (const where of ["query", "body"]) {
      const { api } = setup({
        input: continued({ state: "st-1", exp, color: "blue" }, where),
        phase: "continue",
        stateId: "st-1",
      });
      assert.equal(api.redirect.validateToken({ secret: "shh" }).color, "blue");
    }
    const { api } = setup({
      input: continued({ state: "st-1", exp, a: 1 }, "body", "my_token"),
      phase: "continue",
      stateId: "st-1",
    });
    assert.equal(api.redirect.validateToken({ secret: "shh", tokenParameterName: "my_token" }).a, 1);
  });

  for (const [label, claims, secret, message] of [
    ["a wrong signature", { state: "st-1", exp }, "other", /signature/],
    ["an expired token", { state: "st-1", exp: Math.floor(NOW / 1000) - 1 }, "shh", /expired/],
    ["no exp", { state: "st-1" }, "shh", /exp/],
    ["another state", { state: "st-2", exp }, "shh", /state/],
    ["no state", { exp }, "shh", /state/],
    ["another user", { state: "st-1", exp, sub: "auth0|2" }, "shh", /sub/],
  ]) {
    test(`validateToken refuses ${label}`, () => {
      const { api } = setup({ input: continued(claims), phase: "continue", stateId: "st-1" });
      assert.throws(
        () => api.redirect.validateToken({ secret }),
        (e) => message.test(e.message) && e.message.includes("api.redirect.validateToken"),
      );
    });
  }

  test("validateToken without the parameter names it", () => {
    const { api } = setup({ input, phase: "continue", stateId: "st-1" });
    assert.throws(() => api.redirect.validateToken({ secret: "x" }), /'session_token'/);
  });

  test("canRedirect is false for prompt=none and the non-interactive protocols (Auth0's harness)", () => {
    assert.equal(setup({ input }).api.redirect.canRedirect(), true);
    assert.equal(
      setup({
        input: { user: { user_id: "x" }, request: { query: { prompt: "none" } } },
      }).api.redirect.canRedirect(),
      false,
    );
    for (const protocol of [
      "oauth2-resource-owner",
      "oauth2-refresh-token",
      "oauth2-password",
      "oauth2-webauthn",
    ]) {
      assert.equal(
        setup({ input: { user: { user_id: "x" }, transaction: { protocol } } }).api.redirect.canRedirect(),
        false,
        protocol,
      );
    }
  });

  refuses(
    "api.redirect.sendUserTo",
    [
      ["a javascript: URL", (api) => api.redirect.sendUserTo("javascript:alert(1)")],
      [
        "an object query value",
        (api) => api.redirect.sendUserTo("https://x.example.com", { query: { a: {} } }),
      ],
    ],
    TypeError,
  );

  test("sendUserTo and prompt.render cannot be used in the same Action (Auth0's harness)", () => {
    const { api } = setup();
    api.redirect.sendUserTo("https://x.example.com");
    assert.throws(() => api.prompt.render("p1"), /redirect and render/);
  });
});

describe("api.session and api.refreshToken", () => {
  const withSession = () =>
    setup({
      input: {
        user: { user_id: "x" },
        session: { id: "s1", metadata: { a: "1" } },
        refresh_token: { id: "r1" },
        transaction: { protocol: "oauth2-refresh-token" },
      },
    });

  test("expirations: the earliest wins", () => {
    const { api, result } = withSession();
    api.session.setExpiresAt(NOW + 5000);
    api.session.setExpiresAt(NOW + 1000);
    api.session.setExpiresAt(NOW + 9000);
    api.session.setIdleExpiresAt(NOW + 700);
    api.refreshToken.setExpiresAt(NOW + 2000);
    api.refreshToken.setIdleExpiresAt(NOW + 3000);
    api.refreshToken.setIdleExpiresAt(NOW + 2500);
    assert.equal(result.session.expiresAt, NOW + 1000);
    assert.equal(result.session.idleExpiresAt, NOW + 700);
    assert.equal(result.refreshToken.expiresAt, NOW + 2000);
    assert.equal(result.refreshToken.idleExpiresAt, NOW + 2500);
  });

  test("session metadata: set, delete, evict, reflected in the event", () => {
    const { api, result, event } = withSession();
    api.session.setMetadata("b", "2");
    assert.deepEqual(event.session.metadata, { a: "1", b: "2" });
    api.session.setMetadata("a", null);
    api.session.deleteMetadata("missing");
    assert.deepEqual(result.session.metadata, { b: "2" });
    api.session.evictMetadata();
    assert.deepEqual(result.session.metadata, {});
    assert.deepEqual(event.session.metadata, {});
  });

  test("cookie mode: the last call wins, reflected in the event", () => {
    const { api, result, event } = withSession();
    api.session.setCookieMode("persistent");
    api.session.setCookieMode("non-persistent");
    assert.equal(result.session.cookieMode, "non-persistent");
    assert.deepEqual(event.session.cookie, { mode: "non-persistent" });
  });

  test("session.revoke denies the login; refreshToken.revoke too, in a refresh token exchange", () => {
    const a = withSession();
    a.api.session.revoke("bye", { preserveRefreshTokens: true });
    assert.deepEqual(a.result.session.revoked, { reason: "bye", preserveRefreshTokens: true });
    assert.deepEqual(a.result.access, { denied: true, reason: "bye", action: "act" });
    const b = withSession();
    b.api.refreshToken.revoke("stolen");
    assert.deepEqual(b.result.refreshToken.revoked, { reason: "stolen" });
    assert.equal(b.result.access.denied, true);
  });

  refuses(
    "api.refreshToken.revoke",
    [["outside a refresh token exchange", (api) => api.refreshToken.revoke("x")]],
    Error,
  );
  refuses(
    "api.session.setMetadata",
    [["without a session", (api) => api.session.setMetadata("a", "1")]],
    Error,
  );
  refuses(
    "api.session.setMetadata",
    [
      ["a number value", (api) => api.session.setMetadata("a", 1)],
      ["a non-string key", (api) => api.session.setMetadata(1, "a")],
    ],
    TypeError,
    withSession,
  );
  refuses(
    "api.session.setMetadata",
    [
      ["a key with a dot", (api) => api.session.setMetadata("a.b", "1")],
      ["a 256-character value", (api) => api.session.setMetadata("a", "v".repeat(256))],
      ["a NUL in the value", (api) => api.session.setMetadata("a", "x\0")],
      [
        "the 26th key",
        (api) => {
          for (let i = 0; i < 26; i++) api.session.setMetadata(`k${i}`, "v");
        },
      ],
    ],
    RangeError,
    withSession,
  );
  refuses(
    "api.refreshToken.setMetadata",
    [["a key with a space", (api) => api.refreshToken.setMetadata("a b", "1")]],
    RangeError,
  );
  refuses(
    "api.session.setExpiresAt",
    [
      ["a string", (api) => api.session.setExpiresAt("tomorrow")],
      ["NaN", (api) => api.session.setExpiresAt(NaN)],
    ],
    TypeError,
    withSession,
  );
  refuses(
    "api.session.setIdleExpiresAt",
    [["zero", (api) => api.session.setIdleExpiresAt(0)]],
    RangeError,
    withSession,
  );
  refuses(
    "api.session.setCookieMode",
    [["an unknown mode", (api) => api.session.setCookieMode("session")]],
    TypeError,
    withSession,
  );
  refuses(
    "api.session.revoke",
    [["a non-boolean option", (api) => api.session.revoke("x", { preserveRefreshTokens: 1 })]],
    TypeError,
    withSession,
  );
  refuses(
    "api.refreshToken.setExpiresAt",
    [["an online refresh token", (api) => api.refreshToken.setExpiresAt(NOW + 1)]],
    Error,
    () => setup({ input: { user: { user_id: "x" }, refresh_token: { id: "r", access: "online" } } }),
  );

  test("refresh token metadata may be set before a refresh token exists (Auth0's harness)", () => {
    const { api, result, event } = setup();
    api.refreshToken.setMetadata("device", "laptop");
    assert.deepEqual(result.refreshToken.metadata, { device: "laptop" });
    assert.equal(event.refresh_token, undefined);
  });
});

describe("api.transaction.setMetadata", () => {
  test("updates event.transaction.metadata at once; null removes", () => {
    const { api, event, result } = setup();
    api.transaction.setMetadata("step", 1);
    api.transaction.setMetadata("ok", true);
    assert.deepEqual(event.transaction.metadata, { step: 1, ok: true });
    api.transaction.setMetadata("step", null);
    assert.deepEqual(result.transaction.metadata, { ok: true });
  });

  refuses(
    "api.transaction.setMetadata",
    [
      ["an object value", (api) => api.transaction.setMetadata("a", {})],
      ["undefined", (api) => api.transaction.setMetadata("a", undefined)],
      ["Infinity", (api) => api.transaction.setMetadata("a", Infinity)],
      ["a non-string key", (api) => api.transaction.setMetadata(1, "a")],
    ],
    TypeError,
  );
  refuses(
    "api.transaction.setMetadata",
    [
      ["a 65-character key", (api) => api.transaction.setMetadata("k".repeat(65), "v")],
      ["a value over 8 KB", (api) => api.transaction.setMetadata("k", "v".repeat(8 * 1024))],
      [
        "over 16 KB in total",
        (api) => {
          api.transaction.setMetadata("a", "v".repeat(8000));
          api.transaction.setMetadata("b", "v".repeat(8000));
          api.transaction.setMetadata("c", "v".repeat(8000));
        },
      ],
    ],
    RangeError,
  );
});

describe("api.samlResponse", () => {
  test("attributes and every configuration setter are recorded", () => {
    const { api, result } = setup();
    api.samlResponse.setAttribute("http://schemas.example.com/claims/role", ["a", "b"]);
    api.samlResponse.setAttribute("gone", undefined);
    api.samlResponse.setAudience("urn:sp");
    api.samlResponse.setRecipient("https://sp.example.com/acs");
    api.samlResponse.setCreateUpnClaim(false);
    api.samlResponse.setPassthroughClaimsWithNoMapping(false);
    api.samlResponse.setMapUnknownClaimsAsIs(true);
    api.samlResponse.setMapIdentities(false);
    api.samlResponse.setSignatureAlgorithm("rsa-sha256");
    api.samlResponse.setDigestAlgorithm("sha256");
    api.samlResponse.setDestination("https://sp.example.com/acs");
    api.samlResponse.setLifetimeInSeconds(600);
    api.samlResponse.setSignResponse(true);
    api.samlResponse.setNameIdentifierFormat();
    api.samlResponse.setNameIdentifierProbes([
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    ]);
    api.samlResponse.setAuthnContextClassRef("urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified");
    api.samlResponse.setSigningCert("-----BEGIN CERTIFICATE-----");
    api.samlResponse.setIncludeAttributeNameFormat(false);
    api.samlResponse.setTypedAttributes(false);
    api.samlResponse.setEncryptionCert("cert");
    api.samlResponse.setEncryptionPublicKey("key");
    api.samlResponse.setCert("cert");
    api.samlResponse.setKey("private");
    api.samlResponse.setRelayState("rs");
    api.samlResponse.setIssuer("urn:issuer");
    api.samlResponse.setEncryptionAlgorithm("aes256-gcm");
    assert.deepEqual(result.samlResponse.attributes, {
      "http://schemas.example.com/claims/role": ["a", "b"],
      gone: null,
    });
    assert.equal(Object.keys(result.samlResponse.configuration).length, 24);
    assert.equal(result.samlResponse.configuration.RelayState, "rs");
    assert.equal(
      result.samlResponse.configuration.nameIdentifierFormat,
      "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    );
  });

  refuses(
    "api.samlResponse.setAttribute",
    [
      ["an object value", (api) => api.samlResponse.setAttribute("a", { x: 1 })],
      ["a 2049-character value", (api) => api.samlResponse.setAttribute("a", "v".repeat(2049))],
      ["an empty name", (api) => api.samlResponse.setAttribute("", "v")],
    ],
    TypeError,
  );
  refuses(
    "api.samlResponse.setAttribute",
    [["a 1025-character name", (api) => api.samlResponse.setAttribute("a".repeat(1025), "v")]],
    RangeError,
  );
  refuses(
    "api.samlResponse.setSignatureAlgorithm",
    [["rsa-sha512", (api) => api.samlResponse.setSignatureAlgorithm("rsa-sha512")]],
    TypeError,
  );
  refuses(
    "api.samlResponse.setLifetimeInSeconds",
    [["a string", (api) => api.samlResponse.setLifetimeInSeconds("3600")]],
    TypeError,
  );
  refuses(
    "api.samlResponse.setNameIdentifierProbes",
    [["11 probes", (api) => api.samlResponse.setNameIdentifierProbes(Array(11).fill("p"))]],
    TypeError,
  );
  refuses(
    "api.samlResponse.setRelayState",
    [["513 characters", (api) => api.samlResponse.setRelayState("r".repeat(513))]],
    TypeError,
  );
  refuses(
    "api.samlResponse.setSignResponse",
    [["a string", (api) => api.samlResponse.setSignResponse("true")]],
    TypeError,
  );
});

describe("api.prompt, api.validation, api.rules, api.groups", () => {
  test("prompt.render records the prompt and suspends", () => {
    const { api, result, state } = setup();
    api.prompt.render("consent-form", { fields: { accepted: false }, vars: { name: "Jane" } });
    assert.deepEqual(result.prompt, {
      id: "consent-form",
      fields: { accepted: false },
      vars: { name: "Jane" },
      action: "act",
    });
    assert.equal(state.suspended.kind, "prompt");
    assert.throws(() => api.prompt.render("again"), /only 1 render command per action/);
  });

  refuses(
    "api.prompt.render",
    [
      ["an unknown option", (api) => api.prompt.render("p", { foo: {} })],
      ["a bad field name", (api) => api.prompt.render("p", { fields: { "1abc": 1 } })],
      ["a non-string id", (api) => api.prompt.render(1)],
    ],
    TypeError,
  );
  refuses(
    "api.prompt.render",
    [
      ["a 49-character id", (api) => api.prompt.render("p".repeat(49))],
      [
        "25 vars",
        (api) =>
          api.prompt.render("p", {
            vars: Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`v${i}`, 1])),
          }),
      ],
      ["options over 24 KB", (api) => api.prompt.render("p", { vars: { big: "x".repeat(25 * 1024) } })],
    ],
    RangeError,
  );

  test("validation.error denies the login with the code and message", () => {
    const { api, result } = setup();
    assert.equal(api.validation.error("invalid_domain", "Use your work email."), api);
    assert.deepEqual(result.validation, {
      code: "invalid_domain",
      message: "Use your work email.",
      action: "act",
    });
    assert.deepEqual(result.access, { denied: true, reason: "Use your work email.", action: "act" });
  });
  refuses(
    "api.validation.error",
    [["a 101-character message", (api) => api.validation.error("c", "m".repeat(101))]],
    RangeError,
  );
  refuses("api.validation.error", [["a numeric code", (api) => api.validation.error(1, "m")]], TypeError);

  test("rules.wasExecuted is false (no Rules run in this runtime)", () => {
    assert.equal(setup().api.rules.wasExecuted("rul_123"), false);
    assert.throws(() => setup().api.rules.wasExecuted(42), TypeError);
  });

  test("groups reject clearly without a tenant data source, and call it when there is one", async () => {
    const { api } = setup();
    await assert.rejects(api.groups.getUserGroups(), /api\.groups\.getUserGroups: no tenant data source/);
    await assert.rejects(api.groups.hasGroupMembership(["admins"]), /no tenant data source/);
    await assert.rejects(api.groups.getUserGroups({ take: 0 }), TypeError);
    await assert.rejects(api.groups.hasGroupMembership([]), TypeError);
    const calls = [];
    const tenant = {
      getUserGroups: async (...args) => (calls.push(args), { groups: [] }),
      hasGroupMembership: async (...args) => (calls.push(args), { memberships: {} }),
    };
    const withTenant = setup({
      input: { user: { user_id: "auth0|1" }, connection: { id: "con_1" } },
      tenant,
    });
    assert.deepEqual(await withTenant.api.groups.getUserGroups({ take: 5 }), { groups: [] });
    await withTenant.api.groups.hasGroupMembership(["admins"]);
    assert.deepEqual(calls, [
      ["auth0|1", { from: undefined, take: 5 }],
      ["auth0|1", "con_1", undefined, ["admins"]],
    ]);
  });
});

describe("interactions", () => {
  test("a deny after a redirect in the same Action wins: no redirect, no suspension", () => {
    const { api, result, state } = setup();
    api.redirect.sendUserTo("https://x.example.com");
    api.access.deny("no");
    assert.equal(result.redirect, null);
    assert.equal(state.suspended, null);
    assert.equal(result.access.denied, true);
  });

  test("a redirect after a deny is ignored with a warning", () => {
    const { api, result, logs } = setup();
    api.access.deny("no");
    api.redirect.sendUserTo("https://x.example.com");
    assert.equal(result.redirect, null);
    assert.equal(logs.at(-1).event, "api_call_ignored");
  });

  test("multifactor.enable does not suspend; challengeWith does; both are recorded", () => {
    const { api, result, state } = setup();
    api.multifactor.enable("any");
    assert.equal(state.suspended, undefined);
    api.authentication.challengeWith({ type: "otp" });
    assert.equal(state.suspended.kind, "challenge");
    assert.equal(result.multifactor.provider, "any");
  });

  test("a challenge and a redirect cannot be combined in one Action", () => {
    const { api } = setup();
    api.authentication.challengeWith({ type: "otp" });
    assert.throws(() => api.redirect.sendUserTo("https://x.example.com"), /cannot be combined/);
  });

  test("user metadata of a non-object kind throws (Auth0's harness)", () => {
    const { api } = setup({ input: { user: { user_id: "x", app_metadata: "legacy" } } });
    assert.throws(() => api.user.setAppMetadata("a", 1), /not a JSON object/);
  });
});
