// Several `wrangler dev` processes of the Worker — each its own isolate, with its own
// --persist-to (its own KV, as locations see different KV replicas) — all bound to one token
// broker: process 0 hosts the TokenBroker class, the others reach it through wrangler's local dev
// registry (`script_name`), kept private to the run with WRANGLER_REGISTRY_PATH.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { root } from "../../scripts/lib/setup.js";
import { WorkerProcess, tempPersistDir, withoutCustomBuild } from "./stack.js";

const HOST_NAME = "auth0-edge-post-login";

/**
 * The config of a member that uses process 0's objects: another Worker name, each Durable Object
 * binding pointing at process 0's script, no migrations (it hosts no object).
 */
export function memberConfig(index) {
  const text = readFileSync(withoutCustomBuild(join(root, "wrangler.toml")), "utf8");
  const lines = text.split("\n");
  const out = [];
  let skipping = false;
  let named = false;
  for (const line of lines) {
    if (/^\s*\[/.test(line)) skipping = line.trim() === "[[migrations]]";
    if (skipping) continue;
    // The Worker's own name is the first top-level `name` (bindings have theirs too).
    if (!named && line.startsWith("name = ")) {
      named = true;
      out.push(`name = "${HOST_NAME}-member-${index}"`);
    } else out.push(line);
    // Every Durable Object (the token broker, the trigger cache's writer) lives in process 0.
    if (/^class_name = /.test(line.trim())) out.push(`script_name = "${HOST_NAME}"`);
  }
  const path = join(root, `.wrangler.fleet-${index}.toml`);
  writeFileSync(path, out.join("\n"));
  return path;
}

/** Starts `size` processes with `env`; process 0 first (it hosts the broker). */
export async function startFleet({ size, env }) {
  const registry = mkdtempSync(join(tmpdir(), "edge-login-registry-"));
  const processEnv = { WRANGLER_REGISTRY_PATH: registry };
  const persistDirs = [];
  const workers = [];
  const start = async (index) => {
    const persistTo = tempPersistDir();
    persistDirs.push(persistTo);
    const config = index === 0 ? undefined : memberConfig(index);
    return WorkerProcess.start({ env, persistTo, processEnv, ...(config ? { config } : {}) });
  };
  try {
    workers.push(await start(0));
    // The members start together: each has its own persist directory.
    workers.push(...(await Promise.all(Array.from({ length: size - 1 }, (_, i) => start(i + 1)))));
  } catch (error) {
    await Promise.all(workers.map((w) => w.stop()));
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
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      for (const dir of [registry, ...persistDirs]) rmSync(dir, { recursive: true, force: true });
      for (let i = 1; i < workers.length; i++) {
        rmSync(join(root, `.wrangler.fleet-${i}.toml`), { force: true });
      }
    },
  };
}
