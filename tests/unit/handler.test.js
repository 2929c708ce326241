import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { signBody } from "../../js/signature.js";
import { fakeKv } from "../support/fake-kv.js";
import { signedLoginRequest } from "../support/requests.js";

// log.js binds console's methods when it is loaded: capture them (and keep the test output
// clean) by swapping them in before importing the handler, then restoring console.
const logs = [];
const originalConsole = { log: console.log, warn: console.warn, error: console.error };
for (const method of Object.keys(originalConsole)) {
  console[method] = (line) => logs.push(JSON.parse(line));
}
const { createLoginHandler, MAX_BODY_BYTES } = await import("../../js/handler.js");
Object.assign(console, originalConsole);

const START = 1_700_000_000_000;
let t = START;
const now = () => t;
const nowSeconds = () => Math.floor(t / 1000);

const SECRET = "test-login-handler-secret";
const URL_BASE = "https://login.example.com";
const KV_KEY = "actions-cache/post-login";

beforeEach(() => {
  t = START;
  logs.length = 0;
});

const validEvent = () => ({
  user: {
    user_id: "auth0|1",
    email: "jane@example.com",
    app_metadata: { plan: "free" },
    user_metadata: { locale: "en" },
  },
  client: { client_id: "abc", name: "My SPA" },
});

/**
 * A handler with one JS action (running `onExecute`), a fake KV and a ctx collecting waitUntil
 * promises. `send(request)` calls fetch and parses the JSON body.
 */
function harness({ onExecute = () => {}, env: envOverrides = {}, kv = fakeKv(), background } = {}) {
  const pending = [];
  const action = {
    name: "test-action",
    secrets: ["CLIENT_SECRET"],
    calls: 0,
    events: [],
    async onExecutePostLogin(event, api, waitUntil) {
      action.calls++;
      action.events.push(event);
      await onExecute(event, api);
      if (background) waitUntil(background());
    },
  };
  const handler = createLoginHandler({ actions: [action], now });
  const env = {
    LOGIN_HANDLER_SECRET: SECRET,
    ACTIONS_CACHE: kv,
    CLIENT_SECRET: "client-secret-value",
    ...envOverrides,
  };
  const ctx = { waitUntil: (promise) => pending.push(promise) };
  return {
    kv,
    action,
    pending,
    settle: () => Promise.all(pending),
    async send(request) {
      const response = await handler.fetch(request, env, ctx);
      const text = await response.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status: response.status, headers: response.headers, body };
    },
  };
}

/** A POST /post-login request, signed unless `signature` is given (null → no header). */
function postLogin(
  body = JSON.stringify(validEvent()),
  { secret = SECRET, at = nowSeconds(), ...options } = {},
) {
  return signedLoginRequest(URL_BASE, body, { secret, at, ...options });
}

/** A body of `size` bytes streamed in chunks, with no content-length. */
function streamedRequest(size, chunk = 16 * 1024) {
  let sent = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      const n = Math.min(chunk, size - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n).fill(0x20));
    },
  });
  return new Request(`${URL_BASE}/post-login`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-signature": "t=1,v1=00" },
    body: stream,
    duplex: "half",
  });
}

/** A signed JSON event padded with trailing spaces to exactly `size` bytes. */
function paddedEvent(size) {
  const json = JSON.stringify(validEvent());
  return json + " ".repeat(size - json.length);
}

function assertErrorBody(response, status, error) {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.deepEqual(Object.keys(response.body).sort(), ["error", "error_description"]);
  assert.equal(response.body.error, error);
  assert.equal(typeof response.body.error_description, "string");
  assert.ok(response.body.error_description.length > 0);
}

function assertNothingRan(h) {
  assert.equal(h.kv.gets, 0, "KV was read");
  assert.equal(h.kv.puts, 0, "KV was written");
  assert.equal(h.action.calls, 0, "the action ran");
  assert.equal(h.pending.length, 0, "work was scheduled with waitUntil");
}

