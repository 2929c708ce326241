// Hostile input against the whole in-process stack: the real login handler, the real Rust/wasm
// Action (build/node), a counting fake KV and a fake tenant as `globalThis.fetch`
// (tests/support/inprocess.js). One stack is shared by the whole file, as one isolate would be:
// the Action keeps its Management token in isolate memory, so the file makes at most one token
// request in total.
//
// Properties use fast-check with a fixed seed each (see SEEDS); a failure prints the seed and the
// shrunk counterexample. Tests run in file order; the signature property runs first, while the
// isolate is cold, so a refused request that reached the Action would show as a token request.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { signBody } from "../../js/signature.js";
import { FIELD_TYPES, OBJECT_FIELDS } from "../../js/runtime/event.js";
import {
  CLIENT_SECRET,
  LOGIN_HANDLER_SECRET,
  URL_BASE,
  createStack,
  leaks,
  logs,
} from "../support/inprocess.js";

const MAX_BODY_BYTES = 64 * 1024;
const SEEDS = { mutations: 20_251_126, requests: 424_242, events: 8_675_309 };
const RUNS = { mutations: 1000, requests: 1500, events: 1000 };

// ON_TOKEN_ERROR=deny: a login that could not get a token is denied, so `access.denied: false`
// proves the Action really had a token. ACTIONS_CACHE_SYNC_SECONDS=0: every accepted login reads
// KV, so a refused request reaching the cache layer would show as a KV read.
const stack = await createStack({ env: { ON_TOKEN_ERROR: "deny", ACTIONS_CACHE_SYNC_SECONDS: "0" } });

const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));

const timings = {};
after(async () => {
  process.stderr.write(`# hostile.test.js timings (ms): ${JSON.stringify(timings)}\n`);
  await stack.close();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
const encoder = new TextEncoder();
const byteLength = (body) => (typeof body === "string" ? encoder.encode(body).length : body.length);

// The documented v3 top-level fields (all objects) and field types: the runtime's own tables, so
// the properties follow the contract as it changes.
const CHILDREN = {};
for (const [path, type] of Object.entries(FIELD_TYPES)) {
  const [parent, child] = path.split(".");
  (CHILDREN[parent] ??= []).push([child, type]);
}

const ERROR_CODES = {
  400: ["invalid_request", "invalid_event"],
  401: ["invalid_signature"],
  404: ["not_found"],
  405: ["method_not_allowed"],
  413: ["payload_too_large"],
  415: ["unsupported_media_type"],
};
const RESULT_KEYS = ["access", "accessToken", "idToken", "multifactor", "redirect", "user"];
const NOTHING = {
  wasmCalls: 0,
  probeCalls: 0,
  kvGets: 0,
  kvPuts: 0,
  kvDeletes: 0,
  tokenRequests: 0,
  otherRequests: 0,
  waitUntil: 0,
};

const validEvent = (userId = "auth0|hostile") => ({
  user: { user_id: userId, email: "jane@example.com", app_metadata: { plan: "free" } },
  client: { client_id: "abc", name: "My SPA" },
});

/** No response may carry a secret or an issued token (property 6), checked on every response. */
function assertNoSecrets(response) {
  const haystack = `${response.text}\n${[...response.headers].join("\n")}`;
  for (const secret of [CLIENT_SECRET, LOGIN_HANDLER_SECRET, ...stack.tenant.issued]) {
    assert.ok(!haystack.includes(secret), `response ${response.status} carries a secret or the token`);
  }
}

/** A handled request: no exception, a JSON body, never a 500, no secret. */
function assertHandled(response) {
  assert.equal(response.threw, undefined, `handler threw: ${response.threw}`);
  assert.notEqual(response.status, 500, response.text);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.notEqual(response.body, undefined, `not JSON: ${response.text?.slice(0, 200)}`);
  assertNoSecrets(response);
}

/** A refusal: `{ error, error_description }` with a known status, and nothing done for it. */
function assertRefused(response, status) {
  assertHandled(response);
  if (status !== undefined) assert.equal(response.status, status, response.text);
  assert.ok(response.status in ERROR_CODES, `unexpected status ${response.status}: ${response.text}`);
  assert.deepEqual(Object.keys(response.body).sort(), ["error", "error_description"]);
  assert.ok(ERROR_CODES[response.status].includes(response.body.error), response.text);
  assert.equal(typeof response.body.error_description, "string");
  assert.deepEqual(response.delta, NOTHING, "a refused request cost something");
}

/** A 200 login result with the contract's shape. `clean`: allowed, no error, metadata untouched. */
function assertLogin(response, { clean = true } = {}) {
  assertHandled(response);
  assert.equal(response.status, 200, response.text);
  const body = response.body;
  const keys = Object.keys(body).filter((k) => k !== "error");
  assert.deepEqual(keys.sort(), RESULT_KEYS);
  assert.equal(typeof body.access.denied, "boolean");
  assert.equal(typeof body.idToken.claims, "object");
  assert.ok(Array.isArray(body.accessToken.scopes.added));
  assert.equal(response.delta.wasmCalls, 1, "the Action ran once");
  if (clean) {
    assert.deepEqual(body.access, { denied: false, reason: null, action: null }, response.text);
    assert.equal(body.error, undefined);
    assert.deepEqual(body.user, { app_metadata: null, user_metadata: null });
  }
}

/** Every own property of the built-in prototypes, by identity. */
function prototypeSnapshot() {
  const out = new Map();
  for (const [name, proto] of [
    ["Object", Object.prototype],
    ["Array", Array.prototype],
    ["Function", Function.prototype],
    ["String", String.prototype],
  ]) {
    out.set(`${name}:extensible`, Object.isExtensible(proto));
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key);
      out.set(`${name}.${String(key)}`, [d.value, d.get, d.set, d.writable, d.enumerable, d.configurable]);
    }
  }
  return out;
}

