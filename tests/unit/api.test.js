import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_METADATA_BYTES, MetadataBatch, createPostLoginApi, emptyResult } from "../../js/runtime/api.js";
import { TriggerCache } from "../../js/runtime/cache.js";

const START = 1_700_000_000_000;
let t = START;
const now = () => t;

beforeEach(() => {
  t = START;
});

afterEach(() => {
  delete Object.prototype.polluted;
});

const defaultUser = () => ({
  user_id: "auth0|1",
  app_metadata: { plan: "free", keep: true },
  user_metadata: { locale: "en" },
});

/** A fresh execution state and the api an Action named `actionName` receives. */
function setup({ user = defaultUser(), actionName = "first" } = {}) {
  const state = {
    result: emptyResult(),
    metadata: new MetadataBatch(user),
    cache: new TriggerCache({ now }),
  };
  return { state, api: createPostLoginApi(state, actionName) };
}

const bytes = (value) => new TextEncoder().encode(JSON.stringify(value)).length;

describe("emptyResult", () => {
  test("starts with nothing decided", () => {
    assert.deepEqual(emptyResult(), {
      access: { denied: false, reason: null, action: null },
      idToken: { claims: {} },
      accessToken: { claims: {}, scopes: { added: [], removed: [] } },
      user: { app_metadata: null, user_metadata: null },
      multifactor: null,
      redirect: null,
    });
  });
});

describe("api.access.deny", () => {
  test("records denied, reason and the action", () => {
    const { state, api } = setup({ actionName: "blocker" });
    api.access.deny("not today");
    assert.deepEqual(state.result.access, {
      denied: true,
      reason: "not today",
      action: "blocker",
    });
  });

  test("the first deny wins, even from another action", () => {
    const { state, api } = setup({ actionName: "first" });
    api.access.deny("first reason");
    api.access.deny("second reason");
    createPostLoginApi(state, "second").access.deny("third reason");
    assert.deepEqual(state.result.access, {
      denied: true,
      reason: "first reason",
      action: "first",
    });
  });

  test("is chainable: returns the api", () => {
    const { api } = setup();
    assert.equal(api.access.deny("no"), api);
  });

  for (const reason of [undefined, null, 42, { message: "no" }]) {
    test(`throws TypeError for a ${reason === null ? "null" : typeof reason} reason`, () => {
      const { state, api } = setup();
      assert.throws(() => api.access.deny(reason), TypeError);
      assert.equal(state.result.access.denied, false);
    });
  }
});

describe("api.idToken / api.accessToken setCustomClaim", () => {
  test("records an ID token claim", () => {
    const { state, api } = setup();
    api.idToken.setCustomClaim("https://example.com/roles", ["admin"]);
    assert.deepEqual(state.result.idToken.claims, {
      "https://example.com/roles": ["admin"],
    });
    assert.deepEqual(state.result.accessToken.claims, {});
  });

  test("records an access token claim", () => {
    const { state, api } = setup();
    api.accessToken.setCustomClaim("https://example.com/plan", "pro");
    assert.deepEqual(state.result.accessToken.claims, {
      "https://example.com/plan": "pro",
    });
    assert.deepEqual(state.result.idToken.claims, {});
  });

  test("a later value for the same claim replaces the earlier one", () => {
    const { state, api } = setup();
    api.idToken.setCustomClaim("c", 1);
    api.idToken.setCustomClaim("c", 2);
    assert.deepEqual(state.result.idToken.claims, { c: 2 });
  });

  test("both are chainable", () => {
    const { api } = setup();
    assert.equal(api.idToken.setCustomClaim("a", 1), api);
    assert.equal(api.accessToken.setCustomClaim("a", 1), api);
  });

  test("the claim value is copied when set", () => {
    const { state, api } = setup();
    const value = { roles: ["a"] };
    api.idToken.setCustomClaim("c", value);
    value.roles.push("b");
    assert.deepEqual(state.result.idToken.claims.c, { roles: ["a"] });
  });

  test("'__proto__' as a claim name is an own property and pollutes nothing", () => {
    const { state, api } = setup();
    api.idToken.setCustomClaim("__proto__", { polluted: "yes" });
    api.accessToken.setCustomClaim("__proto__", { polluted: "yes" });
    assert.equal({}.polluted, undefined);
    for (const claims of [state.result.idToken.claims, state.result.accessToken.claims]) {
      assert.ok(Object.hasOwn(claims, "__proto__"));
      assert.equal(Object.getPrototypeOf(claims), Object.prototype);
      assert.deepEqual(JSON.parse(JSON.stringify(claims)), {
        ["__proto__"]: { polluted: "yes" },
      });
    }
  });

  test("an empty or non-string claim name throws TypeError", () => {
    const { api } = setup();
    assert.throws(() => api.idToken.setCustomClaim("", 1), TypeError);
    assert.throws(() => api.accessToken.setCustomClaim(7, 1), TypeError);
  });
});

