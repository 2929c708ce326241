// Auth0's documented example Actions (tests/fixtures/auth0-docs/, unmodified CommonJS), run
// through the real runtime (executePostLogin, and the handler for the redirect). Each expected
// outcome is what the documentation says the example does.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { executePostLogin } from "../../js/runtime/trigger.js";
import { TriggerCache } from "../../js/runtime/cache.js";
import { signBody } from "../../js/signature.js";
import { signHs256, verifyHs256 } from "../../js/runtime/hs256.js";

const require = createRequire(import.meta.url);
const docs = (name) => require(`../fixtures/auth0-docs/${name}.cjs`);

/** An Action binding for a documented example module. */
const bind = (name, secrets = []) => ({ name, secrets, ...docs(name) });

const base = () => ({
  user: { user_id: "auth0|1", email: "jane@example.com", app_metadata: {}, user_metadata: {} },
  client: { client_id: "c1", name: "Other App" },
  request: {
    ip: "203.0.113.9",
    hostname: "tenant.eu.auth0.com",
    query: {},
    body: {},
    geoip: { continentCode: "EU" },
  },
  transaction: { id: "tx", protocol: "oidc-basic-profile" },
});

async function run(name, change = () => {}, { secrets = [], env = {} } = {}) {
  const input = base();
  change(input);
  const logs = [];
  const originalLog = console.log;
  console.log = () => {}; // the JA4 example logs through console.log
  try {
    return await executePostLogin({
      actions: [bind(name, secrets)],
      input,
      env,
      cache: new TriggerCache(),
      log: (level, event, fields) => logs.push({ level, event, fields }),
    });
  } finally {
    console.log = originalLog;
  }
}

describe("Auth0's documented examples", () => {
  test("Access control: @example.com users of My SPA are denied", async () => {
    const denied = await run("access-control", (e) => {
      e.user.email = "bob@example.com";
      e.client.name = "My SPA";
    });
    assert.deepEqual(denied.access, {
      denied: true,
      reason: "Access to My SPA is not allowed.",
      action: "access-control",
    });
    assert.equal((await run("access-control")).access.denied, false);
  });

  test("Weekdays only: APP_NAME is denied on Saturday and Sunday", async () => {
    const result = await run("weekdays-only", (e) => (e.client.name = "APP_NAME"));
    const weekend = [0, 6].includes(new Date().getDay());
    assert.equal(result.access.denied, weekend);
    if (weekend) assert.equal(result.access.reason, "This app is only available during the week.");
  });

  test("Deny access to anyone calling an API", async () => {
    const result = await run("deny-api", (e) => (e.resource_server = { identifier: "http://todoapi2.api" }));
    assert.equal(result.access.reason, "end_users_not_allowed");
    assert.equal((await run("deny-api")).access.denied, false);
  });

  test("Add user roles to ID and Access tokens", async () => {
    const result = await run("roles-claims", (e) => (e.authorization = { roles: ["admin", "editor"] }));
    assert.deepEqual(result.idToken.claims, { "https://my-app.example.com/roles": ["admin", "editor"] });
    assert.deepEqual(result.accessToken.claims, { "https://my-app.example.com/roles": ["admin", "editor"] });
  });

  test("Enrich the user profile: user_metadata updated once all Actions ran", async () => {
    const result = await run("enrich-profile", (e) => (e.user.user_metadata = { locale: "en" }));
    assert.deepEqual(result.user.user_metadata, { locale: "en", favorite_color: "blue" });
    assert.equal(result.user.app_metadata, null);
  });

  test("Enforce custom MFA policy: MFA for North America only", async () => {
    const na = await run("mfa-north-america", (e) => (e.request.geoip.continentCode = "NA"));
    assert.deepEqual(na.multifactor, { provider: "any", allowRememberBrowser: false });
    assert.equal((await run("mfa-north-america")).multifactor, null);
  });

  test("Reduce friction with passkeys: MFA provider none after a passkey", async () => {
    const result = await run(
      "passkey-skip-mfa",
      (e) => (e.authentication = { methods: [{ name: "passkey", timestamp: "2024-01-01T00:00:00Z" }] }),
    );
    assert.equal(result.multifactor.provider, "none");
    assert.equal(
      (
        await run(
          "passkey-skip-mfa",
          (e) => (e.authentication = { methods: [{ name: "pwd", timestamp: "x" }] }),
        )
      ).multifactor,
      null,
    );
  });

  test("Modify scopes: read:xyz only for the expected audience", async () => {
    const result = await run(
      "add-scope",
      (e) => (e.resource_server = { identifier: "https://example.com/api" }),
    );
    assert.deepEqual(result.accessToken.scopes, { added: ["read:xyz"], removed: [] });
    assert.deepEqual((await run("add-scope")).accessToken.scopes.added, []);
  });

  test("Deny specific JA4 fingerprints (deny takes one argument in post-login: the first is the reason)", async () => {
    const result = await run(
      "ja4-deny",
      (e) => (e.security_context = { ja4: "t13d1517h2_8daaf6152771_b6f405a00624" }),
    );
    assert.deepEqual(result.access, {
      denied: true,
      reason: "suspicious_tls_fingerprint",
      action: "ja4-deny",
    });
    assert.equal(
      (await run("ja4-deny", (e) => (e.security_context = { ja4: "t13d_other" }))).access.denied,
      false,
    );
  });

  test("Custom claims migration: namespaced and non-namespaced claims on both tokens", async () => {
    const result = await run("custom-claims");
    const expected = {
      "https://myDomain.com/myClaim": "this is a public, namespaced claim",
      myClaim: "this is a private, non namespaced claim",
    };
    assert.deepEqual(result.idToken.claims, expected);
    assert.deepEqual(result.accessToken.claims, expected);
  });

  test("Manage user metadata: the expensive task runs once", async () => {
    const first = await run("expensive-task");
    assert.deepEqual(first.user.app_metadata, { didAnExpensiveTask: true });
    const originalLog = console.log;
    console.log = () => {};
    try {
      const second = await run("expensive-task", (e) => (e.user.app_metadata = { didAnExpensiveTask: true }));
      assert.equal(second.user.app_metadata, null, "nothing changed, nothing to apply");
    } finally {
      console.log = originalLog;
    }
  });

  test("challengeWith with additional factors: the challenge is recorded and the pipeline suspends", async () => {
    const result = await run("challenge-with");
    assert.deepEqual(result.authentication.challenge, {
      method: "challengeWith",
      factors: [{ type: "otp" }, { type: "push-notification" }, { type: "phone" }],
      action: "challenge-with",
    });
    assert.equal(typeof result.state, "string", "subsequent Actions wait for the challenge");
  });

  test("enrollWith with additional factors", async () => {
    const result = await run("enroll-with");
    assert.equal(result.authentication.challenge.method, "enrollWith");
    assert.deepEqual(
      result.authentication.challenge.factors.map((f) => f.type),
      ["otp", "push-notification", "phone"],
    );
  });

  test("setEncryptionAlgorithm('aes256-gcm')", async () => {
    assert.deepEqual((await run("saml-encryption")).samlResponse.configuration, {
      encryptionAlgorithm: "aes256-gcm",
    });
  });

  test("session.revoke preserving refresh tokens denies the login", async () => {
    const result = await run("session-revoke", (e) => (e.session = { id: "s1" }));
    assert.deepEqual(result.session.revoked, { reason: "reason", preserveRefreshTokens: true });
    assert.equal(result.access.denied, true);
  });
});

