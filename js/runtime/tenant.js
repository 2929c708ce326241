// The tenant data source of api.groups (js/runtime/api/groups.js), answered by the Rust Action's
// Management API client: the wasm `ManagementApi` class (src/wasm.rs), built over the Rust
// Action's own secrets and the login's trigger cache, so every call authenticates with the
// token the isolate already holds (or the cached one): no token request per call.
//
//   getUserGroups(userId, { from, take })  → GET /api/v2/users/{id}/groups?take=…&from=…
//                                            { groups, next? }
//   hasGroupMembership(userId, connectionId, organizationId, groups)
//                                          → every page of the user's groups, decided in Rust
//                                            (src/groups.rs): { memberships, errors? }
//
// A failed call rejects with a TenantDataError naming the api method and the reason (Auth0's
// status and message, or why no token could be had). The reason comes from the Rust client,
// which never puts a credential in an error; it is still scrubbed here of anything shaped like
// a JWT or a bearer credential, and of the Action's secret values.

import { actionVariables } from "./trigger.js";

/** A Management API read behind api.groups failed. */
export class TenantDataError extends Error {
  constructor(method, reason) {
    super(`${method}: the Management API request failed: ${reason}`);
    this.name = "TenantDataError";
  }
}

const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(bearer)\s+[^\s"',;]+/gi;
/** Secret values shorter than this are not scrubbed (they would blank ordinary words). */
const MIN_SECRET_LENGTH = 8;

/** `text` without JWTs, bearer credentials or any of `secrets`. */
export function scrub(text, secrets = []) {
  let out = String(text).replace(JWT, "[redacted]").replace(BEARER, "$1 [redacted]");
  for (const secret of secrets) {
    if (typeof secret === "string" && secret.length >= MIN_SECRET_LENGTH)
      out = out.split(secret).join("[redacted]");
  }
  return out.slice(0, 500);
}

function reasonOf(error) {
  if (error instanceof Error) return error.message;
  return typeof error === "string" ? error : "unknown error";
}

/**
 * The `tenant` interface over a Management API client.
 * @param {() => { getUserGroups: Function, hasGroupMembership: Function }} openClient called
 *   on the first read (a login that reads nothing builds no client), at most once
 * @param {{ secrets?: () => string[], guard?: <T>(call: () => Promise<T>) => Promise<T> }} [options]
 *   values to keep out of error messages; the module's panic guard (a panic rejects the call)
 */
export function managementTenant(openClient, { secrets = () => [], guard = (call) => call() } = {}) {
  let client = null;
  const call = async (method, read) => {
    try {
      return await guard(async () => {
        client ??= openClient();
        return read(client);
      });
    } catch (error) {
      throw new TenantDataError(method, scrub(reasonOf(error), secrets()));
    }
  };
  return {
    /**
     * @param {string} userId
     * @param {{ from?: string, take?: number }} [params]
     */
    getUserGroups(userId, { from, take } = {}) {
      return call("api.groups.getUserGroups", (c) => c.getUserGroups(userId, from, take));
    },
    /**
     * @param {string} userId
     * @param {string | undefined} connectionId
     * @param {string | undefined} organizationId
     * @param {string[]} groups
     */
    hasGroupMembership(userId, connectionId, organizationId, groups) {
      return call("api.groups.hasGroupMembership", (c) =>
        c.hasGroupMembership(userId, connectionId, organizationId, groups),
      );
    },
  };
}

/**
 * For the login handler: `(env, cache) => tenant` over the wasm module's `ManagementApi`, with
 * the Rust Action's own secrets and configuration (the objects the Action itself receives, so
 * the module recognises them) and the login's trigger cache.
 * @param {new (event: object, api: object) => any} ManagementApi the wasm export
 * @param {import("./trigger.js").ActionBinding} action the Rust Action's binding
 * @returns {(env: object, cache: import("./cache.js").TriggerCache) => ReturnType<typeof managementTenant>}
 */
export function managementTenantSource(ManagementApi, action) {
  return (env, cache) => {
    const { secrets, configuration } = actionVariables(env, action);
    return managementTenant(() => new ManagementApi({ secrets, configuration }, { cache: cache.api() }), {
      secrets: () => Object.values(secrets),
      guard: action.guard,
    });
  };
}