describe("api.accessToken scopes", () => {
  test("addScope records an added scope once", () => {
    const { state, api } = setup();
    api.accessToken.addScope("read:reports");
    api.accessToken.addScope("read:reports");
    api.accessToken.addScope("write:reports");
    assert.deepEqual(state.result.accessToken.scopes, {
      added: ["read:reports", "write:reports"],
      removed: [],
    });
  });

  test("removeScope records a removed scope once", () => {
    const { state, api } = setup();
    api.accessToken.removeScope("admin");
    api.accessToken.removeScope("admin");
    assert.deepEqual(state.result.accessToken.scopes, {
      added: [],
      removed: ["admin"],
    });
  });

  test("removeScope cancels an earlier addScope of the same scope", () => {
    const { state, api } = setup();
    api.accessToken.addScope("admin");
    api.accessToken.addScope("read");
    api.accessToken.removeScope("admin");
    assert.deepEqual(state.result.accessToken.scopes, {
      added: ["read"],
      removed: ["admin"],
    });
  });

  test("addScope cancels an earlier removeScope of the same scope", () => {
    const { state, api } = setup();
    api.accessToken.removeScope("admin");
    api.accessToken.addScope("admin");
    assert.deepEqual(state.result.accessToken.scopes, {
      added: ["admin"],
      removed: [],
    });
  });

  test("an empty scope throws TypeError", () => {
    const { api } = setup();
    assert.throws(() => api.accessToken.addScope(""), TypeError);
    assert.throws(() => api.accessToken.removeScope(null), TypeError);
  });
});

describe("api.user metadata", () => {
  test("nothing is applied until metadata.apply()", () => {
    const { state, api } = setup();
    api.user.setAppMetadata("plan", "pro");
    api.user.setUserMetadata("locale", "fr");
    assert.deepEqual(state.result.user, {
      app_metadata: null,
      user_metadata: null,
    });
  });

  test("apply() merges changes into the user's metadata", () => {
    const { state, api } = setup();
    api.user.setAppMetadata("plan", "pro");
    api.user.setUserMetadata("theme", "dark");
    assert.deepEqual(state.metadata.apply(), {
      app_metadata: { plan: "pro", keep: true },
      user_metadata: { locale: "en", theme: "dark" },
    });
  });

  test("changes from several actions are aggregated", () => {
    const { state, api } = setup({ actionName: "one" });
    const other = createPostLoginApi(state, "two");
    api.user.setAppMetadata("a", 1);
    other.user.setAppMetadata("b", 2);
    assert.deepEqual(state.metadata.apply().app_metadata, {
      plan: "free",
      keep: true,
      a: 1,
      b: 2,
    });
  });

  test("the last write of a key wins", () => {
    const { state, api } = setup();
    api.user.setAppMetadata("plan", "pro");
    api.user.setAppMetadata("plan", "enterprise");
    assert.equal(state.metadata.apply().app_metadata.plan, "enterprise");
  });

  test("null deletes a key", () => {
    const { state, api } = setup();
    api.user.setAppMetadata("keep", null);
    api.user.setUserMetadata("locale", null);
    assert.deepEqual(state.metadata.apply(), {
      app_metadata: { plan: "free" },
      user_metadata: {},
    });
  });

  test("a set after a null restores the key", () => {
    const { state, api } = setup();
    api.user.setAppMetadata("keep", null);
    api.user.setAppMetadata("keep", "again");
    assert.equal(state.metadata.apply().app_metadata.keep, "again");
  });

  test("an untouched kind applies as null", () => {
    const { state, api } = setup();
    api.user.setUserMetadata("theme", "dark");
    const applied = state.metadata.apply();
    assert.equal(applied.app_metadata, null);
    assert.deepEqual(applied.user_metadata, { locale: "en", theme: "dark" });
  });

  test("a user without metadata starts from empty objects", () => {
    const { state, api } = setup({ user: { user_id: "x" } });
    api.user.setAppMetadata("a", 1);
    assert.deepEqual(state.metadata.apply().app_metadata, { a: 1 });
  });

  test("setAppMetadata and setUserMetadata are chainable", () => {
    const { api } = setup();
    assert.equal(api.user.setAppMetadata("a", 1), api);
    assert.equal(api.user.setUserMetadata("a", 1), api);
  });

  test("undefined value or empty key throws TypeError", () => {
    const { api } = setup();
    assert.throws(() => api.user.setAppMetadata("a", undefined), TypeError);
    assert.throws(() => api.user.setUserMetadata("", 1), TypeError);
  });

  test("apply() does not mutate the user's original metadata", () => {
    const user = defaultUser();
    const { state, api } = setup({ user });
    api.user.setAppMetadata("plan", "pro");
    api.user.setAppMetadata("keep", null);
    state.metadata.apply();
    assert.deepEqual(user.app_metadata, { plan: "free", keep: true });
  });

  test("a change taking a kind over 32 kB throws RangeError and is not kept", () => {
    const { state, api } = setup();
    assert.equal(MAX_METADATA_BYTES, 32 * 1024);
    assert.throws(() => api.user.setAppMetadata("blob", "x".repeat(MAX_METADATA_BYTES)), RangeError);
    api.user.setAppMetadata("plan", "pro");
    assert.deepEqual(state.metadata.apply().app_metadata, {
      plan: "pro",
      keep: true,
    });
  });

  test("metadata of exactly 32 kB is accepted", () => {
    const { state, api } = setup({ user: { user_id: "x" } });
    // {"blob":"…"} is 11 bytes of JSON around the string.
    api.user.setAppMetadata("blob", "x".repeat(MAX_METADATA_BYTES - 11));
    assert.equal(bytes(state.metadata.apply().app_metadata), MAX_METADATA_BYTES);
    assert.throws(() => api.user.setAppMetadata("y", 1), RangeError);
  });

  test("the 32 kB limit is per kind", () => {
    const { state, api } = setup({ user: { user_id: "x" } });
    const big = "x".repeat(MAX_METADATA_BYTES - 100);
    api.user.setAppMetadata("blob", big);
    api.user.setUserMetadata("blob", big);
    const applied = state.metadata.apply();
    assert.equal(applied.app_metadata.blob, big);
    assert.equal(applied.user_metadata.blob, big);
  });

  test("a rejected change keeps the earlier accepted value of the same key", () => {
    const { state, api } = setup();
    api.user.setAppMetadata("plan", "pro");
    assert.throws(() => api.user.setAppMetadata("plan", "x".repeat(MAX_METADATA_BYTES)), RangeError);
    assert.deepEqual(state.metadata.apply().app_metadata, {
      plan: "pro",
      keep: true,
    });
  });

  test("the 32 kB limit cannot be bypassed by mutating a value after setting it", () => {
    const { state, api } = setup({ user: { user_id: "x" } });
    const value = { note: "small" };
    api.user.setAppMetadata("profile", value);
    value.note = "x".repeat(MAX_METADATA_BYTES);
    const applied = state.metadata.apply();
    assert.ok(
      bytes(applied.app_metadata) <= MAX_METADATA_BYTES,
      `applied app_metadata is ${bytes(applied.app_metadata)} bytes`,
    );
  });
});

