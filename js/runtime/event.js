// The post-login `event` (Auth0 post-login v3 shape) built from a login request body.
//
// The caller sends the event without `secrets` or `configuration`: those come from the Worker's
// environment, per Action. Validation is strict about types (a wrong type is a client bug worth
// a clear 400) and refuses unknown top-level fields, so a typo never silently drops data.

/** Top-level fields of PostLoginV3Event; every one is an object when present. */
export const OBJECT_FIELDS = [
  "user",
  "client",
  "connection",
  "request",
  "tenant",
  "transaction",
  "authentication",
  "authorization",
  "organization",
  "stats",
  "resource_server",
  "custom_domain",
  "session",
  "refresh_token",
  "prompt",
  "security_context",
];

/** Fields the runtime supplies; a caller must never send them. */
const RUNTIME_FIELDS = ["secrets", "configuration"];

/** Expected types of the documented scalar and container fields, by path. */
export const FIELD_TYPES = {
  "user.user_id": "string",
  "user.email": "string",
  "user.email_verified": "boolean",
  "user.name": "string",
  "user.nickname": "string",
  "user.given_name": "string",
  "user.family_name": "string",
  "user.picture": "string",
  "user.phone_number": "string",
  "user.phone_verified": "boolean",
  "user.username": "string",
  "user.created_at": "string",
  "user.updated_at": "string",
  "user.last_password_reset": "string",
  "user.app_metadata": "object",
  "user.user_metadata": "object",
  "user.identities": "array",
  "user.multifactor": "array",
  "user.enrolledFactors": "array",
  "client.client_id": "string",
  "client.name": "string",
  "client.metadata": "object",
  "connection.id": "string",
  "connection.name": "string",
  "connection.strategy": "string",
  "connection.metadata": "object",
  "request.ip": "string",
  "request.method": "string",
  "request.hostname": "string",
  "request.user_agent": "string",
  "request.language": "string",
  "request.query": "object",
  "request.body": "object",
  "request.geoip": "object",
  "tenant.id": "string",
  "transaction.id": "string",
  "transaction.protocol": "string",
  "transaction.requested_scopes": "array",
  "transaction.metadata": "object",
  "authentication.methods": "array",
  "authorization.roles": "array",
  "organization.id": "string",
  "organization.name": "string",
  "organization.display_name": "string",
  "organization.metadata": "object",
  "stats.logins_count": "number",
  "resource_server.identifier": "string",
};

/** Deepest nesting of objects and arrays accepted in an event (real events nest a few levels). */
export const MAX_EVENT_DEPTH = 64;

/** A rejected event: the handler answers 400 with this message. */
export class InvalidEventError extends Error {
  constructor(message) {
    super(message);
    this.name = "InvalidEventError";
  }
}

const isPlainObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/**
 * Checks a parsed request body against the post-login v3 shape.
 * @returns the body itself (validated, not copied)
 * @throws {InvalidEventError}
 */
export function validateEventInput(body) {
  if (!isPlainObject(body)) throw new InvalidEventError("the event must be a JSON object");
  if (exceedsDepth(body, MAX_EVENT_DEPTH)) {
    throw new InvalidEventError(`the event nests objects or arrays deeper than ${MAX_EVENT_DEPTH} levels`);
  }
  for (const field of RUNTIME_FIELDS) {
    if (Object.hasOwn(body, field)) {
      throw new InvalidEventError(`"${field}" is set by the runtime and must not be sent`);
    }
  }
  for (const field of Object.keys(body)) {
    if (!OBJECT_FIELDS.includes(field)) {
      // The name is the caller's; echo a bounded part of it.
      const shown = field.length > 64 ? `${field.slice(0, 64)}…` : field;
      throw new InvalidEventError(`unknown field "${shown}"`);
    }
    if (!isPlainObject(body[field])) {
      throw new InvalidEventError(`"${field}" must be an object, got ${typeOf(body[field])}`);
    }
  }
  if (!body.user) throw new InvalidEventError('"user" is required');
  for (const [path, expected] of Object.entries(FIELD_TYPES)) {
    const [parent, child] = path.split(".");
    const container = body[parent];
    if (!container || !Object.hasOwn(container, child)) continue;
    const actual = typeOf(container[child]);
    if (actual !== expected) {
      throw new InvalidEventError(
        `"${path}" must be ${expected === "array" ? "an" : "a"} ${expected}, got ${actual}`,
      );
    }
  }
  if (typeof body.user.user_id !== "string" || body.user.user_id.length === 0) {
    throw new InvalidEventError('"user.user_id" is required and must be a non-empty string');
  }
  return body;
}

/** Whether `value` nests objects or arrays deeper than `limit`. Iterative: no stack to overflow. */
function exceedsDepth(value, limit) {
  const stack = [[value, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop();
    if (depth > limit) return true;
    for (const key of Object.keys(node)) {
      const child = node[key];
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** Freezes `value` and everything in it. Iterative, like `exceedsDepth`. */
function deepFreeze(value) {
  const stack = [value];
  while (stack.length) {
    const node = stack.pop();
    if (typeof node !== "object" || node === null || Object.isFrozen(node)) continue;
    Object.freeze(node);
    for (const key of Object.keys(node)) stack.push(node[key]);
  }
  return value;
}

/** Picks the named variables from the Worker environment (string values only). */
export function pickStrings(env, names) {
  const out = {};
  for (const name of names) {
    if (typeof env[name] === "string") out[name] = env[name];
  }
  return Object.freeze(out);
}

/**
 * The read-only event an Action receives: the validated input, with the defaults Auth0 always
 * provides, plus this Action's `secrets` and `configuration`.
 * The input is frozen in place (not copied): it is this login's own parsed body.
 */
export function buildEvent(input, { secrets = {}, configuration = {} } = {}) {
  const user = input.user;
  const withDefaults = {
    ...input,
    user: {
      ...user,
      app_metadata: user.app_metadata ?? {},
      user_metadata: user.user_metadata ?? {},
      identities: user.identities ?? [],
    },
    stats: input.stats ?? { logins_count: 0 },
    secrets,
    configuration,
  };
  return deepFreeze(withDefaults);
}
