// api.samlResponse: attributes and configuration of the SAML response.
//
// Setter names, value types, enums and length limits are Auth0's own schemas
// (@auth0/actions: PostLoginSetSAMLAttributeInput, PostLoginSetSAMLConfigurationInput;
// helpers.samlResponse: attributes ≤ 102,400 bytes in total, names ≤ 1024 characters, values
// ≤ 2048). Setting an attribute to null or undefined removes it (types). A wrong configuration
// value throws: Auth0's harness does the same on purpose ("it may be critical to their use case").

import { byteLength, setOwn, typeName } from "./checks.js";

export const MAX_SAML_BYTES = 102_400;
export const MAX_SAML_ATTRIBUTE_LENGTH = 1024;
export const MAX_SAML_VALUE_LENGTH = 2048;
export const MAX_SAML_ATTRIBUTES = 100;

const string = (max) => ({
  check: (v) => typeof v === "string" && v.length <= max,
  says: `a string of at most ${max} characters`,
});
const boolean = { check: (v) => typeof v === "boolean", says: "a boolean" };
const oneOf = (...values) => ({ check: (v) => values.includes(v), says: `one of ${values.join(", ")}` });

/**
 * Setter → [configuration key, rule].
 * @type {Record<string, [string, { check: (value: unknown) => boolean, says: string }]>}
 */
export const SAML_SETTERS = {
  setAudience: ["audience", string(2048)],
  setRecipient: ["recipient", string(2048)],
  setCreateUpnClaim: ["createUpnClaim", boolean],
  setPassthroughClaimsWithNoMapping: ["passthroughClaimsWithNoMapping", boolean],
  setMapUnknownClaimsAsIs: ["mapUnknownClaimsAsIs", boolean],
  setMapIdentities: ["mapIdentities", boolean],
  setSignatureAlgorithm: ["signatureAlgorithm", oneOf("rsa-sha256", "rsa-sha1")],
  setDigestAlgorithm: ["digestAlgorithm", oneOf("sha256", "sha1")],
  setDestination: ["destination", string(2048)],
  setLifetimeInSeconds: [
    "lifetimeInSeconds",
    { check: (v) => typeof v === "number" && Number.isFinite(v), says: "a finite number" },
  ],
  setSignResponse: ["signResponse", boolean],
  setNameIdentifierFormat: ["nameIdentifierFormat", string(512)],
  setNameIdentifierProbes: [
    "nameIdentifierProbes",
    {
      check: (v) =>
        Array.isArray(v) && v.length <= 10 && v.every((p) => typeof p === "string" && p.length <= 512),
      says: "an array of at most 10 strings of at most 512 characters",
    },
  ],
  setAuthnContextClassRef: ["authnContextClassRef", string(512)],
  setSigningCert: ["signingCert", string(4096)],
  setIncludeAttributeNameFormat: ["includeAttributeNameFormat", boolean],
  setTypedAttributes: ["typedAttributes", boolean],
  setEncryptionCert: ["encryptionCert", string(4096)],
  setEncryptionPublicKey: ["encryptionPublicKey", string(4096)],
  setCert: ["cert", string(4096)],
  setKey: ["key", string(4096)],
  setRelayState: ["RelayState", string(512)],
  setIssuer: ["issuer", string(512)],
  setEncryptionAlgorithm: ["encryptionAlgorithm", oneOf("aes256-gcm", "aes256-cbc")],
};

const DEFAULT_NAME_IDENTIFIER_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

function validAttributeValue(value) {
  const scalar = (v) =>
    (typeof v === "string" && v.length <= MAX_SAML_VALUE_LENGTH) ||
    (typeof v === "number" && Number.isFinite(v)) ||
    typeof v === "boolean";
  return value === null || scalar(value) || (Array.isArray(value) && value.every(scalar));
}

/** One instance per api; the setters live on the prototype (built once, cheap per login). */
class SamlResponseApi {
  #ctx;

  constructor(ctx) {
    this.#ctx = ctx;
  }

  setAttribute(attribute, value) {
    const method = "api.samlResponse.setAttribute";
    const ctx = this.#ctx;
    if (typeof attribute !== "string" || attribute.length === 0) {
      throw new TypeError(`${method}: attribute must be a non-empty string, got ${typeName(attribute)}`);
    }
    if (attribute.length > MAX_SAML_ATTRIBUTE_LENGTH) {
      throw new RangeError(`${method}: attribute must not exceed ${MAX_SAML_ATTRIBUTE_LENGTH} characters`);
    }
    const normalized = value ?? null;
    if (!validAttributeValue(normalized)) {
      throw new TypeError(
        `${method}: value must be a string (≤ ${MAX_SAML_VALUE_LENGTH} characters), number, boolean, null or an array of those`,
      );
    }
    const next = { ...(ctx.result.samlResponse?.attributes ?? {}) };
    setOwn(next, attribute, normalized);
    if (Object.keys(next).length > MAX_SAML_ATTRIBUTES) {
      throw new RangeError(`${method}: at most ${MAX_SAML_ATTRIBUTES} attributes can be set`);
    }
    if (byteLength(JSON.stringify(next)) > MAX_SAML_BYTES) {
      throw new RangeError(`${method}: the SAML attributes must not exceed ${MAX_SAML_BYTES} bytes`);
    }
    ctx.section("samlResponse").attributes = next;
    return ctx.api;
  }

  static {
    for (const [setter, [key, rule]] of Object.entries(SAML_SETTERS)) {
      Object.defineProperty(this.prototype, setter, {
        value: {
          [setter](...args) {
            const ctx = this.#ctx;
            const value =
              setter === "setNameIdentifierFormat" && args[0] === undefined
                ? DEFAULT_NAME_IDENTIFIER_FORMAT
                : args[0];
            if (!rule.check(value)) {
              throw new TypeError(
                `api.samlResponse.${setter}: the value must be ${rule.says}, got ${typeName(value)}`,
              );
            }
            setOwn(ctx.section("samlResponse").configuration, key, Array.isArray(value) ? [...value] : value);
            return ctx.api;
          },
        }[setter],
        writable: true,
        configurable: true,
      });
    }
  }
}

export function samlResponseApi(ctx) {
  return new SamlResponseApi(ctx);
}
