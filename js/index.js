// The Worker entry named in wrangler.toml: the login handler running the post-login Actions.
import { postLoginActions } from "./actions.js";
import { createLoginHandler } from "./handler.js";

export default createLoginHandler({ actions: postLoginActions });
