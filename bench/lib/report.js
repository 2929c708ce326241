// Figures, ratios (ours ÷ seed) and their renderings: the compact console table and the
// Markdown report. The JSON written to bench/results/latest.json is the `results` object itself.

export const VARIANT_ORDER = ["ours", "seed", "naive"];

export const SCENARIO_TITLES = {
  warm: "warm",
  restart: "restart",
  cold: "cold burst",
  lifetimes: "lifetimes",
};

/** The per-variant figures every scenario reports, with how to show them and which way is better. */
export const FIGURES = [
  { key: "tokenRequests", label: "token req", md: "token requests", digits: 0 },
  { key: "kvReads", label: "KV reads", md: "KV reads", digits: 0 },
  { key: "kvWrites", label: "KV writes", md: "KV writes", digits: 0 },
  { key: "p50", label: "p50 ms", md: "p50 ms", digits: 1 },
  { key: "p95", label: "p95 ms", md: "p95 ms", digits: 1 },
  { key: "p99", label: "p99 ms", md: "p99 ms", digits: 1 },
  { key: "loginsPerSecond", label: "logins/s", md: "logins/s", digits: 0 },
  { key: "errors", label: "errors", md: "errors", digits: 0 },
  { key: "workerdCpuUsPerLogin", label: "workerd µs/login", md: "workerd CPU µs/login", digits: 0 },
];

/** Flattens a variant's result into the figures of FIGURES. */
export function figuresOf(variant) {
  return {
    tokenRequests: variant.tokenRequests,
    kvReads: variant.kvReads,
    kvWrites: variant.kvWrites,
    p50: variant.latency.p50,
    p95: variant.latency.p95,
    p99: variant.latency.p99,
    loginsPerSecond: variant.loginsPerSecond,
    errors: variant.errorTotal,
    workerdCpuUsPerLogin: variant.workerdCpuUsPerLogin,
  };
}

/** ours ÷ seed; null when undefined (0 ÷ 0, missing) and Infinity for x ÷ 0. */
export function ratio(ours, seed) {
  if (ours == null || seed == null) return null;
  if (seed === 0) return ours === 0 ? null : Infinity;
  return ours / seed;
}

export function formatRatio(value, ours, seed) {
  if (value === null) return ours === 0 && seed === 0 ? "0 = 0" : "—";
  if (value === Infinity) return "∞";
  if (value === 0) return "0×";
  return value >= 100
    ? `${value.toFixed(0)}×`
    : value >= 10
      ? `${value.toFixed(1)}×`
      : `${value.toFixed(2)}×`;
}

