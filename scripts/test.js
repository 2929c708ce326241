// `npm test`: Rust unit and integration tests, JS unit tests, then the end-to-end tests under
// `wrangler dev`. Installs and builds whatever is missing first.
import { run, setup } from "./lib/setup.js";

setup();
run("cargo", ["test"]);
run(process.execPath, ["--test", "tests/unit/"]);
run(process.execPath, ["--test", "--test-concurrency=1", "tests/e2e/"]);
