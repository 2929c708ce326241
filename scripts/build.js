// `npm run build`: npm packages, the wasm-bindgen CLI and the wasm module in build/.
import { ensureNodeModules, buildWasm } from "./lib/setup.js";

ensureNodeModules();
buildWasm({ force: process.argv.includes("--force"), testHooks: process.argv.includes("--test-hooks") });
