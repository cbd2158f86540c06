import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";
import { envName, flagName, SETTINGS } from "../../../src/config/settings.ts";

it("docs/configuration.md documents every setting with its flag and environment variable", () => {
  const doc = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");
  const missing = SETTINGS.filter(
    (s) => !doc.includes(`| \`${s.path}\` | \`--${flagName(s.path)}\` | \`${envName(s.path)}\` |`),
  ).map((s) => s.path);
  assert.deepEqual(missing, []);
});
