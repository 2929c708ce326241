// The post-login Actions a tenant already has, from an Auth0 Deploy CLI directory export
// (`a0deploy export --format directory`): `actions/<name>.json` (name, code, dependencies,
// secrets, supported_triggers) with `actions/<name>/code.js`, and `triggers/triggers.json` (each
// trigger's bindings in order, `{ action_name, display_name }`).
//
// At build time each bound Action's code.js (CommonJS, as Auth0 runs it) is copied into
// build/tenant-actions/, its npm dependencies are installed beside it, it is bundled once with
// esbuild for a Worker (no Node built-ins) so an Action that cannot run there is refused here,
// naming it, and build/tenant-actions/index.js lists the bindings in order for js/index.js.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve, basename } from "node:path";

/** The name by which triggers.json places the Rust Action; unlisted, it runs first. */
export const RUST_ACTION = "management-api-token";

/** A problem with the export: the build stops with this message. */
export class ExportError extends Error {
  constructor(message) {
    super(message);
    this.name = "ExportError";
  }
}

function readJson(path, what) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ExportError(`${what} (${path}) is not readable JSON: ${error.message}`);
  }
}

/** A file and folder name for an Action (its name may hold spaces and other characters). */
export function slug(name) {
  return (
    String(name)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "") || "action"
  );
}

/**
 * The post-login bindings of the export in `dir`, in order:
 * `{ name, rust: true }` for the Rust Action, else `{ name, code, dependencies, secrets }`.
 * @throws {ExportError} naming what is wrong
 */
export function readExport(dir) {
  const triggersFile = join(dir, "triggers", "triggers.json");
  if (!existsSync(triggersFile)) throw new ExportError(`the export in ${dir} has no triggers/triggers.json`);
  const triggers = readJson(triggersFile, "triggers/triggers.json");
  const bound = triggers["post-login"] ?? [];
  if (!Array.isArray(bound)) throw new ExportError('triggers.json: "post-login" must be a list of bindings');
  const actionsDir = join(dir, "actions");
  const byName = new Map();
  if (existsSync(actionsDir)) {
    for (const file of readdirSync(actionsDir).filter((f) => f.endsWith(".json"))) {
      const action = readJson(join(actionsDir, file), `action ${basename(file, ".json")}`);
      if (typeof action.name !== "string" || !action.name) {
        throw new ExportError(`actions/${file} has no name`);
      }
      byName.set(action.name, action);
    }
  }
  const bindings = bound.map((binding, index) => {
    const name = binding?.action_name;
    if (typeof name !== "string" || !name) {
      throw new ExportError(`triggers.json: post-login binding ${index + 1} has no action_name`);
    }
    if (name === RUST_ACTION && !byName.has(name)) return { name, rust: true };
    const action = byName.get(name);
    if (!action)
      throw new ExportError(`triggers.json binds "${name}" to post-login, but actions/ has no such Action`);
    const triggersOf = (action.supported_triggers ?? []).map((t) => `${t.id}@${t.version}`);
    if (!(action.supported_triggers ?? []).some((t) => t.id === "post-login")) {
      throw new ExportError(
        `Action "${name}" does not support post-login (${triggersOf.join(", ") || "no triggers"})`,
      );
    }
    if (typeof action.code !== "string" || !action.code)
      throw new ExportError(`Action "${name}" has no code file`);
    const code = resolve(dir, action.code);
    if (!existsSync(code)) throw new ExportError(`Action "${name}": its code file ${action.code} is missing`);
    const dependencies = (action.dependencies ?? []).map((d) => {
      if (typeof d?.name !== "string" || typeof d?.version !== "string") {
        throw new ExportError(`Action "${name}": a dependency needs a name and a version`);
      }
      return { name: d.name, version: d.version };
    });
    // Only the names: values in an export are placeholders; the Worker's environment has them.
    const secrets = (action.secrets ?? []).map((s) => s.name).filter((s) => typeof s === "string" && s);
    return { name, code, dependencies, secrets };
  });
  const names = bindings.map((b) => b.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new ExportError(`triggers.json binds "${twice}" to post-login twice`);
  const slugs = bindings.filter((b) => !b.rust).map((b) => slug(b.name));
  const clash = slugs.find((s, i) => slugs.indexOf(s) !== i);
  if (clash) throw new ExportError(`two Actions share the folder name "${clash}": rename one`);
  return bindings;
}

function say(message) {
  process.stderr.write(`[setup] ${message}\n`);
}

/** Installs an Action's dependencies into `dir` (skipped when the same set is installed). */
function installDependencies(action, dir) {
  const wanted = Object.fromEntries(action.dependencies.map((d) => [d.name, d.version]));
  const manifest = JSON.stringify({ private: true, dependencies: wanted }, null, 2);
  const stamp = join(dir, "node_modules", ".installed.json");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === manifest) return;
  writeFileSync(join(dir, "package.json"), manifest);
  if (action.dependencies.length === 0) return;
  say(
    `installing the npm dependencies of Action "${action.name}": ${action.dependencies.map((d) => `${d.name}@${d.version}`).join(", ")}`,
  );
  const result = spawnSync(
    "npm",
    ["install", "--no-audit", "--no-fund", "--no-package-lock", "--ignore-scripts", "--prefix", dir],
    { encoding: "utf8" },
  );
  if (result.status !== 0) {
    throw new ExportError(
      `Action "${action.name}": npm could not install its dependencies:\n${result.stderr.trim()}`,
    );
  }
  writeFileSync(stamp, manifest);
}

