// Which Worker variables an Action sees as `event.secrets` and `event.configuration`.
//
// In Auth0 each Action has its own secrets: two Actions may hold different values under the same
// name. A Worker has one flat environment, so an Action's variable NAME is looked up first as
// `ACTION_<ACTION>__<NAME>` — <ACTION> being the Action's name in upper case with every run of
// other characters than A–Z and 0–9 turned into `_` (`management-api-token` →
// `ACTION_MANAGEMENT_API_TOKEN__CLIENT_SECRET`) — and then as plain `NAME`, shared by every Action
// that declares it. An Action sees only the names it declares; set either form with
// `wrangler secret put`.

/** `ACTION_<ACTION>__`: the prefix of an Action's own variables. */
export function variablePrefix(actionName) {
  const slug = String(actionName)
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return `ACTION_${slug}__`;
}

/**
 * The declared `names` an Action sees, from `env`: its own `ACTION_<ACTION>__NAME` first, else the
 * shared `NAME`; string values only. Frozen, so Actions cannot change what others see.
 */
export function actionVariables(env, actionName, names) {
  const prefix = variablePrefix(actionName);
  const out = {};
  for (const name of names) {
    const own = env[prefix + name];
    const value = typeof own === "string" ? own : env[name];
    if (typeof value === "string") {
      Object.defineProperty(out, name, { value, enumerable: true });
    }
  }
  return Object.freeze(out);
}
