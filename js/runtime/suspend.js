// Suspending a login (redirect, custom prompt, MFA challenge or enrollment) so that
// POST /continue-login can resume it.
//
// Auth0 ("Redirect with Actions"): the pipeline is suspended after the Action that redirected
// completes; the user is sent to the URL with a `state` parameter; /continue with that state
// resumes "on the same Action that invoked the redirect by calling onContinuePostLogin".
//
// Where the state lives: the trigger's KV namespace (env.ACTIONS_CACHE), key
// `continue-login/<hex SHA-256 of the state id>`, expiring after STATE_TTL_SECONDS. The state id is
// 32 random bytes (base64url) from crypto.getRandomValues and is never logged; KV keys do not
// reveal it. The record holds what the resume needs and no secret: the event input (which never
// carries secrets or configuration), the result so far without the redirect URL (it may carry a
// session token) and without a Duo `skey`, the pending metadata changes, which Action suspended
// and why.

import { MetadataBatch } from "./api.js";
import { canRedirect } from "./api/redirect.js";
import { base64url, sha256 } from "./hs256.js";

/** How long a suspended login can be resumed. */
export const STATE_TTL_SECONDS = 600;
export const STATE_KEY_PREFIX = "continue-login/";
export const RECORD_VERSION = 1;

/** The reason given when a redirect is asked for in a transaction that cannot redirect. */
export const INTERACTION_REQUIRED_REASON =
  "The login requires user interaction, which this request does not allow.";

const encoder = new TextEncoder();
/** Results of suspended executions → what the handler stores. Not part of the JSON result. */
const continuations = new WeakMap();

export function newStateId() {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return base64url(bytes);
}

/** The KV key of a state id: a hash, so that keys listed in KV cannot be replayed as states. */
export function stateKey(stateId) {
  return (
    STATE_KEY_PREFIX +
    [...sha256(encoder.encode(stateId))].map((b) => b.toString(16).padStart(2, "0")).join("")
  );
}

/** The result as stored: no redirect URL, no state, no Duo secret key. */
function storedResult(result) {
  const copy = structuredClone(result);
  copy.redirect = null;
  delete copy.state;
  if (copy.multifactor?.providerOptions?.skey !== undefined) {
    delete copy.multifactor.providerOptions.skey;
    copy.multifactor.secretDropped = true;
  }
  return copy;
}

/**
 * Called by the trigger when an Action asked to suspend (`state.suspended`) and the login is not
 * denied. Returns the result to send (with `state` and, for a redirect, the URL carrying it) and
 * remembers the record to store (`takeContinuation`).
 */
export function suspendExecution(state, actions) {
  const { result } = state;
  const { kind, action } = state.suspended;
  if (kind === "redirect" && !canRedirect(state.input)) {
    // "Any time api.redirect.sendUserTo() is called in an Action, if prompt=none was passed, then
    // the authorization fails with error=interaction_required" (Redirect with Actions).
    result.access = { denied: true, reason: INTERACTION_REQUIRED_REASON, action };
    result.redirect = null;
    result.error = { code: "interaction_required", action };
    return result;
  }
  const stateId = newStateId();
  if (kind === "redirect") {
    const url = new URL(result.redirect.url);
    url.searchParams.set("state", stateId);
    result.redirect = { url: url.toString(), action };
  }
  result.state = stateId;
  const record = {
    v: RECORD_VERSION,
    kind,
    action,
    index: actions.findIndex((a) => a.name === action),
    input: state.input,
    result: storedResult(result),
    metadata: state.metadata.pendingChanges(),
  };
  continuations.set(result, { key: stateKey(stateId), record });
  return result;
}

/** The record a suspended execution left to store, once; undefined for a finished login. */
export function takeContinuation(result) {
  const continuation = continuations.get(result);
  continuations.delete(result);
  return continuation;
}

/** A pending metadata batch restored from a record. */
export function restoreMetadata(record, user) {
  return MetadataBatch.restore(user, record.metadata);
}
