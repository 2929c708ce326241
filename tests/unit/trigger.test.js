import { afterEach, describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ACTION_FAILURE_REASON, EXECUTION_BUDGET_MS, executePostLogin } from "../../js/runtime/trigger.js";
import { MetadataBatch } from "../../js/runtime/api.js";
import { TriggerCache } from "../../js/runtime/cache.js";

const START = 1_700_000_000_000;
const now = () => START;

afterEach(() => {
  mock.restoreAll();
});

const input = () => ({
  user: {
    user_id: "auth0|1",
    app_metadata: { plan: "free" },
    user_metadata: {},
  },
});

const env = {
  CLIENT_ID: "client-id",
  CLIENT_SECRET: "client-secret",
  OTHER_SECRET: "other-secret",
  ON_TOKEN_ERROR: "deny",
  OTHER_SETTING: "other",
  ACTIONS_CACHE: {},
};

/** An action that records its calls (event, api) and then runs `body`. */
function action(name, body = () => {}, bindings = {}) {
  const calls = [];
  return {
    name,
    calls,
    ...bindings,
    async onExecutePostLogin(event, api) {
      calls.push({ event, api });
      await body(event, api);
    },
  };
}

function recorder() {
  const entries = [];
  return {
    entries,
    log: (level, event, fields) => entries.push({ level, event, fields }),
  };
}

function run(actions, { log = recorder().log, budgetMs, cache } = {}) {
  return executePostLogin({
    actions,
    input: input(),
    env,
    cache: cache ?? new TriggerCache({ now }),
    log,
    ...(budgetMs === undefined ? {} : { budgetMs }),
  });
}

