// api.session and api.refreshToken ([Enterprise Customers] in Auth0).
//
// Semantics from @auth0/actions post-login v3 (SessionAPI, RefreshTokenAPI) and Auth0's harness:
// expirations are absolute ms since the epoch and the earliest of several calls wins; revoke
// denies the login (no further Action runs); refreshToken.revoke only when
// event.transaction.protocol is "oauth2-refresh-token"; metadata values are strings (null deletes)
// validated as a whole (≤ 25 keys, keys [a-zA-Z0-9_-]{1,255}, values ≤ 255 characters, no NUL);
// session metadata needs a session (event.session), refresh token metadata does not; an
// "online" refresh token refuses expiry and metadata changes. Changes show up in the Action's
// event and in the events of the Actions after it.

import { requireBoolean, requireOptions, requireString, typeName } from "./checks.js";

export const MAX_METADATA_KEYS = 25;
export const MAX_METADATA_KEY_LENGTH = 255;
export const MAX_METADATA_VALUE_LENGTH = 255;
const METADATA_KEY = /^[a-zA-Z0-9_-]{1,255}$/;
export const COOKIE_MODES = ["persistent", "non-persistent"];

/** Auth0's ServerSessionValidator / RefreshTokenValidator, as an error message or null. */
function metadataProblem(metadata) {
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_KEYS)
    return `Metadata must not contain more than ${MAX_METADATA_KEYS} entries`;
  for (const [key, value] of entries) {
    if (key.length > MAX_METADATA_KEY_LENGTH)
      return `All metadata keys must be at most ${MAX_METADATA_KEY_LENGTH} characters long`;
    if (key.includes("\0")) return "Metadata keys must not contain null bytes (\\x00)";
    if (!METADATA_KEY.test(key))
      return "Metadata keys may only include letters, numbers, underscores, or hyphens";
    if (value.length > MAX_METADATA_VALUE_LENGTH)
      return `All metadata values must be at most ${MAX_METADATA_VALUE_LENGTH} characters long`;
    if (value.includes("\0")) return "Metadata values must not contain null bytes (\\x00)";
  }
  return null;
}

function requireExpiry(method, name, value) {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(
      `${method}: ${name} must be a finite number (ms since the epoch), got ${typeName(value)}`,
    );
  }
  if (value <= 0) throw new RangeError(`${method}: ${name} must be a positive time in ms since the epoch`);
  return value;
}

const earliest = (current, next) => (current === null ? next : Math.min(current, next));

/**
 * @typedef {(method: string, options?: { quiet?: boolean }) => void} RequireEntity
 */

/**
 * Metadata operations over `holder(create).metadata` (null = untouched; `holder(false)` may be
 * undefined while the section is not in the result), mirrored into `eventObject()`.
 */
/**
 * @param {string} method
 * @param {(create: boolean) => any} holder
 * @param {() => object | undefined} initial
 * @param {() => any} eventObject
 * @param {{ requireEntity: RequireEntity }} checks
 */
function metadataOps(method, holder, initial, eventObject, checks) {
  const { requireEntity } = checks;
  const current = () => ({ ...(holder(false)?.metadata ?? initial() ?? {}) });
  const commit = (next) => {
    holder(true).metadata = next;
    const target = eventObject();
    if (target) target.metadata = { ...next };
  };
  return {
    setMetadata(key, value) {
      const name = `${method}.setMetadata`;
      requireEntity(name);
      if (typeof key !== "string") throw new TypeError(`${name}: key must be a string, got ${typeName(key)}`);
      if (value !== null && typeof value !== "string") {
        throw new TypeError(`${name}: value must be a string or null, got ${typeName(value)}`);
      }
      const next = current();
      if (value === null) {
        if (!Object.hasOwn(next, key)) return;
        delete next[key];
      } else {
        Object.defineProperty(next, key, { value, enumerable: true, writable: true, configurable: true });
        const problem = metadataProblem(next);
        if (problem) throw new RangeError(`${name}: invalid metadata: ${problem}`);
      }
      commit(next);
    },
    deleteMetadata(key) {
      const name = `${method}.deleteMetadata`;
      requireEntity(name, { quiet: true });
      if (typeof key !== "string") throw new TypeError(`${name}: key must be a string, got ${typeName(key)}`);
      const next = current();
      if (!Object.hasOwn(next, key)) return;
      delete next[key];
      commit(next);
    },
    evictMetadata() {
      requireEntity(`${method}.evictMetadata`, { quiet: true });
      commit({});
    },
  };
}