function assertPrototypesUnchanged(before) {
  const now = prototypeSnapshot();
  assert.deepEqual([...now.keys()].sort(), [...before.keys()].sort(), "a prototype gained or lost a key");
  for (const [key, value] of before) {
    const current = now.get(key);
    assert.ok(
      Array.isArray(value) ? value.every((v, i) => Object.is(v, current[i])) : value === current,
      `${key} changed`,
    );
  }
  assert.equal({}.polluted, undefined);
  assert.equal([].polluted, undefined);
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
  assert.equal({}.constructor, Object);
}

/** A JSON text padded with trailing spaces to exactly `size` bytes. */
function padded(text, size) {
  return text + " ".repeat(Math.max(0, size - byteLength(text)));
}

// ---------------------------------------------------------------------------------------------
// Property 2 (runs first, cold isolate): mutations of a valid signed request.
// ---------------------------------------------------------------------------------------------

const hexArb = fc.constantFrom(..."0123456789abcdef");
const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant("flipByte"), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant("appendBody"),
    suffix: fc.constantFrom(" ", "\n", "\t", "0", "}", "\u0000"),
  }),
  fc.record({ kind: fc.constant("truncateBody"), cut: fc.integer({ min: 1, max: 20 }) }),
  fc.record({
    kind: fc.constant("shiftTimestamp"),
    delta: fc.integer({ min: -100_000, max: 100_000 }).filter((d) => d !== 0),
  }),
  fc.record({
    kind: fc.constant("resignOutsideWindow"),
    delta: fc.oneof(fc.integer({ min: 301, max: 10 ** 7 }), fc.integer({ min: -(10 ** 7), max: -301 })),
  }),
  fc.record({ kind: fc.constant("leadingZeros"), zeros: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant("truncateSignature"), cut: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant("extendSignature"),
    extra: fc.stringMatching(/^[0-9a-fA-Fxv=,; ]{1,8}$/).filter((s) => s.trim() !== ""),
  }),
  fc.record({
    kind: fc.constant("replaceHexChar"),
    at: fc.integer({ min: 0, max: 63 }),
    char: hexArb,
  }),
  fc.record({ kind: fc.constant("insertWhitespace"), at: fc.nat(), ws: fc.constantFrom(" ", "\t") }),
  fc.record({ kind: fc.constant("upperPrefix"), which: fc.constantFrom("t", "v1", "both") }),
  fc.record({ kind: fc.constant("dropHeader") }),
  fc.record({ kind: fc.constant("emptyHeader") }),
  fc.record({ kind: fc.constant("duplicateHeader") }),
  fc.record({ kind: fc.constant("swapParts") }),
  fc.record({ kind: fc.constant("otherSecret"), secret: fc.string({ minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant("otherBody"), userId: fc.string({ minLength: 1, maxLength: 20 }) }),
  fc.record({
    kind: fc.constant("renamedHeader"),
    name: fc.constantFrom("x-signatures", "signature", "x-sig"),
  }),
  // Equivalent forms: must be accepted exactly like the original.
  fc.record({
    kind: fc.constant("headerNameCase"),
    mask: fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }),
  }),
  fc.record({
    kind: fc.constant("outerWhitespace"),
    pre: fc.stringMatching(/^[ \t]{0,3}$/),
    post: fc.stringMatching(/^[ \t]{0,3}$/),
  }),
  fc.record({
    kind: fc.constant("upperHex"),
    mask: fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
  }),
);
const EQUIVALENT = new Set(["headerNameCase", "outerWhitespace", "upperHex"]);

/** Builds the mutated request; returns it with whether it must be accepted. */
async function mutatedRequest(event, mutation) {
  const text = JSON.stringify(event);
  let body = encoder.encode(text);
  const t = nowSeconds();
  let header = await signBody(body, LOGIN_HANDLER_SECRET, t);
  const [, ts, hex] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  let headerName = "x-signature";
  const extraHeaders = [];
  switch (mutation.kind) {
    case "flipByte": {
      body = body.slice();
      body[mutation.at % body.length] ^= mutation.xor;
      break;
    }
    case "appendBody":
      body = encoder.encode(text + mutation.suffix);
      break;
    case "truncateBody":
      body = body.slice(0, body.length - mutation.cut);
      break;
    case "shiftTimestamp":
      header = `t=${Math.max(0, t + mutation.delta)},v1=${hex}`;
      break;
    case "resignOutsideWindow":
      header = await signBody(body, LOGIN_HANDLER_SECRET, Math.max(0, t + mutation.delta));
      break;
    case "leadingZeros":
      header = `t=${"0".repeat(mutation.zeros)}${ts},v1=${hex}`;
      break;
    case "truncateSignature":
      header = header.slice(0, header.length - mutation.cut);
      break;
    case "extendSignature":
      header = header + mutation.extra;
      break;
    case "replaceHexChar": {
      const old = hex[mutation.at];
      const replacement = mutation.char === old ? ((parseInt(old, 16) + 1) % 16).toString(16) : mutation.char;
      header = `t=${ts},v1=${hex.slice(0, mutation.at)}${replacement}${hex.slice(mutation.at + 1)}`;
      break;
    }
    case "insertWhitespace": {
      const at = 1 + (mutation.at % (header.length - 1));
      header = header.slice(0, at) + mutation.ws + header.slice(at);
      break;
    }
    case "upperPrefix":
      if (mutation.which !== "v1") header = header.replace("t=", "T=");
      if (mutation.which !== "t") header = header.replace(",v1=", ",V1=");
      break;
    case "dropHeader":
      header = null;
      break;
    case "emptyHeader":
      header = "";
      break;
    case "duplicateHeader":
      extraHeaders.push(["x-signature", header]);
      break;
    case "swapParts":
      header = `v1=${hex},t=${ts}`;
      break;
    case "otherSecret":
      header = await signBody(
        body,
        mutation.secret === LOGIN_HANDLER_SECRET ? `${mutation.secret}!` : mutation.secret,
        t,
      );
      break;
    case "otherBody":
      header = await signBody(
        JSON.stringify(
          validEvent(mutation.userId === event.user.user_id ? `${mutation.userId}!` : mutation.userId),
        ),
        LOGIN_HANDLER_SECRET,
        t,
      );
      break;
    case "renamedHeader":
      headerName = mutation.name;
      break;
    case "headerNameCase":
      headerName = [...headerName].map((c, i) => (mutation.mask[i] ? c.toUpperCase() : c)).join("");
      break;
    case "outerWhitespace":
      header = mutation.pre + header + mutation.post;
      break;
    case "upperHex":
      header = `t=${ts},v1=${[...hex].map((c, i) => (mutation.mask[i] ? c.toUpperCase() : c)).join("")}`;
      break;
    default:
      throw new Error(`unknown mutation ${mutation.kind}`);
  }
  const headers = new Headers({ "content-type": "application/json" });
  if (header !== null) headers.set(headerName, header);
  for (const [name, value] of extraHeaders) headers.append(name, value);
  const request = new Request(`${URL_BASE}/post-login`, { method: "POST", headers, body });
  return { request, accepted: EQUIVALENT.has(mutation.kind) };
}

