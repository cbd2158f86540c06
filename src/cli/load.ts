/**
 * Shared by the commands that need a configuration and a policy: load them with the server's
 * own loaders, or print every problem. Which policy files: the `policy` setting; when it was left
 * at its default and `policies/default.yaml` is not in the working directory, the one packaged
 * with Gatehouse, so `npx gatehouse serve` works from anywhere.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ConfigResult, formatProblem, loadConfig } from "../config/load.ts";
import type { Config } from "../config/settings.ts";
import {
  formatPolicyProblem,
  loadPolicyFiles,
  type PolicyProblem,
  type PolicyResult,
} from "../policy/load.ts";
import type { Policy } from "../policy/policy.ts";
import type { ParsedArgs } from "./args.ts";

export const DEFAULT_POLICY = "policies/default.yaml";
export const PACKAGED_POLICY = fileURLToPath(new URL("../../policies/default.yaml", import.meta.url));

export function loadFromArgs(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): ConfigResult {
  return loadConfig({ file: args.configFile, env, flags: args.settings });
}

export function printProblems(
  result: { problems: readonly { where: string; path: string; message: string }[] },
  write: (line: string) => void,
): void {
  for (const problem of result.problems) write(formatProblem(problem));
  write(
    `${result.problems.length} problem${result.problems.length === 1 ? "" : "s"} found; nothing was started.`,
  );
}

/** The policy files to load, or the problem that there is none. */
export function policyFiles(
  config: Config,
  origin: Readonly<Record<string, string>>,
  cwd: string = process.cwd(),
): { ok: true; files: string[] } | { ok: false; problem: PolicyProblem } {
  if (origin["policy"] !== "default") return { ok: true, files: [...config.policy] };
  if (existsSync(resolve(cwd, DEFAULT_POLICY))) return { ok: true, files: [DEFAULT_POLICY] };
  if (existsSync(PACKAGED_POLICY)) return { ok: true, files: [PACKAGED_POLICY] };
  return {
    ok: false,
    problem: {
      where: DEFAULT_POLICY,
      path: "policy",
      message: `does not exist here, nor in the package (${PACKAGED_POLICY}); name a policy file with --policy FILE`,
    },
  };
}

/** Load the configured policy files in the configured mode (`--mode` overrides every entry). */
export function loadPolicies(
  config: Config,
  origin: Readonly<Record<string, string>>,
  cwd?: string,
): PolicyResult {
  const files = policyFiles(config, origin, cwd);
  if (!files.ok) return { ok: false, problems: [files.problem] };
  return loadPolicyFiles(files.files, { mode: config.mode });
}

/**
 * Config and policy for a command that only needs the policy (`simulate`): the policy, or null
 * after every problem was written to `err`. Warnings are written too, each as `warning: …`.
 */
export function loadPoliciesFromArgs(args: ParsedArgs, err: (line: string) => void): Policy | null {
  const loaded = loadFromArgs(args);
  if (!loaded.ok) {
    printProblems(loaded, err);
    return null;
  }
  const result = loadPolicies(loaded.config, loaded.origin);
  if (!result.ok) {
    printProblems(result, err);
    return null;
  }
  for (const warning of result.warnings) err(`warning: ${formatPolicyProblem(warning)}`);
  return result.policy;
}
