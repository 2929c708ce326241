// The post-login `api` object. Every call is recorded into the login's result; nothing is
// applied to the real tenant (this runtime runs the Action, it is not Auth0). One namespace per
// file under api/; each validates its arguments as Auth0 does (see the sources in each file).
//
// Metadata changes follow Auth0: they are aggregated and applied at once after the last Action,
// `null` deletes a key, and each of app_metadata and user_metadata is limited to 32 kB.

import { accessTokenApi, idTokenApi } from "./api/tokens.js";
import { authenticationApi, multifactorApi } from "./api/authentication.js";
import { isPlainObject, jsonCopy, requireString, setOwn } from "./api/checks.js";
import { promptApi, rulesApi, validationApi } from "./api/flow.js";
import { groupsApi } from "./api/groups.js";
import { redirectApi } from "./api/redirect.js";
import { samlResponseApi } from "./api/saml.js";
import { refreshTokenApi, sessionApi } from "./api/session.js";
import { transactionApi } from "./api/transaction.js";

export const MAX_METADATA_BYTES = 32 * 1024;
const encoder = new TextEncoder();

/** What one execution of the trigger decided, returned to the caller of the login handler. */
export function emptyResult() {
  return {
    access: { denied: false, reason: null, action: null },
    idToken: { claims: {} },
    accessToken: { claims: {}, scopes: { added: [], removed: [] } },
    user: { app_metadata: null, user_metadata: null },
    multifactor: null,
    redirect: null,
  };
}

/**
 * Sections of the result that appear only once an Action used them, so a login that uses none
 * keeps the six-key shape above. `state` (suspended logins), `prompt` and `validation` likewise.
 */
const SECTIONS = {
  authentication: () => ({ challenge: null, recordedMethods: [], primaryUser: null }),
  session: () => ({ revoked: null, expiresAt: null, idleExpiresAt: null, cookieMode: null, metadata: null }),
  refreshToken: () => ({ revoked: null, expiresAt: null, idleExpiresAt: null, metadata: null }),
  transaction: () => ({ metadata: null }),
  samlResponse: () => ({ attributes: {}, configuration: {} }),
};

/** The named optional section of `result`, created on first use. */
export function resultSection(result, name) {
  if (!Object.hasOwn(result, name)) result[name] = SECTIONS[name]();
  return result[name];
}

/**
 * Pending metadata changes, applied once after all Actions ran.
 * Kept as ordered [key, value] lists so repeated sets of one key resolve to the last.
 */
export class MetadataBatch {
  #changes;

  constructor(user) {
    this.original = { app_metadata: user.app_metadata ?? {}, user_metadata: user.user_metadata ?? {} };
    this.#changes = { app_metadata: new Map(), user_metadata: new Map() };
  }

