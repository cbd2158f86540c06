/**
 * The vocabulary in which the policy format is written down once (src/policy/format.ts): typed
 * scalars, mappings with fixed keys, mappings by name, lists, and mappings whose keys depend on a
 * tag (`action`). The validator (validate.ts) walks YAML against a Shape and the schema generator
 * (schema.ts) turns the same Shape into JSON Schema, so what the loader accepts and what an editor
 * suggests come from one table and cannot drift apart.
 *
 * Only what JSON Schema can also say lives here. Checks that need the whole policy (a response
 * name defined in another file, a rule name used twice) are the compiler's (merge.ts).
 */
import type { Parsed } from "../config/units.ts";

/** A JSON Schema fragment (draft 2020-12). */
export type JsonSchema = { [key: string]: unknown };

/** What a scalar's value names elsewhere in the policy, checked once every file is read. */
export type RefKind = "response" | "channel";

export interface ScalarShape<T = unknown> {
  kind: "scalar";
  /** Key under `$defs` in the schema, for scalars used in many places. */
  name?: string;
  doc: string;
  /** The same constraint as `parse`, as JSON Schema (without `description`). */
  json: JsonSchema;
  /** Raw YAML value → runtime value, or a message saying what was expected. Never throws. */
  parse(raw: unknown): Parsed<T>;
  ref?: RefKind;
}

export interface Field {
  shape: Shape;
  required: boolean;
  doc: string;
  /** The value used when the key is absent, as written in YAML (shown in the schema). */
  default?: unknown;
}

/** A key that may only appear together with another key (or with another key set to a value). */
export interface Needs {
  key: string;
  value?: string;
  message: string;
}

export interface ObjectShape {
  kind: "object";
  doc: string;
  fields: Readonly<Record<string, Field>>;
  /** Exactly one of these keys must be present. */
  exactlyOne?: readonly string[];
  needs?: Readonly<Record<string, Needs>>;
}

/** A mapping from names the user chooses (detection points, responses, channels) to entries. */
export interface MapShape {
  kind: "map";
  doc: string;
  key: ScalarShape<string>;
  value: Shape;
  maxEntries: number;
}

export interface ListShape {
  kind: "list";
  doc: string;
  item: Shape;
  min: number;
  max: number;
  unique?: boolean;
}

/** A mapping whose allowed keys depend on the value of its `tag` key, e.g. a response's action. */
export interface VariantShape {
  kind: "variant";
  doc: string;
  tag: string;
  /** The tag's values: the keys of `variants`. */
  tagShape: ScalarShape<string>;
  variants: Readonly<Record<string, ObjectShape>>;
}

export type Shape = ScalarShape | ObjectShape | MapShape | ListShape | VariantShape;

/** A key that must be given. Its doc defaults to the shape's own. */
export function required(shape: Shape, doc = shape.doc): Field {
  return { shape, required: true, doc };
}

/** A key that may be left out; `defaultValue` (as written in YAML) is used then. */
export function optional(shape: Shape, doc = shape.doc, defaultValue?: unknown): Field {
  return defaultValue === undefined
    ? { shape, required: false, doc }
    : { shape, required: false, doc, default: defaultValue };
}

export function object(
  doc: string,
  fields: Record<string, Field>,
  extra: { exactlyOne?: readonly string[]; needs?: Record<string, Needs> } = {},
): ObjectShape {
  return { kind: "object", doc, fields, ...extra };
}

export function mapOf(doc: string, key: ScalarShape<string>, value: Shape, maxEntries: number): MapShape {
  return { kind: "map", doc, key, value, maxEntries };
}

export function listOf(
  item: Shape,
  doc: string,
  bounds: { min?: number; max: number; unique?: boolean },
): ListShape {
  return { kind: "list", doc, item, min: bounds.min ?? 0, max: bounds.max, unique: bounds.unique ?? false };
}

export function variant(
  doc: string,
  tag: string,
  tagShape: ScalarShape<string>,
  variants: Record<string, ObjectShape>,
): VariantShape {
  return { kind: "variant", doc, tag, tagShape, variants };
}

/** Every key any variant allows, so a key can be told "not for this action" from "unknown". */
export function variantKeys(shape: VariantShape): Set<string> {
  const keys = new Set<string>([shape.tag]);
  for (const v of Object.values(shape.variants)) for (const k of Object.keys(v.fields)) keys.add(k);
  return keys;
}
