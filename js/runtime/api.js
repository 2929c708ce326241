// The post-login `api` object. Every call is recorded into the login's result; nothing is
// applied to the real tenant (this runtime runs the Action, it is not Auth0).
//
// Metadata changes follow Auth0: they are aggregated and applied at once after the last Action,
// `null` deletes a key, and each of app_metadata and user_metadata is limited to 32 kB.

export const MAX_METADATA_BYTES = 32 * 1024;
const MFA_PROVIDERS = ["any", "duo", "google-authenticator", "guardian", "none"];
const encoder = new TextEncoder();

/** Sets an own property even for keys like "__proto__", so input can never reach a prototype. */
function setOwn(target, key, value) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A deep copy through JSON; throws TypeError for values JSON cannot carry (BigInt, cycles). */
function jsonCopy(method, value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${method}: value must be JSON-serializable (${error.message})`);
  }
  if (text === undefined) throw new TypeError(`${method}: value must be JSON-serializable`);
  return JSON.parse(text);
}

function requireString(method, name, value) {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`${method}: ${name} must be a non-empty string`);
  }
}

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
 * Pending metadata changes, applied once after all Actions ran.
 * Kept as ordered [key, value] lists so repeated sets of one key resolve to the last.
 */
export class MetadataBatch {
  constructor(user) {
    this.original = { app_metadata: user.app_metadata ?? {}, user_metadata: user.user_metadata ?? {} };
    this.changes = { app_metadata: new Map(), user_metadata: new Map() };
  }

  set(kind, method, key, value) {
    requireString(method, "key", key);
    if (value === undefined)
      throw new TypeError(`${method}: value must not be undefined (use null to delete)`);
    // Copied now, as JSON: later mutation of the caller's object cannot bypass the size limit,
    // and a value that is not JSON fails here, inside the Action, not when the result is sent.
    const copy = value === null ? null : jsonCopy(method, value);
    const changes = this.changes[kind];
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
    for (const [k, v] of this.changes[kind]) {
      if (v === null) delete out[k];
      else setOwn(out, k, v);
    }
    return out;
  }

  /** The metadata after the batch, or null for a kind nothing changed. */
  apply() {
    const result = {};
    for (const kind of ["app_metadata", "user_metadata"]) {
      result[kind] = this.changes[kind].size ? this.#applied(kind) : null;
    }
    return result;
  }
}

/**
 * The `api` object for one Action. `state` is shared by all Actions of the execution:
 * `{ result, metadata: MetadataBatch, cache: TriggerCache }`; `actionName` attributes a deny.
 */
export function createPostLoginApi(state, actionName) {
  const { result, metadata, cache } = state;
  const api = {
    access: {
      deny(reason) {
        requireString("api.access.deny", "reason", reason);
        if (!result.access.denied) result.access = { denied: true, reason, action: actionName };
        return api;
      },
    },
    idToken: {
      setCustomClaim(key, value) {
        requireString("api.idToken.setCustomClaim", "key", key);
        setOwn(result.idToken.claims, key, jsonCopy("api.idToken.setCustomClaim", value));
        return api;
      },
    },
    accessToken: {
      setCustomClaim(key, value) {
        requireString("api.accessToken.setCustomClaim", "key", key);
        setOwn(result.accessToken.claims, key, jsonCopy("api.accessToken.setCustomClaim", value));
        return api;
      },
      addScope(scope) {
        requireString("api.accessToken.addScope", "scope", scope);
        const { added, removed } = result.accessToken.scopes;
        if (!added.includes(scope)) added.push(scope);
        result.accessToken.scopes.removed = removed.filter((s) => s !== scope);
      },
      removeScope(scope) {
        requireString("api.accessToken.removeScope", "scope", scope);
        const { added, removed } = result.accessToken.scopes;
        if (!removed.includes(scope)) removed.push(scope);
        result.accessToken.scopes.added = added.filter((s) => s !== scope);
      },
    },
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
    multifactor: {
      enable(provider, options = {}) {
        if (!MFA_PROVIDERS.includes(provider)) {
          throw new TypeError(`api.multifactor.enable: provider must be one of ${MFA_PROVIDERS.join(", ")}`);
        }
        result.multifactor = {
          provider,
          allowRememberBrowser: Boolean(options?.allowRememberBrowser),
        };
        return api;
      },
    },
    redirect: {
      sendUserTo(url, options = {}) {
        requireString("api.redirect.sendUserTo", "url", url);
        let parsed;
        try {
          parsed = new URL(url);
        } catch {
          throw new TypeError("api.redirect.sendUserTo: url must be an absolute URL");
        }
        for (const [k, v] of Object.entries(options?.query ?? {})) parsed.searchParams.set(k, String(v));
        result.redirect = { url: parsed.toString() };
        return api;
      },
    },
    cache: cache.api(),
  };
  return api;
}
