import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { InvalidEventError, buildEvent, validateEventInput } from "../../js/runtime/event.js";
import { MetadataBatch } from "../../js/runtime/api.js";

/** A realistic post-login v3 event as a caller sends it (no secrets, no configuration). */
function realisticEvent() {
  return {
    user: {
      user_id: "auth0|64f1c2d3e4b5a6c7d8e9f0a1",
      email: "jane@example.com",
      email_verified: true,
      name: "Jane Doe",
      nickname: "jane",
      given_name: "Jane",
      family_name: "Doe",
      picture: "https://example.com/jane.png",
      created_at: "2023-09-01T10:00:00.000Z",
      updated_at: "2024-01-15T08:30:00.000Z",
      app_metadata: { plan: "pro", roles: ["admin"] },
      user_metadata: { locale: "fr" },
      identities: [
        {
          provider: "auth0",
          user_id: "64f1c2d3e4b5a6c7d8e9f0a1",
          connection: "Username-Password-Authentication",
          isSocial: false,
        },
      ],
      multifactor: [],
    },
    client: { client_id: "abc123", name: "My SPA", metadata: {} },
    connection: {
      id: "con_123",
      name: "Username-Password-Authentication",
      strategy: "auth0",
      metadata: {},
    },
    request: {
      ip: "203.0.113.7",
      method: "POST",
      hostname: "login.example.com",
      user_agent: "Mozilla/5.0",
      language: "fr-FR",
      query: { scope: "openid profile" },
      body: {},
      geoip: { countryCode: "FR", cityName: "Paris" },
    },
    tenant: { id: "example" },
    transaction: {
      id: "tx_1",
      protocol: "oidc-basic-profile",
      requested_scopes: ["openid", "profile"],
      metadata: {},
    },
    authentication: {
      methods: [{ name: "pwd", timestamp: "2024-01-15T08:30:00.000Z" }],
    },
    authorization: { roles: ["admin"] },
    organization: {
      id: "org_1",
      name: "acme",
      display_name: "Acme",
      metadata: {},
    },
    stats: { logins_count: 3 },
    resource_server: { identifier: "https://api.example.com" },
    session: { id: "sess_1" },
  };
}

const minimalEvent = () => ({ user: { user_id: "auth0|1" } });

/** Asserts validateEventInput refuses `body` with an InvalidEventError whose message matches. */
function assertRejected(body, messagePattern) {
  assert.throws(
    () => validateEventInput(body),
    (error) => {
      assert.ok(error instanceof InvalidEventError, `got ${error}`);
      assert.equal(error.name, "InvalidEventError");
      assert.match(error.message, messagePattern);
      return true;
    },
  );
}

/** Applies a mutation to a fresh realistic event. */
function withChange(change) {
  const event = realisticEvent();
  change(event);
  return event;
}

afterEach(() => {
  delete Object.prototype.polluted;
});

describe("validateEventInput: accepted events", () => {
  test("accepts a realistic v3 event and returns it as is", () => {
    const event = realisticEvent();
    assert.equal(validateEventInput(event), event);
  });

  test("accepts a minimal event with only user.user_id", () => {
    assert.doesNotThrow(() => validateEventInput(minimalEvent()));
  });

  test("accepts undocumented fields nested inside a known object", () => {
    const event = withChange((e) => {
      e.user.custom_thing = [1, 2];
      e.client.extra = null;
    });
    assert.doesNotThrow(() => validateEventInput(event));
  });
});

