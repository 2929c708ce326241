// The Worker entry named in wrangler.toml: the login handler running the post-login Actions —
// the Rust Action and those of a Deploy CLI export (build/tenant-actions/), in the export's order.
import * as action from "../build/index.js";
import { postLoginBindings } from "../build/tenant-actions/index.js";
import { bindExportedActions, bindPostLoginActions } from "./actions.js";
import { createLoginHandler } from "./handler.js";

export default createLoginHandler({
  actions: bindExportedActions(postLoginBindings, bindPostLoginActions(action)),
});