const userIdArb = fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 });

test("property 2: a mutated signature or body is refused before any work (cold isolate)", async () => {
  const started = performance.now();
  const refusals = [];
  await fc.assert(
    fc.asyncProperty(userIdArb, mutationArb, async (userId, mutation) => {
      const { request, accepted } = await mutatedRequest(validEvent(userId), mutation);
      const response = await stack.send(request);
      if (accepted) {
        assertLogin(response);
      } else {
        assertRefused(response, 401);
        assert.equal(response.body.error, "invalid_signature");
        refusals.push(mutation.kind);
      }
    }),
    { seed: SEEDS.mutations, numRuns: RUNS.mutations },
  );
  // Every kind of refusal was exercised.
  assert.equal(new Set(refusals).size, 18, `only ${[...new Set(refusals)]} ran`);
  timings.mutations = Math.round(performance.now() - started);
});

// ---------------------------------------------------------------------------------------------
// Property 1: random requests, signed correctly.
// ---------------------------------------------------------------------------------------------

const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const methodArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant("POST") },
  {
    weight: 3,
    arbitrary: fc.constantFrom("GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "post", "Post"),
  },
  {
    weight: 1,
    arbitrary: fc
      .stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,9}$/)
      .filter((m) => !FORBIDDEN_METHODS.has(m.toUpperCase())),
  },
);
const pathArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant("/post-login") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "/healthz",
      "/",
      "",
      "/post-login/",
      "/POST-LOGIN",
      "//post-login",
      "/post-login?x=1&secrets=1",
      "/post-login#frag",
      "/post-login%00",
      "/./post-login",
      "/a/../post-login",
      "/post%2Dlogin",
      "/post-login;x",
      "/healthz/x",
      "/%2e%2e/post-login",
    ),
  },
  { weight: 1, arbitrary: fc.webPath() },
);
const contentTypeArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant("application/json") },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "Application/Json;charset=latin1",
      "application/json;",
      " application/json\t",
      "application/jsonp",
      "application/json, text/plain",
      "application/problem+json",
      "text/json",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "",
      "*/*",
    ),
  },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.stringMatching(/^[\x20-\x7e]{0,40}$/) },
);
const HOSTILE_TEXTS = [
  "",
  " ",
  "null",
  "true",
  "0",
  "-0",
  "1e400",
  '""',
  "[]",
  "{}",
  '{"user":null}',
  '{"user":{}}',
  '{"user":[]}',
  '{"user":{"user_id":""}}',
  '{"user":{"user_id":1e400}}',
  '{"user":{"user_id":"a"}',
  '{"user":{"user_id":"a"}}}',
  '{"user":{"user_id":"a"}} trailing',
  "\ufeff{}",
  '{"__proto__":{"polluted":true},"user":{"user_id":"a"}}',
  '{"constructor":{"prototype":{"polluted":true}},"user":{"user_id":"a"}}',
  '{"user":{"user_id":"a","__proto__":{"polluted":true}}}',
  '{"secrets":{"CLIENT_SECRET":"x"},"user":{"user_id":"a"}}',
  '{"configuration":{"ROLES_CLAIM":"x"},"user":{"user_id":"a"}}',
  '{"user":{"user_id":"a\\u0000b"}}',
  '{"user":{"user_id":"\\ud800"}}',
  '{"user":{"user_id":"a"},"user":{"user_id":"b"}}',
  '{"user":{"user_id":"a","app_metadata":{"n":1e400,"m":-1e400,"z":1e-400}}}',
  "[".repeat(5000) + "]".repeat(5000),
  '{"a":'.repeat(3000) + "1" + "}".repeat(3000),
];

/** A valid-shaped event with random, correctly typed content (accepted). */
const jsonValueArb = fc.jsonValue({ maxDepth: 3 });
const acceptedEventArb = fc
  .record(
    {
      user: fc.record(
        {
          user_id: userIdArb,
          email: fc.string(),
          name: fc.string({ unit: "binary" }),
          app_metadata: fc.dictionary(fc.string(), jsonValueArb, { maxKeys: 4 }),
          user_metadata: fc.dictionary(fc.string(), jsonValueArb, { maxKeys: 4 }),
          identities: fc.array(jsonValueArb, { maxLength: 2 }),
        },
        { requiredKeys: ["user_id"] },
      ),
      client: fc.record({ client_id: fc.string(), metadata: fc.dictionary(fc.string(), fc.string()) }),
      request: fc.record({ ip: fc.string(), query: fc.dictionary(fc.string(), fc.string()) }),
      stats: fc.record({ logins_count: fc.integer() }),
    },
    { requiredKeys: ["user"] },
  )
  .map((e) => JSON.stringify(e));

