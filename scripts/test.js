// `npm test`: Rust unit, integration and property tests, JS unit tests, the end-to-end tests
// under `wrangler dev` (including the fault matrix), the load test, then the secret-hygiene
// check over everything those runs printed.
// Installs and builds whatever is missing first.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, setup } from "./lib/setup.js";

// The suite tests this repository's Worker: a team's own export (tenant/) is not bundled into it.
process.env.AUTH0_ACTIONS_EXPORT = "none";
await setup({ testHooks: true });
run("cargo", ["test"]);
run(process.execPath, ["--test", "tests/unit/"]);
const transcript = mkdtempSync(join(tmpdir(), "e2e-transcript-"));
const env = { ...process.env, E2E_TRANSCRIPT_DIR: transcript };
try {
  run(process.execPath, ["--test", "--test-concurrency=1", "tests/e2e/"], { env });
  run(process.execPath, ["--test", "tests/load/"], { env });
  run(process.execPath, ["--test", "tests/hygiene.test.js"], { env });
} finally {
  rmSync(transcript, { recursive: true, force: true });
}
