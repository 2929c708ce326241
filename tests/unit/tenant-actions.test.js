// The Actions of a Deploy CLI export: read in the export's order, bundled for Workers (refused,
// naming the Action, when they cannot run there), and run unchanged by the runtime.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import {
  ExportError,
  RUST_ACTION,
  buildTenantActions,
  readExport,
} from "../../scripts/lib/tenant-actions.js";
import { bindExportedActions } from "../../js/actions.js";
import { executePostLogin } from "../../js/runtime/trigger.js";
import { TriggerCache } from "../../js/runtime/cache.js";
import { root } from "../../scripts/lib/setup.js";

const EXAMPLE = join(root, "examples", "deploy-cli-export");
const dirs = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const temp = (prefix) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

/** A Deploy CLI export in a temporary folder: `actions` maps a name to { code, json overrides }. */
function exportWith(actions, postLogin = Object.keys(actions)) {
  const dir = temp("a0-export-");
  mkdirSync(join(dir, "triggers"), { recursive: true });
  for (const [name, { code, codeFile, ...json }] of Object.entries(actions)) {
    mkdirSync(join(dir, "actions", name), { recursive: true });
    writeFileSync(join(dir, "actions", name, "code.js"), code);
    writeFileSync(
      join(dir, "actions", `${name}.json`),
      JSON.stringify({
        name,
        code: codeFile ?? `./actions/${name}/code.js`,
        dependencies: [],
        secrets: [],
        supported_triggers: [{ id: "post-login", version: "v3" }],
        ...json,
      }),
    );
  }
  const bindings = postLogin.map((action_name) => ({ action_name, display_name: action_name }));
  writeFileSync(join(dir, "triggers", "triggers.json"), JSON.stringify({ "post-login": bindings }));
  return dir;
}

const ALLOW = "exports.onExecutePostLogin = async () => {};";

describe("reading a Deploy CLI export", () => {
  test("the example: bindings in triggers.json's order, the Rust Action where it is named, secret names only", () => {
    const bindings = readExport(EXAMPLE);
    assert.deepEqual(
      bindings.map((b) => b.name),
      ["Block suspended users", RUST_ACTION, "Add plan claim"],
    );
    assert.equal(bindings[1].rust, true);
    assert.deepEqual(bindings[2].secrets, ["CLAIM_NAMESPACE"]);
    assert.deepEqual(bindings[2].dependencies, [{ name: "ms", version: "2.1.3" }]);
  });

  for (const [what, make, message] of [
    [
      "a binding to an Action the export lacks",
      () => exportWith({ a: { code: ALLOW } }, ["a", "b"]),
      /binds "b".*no such Action/,
    ],
    [
      "an Action bound twice",
      () => exportWith({ a: { code: ALLOW } }, ["a", "a"]),
      /binds "a" to post-login twice/,
    ],
    [
      "an Action for another trigger",
      () =>
        exportWith({
          a: { code: ALLOW, supported_triggers: [{ id: "credentials-exchange", version: "v2" }] },
        }),
      /"a" does not support post-login \(credentials-exchange@v2\)/,
    ],
    [
      "an Action whose code file is missing",
      () => exportWith({ a: { code: ALLOW, codeFile: "./actions/a/gone.js" } }),
      /"a": its code file .\/actions\/a\/gone.js is missing/,
    ],
    ["an export without triggers.json", () => temp("a0-empty-"), /no triggers\/triggers.json/],
  ]) {
    test(`refuses ${what}, naming it`, () => {
      assert.throws(
        () => readExport(make()),
        (error) => error instanceof ExportError && message.test(error.message),
      );
    });
  }
});

describe("building the export's Actions for a Worker", () => {
  test("an Action that needs a Node built-in is refused at build time, naming it", async () => {
    const dir = exportWith({
      "Reads files": { code: 'const fs = require("fs");\nexports.onExecutePostLogin = async () => fs;' },
    });
    await assert.rejects(
      buildTenantActions(dir, temp("a0-build-")),
      (error) =>
        error instanceof ExportError &&
        /Action "Reads files" cannot run on Workers: .*"fs"/.test(error.message),
    );
  });

  test("an Action without onExecutePostLogin is refused when bound, naming it", () => {
    assert.throws(
      () => bindExportedActions([{ name: "Empty", module: {} }], []),
      /Action "Empty": code.js does not export onExecutePostLogin/,
    );
  });

  test("the Rust Action runs first when the export does not place it", () => {
    const rust = [{ name: RUST_ACTION, onExecutePostLogin() {} }];
    const order = bindExportedActions([{ name: "a", module: { async onExecutePostLogin() {} } }], rust);
    assert.deepEqual(
      order.map((a) => a.name),
      [RUST_ACTION, "a"],
    );
  });
});

describe("the example export runs unchanged", async () => {
  const out = temp("a0-build-");
  await buildTenantActions(EXAMPLE, out); // installs `ms` from the npm registry beside the Action
  const { postLoginBindings } = await import(pathToFileURL(join(out, "index.js")).href);
  const rustCalls = [];
  const actions = bindExportedActions(postLoginBindings, [
    { name: RUST_ACTION, onExecutePostLogin: async (event) => rustCalls.push(event.user.user_id) },
  ]);
  const now = Date.now();
  const login = (user) =>
    executePostLogin({
      actions,
      input: { user: { user_id: "auth0|1", app_metadata: {}, user_metadata: {}, ...user } },
      env: {
        CLAIM_NAMESPACE: "https://claims.example.org",
        ACTION_ADD_PLAN_CLAIM__UNUSED: "x",
        ACTIONS_CACHE: {},
      },
      cache: new TriggerCache({ now: () => now }),
      log: () => {},
    });

  test("a suspended user is denied by the first Action and no later Action runs (Auth0's deny)", async () => {
    rustCalls.length = 0;
    const result = await login({ app_metadata: { suspended: true } });
    assert.deepEqual(result.access, {
      denied: true,
      reason: "This account is suspended.",
      action: "Block suspended users",
    });
    assert.deepEqual(result.idToken.claims, {});
    assert.deepEqual(rustCalls, [], "the Rust Action, bound after it, did not run");
  });

  test("others get the plan claim under the namespace secret, with the dependency's formatting", async () => {
    rustCalls.length = 0;
    const created = new Date(now - 3 * 24 * 3600 * 1000).toISOString();
    const result = await login({ app_metadata: { plan: "pro" }, created_at: created });
    assert.equal(result.access.denied, false);
    assert.equal(result.idToken.claims["https://claims.example.org/plan"], "pro");
    assert.equal(result.idToken.claims["https://claims.example.org/account_age"], "3 days");
    assert.deepEqual(rustCalls, ["auth0|1"], "the Rust Action ran in its place");
  });
});
