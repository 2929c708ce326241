// bench/results/latest.svg: a Vega-Lite spec compiled to Vega and rendered headless to SVG.
// Top: login latency by percentile, one panel per scenario, one line per variant (log scale).
// Middle: token requests per scenario and variant (symlog scale, so 0 and 5,000 both show).
// Bottom: CPU per login in Node (hit and miss) against the 1 ms target.

import * as vega from "vega";
import * as vegaLite from "vega-lite";

import { SCENARIO_TITLES, VARIANT_ORDER } from "./report.js";

const COLORS = { ours: "#1b7f79", seed: "#e0a526", naive: "#c8553d", "runtime alone": "#8a8a8a" };
const PERCENTILE_LABEL = (p) => (p === 0 ? "min" : p === 100 ? "max" : `p${p}`);

export function chartSpec(results) {
  const scenarios = Object.keys(results.scenarios);
  const titles = scenarios.map((key) => SCENARIO_TITLES[key]);
  const latency = [];
  const tokens = [];
  for (const key of scenarios) {
    const scenario = results.scenarios[key];
    for (const variant of VARIANT_ORDER) {
      const v = scenario.variants[variant];
      if (!v) continue;
      for (const { p, ms } of v.latency.curve) {
        latency.push({
          scenario: SCENARIO_TITLES[key],
          variant,
          percentile: PERCENTILE_LABEL(p),
          ms: Math.max(ms, 0.01),
        });
      }
      tokens.push({ scenario: SCENARIO_TITLES[key], variant, tokens: v.tokenRequests, logins: v.logins });
    }
  }
  const percentileOrder = [...new Set(latency.map((d) => d.percentile))];
  const variantColor = {
    field: "variant",
    type: "nominal",
    title: "variant",
    scale: { domain: VARIANT_ORDER, range: VARIANT_ORDER.map((v) => COLORS[v]) },
  };

  const charts = [
    {
      title: { text: "Login latency by percentile (client side, ms, log scale)", anchor: "start" },
      data: { values: latency },
      facet: { column: { field: "scenario", type: "nominal", sort: titles, title: null } },
      spec: {
        width: 210,
        height: 190,
        layer: [
          { mark: { type: "line", strokeWidth: 2 } },
          { mark: { type: "point", filled: true, size: 28 } },
        ],
        encoding: {
          x: {
            field: "percentile",
            type: "ordinal",
            sort: percentileOrder,
            title: null,
            axis: {
              labelAngle: -60,
              labelExpr:
                "indexof(['min','p50','p95','p99','p99.9','max'], datum.label) >= 0 ? datum.label : ''",
            },
          },
          y: { field: "ms", type: "quantitative", scale: { type: "log" }, title: "ms" },
          color: variantColor,
          tooltip: [{ field: "variant" }, { field: "percentile" }, { field: "ms", format: ".1f" }],
        },
      },
      resolve: { scale: { y: "independent" } },
    },
    {
      title: { text: "Token requests to /oauth/token per scenario (symlog scale)", anchor: "start" },
      data: { values: tokens },
      width: { step: 34 },
      height: 200,
      encoding: {
        x: { field: "scenario", type: "nominal", sort: titles, title: null, axis: { labelAngle: 0 } },
        xOffset: { field: "variant", type: "nominal", sort: VARIANT_ORDER },
        y: { field: "tokens", type: "quantitative", scale: { type: "symlog" }, title: "token requests" },
        color: variantColor,
      },
      layer: [
        { mark: { type: "bar" } },
        {
          mark: { type: "text", dy: -6, fontSize: 10 },
          encoding: { text: { field: "tokens", type: "quantitative", format: "," } },
        },
      ],
    },
  ];

  if (results.cpu) {
    const cpu = results.cpu;
    const values = [];
    for (const [variant, key] of [
      ["ours", "ours"],
      ["seed", "seed"],
      ["runtime alone", "runtime"],
    ]) {
      values.push({ variant, login: "hit", us: cpu.hit[key].cpuUsPerLogin });
      if (cpu.miss[key]) values.push({ variant, login: "miss", us: cpu.miss[key].cpuUsPerLogin });
    }
    charts.push({
      title: {
        text: "CPU per login in Node (µs, process.cpuUsage); dashed: 1 ms target per hit login",
        anchor: "start",
      },
      data: { values },
      width: { step: 40 },
      height: 170,
      layer: [
        {
          encoding: {
            x: { field: "login", type: "nominal", title: null, axis: { labelAngle: 0 } },
            xOffset: { field: "variant", type: "nominal", sort: ["ours", "seed", "runtime alone"] },
            y: { field: "us", type: "quantitative", title: "µs per login", scale: { domainMax: 1000 } },
            color: {
              field: "variant",
              type: "nominal",
              title: "CPU variant",
              scale: {
                domain: ["ours", "seed", "runtime alone"],
                range: [COLORS.ours, COLORS.seed, COLORS["runtime alone"]],
              },
            },
          },
          layer: [
            { mark: { type: "bar" } },
            {
              mark: { type: "text", dy: -6, fontSize: 10 },
              encoding: { text: { field: "us", type: "quantitative", format: ".0f" } },
            },
          ],
        },
        {
          data: { values: [{ target: 1000 }] },
          mark: { type: "rule", strokeDash: [6, 4], color: "#444" },
          encoding: { y: { field: "target", type: "quantitative" } },
        },
      ],
      resolve: { scale: { color: "independent" } },
    });
  }

  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: "npm run bench — ours (Rust wasm) vs seed (JS port) vs naive (token per login)",
      subtitle: `${results.generatedAt} · ${results.machine.cpuModel} × ${results.machine.cores} · Node ${results.machine.node}${results.quick ? " · QUICK RUN" : ""}`,
      anchor: "start",
      fontSize: 15,
    },
    background: "white",
    padding: 16,
    config: { view: { stroke: "#ddd" }, font: "Helvetica, Arial, sans-serif" },
    vconcat: charts,
    spacing: 36,
    resolve: { scale: { color: "independent" } },
  };
}

/** Renders the chart to an SVG string. */
export async function renderSvg(results) {
  const { spec } = vegaLite.compile(chartSpec(results));
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
