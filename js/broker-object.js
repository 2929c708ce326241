// The token broker's Durable Object class as the Worker exports it (wrangler.toml: TokenBroker).
// The broker is the Rust class (src/broker_object.rs); this only hands it the object's storage
// sealed with TOKEN_ENCRYPTION_KEY when that is set (js/runtime/sealed-storage.js), so the token
// it keeps is never stored in plain text — the same key and rules as the trigger cache's KV value.
import { TokenBroker as RustTokenBroker } from "../build/index.js";

import { createLogger } from "./log.js";
import { sealedStorage } from "./runtime/sealed-storage.js";

// Its records carry `host` like the Rust broker's own (src/wasm.rs), so they read as the broker's.
const componentLog = createLogger("token-broker");
const log = (level, event, fields = {}) => componentLog(level, event, { host: "token-broker", ...fields });

export class TokenBroker {
  constructor(ctx, env) {
    const storage = sealedStorage(ctx.storage, env.TOKEN_ENCRYPTION_KEY, `token-broker:${ctx.id}`, log);
    this.broker = new RustTokenBroker({ storage }, env);
  }

  fetch(request) {
    return this.broker.fetch(request);
  }
}
