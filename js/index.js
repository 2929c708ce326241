// The Worker entry named in wrangler.toml: the login handler running the post-login Actions —
// the Rust Action and those of a Deploy CLI export (build/tenant-actions/), in the export's order
// — and the fleet's token broker, a Durable Object class of the Rust module.
import * as action from "../build/index.js";
import { postLoginBindings } from "../build/tenant-actions/index.js";
import { bindExportedActions, bindPostLoginActions } from "./actions.js";
import { withTokenBroker } from "./broker.js";
import { createLoginHandler } from "./handler.js";

export { TokenBroker } from "../build/index.js";

export default withTokenBroker(
  action,
  createLoginHandler({
    actions: bindExportedActions(postLoginBindings, bindPostLoginActions(action)),
  }),
);
