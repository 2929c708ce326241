// The wasm module: its size (raw and gzip level 9) as the Worker ships it — build/index_bg.wasm,
// produced by `npm run build` (cargo → wasm-bindgen → wasm-opt -Oz) — and how long Node takes to
// compile and instantiate it (median over fresh processes: V8 would otherwise reuse its compiled
// code). On its own: node bench/wasm.js [--runs 20] [--json] [--crate-wasm PATH]

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

export const WASM_PATH = fileURLToPath(new URL("../build/index_bg.wasm", import.meta.url));
const DEFAULT_CRATE_WASM = fileURLToPath(
  new URL("../target/wasm32-unknown-unknown/release/post_login_action.wasm", import.meta.url),
);
const CHILD = fileURLToPath(new URL("./lib/wasm-child.js", import.meta.url));

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Raw and gzip -9 bytes of the shipped module (and of cargo's output before wasm-bindgen/wasm-opt). */
export function wasmSize(path = WASM_PATH, crateWasm = DEFAULT_CRATE_WASM) {
  const bytes = readFileSync(path);
  return {
    path: "build/index_bg.wasm",
    rawBytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
    cargoRawBytes: existsSync(crateWasm) ? statSync(crateWasm).size : null,
  };
}

function child(mode) {
  const result = spawnSync(process.execPath, [CHILD, mode], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`wasm-child ${mode} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").pop());
}

/** Median compile + instantiate time over `runs` fresh processes, and the median first import of the glue. */
export function wasmTiming(runs = 20) {
  const instantiate = Array.from({ length: runs }, () => child("instantiate"));
  const imports = Array.from({ length: runs }, () => child("import"));
  return {
    runs,
    compileMs: median(instantiate.map((r) => r.compileMs)),
    instantiateMs: median(instantiate.map((r) => r.instantiateMs)),
    compileInstantiateMs: median(instantiate.map((r) => r.totalMs)),
    compileInstantiateMaxMs: Math.max(...instantiate.map((r) => r.totalMs)),
    importWallMs: median(imports.map((r) => r.wallMs)),
    importCpuMs: median(imports.map((r) => r.cpuMs)),
  };
}

if (import.meta.url === new URL(process.argv[1], "file:").href) {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "20" },
      json: { type: "boolean", default: false },
      "crate-wasm": { type: "string", default: DEFAULT_CRATE_WASM },
    },
  });
  const result = { ...wasmSize(WASM_PATH, values["crate-wasm"]), ...wasmTiming(Number(values.runs)) };
  console.log(values.json ? JSON.stringify(result) : result);
}