describe("validateEventInput: rejected bodies", () => {
  for (const [label, body] of [
    ["null", null],
    ["a string", "hello"],
    ["a number", 42],
    ["a boolean", true],
    ["an array", [{ user: { user_id: "x" } }]],
  ]) {
    test(`rejects ${label} as the body`, () => {
      assertRejected(body, /JSON object/);
    });
  }

  for (const field of ["secrets", "configuration"]) {
    test(`rejects a body carrying "${field}"`, () => {
      const event = { ...realisticEvent(), [field]: { CLIENT_SECRET: "x" } };
      assertRejected(event, new RegExp(`"${field}"`));
    });

    test(`rejects "${field}" even when it is not an object`, () => {
      assertRejected({ ...minimalEvent(), [field]: null }, new RegExp(`"${field}"`));
    });
  }

  test("rejects an unknown top-level field, naming it", () => {
    assertRejected({ ...minimalEvent(), usr: {} }, /unknown field "usr"/);
  });

  test("rejects a '__proto__' top-level field from JSON.parse", () => {
    const body = JSON.parse('{"user":{"user_id":"x"},"__proto__":{"polluted":1}}');
    assertRejected(body, /"__proto__"/);
  });

  for (const [label, value] of [
    ["a string", "abc"],
    ["null", null],
    ["an array", []],
    ["a number", 1],
  ]) {
    test(`rejects a top-level object field that is ${label}, naming it`, () => {
      assertRejected({ ...minimalEvent(), client: value }, /"client" must be an object/);
    });
  }

  test("rejects a non-object user, naming it", () => {
    assertRejected({ user: "auth0|1" }, /"user" must be an object/);
  });

  test("rejects an event without user", () => {
    assertRejected({ client: { client_id: "abc" } }, /"user" is required/);
    assertRejected({}, /"user" is required/);
  });

  test("rejects a user without user_id", () => {
    assertRejected({ user: { email: "a@b.c" } }, /"user\.user_id"/);
  });

  test("rejects an empty user.user_id", () => {
    assertRejected({ user: { user_id: "" } }, /"user\.user_id"/);
  });

  for (const [label, value] of [
    ["a number", 123],
    ["null", null],
    ["an object", { id: "x" }],
  ]) {
    test(`rejects a user.user_id that is ${label}`, () => {
      assertRejected({ user: { user_id: value } }, /"user\.user_id"/);
    });
  }
});

describe("validateEventInput: field types", () => {
  const cases = [
    [
      "user.email_verified",
      (e) => (e.user.email_verified = "yes"),
      /"user\.email_verified" must be a boolean, got string/,
    ],
    ["user.email", (e) => (e.user.email = 5), /"user\.email" must be a string, got number/],
    ["user.app_metadata", (e) => (e.user.app_metadata = []), /"user\.app_metadata".*object.*array/],
    ["user.user_metadata", (e) => (e.user.user_metadata = null), /"user\.user_metadata".*null/],
    ["user.identities", (e) => (e.user.identities = {}), /"user\.identities" must be an array, got object/],
    [
      "stats.logins_count",
      (e) => (e.stats.logins_count = "3"),
      /"stats\.logins_count" must be a number, got string/,
    ],
    ["client.client_id", (e) => (e.client.client_id = ["abc"]), /"client\.client_id".*string.*array/],
    ["request.query", (e) => (e.request.query = "scope=openid"), /"request\.query".*object.*string/],
    [
      "transaction.requested_scopes",
      (e) => (e.transaction.requested_scopes = "openid"),
      /"transaction\.requested_scopes".*array.*string/,
    ],
    ["authorization.roles", (e) => (e.authorization.roles = null), /"authorization\.roles".*array.*null/],
    [
      "resource_server.identifier",
      (e) => (e.resource_server.identifier = 1),
      /"resource_server\.identifier".*string.*number/,
    ],
  ];
  for (const [field, change, pattern] of cases) {
    test(`rejects a wrong type for ${field}, naming the field`, () => {
      assertRejected(withChange(change), pattern);
    });
  }
});

