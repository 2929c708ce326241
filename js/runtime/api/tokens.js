// api.idToken and api.accessToken: custom claims and scopes.
//
// Restricted claims (Auth0, "Create Custom Claims", General restrictions:
// https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims): "OpenID standard
// claims or claims used internally by Auth0 cannot be customized or modified … In case of
// collisions, the transaction won't fail, but your custom claim won't be added to your tokens."
// So such a claim is ignored and a warning logged. `scope` is different: Auth0's harness throws
// (`The "scope" claim cannot be set.`, @auth0/actions helpers.customClaim.RESERVED_CUSTOM_CLAIMS),
// and so does this runtime. The custom claims payload is limited to 100 KB (same page).

import { byteLength, bounded, jsonCopy, requireString, setOwn } from "./checks.js";

/** The list of "claims subject to Auth0's restrictions", verbatim from the page above. */
export const RESTRICTED_CLAIMS = new Set([
  "acr",
  "act",
  "active",
  "amr",
  "at_hash",
  "ath",
  "attest",
  "aud",
  "auth_time",
  "authorization_details",
  "azp",
  "c_hash",
  "client_id",
  "cnf",
  "cty",
  "dest",
  "entitlements",
  "events",
  "exp",
  "groups",
  "gty",
  "htm",
  "htu",
  "iat",
  "internalService",
  "iss",
  "jcard",
  "jku",
  "jti",
  "jwe",
  "jwk",
  "kid",
  "may_act",
  "mky",
  "nbf",
  "nonce",
  "object_id",
  "org_id",
  "org_name",
  "orig",
  "origid",
  "permissions",
  "roles",
  "rph",
  "s_hash",
  "sid",
  "sip_callid",
  "sip_cseq_num",
  "sip_date",
  "sip_from_tag",
  "sip_via_branch",
  "sub",
  "sub_jwk",
  "toe",
  "txn",
  "typ",
  "uuid",
  "vot",
  "vtm",
  "x5t#S256",
]);

/** Claims an Action may never set: the call throws (Auth0's harness). */
export const REFUSED_CLAIMS = new Set(["scope"]);

export const MAX_CUSTOM_CLAIMS_BYTES = 100 * 1024;

/** Auth0's harness: a scope is at most 280 characters, at most 1000 scopes added. */
export const MAX_SCOPE_LENGTH = 280;
export const MAX_ADDED_SCOPES = 1000;

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Auth0's own APIs, as an access token's audience `https://<tenant domain><path>` ("Access tokens
 * with an Auth0 API audience, excluding the /userinfo endpoint, cannot have private,
 * non-namespaced custom claims", Create Custom Claims): the Management API, the MFA API and the
 * My Account API.
 */
const AUTH0_API_PATHS = new Set(["/api/v2/", "/mfa/", "/me/"]);

/**
 * Whether the login's access token is for an Auth0 API: its audience (`resource_server.identifier`)
 * is one of those paths on the tenant's domain — the one the login came through
 * (`request.hostname`, a custom domain) or a canonical `*.auth0.com` one.
 */
export function isAuth0ApiAudience(input) {
  const identifier = input?.resource_server?.identifier;
  if (typeof identifier !== "string") return false;
  let url;
  try {
    url = new URL(identifier);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" || !AUTH0_API_PATHS.has(url.pathname) || url.search) return false;
  return url.hostname === input?.request?.hostname || url.hostname.endsWith(".auth0.com");
}

/** A namespaced claim name is a URL (`https://example.com/roles`), as Auth0 recommends. */
const isNamespaced = (key) => /^https?:\/\/[^/\s]+/i.test(key);

function ignoreClaim(ctx, method, key, reason) {
  ctx.log("warn", "claim_ignored", { action: ctx.actionName, method, claim: bounded(key), reason });
}

function setClaim(ctx, target, method, key, value) {
  requireString(method, "key", key);
  if (REFUSED_CLAIMS.has(key)) throw new RangeError(`${method}: the "${key}" claim cannot be set`);
  const copy = jsonCopy(method, value);
  if (RESTRICTED_CLAIMS.has(key)) {
    ignoreClaim(ctx, method, key, "restricted");
    return;
  }
  if (target === ctx.result.accessToken && !isNamespaced(key) && isAuth0ApiAudience(ctx.input)) {
    ignoreClaim(ctx, method, key, "not namespaced, on an access token for an Auth0 API");
    return;
  }
  const claims = target.claims;
  const had = Object.hasOwn(claims, key);
  const previous = claims[key];
  setOwn(claims, key, copy);
  if (byteLength(JSON.stringify(claims)) > MAX_CUSTOM_CLAIMS_BYTES) {
    if (had) setOwn(claims, key, previous);
    else delete claims[key];
    throw new RangeError(`${method}: the custom claims would exceed ${MAX_CUSTOM_CLAIMS_BYTES} bytes`);
  }
}

/** Auth0's harness trims, then refuses empty, over-long and whitespace; RFC 6749 for the rest. */
function checkScope(method, scope) {
  if (typeof scope !== "string") throw new TypeError(`${method}: scope must be a string`);
  const trimmed = scope.trim();
  if (trimmed.length === 0) throw new TypeError(`${method}: scope must be a non-empty string`);
  if (trimmed.length > MAX_SCOPE_LENGTH) {
    throw new RangeError(`${method}: scope must not exceed ${MAX_SCOPE_LENGTH} characters`);
  }
  if (!SCOPE_TOKEN.test(trimmed)) {
    throw new RangeError(
      `${method}: scope must be an RFC 6749 scope-token (printable ASCII without space, '"' or '\\')`,
    );
  }
  return trimmed;
}

export function idTokenApi(ctx) {
  const { result, api } = ctx;
  return {
    setCustomClaim(key, value) {
      setClaim(ctx, result.idToken, "api.idToken.setCustomClaim", key, value);
      return api;
    },
  };
}

export function accessTokenApi(ctx) {
  const { result, api } = ctx;
  return {
    setCustomClaim(key, value) {
      setClaim(ctx, result.accessToken, "api.accessToken.setCustomClaim", key, value);
      return api;
    },
    addScope(scope) {
      const method = "api.accessToken.addScope";
      const checked = checkScope(method, scope);
      const scopes = result.accessToken.scopes;
      if (!scopes.added.includes(checked)) {
        if (scopes.added.length >= MAX_ADDED_SCOPES) {
          throw new RangeError(`${method}: at most ${MAX_ADDED_SCOPES} scopes can be added`);
        }
        scopes.added.push(checked);
      }
      scopes.removed = scopes.removed.filter((s) => s !== checked);
    },
    removeScope(scope) {
      const checked = checkScope("api.accessToken.removeScope", scope);
      const scopes = result.accessToken.scopes;
      if (!scopes.removed.includes(checked)) scopes.removed.push(checked);
      scopes.added = scopes.added.filter((s) => s !== checked);
    },
  };
}
