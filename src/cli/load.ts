/** Shared by the commands that need a configuration: load it, or print every problem. */
import { type ConfigResult, formatProblem, loadConfig } from "../config/load.ts";
import type { ParsedArgs } from "./args.ts";

export function loadFromArgs(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): ConfigResult {
  return loadConfig({ file: args.configFile, env, flags: args.settings });
}

export function printProblems(
  result: Extract<ConfigResult, { ok: false }>,
  write: (line: string) => void,
): void {
  for (const problem of result.problems) write(formatProblem(problem));
  write(
    `${result.problems.length} problem${result.problems.length === 1 ? "" : "s"} found; nothing was started.`,
  );
}
