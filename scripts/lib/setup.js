// Makes a fresh checkout runnable: npm packages, the wasm32 target, the wasm-bindgen CLI pinned
// to the crate version, and the wasm build. Every step is skipped when already done, because the
// first CLI install and wasm build take minutes on two cores.
// Uses only Node built-ins: it runs before `npm ci` has installed anything.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join, dirname, resolve } from "node:path";
import { homedir } from "node:os";
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

/** `channel` and `targets` of rust-toolchain.toml (a two-key subset of TOML, read without a parser). */
export function pinnedToolchain() {
  const text = readFileSync(join(root, "rust-toolchain.toml"), "utf8");
  const channel = text.match(/^channel\s*=\s*"([^"]+)"/m)?.[1];
  if (!channel) throw new Error("rust-toolchain.toml names no channel");
  const list = text.match(/^targets\s*=\s*\[([^\]]*)\]/m)?.[1] ?? "";
  const targets = [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  return { channel, targets };
}

/**
 * The pinned toolchain with its targets. rustup adds rust-toolchain.toml's `targets` only when it
 * installs the toolchain itself; where the toolchain was already there, wasm32 is missing and the
 * first wasm build fails with E0463 "can't find crate for `core`".
 */
export function ensureRustTargets() {
  const { channel, targets } = pinnedToolchain();
  const toolchains = output("rustup", ["toolchain", "list"]);
  if (toolchains === null)
    throw new Error("rustup is not on PATH: install it from the rustup download server");
  if (!toolchains.split("\n").some((line) => line.startsWith(channel))) {
    say(
      `installing Rust ${channel} with ${targets.join(", ")} (rustup toolchain install, from rust-toolchain.toml)`,
    );
    run("rustup", ["toolchain", "install"]);
  }
  const installed = (output("rustup", ["target", "list", "--installed", "--toolchain", channel]) ?? "").split(
    "\n",
  );
  const missing = targets.filter((target) => !installed.includes(target));
  if (missing.length === 0) return;
  say(
    `adding ${missing.join(", ")} to Rust ${channel}: rustup does not add rust-toolchain.toml's targets to a toolchain it did not install`,
  );
  run("rustup", ["target", "add", ...missing, "--toolchain", channel]);
}

/** Where `cargo install` puts binaries: $CARGO_HOME/bin, by default ~/.cargo/bin. */
export function cargoBinDir() {
  return join(process.env.CARGO_HOME || join(homedir(), ".cargo"), "bin");
}

/** `wasm-bindgen` at the pinned version: the path that answers, or null. Cargo's own bin dir first. */
function findWasmBindgen(wanted) {
  for (const candidate of [join(cargoBinDir(), "wasm-bindgen"), "wasm-bindgen"]) {
    if (output(candidate, ["--version"]) === `wasm-bindgen ${wanted}`) return candidate;
  }
  return null;
}

let wasmBindgenPath = null;

/**
 * The wasm-bindgen CLI at exactly the crate's version (a skew fails with "schema version" errors).
 * Installed with `--force`: cargo's install record can name a binary that is gone, and then a plain
 * `cargo install` says "already installed" and installs nothing.
 */
export function ensureWasmBindgenCli() {
  const wanted = pinnedWasmBindgenVersion();
  wasmBindgenPath = findWasmBindgen(wanted);
  if (wasmBindgenPath) return wasmBindgenPath;
  say(
    `installing wasm-bindgen-cli ${wanted} into ${cargoBinDir()} (cargo install): it turns the Rust ` +
      "wasm into the module the Worker imports and must match the crate version exactly; " +
      "the first install compiles it from crates.io and takes about 5 minutes on 2 cores",
  );
  const started = Date.now();
  // No --locked: the CLI's own lock file names a yanked crate (see workers-build.md).
  run("cargo", ["install", "--force", "wasm-bindgen-cli", "--version", wanted]);
  wasmBindgenPath = findWasmBindgen(wanted);
  if (!wasmBindgenPath)
    throw new Error(`wasm-bindgen ${wanted} is not in ${cargoBinDir()} after cargo install`);
  say(`wasm-bindgen-cli ${wanted} installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return wasmBindgenPath;
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

/**
 * wasm-bindgen then wasm-opt for each [target, dir], unless dir is newer than its inputs.
 * Written to a scratch folder and renamed into place: a running `wrangler dev` reloads on change
 * and exits when it reads a half-written module.
 */
function bindgen(crateWasm, outputs, force) {
  for (const [target, dir] of outputs) {
    const wasm = join(dir, "index_bg.wasm");
    const upToDate =
      existsSync(wasm) &&
      statSync(crateWasm).mtimeMs <= statSync(wasm).mtimeMs &&
      newestMtime(join(root, "src")) <= statSync(wasm).mtimeMs;
    if (upToDate && !force) continue;
    mkdirSync(dir, { recursive: true });
    const scratch = mkdtempSync(join(dir, ".bindgen-"));
    try {
      run(wasmBindgenPath, [
        "--target",
        target,
        "--out-dir",
        scratch,
        "--out-name",
        "index",
        "--no-typescript",
        crateWasm,
      ]);
      const scratchWasm = join(scratch, "index_bg.wasm");
      run(process.execPath, [
        join(root, "node_modules", "binaryen", "bin", "wasm-opt"),
        ...WASM_OPT_FLAGS,
        scratchWasm,
        "-o",
        scratchWasm,
      ]);
      // The wasm first: index.js names its exports, so a reload between the two renames sees the
      // old glue over the new module only if an export changed, and reloads again a moment later.
      for (const name of ["index_bg.wasm", ...readdirSync(scratch).filter((n) => n !== "index_bg.wasm")]) {
        rmSync(join(dir, name), { recursive: true, force: true });
        renameSync(join(scratch, name), join(dir, name));
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
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
  ensureRustTargets();
  ensureWasmBindgenCli();
  if (!existsSync(CRATE_WASM))
    say("first wasm build of the Action (cargo build --release): a few minutes on 2 cores");
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

/**
 * The Deploy CLI export whose post-login Actions the Worker runs: `$AUTH0_ACTIONS_EXPORT` (a path,
 * relative to the repository; `none` for the Rust Action alone), else `tenant/` when it exists,
 * else none.
 */
export function actionsExportDir() {
  const named = process.env.AUTH0_ACTIONS_EXPORT;
  if (named === "none") return null;
  if (named) return resolve(root, named);
  const tenant = join(root, "tenant");
  return existsSync(tenant) ? tenant : null;
}

/** build/tenant-actions/: the export's Actions, bundled with the Worker (see tenant-actions.js). */
export async function buildActions() {
  const { buildTenantActions } = await import("./tenant-actions.js");
  const dir = actionsExportDir();
  const bindings = await buildTenantActions(dir, join(BUILD_DIR, "tenant-actions"));
  if (dir) say(`post-login Actions from ${dir}: ${bindings.map((b) => b.name).join(" → ")}`);
}

/** Everything `wrangler dev` needs (and, with `testHooks`, the test build too). */
export async function setup({ testHooks = false } = {}) {
  ensureNodeModules();
  buildWasm({ testHooks });
  await buildActions();
}
