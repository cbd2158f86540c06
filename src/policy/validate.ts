/**
 * Walk one parsed YAML document against the policy format (format.ts) and collect every problem
 * in it, each at the line and column of the node at fault with its dotted YAML path (list items
 * as `.0`). Returns the checked values: scalars in their runtime form, mappings as plain objects
 * that remember where they were written, named mappings as entry lists. Invalid values are left
 * out, so the caller can still check the rest across files; it builds a policy only when no
 * problem was found.
 *
 * The walk follows the format, never the document, so its depth is the format's and unknown
 * subtrees are not entered: hostile nesting costs nothing here.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type Node, type Pair } from "yaml";
import { closest } from "../config/suggest.ts";
import type { PolicyProblem } from "./load.ts";
import {
  type ListShape,
  type MapShape,
  type ObjectShape,
  type RefKind,
  type ScalarShape,
  type Shape,
  type VariantShape,
  variantKeys,
} from "./shape.ts";

/** A use of a response or channel name, resolved once every file has been read. */
export interface Reference {
  kind: RefKind;
  name: string;
  where: string;
  path: string;
}

/** A checked mapping: its fields, where it starts, and where each of its keys and values was written. */
export type Checked = Record<string, unknown> & {
  $at: string;
  $path: string;
  $keys: Record<string, string>;
  $pos: Record<string, string>;
};

export interface MapEntry<T = Checked> {
  name: string;
  /** Position of the key. */
  where: string;
  path: string;
  value: T | undefined;
}

export interface WalkContext {
  doc: Document;
  /** `file:line:col` of a node (the file alone when it has no position). */
  at(node: Node | null | undefined): string;
  problems: PolicyProblem[];
  references: Reference[];
}

export function validate(node: Node | null, shape: Shape, path: string, ctx: WalkContext): unknown {
  const target = isAlias(node) ? (node.resolve(ctx.doc) ?? null) : node;
  switch (shape.kind) {
    case "scalar":
      return checkScalar(target, shape, path, ctx);
    case "object":
      return checkObject(target, shape, path, ctx, null);
    case "variant":
      return checkVariant(target, shape, path, ctx);
    case "map":
      return checkMap(target, shape, path, ctx);
    case "list":
      return checkList(target, shape, path, ctx);
  }
}

function report(ctx: WalkContext, node: Node | null | undefined, path: string, message: string): void {
  ctx.problems.push({ where: ctx.at(node), path: path || "(root)", message });
}

const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

function checkScalar(node: Node | null, shape: ScalarShape, path: string, ctx: WalkContext): unknown {
  // Collections are passed as stand-ins so that messages say "a mapping" or "a list".
  const raw = isScalar(node) ? node.value : isMap(node) ? {} : isSeq(node) ? [] : null;
  const parsed = shape.parse(raw);
  if (!parsed.ok) {
    report(ctx, node, path, parsed.message);
    return undefined;
  }
  if (shape.ref)
    ctx.references.push({ kind: shape.ref, name: parsed.value as string, where: ctx.at(node), path });
  return parsed.value;
}

/** The pairs of a mapping with plain keys, reporting odd and duplicate keys once each. */
function pairsOf(node: Node, path: string, ctx: WalkContext): { key: string; pair: Pair }[] {
  const out: { key: string; pair: Pair }[] = [];
  const seen = new Map<string, string>();
  if (!isMap(node)) return out;
  for (const pair of node.items) {
    const keyNode = pair.key as Node | null;
    if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === "object") {
      report(ctx, keyNode ?? node, path, "keys must be plain names, not lists, mappings or empty");
      continue;
    }
    const key = String(keyNode.value);
    const first = seen.get(key);
    if (first !== undefined) {
      report(
        ctx,
        keyNode,
        join(path, key),
        `duplicate key (first given at ${first.replace(/^.*?:(\d+:\d+)$/, "$1")})`,
      );
      continue;
    }
    seen.set(key, ctx.at(keyNode));
    out.push({ key, pair });
  }
  return out;
}

function checkObject(
  node: Node | null,
  shape: ObjectShape,
  path: string,
  ctx: WalkContext,
  tagged: { tag: string; value: string; allKeys: Set<string> } | null,
): Checked | undefined {
  if (!isMap(node)) {
    report(ctx, node, path, "must be a mapping");
    return undefined;
  }
  const out: Checked = { $at: ctx.at(node), $path: path, $keys: {}, $pos: {} };
  const present = new Map<string, Node>();
  // A key already named in a "did you mean" is not reported missing as well.
  const suggested = new Set<string>();
  for (const { key, pair } of pairsOf(node, path, ctx)) {
    const keyNode = pair.key as Node;
    // Own keys only: `constructor` or `__proto__` in a file must not find Object.prototype's.
    const field = Object.hasOwn(shape.fields, key) ? shape.fields[key] : undefined;
    if (tagged && key === tagged.tag) continue;
    if (!field) {
      const meant = closest(key, Object.keys(shape.fields));
      if (meant !== null) suggested.add(meant);
      const message = tagged?.allKeys.has(key)
        ? `does not apply to ${tagged.tag} ${tagged.value}`
        : `unknown key${meant === null ? "" : ` (did you mean ${JSON.stringify(meant)}?)`}`;
      report(ctx, keyNode, join(path, key), message);
      continue;
    }
    const valueNode = (pair.value as Node | null) ?? null;
    present.set(key, keyNode);
    out.$keys[key] = ctx.at(keyNode);
    out.$pos[key] = ctx.at(valueNode ?? keyNode);
    const value = validate(valueNode, field.shape, join(path, key), ctx);
    if (value !== undefined) out[key] = value;
  }
  for (const [key, field] of Object.entries(shape.fields)) {
    if (present.has(key)) continue;
    if (field.required && !suggested.has(key)) report(ctx, node, join(path, key), "is required");
    else if (field.default !== undefined && field.shape.kind === "scalar") {
      // Defaults come from the format table, the same values the schema shows to editors.
      const parsed = field.shape.parse(field.default);
      if (parsed.ok) out[key] = parsed.value;
    }
  }
  checkTogether(node, shape, path, ctx, out, present);
  return out;
}

