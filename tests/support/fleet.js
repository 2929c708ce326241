// Several `wrangler dev` processes of the Worker — each its own isolate, with its own
// --persist-to (its own KV, as locations see different KV replicas) — all bound to one token
// broker and one trigger-cache writer: process 0 hosts the Durable Object classes, the others
// reach them through wrangler's local dev registry (`script_name`), kept private to the run with
// WRANGLER_REGISTRY_PATH. So the writer writes process 0's KV; a member's own KV is written only
// by its fallbacks (writer unavailable, or ACTIONS_CACHE_WRITER_MODE = "off").

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { root } from "../../scripts/lib/setup.js";
import { WorkerProcess, tempPersistDir, withoutCustomBuild } from "./stack.js";

const DEFAULT_CONFIG = join(root, "wrangler.toml");

/** The Worker's own name: the first top-level `name` of a config (bindings have theirs too). */
function workerName(text) {
  const match = text.match(/^name = "([^"]+)"/m);
  if (!match) throw new Error("the config has no top-level name");
  return match[1];
}

/** Where the member config of `index` is written: beside `config` (its paths stay relative). */
const memberPath = (index, config) => join(dirname(config), `.wrangler.fleet-${index}.toml`);

/**
 * The config of a member that uses process 0's objects: another Worker name, each Durable Object
 * binding pointing at process 0's script, no migrations (it hosts no object).
 */
export function memberConfig(index, config = DEFAULT_CONFIG) {
  const text = readFileSync(withoutCustomBuild(config), "utf8");
  const host = workerName(text);
  const lines = text.split("\n");
  const out = [];
  let skipping = false;
  let named = false;
  for (const line of lines) {
    if (/^\s*\[/.test(line)) skipping = line.trim() === "[[migrations]]";
    if (skipping) continue;
    if (!named && line.startsWith("name = ")) {
      named = true;
      out.push(`name = "${host}-member-${index}"`);
    } else out.push(line);
    // Every Durable Object (the token broker, the trigger cache's writer) lives in process 0.
    if (/^class_name = /.test(line.trim())) out.push(`script_name = "${host}"`);
  }
  const path = memberPath(index, config);
  writeFileSync(path, out.join("\n"));
  return path;
}

/**
 * Starts `size` processes with `env`; process 0 first (it hosts the Durable Objects).
 * `config`: the Worker's wrangler config (default: the repository's). Each worker has
 * `persistTo` (its KV). `restart({ env })` stops every process and starts them again over the
 * same persist directories (KV and Durable Object storage survive), with a new `env`.
 */
export async function startFleet({ size, env, config = DEFAULT_CONFIG }) {
  let registry = mkdtempSync(join(tmpdir(), "edge-login-registry-"));
  const registries = [registry];
  const persistDirs = [];
  const workers = [];
  let currentEnv = env;
  const start = async (index) => {
    persistDirs[index] ??= tempPersistDir();
    const worker = await WorkerProcess.start({
      env: currentEnv,
      persistTo: persistDirs[index],
      processEnv: { WRANGLER_REGISTRY_PATH: registry },
      config: index === 0 ? config : memberConfig(index, config),
    });
    worker.persistTo = persistDirs[index];
    return worker;
  };
  const startAll = async (count) => {
    try {
      workers.push(await start(0));
      // The members start together: each has its own persist directory.
      workers.push(...(await Promise.all(Array.from({ length: count - 1 }, (_, i) => start(i + 1)))));
    } catch (error) {
      await Promise.all(workers.map((w) => w.stop()));
      throw error;
    }
  };
  const cleanUp = () => {
    for (const dir of [...registries, ...persistDirs]) rmSync(dir, { recursive: true, force: true });
    for (let i = 1; i < persistDirs.length; i++) rmSync(memberPath(i, config), { force: true });
  };
  try {
    await startAll(size);
  } catch (error) {
    cleanUp();
    throw error;
  }
  return {
    workers,
    /** Starts one more member (index `size` and up). */
    async addMember() {
      const worker = await start(workers.length);
      workers.push(worker);
      return worker;
    },
    /** Stops every process and starts as many again, over the same persist directories. */
    async restart({ env: next = currentEnv } = {}) {
      const count = workers.length;
      await Promise.all(workers.map((w) => w.stop()));
      workers.length = 0;
      currentEnv = next;
      registry = mkdtempSync(join(tmpdir(), "edge-login-registry-"));
      registries.push(registry);
      await startAll(count);
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      cleanUp();
    },
  };
}