describe("api.multifactor.enable", () => {
  for (const provider of ["any", "duo", "google-authenticator", "guardian", "none"]) {
    test(`accepts provider "${provider}"`, () => {
      const { state, api } = setup();
      assert.equal(api.multifactor.enable(provider), api);
      assert.deepEqual(state.result.multifactor, {
        provider,
        allowRememberBrowser: false,
      });
    });
  }

  test("records allowRememberBrowser", () => {
    const { state, api } = setup();
    api.multifactor.enable("any", { allowRememberBrowser: true });
    assert.equal(state.result.multifactor.allowRememberBrowser, true);
  });

  for (const provider of ["sms", "", undefined, "ANY"]) {
    test(`refuses provider ${JSON.stringify(provider) ?? "undefined"} with TypeError`, () => {
      const { state, api } = setup();
      assert.throws(() => api.multifactor.enable(provider), TypeError);
      assert.equal(state.result.multifactor, null);
    });
  }
});

describe("api.redirect.sendUserTo", () => {
  test("records an absolute URL", () => {
    const { state, api } = setup();
    assert.equal(api.redirect.sendUserTo("https://app.example.com/consent"), api);
    assert.deepEqual(state.result.redirect, {
      url: "https://app.example.com/consent",
      action: "first",
    });
  });

  for (const url of ["/consent", "app.example.com/consent", "", 42]) {
    test(`refuses ${JSON.stringify(url)} with TypeError`, () => {
      const { state, api } = setup();
      assert.throws(() => api.redirect.sendUserTo(url), TypeError);
      assert.equal(state.result.redirect, null);
    });
  }

  test("merges query into the URL's existing parameters", () => {
    const { state, api } = setup();
    api.redirect.sendUserTo("https://app.example.com/consent?lang=fr&step=1", {
      query: { step: 2, user: "auth0|1" },
    });
    const url = new URL(state.result.redirect.url);
    assert.equal(url.origin + url.pathname, "https://app.example.com/consent");
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      lang: "fr",
      step: "2",
      user: "auth0|1",
    });
  });
});

describe("api.cache", () => {
  test("exposes exactly get, set and delete, frozen", () => {
    const { api } = setup();
    assert.deepEqual(Object.keys(api.cache).sort(), ["delete", "get", "set"]);
    assert.ok(Object.isFrozen(api.cache));
  });

  test("is backed by the execution's TriggerCache", () => {
    const { state, api } = setup();
    assert.equal(api.cache.set("k", "v", { ttl: 1000 }).type, "success");
    assert.deepEqual(state.cache.get("k"), { value: "v", expires_at: START + 1000 });
    assert.equal(state.cache.dirty, true);
    state.cache.set("other", "w");
    assert.equal(api.cache.get("other").value, "w");
  });

  test("is shared between the actions of one execution", () => {
    const { state, api } = setup();
    api.cache.set("k", "v");
    assert.equal(createPostLoginApi(state, "second").cache.get("k").value, "v");
  });
});
