// api.redirect: sendUserTo, encodeToken, validateToken, canRedirect.
//
// Sources: @auth0/actions post-login v3 (RedirectAPI; encodeToken returns a string and
// validateToken the payload, both synchronous; expiresInSeconds defaults to 900;
// tokenParameterName to "session_token"), Auth0's harness (the claims of an encoded token —
// iat, iss = event.request.hostname, sub = user_id, exp, ip, then the payload; validateToken reads
// the continue request's query and body, body winning; the protocols that cannot redirect) and
// "Redirect with Actions" (https://auth0.com/docs/customize/actions/explore-triggers/
// signup-and-login-triggers/login-trigger/redirect-with-actions): the returned token is HS256, not
// expired, and its `state` claim must match the state of the redirect.

import { InvalidTokenError, signHs256, verifyHs256 } from "../hs256.js";
import { bounded, isPlainObject, jsonCopy, requireOptions, requireString, typeName } from "./checks.js";

export const DEFAULT_TOKEN_LIFETIME_SECONDS = 900;
export const DEFAULT_TOKEN_PARAMETER = "session_token";
/** Auth0's harness: transactions of these protocols cannot redirect the user. */
export const NO_REDIRECT_PROTOCOLS = [
  "oauth2-resource-owner",
  "oauth2-refresh-token",
  "oauth2-password",
  "oauth2-webauthn",
];

/** Whether this transaction can redirect the user (Auth0's harness logic). */
export function canRedirect(event) {
  if (event?.request?.query?.prompt === "none") return false;
  return !NO_REDIRECT_PROTOCOLS.includes(event?.transaction?.protocol ?? "unknown-protocol");
}

export function redirectApi(ctx) {
  const { result, api, event } = ctx;
  return {
    sendUserTo(url, options) {
      const method = "api.redirect.sendUserTo";
      requireString(method, "url", url);
      let parsed;
      try {
        parsed = new URL(url);
      } catch {
        throw new TypeError(`${method}: url must be an absolute URL`);
      }
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
        throw new TypeError(`${method}: url must be an http: or https: URL`);
      }
      const { query = {} } = requireOptions(method, options, ["query"]);
      if (!isPlainObject(query)) throw new TypeError(`${method}: options.query must be an object`);
      for (const [key, value] of Object.entries(query)) {
        if (!["string", "number", "boolean"].includes(typeof value)) {
          throw new TypeError(
            `${method}: query parameter "${bounded(key)}" must be a string, got ${typeName(value)}`,
          );
        }
      }
      if (!ctx.suspend(method, "redirect")) return api;
      for (const [key, value] of Object.entries(query)) parsed.searchParams.set(key, String(value));
      // The last call of the Action wins; the runtime adds `state` when the pipeline suspends.
      result.redirect = { url: parsed.toString(), action: ctx.actionName };
      return api;
    },

    encodeToken(options) {
      const method = "api.redirect.encodeToken";
      if (!isPlainObject(options))
        throw new TypeError(`${method}: options must be an object, got ${typeName(options)}`);
      const {
        secret,
        payload,
        expiresInSeconds = DEFAULT_TOKEN_LIFETIME_SECONDS,
      } = requireOptions(method, options, ["secret", "payload", "expiresInSeconds"]);
      requireString(method, "secret", secret);
      if (!isPlainObject(payload))
        throw new TypeError(`${method}: payload must be an object, got ${typeName(payload)}`);
      if (typeof expiresInSeconds !== "number" || !Number.isFinite(expiresInSeconds)) {
        throw new TypeError(`${method}: expiresInSeconds must be a finite number`);
      }
      if (expiresInSeconds <= 0) throw new RangeError(`${method}: expiresInSeconds must be positive`);
      const issuedAt = Math.floor(ctx.now() / 1000);
      const claims = {
        iat: issuedAt,
        iss: event.request?.hostname ?? event.custom_domain?.domain,
        sub: event.user.user_id,
        exp: issuedAt + Math.floor(expiresInSeconds),
        ip: event.request?.ip,
        ...jsonCopy(method, payload),
      };
      return signHs256(claims, secret);
    },

    validateToken(options) {
      const method = "api.redirect.validateToken";
      if (!isPlainObject(options))
        throw new TypeError(`${method}: options must be an object, got ${typeName(options)}`);
      const { secret, tokenParameterName } = requireOptions(method, options, [
        "secret",
        "tokenParameterName",
      ]);
      requireString(method, "secret", secret);
      const name = tokenParameterName || DEFAULT_TOKEN_PARAMETER;
      requireString(method, "tokenParameterName", name);
      const params = { ...(event.request?.query ?? {}), ...(event.request?.body ?? {}) };
      const token = Object.hasOwn(params, name) ? params[name] : undefined;
      if (!token) {
        throw new Error(
          `${method}: there is no parameter called '${bounded(name)}' available in either the POST body or query string`,
        );
      }
      let claims;
      try {
        claims = verifyHs256(token, secret);
        const nowSeconds = ctx.now() / 1000;
        if (typeof claims.exp !== "number") throw new InvalidTokenError("the token has no exp claim");
        if (claims.exp <= nowSeconds) throw new InvalidTokenError("the token has expired");
        if (typeof claims.nbf === "number" && claims.nbf > nowSeconds) {
          throw new InvalidTokenError("the token is not valid yet");
        }
        const expectedState = ctx.stateId ?? params.state;
        if (typeof expectedState !== "string" || claims.state !== expectedState) {
          throw new InvalidTokenError("the state claim does not match the state of the redirect");
        }
        if (claims.sub !== undefined && claims.sub !== event.user.user_id) {
          throw new InvalidTokenError("the sub claim is not the user of this transaction");
        }
      } catch (error) {
        if (error instanceof InvalidTokenError)
          throw new Error(`${method}: the session token is invalid: ${error.message}`);
        throw error;
      }
      return claims;
    },

    canRedirect() {
      return canRedirect(event);
    },
  };
}
