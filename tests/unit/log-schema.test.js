// The log schema the Rust Action (src/log.rs) and the JS runtime (js/log.js) share: one JSON
// object per line, `level`, `event`, `component` first, written to the console method of its
// level. Checked here from both sides on real lines: the wasm Action's (its Node build) and the
// runtime's.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";

const METHOD = { info: "log", warn: "warn", error: "error" };
const captured = [];
const originals = {};
for (const method of ["log", "warn", "error"]) {
  originals[method] = console[method];
  console[method] = (line) => captured.push({ method, line });
}
afterEach(() => {
  captured.length = 0;
});
process.on("exit", () => Object.assign(console, originals));
// Both bind or look up console's methods; imported once the capture is in place.
const action = await import("../../build/node/index.js");
const { createLogger } = await import("../../js/log.js");

function records(lines) {
  return lines.map(({ method, line }) => ({
    method,
    record: JSON.parse(line),
    keys: Object.keys(JSON.parse(line)),
  }));
}

function assertSchema(lines, component) {
  assert.ok(lines.length > 0, "some lines were written");
  for (const { method, record, keys } of records(lines)) {
    assert.deepEqual(keys.slice(0, 3), ["level", "event", "component"], JSON.stringify(record));
    assert.ok(Object.hasOwn(METHOD, record.level), `level ${record.level}`);
    assert.equal(method, METHOD[record.level], `${record.event} goes to console.${METHOD[record.level]}`);
    assert.equal(typeof record.event, "string");
    assert.equal(record.component, component);
  }
}

test("the Rust Action's lines follow the schema, at every level", async () => {
  const api = {
    cache: {
      get() {
        throw new Error("KV is down");
      },
      set: () => ({ type: "success" }),
      delete: () => ({ type: "success" }),
    },
    access: { deny() {} },
  };
  const event = {
    secrets: {
      AUTH0_CUSTOM_DOMAIN: "http://127.0.0.1:1",
      CLIENT_ID: "client",
      CLIENT_SECRET: "secret-value",
      ACCOUNT_API: "https://tenant.example/api/v2/",
    },
    configuration: { TOKEN_REQUEST_BUDGET_MS: "100", ON_TOKEN_ERROR: "sometimes" },
  };
  await action.onExecutePostLogin(event, api, () => {});
  await new Promise((resolve) => setImmediate(resolve)); // lines leave wasm through a microtask
  assertSchema(captured, "m2m-token-action");
  const levels = new Set(records(captured).map((r) => r.record.level));
  assert.deepEqual([...levels].sort(), ["error", "info", "warn"], "info, warn and error lines were seen");
  assert.ok(!captured.some(({ line }) => line.includes("secret-value")), "no secret in the lines");
});

test("the runtime's lines follow the schema, at every level", () => {
  const log = createLogger("actions-runtime");
  log("info", "login", { user_id: "auth0|1" });
  log("warn", "wasm_instance_replaced", { action: "a" });
  log("error", "action_failed", { action: "a" });
  assertSchema(captured, "actions-runtime");
});
