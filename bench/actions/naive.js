// "naive": what people write before they add caching — a token by client credentials on every
// login. Same request and validation as the seed port (./seed.js), no api.cache at all.

function tokenUrl(domain) {
  const base = /^https?:\/\//i.test(domain) ? domain : `https://${domain}`;
  return `${base.replace(/\/+$/, "")}/oauth/token`;
}

export async function onExecutePostLogin(event) {
  try {
    const response = await fetch(tokenUrl(event.secrets.AUTH0_CUSTOM_DOMAIN), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: event.secrets.CLIENT_ID,
        client_secret: event.secrets.CLIENT_SECRET,
        audience: event.secrets.ACCOUNT_API,
      }),
    });
    if (!response.ok) {
      console.error(`M2M token: token request failed with status ${response.status}`);
      return;
    }
    const data = await response.json();
    if (typeof data?.access_token !== "string" || data.access_token.length === 0) {
      console.error("M2M token: invalid token response (no access_token)");
    }
  } catch (error) {
    console.error(`M2M token: error while getting a token: ${error?.message ?? error}`);
  }
}