export function sessionApi(ctx) {
  const { event } = ctx;
  const holder = (create) => (create ? ctx.section("session") : ctx.result.session);
  const hasSession = () => Boolean(event.session && Object.keys(event.session).length > 0);
  const ops = metadataOps(
    "api.session",
    holder,
    () => ctx.input.session?.metadata,
    () => (hasSession() ? event.session : null),
    {
      requireEntity(method, { quiet } = {}) {
        if (!hasSession()) {
          if (quiet) throw new QuietNoop();
          throw new Error(`${method}: cannot set metadata on a session that does not exist`);
        }
      },
    },
  );
  return {
    revoke(reason, options) {
      const method = "api.session.revoke";
      requireString(method, "reason", reason, { allowEmpty: true });
      const { preserveRefreshTokens = false } = requireOptions(method, options, ["preserveRefreshTokens"]);
      requireBoolean(method, "options.preserveRefreshTokens", preserveRefreshTokens);
      ctx.section("session").revoked = { reason, preserveRefreshTokens };
      ctx.deny(reason);
    },
    setExpiresAt(absolute) {
      const value = requireExpiry("api.session.setExpiresAt", "absolute", absolute);
      const session = ctx.section("session");
      session.expiresAt = earliest(session.expiresAt, value);
    },
    setIdleExpiresAt(inactivity) {
      const value = requireExpiry("api.session.setIdleExpiresAt", "inactivity", inactivity);
      const session = ctx.section("session");
      session.idleExpiresAt = earliest(session.idleExpiresAt, value);
    },
    setCookieMode(mode) {
      if (!COOKIE_MODES.includes(mode)) {
        throw new TypeError(`api.session.setCookieMode: mode must be one of ${COOKIE_MODES.join(", ")}`);
      }
      ctx.section("session").cookieMode = mode;
      if (hasSession()) event.session.cookie = { ...(event.session.cookie ?? {}), mode };
    },
    setMetadata: ops.setMetadata,
    deleteMetadata: quietly(ops.deleteMetadata),
    evictMetadata: quietly(ops.evictMetadata),
  };
}

export function refreshTokenApi(ctx) {
  const { event } = ctx;
  const holder = (create) => (create ? ctx.section("refreshToken") : ctx.result.refreshToken);
  const online = (method) => {
    if (event.refresh_token?.access === "online")
      throw new Error(`${method}: cannot be called on an online refresh token`);
  };
  // Unlike the session, refresh token metadata may be set before the token exists (Auth0's harness).
  const ops = metadataOps(
    "api.refreshToken",
    holder,
    () => ctx.input.refresh_token?.metadata,
    () => event.refresh_token ?? null,
    {
      requireEntity: (method) => online(method),
    },
  );
  return {
    revoke(reason) {
      const method = "api.refreshToken.revoke";
      requireString(method, "reason", reason, { allowEmpty: true, max: 1024 });
      if (event.transaction?.protocol !== "oauth2-refresh-token") {
        throw new Error(
          `${method} can only be used when event.transaction.protocol is "oauth2-refresh-token"`,
        );
      }
      ctx.section("refreshToken").revoked = { reason };
      ctx.deny(reason);
    },
    setExpiresAt(absolute) {
      const method = "api.refreshToken.setExpiresAt";
      online(method);
      const value = requireExpiry(method, "absolute", absolute);
      const refreshToken = ctx.section("refreshToken");
      refreshToken.expiresAt = earliest(refreshToken.expiresAt, value);
    },
    setIdleExpiresAt(inactivity) {
      const method = "api.refreshToken.setIdleExpiresAt";
      online(method);
      const value = requireExpiry(method, "inactivity", inactivity);
      const refreshToken = ctx.section("refreshToken");
      refreshToken.idleExpiresAt = earliest(refreshToken.idleExpiresAt, value);
    },
    setMetadata: ops.setMetadata,
    deleteMetadata: ops.deleteMetadata,
    evictMetadata: ops.evictMetadata,
  };
}

/** Thrown to end an operation that Auth0 turns into a no-op (delete on a missing session). */
class QuietNoop extends Error {}

function quietly(fn) {
  return (...args) => {
    try {
      fn(...args);
    } catch (error) {
      if (!(error instanceof QuietNoop)) throw error;
    }
  };
}
