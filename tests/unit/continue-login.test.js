// The redirect round trip in-process, through createLoginHandler: POST /post-login suspends at
// api.redirect.sendUserTo, POST /continue-login resumes with onContinuePostLogin and the Actions
// after it. Expected outcomes come from Auth0's "Redirect with Actions".
import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { signBody } from "../../js/signature.js";
import { signHs256, verifyHs256 } from "../../js/runtime/hs256.js";
import { stateKey, STATE_TTL_SECONDS } from "../../js/runtime/suspend.js";

const logs = [];
const originalConsole = { log: console.log, warn: console.warn, error: console.error };
for (const method of Object.keys(originalConsole)) console[method] = (line) => logs.push(JSON.parse(line));
const { createLoginHandler } = await import("../../js/handler.js");
Object.assign(console, originalConsole);

const START = 1_700_000_000_000;
let t = START;
const now = () => t;
const SECRET = "test-login-handler-secret";
const REDIRECT_SECRET = "redirect-secret-shared-with-the-app";
const BASE = "https://login.example.com";

beforeEach(() => {
  t = START;
  logs.length = 0;
});

function fakeKv() {
  const store = new Map();
  const kv = {
    store,
    gets: 0,
    puts: [],
    deletes: 0,
    async get(key) {
      kv.gets++;
      return store.has(key) ? store.get(key) : null;
    },
    async put(key, value, options) {
      kv.puts.push({ key, options });
      store.set(key, value);
    },
    async delete(key) {
      kv.deletes++;
      store.delete(key);
    },
  };
  return kv;
}

function harness(actions, { kv = fakeKv() } = {}) {
  const handler = createLoginHandler({ actions, now });
  const env = { LOGIN_HANDLER_SECRET: SECRET, ACTIONS_CACHE: kv, REDIRECT_SECRET };
  const ctx = { waitUntil: () => {} };
  const send = async (path, payload, { signature } = {}) => {
    const body = JSON.stringify(payload);
    const header = signature === undefined ? await signBody(body, SECRET, Math.floor(t / 1000)) : signature;
    const response = await handler.fetch(
      new Request(`${BASE}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(header ? { "x-signature": header } : {}) },
        body,
      }),
      env,
      ctx,
    );
    return { status: response.status, body: await response.json() };
  };
  return {
    kv,
    login: (event) => send("/post-login", event),
    resume: (payload, options) => send("/continue-login", payload, options),
  };
}

const event = (extra = {}) => ({
  user: { user_id: "auth0|1", email: "jane@example.com", app_metadata: {}, user_metadata: {} },
  request: { ip: "203.0.113.9", hostname: "tenant.eu.auth0.com", query: {}, body: {} },
  transaction: { id: "tx1", protocol: "oidc-basic-profile" },
  ...extra,
});

/** A JS Action with the given handlers, counting its calls. */
function jsAction(name, handlers, secrets = []) {
  const action = { name, secrets, calls: { execute: 0, continue: 0 } };
  action.onExecutePostLogin = async (e, api) => {
    action.calls.execute++;
    await handlers.execute?.(e, api);
  };
  if (handlers.continue) {
    action.onContinuePostLogin = async (e, api) => {
      action.calls.continue++;
      await handlers.continue(e, api);
    };
  }
  return action;
}

// Auth0's documented example, unmodified in substance ("Pass data to the external site" and
// "Pass information back to the Action"), with the secret read from event.secrets.
const documentedRedirect = () =>
  jsAction(
    "redirect-action",
    {
      execute: async (event, api) => {
        const yourDomain = event.secrets.YOUR_AUTH0_DOMAIN || event.request.hostname;
        const token = api.redirect.encodeToken({
          secret: event.secrets.REDIRECT_SECRET,
          expiresInSeconds: 60,
          payload: {
            email: event.user.email,
            externalUserId: 1234,
            continue_uri: `https://${yourDomain}/continue`,
          },
        });
        api.redirect.sendUserTo("https://my-app.exampleco.com", { query: { session_token: token } });
      },
      continue: async (event, api) => {
        const payload = api.redirect.validateToken({
          secret: event.secrets.REDIRECT_SECRET,
          tokenParameterName: "my_token",
        });
        api.idToken.setCustomClaim("color", payload.favorite_color);
      },
    },
    ["REDIRECT_SECRET"],
  );

/** What the external site does: read state and the session token, answer with a signed token. */
function externalSite(redirectUrl, claims = {}) {
  const url = new URL(redirectUrl);
  const state = url.searchParams.get("state");
  const sessionToken = verifyHs256(url.searchParams.get("session_token"), REDIRECT_SECRET);
  const back = signHs256(
    { sub: sessionToken.sub, state, exp: Math.floor(t / 1000) + 60, ...claims },
    REDIRECT_SECRET,
  );
  return { state, sessionToken, back };
}