const bodyArb = fc.oneof(
  { weight: 4, arbitrary: acceptedEventArb },
  { weight: 2, arbitrary: fc.json() },
  { weight: 2, arbitrary: fc.anything().map((v) => JSON.stringify(v) ?? "undefined") },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_TEXTS) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_BODY_BYTES - 4, max: MAX_BODY_BYTES + 64 })
      .map((size) => padded(JSON.stringify(validEvent()), size)),
  },
);

test("property 1: any signed request gets a 200 result or a JSON refusal, never a 500", async () => {
  const started = performance.now();
  const seen = new Map();
  await fc.assert(
    fc.asyncProperty(methodArb, pathArb, contentTypeArb, bodyArb, async (method, path, contentType, body) => {
      const upper = method.toUpperCase();
      const bodyless = upper === "GET" || upper === "HEAD";
      const sent = bodyless ? "" : body;
      const headers = new Headers({
        "x-signature": await signBody(sent, LOGIN_HANDLER_SECRET, nowSeconds()),
      });
      if (contentType !== null) headers.set("content-type", contentType);
      const request = new Request(`${URL_BASE}${path}`, {
        method,
        headers,
        ...(bodyless ? {} : { body: sent }),
      });
      const response = await stack.send(request);
      assertHandled(response);
      seen.set(response.status, (seen.get(response.status) ?? 0) + 1);

      // The status the contract gives, as far as it follows from the request line and headers.
      const { pathname } = new URL(request.url);
      const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      let expected;
      if (pathname === "/healthz") expected = bodyless ? 200 : 405;
      else if (pathname !== "/post-login") expected = 404;
      else if (request.method !== "POST") expected = 405;
      else if (type !== "application/json") expected = 415;
      else if (byteLength(sent) > MAX_BODY_BYTES) expected = 413;
      else expected = [200, 400];

      if (Array.isArray(expected)) assert.ok(expected.includes(response.status), response.text);
      else assert.equal(response.status, expected, response.text);

      if (response.status !== 200) {
        assertRefused(response);
      } else if (pathname === "/healthz") {
        assert.deepEqual(response.body, { status: "ok" });
        assert.deepEqual(response.delta, NOTHING);
      } else {
        assertLogin(response);
      }
    }),
    { seed: SEEDS.requests, numRuns: RUNS.requests },
  );
  // The run reached every outcome the contract has.
  for (const status of [200, 400, 404, 405, 413, 415]) assert.ok(seen.has(status), `no ${status} seen`);
  timings.requests = Math.round(performance.now() - started);
});

// ---------------------------------------------------------------------------------------------
// Property 3: valid-shaped events with random, sometimes wrong, field types.
// ---------------------------------------------------------------------------------------------

const KINDS = ["string", "number", "boolean", "null", "array", "object"];
const keyArb = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty"),
  },
);
/** An object with own data properties only (so "__proto__" is a key like any other). */
function ownObject(entries) {
  const object = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return object;
}
const objectArb = (value = jsonValueArb, maxKeys = 4) =>
  fc.array(fc.tuple(keyArb, value), { maxLength: maxKeys }).map(ownObject);
const valueOfKind = {
  string: fc.string({ unit: "binary", maxLength: 30 }),
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(jsonValueArb, { maxLength: 3 }),
  object: objectArb(),
};
const kindOf = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
const wrongFor = (type) => fc.constantFrom(...KINDS.filter((k) => k !== type)).chain((k) => valueOfKind[k]);

/** A documented child's value, or undefined (absent); wrong types only when `wrong`. */
const childArb = (type, wrong) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: valueOfKind[type] },
    ...(wrong ? [{ weight: 1, arbitrary: wrongFor(type) }] : []),
  );

/** A top-level field: absent, an object of documented children plus random keys, or (wrong) not an object. */
const topFieldArb = (parent, wrong) => {
  const documented = CHILDREN[parent] ?? [];
  const names = new Set(documented.map(([child]) => child));
  const objectValue = fc
    .tuple(
      fc.tuple(...documented.map(([, type]) => childArb(type, wrong))),
      fc.array(
        fc.tuple(
          keyArb.filter((k) => !names.has(k)),
          jsonValueArb,
        ),
        { maxLength: 3 },
      ),
    )
    .map(([values, extra]) =>
      ownObject([
        ...extra,
        ...documented.flatMap(([child], i) => (values[i] === undefined ? [] : [[child, values[i]]])),
      ]),
    );
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: objectValue },
    ...(wrong ? [{ weight: 1, arbitrary: wrongFor("object") }] : []),
  );
};

const userIdValueArb = (wrong) =>
  wrong
    ? fc.oneof(
        { weight: 8, arbitrary: userIdArb },
        { weight: 1, arbitrary: fc.constant("") },
        { weight: 1, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: wrongFor("string") },
      )
    : userIdArb;
const unknownFieldsArb = fc.array(
  fc.tuple(
    fc.oneof(keyArb, fc.constantFrom("secrets", "configuration")).filter((k) => !OBJECT_FIELDS.includes(k)),
    jsonValueArb,
  ),
  { minLength: 1, maxLength: 2 },
);
/**
 * An event in one of two modes: `wrong: false` draws only documented types (must be accepted);
 * `wrong: true` may put a wrong type anywhere, drop `user` or `user.user_id`, or add unknown fields.
 */
const eventModeArb = (wrong) =>
  fc
    .tuple(
      fc.tuple(...OBJECT_FIELDS.map((field) => topFieldArb(field, wrong))),
      userIdValueArb(wrong),
      wrong
        ? fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: unknownFieldsArb })
        : fc.constant([]),
      wrong ? fc.boolean() : fc.constant(true),
    )
    .map(([fields, userId, unknown, userPresent]) => {
      const entries = OBJECT_FIELDS.flatMap((field, i) =>
        fields[i] === undefined ? [] : [[field, fields[i]]],
      );
      const event = ownObject([...unknown, ...entries]);
      if (userPresent && kindOf(event.user) !== "object") event.user = {};
      if (kindOf(event.user) === "object") {
        if (userId === undefined) delete event.user.user_id;
        else event.user.user_id = userId;
      }
      return event;
    });

