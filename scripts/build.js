// `npm run build` (and wrangler's [build] command): npm packages, the Rust toolchain's wasm target,
// the wasm-bindgen CLI, the wasm module and the Deploy CLI export's Actions, in build/.
import { ensureNodeModules, buildWasm, buildActions } from "./lib/setup.js";

ensureNodeModules();
buildWasm({ force: process.argv.includes("--force"), testHooks: process.argv.includes("--test-hooks") });
await buildActions();
