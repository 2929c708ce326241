// Which token broker the Rust Action uses: the Durable Object namespace bound as TOKEN_BROKER
// (class TokenBroker, src/broker_object.rs), unless TOKEN_BROKER_MODE is "off". Without one,
// every isolate requests its own tokens (the behaviour before the broker existed).

import { createLogger } from "./log.js";

const log = createLogger("actions-runtime");

/** The broker namespace `env` selects, or undefined. */
export function selectTokenBroker(env) {
  const mode = env.TOKEN_BROKER_MODE ?? "on";
  if (mode === "off") return undefined;
  if (mode !== "on") log("warn", "token_broker_mode_unknown", { mode, using: "on" });
  return env.TOKEN_BROKER ?? undefined;
}

/**
 * Hands `wasm.useTokenBroker` the broker of each new Worker environment (once per `env`
 * object: the runtime keeps one per isolate), and returns the handler unchanged otherwise.
 */
export function withTokenBroker(wasm, handler) {
  let seen = null;
  return {
    fetch(request, env, ctx) {
      if (env !== seen) {
        seen = env;
        const broker = selectTokenBroker(env);
        wasm.useTokenBroker(broker);
        log("info", "token_broker", { bound: broker !== undefined });
      }
      return handler.fetch(request, env, ctx);
    },
  };
}
