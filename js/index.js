// The Worker entry named in wrangler.toml: the login handler running the post-login Actions —
// the Rust Action and those of a Deploy CLI export (build/tenant-actions/), in the export's order
// — the fleet's token broker, a Durable Object class of the Rust module, and the trigger cache's
// single writer and the suspended logins' states, Durable Object classes in JS.
// api.groups is answered by the Rust Action's Management API client (its cached token).
import * as action from "../build/index.js";
import { postLoginBindings } from "../build/tenant-actions/index.js";
import { bindExportedActions, bindPostLoginActions } from "./actions.js";
import { withTokenBroker } from "./broker.js";
import { createLoginHandler } from "./handler.js";
import { managementTenantSource } from "./runtime/tenant.js";

export { TokenBroker } from "./broker-object.js";
export { TriggerCacheWriter } from "./cache-writer-object.js";
export { LoginStateStore } from "./login-state-object.js";

const rustActions = bindPostLoginActions(action);

export default withTokenBroker(
  action,
  createLoginHandler({
    actions: bindExportedActions(postLoginBindings, rustActions),
    tenant: managementTenantSource(action.ManagementApi, rustActions[0]),
  }),
);
