// The shipped wasm module must stay small: Workers load it on every cold start, and the Free plan
// caps a Worker at 3 MB compressed. Fails when build/index_bg.wasm (after wasm-opt, as
// `npm run build` leaves it) is missing or its gzip (level 9) exceeds 150 KB (150 × 1024 bytes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const WASM = fileURLToPath(new URL("../../build/index_bg.wasm", import.meta.url));
const LIMIT_BYTES = 150 * 1024;

const bytes = existsSync(WASM) ? readFileSync(WASM) : null;
const gzipBytes = bytes ? gzipSync(bytes, { level: 9 }).length : null;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const name = bytes
  ? `wasm module gzip ${kb(gzipBytes)} (raw ${kb(bytes.length)}) is at most ${kb(LIMIT_BYTES)}`
  : `wasm module gzip is at most ${kb(LIMIT_BYTES)}`;

test(name, (t) => {
  assert.ok(bytes, `build/index_bg.wasm is missing: run \`npm run build\` first`);
  t.diagnostic(`build/index_bg.wasm: ${bytes.length} bytes raw, ${gzipBytes} bytes gzip -9`);
  assert.ok(
    gzipBytes <= LIMIT_BYTES,
    `build/index_bg.wasm is ${gzipBytes} bytes gzipped, over the ${LIMIT_BYTES}-byte budget`,
  );
});
