/**
 * docs/policy.md and policies/schema.json describe the same format: every key path the schema
 * allows is in the reference, and every key path the reference's tables name is in the schema.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";

type Schema = { [key: string]: unknown };

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");

/** What the reference writes for the names a user chooses, by the mapping that holds them. */
const PLACEHOLDER: Record<string, string> = {
  detectionPoints: "<id>",
  responses: "<name>",
  notify: "<channel>",
};

/** Key paths as the reference writes them: `rules[].name`, `responses.<name>.scope`. */
function schemaKeyPaths(schema: Schema, path = ""): string[] {
  const out: string[] = [];
  const walk = (node: Schema, at: string) => {
    for (const [key, child] of Object.entries((node.properties as Record<string, Schema>) ?? {})) {
      const p = at ? `${at}.${key}` : key;
      out.push(p);
      walk(child, p);
    }
    // Response variants: each `then` adds the keys of one action.
    for (const part of (node.allOf as Schema[] | undefined) ?? [])
      if (part.then) walk(part.then as Schema, at);
    if (typeof node.additionalProperties === "object" && node.additionalProperties !== null) {
      const name = at.split(".").pop()!;
      walk(node.additionalProperties as Schema, `${at}.${PLACEHOLDER[name] ?? "<name>"}`);
    }
    if (node.type === "array" && typeof node.items === "object") walk(node.items as Schema, `${at}[]`);
  };
  walk(schema, path);
  return [...new Set(out)];
}

const schema = JSON.parse(read("policies/schema.json")) as Schema;
const doc = read("docs/policy.md");
const paths = schemaKeyPaths(schema);

it("docs/policy.md documents every key path of policies/schema.json", () => {
  assert.ok(paths.length > 40, `only ${paths.length} key paths found`);
  assert.deepEqual(
    paths.filter((p) => !doc.includes(`| \`${p}\` |`)),
    [],
  );
});

it("docs/policy.md names no key path the schema does not have", () => {
  // The first cell of the reference tables' rows.
  const named = [...doc.matchAll(/^\| `([A-Za-z][\w.<>[\]-]*)` \|/gm)].map((m) => m[1]!);
  const keyLike = named.filter((n) =>
    /^(mode|detectionPoints|rules|responses|breach|notify|allowlist|identity|escalation|incidents|edge)\b/.test(
      n,
    ),
  );
  assert.ok(keyLike.length >= paths.length);
  assert.deepEqual(
    keyLike.filter((n) => !paths.includes(n)),
    [],
  );
});