describe("the redirect round trip (Auth0's documented example)", () => {
  test("suspends, hands out state, resumes in onContinuePostLogin, then runs the later Actions", async () => {
    const redirect = documentedRedirect();
    const later = jsAction("later", { execute: (e, api) => api.accessToken.setCustomClaim("later", true) });
    const h = harness([redirect, later]);

    const first = await h.login(event());
    assert.equal(first.status, 200);
    assert.equal(typeof first.body.state, "string");
    assert.equal(first.body.redirect.action, "redirect-action");
    assert.equal(later.calls.execute, 0, "the Actions after the redirect wait for the continue");
    const { state, sessionToken, back } = externalSite(first.body.redirect.url, { favorite_color: "blue" });
    assert.equal(state, first.body.state, "Auth0 passes a state parameter in the redirect URL");
    // The session token carries what the docs list: sub, iss, exp (60 s), ip and the payload.
    assert.equal(sessionToken.sub, "auth0|1");
    assert.equal(sessionToken.iss, "tenant.eu.auth0.com");
    assert.equal(sessionToken.exp - sessionToken.iat, 60);
    assert.equal(sessionToken.ip, "203.0.113.9");
    assert.equal(sessionToken.email, "jane@example.com");
    assert.equal(sessionToken.continue_uri, "https://tenant.eu.auth0.com/continue");

    // "the token should be sent back to Auth0 by making a POST request to the /continue endpoint"
    const second = await h.resume({ state, body: { my_token: back } });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(redirect.calls.continue, 1);
    assert.equal(later.calls.execute, 1);
    assert.deepEqual(second.body.idToken.claims, { color: "blue" });
    assert.deepEqual(second.body.accessToken.claims, { later: true });
    assert.equal(second.body.redirect, null);
    assert.equal(second.body.state, undefined);
    assert.equal(second.body.access.denied, false);
  });

  test("the state is stored under a hashed key with a 10-minute TTL, holding no secret or token", async () => {
    const h = harness([documentedRedirect()]);
    const first = await h.login(event());
    const [put] = h.kv.puts.filter((p) => p.key.startsWith("continue-login/"));
    assert.equal(put.key, stateKey(first.body.state));
    assert.ok(!put.key.includes(first.body.state));
    assert.deepEqual(put.options, { expirationTtl: STATE_TTL_SECONDS });
    assert.equal(STATE_TTL_SECONDS, 600);
    const stored = h.kv.store.get(put.key);
    const token = new URL(first.body.redirect.url).searchParams.get("session_token");
    assert.ok(!stored.includes(REDIRECT_SECRET), "the Action's secret is not stored");
    assert.ok(!stored.includes(token), "the session token is not stored");
    assert.ok(!stored.includes(SECRET));
    assert.ok(!stored.includes(first.body.state), "the state id is not stored");
    assert.ok(!JSON.stringify(logs).includes(first.body.state), "the state id is never logged");
    assert.ok(!JSON.stringify(logs).includes(token));
  });

  test("a state is used once: a second continue is refused and nothing runs twice", async () => {
    const redirect = documentedRedirect();
    const h = harness([redirect]);
    const first = await h.login(event());
    const { state, back } = externalSite(first.body.redirect.url);
    assert.equal((await h.resume({ state, body: { my_token: back } })).status, 200);
    const again = await h.resume({ state, body: { my_token: back } });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, "invalid_state");
    assert.equal(redirect.calls.continue, 1);
    assert.equal(h.kv.store.has(stateKey(state)), false, "the record is deleted on use");
  });

  test("within an isolate a state is refused a second time even while KV still returns it", async () => {
    const kv = fakeKv();
    kv.delete = async () => {}; // KV's delete not visible yet (eventual consistency)
    const redirect = documentedRedirect();
    const h = harness([redirect], { kv });
    const first = await h.login(event());
    const { state, back } = externalSite(first.body.redirect.url);
    const [a, b] = await Promise.all([
      h.resume({ state, body: { my_token: back } }),
      h.resume({ state, body: { my_token: back } }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 400]);
    assert.equal(redirect.calls.continue, 1);
  });

  test("a state used once is refused by another isolate too (deleted from KV)", async () => {
    const kv = fakeKv();
    const redirect = documentedRedirect();
    const first = await harness([redirect], { kv }).login(event());
    const { state, back } = externalSite(first.body.redirect.url);
    assert.equal((await harness([redirect], { kv }).resume({ state, body: { my_token: back } })).status, 200);
    assert.equal((await harness([redirect], { kv }).resume({ state, body: { my_token: back } })).status, 400);
  });

  test("an unknown state → 400 invalid_state; an expired one too", async () => {
    const h = harness([documentedRedirect()]);
    const unknown = await h.resume({ state: "A".repeat(43) });
    assert.equal(unknown.status, 400);
    assert.deepEqual(Object.keys(unknown.body).sort(), ["error", "error_description"]);
    assert.equal(unknown.body.error, "invalid_state");
    const first = await h.login(event());
    t += STATE_TTL_SECONDS * 1000 + 1;
    const expired = await h.resume({ state: first.body.state });
    assert.equal(expired.status, 400);
    assert.equal(expired.body.error, "invalid_state");
  });

  test("an unsigned or badly signed continue reads nothing from KV", async () => {
    const h = harness([documentedRedirect()]);
    const first = await h.login(event());
    const gets = h.kv.gets;
    assert.equal((await h.resume({ state: first.body.state }, { signature: null })).status, 401);
    assert.equal(
      (
        await h.resume(
          { state: first.body.state },
          { signature: `t=${Math.floor(t / 1000)},v1=${"0".repeat(64)}` },
        )
      ).status,
      401,
    );
    assert.equal(h.kv.gets, gets);
    assert.ok(h.kv.store.has(stateKey(first.body.state)), "the state is still usable");
  });

  for (const [label, payload] of [
    ["no state", {}],
    ["a numeric state", { state: 42 }],
    ["an unknown field", { state: "A".repeat(43), user: {} }],
    ["a non-object query", { state: "A".repeat(43), query: "a=b" }],
  ]) {
    test(`a continue body with ${label} → 400 invalid_request`, async () => {
      const response = await harness([documentedRedirect()]).resume(payload);
      assert.equal(response.status, 400);
      assert.equal(response.body.error, "invalid_request");
    });
  }

  test("a token for another state is refused by validateToken: the login fails", async () => {
    const redirect = documentedRedirect();
    const h = harness([redirect]);
    const first = await h.login(event());
    const forged = signHs256({ state: "another-state", exp: Math.floor(t / 1000) + 60 }, REDIRECT_SECRET);
    const second = await h.resume({ state: first.body.state, body: { my_token: forged } });
    assert.equal(second.status, 200);
    assert.equal(second.body.access.denied, true);
    assert.deepEqual(second.body.error, { code: "action_failed", action: "redirect-action" });
  });
});