/** `exactlyOne` and `needs`: keys that only make sense with (or without) one another. */
function checkTogether(
  node: Node,
  shape: ObjectShape,
  path: string,
  ctx: WalkContext,
  out: Checked,
  present: Map<string, Node>,
): void {
  if (shape.exactlyOne) {
    const given = shape.exactlyOne.filter((k) => present.has(k));
    const names = shape.exactlyOne.join(", ");
    if (given.length === 0) report(ctx, node, path, `needs one of ${names}`);
    for (const extra of given.slice(1)) {
      report(
        ctx,
        present.get(extra),
        join(path, extra),
        `cannot be used with ${given[0]} (give exactly one of ${names})`,
      );
    }
  }
  for (const [key, needs] of Object.entries(shape.needs ?? {})) {
    if (!present.has(key)) continue;
    const satisfied = needs.value === undefined ? present.has(needs.key) : out[needs.key] === needs.value;
    if (!satisfied) report(ctx, present.get(key), join(path, key), needs.message);
  }
}

function checkVariant(
  node: Node | null,
  shape: VariantShape,
  path: string,
  ctx: WalkContext,
): Checked | undefined {
  if (!isMap(node)) {
    report(ctx, node, path, "must be a mapping");
    return undefined;
  }
  const tagPair = node.items.find((p) => isScalar(p.key) && p.key.value === shape.tag);
  if (!tagPair) {
    report(
      ctx,
      node,
      join(path, shape.tag),
      `is required (one of ${Object.keys(shape.variants).join(", ")})`,
    );
    return undefined;
  }
  const tagNode = (tagPair.value as Node | null) ?? null;
  const tag = checkScalar(tagNode, shape.tagShape, join(path, shape.tag), ctx) as string | undefined;
  if (tag === undefined) return undefined;
  const checked = checkObject(node, shape.variants[tag]!, path, ctx, {
    tag: shape.tag,
    value: tag,
    allKeys: variantKeys(shape),
  });
  if (checked) {
    checked[shape.tag] = tag;
    checked.$keys[shape.tag] = ctx.at(tagPair.key as Node);
    checked.$pos[shape.tag] = ctx.at(tagNode);
  }
  return checked;
}

function checkMap(
  node: Node | null,
  shape: MapShape,
  path: string,
  ctx: WalkContext,
): MapEntry[] | undefined {
  if (!isMap(node)) {
    report(ctx, node, path, "must be a mapping");
    return undefined;
  }
  if (node.items.length > shape.maxEntries) {
    report(ctx, node, path, `has ${node.items.length} entries; at most ${shape.maxEntries} are allowed`);
    return undefined;
  }
  const entries: MapEntry[] = [];
  for (const { key, pair } of pairsOf(node, path, ctx)) {
    const keyNode = pair.key as Node;
    const entryPath = join(path, key);
    const name = checkScalar(keyNode, shape.key, entryPath, ctx) as string | undefined;
    const value = validate((pair.value as Node | null) ?? null, shape.value, entryPath, ctx) as
      | Checked
      | undefined;
    if (name !== undefined) entries.push({ name, where: ctx.at(keyNode), path: entryPath, value });
  }
  return entries;
}

function checkList(
  node: Node | null,
  shape: ListShape,
  path: string,
  ctx: WalkContext,
): unknown[] | undefined {
  if (!isSeq(node)) {
    report(ctx, node, path, "must be a list");
    return undefined;
  }
  const n = node.items.length;
  if (n > shape.max) {
    // One problem, not one per item: a list of 10 000 bad entries must not flood the output.
    report(ctx, node, path, `has ${n} items; at most ${shape.max} are allowed`);
    return undefined;
  }
  if (n < shape.min) {
    report(ctx, node, path, shape.min === 1 ? "must not be empty" : `needs at least ${shape.min} items`);
    return undefined;
  }
  const out: unknown[] = [];
  const seen = new Set<unknown>();
  node.items.forEach((item, i) => {
    const value = validate(item as Node | null, shape.item, join(path, i), ctx);
    if (value === undefined) return;
    if (shape.unique && seen.has(value)) {
      report(ctx, item as Node, join(path, i), `${JSON.stringify(value)} is listed more than once`);
      return;
    }
    seen.add(value);
    out.push(value);
  });
  return out;
}
