#!/usr/bin/env node
/**
 * Run the Auth0 tenant simulator as a standalone process (demo, benchmark).
 *
 *   node tests/support/simulator-cli.js --port 8788 [--host 127.0.0.1]
 *     [--lifetime 86400] [--scope "read:users ..."]
 *     [--client-id X --client-secret Y --audience Z [--audience Z2]]
 *     [--users users.json]
 *
 * `--users` names a JSON file holding an array of users (see `UserSeed` in
 * simulator.js) that replaces the default Management API user store.
 *
 * Prints exactly one JSON line on stdout once listening, so a parent process
 * can wait for it:
 *
 *   {"simulator":"listening","url":"http://127.0.0.1:8788"}
 *
 * and exits with status 0 on SIGINT/SIGTERM. Stats, faults, the token
 * lifetime, token revocation, key rotation, the Management API rate limit and
 * users are controlled over HTTP via the /__sim/* endpoints.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startSimulator } from "./simulator.js";

const USAGE =
  "usage: simulator-cli.js [--port 8788] [--host 127.0.0.1] [--lifetime SECONDS] " +
  "[--scope SCOPE] [--client-id ID --client-secret SECRET [--audience AUD ...]] [--users FILE.json]";

/** Parse argv into startSimulator options; throws on invalid input. */
function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string", default: "8788" },
      host: { type: "string" },
      lifetime: { type: "string" },
      scope: { type: "string" },
      "client-id": { type: "string" },
      "client-secret": { type: "string" },
      audience: { type: "string", multiple: true },
      users: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return { help: true };

  const options = { port: parseInteger("--port", values.port, 0, 65535) };
  if (values.host !== undefined) options.host = values.host;
  if (values.scope !== undefined) options.scope = values.scope;
  if (values.lifetime !== undefined) {
    options.tokenLifetimeSeconds = parseInteger("--lifetime", values.lifetime);
  }
  if (values.users !== undefined) options.users = readUsers(values.users);

  const clientId = values["client-id"];
  const clientSecret = values["client-secret"];
  if (clientId !== undefined || clientSecret !== undefined || values.audience) {
    // A custom client replaces the default one; unspecified parts keep the
    // defaults (audiences default to the simulator's Management API).
    options.clients = [
      {
        clientId: clientId ?? "sim-client-id",
        clientSecret: clientSecret ?? "sim-client-secret",
        audiences: values.audience,
      },
    ];
  }
  return options;
}

/** Read a JSON array of users; startSimulator validates the entries. */
function readUsers(path) {
  let users;
  try {
    users = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`--users: cannot read ${path}: ${error.message}`);
  }
  if (!Array.isArray(users)) throw new Error("--users: the file must hold a JSON array of users");
  return users;
}

function parseInteger(flag, text, min = -Infinity, max = Infinity) {
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || value < min || value > max) {
    throw new Error(`${flag} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`simulator: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }

  const simulator = await startSimulator(options);
  // Only the URL: never echo the client secret or any token.
  process.stdout.write(`${JSON.stringify({ simulator: "listening", url: simulator.url })}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await simulator.close();
      process.exit(0);
    } catch (error) {
      console.error(`simulator: error while closing: ${error.message}`);
      process.exit(1);
    }
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error) => {
  console.error(`simulator: failed to start: ${error.message}`);
  process.exit(1);
});
