// A suspended login's state as a Durable Object: `LoginStateStore`, SQLite-backed, one instance
// per state (`idFromName(<state key>)`), bound as LOGIN_STATES (wrangler.toml). Only binds the
// platform: the work is LoginStateCore (js/runtime/login-states.js).
import { DurableObject } from "cloudflare:workers";

import { LoginStateCore } from "./runtime/login-states.js";

export class LoginStateStore extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.core = new LoginStateCore({ storage: ctx.storage });
  }

  fetch(request) {
    return this.core.fetch(request);
  }

  alarm() {
    return this.core.alarm();
  }
}
