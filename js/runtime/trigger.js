// Runs the Actions bound to the post-login trigger, in order, the way Auth0 does:
// each Action gets the event (with its own secrets and configuration) and the shared `api`;
// after `api.access.deny` no further Action runs; the whole execution has a 20 s budget;
// metadata changes are applied once at the end.

import { describeError } from "../log.js";
import { createPostLoginApi, emptyResult, MetadataBatch } from "./api.js";
import { buildEvent } from "./event.js";
import { suspendExecution } from "./suspend.js";
import { actionVariables as pickVariables } from "./variables.js";

/** Auth0's limit for one trigger execution. */
export const EXECUTION_BUDGET_MS = 20_000;

/** The reason given to the user when an Action fails; details go to the log only. */
export const ACTION_FAILURE_REASON = "Login could not be completed.";

/**
 * @typedef {object} ActionBinding
 * @property {string} name
 * @property {(event: object, api: object, waitUntil: (work: Promise<unknown>) => void) => Promise<void> | void} onExecutePostLogin
 *   called as Auth0 calls it, plus `waitUntil` (this runtime's addition): work the Action leaves
 *   running (e.g. a token refresh) is kept alive with `ctx.waitUntil`, then the cache is written
 * @property {(event: object, api: object, waitUntil: (work: Promise<unknown>) => void) => Promise<void> | void} [onContinuePostLogin]
 *   called when the login resumes after this Action redirected or rendered a prompt
 * @property {string[]} [secrets] names of Worker variables exposed as `event.secrets`
 * @property {string[]} [configuration] names of Worker variables exposed as `event.configuration`
 * @property {<T>(call: () => Promise<T>) => Promise<T>} [guard] runs another call into the same
 *   module (the Rust Action's: api.groups) under its panic guard
 */

/** Each Action's frozen `secrets` and `configuration`, once per environment object. */
const variablesByEnv = new WeakMap();

/**
 * The Action's `{ secrets, configuration }` from `env`. The same frozen objects are handed out for
 * as long as the environment object lives (a Worker's env does not change within an isolate),
 * so an Action can recognise settings it has already validated by identity.
 */
export function actionVariables(env, action) {
  let perAction = variablesByEnv.get(env);
  if (!perAction) {
    perAction = new Map();
    variablesByEnv.set(env, perAction);
  }
  let variables = perAction.get(action);
  if (!variables) {
    variables = {
      secrets: pickVariables(env, action.name, action.secrets ?? []),
      configuration: pickVariables(env, action.name, action.configuration ?? []),
    };
    perAction.set(action, variables);
  }
  return variables;
}

/**
 * Executes the trigger for one login.
 * @param {object} options
 * @param {ActionBinding[]} options.actions
 * @param {object} options.input the validated event input
 * @param {object} options.env the Worker environment (secrets and vars)
 * @param {import("./cache.js").TriggerCache} options.cache
 * @param {(level: string, event: string, fields?: object) => void} options.log
 * @param {(work: Promise<unknown>) => void} [options.waitUntil] keeps background work alive
 * @param {number} [options.budgetMs]
 * @param {object} [options.tenant] tenant data for api.groups (see js/runtime/api/groups.js)
 * @returns {Promise<object>} the login result (see `emptyResult`), with `error` when an Action failed
 */
export async function executePostLogin({
  actions,
  input,
  env,
  cache,
  log,
  waitUntil = () => {},
  budgetMs = EXECUTION_BUDGET_MS,
  tenant = undefined,
}) {
  const result = emptyResult();
  const state = { result, metadata: new MetadataBatch(input.user), cache, log, input, tenant };
  return settleExecution(state, actions, { log, budgetMs }, (running) =>
    runActions(state, env, actions, 0, waitUntil, running),
  );
}

/**
 * Calls `onExecutePostLogin` of `actions[from]` onwards, each with its own event, until one denies
 * or suspends the login. `running.action` names the Action being called (for failure reports).
 */
export async function runActions(state, env, actions, from, waitUntil, running) {
  const { input, result } = state;
  for (let i = from; i < actions.length; i++) {
    const action = actions[i];
    running.action = action.name;
    const event = buildEvent(input, actionVariables(env, action), result);
    await action.onExecutePostLogin(event, createPostLoginApi(state, action.name, event), waitUntil);
    if (result.access.denied || state.suspended) return;
  }
}

/**
 * Runs `steps(running)` — an execution's Action calls — within `budgetMs`, then settles the
 * login result: failed when an Action threw or overran (as in Auth0: denied, no metadata applied,
 * no redirect), suspended when one redirected, prompted or challenged (until POST /continue-login),
 * else finished with the metadata batch applied once.
 */
export async function settleExecution(state, actions, { log, budgetMs }, steps, running = { action: null }) {
  const { result } = state;
  let timer;
  const budget = new Promise((resolve) => {
    timer = setTimeout(() => resolve("timeout"), budgetMs);
  });
  try {
    const outcome = await Promise.race([steps(running).then(() => "done"), budget]);
    if (outcome === "timeout") {
      log("error", "execution_timeout", { action: running.action, budget_ms: budgetMs });
      return failed(result, "execution_timeout", running.action);
    }
  } catch (error) {
    log("error", "action_failed", { action: running.action, error: describeError(error) });
    return failed(result, "action_failed", running.action);
  } finally {
    clearTimeout(timer);
  }
  if (state.suspended) return suspendExecution(state, actions);
  const metadata = state.metadata.apply();
  result.user.app_metadata = metadata.app_metadata;
  result.user.user_metadata = metadata.user_metadata;
  return result;
}

/** An Action that throws or overruns fails the login, as in Auth0; no metadata is applied. */
function failed(result, code, action) {
  result.access = { denied: true, reason: ACTION_FAILURE_REASON, action };
  result.redirect = null;
  result.error = { code, action };
  return result;
}
