// The token broker's storage at rest under `wrangler dev`: with TOKEN_ENCRYPTION_KEY the token it
// keeps in its Durable Object storage is sealed (js/broker-object.js); a rotated key still opens
// what the old one sealed, so a recycled broker serves its stored token without a new request.

import assert from "node:assert/strict";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import {
  WorkerProcess,
  eventually,
  loginEvent,
  postLogin,
  startTenant,
  tempPersistDir,
  workerEnv,
} from "../support/stack.js";
import { SPEC_OLD, SPEC_ROTATED } from "../support/keys.js";

/** Every byte the token broker's persisted storage holds (SQLite files, WAL included), as text. */
function brokerBytes(persistTo) {
  const dir = join(persistTo, "v3", "do");
  if (!existsSync(dir)) return "";
  return readdirSync(dir)
    .filter((name) => name.endsWith("-TokenBroker"))
    .flatMap((name) =>
      readdirSync(join(dir, name), { withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => readFileSync(join(dir, name, entry.name)).toString("latin1")),
    )
    .join("\n");
}

/**
 * The token's 40-character pieces: SQLite splits a value across pages (a WAL frame holds a page
 * header in the middle of it), so the token is looked for piece by piece.
 */
const pieces = (token) =>
  Array.from({ length: Math.floor(token.length / 40) }, (_, i) => token.slice(i * 40, i * 40 + 40));

/**
 * One login on a fresh process over `persistTo`, then waits until the broker's storage
 * `holds(bytes)` (its write reaches the files after its answer) and stops the process.
 */
async function loginOnce(sim, persistTo, env, holds) {
  const worker = await WorkerProcess.start({ env: workerEnv(sim, env), persistTo });
  try {
    const answer = await postLogin(worker, loginEvent("auth0|at-rest"));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.access.denied, false);
    await worker.expectLogs((logs) => logs.some((r) => r.event === "broker_token"), "broker_token");
    await eventually(() => holds(brokerBytes(persistTo)), { what: "the broker's stored record" });
    return worker.logs({ broker: true });
  } finally {
    await worker.stop();
  }
}

describe("the token broker's storage at rest", () => {
  test("holds the token in plain text without a key (the check below can see it)", async () => {
    const sim = await startTenant();
    const persistTo = tempPersistDir();
    try {
      await loginOnce(sim, persistTo, {}, (bytes) =>
        pieces(sim.issuedTokens[0]).some((piece) => bytes.includes(piece)),
      );
      assert.equal(sim.issuedTokens.length, 1, "stored as it is (waited for above)");
    } finally {
      await sim.close();
      rmSync(persistTo, { recursive: true, force: true });
    }
  });

  test("is sealed with TOKEN_ENCRYPTION_KEY, and a rotated key still serves the stored token", async () => {
    const sim = await startTenant();
    const first = tempPersistDir();
    const second = tempPersistDir();
    try {
      await loginOnce(sim, first, { TOKEN_ENCRYPTION_KEY: SPEC_OLD }, (bytes) =>
        bytes.includes("sealed.v1.k1."),
      );
      assert.equal(sim.stats.tokenRequests, 1);
      const [token] = sim.issuedTokens;
      const stored = brokerBytes(first);
      assert.deepEqual(
        pieces(token).filter((piece) => stored.includes(piece)),
        [],
        "no piece of the token",
      );

      // A new process with only the broker's storage (an empty KV: the isolate must ask the
      // broker) and the key rotated: the broker opens its k1 record and serves that token.
      cpSync(join(first, "v3", "do"), join(second, "v3", "do"), { recursive: true });
      const logs = await loginOnce(sim, second, { TOKEN_ENCRYPTION_KEY: SPEC_ROTATED }, () => true);
      assert.equal(sim.stats.tokenRequests, 1, "served from the broker's storage, not requested");
      assert.deepEqual(
        logs.filter((r) => r.event === "storage_value_refused"),
        [],
        "nothing refused",
      );
    } finally {
      await sim.close();
      rmSync(first, { recursive: true, force: true });
      rmSync(second, { recursive: true, force: true });
    }
  });
});
