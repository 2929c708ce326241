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
  "session_transfer_token",
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
  "client.refresh_token": "object",
  "request.asn": "string",
  "custom_domain.domain": "string",
  "custom_domain.domain_metadata": "object",
  "transaction.acr_values": "array",
  "transaction.linking_id": "string",
  "transaction.locale": "string",
  "transaction.login_hint": "string",
  "transaction.prompt": "array",
  "transaction.redirect_uri": "string",
  "transaction.requested_authorization_details": "array",
  "transaction.response_mode": "string",
  "transaction.response_type": "array",
  "transaction.state": "string",
  "transaction.ui_locales": "array",
  "transaction.actor": "object",
  "transaction.actor_token_type": "string",
  "transaction.correlation_id": "string",
  "transaction.subject_token_type": "string",
  "authentication.riskAssessment": "object",
  "prompt.id": "string",
  "prompt.fields": "object",
  "prompt.vars": "object",
  "session.id": "string",
  "session.actor": "object",
  "session.authenticated_at": "string",
  "session.clients": "array",
  "session.cookie": "object",
  "session.created_at": "string",
  "session.device": "object",
  "session.expires_at": "string",
  "session.idle_expires_at": "string",
  "session.last_interacted_at": "string",
  "session.metadata": "object",
  "session.session_transfer": "object",
  "session.updated_at": "string",
  "session.user_id": "string",
  "refresh_token.id": "string",
  "refresh_token.client_id": "string",
  "refresh_token.created_at": "string",
  "refresh_token.device": "object",
  "refresh_token.expires_at": "string",
  "refresh_token.idle_expires_at": "string",
  "refresh_token.last_exchanged_at": "string",
  "refresh_token.metadata": "object",
  "refresh_token.resource_servers": "array",
  "refresh_token.rotating": "boolean",
  "refresh_token.session_id": "string",
  "refresh_token.session_transfer": "object",
  "refresh_token.user_id": "string",
  "security_context.ja3": "string",
  "security_context.ja4": "string",
  "session_transfer_token.client_id": "string",
  "session_transfer_token.request": "object",
  "session_transfer_token.scope": "array",
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

/** FIELD_TYPES by container: `parent → [[child, expected type, path]]`, built once. */
const FIELD_CHECKS = new Map();
for (const [path, expected] of Object.entries(FIELD_TYPES)) {
  const [parent, child] = path.split(".");
  if (!FIELD_CHECKS.has(parent)) FIELD_CHECKS.set(parent, []);
  FIELD_CHECKS.get(parent).push([child, expected, path]);
}

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
  // Only the containers the body has, and only the fields each has: this runs on every login.
  for (const parent of Object.keys(body)) {
    const checks = FIELD_CHECKS.get(parent);
    if (!checks) continue;
    const container = body[parent];
    for (const [child, expected, path] of checks) {
      if (!Object.hasOwn(container, child)) continue;
      const actual = typeOf(container[child]);
      if (actual !== expected) {
        throw new InvalidEventError(
          `"${path}" must be ${expected === "array" ? "an" : "a"} ${expected}, got ${actual}`,
        );
      }
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

/**
 * The event one Action receives: a writable copy of the validated input (as in Auth0, an Action may
 * change its event; the change reaches neither the caller's input, nor another Action's event, nor
 * another login), with the defaults Auth0 always provides, the changes earlier Actions made
 * through the api that Auth0 reflects in the event (`pending`: the login result so far —
 * transaction metadata, session and refresh token metadata, cookie mode), and this Action's
 * `secrets` and `configuration`. Those two are the same frozen objects on every login for as long
 * as the Worker's environment lives (the Rust Action recognises its settings by identity), and
 * read-only properties, as `readonly` in @auth0/actions.
 */
export function buildEvent(input, { secrets = {}, configuration = {} } = {}, pending = null) {
  const event = structuredClone(input);
  const user = event.user;
  user.app_metadata ??= {};
  user.user_metadata ??= {};
  user.identities ??= [];
  event.stats ??= { logins_count: 0 };
  if (event.transaction) event.transaction.metadata ??= {};
  if (pending) applyPending(event, pending);
  Object.defineProperty(event, "secrets", {
    value: secrets,
    enumerable: true,
    writable: false,
    configurable: false,
  });
  Object.defineProperty(event, "configuration", {
    value: configuration,
    enumerable: true,
    writable: false,
    configurable: false,
  });
  return event;
}

/** Reflects what earlier Actions changed (see `emptyResult` in api.js) into a fresh event. */
function applyPending(event, result) {
  const transactionMetadata = result.transaction?.metadata;
  if (transactionMetadata) {
    event.transaction ??= {};
    event.transaction.metadata = { ...transactionMetadata };
  }
  const session = result.session;
  if (session && event.session && Object.keys(event.session).length > 0) {
    if (session.metadata) event.session.metadata = { ...session.metadata };
    if (session.cookieMode)
      event.session.cookie = { ...(event.session.cookie ?? {}), mode: session.cookieMode };
  }
  if (result.refreshToken?.metadata && event.refresh_token) {
    event.refresh_token.metadata = { ...result.refreshToken.metadata };
  }
}
