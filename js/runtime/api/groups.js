// api.groups (@auth0/actions post-login v3 GroupsAPI): reads of tenant data, both returning
// promises. Argument checks and messages are Auth0's harness. The data comes from an injected
// `tenant` source ({ getUserGroups(userId, {from, take}), hasGroupMembership(userId,
// connectionId, organizationId, groups) }) — in the Worker, js/runtime/tenant.js over the Rust
// Action's Management API client; without one, both reject with a clear error.
// `api.roles` is not here: it is in Auth0's harness but not in the published types (README).

import { typeName } from "./checks.js";

export class TenantDataUnavailableError extends Error {
  constructor(method) {
    super(`${method}: no tenant data source is configured in this runtime`);
    this.name = "TenantDataUnavailableError";
  }
}

export function groupsApi(ctx) {
  const { event, tenant } = ctx;
  return {
    /** @param {{ from?: string, take?: number }} [params] */
    async getUserGroups(params = {}) {
      const method = "api.groups.getUserGroups";
      if (typeof params !== "object" || params === null)
        throw new TypeError(`${method}: params must be an object`);
      const { from, take } = params;
      if (from !== undefined && typeof from !== "string") {
        throw new TypeError(
          `${method}: the "from" parameter must be a string if provided, got ${typeName(from)}`,
        );
      }
      if (take !== undefined && (typeof take !== "number" || !Number.isInteger(take) || take <= 0)) {
        throw new TypeError(`${method}: the "take" parameter must be a positive integer if provided`);
      }
      if (typeof tenant?.getUserGroups !== "function") throw new TenantDataUnavailableError(method);
      return tenant.getUserGroups(event.user.user_id, { from, take });
    },
    async hasGroupMembership(groups) {
      const method = "api.groups.hasGroupMembership";
      if (!Array.isArray(groups) || groups.length === 0 || !groups.every((g) => typeof g === "string")) {
        throw new TypeError(`${method}: the "groups" parameter must be a non-empty array of strings`);
      }
      if (typeof tenant?.hasGroupMembership !== "function") throw new TenantDataUnavailableError(method);
      return tenant.hasGroupMembership(event.user.user_id, event.connection?.id, event.organization?.id, [
        ...groups,
      ]);
    },
  };
}
