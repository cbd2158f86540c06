/**
 * JSON Schema (draft 2020-12) of the policy format, for editors (yaml-language-server, VS Code):
 * completion, hover docs and red squiggles while a policy is written. Generated from the same
 * table as the validator (format.ts); `npm run schema` writes policies/schema.json. The schema
 * cannot see across files (a response defined elsewhere, a rule name used twice), so the loader
 * remains the judge: `gatehouse check`.
 */
import { POLICY_FORMAT } from "./format.ts";
import type {
  Field,
  JsonSchema,
  ListShape,
  MapShape,
  ObjectShape,
  ScalarShape,
  Shape,
  VariantShape,
} from "./shape.ts";

export function policySchema(): JsonSchema {
  const defs: Record<string, JsonSchema> = {};
  const root = toSchema(POLICY_FORMAT, defs);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "Gatehouse policy",
    ...root,
    $defs: Object.fromEntries(Object.entries(defs).sort(([a], [b]) => a.localeCompare(b))),
  };
}

function toSchema(shape: Shape, defs: Record<string, JsonSchema>): JsonSchema {
  switch (shape.kind) {
    case "scalar":
      return scalarSchema(shape, defs);
    case "object":
      return objectSchema(shape, defs, null);
    case "variant":
      return variantSchema(shape, defs);
    case "map":
      return mapSchema(shape, defs);
    case "list":
      return listSchema(shape, defs);
  }
}

function scalarSchema(shape: ScalarShape, defs: Record<string, JsonSchema>): JsonSchema {
  if (!shape.name) return { description: shape.doc, ...shape.json };
  defs[shape.name] ??= { description: shape.doc, ...shape.json };
  return { $ref: `#/$defs/${shape.name}` };
}

function fieldSchema(field: Field, defs: Record<string, JsonSchema>): JsonSchema {
  const schema = { ...toSchema(field.shape, defs), description: field.doc };
  return field.default === undefined ? schema : { ...schema, default: field.default };
}

function objectSchema(
  shape: ObjectShape,
  defs: Record<string, JsonSchema>,
  tag: { key: string; value: string } | null,
): JsonSchema {
  const properties: Record<string, JsonSchema> = tag ? { [tag.key]: { const: tag.value } } : {};
  for (const [key, field] of Object.entries(shape.fields)) properties[key] = fieldSchema(field, defs);
  const required = [
    ...(tag ? [tag.key] : []),
    ...Object.entries(shape.fields)
      .filter(([, f]) => f.required)
      .map(([k]) => k),
  ];
  const schema: JsonSchema = {
    type: "object",
    description: shape.doc,
    properties,
    additionalProperties: false,
  };
  if (required.length > 0) schema.required = required;
  if (shape.exactlyOne) schema.oneOf = shape.exactlyOne.map((k) => ({ required: [k] }));
  const needs = Object.entries(shape.needs ?? {});
  const keyOnly = needs.filter(([, n]) => n.value === undefined);
  const withValue = needs.filter(([, n]) => n.value !== undefined);
  if (keyOnly.length > 0)
    schema.dependentRequired = Object.fromEntries(keyOnly.map(([k, n]) => [k, [n.key]]));
  if (withValue.length > 0) {
    schema.dependentSchemas = Object.fromEntries(
      withValue.map(([k, n]) => [k, { required: [n.key], properties: { [n.key]: { const: n.value } } }]),
    );
  }
  return schema;
}

/** One `if action is X then these keys` branch per variant, so editors offer the right keys. */
function variantSchema(shape: VariantShape, defs: Record<string, JsonSchema>): JsonSchema {
  return {
    type: "object",
    description: shape.doc,
    required: [shape.tag],
    properties: { [shape.tag]: toSchema(shape.tagShape, defs) },
    allOf: Object.entries(shape.variants).map(([value, v]) => ({
      if: { properties: { [shape.tag]: { const: value } }, required: [shape.tag] },
      // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword, never awaited.
      then: objectSchema(v, defs, { key: shape.tag, value }),
    })),
  };
}

function mapSchema(shape: MapShape, defs: Record<string, JsonSchema>): JsonSchema {
  return {
    type: "object",
    description: shape.doc,
    propertyNames: toSchema(shape.key, defs),
    additionalProperties: toSchema(shape.value, defs),
    maxProperties: shape.maxEntries,
  };
}

function listSchema(shape: ListShape, defs: Record<string, JsonSchema>): JsonSchema {
  const schema: JsonSchema = {
    type: "array",
    description: shape.doc,
    items: toSchema(shape.item, defs),
    maxItems: shape.max,
  };
  if (shape.min > 0) schema.minItems = shape.min;
  if (shape.unique) schema.uniqueItems = true;
  return schema;
}

/** The file as committed: stable key order, two-space indent, final newline. */
export function policySchemaText(): string {
  return `${JSON.stringify(policySchema(), null, 2)}\n`;
}
