/**
 * Command-line flags. Every setting's flag comes from src/config/settings.ts, so flags, YAML keys
 * and environment variables are one list; commands may add their own options.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { flagName, SETTINGS } from "../config/settings.ts";

export interface ParsedArgs {
  positionals: string[];
  /** Setting values from flags, by YAML path. */
  settings: Map<string, string[]>;
  /** Command-specific options. */
  options: Record<string, string | boolean | string[] | undefined>;
  configFile: string | null;
}

type Extra = NonNullable<ParseArgsConfig["options"]>;

const BY_FLAG = new Map(SETTINGS.map((s) => [flagName(s.path), s.path]));

export function parseCommandLine(argv: string[], extra: Extra = {}): ParsedArgs {
  const options: Extra = {
    config: { type: "string", short: "c" },
    help: { type: "boolean", short: "h" },
    ...extra,
  };
  for (const flag of BY_FLAG.keys()) options[flag] = { type: "string", multiple: true };
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const settings = new Map<string, string[]>();
  const rest: ParsedArgs["options"] = {};
  for (const [name, value] of Object.entries(values)) {
    const path = BY_FLAG.get(name);
    if (path && Array.isArray(value)) settings.set(path, value as string[]);
    else if (name !== "config") rest[name] = value as string | boolean | string[] | undefined;
  }
  return {
    positionals,
    settings,
    options: rest,
    configFile: typeof values.config === "string" ? values.config : (process.env.GATEHOUSE_CONFIG ?? null),
  };
}

export function settingsHelp(): string {
  const width = 38;
  return SETTINGS.map((s) => {
    const left = `--${flagName(s.path)} ${s.type.hint}`;
    return left.length < width
      ? `  ${left.padEnd(width)} ${s.doc}`
      : `  ${left}\n  ${"".padEnd(width)} ${s.doc}`;
  }).join("\n");
}
