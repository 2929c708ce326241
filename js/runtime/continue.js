// Resuming a suspended login (POST /continue-login), the way Auth0 resumes at /continue:
// after a redirect or a custom prompt, `onContinuePostLogin(event, api)` of the Action that
// suspended runs, then the Actions after it (their onExecutePostLogin); after an MFA challenge or
// enrollment, the Actions after the one that asked for it. The resumed part has its own 20 s
// budget ("a redirect Action gets a separate timeout before and after the redirect", Actions
// limitations). Deny, failures and metadata work as in executePostLogin; metadata changes from
// before and after the suspension are applied once, at the end.

import { createPostLoginApi } from "./api.js";
import { buildEvent } from "./event.js";
import { restoreMetadata, RECORD_VERSION } from "./suspend.js";
import { actionVariables, EXECUTION_BUDGET_MS, runActions, settleExecution } from "./trigger.js";

/** The record cannot be resumed with these Actions (a deploy changed them, or it is corrupt). */
export class ContinueError extends Error {
  constructor(message) {
    super(message);
    this.name = "ContinueError";
  }
}

/** The event input of the resumed part: a new request query and body, as Auth0 issues. */
function continuedInput(record, { stateId, query = {}, body = {}, prompt, now }) {
  const input = structuredClone(record.input);
  // "A new event.request object is issued anytime an Action trigger is suspended and then
  // subsequently resumed" (Actions limitations): the continue request's query (with `state`, as
  // in Auth0's /continue?state=…) and body replace the original ones.
  input.request = { ...(input.request ?? {}), query: { ...query, state: stateId }, body: { ...body } };
  if (record.kind === "prompt") {
    const rendered = record.result.prompt ?? {};
    input.prompt = {
      id: rendered.id,
      fields: { ...(prompt?.fields ?? {}) },
      vars: { ...(rendered.vars ?? {}), ...(prompt?.vars ?? {}) },
    };
  }
  if (record.kind === "challenge") {
    // The challenge was fulfilled (the caller only continues then): later Actions see it.
    input.authentication ??= {};
    input.authentication.methods = [
      ...(input.authentication.methods ?? []),
      { name: "mfa", timestamp: new Date(now).toISOString() },
    ];
  }
  return input;
}

/**
 * Runs the rest of a suspended login.
 * @param {object} options
 * @param {import("./trigger.js").ActionBinding[]} options.actions
 * @param {object} options.record what `suspendExecution` stored
 * @param {string} options.stateId
 * @param {object} [options.query] the continue request's query
 * @param {object} [options.body] the continue request's body
 * @param {object} [options.prompt] what a custom prompt collected
 * @param {object} options.env the Worker environment
 * @param {import("./cache.js").TriggerCache} options.cache
 * @param {(level: string, event: string, fields?: object) => void} options.log
 * @param {(work: Promise<unknown>) => void} [options.waitUntil]
 * @param {number} [options.budgetMs]
 * @param {() => number} [options.now]
 * @param {object} [options.tenant] tenant data for api.groups
 * @returns {Promise<object>} the login result (possibly suspended again)
 * @throws {ContinueError} when the record does not fit the Actions
 */
export async function executeContinuePostLogin({
  actions,
  record,
  stateId,
  query,
  body,
  prompt,
  env,
  cache,
  log,
  waitUntil = () => {},
  budgetMs = EXECUTION_BUDGET_MS,
  now = Date.now,
  tenant = undefined,
}) {
  if (record?.v !== RECORD_VERSION) throw new ContinueError("the suspended login has an unknown format");
  const suspended = actions[record.index];
  if (!suspended || suspended.name !== record.action) {
    throw new ContinueError("the Actions changed since this login was suspended");
  }
  const input = continuedInput(record, { stateId, query, body, prompt, now: now() });
  const result = structuredClone(record.result);
  result.redirect = null;
  delete result.prompt;
  if (result.authentication) result.authentication.challenge = null;
  if (result.multifactor?.secretDropped) {
    // The Duo skey is not stored; the Action must enable Duo again after the redirect.
    log("warn", "mfa_provider_secret_not_kept", { action: record.action });
    result.multifactor = null;
  }
  const state = { result, metadata: restoreMetadata(record, input.user), cache, log, input, now, tenant };
  return settleExecution(
    state,
    actions,
    { log, budgetMs },
    async (running) => {
      let start = record.index + 1;
      if (record.kind !== "challenge") {
        if (typeof suspended.onContinuePostLogin !== "function") {
          throw new ContinueError(`the Action "${record.action}" has no onContinuePostLogin`);
        }
        const event = buildEvent(input, actionVariables(env, suspended), result);
        const api = createPostLoginApi(state, suspended.name, event, { phase: "continue", stateId });
        await suspended.onContinuePostLogin(event, api, waitUntil);
        if (result.access.denied || state.suspended) return;
      }
      await runActions(state, env, actions, start, waitUntil, running);
    },
    { action: record.action },
  );
}