  set(kind, method, key, value) {
    // Auth0's harness: "Unexpected app_metadata format. Must be a valid JSON object".
    if (!isPlainObject(this.original[kind]))
      throw new TypeError(`${method}: the user's ${kind} is not a JSON object`);
    requireString(method, "key", key);
    if (value === undefined)
      throw new TypeError(`${method}: value must not be undefined (use null to delete)`);
    // Copied now, as JSON: later mutation of the caller's object cannot bypass the size limit,
    // and a value that is not JSON fails here, inside the Action, not when the result is sent.
    const copy = value === null ? null : jsonCopy(method, value);
    const changes = this.#changes[kind];
    const had = changes.has(key);
    const previous = changes.get(key);
    changes.set(key, copy);
    const size = encoder.encode(JSON.stringify(this.#applied(kind))).length;
    if (size > MAX_METADATA_BYTES) {
      if (had) changes.set(key, previous);
      else changes.delete(key);
      throw new RangeError(`${method}: ${kind} would exceed ${MAX_METADATA_BYTES} bytes`);
    }
  }

  #applied(kind) {
    const out = {};
    for (const [k, v] of Object.entries(this.original[kind])) setOwn(out, k, v);
    for (const [k, v] of this.#changes[kind]) {
      if (v === null) delete out[k];
      else setOwn(out, k, v);
    }
    return out;
  }

  /** The pending changes as JSON (for a suspended transaction's record). */
  pendingChanges() {
    return {
      app_metadata: [...this.#changes.app_metadata],
      user_metadata: [...this.#changes.user_metadata],
    };
  }

  /** A batch over `user` with the changes `pendingChanges()` returned. */
  static restore(user, changes) {
    const batch = new MetadataBatch(user);
    for (const kind of ["app_metadata", "user_metadata"]) {
      for (const [key, value] of changes?.[kind] ?? []) batch.#changes[kind].set(key, value);
    }
    return batch;
  }

  /** The metadata after the batch, or null for a kind nothing changed. */
  apply() {
    const result = {};
    for (const kind of ["app_metadata", "user_metadata"]) {
      result[kind] = this.#changes[kind].size ? this.#applied(kind) : null;
    }
    return result;
  }
}

/**
 * The `api` object for one Action (one call of its handler).
 * `state` is shared by all Actions of the execution: `{ result, metadata: MetadataBatch,
 * cache: TriggerCache, log?, input?, tenant?, executedRules?, now? }`; `actionName` attributes a
 * deny; `event` is the event this Action received (the api reflects some changes into it, as
 * Auth0 does); `phase` is "execute" (onExecutePostLogin) or "continue" (onContinuePostLogin,
 * with `stateId` the state of the redirect being resumed).
 */
/**
 * @param {object} state
 * @param {string} actionName
 * @param {object} [event]
 * @param {{ phase?: "execute" | "continue", stateId?: string }} [options]
 * @returns {import("../types/post-login.js").PostLoginAPI}
 */
export function createPostLoginApi(
  state,
  actionName,
  event = undefined,
  { phase = "execute", stateId } = {},
) {
  const { result, metadata, cache } = state;
  const log = state.log ?? (() => {});
  const input = state.input ?? event ?? { user: {} };
  const api = {};
  let suspension = null;
  const ctx = {
    state,
    result,
    api,
    actionName,
    event: event ?? structuredClone(input),
    input,
    log,
    phase,
    stateId,
    tenant: state.tenant,
    executedRules: state.executedRules ?? [],
    now: state.now ?? Date.now,
    section: (name) => resultSection(result, name),
    /** Denies the login (first deny wins); a pending redirect, prompt or challenge is dropped. */
    deny(reason) {
      if (result.access.denied) return;
      result.access = { denied: true, reason, action: actionName };
      result.redirect = null;
      delete result.prompt;
      if (result.authentication) result.authentication.challenge = null;
      state.suspended = null;
    },
    /**
     * Marks the pipeline to suspend after this Action (`kind`: redirect | prompt | challenge).
     * False when the login is already denied (nothing to suspend; the call is ignored).
     */
    suspend(method, kind) {
      if (result.access.denied) {
        log("warn", "api_call_ignored", {
          action: actionName,
          method,
          reason: "the login is already denied",
        });
        return false;
      }
      if (suspension && suspension !== kind) {
        if (suspension !== "challenge" && kind !== "challenge") {
          throw new Error(`${method}: redirect and render commands cannot be used in the same action`);
        }
        throw new Error(`${method}: a ${kind} cannot be combined with a ${suspension} in the same Action`);
      }
      if (suspension === "prompt") throw new Error(`${method}: only 1 render command per action is allowed`);
      suspension = kind;
      state.suspended = { kind, action: actionName };
      return true;
    },
  };
  Object.assign(api, {
    access: {
      deny(reason) {
        requireString("api.access.deny", "reason", reason);
        ctx.deny(reason);
        return api;
      },
    },
    accessToken: accessTokenApi(ctx),
    authentication: authenticationApi(ctx),
    cache: cache.api(),
    groups: groupsApi(ctx),
    idToken: idTokenApi(ctx),
    multifactor: multifactorApi(ctx),
    prompt: promptApi(ctx),
    redirect: redirectApi(ctx),
    refreshToken: refreshTokenApi(ctx),
    rules: rulesApi(ctx),
    samlResponse: samlResponseApi(ctx),
    session: sessionApi(ctx),
    transaction: transactionApi(ctx),
    user: {
      setAppMetadata(key, value) {
        metadata.set("app_metadata", "api.user.setAppMetadata", key, value);
        return api;
      },
      setUserMetadata(key, value) {
        metadata.set("user_metadata", "api.user.setUserMetadata", key, value);
        return api;
      },
    },
    validation: validationApi(ctx),
  });
  return /** @type {import("../types/post-login.js").PostLoginAPI} */ (api);
}

export { jsonCopy, setOwn };