describe("executePostLogin", () => {
  // The contract the Rust Action relies on to decode its settings once per isolate
  // (src/isolate.rs `SameObjects`, tested from that side in tests/isolate.rs).
  test("an Action gets the same secrets and configuration objects while the environment lives", async () => {
    const a = action("a", () => {}, { secrets: ["CLIENT_SECRET"], configuration: ["ON_TOKEN_ERROR"] });
    await run([a]);
    await run([a]);
    const [first, second] = a.calls.map((call) => call.event);
    assert.equal(first.secrets, second.secrets, "the same secrets object");
    assert.equal(first.configuration, second.configuration, "the same configuration object");
    assert.deepEqual({ ...first.secrets }, { CLIENT_SECRET: "client-secret" });
    const otherEnv = { ...env, CLIENT_SECRET: "rotated" };
    await executePostLogin({
      actions: [a],
      input: input(),
      env: otherEnv,
      cache: new TriggerCache({ now }),
      log: () => {},
    });
    const third = a.calls[2].event;
    assert.notEqual(third.secrets, first.secrets, "a new environment hands out new objects");
    assert.equal(third.secrets.CLIENT_SECRET, "rotated");
  });

  test("two Actions get different values for one secret name through ACTION_<NAME>__ variables", async () => {
    const first = action("first-action", () => {}, { secrets: ["CLIENT_SECRET"] });
    const second = action("second", () => {}, { secrets: ["CLIENT_SECRET"] });
    const perAction = { ...env, ACTION_FIRST_ACTION__CLIENT_SECRET: "first-only" };
    await executePostLogin({
      actions: [first, second],
      input: input(),
      env: perAction,
      cache: new TriggerCache({ now }),
      log: () => {},
    });
    assert.equal(first.calls[0].event.secrets.CLIENT_SECRET, "first-only");
    assert.equal(second.calls[0].event.secrets.CLIENT_SECRET, "client-secret", "the shared value");
    assert.ok(!Object.hasOwn(second.calls[0].event.secrets, "ACTION_FIRST_ACTION__CLIENT_SECRET"));
  });

  test("an Action may keep work alive through the waitUntil it is given", async () => {
    const kept = [];
    const work = Promise.resolve("refreshed");
    const a = action("a");
    a.onExecutePostLogin = async (_event, _api, waitUntil) => waitUntil(work);
    await executePostLogin({
      actions: [a],
      input: input(),
      env,
      cache: new TriggerCache({ now }),
      log: () => {},
      waitUntil: (p) => kept.push(p),
    });
    assert.deepEqual(kept, [work]);
  });

  test("a login that fails after a redirect was asked for does not redirect", async () => {
    const redirecting = action("redirecting", (_event, api) => {
      api.redirect.sendUserTo("https://example.com/step");
      throw new Error("boom");
    });
    const result = await run([redirecting]);
    assert.equal(result.access.denied, true);
    assert.equal(result.error.code, "action_failed");
    assert.equal(result.redirect, null);
    assert.equal(result.state, undefined, "nothing to continue");
  });

  test("the default budget is Auth0's 20 s", () => {
    assert.equal(EXECUTION_BUDGET_MS, 20_000);
  });

  test("runs the actions in order, each once", async () => {
    const order = [];
    const actions = ["a", "b", "c"].map((name) => action(name, () => order.push(name)));
    const result = await run(actions);
    assert.deepEqual(order, ["a", "b", "c"]);
    for (const a of actions) assert.equal(a.calls.length, 1);
    assert.equal(result.access.denied, false);
    assert.equal(result.error, undefined);
  });

  test("waits for an async action before starting the next", async () => {
    const order = [];
    const first = action("first", async () => {
      await Promise.resolve();
      order.push("first done");
    });
    const second = action("second", () => order.push("second started"));
    await run([first, second]);
    assert.deepEqual(order, ["first done", "second started"]);
  });

  test("each action sees only its own secrets and configuration", async () => {
    const tokenAction = action("token", () => {}, {
      secrets: ["CLIENT_ID", "CLIENT_SECRET"],
      configuration: ["ON_TOKEN_ERROR"],
    });
    const otherAction = action("other", () => {}, {
      secrets: ["OTHER_SECRET"],
      configuration: ["OTHER_SETTING"],
    });
    const bare = action("bare");
    await run([tokenAction, otherAction, bare]);

    const seen = (a) => {
      const { secrets, configuration } = a.calls[0].event;
      return { secrets: { ...secrets }, configuration: { ...configuration } };
    };
    assert.deepEqual(seen(tokenAction), {
      secrets: { CLIENT_ID: "client-id", CLIENT_SECRET: "client-secret" },
      configuration: { ON_TOKEN_ERROR: "deny" },
    });
    assert.deepEqual(seen(otherAction), {
      secrets: { OTHER_SECRET: "other-secret" },
      configuration: { OTHER_SETTING: "other" },
    });
    assert.deepEqual(seen(bare), { secrets: {}, configuration: {} });
  });

  test("actions receive their own writable event built from the input", async () => {
    const a = action("a", (event) => {
      event.user.app_metadata.plan = "changed by a";
    });
    const b = action("b");
    await run([a, b]);
    assert.equal(a.calls[0].event.user.user_id, "auth0|1");
    assert.equal(a.calls[0].event.user.app_metadata.plan, "changed by a");
    assert.equal(b.calls[0].event.user.app_metadata.plan, "free");
  });

  test("a deny stops the later actions", async () => {
    const denier = action("denier", (_event, api) => api.access.deny("no"));
    const later = action("later");
    const result = await run([action("before"), denier, later]);
    assert.equal(later.calls.length, 0);
    assert.deepEqual(result.access, { denied: true, reason: "no", action: "denier" });
    assert.equal(result.error, undefined);
  });

  test("an action that throws fails the login", async () => {
    const { entries, log } = recorder();
    const later = action("later");
    const thrower = action("thrower", () => {
      throw new Error("boom");
    });
    const result = await run([action("ok"), thrower, later], { log });
    assert.deepEqual(result.access, {
      denied: true,
      reason: ACTION_FAILURE_REASON,
      action: "thrower",
    });
    assert.deepEqual(result.error, { code: "action_failed", action: "thrower" });
    assert.equal(later.calls.length, 0);
    const failure = entries.find((e) => e.event === "action_failed");
    assert.ok(failure, "no action_failed log");
    assert.equal(failure.level, "error");
    assert.equal(failure.fields.action, "thrower");
    assert.match(failure.fields.error, /boom/);
  });

  test("an action that throws synchronously (non-async) fails the login too", async () => {
    const thrower = {
      name: "sync-thrower",
      onExecutePostLogin() {
        throw new TypeError("sync");
      },
    };
    const result = await run([thrower]);
    assert.deepEqual(result.error, { code: "action_failed", action: "sync-thrower" });
  });

  test("the user-facing reason never carries the error message", async () => {
    const thrower = action("thrower", () => {
      throw new Error("secret detail: token=abc");
    });
    const result = await run([thrower]);
    assert.doesNotMatch(JSON.stringify(result), /secret detail|token=abc/);
  });

  test("no metadata is applied when an action throws", async () => {
    const setter = action("setter", (_event, api) => {
      api.user.setAppMetadata("plan", "pro");
      api.user.setUserMetadata("theme", "dark");
    });
    const thrower = action("thrower", () => {
      throw new Error("boom");
    });
    const result = await run([setter, thrower]);
    assert.deepEqual(result.user, { app_metadata: null, user_metadata: null });
  });

  test("an action that never resolves → execution_timeout within the budget", async () => {
    const { entries, log } = recorder();
    const hang = action("hang", () => new Promise(() => {}));
    const started = performance.now();
    const result = await run([action("ok"), hang], { log, budgetMs: 50 });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
    assert.ok(elapsed >= 40, `returned after only ${elapsed} ms`);
    assert.deepEqual(result.error, { code: "execution_timeout", action: "hang" });
    assert.equal(result.access.denied, true);
    assert.equal(result.access.reason, ACTION_FAILURE_REASON);
    const timeout = entries.find((e) => e.event === "execution_timeout");
    assert.ok(timeout, "no execution_timeout log");
    assert.equal(timeout.level, "error");
    assert.equal(timeout.fields.action, "hang");
    assert.equal(timeout.fields.budget_ms, 50);
  });

  test("no further action starts after the budget is exhausted", async () => {
    const slow = action("slow", () => sleep(100));
    const after = action("after");
    const result = await run([slow, after], { budgetMs: 30 });
    assert.equal(result.error?.code, "execution_timeout");
    await sleep(150); // let the slow action finish
    assert.equal(after.calls.length, 0, "a later action ran after the timeout");
  });

  test("metadata from several actions is applied once, at the end", async () => {
    const applySpy = mock.method(MetadataBatch.prototype, "apply");
    let seenDuringSecond;
    const first = action("first", (_event, api) => {
      api.user.setAppMetadata("plan", "pro");
      api.user.setUserMetadata("theme", "light");
    });
    const second = action("second", (event, api) => {
      seenDuringSecond = event.user.app_metadata;
      api.user.setAppMetadata("seats", 5);
      api.user.setUserMetadata("theme", "dark");
    });
    const result = await run([first, second]);
    assert.equal(applySpy.mock.callCount(), 1);
    assert.deepEqual(seenDuringSecond, { plan: "free" });
    assert.deepEqual(result.user, {
      app_metadata: { plan: "pro", seats: 5 },
      user_metadata: { theme: "dark" },
    });
  });

  test("metadata set before a deny is applied", async () => {
    const first = action("first", (_event, api) => api.user.setAppMetadata("flag", true));
    const denier = action("denier", (_event, api) => api.access.deny("no"));
    const result = await run([first, denier]);
    assert.deepEqual(result.user.app_metadata, { plan: "free", flag: true });
  });

  test("actions share one cache for the execution", async () => {
    const cache = new TriggerCache({ now });
    let read;
    const writer = action("writer", (_event, api) => api.cache.set("k", "v"));
    const reader = action("reader", (_event, api) => {
      read = api.cache.get("k");
    });
    await run([writer, reader], { cache });
    assert.equal(read?.value, "v");
    assert.equal(cache.dirty, true);
  });

  test("an empty action list allows the login", async () => {
    const result = await run([]);
    assert.equal(result.access.denied, false);
    assert.deepEqual(result.user, { app_metadata: null, user_metadata: null });
  });
});
