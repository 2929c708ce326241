// Argument checks shared by the `api` namespaces. Every message names the method, as Auth0's
// harness does; a wrong type is a TypeError, a value out of range or refused a RangeError.

const encoder = new TextEncoder();

/** UTF-8 length of a string. */
export const byteLength = (text) => encoder.encode(text).length;

/** A short description of a value's type for error messages. */
export function typeName(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

export const isPlainObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/** Sets an own property even for keys like "__proto__", so input can never reach a prototype. */
export function setOwn(target, key, value) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A deep copy through JSON; throws TypeError for values JSON cannot carry (BigInt, cycles). */
export function jsonCopy(method, value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${method}: value must be JSON-serializable (${error.message})`);
  }
  if (text === undefined) throw new TypeError(`${method}: value must be JSON-serializable`);
  return JSON.parse(text);
}

/**
 * A non-empty string (or empty with `allowEmpty`), at most `max` characters when given.
 * @param {string} method @param {string} name @param {unknown} value
 * @param {{ max?: number, allowEmpty?: boolean }} [options]
 * @returns {string}
 */
export function requireString(method, name, value, { max, allowEmpty = false } = {}) {
  if (typeof value !== "string") {
    throw new TypeError(`${method}: ${name} must be a string, got ${typeName(value)}`);
  }
  if (!allowEmpty && value.length === 0) throw new TypeError(`${method}: ${name} must be a non-empty string`);
  if (max !== undefined && value.length > max) {
    throw new RangeError(`${method}: ${name} must not exceed ${max} characters`);
  }
  return /** @type {string} */ (value);
}

export function requireBoolean(method, name, value) {
  if (typeof value !== "boolean") {
    throw new TypeError(`${method}: ${name} must be a boolean, got ${typeName(value)}`);
  }
  return value;
}

/** A finite number (Auth0's schemas: `type: number` and `isFinite`). */
export function requireFiniteNumber(method, name, value) {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`${method}: ${name} must be a finite number, got ${typeName(value)}`);
  }
  return value;
}

/** An options argument: undefined (→ {}) or a plain object whose keys are all in `allowed`. */
export function requireOptions(method, value, allowed) {
  if (value === undefined) return {};
  if (!isPlainObject(value))
    throw new TypeError(`${method}: options must be an object, got ${typeName(value)}`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new TypeError(
        `${method}: unknown option "${bounded(key)}" (allowed: ${allowed.join(", ") || "none"})`,
      );
    }
  }
  return value;
}

/** Caller- or Action-supplied text, length-limited before it goes into a message or a log. */
export function bounded(text, max = 64) {
  const value = String(text);
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
