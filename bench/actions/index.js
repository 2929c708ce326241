// The three Actions the benchmark compares, as ActionBindings for the same Actions runtime.
//   ours  — the shipped bindings (js/actions.js: the Rust wasm Action), untouched
//   seed  — ./seed.js, the seed Action's behaviour
//   naive — ./naive.js, a token on every login
// seed and naive see exactly the variables ours sees (same secrets and configuration lists).

import * as seed from "./seed.js";
import * as naive from "./naive.js";

export const VARIANTS = ["ours", "seed", "naive"];

/**
 * @param {"ours" | "seed" | "naive"} variant
 * @param {import("../../js/runtime/trigger.js").ActionBinding[]} postLoginActions the shipped bindings
 */
export function actionsFor(variant, postLoginActions) {
  if (variant === "ours") return postLoginActions;
  const [shipped] = postLoginActions;
  const module = { seed, naive }[variant];
  if (!module) throw new Error(`unknown bench variant ${JSON.stringify(variant)} (ours | seed | naive)`);
  return [
    {
      name: `${variant}-management-api-token`,
      onExecutePostLogin: module.onExecutePostLogin,
      secrets: [...(shipped.secrets ?? [])],
      configuration: [...(shipped.configuration ?? [])],
    },
  ];
}
