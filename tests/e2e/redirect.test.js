// End to end under `wrangler dev`: the redirect round trip through real workerd and local KV —
// POST /post-login suspends at api.redirect.sendUserTo (Rust Action first, then the redirecting
// JS Action of tests/fixtures/redirect-worker), POST /continue-login resumes it once.

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { signHs256, verifyHs256 } from "../../js/runtime/hs256.js";
import { stateKey } from "../../js/runtime/suspend.js";
import { root } from "../../scripts/lib/setup.js";
import {
  LOGIN_HANDLER_SECRET,
  WorkerProcess,
  kvList,
  loginEvent,
  postLogin,
  record,
  startTenant,
  tempPersistDir,
  workerEnv,
} from "../support/stack.js";

const REDIRECT_SECRET = "e2e-redirect-secret-5b1d0c7e";
const config = join(root, "tests", "fixtures", "redirect-worker", "wrangler.toml");

let sim;
let worker;
let persistTo;
const bodies = [];

async function send(path, payload) {
  const response = await postLogin(worker, payload, { path });
  bodies.push(response.text);
  return response;
}

before(async () => {
  sim = await startTenant();
  persistTo = tempPersistDir();
  record.secrets([REDIRECT_SECRET]);
  worker = await WorkerProcess.start({ env: workerEnv(sim, { REDIRECT_SECRET }), persistTo, config });
});

after(async () => {
  await worker?.stop();
  record.lines(worker?.lines ?? []);
  await sim?.close();
  if (persistTo) rmSync(persistTo, { recursive: true, force: true });
});

describe("redirect round trip under wrangler dev", () => {
  let first;
  let back;

  test("POST /post-login suspends after the redirecting Action and stores the state in KV", async () => {
    first = await send("/post-login", loginEvent());
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.access.denied, false);
    assert.equal(first.body.redirect.action, "consent-redirect");
    const url = new URL(first.body.redirect.url);
    assert.equal(url.origin + url.pathname, "https://consent.example.com/ask");
    assert.equal(url.searchParams.get("state"), first.body.state);
    const sessionToken = verifyHs256(url.searchParams.get("session_token"), REDIRECT_SECRET);
    assert.equal(sessionToken.sub, loginEvent().user.user_id);
    assert.equal(sessionToken.exp - sessionToken.iat, 60);
    assert.equal(
      first.body.accessToken.claims["https://example.com/step"],
      undefined,
      "the later Action has not run",
    );
    assert.ok((await kvList(persistTo)).some((entry) => entry.name === stateKey(first.body.state)));
    back = signHs256(
      { state: first.body.state, exp: Math.floor(Date.now() / 1000) + 60, consent: "granted" },
      REDIRECT_SECRET,
    );
  });

  test("POST /continue-login runs onContinuePostLogin, then the later Action, with the transaction metadata", async () => {
    const second = await send("/continue-login", { state: first.body.state, body: { my_token: back } });
    assert.equal(second.status, 200, second.text);
    assert.equal(second.body.access.denied, false, second.text);
    assert.equal(second.body.idToken.claims["https://example.com/consent"], "granted");
    assert.equal(second.body.accessToken.claims["https://example.com/step"], 2);
    assert.equal(second.body.redirect, null);
    assert.ok(
      !(await kvList(persistTo)).some((entry) => entry.name === stateKey(first.body.state)),
      "deleted on use",
    );
  });

  test("the same state a second time → 400 invalid_state", async () => {
    const again = await send("/continue-login", { state: first.body.state, body: { my_token: back } });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, "invalid_state");
  });

  test("an unsigned continue → 401", async () => {
    const response = await postLogin(
      worker,
      { state: first.body.state },
      { path: "/continue-login", signature: null },
    );
    assert.equal(response.status, 401);
  });

  test("no log line carries the state, a session token, the redirect secret or the handler secret", () => {
    const lines = worker.lines.join("\n");
    const sessionToken = new URL(first.body.redirect.url).searchParams.get("session_token");
    for (const secret of [first.body.state, sessionToken, back, REDIRECT_SECRET, LOGIN_HANDLER_SECRET]) {
      assert.ok(!lines.includes(secret), "a secret value was logged");
    }
    assert.ok(!bodies.slice(1).some((b) => b.includes(REDIRECT_SECRET)));
  });
});