describe("Auth0's documented redirect example through the login handler", () => {
  test("Redirect the user to an external site: favorite color stored after /continue-login", async () => {
    const silence = { log: console.log, warn: console.warn, error: console.error };
    for (const method of Object.keys(silence)) console[method] = () => {};
    const { createLoginHandler } = await import("../../js/handler.js");
    try {
      const kv = new Map();
      const env = {
        LOGIN_HANDLER_SECRET: "handler-secret",
        MY_SHARED_SECRET: "shared-with-my-app",
        ACTIONS_CACHE: {
          get: async (k) => kv.get(k) ?? null,
          put: async (k, v) => void kv.set(k, v),
          delete: async (k) => void kv.delete(k),
        },
      };
      const handler = createLoginHandler({
        actions: [bind("favorite-color-redirect", ["MY_SHARED_SECRET"])],
      });
      const post = async (path, payload) => {
        const body = JSON.stringify(payload);
        const response = await handler.fetch(
          new Request(`https://login.example.com${path}`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-signature": await signBody(body, env.LOGIN_HANDLER_SECRET, Date.now() / 1000),
            },
            body,
          }),
          env,
          { waitUntil() {} },
        );
        return response.json();
      };
      const first = await post("/post-login", base());
      const url = new URL(first.redirect.url);
      assert.equal(url.origin, "https://my-app.example.com");
      const sessionToken = verifyHs256(url.searchParams.get("session_token"), env.MY_SHARED_SECRET);
      assert.equal(sessionToken.email, "jane@example.com");
      // The app answers with a token carrying the state; validateToken's default parameter is session_token.
      const back = signHs256(
        {
          state: url.searchParams.get("state"),
          exp: Math.floor(Date.now() / 1000) + 60,
          favorite_color: "green",
        },
        env.MY_SHARED_SECRET,
      );
      const done = await post("/continue-login", { state: first.state, body: { session_token: back } });
      assert.deepEqual(done.user.user_metadata, { favorite_color: "green" });
      // "Actions that were executed prior to the redirect will not be executed again": a second
      // login of a user who chose a color does not redirect.
      const again = await post("/post-login", {
        ...base(),
        user: { ...base().user, user_metadata: { favorite_color: "green" } },
      });
      assert.equal(again.redirect, null);
      assert.equal(again.state, undefined);
    } finally {
      Object.assign(console, silence);
    }
  });
});
