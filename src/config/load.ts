/**
 * Configuration loading: raw sources (YAML file, environment, flags) → validated values →
 * one frozen Config. Precedence is flag > env > file > default (DESIGN section 7). Every problem
 * in every source is collected and returned together, each naming where it came from
 * (`FILE:LINE:COL`, `env NAME` or `flag --name`) and the setting's YAML path. No side effects
 * beyond reading the file.
 */

import { readFileSync } from "node:fs";
import { isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import { parseRedisUrl } from "./redis-url.ts";
import { type Config, envName, flagName, SETTINGS, type Setting } from "./settings.ts";
import { didYouMean } from "./suggest.ts";

export interface ConfigProblem {
  /** `config.yaml:3:9`, `env GATEHOUSE_LISTEN`, `flag --listen`, or the file name alone. */
  where: string;
  /** YAML path of the setting, e.g. `timeouts.upstreamConnect`. */
  path: string;
  message: string;
}

export interface ConfigSources {
  /** Path of the YAML file, if any. */
  file?: string | null;
  env?: Readonly<Record<string, string | undefined>>;
  /** Flag values by setting path, as text, in the order given. */
  flags?: ReadonlyMap<string, readonly string[]>;
}

export type ConfigResult =
  | { ok: true; config: Config; origin: Readonly<Record<string, string>> }
  | {
      ok: false;
      problems: ConfigProblem[];
      /**
       * What the sources gave, with each setting that had a problem at its default: for
       * `gatehouse check`, which goes on to check the policy files. Never run with it.
       */
      partial?: { config: Config; origin: Readonly<Record<string, string>> };
    };

export const MAX_CONFIG_BYTES = 1024 * 1024;

const BY_PATH = new Map<string, Setting>(SETTINGS.map((s) => [s.path, s]));
const GROUPS = new Set(SETTINGS.filter((s) => s.path.includes(".")).map((s) => s.path.split(".")[0]!));

export function formatProblem(problem: ConfigProblem): string {
  return `${problem.where} ${problem.path}: ${problem.message}`;
}

export function loadConfig(sources: ConfigSources): ConfigResult {
  const problems: ConfigProblem[] = [];
  const values = new Map<string, unknown>();
  const origin: Record<string, string> = {};
  for (const s of SETTINGS) {
    values.set(s.path, s.default);
    origin[s.path] = "default";
  }

  const accept = (setting: Setting, raw: unknown, fromText: boolean, where: string) => {
    const parsed = setting.type.parse(raw, fromText);
    if (parsed.ok) {
      values.set(setting.path, parsed.value);
      origin[setting.path] = where;
    } else {
      problems.push({ where, path: setting.path, message: parsed.message });
    }
  };

  if (sources.file) {
    for (const entry of readYamlSettings(sources.file, problems))
      accept(entry.setting, entry.raw, false, entry.where);
  }
  for (const setting of SETTINGS) {
    const name = envName(setting.path);
    const raw = sources.env?.[name];
    if (raw !== undefined && raw !== "") accept(setting, raw, true, `env ${name}`);
  }
  for (const [path, texts] of sources.flags ?? []) {
    const setting = BY_PATH.get(path);
    if (!setting || texts.length === 0) continue;
    const raw = setting.type.list ? texts.join(",") : texts[texts.length - 1];
    accept(setting, raw, true, `flag --${flagName(path)}`);
  }

  const config = build(values);
  problems.push(...crossChecks(config, origin, new Set(problems.map((p) => p.path))));
  if (config.redis !== null && config.redisPassword !== null && !hasPassword(config.redis))
    config.redis = withPassword(config.redis, config.redisPassword);
  if (problems.length > 0) {
    return {
      ok: false,
      problems: inFileOrder(problems),
      partial: { config: deepFreeze(config), origin: Object.freeze(origin) },
    };
  }
  return { ok: true, config: deepFreeze(config), origin: Object.freeze(origin) };
}

interface YamlEntry {
  setting: Setting;
  raw: unknown;
  where: string;
}

function readYamlSettings(file: string, problems: ConfigProblem[]): YamlEntry[] {
  let text: string;
  try {
    const buffer = readFileSync(file);
    if (buffer.length > MAX_CONFIG_BYTES) {
      problems.push({
        where: file,
        path: "(file)",
        message: `is ${buffer.length} bytes; the limit is 1 MiB`,
      });
      return [];
    }
    text = buffer.toString("utf8");
  } catch (err) {
    problems.push({ where: file, path: "(file)", message: `cannot be read: ${(err as Error).message}` });
    return [];
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined) => {
    const pos = lines.linePos(offset ?? 0);
    return `${file}:${pos.line}:${pos.col}`;
  };
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      problems.push({ where: at(err.pos[0]), path: "(yaml)", message: err.message.split("\n")[0]! });
    }
    return [];
  }
  if (doc.contents === null) return [];
  const entries: YamlEntry[] = [];
  walk(doc.contents, "", entries, problems, at);
  return entries;
}