describe("buildEvent", () => {
  test("adds the defaults Auth0 always provides", () => {
    const event = buildEvent(validateEventInput(minimalEvent()));
    assert.deepEqual(event.user.app_metadata, {});
    assert.deepEqual(event.user.user_metadata, {});
    assert.deepEqual(event.user.identities, []);
    assert.deepEqual(event.stats, { logins_count: 0 });
    assert.equal(event.user.user_id, "auth0|1");
  });

  test("keeps the values the caller sent instead of the defaults", () => {
    const input = realisticEvent();
    const event = buildEvent(validateEventInput(input));
    assert.deepEqual(event.user.app_metadata, { plan: "pro", roles: ["admin"] });
    assert.deepEqual(event.user.user_metadata, { locale: "fr" });
    assert.equal(event.user.identities.length, 1);
    assert.deepEqual(event.stats, { logins_count: 3 });
    assert.equal(event.client.name, "My SPA");
  });

  test("sets secrets and configuration", () => {
    const secrets = { CLIENT_SECRET: "s3cret" };
    const configuration = { ON_TOKEN_ERROR: "deny" };
    const event = buildEvent(minimalEvent(), { secrets, configuration });
    assert.deepEqual(event.secrets, { CLIENT_SECRET: "s3cret" });
    assert.deepEqual(event.configuration, { ON_TOKEN_ERROR: "deny" });
  });

  test("secrets and configuration default to empty objects", () => {
    const event = buildEvent(minimalEvent());
    assert.deepEqual(event.secrets, {});
    assert.deepEqual(event.configuration, {});
  });

  test("an Action may write to its event; the input is untouched", () => {
    const input = realisticEvent();
    const before = structuredClone(input);
    const event = buildEvent(input, { secrets: { A: "1" } });
    event.user.app_metadata.plan = "free";
    event.user.identities.push({});
    event.request.geoip.countryCode = "US";
    event.extra = true;
    assert.equal(event.user.app_metadata.plan, "free");
    assert.deepEqual(input, before);
  });

  test("two events built from one input share no object", () => {
    const input = realisticEvent();
    const first = buildEvent(input, { secrets: { A: "1" } });
    const second = buildEvent(input, { secrets: { A: "1" } });
    first.user.app_metadata.plan = "changed";
    first.request.geoip.countryCode = "XX";
    assert.equal(second.user.app_metadata.plan, "pro");
    assert.notEqual(second.request.geoip.countryCode, "XX");
    assert.notEqual(first.user, second.user);
  });

  test("the defaults are fresh objects per event", () => {
    const input = minimalEvent();
    const first = buildEvent(input);
    first.user.app_metadata.x = 1;
    first.stats.logins_count = 9;
    const second = buildEvent(input);
    assert.deepEqual(second.user.app_metadata, {});
    assert.deepEqual(second.stats, { logins_count: 0 });
    assert.equal(input.user.app_metadata, undefined);
  });

  test("secrets and configuration are the given (frozen) objects, read-only properties", () => {
    const secrets = Object.freeze({ A: "1" });
    const configuration = Object.freeze({ B: "2" });
    const event = buildEvent(realisticEvent(), { secrets, configuration });
    assert.equal(event.secrets, secrets);
    assert.equal(event.configuration, configuration);
    assert.throws(() => {
      "use strict";
      event.secrets = {};
    }, TypeError);
    assert.equal(event.secrets, secrets);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(event))).includes("secrets"), true);
  });

  test("a transaction gets the metadata object Auth0 always provides", () => {
    const event = buildEvent({ user: { user_id: "x" }, transaction: { id: "t" } });
    assert.deepEqual(event.transaction.metadata, {});
  });

  test("pending transaction, session and refresh token changes are reflected", () => {
    const input = {
      user: { user_id: "x" },
      session: { id: "s", metadata: { a: "1" } },
      refresh_token: { id: "r" },
    };
    const event = buildEvent(
      input,
      {},
      {
        transaction: { metadata: { step: 2 } },
        session: { metadata: { b: "2" }, cookieMode: "non-persistent" },
        refreshToken: { metadata: { c: "3" } },
      },
    );
    assert.deepEqual(event.transaction.metadata, { step: 2 });
    assert.deepEqual(event.session.metadata, { b: "2" });
    assert.deepEqual(event.session.cookie, { mode: "non-persistent" });
    assert.deepEqual(event.refresh_token.metadata, { c: "3" });
    assert.equal(input.transaction, undefined);
  });

  test("a '__proto__' key in user.app_metadata does not pollute Object.prototype", () => {
    const input = JSON.parse('{"user":{"user_id":"x","app_metadata":{"__proto__":{"polluted":"yes"}}}}');
    validateEventInput(input);
    const event = buildEvent(input);
    assert.equal({}.polluted, undefined);
    assert.ok(Object.hasOwn(event.user.app_metadata, "__proto__"));
    assert.equal(Object.getPrototypeOf(event.user.app_metadata), Object.prototype);

    const batch = new MetadataBatch(event.user);
    batch.set("app_metadata", "api.user.setAppMetadata", "plan", "pro");
    const applied = batch.apply();
    assert.equal({}.polluted, undefined);
    assert.deepEqual(Object.keys(applied.app_metadata).sort(), ["__proto__", "plan"]);
    assert.equal(Object.getPrototypeOf(applied.app_metadata), Object.prototype);
  });

  test("setting a '__proto__' metadata key does not pollute Object.prototype", () => {
    const event = buildEvent(minimalEvent());
    const batch = new MetadataBatch(event.user);
    batch.set("user_metadata", "api.user.setUserMetadata", "__proto__", {
      polluted: "yes",
    });
    const applied = batch.apply();
    assert.equal({}.polluted, undefined);
    assert.ok(Object.hasOwn(applied.user_metadata, "__proto__"));
  });
});
