// js/runtime/tenant.js: api.groups answered by the Rust Action's Management API client.
// First the adapter over a fake client (arguments, laziness, error hygiene), then the real
// wiring: the login handler, the Node build of the wasm Action and the tenant simulator
// (tests/support/inprocess.js), where the simulator counts token and group requests.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createPostLoginApi, MetadataBatch, emptyResult } from "../../js/runtime/api.js";
import { TriggerCache } from "../../js/runtime/cache.js";
import { managementTenant, managementTenantSource, scrub, TenantDataError } from "../../js/runtime/tenant.js";
import { bindPostLoginActions } from "../../js/actions.js";
import { createStack, leaks, restoreConsole } from "../support/inprocess.js";
import { loginEvent } from "../support/events.js";

const JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtMm1AY2xpZW50cyIsImF1ZCI6Imh0dHBzOi8veCJ9.c2lnbmF0dXJlLXBhcnQ";
const SECRET = "cs-very-secret-value-123";

function fakeClient(overrides = {}) {
  const calls = [];
  return {
    calls,
    client: {
      async getUserGroups(...args) {
        calls.push(["getUserGroups", ...args]);
        return { groups: [{ id: "grp_1", name: "admins" }], next: "grp_2" };
      },
      async hasGroupMembership(...args) {
        calls.push(["hasGroupMembership", ...args]);
        return { memberships: { admins: { is_member: false } } };
      },
      ...overrides,
    },
  };
}

describe("managementTenant", () => {
  test("forwards each read to the client, built once and only when first needed", async () => {
    const { calls, client } = fakeClient();
    let opened = 0;
    const tenant = managementTenant(() => (opened++, client));
    assert.equal(opened, 0, "no client for a login that reads nothing");
    assert.deepEqual(await tenant.getUserGroups("auth0|1", { from: "grp_1", take: 5 }), {
      groups: [{ id: "grp_1", name: "admins" }],
      next: "grp_2",
    });
    await tenant.getUserGroups("auth0|1");
    await tenant.hasGroupMembership("auth0|1", "con_1", undefined, ["admins"]);
    assert.equal(opened, 1);
    assert.deepEqual(calls, [
      ["getUserGroups", "auth0|1", "grp_1", 5],
      ["getUserGroups", "auth0|1", undefined, undefined],
      ["hasGroupMembership", "auth0|1", "con_1", undefined, ["admins"]],
    ]);
  });

  test("a failure rejects with the method and reason, scrubbed of tokens and secrets", async () => {
    const leaky = new Error(
      `Management API 401: Invalid token ${JWT} (Authorization: Bearer abc.def) ${SECRET}`,
    );
    const { client } = fakeClient({
      getUserGroups: async () => {
        throw leaky;
      },
      hasGroupMembership: () => Promise.reject("Bearer raw-token-string"),
    });
    const tenant = managementTenant(() => client, { secrets: () => [SECRET, "short"] });
    const error = await tenant.getUserGroups("auth0|1").catch((e) => e);
    assert.ok(error instanceof TenantDataError);
    assert.match(
      error.message,
      /^api\.groups\.getUserGroups: the Management API request failed: Management API 401/,
    );
    for (const secret of [JWT, "abc.def", SECRET]) assert.ok(!error.message.includes(secret), secret);
    const other = await tenant.hasGroupMembership("auth0|1", undefined, undefined, ["a"]).catch((e) => e);
    assert.equal(
      other.message,
      "api.groups.hasGroupMembership: the Management API request failed: Bearer [redacted]",
    );
    // A client that cannot be built (bad secrets) is a rejection too, not a synchronous throw.
    const broken = managementTenant(
      () => {
        throw new Error(`secret CLIENT_SECRET: is missing ${SECRET}`);
      },
      { secrets: () => [SECRET] },
    );
    await assert.rejects(broken.getUserGroups("auth0|1"), {
      name: "TenantDataError",
      message:
        "api.groups.getUserGroups: the Management API request failed: secret CLIENT_SECRET: is missing [redacted]",
    });
  });

  test("scrub keeps ordinary text and short secret values", () => {
    assert.equal(
      scrub("Management API 404: The user does not exist.", ["user"]),
      "Management API 404: The user does not exist.",
    );
    assert.equal(scrub("x".repeat(600)).length, 500);
  });

  test("api.groups hands the tenant the user, connection and organization of the event", async () => {
    const { calls, client } = fakeClient();
    const input = loginEvent("auth0|7", {
      organization: { id: "org_1", name: "o", display_name: "O", metadata: {} },
    });
    const state = {
      result: emptyResult(),
      metadata: new MetadataBatch(input.user),
      cache: new TriggerCache(),
      input,
      tenant: managementTenant(() => client),
    };
    const api = createPostLoginApi(state, "a", structuredClone(input));
    await api.groups.getUserGroups({ take: 2 });
    await api.groups.hasGroupMembership(["admins", "grp_9"]);
    assert.deepEqual(calls, [
      ["getUserGroups", "auth0|7", undefined, 2],
      ["hasGroupMembership", "auth0|7", "con_1", "org_1", ["admins", "grp_9"]],
    ]);
  });
});

