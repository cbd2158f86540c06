/**
 * Several policy files make one policy. Named entries (detection points, responses, notify
 * channels) merge by name and a name defined twice is an error naming both places; rules are
 * concatenated with names unique across files; allowlists and edge lists are unioned; `breach`,
 * `identity`, `escalation` and `incidents` may appear in one file only. Response and channel names are resolved
 * here, once every file is known, since a ladder may use a response defined in another file.
 */
import { didYouMean } from "../config/suggest.ts";
import type { PolicyProblem } from "./load.ts";
import type { Mode } from "./policy.ts";
import type { Checked, MapEntry, Reference } from "./validate.ts";

/** One file as validated: its top-level mapping (absent when unreadable or not a mapping). */
export interface CheckedFile {
  file: string;
  root: Checked | undefined;
  references: Reference[];
}

/** An entry with the mode of the file it came from, which is its default mode. */
export interface FromFile<T> {
  value: T;
  fileMode: Mode;
}

export interface Merged {
  /** The first file's top-level mode. */
  mode: Mode;
  detectionPoints: Map<string, FromFile<MapEntry>>;
  rules: FromFile<Checked>[];
  responses: Map<string, MapEntry>;
  notify: Map<string, MapEntry>;
  breach: FromFile<Checked> | null;
  identity: Checked | null;
  escalation: Checked | null;
  incidents: Checked | null;
  allowlists: Checked[];
  edges: Checked[];
}

const SINGLE = ["breach", "identity", "escalation", "incidents"] as const;

export function merge(
  files: readonly CheckedFile[],
  problems: PolicyProblem[],
  warnings: PolicyProblem[],
): Merged {
  const merged: Merged = {
    mode: (files[0]?.root?.mode as Mode | undefined) ?? "enforce",
    detectionPoints: new Map(),
    rules: [],
    responses: new Map(),
    notify: new Map(),
    breach: null,
    identity: null,
    escalation: null,
    incidents: null,
    allowlists: [],
    edges: [],
  };
  const ruleNames = new Map<string, string>();
  const singleAt: Partial<Record<(typeof SINGLE)[number], string>> = {};
  for (const { root } of files) {
    if (!root) continue;
    const fileMode = (root.mode as Mode | undefined) ?? "enforce";
    for (const entry of (root.detectionPoints as MapEntry[] | undefined) ?? []) {
      if (unique(merged.detectionPoints, entry, (e) => e.value.where, problems))
        merged.detectionPoints.set(entry.name, { value: entry, fileMode });
    }
    for (const entry of (root.responses as MapEntry[] | undefined) ?? []) {
      if (unique(merged.responses, entry, (e) => e.where, problems)) merged.responses.set(entry.name, entry);
    }
    for (const entry of (root.notify as MapEntry[] | undefined) ?? []) {
      if (unique(merged.notify, entry, (e) => e.where, problems)) merged.notify.set(entry.name, entry);
    }
    for (const rule of (root.rules as Checked[] | undefined) ?? []) {
      const name = rule.name as string | undefined;
      const first = name === undefined ? undefined : ruleNames.get(name);
      if (name !== undefined && first !== undefined) {
        problems.push({
          where: rule.$pos.name!,
          path: `${rule.$path}.name`,
          message: `${JSON.stringify(name)} is already the name of the rule at ${first}`,
        });
      } else if (name !== undefined) ruleNames.set(name, rule.$pos.name!);
      merged.rules.push({ value: rule, fileMode });
    }
    for (const key of SINGLE) {
      const section = root[key] as Checked | undefined;
      if (!section) continue;
      const first = singleAt[key];
      if (first !== undefined) {
        problems.push({
          where: root.$keys[key]!,
          path: key,
          message: `is also given at ${first}; only one policy file may have ${key}:`,
        });
        continue;
      }
      singleAt[key] = root.$keys[key]!;
      if (key === "breach") merged.breach = { value: section, fileMode };
      else merged[key] = section;
    }
    if (root.allowlist) merged.allowlists.push(root.allowlist as Checked);
    if (root.edge) merged.edges.push(root.edge as Checked);
  }
  checkEdgeLimits(merged.edges, problems);
  resolveReferences(files, merged, problems, warnings);
  return merged;
}

function unique<T>(
  seen: Map<string, T>,
  entry: MapEntry,
  whereOf: (first: T) => string,
  problems: PolicyProblem[],
): boolean {
  const first = seen.get(entry.name);
  if (first === undefined) return true;
  problems.push({ where: entry.where, path: entry.path, message: `is already defined at ${whereOf(first)}` });
  return false;
}

/** Each edge limit is one number: two files setting it would leave which one wins to file order. */
function checkEdgeLimits(edges: readonly Checked[], problems: PolicyProblem[]): void {
  const setAt = new Map<string, string>();
  for (const edge of edges) {
    const limits = edge.limits as Checked | undefined;
    if (!limits) continue;
    for (const [key, at] of Object.entries(limits.$keys)) {
      const first = setAt.get(key);
      if (first === undefined) setAt.set(key, at);
      else
        problems.push({
          where: at,
          path: `edge.limits.${key}`,
          message: `is also set at ${first}; set each edge limit in one policy file only`,
        });
    }
  }
}

function resolveReferences(
  files: readonly CheckedFile[],
  merged: Merged,
  problems: PolicyProblem[],
  warnings: PolicyProblem[],
): void {
  const used = new Set<string>();
  for (const ref of files.flatMap((f) => f.references)) {
    const defined = ref.kind === "response" ? merged.responses : merged.notify;
    const under = ref.kind === "response" ? "responses" : "notify";
    const what = ref.kind === "response" ? "response" : "notify channel";
    if (ref.kind === "response") used.add(ref.name);
    if (defined.has(ref.name)) continue;
    const hint = didYouMean(ref.name, defined.keys()) || ` (define it under ${under}:)`;
    problems.push({
      where: ref.where,
      path: ref.path,
      message: `unknown ${what} ${JSON.stringify(ref.name)}${hint}`,
    });
  }
  for (const entry of merged.responses.values()) {
    if (!used.has(entry.name)) {
      warnings.push({
        where: entry.where,
        path: entry.path,
        message: "is defined but no detection point, rule or breach uses it",
      });
    }
  }
}