/** Sets an own property, even "__proto__". */
const setOwn = (object, key, value) =>
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });

/** Exactly one violation, injected into a valid event; `name` is what the refusal must name. */
const violationArb = fc.oneof(
  fc
    .constantFrom(...Object.keys(FIELD_TYPES))
    .chain((path) => wrongFor(FIELD_TYPES[path]).map((value) => ({ kind: "type", name: path, value }))),
  fc.record({ kind: fc.constant("top"), name: fc.constantFrom(...OBJECT_FIELDS), value: wrongFor("object") }),
  fc.record({
    kind: fc.constant("unknown"),
    name: fc
      .oneof(keyArb, fc.constantFrom("secrets", "configuration"))
      .filter((k) => !OBJECT_FIELDS.includes(k)),
    value: jsonValueArb,
  }),
  fc.record({ kind: fc.constant("noUser"), name: fc.constant("user") }),
  fc.record({
    kind: fc.constant("userId"),
    name: fc.constant("user.user_id"),
    value: fc.constantFrom(undefined, ""),
  }),
);

function injectViolation(event, violation) {
  const { kind, name, value } = violation;
  if (kind === "type") {
    const [parent, child] = name.split(".");
    if (kindOf(event[parent]) !== "object") setOwn(event, parent, {});
    setOwn(event[parent], child, value);
  } else if (kind === "top" || kind === "unknown") {
    setOwn(event, name, value);
  } else if (kind === "noUser") {
    delete event.user;
  } else if (value === undefined) {
    delete event.user.user_id;
  } else {
    event.user.user_id = value;
  }
  return event;
}

/**
 * `{ event, name }`: a valid event (name null), one with exactly one violation (the refusal must
 * name it), or one with any number of violations (name undefined: the refusal names one of them).
 */
const eventArb = fc.oneof(
  { weight: 3, arbitrary: eventModeArb(false).map((event) => ({ event, name: null })) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(eventModeArb(false), violationArb)
      .map(([event, violation]) => ({ event: injectViolation(event, violation), name: violation.name })),
  },
  { weight: 1, arbitrary: eventModeArb(true).map((event) => ({ event, name: undefined })) },
);

/** The field names an `invalid_event` refusal may name for this event; empty when it is valid. */
function violations(event) {
  const named = [];
  for (const key of Object.keys(event)) {
    if (!OBJECT_FIELDS.includes(key) || kindOf(event[key]) !== "object") named.push(key);
  }
  if (!Object.hasOwn(event, "user")) named.push("user");
  for (const [path, type] of Object.entries(FIELD_TYPES)) {
    const [parent, child] = path.split(".");
    const container = event[parent];
    if (
      kindOf(container) === "object" &&
      Object.hasOwn(container, child) &&
      kindOf(container[child]) !== type
    ) {
      named.push(path);
    }
  }
  const user = event.user;
  if (kindOf(user) === "object" && (typeof user.user_id !== "string" || user.user_id === "")) {
    named.push("user.user_id");
  }
  return named;
}

test("property 3: random v3 events are accepted or refused as invalid_event naming the field", async () => {
  const started = performance.now();
  let accepted = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(eventArb, async ({ event, name }) => {
      const text = JSON.stringify(event);
      const response = await stack.send(await stack.signedRequest(text));
      const named = violations(event);
      if (name !== undefined) assert.deepEqual([...new Set(named)], name === null ? [] : [name], "generator");
      if (named.length === 0) {
        assertLogin(response);
        accepted++;
      } else {
        assertRefused(response, 400);
        assert.equal(response.body.error, "invalid_event", response.text);
        assert.ok(
          named.some((name) => response.body.error_description.includes(`"${name}"`)),
          `${response.body.error_description} names none of ${JSON.stringify(named)}`,
        );
        refused++;
      }
    }),
    { seed: SEEDS.events, numRuns: RUNS.events },
  );
  assert.ok(
    accepted > RUNS.events / 10 && refused > RUNS.events / 10,
    `${accepted} accepted, ${refused} refused`,
  );
  timings.events = Math.round(performance.now() - started);
});

// ---------------------------------------------------------------------------------------------
// 4. Explicit hostile cases.
// ---------------------------------------------------------------------------------------------

/** Sends a signed body; returns the response. */
const sendSigned = async (body, options) => stack.send(await stack.signedRequest(body, options));

