// A suspended login's state across locations under `wrangler dev`: two processes with their own
// KV (as two locations see different KV replicas), bound to one LOGIN_STATES namespace (process 0
// hosts the objects, process 1 reaches them through the dev registry). A login suspended in one
// location resumes in the other at once, and a replay in the first — which never saw the state
// taken — is refused: nothing runs twice.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { signHs256 } from "../../js/runtime/hs256.js";
import { stateKey } from "../../js/runtime/suspend.js";
import { root } from "../../scripts/lib/setup.js";
import {
  WorkerProcess,
  kvList,
  loginEvent,
  postLogin,
  startTenant,
  tempPersistDir,
  workerEnv,
} from "../support/stack.js";

const REDIRECT_SECRET = "e2e-states-secret-8c2f4a19";
const fixture = join(root, "tests", "fixtures", "redirect-worker");
const hostConfig = join(fixture, "wrangler.states.toml");
const memberConfig = join(fixture, ".wrangler.member.toml");

/** The host's config as another Worker whose LOGIN_STATES objects live in the host's process. */
function writeMemberConfig() {
  const text = readFileSync(hostConfig, "utf8")
    .replace(/^name = ".*"$/m, 'name = "auth0-edge-post-login-redirect-member"')
    .replace(/^class_name = "LoginStateStore"$/m, '$&\nscript_name = "auth0-edge-post-login-redirect-states"')
    .replace(/\[\[migrations\]\][^[]*/s, "");
  writeFileSync(memberConfig, text);
}

describe("a suspended login across two locations", () => {
  let sim;
  let registry;
  const persistDirs = [tempPersistDir(), tempPersistDir()];
  const workers = [];

  before(async () => {
    sim = await startTenant();
    registry = mkdtempSync(join(tmpdir(), "edge-login-registry-"));
    writeMemberConfig();
    const env = workerEnv(sim, { REDIRECT_SECRET });
    const processEnv = { WRANGLER_REGISTRY_PATH: registry };
    workers.push(
      await WorkerProcess.start({ env, persistTo: persistDirs[0], config: hostConfig, processEnv }),
    );
    workers.push(
      await WorkerProcess.start({ env, persistTo: persistDirs[1], config: memberConfig, processEnv }),
    );
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await sim?.close();
    rmSync(memberConfig, { force: true });
    for (const dir of [registry, ...persistDirs]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("suspended in one, resumed in the other at once, refused when replayed in the first", async () => {
    const [host, member] = workers;
    const first = await postLogin(member, loginEvent());
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.redirect.action, "consent-redirect");
    const { state } = first.body;
    // In the state's object, not in the suspending location's KV.
    assert.ok(!(await kvList(persistDirs[1])).some((entry) => entry.name === stateKey(state)));

    const back = signHs256(
      { state, exp: Math.floor(Date.now() / 1000) + 60, consent: "granted" },
      REDIRECT_SECRET,
    );
    const resumed = await postLogin(host, { state, body: { my_token: back } }, { path: "/continue-login" });
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal(resumed.body.idToken.claims["https://example.com/consent"], "granted");
    assert.equal(resumed.body.accessToken.claims["https://example.com/step"], 2);

    const replayed = await postLogin(
      member,
      { state, body: { my_token: back } },
      { path: "/continue-login" },
    );
    assert.equal(replayed.status, 400, replayed.text);
    assert.equal(replayed.body.error, "invalid_state");
    for (const worker of workers) {
      assert.deepEqual(
        worker.logs().filter((r) => r.event === "login_state_object_unavailable"),
        [],
        "the objects answered",
      );
    }
  });
});