function walk(
  node: Node,
  prefix: string,
  entries: YamlEntry[],
  problems: ConfigProblem[],
  at: (offset: number | undefined) => string,
): void {
  if (!isMap(node)) {
    problems.push({
      where: at(node.range?.[0]),
      path: prefix || "(root)",
      message: "must be a mapping of settings",
    });
    return;
  }
  for (const pair of node.items) {
    const keyNode = pair.key as Node | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : null;
    const path = prefix ? `${prefix}.${key}` : String(key);
    const valueNode = pair.value as Node | null;
    const setting = key === null ? undefined : BY_PATH.get(path);
    if (setting) {
      const raw = valueNode === null ? null : valueNode.toJSON();
      entries.push({ setting, raw, where: at(valueNode?.range?.[0] ?? keyNode?.range?.[0]) });
    } else if (key !== null && prefix === "" && GROUPS.has(key) && valueNode) {
      walk(valueNode, key, entries, problems, at);
    } else {
      problems.push({
        where: at(keyNode?.range?.[0]),
        path,
        message: `unknown setting${didYouMean(path, BY_PATH.keys())}`,
      });
    }
  }
}

function build(values: Map<string, unknown>): Config {
  const root: Record<string, unknown> = {};
  for (const [path, value] of values) {
    const parts = path.split(".");
    let obj = root;
    for (const part of parts.slice(0, -1)) {
      obj[part] ??= {};
      obj = obj[part] as Record<string, unknown>;
    }
    obj[parts[parts.length - 1]!] = value;
  }
  return root as unknown as Config;
}

/** `refused`: settings already reported, so checks that need them say nothing more. */
function crossChecks(config: Config, origin: Record<string, string>, refused: Set<string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (config.redisPassword !== null && config.redis === null && !refused.has("redis")) {
    problems.push({
      where: origin["redisPassword"]!,
      path: "redisPassword",
      message: "needs redis: there is no Redis URL to use it with",
    });
  } else if (config.redisPassword !== null && config.redis !== null && hasPassword(config.redis)) {
    problems.push({
      where: origin["redisPassword"]!,
      path: "redisPassword",
      message: "the redis URL has a password already: give it in one place",
    });
  }
  if (config.identity.userHeader && config.trustedProxies.length === 0) {
    problems.push({
      where: origin["identity.userHeader"]!,
      path: "identity.userHeader",
      message: "needs trustedProxies: without them any client could name itself a user",
    });
  }
  if (config.timeouts.request > 0 && config.timeouts.request < config.timeouts.clientHeaders) {
    problems.push({
      where: origin["timeouts.request"]!,
      path: "timeouts.request",
      message: `must be 0 or at least timeouts.clientHeaders (${config.timeouts.clientHeaders}ms)`,
    });
  }
  const events = config.eventsListen;
  if (events && !(events.host === "localhost" || events.host === "::1" || events.host.startsWith("127."))) {
    // The event endpoint takes no credentials: anyone who can reach it could report breaches.
    problems.push({
      where: origin["eventsListen"]!,
      path: "eventsListen",
      message: `must be a loopback address (127.0.0.1, ::1 or localhost), not ${events.host}: event reports are not authenticated`,
    });
  }
  const same = (a: { host: string; port: number } | null, b: { host: string; port: number } | null) =>
    a !== null &&
    b !== null &&
    a.port !== 0 &&
    a.port === b.port &&
    (a.host === b.host || a.host === "0.0.0.0" || b.host === "0.0.0.0");
  if (same(config.listen, config.adminListen)) {
    problems.push({ where: origin["adminListen"]!, path: "adminListen", message: "must differ from listen" });
  }
  if (same(config.listen, config.eventsListen) || same(config.adminListen, config.eventsListen)) {
    problems.push({
      where: origin["eventsListen"]!,
      path: "eventsListen",
      message: "must differ from listen and adminListen",
    });
  }
  return problems;
}

/** File problems by line and column (they are found in two passes), then the rest as found. */
function inFileOrder(problems: ConfigProblem[]): ConfigProblem[] {
  const position = (p: ConfigProblem) => {
    const m = /:(\d+):(\d+)$/.exec(p.where);
    return m ? Number(m[1]) * 1e6 + Number(m[2]) : Number.POSITIVE_INFINITY;
  };
  return problems
    .map((p, i) => ({ p, i, pos: position(p) }))
    .sort((a, b) => (a.pos === b.pos ? a.i - b.i : a.pos < b.pos ? -1 : 1))
    .map((x) => x.p);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Whether a (valid) Redis URL carries a password in its userinfo. */
function hasPassword(url: string): boolean {
  const target = parseRedisUrl(url);
  return target.password !== undefined;
}

/** `redis://host:6379/0` with `s3cr:t` → `redis://:s3cr%3At@host:6379/0` (a user name is kept). */
export function withPassword(url: string, password: string): string {
  const scheme = url.indexOf("://") + 3;
  const rest = url.slice(scheme);
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf("@");
  const user = at === -1 ? "" : authority.slice(0, at);
  const hosts = at === -1 ? authority : authority.slice(at + 1);
  const encoded = encodeURIComponent(password);
  return `${url.slice(0, scheme)}${user}:${encoded}@${hosts}${end === -1 ? "" : rest.slice(end)}`;
}
