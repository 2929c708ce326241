#!/usr/bin/env node
/**
 * The Auth0 tenant simulator on its own (`npm run simulator`), to point a `wrangler dev` at:
 *
 *   node tests/support/simulator-cli.js [--port 8788] [--host 127.0.0.1] [--lifetime SECONDS]
 *     [--client-id X --client-secret Y [--audience Z ...]]
 *
 * Prints one JSON line on stdout once listening, `{"simulator":"listening","url":"http://…"}`,
 * and exits with status 0 on SIGINT/SIGTERM. Faults and counters are for in-process callers
 * (simulator.js); this process has no control routes.
 */
import { parseArgs } from "node:util";
import { startSimulator } from "./simulator.js";

const USAGE =
  "usage: simulator-cli.js [--port 8788] [--host 127.0.0.1] [--lifetime SECONDS] " +
  "[--client-id ID --client-secret SECRET [--audience AUD ...]]";

/** argv → startSimulator options; throws on invalid input. */
function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string", default: "8788" },
      host: { type: "string" },
      lifetime: { type: "string" },
      "client-id": { type: "string" },
      "client-secret": { type: "string" },
      audience: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return { help: true };
  const options = { port: integer("--port", values.port, 0, 65535) };
  if (values.host !== undefined) options.host = values.host;
  if (values.lifetime !== undefined) options.tokenLifetimeSeconds = integer("--lifetime", values.lifetime);
  if (values["client-id"] !== undefined || values["client-secret"] !== undefined || values.audience) {
    // A custom client replaces the default one; its audiences default to the Management API.
    options.clients = [
      {
        clientId: values["client-id"] ?? "sim-client-id",
        clientSecret: values["client-secret"] ?? "sim-client-secret",
        audiences: values.audience,
      },
    ];
  }
  return options;
}

function integer(flag, text, min = -Infinity, max = Infinity) {
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || value < min || value > max) {
    throw new Error(`${flag} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

let options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  console.error(`simulator: ${error.message}\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
} else {
  const simulator = await startSimulator(options);
  // The URL only: never the client secret or a token.
  process.stdout.write(`${JSON.stringify({ simulator: "listening", url: simulator.url })}\n`);
  const stop = async () => {
    await simulator.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
