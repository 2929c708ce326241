// Makes a fresh checkout runnable: npm packages, the wasm32 target, the wasm-bindgen CLI pinned
// to the crate version, and the wasm build. Every step is skipped when already done, because the
// first CLI install and wasm build take minutes on two cores.
// Uses only Node built-ins: it runs before `npm ci` has installed anything.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CRATE_WASM = join(root, "target", "wasm32-unknown-unknown", "release", "post_login_action.wasm");
export const BUILD_DIR = join(root, "build");
export const WASM_OUT = join(BUILD_DIR, "index_bg.wasm");

/** Runs a command in the repository root, inheriting stdio; throws when it fails. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${result.status ?? result.signal}`);
  }
  return result;
}

function output(command, args) {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : null;
}

function say(message) {
  process.stderr.write(`[setup] ${message}\n`);
}

/** `npm ci` unless node_modules matches package-lock.json already. */
export function ensureNodeModules() {
  const installed = join(root, "node_modules", ".package-lock.json");
  const lock = join(root, "package-lock.json");
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  say("installing npm packages (npm ci)");
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

/** The exact wasm-bindgen version Cargo.lock resolved (Cargo.toml pins it with `=`). */
export function pinnedWasmBindgenVersion() {
  const lock = readFileSync(join(root, "Cargo.lock"), "utf8");
  const match = lock.match(/\[\[package\]\]\nname = "wasm-bindgen"\nversion = "([^"]+)"/);
  if (!match) throw new Error("Cargo.lock has no wasm-bindgen package");
  return match[1];
}

/** Installs wasm-bindgen-cli at the pinned version unless that version is on PATH. */
export function ensureWasmBindgenCli() {
  const wanted = pinnedWasmBindgenVersion();
  const found = output("wasm-bindgen", ["--version"]);
  if (found === `wasm-bindgen ${wanted}`) return;
  say(`installing wasm-bindgen-cli ${wanted} (found: ${found ?? "none"}); this takes a few minutes`);
  // No --locked: the CLI's own lock file names a yanked crate (see workers-build.md).
  run("cargo", ["install", "wasm-bindgen-cli", "--version", wanted]);
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const WASM_OPT_FLAGS = [
  "-Oz",
  "--strip-debug",
  "--strip-producers",
  // Rust >= 1.84 emits bulk-memory and friends; wasm-opt must be told it may keep them.
  "--enable-bulk-memory",
  "--enable-nontrapping-float-to-int",
  "--enable-sign-ext",
  "--enable-mutable-globals",
  "--enable-reference-types",
  "--enable-multivalue",
];

/** wasm-bindgen then wasm-opt for each [target, dir], unless dir is newer than its inputs. */
function bindgen(crateWasm, outputs, force) {
  for (const [target, dir] of outputs) {
    const wasm = join(dir, "index_bg.wasm");
    const upToDate =
      existsSync(wasm) &&
      statSync(crateWasm).mtimeMs <= statSync(wasm).mtimeMs &&
      newestMtime(join(root, "src")) <= statSync(wasm).mtimeMs;
    if (upToDate && !force) continue;
    mkdirSync(dir, { recursive: true });
    run("wasm-bindgen", [
      "--target",
      target,
      "--out-dir",
      dir,
      "--out-name",
      "index",
      "--no-typescript",
      // Generates __wbg_reset_state: the runtime replaces the instance after a Rust panic.
      // (Only for workerd's module target; the Node flavour is for benchmarks.)
      ...(target === "module" ? ["--experimental-reset-state-function"] : []),
      crateWasm,
    ]);
    run(process.execPath, [
      join(root, "node_modules", "binaryen", "bin", "wasm-opt"),
      ...WASM_OPT_FLAGS,
      wasm,
      "-o",
      wasm,
    ]);
  }
}

/**
 * cargo build → wasm-bindgen → wasm-opt. Skips what is up to date.
 * - build/: the Worker's module (`import source` of the wasm, for workerd);
 * - build/node/: the same Action for Node (benchmarks measure its CPU cost outside workerd);
 * - build/test-hooks/ (with `testHooks`): the Action with the test-only hooks, for the
 *   panic-recovery and fault tests. It has its own cargo target dir so the shipped build is
 *   never rebuilt with test features.
 */
export function buildWasm({ force = false, testHooks = false } = {}) {
  ensureWasmBindgenCli();
  run("cargo", ["build", "--release", "--target", "wasm32-unknown-unknown"]);
  bindgen(
    CRATE_WASM,
    [
      ["module", BUILD_DIR],
      ["experimental-nodejs-module", join(BUILD_DIR, "node")],
    ],
    force,
  );
  if (!testHooks) return;
  const targetDir = join(root, "target", "test-hooks");
  run("cargo", [
    "build",
    "--release",
    "--target",
    "wasm32-unknown-unknown",
    "--features",
    "test-hooks",
    "--target-dir",
    targetDir,
  ]);
  bindgen(
    join(targetDir, "wasm32-unknown-unknown", "release", "post_login_action.wasm"),
    [["module", join(BUILD_DIR, "test-hooks")]],
    force,
  );
}

/** Everything `wrangler dev` needs (and, with `testHooks`, the test build too). */
export function setup({ testHooks = false } = {}) {
  ensureNodeModules();
  buildWasm({ testHooks });
}