describe("routing", () => {
  test("GET /healthz → 200", async () => {
    const h = harness();
    const response = await h.send(new Request(`${URL_BASE}/healthz`));
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { status: "ok" });
    assertNothingRan(h);
  });

  test("HEAD /healthz → 200", async () => {
    const h = harness();
    const response = await h.send(new Request(`${URL_BASE}/healthz`, { method: "HEAD" }));
    assert.equal(response.status, 200);
  });

  test("POST /healthz → 405 with Allow", async () => {
    const h = harness();
    const response = await h.send(new Request(`${URL_BASE}/healthz`, { method: "POST" }));
    assertErrorBody(response, 405, "method_not_allowed");
    assert.equal(response.headers.get("allow"), "GET, HEAD");
  });

  for (const path of ["/", "/post-login/", "/postlogin", "/healthz/x"]) {
    test(`unknown path ${path} → 404`, async () => {
      const h = harness();
      const response = await h.send(new Request(`${URL_BASE}${path}`, { method: "POST" }));
      assertErrorBody(response, 404, "not_found");
      assertNothingRan(h);
    });
  }

  for (const method of ["GET", "PUT", "DELETE"]) {
    test(`${method} /post-login → 405 with Allow: POST`, async () => {
      const h = harness();
      const response = await h.send(new Request(`${URL_BASE}/post-login`, { method }));
      assertErrorBody(response, 405, "method_not_allowed");
      assert.equal(response.headers.get("allow"), "POST");
      assertNothingRan(h);
    });
  }
});

describe("POST /post-login: refused requests", () => {
  for (const contentType of [null, "text/plain", "application/x-www-form-urlencoded", "application/jsonp"]) {
    test(`content type ${contentType ?? "(none)"} → 415`, async () => {
      const h = harness();
      const response = await h.send(await postLogin(undefined, { contentType }));
      assertErrorBody(response, 415, "unsupported_media_type");
      assertNothingRan(h);
    });
  }

  test("a body over 64 KiB declared by content-length → 413", async () => {
    const h = harness();
    const request = await postLogin(JSON.stringify(validEvent()), {
      headers: { "content-length": String(MAX_BODY_BYTES + 1) },
    });
    const response = await h.send(request);
    assertErrorBody(response, 413, "payload_too_large");
    assertNothingRan(h);
  });

  test("a signed body of 64 KiB + 1 byte → 413", async () => {
    const h = harness();
    const response = await h.send(await postLogin(paddedEvent(MAX_BODY_BYTES + 1)));
    assertErrorBody(response, 413, "payload_too_large");
    assertNothingRan(h);
  });

  test("a streamed body over 64 KiB without content-length → 413", async () => {
    const h = harness();
    const request = streamedRequest(MAX_BODY_BYTES + 1);
    assert.equal(request.headers.get("content-length"), null);
    const response = await h.send(request);
    assertErrorBody(response, 413, "payload_too_large");
    assertNothingRan(h);
  });

  test("a missing LOGIN_HANDLER_SECRET → 500", async () => {
    const h = harness({ env: { LOGIN_HANDLER_SECRET: undefined } });
    const response = await h.send(await postLogin());
    assertErrorBody(response, 500, "server_error");
    assertNothingRan(h);
    assert.ok(logs.some((l) => l.level === "error" && l.event === "config_invalid"));
  });

  test("an empty LOGIN_HANDLER_SECRET → 500", async () => {
    const h = harness({ env: { LOGIN_HANDLER_SECRET: "" } });
    const response = await h.send(await postLogin());
    assertErrorBody(response, 500, "server_error");
    assertNothingRan(h);
  });

  const body = JSON.stringify(validEvent());
  const signatureCases = [
    ["a missing signature", () => postLogin(body, { signature: null })],
    ["a malformed signature", () => postLogin(body, { signature: "t=1,v1=abc" })],
    ["a signature made with another secret", () => postLogin(body, { secret: "wrong-secret" })],
    ["a signature 301 s old", () => postLogin(body, { at: nowSeconds() - 301 })],
    ["a signature 301 s in the future", () => postLogin(body, { at: nowSeconds() + 301 })],
    [
      "a body changed by one byte after signing",
      async () =>
        postLogin(body.replace("auth0|1", "auth0|2"), {
          signature: await signBody(body, SECRET, nowSeconds()),
        }),
    ],
  ];
  for (const [label, makeRequest] of signatureCases) {
    test(`${label} → 401`, async () => {
      const h = harness();
      const response = await h.send(await makeRequest());
      assertErrorBody(response, 401, "invalid_signature");
      assertNothingRan(h);
      assert.ok(logs.some((l) => l.event === "request_refused"));
    });
  }

  test("a signature exactly 300 s old is accepted", async () => {
    const h = harness();
    const response = await h.send(await postLogin(body, { at: nowSeconds() - 300 }));
    assert.equal(response.status, 200);
  });

  test("invalid JSON → 400", async () => {
    const h = harness();
    const response = await h.send(await postLogin('{"user": {'));
    assertErrorBody(response, 400, "invalid_request");
    assertNothingRan(h);
  });

  test("non-UTF-8 bytes → 400", async () => {
    const h = harness();
    const bytes = new TextEncoder().encode('{"user":{"user_id":"auth0|1","name":"X"}}');
    bytes[bytes.indexOf(0x58)] = 0xff; // replace the "X" with an invalid UTF-8 byte
    const response = await h.send(await postLogin(bytes));
    assertErrorBody(response, 400, "invalid_request");
    assertNothingRan(h);
  });

  test("an event carrying secrets → 400", async () => {
    const h = harness();
    const event = { ...validEvent(), secrets: { CLIENT_SECRET: "x" } };
    const response = await h.send(await postLogin(JSON.stringify(event)));
    assertErrorBody(response, 400, "invalid_event");
    assert.match(response.body.error_description, /"secrets"/);
    assertNothingRan(h);
  });

  test("an event without user.user_id → 400", async () => {
    const h = harness();
    const event = { user: { email: "jane@example.com" } };
    const response = await h.send(await postLogin(JSON.stringify(event)));
    assertErrorBody(response, 400, "invalid_event");
    assert.match(response.body.error_description, /user\.user_id/);
    assertNothingRan(h);
  });

  test("a JSON array body → 400", async () => {
    const h = harness();
    const response = await h.send(await postLogin("[]"));
    assertErrorBody(response, 400, "invalid_event");
    assertNothingRan(h);
  });
});

