// Secret hygiene over the whole end-to-end run (`npm test` runs this after tests/e2e/ with
// E2E_TRANSCRIPT_DIR set): no line any Worker printed and no response body contains a client
// secret, the login handler's HMAC secret, or any token the simulator issued.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const dir = process.env.E2E_TRANSCRIPT_DIR;

function read(kind) {
  const path = join(dir, `${kind}.jsonl`);
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

test("no log line or response of the end-to-end run contains a secret or an issued token", () => {
  assert.ok(dir, "E2E_TRANSCRIPT_DIR must name the transcript of an end-to-end run");
  const lines = read("lines");
  const responses = read("responses");
  const tokens = [...new Set(read("tokens"))];
  const secrets = [...new Set(read("secrets"))].filter((s) => typeof s === "string" && s.length >= 8);
  // The transcript must be substantial, or this test proves nothing.
  assert.ok(lines.length > 1000, `${lines.length} lines recorded`);
  assert.ok(responses.length > 300, `${responses.length} responses recorded`);
  assert.ok(tokens.length > 20, `${tokens.length} tokens recorded`);
  assert.ok(secrets.length >= 2, `${secrets.length} secrets recorded`);
  assert.ok(
    lines.some((l) => l.includes('"event":"token_valid"')),
    "the Action's logs are in the transcript",
  );

  const everything = [...lines, ...responses].join("\n");
  for (const secret of secrets) {
    assert.ok(!everything.includes(secret), `a secret (${secret.length} chars) leaked`);
  }
  for (const token of tokens) {
    assert.ok(!everything.includes(token), "an issued token leaked");
    const signature = token.split(".")[2];
    if (signature && signature.length >= 16) {
      assert.ok(!everything.includes(signature), "an issued token's signature leaked");
    }
  }
  assert.ok(!/authorization:\s*bearer/i.test(everything), "an Authorization header leaked");
});
