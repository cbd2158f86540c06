/**
 * `npm run schema`: write policies/schema.json from the policy format (src/policy/format.ts), then
 * format it the way `biome check` expects. test/unit/policy/schema.test.ts fails when the
 * committed file and the format disagree.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { policySchemaText } from "../src/policy/schema.ts";

const file = fileURLToPath(new URL("../policies/schema.json", import.meta.url));
writeFileSync(file, policySchemaText());
execFileSync(
  fileURLToPath(new URL("../node_modules/.bin/biome", import.meta.url)),
  ["format", "--write", file],
  {
    stdio: "inherit",
  },
);
process.stdout.write(`wrote ${file}\n`);