describe("managementTenantSource under the Rust binding's panic guard", () => {
  test(
    "a read in flight when the module panics is rejected, not left pending",
    { timeout: 5000 },
    async () => {
      const panics = { count: 0, message: null, listener: null };
      const finished = Promise.resolve();
      const wasm = {
        panicState: () => panics,
        finishedLogin: () => finished,
        scheduleReinit: () => {},
        onExecutePostLogin: () => finished,
        secretNames: () => [],
        configurationNames: () => [],
      };
      const [rust] = bindPostLoginActions(wasm);
      // A client whose read never settles, as a call whose wasm instance trapped in a microtask,
      // through the handler's wiring (managementTenantSource hands the binding's guard over).
      class PendingManagementApi {
        getUserGroups() {
          return new Promise(() => {});
        }
      }
      const tenant = managementTenantSource(PendingManagementApi, rust)({}, new TriggerCache());
      const read = tenant.getUserGroups("auth0|u1");
      panics.listener("index out of bounds");
      await assert.rejects(read, (error) => {
        assert.ok(error instanceof TenantDataError);
        assert.match(error.message, /api\.groups\.getUserGroups: .*panicked: index out of bounds/);
        return true;
      });
    },
  );
});

describe("api.groups through the login handler, the wasm Action and the simulator", async () => {
  const stack = await createStack({ env: { ACTIONS_CACHE_SYNC_SECONDS: "0" } });
  after(async () => {
    stack.probe.onExecute = null;
    await stack.close();
    restoreConsole();
  });
  const connection = { id: "con_database00001", name: "Username-Password-Authentication", strategy: "auth0" };
  const login = async (probe, extra = {}) => {
    stack.probe.onExecute = probe;
    const body = JSON.stringify(loginEvent("auth0|user-1", { connection, ...extra }));
    return stack.send(await stack.signedRequest(body));
  };

  test("reads page by page and checks membership with the one cached token", async () => {
    stack.tenant.sim.reset();
    const seen = {};
    const first = await login(async (_event, api) => {
      seen.page1 = await api.groups.getUserGroups({ take: 2 });
      seen.page2 = await api.groups.getUserGroups({ take: 2, from: seen.page1.next });
      seen.all = await api.groups.getUserGroups();
      seen.membership = await api.groups.hasGroupMembership([
        "admins",
        "staff",
        "grp_admins000000002",
        "nobody",
      ]);
    });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.access.denied, false, first.text);
    assert.deepEqual(
      seen.page1.groups.map((g) => g.id),
      ["grp_staff00000000001", "grp_admins000000001"],
    );
    assert.equal(seen.page1.next, "grp_admins000000002");
    assert.deepEqual(
      seen.page2.groups.map((g) => g.id),
      ["grp_admins000000002"],
    );
    assert.equal(seen.page2.next, undefined);
    assert.equal(seen.all.groups.length, 3);
    assert.equal(seen.all.groups[0].tenant_name, "simulator");
    assert.deepEqual(seen.membership, {
      memberships: {
        // Only the admins group of the login's connection counts.
        admins: {
          is_member: true,
          matches: [{ id: "grp_admins000000001", name: "admins", group_type: "connection" }],
        },
        staff: {
          is_member: true,
          matches: [{ id: "grp_staff00000000001", name: "staff", group_type: "tenant" }],
        },
        grp_admins000000002: { is_member: false },
        nobody: { is_member: false },
      },
    });

    // Another login and more reads: still the same token, held in isolate memory.
    const second = await login(async (_event, api) => {
      await api.groups.getUserGroups({ take: 1 });
      await api.groups.hasGroupMembership(["staff"]);
    });
    assert.equal(second.status, 200, second.text);
    assert.equal(stack.tenant.sim.stats.tokenRequests, 1, "one token request for every call of both logins");
    assert.equal(stack.tenant.sim.stats.groupRequests, 6, "3 + 1 + 1 + 1 group pages");
    assert.equal(stack.tenant.sim.issuedTokens.length, 1);
  });

  test("a Management API failure fails the Action with a clear reason and no token in it", async () => {
    stack.tenant.sim.reset();
    let error;
    const reply = await login(async (_event, api) => {
      error = await api.groups.getUserGroups({ from: "grp_unknown" }).catch((e) => e);
    });
    assert.equal(reply.status, 200, reply.text);
    assert.ok(error instanceof Error, String(error));
    assert.equal(error.name, "TenantDataError");
    assert.match(error.message, /^api\.groups\.getUserGroups: the Management API request failed: .*400/);
    assert.match(error.message, /invalid 'from'/);
    for (const token of stack.tenant.issued) assert.ok(!error.message.includes(token));
    assert.ok(!error.message.includes(stack.env.CLIENT_SECRET));

    // Uncaught, the rejection fails the login as any Action error does in Auth0.
    const failed = await login((_event, api) => api.groups.getUserGroups({ from: "grp_unknown" }));
    assert.equal(failed.status, 200, failed.text);
    assert.equal(failed.body.access.denied, true);
    assert.equal(failed.body.access.action, "probe");
    assert.equal(failed.body.error.code, "action_failed");
    assert.equal(stack.tenant.sim.stats.tokenRequests, 0, "the token from the first test is still held");
    assert.deepEqual(leaks, [], "no log line or response held a secret or a token");
  });
});