describe("POST /post-login: accepted requests", () => {
  test("application/json; charset=utf-8 is accepted", async () => {
    const h = harness();
    const response = await h.send(
      await postLogin(undefined, { contentType: "application/json; charset=utf-8" }),
    );
    assert.equal(response.status, 200);
    assert.equal(h.action.calls, 1);
  });

  test("a signed body of exactly 64 KiB is accepted", async () => {
    const h = harness();
    const response = await h.send(await postLogin(paddedEvent(MAX_BODY_BYTES)));
    assert.equal(response.status, 200);
    assert.equal(h.action.calls, 1);
  });

  test("a streamed body of 64 KiB or less is read in full", async () => {
    const h = harness();
    const text = paddedEvent(40_000);
    const encoded = new TextEncoder().encode(text);
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < encoded.length; i += 10_000) {
          controller.enqueue(encoded.slice(i, i + 10_000));
        }
        controller.close();
      },
    });
    const request = new Request(`${URL_BASE}/post-login`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-signature": await signBody(text, SECRET, nowSeconds()),
      },
      body: stream,
      duplex: "half",
    });
    const response = await h.send(request);
    assert.equal(response.status, 200);
    assert.equal(h.action.events[0].user.user_id, "auth0|1");
  });

  test("a valid signed request → 200 with the Actions' result", async () => {
    const h = harness({
      onExecute(_event, api) {
        api.idToken.setCustomClaim("https://example.com/roles", ["admin"]);
        api.accessToken.setCustomClaim("https://example.com/plan", "pro");
        api.user.setAppMetadata("plan", "pro");
        api.user.setUserMetadata("theme", "dark");
      },
    });
    const response = await h.send(await postLogin());
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.headers.get("cache-control"), "no-store");
    const result = response.body;
    assert.equal(result.access.denied, false);
    assert.equal(result.access.reason, null);
    assert.deepEqual(result.idToken.claims, { "https://example.com/roles": ["admin"] });
    assert.deepEqual(result.accessToken.claims, { "https://example.com/plan": "pro" });
    assert.deepEqual(result.user.app_metadata, { plan: "pro" });
    assert.deepEqual(result.user.user_metadata, { locale: "en", theme: "dark" });
    assert.equal(result.error, undefined);
    assert.equal(h.action.calls, 1);
  });

  test("a deny → 200 with access.denied and access.reason", async () => {
    const h = harness({ onExecute: (_event, api) => api.access.deny("blocked") });
    const response = await h.send(await postLogin());
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.access, {
      denied: true,
      reason: "blocked",
      action: "test-action",
    });
    assert.equal(response.body.user.app_metadata, null);
    assert.equal(response.body.user.user_metadata, null);
  });

  test("the action sees the posted user and its own secrets from env", async () => {
    const h = harness();
    await h.send(await postLogin());
    const [event] = h.action.events;
    assert.equal(event.user.email, "jane@example.com");
    assert.deepEqual({ ...event.secrets }, { CLIENT_SECRET: "client-secret-value" });
    assert.equal(event.secrets.LOGIN_HANDLER_SECRET, undefined);
  });

  test("a cold isolate's login reads KV exactly once (writer mode off)", async () => {
    const h = harness({
      env: { ACTIONS_CACHE_WRITER_MODE: "off" },
      onExecute(_event, api) {
        api.cache.get("a");
        api.cache.get("b");
        api.cache.set("c", "v");
      },
    });
    await h.send(await postLogin());
    await h.settle();
    assert.equal(h.kv.gets, 1);
  });

  test("with no cache writer bound, the write-back re-reads KV and merges its change (logged once)", async () => {
    const kv = fakeKv();
    const h = harness({
      kv,
      onExecute: (_event, api) => api.cache.set(`k-${api.cache.get("n")?.value ?? 0}`, "v"),
    });
    await h.send(await postLogin());
    await h.settle();
    // Another isolate wrote a key meanwhile: the next write-back keeps it.
    const stored = JSON.parse(kv.store.get("actions-cache/post-login"));
    stored.records.other = { value: "theirs", expires_at: START + 3_600_000 };
    kv.store.set("actions-cache/post-login", JSON.stringify(stored));
    await h.send(await postLogin());
    await h.settle();
    assert.equal(kv.gets, 3, "the cold read, then one read per write-back");
    const records = JSON.parse(kv.store.get("actions-cache/post-login")).records;
    assert.deepEqual(Object.keys(records).sort(), ["k-0", "other"]);
    const unavailable = logs.filter((r) => r.event === "cache_writer_unavailable");
    assert.equal(unavailable.length, 1);
    assert.equal(unavailable[0].fallback, "kv_read_modify_write");
  });

  test("a bound ACTIONS_CACHE_WRITER receives the delta", async () => {
    const deltas = [];
    const writer = {
      idFromName: (name) => ({ name }),
      get: (id) => ({
        async fetch(url, init) {
          const body = JSON.parse(init.body);
          deltas.push({ id: id.name, url, changes: body.changes });
          return Response.json({
            v: 1,
            records: body.changes.filter(([, r]) => r),
            rejected: [],
            kv: "written",
          });
        },
      }),
    };
    const h = harness({
      env: { ACTIONS_CACHE_WRITER: writer },
      onExecute: (_event, api) => api.cache.set("token", "abc"),
    });
    await h.send(await postLogin());
    await h.settle();
    assert.equal(deltas.length, 1);
    assert.equal(deltas[0].id, "post-login");
    assert.deepEqual(deltas[0].changes, [["token", { value: "abc", expires_at: START + 15 * 60 * 1000 }]]);
    assert.equal(h.kv.puts, 0, "the writer writes KV, not the isolate");
  });

  test("the KV write is scheduled with waitUntil, not awaited before responding", async () => {
    const kv = fakeKv({ holdPuts: true });
    const h = harness({ kv, onExecute: (_event, api) => api.cache.set("token", "abc") });
    const response = await h.send(await postLogin());
    assert.equal(response.status, 200);
    assert.equal(h.pending.length, 1);
    assert.equal(kv.store.has(KV_KEY), false, "written before the response");
    kv.releasePuts();
    await h.settle();
    assert.equal(kv.puts, 1);
    const stored = JSON.parse(kv.store.get(KV_KEY));
    assert.equal(stored.records.token.value, "abc");
  });

  test("an action that sets a cache entry → the KV is written after the response", async () => {
    const h = harness({ onExecute: (_event, api) => api.cache.set("token", "abc") });
    await h.send(await postLogin());
    await h.settle();
    assert.equal(h.kv.puts, 1);
  });

  test("an action that only reads the cache → no KV write", async () => {
    let read;
    const kv = fakeKv({
      initial: {
        [KV_KEY]: JSON.stringify({
          v: 1,
          records: { token: { value: "cached", expires_at: START + 60_000 } },
        }),
      },
    });
    const h = harness({ kv, onExecute: (_event, api) => (read = api.cache.get("token")) });
    await h.send(await postLogin());
    await h.settle();
    assert.equal(read?.value, "cached");
    assert.equal(kv.gets, 1);
    assert.equal(kv.puts, 0);
    assert.equal(kv.deletes, 0);
  });

  test("later logins inside the sync interval read no KV (isolate memory tier)", async () => {
    const h = harness({ onExecute: (_event, api) => api.cache.get("token") });
    for (let i = 0; i < 5; i++) {
      await h.send(await postLogin());
      t += 10_000;
    }
    await h.settle();
    assert.equal(h.kv.gets, 1);
    t += 60_000;
    await h.send(await postLogin());
    assert.equal(h.kv.gets, 2, "re-read once the isolate's copy is older than 60 s");
  });

  test("ACTIONS_CACHE_SYNC_SECONDS=0 reads KV on every login", async () => {
    const h = harness({ env: { ACTIONS_CACHE_SYNC_SECONDS: "0" } });
    await h.send(await postLogin());
    await h.send(await postLogin());
    assert.equal(h.kv.gets, 2);
  });

  test("an Action's background work is kept alive and its cache changes written after it", async () => {
    let finish;
    const work = new Promise((resolve) => (finish = resolve));
    let apiSeen;
    const h = harness({
      onExecute: (_event, api) => (apiSeen = api),
      background: () => work,
    });
    await h.send(await postLogin());
    assert.equal(h.pending.length, 2, "the write and the background work");
    apiSeen.cache.set("refreshed", "new", { ttl: 60_000 });
    finish();
    await h.settle();
    assert.equal(JSON.parse(h.kv.store.get(KV_KEY)).records.refreshed.value, "new");
  });

  test("the cache written by one login is read by the next", async () => {
    const kv = fakeKv();
    const values = [];
    const h = harness({
      kv,
      onExecute(_event, api) {
        values.push(api.cache.get("token")?.value);
        api.cache.set("token", "abc", { ttl: 60_000 });
      },
    });
    await h.send(await postLogin());
    await h.settle();
    t += 1000;
    await h.send(await postLogin());
    assert.deepEqual(values, [undefined, "abc"]);
  });

  test("an action that throws → 200 with access.denied and error.code", async () => {
    const h = harness({
      onExecute() {
        throw new Error("boom");
      },
    });
    const response = await h.send(await postLogin());
    assert.equal(response.status, 200);
    assert.equal(response.body.access.denied, true);
    assert.equal(response.body.error.code, "action_failed");
    assert.equal(response.body.error.action, "test-action");
    assert.doesNotMatch(JSON.stringify(response.body), /boom/);
  });

  for (const [label, makeValue] of [
    ["a BigInt", () => 10n],
    [
      "a circular object",
      () => {
        const value = {};
        value.self = value;
        return value;
      },
    ],
  ]) {
    test(`an action setting ${label} claim fails the login (200 denied), not a 500`, async () => {
      const h = harness({
        onExecute: (_event, api) => api.idToken.setCustomClaim("claim", makeValue()),
      });
      const response = await h.send(await postLogin());
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.access.denied, true);
      assert.equal(response.body.error?.code, "action_failed");
    });
  }

  test("a missing ACTIONS_CACHE binding still runs the login", async () => {
    const h = harness({
      env: { ACTIONS_CACHE: undefined },
      onExecute: (_event, api) => api.cache.set("k", "v"),
    });
    const response = await h.send(await postLogin());
    await h.settle();
    assert.equal(response.status, 200);
    assert.equal(h.action.calls, 1);
    assert.ok(logs.some((l) => l.level === "error" && l.event === "kv_unavailable"));
  });

  test("logs never carry the secrets", async () => {
    const h = harness({ onExecute: (_event, api) => api.cache.set("k", "v") });
    await h.send(await postLogin());
    await h.settle();
    await h.send(await postLogin(undefined, { secret: "wrong" }));
    assert.ok(logs.length > 0);
    const all = JSON.stringify(logs);
    assert.doesNotMatch(all, new RegExp(SECRET));
    assert.doesNotMatch(all, /client-secret-value/);
  });
});