describe("across the round trip", () => {
  test("transaction metadata and user metadata from before the redirect survive; metadata is applied once at the end", async () => {
    const seen = [];
    const first = jsAction("first", {
      execute: (e, api) => {
        api.transaction.setMetadata("risk", "low");
        api.user.setAppMetadata("step", 1);
      },
    });
    const redirect = jsAction("redirect", {
      execute: (e, api) => {
        seen.push(["redirect.execute", e.transaction.metadata]);
        api.redirect.sendUserTo("https://app.example.com/consent");
      },
      continue: (e, api) => {
        seen.push(["redirect.continue", e.transaction.metadata, e.request.query.state !== undefined]);
        api.transaction.setMetadata("consented", true);
        api.user.setAppMetadata("consented", true);
      },
    });
    const last = jsAction("last", { execute: (e) => seen.push(["last.execute", e.transaction.metadata]) });
    const h = harness([first, redirect, last]);
    const suspended = await h.login(event());
    assert.deepEqual(
      suspended.body.user,
      { app_metadata: null, user_metadata: null },
      "not applied while suspended",
    );
    const done = await h.resume({ state: suspended.body.state });
    assert.deepEqual(seen, [
      ["redirect.execute", { risk: "low" }],
      ["redirect.continue", { risk: "low" }, true],
      ["last.execute", { risk: "low", consented: true }],
    ]);
    assert.deepEqual(done.body.user.app_metadata, { step: 1, consented: true });
    assert.deepEqual(done.body.transaction.metadata, { risk: "low", consented: true });
  });

  test("a deny in onContinuePostLogin stops the later Actions (documented example: validateSessionToken → deny)", async () => {
    const redirect = jsAction("redirect", {
      execute: (e, api) => api.redirect.sendUserTo("https://app.example.com"),
      continue: (e, api) => api.access.deny("Unauthorized"),
    });
    const later = jsAction("later", {});
    const h = harness([redirect, later]);
    const first = await h.login(event());
    const done = await h.resume({ state: first.body.state });
    assert.deepEqual(done.body.access, { denied: true, reason: "Unauthorized", action: "redirect" });
    assert.equal(later.calls.execute, 0);
  });

  test("Auth0's custom authentication method example records the method after the redirect", async () => {
    const CUSTOM_METHOD_URL = "https://path.to.prompt";
    const action = jsAction(
      "custom-method",
      {
        execute: async (event, api) => {
          const methodRecord = event.authentication?.methods.find((r) => r.name === CUSTOM_METHOD_URL);
          if (!methodRecord) {
            const sessionToken = api.redirect.encodeToken({
              payload: { user_id: event.user.user_id },
              secret: event.secrets.REDIRECT_SECRET,
            });
            api.redirect.sendUserTo(CUSTOM_METHOD_URL, { query: { session_token: sessionToken } });
          }
        },
        continue: async (event, api) => {
          api.redirect.validateToken({
            secret: event.secrets.REDIRECT_SECRET,
            tokenParameterName: "session_token",
          });
          api.authentication.recordMethod(CUSTOM_METHOD_URL);
        },
      },
      ["REDIRECT_SECRET"],
    );
    const h = harness([action]);
    const first = await h.login(
      event({ authentication: { methods: [{ name: "pwd", timestamp: "2024-01-01T00:00:00Z" }] } }),
    );
    const { state, back } = externalSite(first.body.redirect.url);
    const done = await h.resume({ state, query: { session_token: back } });
    assert.equal(done.body.access.denied, false, JSON.stringify(done.body));
    assert.deepEqual(done.body.authentication.recordedMethods, [
      { name: CUSTOM_METHOD_URL, timestamp: new Date(t).toISOString() },
    ]);
  });

  test("a redirect with prompt=none fails the login with interaction_required (Redirect with Actions)", async () => {
    const h = harness([
      jsAction("r", { execute: (e, api) => api.redirect.sendUserTo("https://app.example.com") }),
    ]);
    const response = await h.login(
      event({ request: { ip: "1.2.3.4", query: { prompt: "none" }, body: {} } }),
    );
    assert.equal(response.body.access.denied, true);
    assert.equal(response.body.error.code, "interaction_required");
    assert.equal(response.body.redirect, null);
    assert.equal(h.kv.puts.filter((p) => p.key.startsWith("continue-login/")).length, 0);
  });

  test("an MFA challenge suspends; the continue resumes with the next Action, which sees the mfa method", async () => {
    const challenger = jsAction("challenger", {
      execute: (e, api) => api.authentication.challengeWith({ type: "otp" }),
    });
    let methods;
    const next = jsAction("next", { execute: (e) => (methods = e.authentication.methods) });
    const h = harness([challenger, next]);
    const first = await h.login(event());
    assert.equal(first.body.authentication.challenge.method, "challengeWith");
    assert.equal(first.body.redirect, null);
    assert.equal(next.calls.execute, 0);
    const done = await h.resume({ state: first.body.state });
    assert.equal(done.status, 200);
    assert.equal(next.calls.execute, 1);
    assert.deepEqual(methods.at(-1), { name: "mfa", timestamp: new Date(t).toISOString() });
    assert.equal(done.body.authentication.challenge, null);
  });

  test("a custom prompt resumes in onContinuePostLogin with the submitted fields in event.prompt", async () => {
    let prompt;
    const action = jsAction("form", {
      execute: (e, api) => api.prompt.render("profile-form", { vars: { greeting: "hi" } }),
      continue: (e) => (prompt = e.prompt),
    });
    const h = harness([action]);
    const first = await h.login(event());
    assert.equal(first.body.prompt.id, "profile-form");
    await h.resume({ state: first.body.state, prompt: { fields: { phone: "+15550100" } } });
    assert.deepEqual(prompt, {
      id: "profile-form",
      fields: { phone: "+15550100" },
      vars: { greeting: "hi" },
    });
  });

  test("a Duo skey enabled before a redirect is not stored; it is dropped with a warning on resume", async () => {
    const action = jsAction("duo", {
      execute: (e, api) => {
        api.multifactor.enable("duo", {
          providerOptions: { host: "api-x.duosecurity.com", ikey: "DI", skey: "duo-secret-key" },
        });
        api.redirect.sendUserTo("https://app.example.com");
      },
      continue: () => {},
    });
    const h = harness([action]);
    const first = await h.login(event());
    assert.ok(![...h.kv.store.values()].some((v) => v.includes("duo-secret-key")));
    const done = await h.resume({ state: first.body.state });
    assert.equal(done.body.multifactor, null);
    assert.ok(logs.some((l) => l.event === "mfa_provider_secret_not_kept"));
  });
});

describe("continue request limits", () => {
  test("a query nested deeper than an event may be → 400 invalid_request, and the state stays usable", async () => {
    const h = harness([documentedRedirect()]);
    const first = await h.login(event());
    let deep = {};
    for (let i = 0; i < 80; i++) deep = { d: deep };
    const response = await h.resume({ state: first.body.state, query: deep });
    assert.equal(response.status, 400);
    assert.equal(response.body.error, "invalid_request");
    assert.ok(h.kv.store.has(stateKey(first.body.state)));
  });
});
