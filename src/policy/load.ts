/**
 * Policy loading: YAML files → validated (validate.ts against format.ts) → merged (merge.ts) →
 * compiled and frozen (compile.ts). Every problem in every file is collected and returned
 * together, in file order, each as `FILE:LINE:COL yaml.path: message` (DESIGN section 4). No side
 * effects beyond reading the files; a caller that reloads keeps its last good policy on failure.
 *
 * Hostile files are refused with a problem, never a throw or a hang: the size is capped before
 * parsing, the YAML library reports its own stack exhaustion, alias expansion is bounded by its
 * `maxAliasCount`, and the validator only descends where the format does.
 */
import { readFileSync, statSync } from "node:fs";
import { LineCounter, type Node, parseDocument } from "yaml";
import { compile } from "./compile.ts";
import { POLICY_FORMAT } from "./format.ts";
import { type CheckedFile, merge } from "./merge.ts";
import type { Mode, Policy } from "./policy.ts";
import { type Checked, validate, type WalkContext } from "./validate.ts";

export interface PolicyProblem {
  /** `policies/app.yaml:12:7`, or the file name alone. */
  where: string;
  /** Dotted YAML path, list items as `.0`: `rules.0.sequence.1`; `(file)`, `(yaml)` or `(root)`. */
  path: string;
  message: string;
}

export type PolicyResult =
  | { ok: true; policy: Policy; warnings: PolicyProblem[] }
  | { ok: false; problems: PolicyProblem[] };

export interface PolicyLoadOptions {
  /** The process-wide `--mode`: when set, every entry and the breach responses run in it. */
  mode?: Mode | null;
}

export const MAX_POLICY_BYTES = 1024 * 1024;
/** Problems shown per file; past this a file is more likely not a policy than a policy with typos. */
export const MAX_PROBLEMS_PER_FILE = 100;
/** Alias expansions allowed by the YAML library before it calls the file an alias bomb. */
const MAX_ALIAS_COUNT = 100;

export function formatPolicyProblem(problem: PolicyProblem): string {
  return `${problem.where} ${problem.path}: ${problem.message}`;
}

export function loadPolicyFiles(files: readonly string[], options: PolicyLoadOptions = {}): PolicyResult {
  const problems: PolicyProblem[] = [];
  const sources = files.map((name) => ({ name, text: readPolicyFile(name, problems) }));
  return loadAll(sources, problems, options);
}

/** The same as loadPolicyFiles, from text already in memory (tests, `simulate`). */
export function loadPolicySources(
  sources: readonly { name: string; text: string }[],
  options: PolicyLoadOptions = {},
): PolicyResult {
  return loadAll(sources, [], options);
}

function readPolicyFile(file: string, problems: PolicyProblem[]): string | null {
  const refuse = (message: string) => {
    problems.push({ where: file, path: "(file)", message });
    return null;
  };
  try {
    // Sized before it is read: `--policy /dev/zero` or a huge file must not be read into memory.
    const stat = statSync(file);
    if (stat.isDirectory()) return refuse("is a directory, not a policy file");
    if (!stat.isFile()) return refuse("is not a regular file");
    if (stat.size > MAX_POLICY_BYTES) return refuse(`is ${stat.size} bytes; the limit is 1 MiB`);
    return readFileSync(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return refuse(e.code === "ENOENT" ? "does not exist" : `cannot be read: ${e.message}`);
  }
}

function loadAll(
  sources: readonly { name: string; text: string | null }[],
  problems: PolicyProblem[],
  options: PolicyLoadOptions,
): PolicyResult {
  const names = sources.map((s) => s.name);
  const checked: CheckedFile[] = [];
  sources.forEach(({ name, text }, i) => {
    if (names.indexOf(name) !== i) {
      problems.push({ where: name, path: "(file)", message: "is given more than once" });
    } else if (text !== null) {
      checked.push(checkSource(name, text, problems));
    }
  });
  const warnings: PolicyProblem[] = [];
  const merged = merge(checked, problems, warnings);
  if (problems.length > 0) return { ok: false, problems: inFileOrder(problems, names) };
  const policy = compile(names, merged, options.mode ?? null);
  return { ok: true, policy, warnings: inFileOrder(warnings, names) };
}

function checkSource(name: string, text: string, problems: PolicyProblem[]): CheckedFile {
  const unreadable: CheckedFile = { file: name, root: undefined, references: [] };
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    problems.push({ where: name, path: "(file)", message: "is over 1 MiB, the limit" });
    return unreadable;
  }
  if (text.includes("\0")) {
    problems.push({ where: name, path: "(file)", message: "is not a text file (it contains NUL bytes)" });
    return unreadable;
  }
  const lines = new LineCounter();
  const position = (offset: number) => {
    const pos = lines.linePos(offset);
    return `${name}:${pos.line}:${pos.col}`;
  };
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
    // Expanding the aliases once, bounded, is how the library detects an alias bomb.
    if (doc.errors.length === 0) doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT, mapAsMap: true });
  } catch (err) {
    problems.push({ where: name, path: "(yaml)", message: (err as Error).message.split("\n")[0]! });
    return unreadable;
  }
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      // The library's own words for exhausting its stack name a regex or a stack, not the file.
      const message =
        err.code === "RESOURCE_EXHAUSTION" ? "is nested too deeply to parse" : err.message.split("\n")[0]!;
      const where = position(err.pos[0]);
      const last = problems[problems.length - 1];
      if (last?.message !== message || last.path !== "(yaml)")
        problems.push({ where, path: "(yaml)", message });
    }
    return unreadable;
  }
  const ctx: WalkContext = {
    doc,
    at: (node: Node | null | undefined) => (node?.range ? position(node.range[0]) : name),
    problems,
    references: [],
  };
  if (doc.contents === null) {
    return { file: name, root: { $at: name, $path: "", $keys: {}, $pos: {} }, references: [] };
  }
  const root = validate(doc.contents, POLICY_FORMAT, "", ctx) as Checked | undefined;
  return { file: name, root, references: ctx.references };
}

/** By file (in the order given), then line and column; at most MAX_PROBLEMS_PER_FILE each. */
function inFileOrder(problems: PolicyProblem[], names: readonly string[]): PolicyProblem[] {
  const keyed = problems.map((p, i) => {
    const m = /^(.*):(\d+):(\d+)$/.exec(p.where);
    const file = m ? m[1]! : p.where;
    const index = names.indexOf(file);
    return {
      p,
      i,
      file,
      index: index === -1 ? names.length : index,
      line: m ? Number(m[2]) : 0,
      col: m ? Number(m[3]) : 0,
    };
  });
  keyed.sort((a, b) => a.index - b.index || a.line - b.line || a.col - b.col || a.i - b.i);
  const out: PolicyProblem[] = [];
  const shown = new Map<string, number>();
  for (const k of keyed) {
    const n = (shown.get(k.file) ?? 0) + 1;
    shown.set(k.file, n);
    if (n <= MAX_PROBLEMS_PER_FILE) out.push(k.p);
  }
  for (const [file, n] of shown) {
    if (n <= MAX_PROBLEMS_PER_FILE) continue;
    const last = out.findLastIndex((p) => p.where === file || p.where.startsWith(`${file}:`));
    out.splice(last + 1, 0, {
      where: file,
      path: "(file)",
      message: `${n - MAX_PROBLEMS_PER_FILE} more problems not shown`,
    });
  }
  return out;
}
