// Post-login event bodies for tests, the demo and benchmarks. No dependencies, so the in-process
// CPU benchmark can use it without loading the simulator.

/** A minimal valid post-login event body for `userId`. */
export function loginEvent(userId = "auth0|user-1", extra = {}) {
  return {
    user: {
      user_id: userId,
      email: `${userId.replace(/\W/g, "")}@example.com`,
      email_verified: true,
      app_metadata: {},
      user_metadata: {},
    },
    client: { client_id: "spa-client", name: "Web App", metadata: {} },
    connection: { id: "con_1", name: "Username-Password-Authentication", strategy: "auth0" },
    request: { ip: "203.0.113.7", method: "POST", query: {}, body: {} },
    tenant: { id: "edge-tenant" },
    stats: { logins_count: 3 },
    ...extra,
  };
}
