// "seed": a faithful JS port of the seed Action as its README describes it
// (../shared/reference/seed-action-readme.md) — the behaviour users get today:
//
//   key "M2M"; check api.cache; on a hit use it; on a miss get a token by client credentials
//   through fetch, store it with api.cache.set for 86,000 s; log cache hits and misses, the
//   token request status, the validation result and errors; never fail the login.
//
// No isolate-memory tier, no single-flight, no refresh-ahead, no expiry check of the cached
// token: a cache record is trusted until api.cache drops it.
//
// Assumptions where the README is silent (documented in bench/README.md):
// - The request body is JSON (grant_type, client_id, client_secret, audience = ACCOUNT_API).
// - "Token validation" = the response is 2xx JSON with a non-empty string `access_token`.
// - AUTH0_CUSTOM_DOMAIN is a bare host ("tenant.eu.auth0.com" → https://…); a value that already
//   has a scheme (the bench's local simulator, http://127.0.0.1:port) is used as given.
// - TTL: the README's 86,000 seconds, i.e. `ttl: 86_000 * 1000` (api.cache's ttl is in ms).
//   The widely copied `{ ttl: 86000 }` would be 86 s.

const CACHE_KEY = "M2M";
const TTL_MS = 86_000 * 1000;

function tokenUrl(domain) {
  const base = /^https?:\/\//i.test(domain) ? domain : `https://${domain}`;
  return `${base.replace(/\/+$/, "")}/oauth/token`;
}

/**
 * The seed's token request: client credentials through `fetch`, "validated" by a non-empty
 * `access_token`. Logs the status and every failure; resolves to the token or null, never
 * rejects. The naive variant makes the same request (./naive.js).
 */
export async function requestToken(secrets) {
  try {
    const response = await fetch(tokenUrl(secrets.AUTH0_CUSTOM_DOMAIN), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: secrets.CLIENT_ID,
        client_secret: secrets.CLIENT_SECRET,
        audience: secrets.ACCOUNT_API,
      }),
    });
    console.log(`M2M token: token request status ${response.status}`);
    if (!response.ok) {
      console.error(`M2M token: token request failed with status ${response.status}`);
      return null;
    }
    const data = await response.json();
    if (typeof data?.access_token !== "string" || data.access_token.length === 0) {
      console.error("M2M token: invalid token response (no access_token)");
      return null;
    }
    return data.access_token;
  } catch (error) {
    console.error(`M2M token: error while getting a token: ${error?.message ?? error}`);
    return null;
  }
}

/** `exports.onExecutePostLogin = async (event, api) => {…}` */
export async function onExecutePostLogin(event, api) {
  const cached = api.cache.get(CACHE_KEY);
  if (cached?.value) {
    console.log("M2M token: cache hit");
    return;
  }
  console.log("M2M token: cache miss, requesting a new token");
  const token = await requestToken(event.secrets);
  if (token === null) return;
  console.log("M2M token: token received and valid");
  const result = api.cache.set(CACHE_KEY, token, { ttl: TTL_MS });
  if (result?.type === "error") console.error(`M2M token: cache set failed (${result.code})`);
}
