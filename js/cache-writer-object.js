// The trigger cache's single writer as a Durable Object class: `TriggerCacheWriter`, SQLite-backed,
// one instance per trigger (`idFromName(trigger)`), bound as ACTIONS_CACHE_WRITER (wrangler.toml).
// Only binds the platform: the work is CacheWriterCore (js/runtime/cache-writer.js), which Node
// tests run without "cloudflare:workers".
import { DurableObject } from "cloudflare:workers";

import { createLogger } from "./log.js";
import { CacheWriterCore } from "./runtime/cache-writer.js";

export class TriggerCacheWriter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.core = new CacheWriterCore({
      storage: ctx.storage,
      kv: env.ACTIONS_CACHE,
      keySpec: env.TOKEN_ENCRYPTION_KEY,
      log: createLogger("cache-writer"),
    });
  }

  /** POST /merge with a delta (what the isolates call; see cache-writer.js for the protocol). */
  fetch(request) {
    return this.core.fetch(request);
  }

  /** The same merge over RPC: `{ status, body }`. */
  merge(delta) {
    return this.core.merge(delta);
  }

  alarm() {
    return this.core.alarm();
  }
}
