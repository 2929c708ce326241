import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { actionVariables, variablePrefix } from "../../js/runtime/variables.js";

describe("per-Action variables", () => {
  test("the prefix is the Action's name in upper case, other characters as _", () => {
    assert.equal(variablePrefix("management-api-token"), "ACTION_MANAGEMENT_API_TOKEN__");
    assert.equal(variablePrefix("Add roles (v2)"), "ACTION_ADD_ROLES_V2__");
  });

  test("two Actions hold different values under the same name; the shared name is the fallback", () => {
    const env = {
      ACTION_A__API_KEY: "key-of-a",
      ACTION_B__API_KEY: "key-of-b",
      API_KEY: "shared-key",
      REGION: "eu",
    };
    assert.deepEqual(
      { ...actionVariables(env, "a", ["API_KEY", "REGION"]) },
      { API_KEY: "key-of-a", REGION: "eu" },
    );
    assert.deepEqual({ ...actionVariables(env, "b", ["API_KEY"]) }, { API_KEY: "key-of-b" });
    assert.deepEqual({ ...actionVariables(env, "c", ["API_KEY"]) }, { API_KEY: "shared-key" });
  });

  test("an Action sees only what it declares, never another Action's own variables", () => {
    const env = { ACTION_A__TOKEN: "a-only", OTHER: "x" };
    assert.deepEqual({ ...actionVariables(env, "b", ["TOKEN"]) }, {}, "b cannot read a's TOKEN");
    assert.deepEqual(
      { ...actionVariables(env, "b", ["ACTION_A__TOKEN"]) },
      { ACTION_A__TOKEN: "a-only" },
      "unless it declares that very name",
    );
    assert.deepEqual({ ...actionVariables(env, "a", []) }, {});
  });

  test("only strings; bindings and inherited names are not variables; the result is frozen", () => {
    const env = { ACTIONS_CACHE: { get() {} }, PORT: 8787, EMPTY: "" };
    const seen = actionVariables(env, "a", ["ACTIONS_CACHE", "PORT", "EMPTY", "toString", "constructor"]);
    assert.deepEqual({ ...seen }, { EMPTY: "" });
    assert.ok(Object.isFrozen(seen));
  });

  // Moved from the former pickStrings tests (event.test.js).
  test("picks only string values of the named keys; inherited names such as 'constructor' are ignored", () => {
    const env = {
      CLIENT_ID: "id",
      CLIENT_SECRET: "secret",
      OTHER: "not asked for",
      ACTIONS_CACHE: { get() {} },
      PORT: 8080,
      EMPTY: "",
    };
    const picked = actionVariables(env, "a", ["CLIENT_ID", "ACTIONS_CACHE", "PORT", "MISSING", "EMPTY"]);
    assert.deepEqual({ ...picked }, { CLIENT_ID: "id", EMPTY: "" });
    assert.ok(Object.isFrozen(actionVariables({ A: "a" }, "a", ["A"])));
    assert.deepEqual({ ...actionVariables({}, "a", ["constructor", "toString"]) }, {});
  });
});
