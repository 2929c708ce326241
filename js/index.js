// The Worker entry named in wrangler.toml: the login handler running the post-login Actions.
import * as action from "../build/index.js";
import { bindPostLoginActions } from "./actions.js";
import { createLoginHandler } from "./handler.js";

export default createLoginHandler({ actions: bindPostLoginActions(action) });