/** Bundles the Action as a Worker would load it; refuses what a Worker cannot run. */
async function checkRunsOnWorkers(action, entry) {
  const esbuild = await import("esbuild");
  try {
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      mainFields: ["browser", "module", "main"],
      conditions: ["workerd", "worker", "browser"],
      logLevel: "silent",
    });
  } catch (error) {
    const reasons = (error.errors ?? []).map((e) => e.text).join("; ") || error.message;
    throw new ExportError(
      `Action "${action.name}" cannot run on Workers: ${reasons} (Node built-ins and native modules are not available)`,
    );
  }
}

/**
 * Writes build/tenant-actions/ for the export in `dir` (or an empty list without one).
 * The generated index.js exports `postLoginBindings`, in triggers.json's order.
 */
export async function buildTenantActions(dir, outDir) {
  mkdirSync(outDir, { recursive: true });
  const bindings = dir ? readExport(dir) : [];
  const lines = [
    "// Generated by scripts/lib/tenant-actions.js from a Deploy CLI export. Do not edit.",
    `// Export: ${dir ?? "none"}`,
  ];
  const entries = [];
  for (const [index, binding] of bindings.entries()) {
    if (binding.rust) {
      entries.push(`  { name: ${JSON.stringify(binding.name)}, rust: true },`);
      continue;
    }
    const folder = join(outDir, slug(binding.name));
    mkdirSync(folder, { recursive: true });
    // .cjs: Auth0 runs code.js as CommonJS; this package is "type": "module".
    writeIfChanged(join(folder, "code.cjs"), readFileSync(binding.code, "utf8"));
    installDependencies(binding, folder);
    await checkRunsOnWorkers(binding, join(folder, "code.cjs"));
    lines.push(`import action${index} from "./${slug(binding.name)}/code.cjs";`);
    entries.push(
      `  { name: ${JSON.stringify(binding.name)}, module: action${index}, secrets: ${JSON.stringify(binding.secrets)} },`,
    );
  }
  // Folders of Actions no longer bound are removed, so nothing stale is bundled.
  const kept = new Set(bindings.filter((b) => !b.rust).map((b) => slug(b.name)));
  for (const entry of readdirSync(outDir, { withFileTypes: true })) {
    if (entry.isDirectory() && !kept.has(entry.name))
      rmSync(join(outDir, entry.name), { recursive: true, force: true });
  }
  lines.push("", "export const postLoginBindings = [", ...entries, "];", "");
  writeIfChanged(join(outDir, "index.js"), lines.join("\n"));
  return bindings;
}

/** Writes only a change: a running `wrangler dev` reloads on every write. */
function writeIfChanged(path, text) {
  if (!existsSync(path) || readFileSync(path, "utf8") !== text) writeFileSync(path, text);
}