export function formatNumber(value, digits = 0) {
  if (value == null || Number.isNaN(value)) return "—";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Ratio object of a scenario: { figureKey: ratio|null }. */
export function scenarioRatios(scenario) {
  const ours = scenario.variants.ours && figuresOf(scenario.variants.ours);
  const seed = scenario.variants.seed && figuresOf(scenario.variants.seed);
  if (!ours || !seed) return null;
  return Object.fromEntries(FIGURES.map(({ key }) => [key, ratio(ours[key], seed[key])]));
}

function rowsOf(scenario) {
  const rows = [];
  for (const name of VARIANT_ORDER) {
    const variant = scenario.variants[name];
    if (!variant) continue;
    const figures = figuresOf(variant);
    rows.push([name, ...FIGURES.map(({ key, digits }) => formatNumber(figures[key], digits))]);
  }
  if (scenario.ratios) {
    const ours = figuresOf(scenario.variants.ours);
    const seed = figuresOf(scenario.variants.seed);
    rows.push([
      "ours÷seed",
      ...FIGURES.map(({ key }) => formatRatio(scenario.ratios[key], ours[key], seed[key])),
    ]);
  }
  return rows;
}

export function textTable(header, rows, rightAlignFrom = 1) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((cell, i) =>
        i < rightAlignFrom ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]),
      )
      .join("  ");
  return [line(header), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** The compact table printed at the end of `npm run bench`. */
export function consoleTable(results) {
  const header = ["scenario", "variant", ...FIGURES.map((f) => f.label)];
  const rows = [];
  for (const [key, scenario] of Object.entries(results.scenarios)) {
    rowsOf(scenario).forEach((row, i) => rows.push([i === 0 ? SCENARIO_TITLES[key] : "", ...row]));
  }
  const parts = [textTable(header, rows, 2)];
  const { cpu, wasm } = results;
  if (cpu) {
    const cpuRows = [
      ["ours", cpu.hit.ours.cpuUsPerLogin, cpu.miss.ours.cpuUsPerLogin],
      ["seed", cpu.hit.seed.cpuUsPerLogin, cpu.miss.seed.cpuUsPerLogin],
      ["runtime alone", cpu.hit.runtime.cpuUsPerLogin, null],
    ].map(([name, hit, miss]) => [name, formatNumber(hit, 0), formatNumber(miss, 0)]);
    cpuRows.push([
      "ours÷seed",
      formatRatio(ratio(cpu.hit.ours.cpuUsPerLogin, cpu.hit.seed.cpuUsPerLogin)),
      formatRatio(ratio(cpu.miss.ours.cpuUsPerLogin, cpu.miss.seed.cpuUsPerLogin)),
    ]);
    parts.push(
      `CPU per login in Node (µs, median of ${cpu.rounds} rounds of ${formatNumber(cpu.hitsPerRound)} hits / ${formatNumber(cpu.missesPerRound)} misses; target ≤ 1,000 µs per hit)\n` +
        textTable(["", "hit", "miss"], cpuRows) +
        (cpu.actionAlone
          ? `\nAction call alone on a hit (µs per call): ours ${formatNumber(cpu.actionAlone.ours.cpuUsPerLogin, 2)}, seed ${formatNumber(cpu.actionAlone.seed.cpuUsPerLogin, 2)}`
          : "") +
        `\nmodule instantiation (first import of the Action): ${formatNumber(cpu.instantiation.wallMs, 1)} ms wall, ${formatNumber(cpu.instantiation.cpuMs, 1)} ms CPU`,
    );
  }
  if (wasm) {
    parts.push(
      `wasm module ${wasm.path}: ${formatNumber(wasm.rawBytes)} B raw, ${formatNumber(wasm.gzipBytes)} B gzip -9 ` +
        `(limit ${formatNumber(150 * 1024)} B); compile+instantiate ${formatNumber(wasm.compileInstantiateMs, 2)} ms ` +
        `(median of ${wasm.runs} fresh Node processes)`,
    );
  }
  if (results.scenarios.lifetimes) parts.push(lifetimesText(results.scenarios.lifetimes));
  return parts.join("\n\n");
}

function lifetimesText(scenario) {
  const lines = [
    `lifetimes: ${scenario.config.lifetimeSeconds} s tokens, ${formatNumber(scenario.config.lifetimesCrossed, 1)} lifetimes crossed`,
  ];
  for (const name of VARIANT_ORDER) {
    const v = scenario.variants[name];
    if (!v) continue;
    lines.push(
      `  ${name.padEnd(6)} ${formatNumber(v.tokenRequestsPerLifetime, 2)} token requests per lifetime ` +
        `(per lifetime window: ${v.perLifetime.join(", ")}), slowest login ${formatNumber(v.latency.max, 1)} ms ` +
        `at +${formatNumber(v.slowestAtSeconds, 0)} s (after the first 10 s: ${formatNumber(v.slowestAfterStartMs, 1)} ms ` +
        `at +${formatNumber(v.slowestAfterStartAtSeconds, 0)} s), logins without a live token ${formatNumber(v.loginsWithoutLiveToken)}`,
    );
  }
  return lines.join("\n");
}

export function mdTable(header, rows) {
  const esc = (cell) => String(cell).replace(/\|/g, "\\|");
  return [
    `| ${header.map(esc).join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((row) => `| ${row.map(esc).join(" | ")} |`),
  ].join("\n");
}

/** bench/results/latest.md */
export function markdown(results) {
  const out = [];
  const m = results.machine;
  out.push("# Benchmark: ours vs seed vs naive", "");
  out.push(
    `Run ${results.generatedAt} with \`${results.command}\` on ${m.cpuModel} (${m.cores} cores, ${m.memoryGiB} GiB), ` +
      `${m.os}, Node ${m.node}, wrangler ${m.wrangler}. ${results.quick ? "**Quick run (reduced sizes): not comparable.** " : ""}` +
      "See bench/README.md for what is measured and how; the chart is latest.svg.",
  );
  out.push("", "![latency and token requests](latest.svg)", "");
  out.push(
    "Every row of *ours* is compared with *seed* from the same run (ours ÷ seed: below 1× means fewer / faster, " +
      "except logins/s where above 1× is better). Latency is client side (autocannon), including wrangler dev's local overhead.",
  );
  for (const [key, scenario] of Object.entries(results.scenarios)) {
    out.push("", `## ${SCENARIO_TITLES[key]}`, "", scenario.description, "");
    out.push(mdTable(["variant", ...FIGURES.map((f) => f.md)], rowsOf(scenario)));
    if (key === "lifetimes") {
      out.push("");
      const rows = VARIANT_ORDER.filter((n) => scenario.variants[n]).map((name) => {
        const v = scenario.variants[name];
        return [
          name,
          formatNumber(v.tokenRequestsPerLifetime, 2),
          v.perLifetime.join(" · "),
          `${formatNumber(v.latency.max, 1)} ms at +${formatNumber(v.slowestAtSeconds, 0)} s`,
          `${formatNumber(v.slowestAfterStartMs, 1)} ms at +${formatNumber(v.slowestAfterStartAtSeconds, 0)} s`,
          formatNumber(v.loginsWithoutLiveToken),
        ];
      });
      out.push(
        mdTable(
          [
            "variant",
            "token requests per lifetime crossed",
            "per lifetime window",
            "slowest login",
            "slowest after the first 10 s",
            "logins without a live token",
          ],
          rows,
        ),
      );
    }
    const notes = scenario.notes ?? [];
    if (notes.length) out.push("", ...notes.map((n) => `- ${n}`));
  }
  const { cpu, wasm } = results;
  if (cpu) {
    out.push("", "## CPU per login (Node, outside workerd)", "");
    out.push(
      `The same login handler, runtime and wasm Action (its Node build) with an in-memory KV and a fake token endpoint; ` +
        `\`process.cpuUsage\` user+system per login, median of ${cpu.rounds} rounds of ${formatNumber(cpu.hitsPerRound)} hit ` +
        `and ${formatNumber(cpu.missesPerRound)} miss logins. Target: ≤ 1,000 µs per hit login (the Free plan allows 10 ms per request).`,
      "",
    );
    const rows = [
      ["ours", cpu.hit.ours, cpu.miss.ours],
      ["seed", cpu.hit.seed, cpu.miss.seed],
      ["runtime alone (empty Action)", cpu.hit.runtime, null],
    ].map(([name, hit, miss]) => [
      name,
      formatNumber(hit.cpuUsPerLogin, 1),
      miss ? formatNumber(miss.cpuUsPerLogin, 1) : "—",
      formatNumber(hit.wallUsPerLogin, 1),
      miss ? formatNumber(miss.wallUsPerLogin, 1) : "—",
    ]);
    rows.push([
      "ours ÷ seed",
      formatRatio(ratio(cpu.hit.ours.cpuUsPerLogin, cpu.hit.seed.cpuUsPerLogin)),
      formatRatio(ratio(cpu.miss.ours.cpuUsPerLogin, cpu.miss.seed.cpuUsPerLogin)),
      formatRatio(ratio(cpu.hit.ours.wallUsPerLogin, cpu.hit.seed.wallUsPerLogin)),
      formatRatio(ratio(cpu.miss.ours.wallUsPerLogin, cpu.miss.seed.wallUsPerLogin)),
    ]);
    out.push(mdTable(["", "hit CPU µs", "miss CPU µs", "hit wall µs", "miss wall µs"], rows));
    out.push(
      "",
      `- Action's own share of a hit (variant − runtime alone): ours ${formatNumber(cpu.hit.ours.cpuUsPerLogin - cpu.hit.runtime.cpuUsPerLogin, 1)} µs, ` +
        `seed ${formatNumber(cpu.hit.seed.cpuUsPerLogin - cpu.hit.runtime.cpuUsPerLogin, 1)} µs — within the round-to-round spread below.`,
      ...(cpu.actionAlone
        ? [
            `- The Action call alone on a hit, without the runtime (median of ${cpu.rounds} rounds of ${formatNumber(cpu.actionAlone.callsPerRound)} calls, ` +
              `same event and api objects): ours ${formatNumber(cpu.actionAlone.ours.cpuUsPerLogin, 2)} µs, seed ${formatNumber(cpu.actionAlone.seed.cpuUsPerLogin, 2)} µs per call. ` +
              `Ours writes a structured JSON log line and checks identity and expiry; the seed logs a short string and trusts the cache.`,
          ]
        : []),
      `- Hit CPU per round (µs): ours ${cpu.hit.ours.rounds.join(", ")}; seed ${cpu.hit.seed.rounds.join(", ")}; runtime ${cpu.hit.runtime.rounds.join(", ")}.`,
      `- One-time module instantiation (first import of the Action in a process: read, compile and instantiate the wasm, evaluate the glue): ` +
        `${formatNumber(cpu.instantiation.wallMs, 1)} ms wall, ${formatNumber(cpu.instantiation.cpuMs, 1)} ms CPU in this run` +
        (wasm
          ? `; median over ${wasm.runs} fresh processes ${formatNumber(wasm.importWallMs, 1)} ms wall, ${formatNumber(wasm.importCpuMs, 1)} ms CPU.`
          : "."),
    );
  }
  if (wasm) {
    out.push("", "## wasm module", "");
    out.push(
      mdTable(
        ["", "value"],
        [
          ["file", `\`${wasm.path}\` (after wasm-bindgen and \`wasm-opt -Oz\`)`],
          ["raw", `${formatNumber(wasm.rawBytes)} B`],
          ["gzip -9", `${formatNumber(wasm.gzipBytes)} B (test limit ${formatNumber(150 * 1024)} B)`],
          ...(wasm.cargoRawBytes
            ? [["cargo output before wasm-bindgen/wasm-opt", `${formatNumber(wasm.cargoRawBytes)} B`]]
            : []),
          [
            `compile + instantiate, median of ${wasm.runs}`,
            `${formatNumber(wasm.compileInstantiateMs, 2)} ms (compile ${formatNumber(wasm.compileMs, 2)}, instantiate ${formatNumber(wasm.instantiateMs, 2)}; max ${formatNumber(wasm.compileInstantiateMaxMs, 2)})`,
          ],
        ],
      ),
    );
  }
  out.push("");
  return out.join("\n");
}
