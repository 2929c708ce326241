// One measurement in a fresh Node process (V8 caches compiled wasm per process, so a second
// compile of the same bytes in one process would measure the cache). Prints one JSON line.
//   node bench/lib/wasm-child.js instantiate   compile + instantiate build/index_bg.wasm
//   node bench/lib/wasm-child.js import        first import of build/node/index.js (glue included)

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const mode = process.argv[2];
const wasmPath = new URL("../../build/index_bg.wasm", import.meta.url);

/** No-op imports of the right kinds, so the module can be instantiated without its JS glue. */
function stubImports(module) {
  const imports = {};
  for (const { module: name, name: field, kind } of WebAssembly.Module.imports(module)) {
    imports[name] ??= {};
    if (kind === "function") imports[name][field] = () => {};
    else if (kind === "memory") imports[name][field] = new WebAssembly.Memory({ initial: 17 });
    else if (kind === "table")
      imports[name][field] = new WebAssembly.Table({ initial: 0, element: "anyfunc" });
    else if (kind === "global")
      imports[name][field] = new WebAssembly.Global({ value: "i32", mutable: false }, 0);
  }
  return imports;
}

if (mode === "instantiate") {
  const bytes = readFileSync(wasmPath);
  const t0 = performance.now();
  const module = new WebAssembly.Module(bytes);
  const t1 = performance.now();
  const imports = stubImports(module);
  const t2 = performance.now();
  new WebAssembly.Instance(module, imports);
  const t3 = performance.now();
  process.stdout.write(
    JSON.stringify({ compileMs: t1 - t0, instantiateMs: t3 - t2, totalMs: t1 - t0 + (t3 - t2) }) + "\n",
  );
} else if (mode === "import") {
  for (const method of ["log", "info", "warn", "error"]) console[method] = () => {};
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await import("../../build/node/index.js");
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }) + "\n");
} else {
  process.stderr.write("usage: wasm-child.js instantiate|import\n");
  process.exit(2);
}
