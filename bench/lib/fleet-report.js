// Renderings of the fleet scenarios (lib/fleet.js): the table printed at the end of
// `npm run bench -- --fleet` and bench/results/fleet.md. The JSON (fleet.json) is the results
// object itself.

import { formatNumber, mdTable, textTable } from "./report.js";
import { FLEET_VARIANTS } from "./fleet.js";

export const FLEET_TITLES = { cold: "cold burst", lifetimes: "lifetimes", misconfig: "misconfig" };

const COLUMNS = [
  ["logins", (v) => formatNumber(v.logins)],
  ["token req ok", (v) => formatNumber(v.tokenOk)],
  ["token req failed", (v) => formatNumber(v.tokenFailed)],
  ["p50 ms", (v) => formatNumber(v.latency.p50, 1)],
  ["p99 ms", (v) => formatNumber(v.latency.p99, 1)],
  ["non-2xx", (v) => formatNumber(v.non2xx)],
  ["other errors", (v) => formatNumber(v.errorTotal - v.non2xx)],
];

const variantsOf = (scenario) => FLEET_VARIANTS.filter((name) => scenario.variants[name]);

const seconds = (ms) => formatNumber(ms / 1000, 0);

/** One line per variant with what only that scenario measures, or none. */
function details(key, scenario) {
  return variantsOf(scenario).flatMap((name) => {
    const v = scenario.variants[name];
    if (v.runs) {
      return [
        `${name}: per run token requests ${v.runs.map((r) => r.tokenRequests).join(" / ")}, ` +
          `p50 ${v.runs.map((r) => formatNumber(r.latency.p50, 1)).join(" / ")} ms, ` +
          `p99 ${v.runs.map((r) => formatNumber(r.latency.p99, 1)).join(" / ")} ms`,
      ];
    }
    if (key === "lifetimes") {
      return [
        `${name}: token requests per lifetime window ${v.perLifetime.join(", ")} ` +
          `(${formatNumber(v.lifetimesCrossed, 2)} lifetimes crossed); logins without a live token ${formatNumber(v.loginsWithoutLiveToken)}`,
      ];
    }
    if (key === "misconfig") {
      const at = v.failedAtSeconds
        ? `at ${v.failedAtSeconds.map((s) => `+${formatNumber(s, 1)}`).join(", ")} s`
        : `per 30 s window ${v.failedPer30s.join(", ")}`;
      const lines = [`${name}: failed token requests ${at}`];
      if (v.brokerCooldowns?.length || v.isolateCooldowns?.some((c) => c.length)) {
        const list = (cooldowns) => cooldowns.map((c) => seconds(c.cooldownMs)).join(", ") || "none";
        lines.push(
          `${name}: cool-downs started (s)` +
            (name === "ours+broker" ? ` by the broker ${list(v.brokerCooldowns)};` : "") +
            ` by each isolate ${v.isolateCooldowns.map(list).join(" | ")}`,
        );
      }
      return lines;
    }
    return [];
  });
}

/** Observations the table does not show: broker fallbacks, failed logins. */
function notes(scenario) {
  const out = [];
  for (const name of variantsOf(scenario)) {
    const v = scenario.variants[name];
    if (v.brokerUnavailable) {
      out.push(
        `${name}: ${v.brokerUnavailable} times an isolate found the broker unavailable and fell back.`,
      );
    }
    if (v.errorTotal) out.push(`${name}: ${v.errorTotal} failed logins (${JSON.stringify(v.errors)}).`);
    for (const e of v.errorSamples ?? []) {
      out.push(
        `${name}: process ${e.process} answered ${e.status} at +${formatNumber(e.atSeconds, 1)} s: ${JSON.stringify(e.body.slice(0, 120))}`,
      );
    }
  }
  return out;
}

function headline(fleet) {
  return (
    `fleet: ${fleet.config.size} wrangler dev processes per variant, each its own isolate and KV; ` +
    `variants one after the other (${fleet.durationSeconds} s)`
  );
}

/** The table printed at the end of the run. */
export function fleetConsoleTable(fleet) {
  const header = ["scenario", "variant", ...COLUMNS.map(([label]) => label)];
  const rows = [];
  const lines = [];
  for (const [key, scenario] of Object.entries(fleet.scenarios)) {
    variantsOf(scenario).forEach((name, i) =>
      rows.push([
        i === 0 ? FLEET_TITLES[key] : "",
        name,
        ...COLUMNS.map(([, f]) => f(scenario.variants[name])),
      ]),
    );
    const more = [...details(key, scenario), ...notes(scenario)];
    if (more.length) lines.push(`${FLEET_TITLES[key]}:`, ...more.map((line) => `  ${line}`));
  }
  return [headline(fleet), textTable(header, rows, 2), ...lines].join("\n");
}

/** bench/results/fleet.md */
export function fleetMarkdown(results) {
  const { fleet, machine: m } = results;
  const out = ["# Benchmark: a fleet of isolates (ours with broker, ours without, seed)", ""];
  out.push(
    `Run ${results.generatedAt} with \`${results.command}\` on ${m.cpuModel} (${m.cores} cores, ${m.memoryGiB} GiB), ` +
      `${m.os}, Node ${m.node}, wrangler ${m.wrangler}. ${results.quick ? "**Quick run (reduced sizes): not comparable.** " : ""}` +
      `${headline(fleet)}. Latency is client side (autocannon), over every login of every process, including ` +
      "wrangler dev's local overhead. See bench/README.md.",
  );
  for (const [key, scenario] of Object.entries(fleet.scenarios)) {
    out.push("", `## ${FLEET_TITLES[key]}`, "", scenario.description, "");
    out.push(
      mdTable(
        ["variant", ...COLUMNS.map(([label]) => label)],
        variantsOf(scenario).map((name) => [name, ...COLUMNS.map(([, f]) => f(scenario.variants[name]))]),
      ),
    );
    const more = [...details(key, scenario), ...notes(scenario)];
    if (more.length) out.push("", ...more.map((line) => `- ${line}`));
  }
  out.push("");
  return out.join("\n");
}
