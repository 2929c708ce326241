// api.authentication (challenges, enrollments, custom methods, primary user) and
// api.multifactor.enable. Factor lists and options are @auth0/actions post-login v3
// (FactorSelector, EnrollmentFactorSelector, RequireMultifactorAuth); the limits and messages of
// setPrimaryUser are Auth0's harness (MAX_USER_ID_LENGTH = 128, once per transaction).

import {
  bounded,
  isPlainObject,
  jsonCopy,
  requireBoolean,
  requireOptions,
  requireString,
  typeName,
} from "./checks.js";

export const CHALLENGE_FACTORS = [
  "otp",
  "email",
  "webauthn-platform",
  "webauthn-roaming",
  "recovery-code",
  "phone",
  "push",
  "push-notification",
];
export const ENROLLMENT_FACTORS = [
  "otp",
  "webauthn-platform",
  "webauthn-roaming",
  "push",
  "push-notification",
  "recovery-code",
  "phone",
];
export const MFA_PROVIDERS = ["any", "duo", "google-authenticator", "guardian", "none"];
export const MAX_PRIMARY_USER_ID_LENGTH = 128;
const PHONE_METHODS = ["sms", "voice", "both"];

/** A checked copy of one factor selector. */
function checkFactor(method, factor, allowed, where = "factor") {
  if (!isPlainObject(factor))
    throw new TypeError(`${method}: ${where} must be an object, got ${typeName(factor)}`);
  if (!allowed.includes(factor.type)) {
    throw new TypeError(`${method}: ${where}.type must be one of ${allowed.join(", ")}`);
  }
  for (const key of Object.keys(factor)) {
    if (key !== "type" && key !== "options")
      throw new TypeError(`${method}: ${where} has an unknown property "${bounded(key)}"`);
  }
  const out = { type: factor.type };
  if (factor.options !== undefined) {
    if (!isPlainObject(factor.options)) throw new TypeError(`${method}: ${where}.options must be an object`);
    if (factor.type === "phone" && factor.options.preferredMethod !== undefined) {
      if (!PHONE_METHODS.includes(factor.options.preferredMethod)) {
        throw new TypeError(
          `${method}: ${where}.options.preferredMethod must be one of ${PHONE_METHODS.join(", ")}`,
        );
      }
    }
    if (
      (factor.type === "push" || factor.type === "push-notification") &&
      factor.options.otpFallback !== undefined
    ) {
      requireBoolean(method, `${where}.options.otpFallback`, factor.options.otpFallback);
    }
    out.options = jsonCopy(method, factor.options);
  }
  return out;
}

function checkFactorList(method, factors, allowed, name) {
  if (!Array.isArray(factors))
    throw new TypeError(`${method}: ${name} must be an array, got ${typeName(factors)}`);
  return factors.map((factor, i) => checkFactor(method, factor, allowed, `${name}[${i}]`));
}

function requireHttpUrl(method, name, value) {
  requireString(method, name, value);
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${method}: ${name} must be an absolute http: or https: URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${method}: ${name} must be an absolute http: or https: URL`);
  }
  return value;
}

export function authenticationApi(ctx) {
  const { api } = ctx;
  const auth = () => ctx.section("authentication");

  function challenge(method, kind, factors) {
    if (!ctx.suspend(method, "challenge")) return;
    auth().challenge = { method: kind, factors, action: ctx.actionName };
  }

  return {
    challengeWith(factor, options) {
      const method = "api.authentication.challengeWith";
      const first = checkFactor(method, factor, CHALLENGE_FACTORS);
      const { additionalFactors = [] } = requireOptions(method, options, ["additionalFactors"]);
      const more = checkFactorList(method, additionalFactors, CHALLENGE_FACTORS, "options.additionalFactors");
      challenge(method, "challengeWith", [first, ...more]);
    },
    challengeWithAny(factors) {
      const method = "api.authentication.challengeWithAny";
      const list = checkFactorList(method, factors, CHALLENGE_FACTORS, "factors");
      if (list.length === 0) throw new TypeError(`${method}: factors must not be empty`);
      challenge(method, "challengeWithAny", list);
    },
    enrollWith(factor, options) {
      const method = "api.authentication.enrollWith";
      const first = checkFactor(method, factor, ENROLLMENT_FACTORS);
      const { additionalFactors = [] } = requireOptions(method, options, ["additionalFactors"]);
      const more = checkFactorList(
        method,
        additionalFactors,
        ENROLLMENT_FACTORS,
        "options.additionalFactors",
      );
      challenge(method, "enrollWith", [first, ...more]);
    },
    enrollWithAny(factors) {
      const method = "api.authentication.enrollWithAny";
      const list = checkFactorList(method, factors, ENROLLMENT_FACTORS, "factors");
      if (list.length === 0) throw new TypeError(`${method}: factors must not be empty`);
      challenge(method, "enrollWithAny", list);
    },
    recordMethod(providerUrl) {
      const method = "api.authentication.recordMethod";
      if (ctx.phase !== "continue") {
        throw new Error(`${method} is only available in onContinuePostLogin`);
      }
      requireHttpUrl(method, "provider_url", providerUrl);
      auth().recordedMethods.push({ name: providerUrl, timestamp: new Date(ctx.now()).toISOString() });
      return api;
    },
    setPrimaryUser(primaryUserId) {
      const method = "api.authentication.setPrimaryUser";
      if ((ctx.result.authentication?.primaryUser ?? null) !== null)
        throw new Error(`${method}: the primary user can only be altered once per transaction`);
      requireString(method, "primary_user_id", primaryUserId, { max: MAX_PRIMARY_USER_ID_LENGTH });
      auth().primaryUser = primaryUserId;
    },
  };
}

export function multifactorApi(ctx) {
  const { result, api } = ctx;
  return {
    enable(provider, options) {
      const method = "api.multifactor.enable";
      if (!MFA_PROVIDERS.includes(provider)) {
        throw new TypeError(`${method}: provider must be one of ${MFA_PROVIDERS.join(", ")}`);
      }
      const { allowRememberBrowser, providerOptions } = requireOptions(method, options ?? undefined, [
        "allowRememberBrowser",
        "providerOptions",
      ]);
      if (allowRememberBrowser !== undefined)
        requireBoolean(method, "options.allowRememberBrowser", allowRememberBrowser);
      const record = { provider, allowRememberBrowser: allowRememberBrowser ?? false };
      if (providerOptions !== undefined) {
        if (provider !== "duo")
          throw new TypeError(`${method}: providerOptions is only available for the duo provider`);
        const { host, ikey, skey, username } = requireOptions(method, providerOptions, [
          "host",
          "ikey",
          "skey",
          "username",
        ]);
        requireString(method, "providerOptions.host", host);
        requireString(method, "providerOptions.ikey", ikey);
        requireString(method, "providerOptions.skey", skey);
        if (username !== undefined) requireString(method, "providerOptions.username", username);
        record.providerOptions = { host, ikey, skey, ...(username === undefined ? {} : { username }) };
      }
      result.multifactor = record;
      return api;
    },
  };
}