describe("explicit hostile cases", () => {
  let start;
  before(() => (start = performance.now()));
  after(() => (timings.explicit = Math.round(performance.now() - start)));

  test("10,000 levels of objects in user.app_metadata: no crash, no 500", async () => {
    const depth = 10_000;
    const body = `{"user":{"user_id":"auth0|deep","app_metadata":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}}`;
    assert.ok(byteLength(body) <= MAX_BODY_BYTES);
    const response = await sendSigned(body);
    assertHandled(response);
    assert.ok([200, 400].includes(response.status), response.text);
  });

  test("~32,000 levels of arrays in user.app_metadata (the most a 64 KiB body holds): no 500", async () => {
    const depth = 32_000;
    const body = `{"user":{"user_id":"auth0|deep","app_metadata":{"a":${"[".repeat(depth)}${"]".repeat(depth)}}}}`;
    assert.ok(byteLength(body) <= MAX_BODY_BYTES);
    const response = await sendSigned(body);
    assertHandled(response);
    assert.ok([200, 400].includes(response.status), response.text);
  });

  test("deep app_metadata and an Action that sets app_metadata: no 500, the metadata batch survives", async () => {
    stack.probe.onExecute = (_event, api) => api.user.setAppMetadata("touched", true);
    try {
      for (const depth of [1_000, 10_000]) {
        const body = `{"user":{"user_id":"auth0|deep","app_metadata":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}}`;
        const response = await sendSigned(body);
        assertHandled(response);
        assert.ok([200, 400].includes(response.status), response.text);
      }
      const arrays = 32_000;
      const body = `{"user":{"user_id":"auth0|deep","app_metadata":{"a":${"[".repeat(arrays)}${"]".repeat(arrays)}}}}`;
      const response = await sendSigned(body);
      assertHandled(response);
      assert.ok([200, 400].includes(response.status), response.text);
    } finally {
      stack.probe.onExecute = null;
    }
  });

  test("deep nesting in an unknown top-level field and in request.query: refused or accepted, no 500", async () => {
    const deep = '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000);
    const unknown = await sendSigned(`{"x":${deep},"user":{"user_id":"a"}}`);
    assertRefused(unknown, 400);
    const query = await sendSigned(`{"request":{"query":${deep}},"user":{"user_id":"a"}}`);
    assertHandled(query);
    assert.ok([200, 400].includes(query.status), query.text);
  });

  test("a deeply nested event is refused as invalid_event or runs its Actions, never blamed on one that did not run", async () => {
    const objects = '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000);
    const arrays = `{"a":${"[".repeat(32_000)}${"]".repeat(32_000)}}`;
    for (const body of [
      `{"user":{"user_id":"auth0|deep","app_metadata":${objects}}}`,
      `{"user":{"user_id":"auth0|deep","app_metadata":${arrays}}}`,
      `{"request":{"query":${objects}},"user":{"user_id":"a"}}`,
    ]) {
      const response = await sendSigned(body);
      if (response.status === 400) {
        assertRefused(response, 400);
        assert.equal(response.body.error, "invalid_event");
      } else {
        assertLogin(response);
      }
    }
  });

  test("a 60 KB name, user_id and unknown key are handled", async () => {
    const big = "n".repeat(60_000);
    assertLogin(await sendSigned(JSON.stringify({ user: { user_id: "auth0|1", name: big } })));
    assertLogin(await sendSigned(JSON.stringify({ user: { user_id: big } })));
    assertLogin(await sendSigned(JSON.stringify({ user: { user_id: "auth0|1", name: "é".repeat(30_000) } })));
    assertRefused(await sendSigned(JSON.stringify({ [big]: {}, user: { user_id: "a" } })), 400);
  });

  test("non-UTF-8 bodies → 400 invalid_request", async () => {
    const ascii = (text) => [...encoder.encode(text)];
    const cases = [
      [0xff, 0xfe], // a UTF-16 LE byte order mark alone
      [0xff, 0xfe, ...[...'{"user":{"user_id":"a"}}'].flatMap((c) => [c.charCodeAt(0), 0])], // UTF-16 LE
      [...ascii('{"user":{"user_id":"'), 0xff, 0xfe, ...ascii('"}}')],
      [...ascii('{"user":{"user_id":"'), 0xc0, 0xaf, ...ascii('"}}')], // overlong "/"
      [...ascii('{"user":{"user_id":"'), 0xed, 0xa0, 0x80, ...ascii('"}}')], // encoded surrogate
      [...ascii('{"user":{"user_id":"'), 0xe2, 0x82, ...ascii('"}}')], // truncated sequence
      [...ascii('{"user":{"user_id":"a","'), 0x80, ...ascii('":1}}')], // in a key
    ];
    for (const bytes of cases) {
      const response = await sendSigned(new Uint8Array(bytes));
      assertRefused(response, 400);
      assert.equal(response.body.error, "invalid_request");
    }
  });

  test("a UTF-8 byte order mark before valid JSON: 200 or 400, never 500", async () => {
    const response = await sendSigned(
      new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode('{"user":{"user_id":"a"}}')]),
    );
    assertHandled(response);
    assert.ok([200, 400].includes(response.status), response.text);
  });

  test("__proto__, constructor and prototype keys in the event: no prototype pollution", async () => {
    const before = prototypeSnapshot();
    const accepted = [
      '{"user":{"user_id":"a","app_metadata":{"__proto__":{"polluted":true}}}}',
      '{"user":{"user_id":"a","app_metadata":{"constructor":{"prototype":{"polluted":true}}}}}',
      '{"user":{"user_id":"a","user_metadata":{"__proto__":{"polluted":true},"prototype":{"polluted":true}}}}',
      '{"user":{"user_id":"a","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
      '{"user":{"user_id":"a","app_metadata":{"\\u005f_proto__":{"polluted":true}}}}',
      '{"client":{"__proto__":{"polluted":true}},"user":{"user_id":"a"}}',
      '{"request":{"query":{"__proto__":{"polluted":true}}},"user":{"user_id":"a"}}',
    ];
    for (const body of accepted) {
      assertLogin(await sendSigned(body));
      assertPrototypesUnchanged(before);
    }
    const refused = [
      '{"__proto__":{"polluted":true},"user":{"user_id":"a"}}',
      '{"\\u005f_proto__":{"polluted":true},"user":{"user_id":"a"}}',
      '{"constructor":{"prototype":{"polluted":true}},"user":{"user_id":"a"}}',
      '{"prototype":{"polluted":true},"user":{"user_id":"a"}}',
      '{"toString":{},"user":{"user_id":"a"}}',
      // A user_id only on a "__proto__" key is not a user_id.
      '{"user":{"__proto__":{"user_id":"evil"}}}',
      '{"__proto__":{"user":{"user_id":"evil"}}}',
    ];
    for (const body of refused) {
      assertRefused(await sendSigned(body), 400);
      assertPrototypesUnchanged(before);
    }
  });

  test('an Action calling setAppMetadata("__proto__", {polluted: true}) and friends: no pollution', async () => {
    const before = prototypeSnapshot();
    stack.probe.onExecute = (_event, api) => {
      api.user.setAppMetadata("__proto__", { polluted: true });
      api.user.setAppMetadata("constructor", { prototype: { polluted: true } });
      api.user.setUserMetadata("__proto__", { polluted: true });
      api.idToken.setCustomClaim("__proto__", { polluted: true });
      api.accessToken.setCustomClaim("constructor", { prototype: { polluted: true } });
      api.cache.set("__proto__", "polluted");
    };
    try {
      const response = await sendSigned(
        '{"user":{"user_id":"a","app_metadata":{"__proto__":{"from":"input"},"plan":"free"}}}',
      );
      assertLogin(response, { clean: false });
      assertPrototypesUnchanged(before);
      const { body } = response;
      assert.equal(body.access.denied, false, response.text);
      assert.equal(body.error, undefined);
      // The keys are plain data, present in the result (last write wins), and reach no prototype.
      const appMetadata = body.user.app_metadata;
      assert.deepEqual(Object.keys(appMetadata).sort(), ["__proto__", "constructor", "plan"]);
      assert.deepEqual(appMetadata["__proto__"], { polluted: true });
      assert.equal(Object.getPrototypeOf(appMetadata), Object.prototype);
      assert.ok(Object.hasOwn(body.user.user_metadata, "__proto__"));
      assert.ok(Object.hasOwn(body.idToken.claims, "__proto__"));
      assert.ok(Object.hasOwn(body.accessToken.claims, "constructor"));
      // The trigger cache persisted a "__proto__" record to KV; the next login reads it back.
      assert.match(stack.kv.store.get("actions-cache/post-login"), /"__proto__"/);
    } finally {
      stack.probe.onExecute = null;
    }
    let read;
    stack.probe.onExecute = (_event, api) => (read = api.cache.get("__proto__"));
    try {
      assertLogin(await sendSigned(JSON.stringify(validEvent())), { clean: false });
      assert.equal(read?.value, "polluted");
      assertPrototypesUnchanged(before);
    } finally {
      stack.probe.onExecute = null;
    }
  });

  test('a redirect with a "__proto__" query key: a plain parameter, no pollution', async () => {
    const before = prototypeSnapshot();
    stack.probe.onExecute = (_event, api) => {
      api.redirect.sendUserTo("https://example.com/next", { query: JSON.parse('{"__proto__":"x"}') });
    };
    try {
      const response = await sendSigned(JSON.stringify(validEvent()));
      assertHandled(response);
      assert.equal(response.status, 200, response.text);
      assertPrototypesUnchanged(before);
      // A redirect suspends the login (Auth0): the result carries the redirect and a state.
      const url = new URL(response.body.redirect.url);
      assert.equal(url.origin + url.pathname, "https://example.com/next");
      assert.equal(url.searchParams.get("__proto__"), "x");
      assert.equal(typeof response.body.state, "string");
    } finally {
      stack.probe.onExecute = null;
    }
  });

  test("duplicate keys in the JSON text: last wins, no crash", async () => {
    const last = (user_id) => (response) => {
      assertLogin(response);
      assert.equal(stack.probe.lastEvent.user.user_id, user_id);
    };
    const cases = [
      ['{"user":{"user_id":"first","user_id":"last"}}', last("last")],
      ['{"user":5,"user":{"user_id":"b"}}', last("b")],
      ['{"user":{"user_id":"a"},"user":5}', (r) => assertRefused(r, 400)],
      ['{"user":{"user_id":"a"},"user":{"email":"x@y"}}', (r) => assertRefused(r, 400)],
      ['{"secrets":{},"secrets":{},"user":{"user_id":"a"}}', (r) => assertRefused(r, 400)],
      ['{"user":{"user_id":"a","app_metadata":{"k":1,"k":2,"k":{"__proto__":{}}}}}', last("a")],
    ];
    for (const [body, check] of cases) check(await sendSigned(body));
  });

  test("a secrets or configuration field → 400 invalid_event naming it, and the Action never runs", async () => {
    const cases = [
      ['{"secrets":{"CLIENT_SECRET":"x"},"user":{"user_id":"a"}}', "secrets"],
      ['{"secrets":null,"user":{"user_id":"a"}}', "secrets"],
      ['{"secrets":"x","user":{"user_id":"a"}}', "secrets"],
      ['{"configuration":{"ON_TOKEN_ERROR":"continue"},"user":{"user_id":"a"}}', "configuration"],
      ['{"configuration":{"ROLES_CLAIM":"https://x/roles"},"user":{"user_id":"a"}}', "configuration"],
      ['{"\\u0073ecrets":{},"user":{"user_id":"a"}}', "secrets"],
      ['{"user":{"user_id":"a"},"configuration":[]}', "configuration"],
    ];
    for (const [body, field] of cases) {
      const response = await sendSigned(body);
      assertRefused(response, 400);
      assert.equal(response.body.error, "invalid_event");
      assert.match(response.body.error_description, new RegExp(`"${field}"`));
    }
    // Inside user they are ordinary user data: the Action still gets only the Worker's values.
    const nested = await sendSigned(
      '{"user":{"user_id":"a","secrets":{"CLIENT_SECRET":"x"},"configuration":{"ON_TOKEN_ERROR":"x"}}}',
    );
    assertLogin(nested);
    assert.deepEqual({ ...stack.probe.lastEvent.secrets }, {});
  });

  test("numbers: 1e400, -1e400, 1e-400, -0 and huge integers", async () => {
    const accepted = [
      '{"user":{"user_id":"a","app_metadata":{"big":1e400,"neg":-1e400,"tiny":1e-400,"zero":-0}}}',
      '{"user":{"user_id":"a"},"stats":{"logins_count":1e400}}',
      '{"user":{"user_id":"a"},"stats":{"logins_count":-0}}',
      '{"user":{"user_id":"a"},"stats":{"logins_count":123456789012345678901234567890}}',
    ];
    for (const body of accepted) assertLogin(await sendSigned(body));
    for (const body of [
      '{"user":{"user_id":1e400}}',
      '{"user":{"user_id":-0}}',
      '{"user":{"user_id":"a","email":1e400}}',
    ]) {
      const response = await sendSigned(body);
      assertRefused(response, 400);
      assert.equal(response.body.error, "invalid_event");
    }
    // An Action writing the Infinity it was given: it becomes null, the result stays JSON.
    stack.probe.onExecute = (event, api) => api.user.setAppMetadata("copy", event.user.app_metadata.big);
    try {
      const response = await sendSigned('{"user":{"user_id":"a","app_metadata":{"big":1e400}}}');
      assertLogin(response, { clean: false });
      assert.equal(response.body.access.denied, false);
      // JSON turns Infinity into null, and null means "delete": "copy" is not set at all.
      assert.deepEqual(response.body.user.app_metadata, { big: null });
    } finally {
      stack.probe.onExecute = null;
    }
  });

  test("unicode escapes and NUL bytes", async () => {
    const accepted = [
      ['{"user":{"user_id":"a\\u0000b","name":"\\u0000"}}', "a\u0000b"],
      ['{"user":{"user_id":"\\ud800"}}', "\ud800"],
      ['{"user":{"user_id":"\\udfff\\ud800x"}}', "\udfff\ud800x"],
      ['{"\\u0075ser":{"\\u0075ser_id":"\\u00e9\\u2028\\u2029\\ufeff"}}', "é\u2028\u2029\ufeff"],
      ['{"user":{"user_id":"a","app_metadata":{"\\u0000":"\\u0000","\\ud83d\\ude00":1}}}', "a"],
      [JSON.stringify({ user: { user_id: "😀".repeat(1000) } }), "😀".repeat(1000)],
    ];
    for (const [body, userId] of accepted) {
      assertLogin(await sendSigned(body));
      assert.equal(stack.probe.lastEvent.user.user_id, userId);
    }
    const refused = [
      '{"user":{"user_id":"a\u0000b"}}', // a raw NUL inside a string is not JSON
      '{"user":{"user_id":"a"}}\u0000',
      '\u0000{"user":{"user_id":"a"}}',
      '{"user":{"user_id":"\\u00"}}',
      '{"user":{"user_id":"\\x41"}}',
      '{"user":{"user_id":"\\ud800"}',
    ];
    for (const body of refused) {
      const response = await sendSigned(body);
      assertRefused(response, 400);
      assert.equal(response.body.error, "invalid_request");
    }
  });

  test("a content-length that lies: the declared size refuses early, the real size rules otherwise", async () => {
    const body = JSON.stringify(validEvent());
    for (const [declared, status] of [
      ["0", 200],
      ["1", 200],
      ["-1", 200],
      ["abc", 200],
      ["Infinity", 200],
      [String(MAX_BODY_BYTES), 200],
      [String(MAX_BODY_BYTES + 1), 413],
      ["1e9", 413],
      ["0x10001", 413],
    ]) {
      const response = await sendSigned(body, { headers: { "content-length": declared } });
      if (status === 200) assertLogin(response);
      else assertRefused(response, status);
    }
    // Declared small, sent large: the stream is cut at the limit.
    const big = padded(body, MAX_BODY_BYTES + 10);
    assertRefused(await sendSigned(big, { headers: { "content-length": "10" } }), 413);
  });

  test("a 100 KB X-Signature header → 401, nothing done", async () => {
    const response = await sendSigned(JSON.stringify(validEvent()), {
      signature: `t=${nowSeconds()},v1=${"a".repeat(100_000)}`,
    });
    assertRefused(response, 401);
  });

  test("a body stream that fails mid-read (client went away) is a client error, not a 500", async () => {
    const body = new ReadableStream({
      pull(controller) {
        controller.enqueue(encoder.encode('{"user":'));
        controller.error(new Error("client went away"));
      },
    });
    const request = new Request(`${URL_BASE}/post-login`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-signature": `t=${nowSeconds()},v1=${"0".repeat(64)}`,
      },
      body,
      duplex: "half",
    });
    assertRefused(await stack.send(request), 400);
  });

  test("an empty, whitespace-only or non-object body → 400", async () => {
    for (const body of ["", " \n\t", "null", "[]", '"user"', "42", "true"]) {
      assertRefused(await sendSigned(body), 400);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 5 and 6. The isolate still works; the whole file made at most one token request and leaked
// nothing.
// ---------------------------------------------------------------------------------------------

test("property 5: after all of the above a normal login still succeeds, with at most 1 token request", async () => {
  const response = await sendSigned(JSON.stringify(validEvent()));
  assertLogin(response);
  assert.equal(response.delta.tokenRequests, 0, "the token in isolate memory was used");
  assert.ok(stack.tenant.tokenRequests <= 1, `${stack.tenant.tokenRequests} token requests`);
  // With ON_TOKEN_ERROR=deny, every accepted login above proved the token was there: exactly one.
  assert.equal(stack.tenant.tokenRequests, 1);
  assert.equal(stack.tenant.badTokenRequests, 0, "a token request did not carry the configured client");
  assert.equal(stack.tenant.otherRequests, 0, "the Action called something other than /oauth/token");
  assert.deepEqual(stack.waitUntilFailures, [], "a waitUntil promise rejected");
  assert.deepEqual(unhandled, [], "an unhandled rejection escaped");
  assert.ok(!logs.some((line) => line.includes('"event":"panic"')), "the wasm Action panicked");
});

test("property 6: no response or log line carried CLIENT_SECRET, LOGIN_HANDLER_SECRET or the token", () => {
  assert.ok(stack.tenant.issued.length === 1);
  assert.deepEqual(leaks, []);
});
