/**
 * `gatehouse check`: validate the configuration and the policy files with the server's own
 * loaders. Exit 1 and print every problem of both as `FILE:LINE:COL path: message`; exit 0 with
 * one summary line each (and the policy's warnings) when both are valid.
 */
import type { Config } from "../config/settings.ts";
import { formatPolicyProblem, type PolicyProblem } from "../policy/load.ts";
import type { Policy } from "../policy/policy.ts";
import type { ParsedArgs } from "./args.ts";
import { loadFromArgs, loadPolicies, printProblems } from "./load.ts";

export function check(
  args: ParsedArgs,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): number {
  const loaded = loadFromArgs(args);
  const problems: PolicyProblem[] = loaded.ok ? [] : [...loaded.problems];
  const usable = loaded.ok ? loaded : loaded.partial;
  // With the policy or mode setting itself wrong, which files (or mode) to check is unknown.
  const policyKnown = !problems.some((p) => p.path === "policy" || p.path === "mode");
  const policy = usable && policyKnown ? loadPolicies(usable.config, usable.origin) : null;
  if (policy && !policy.ok) problems.push(...policy.problems);
  if (!loaded.ok || !policy?.ok) {
    printProblems({ problems }, out);
    return 1;
  }
  out(configSummary(loaded.config, loaded.origin, args.configFile));
  out(policySummary(policy.policy));
  for (const warning of policy.warnings) out(`warning: ${formatPolicyProblem(warning)}`);
  return 0;
}

function configSummary(
  config: Config,
  origin: Readonly<Record<string, string>>,
  file: string | null,
): string {
  const counts = { file: 0, env: 0, flag: 0 };
  for (const where of Object.values(origin)) {
    if (where.startsWith("env ")) counts.env++;
    else if (where.startsWith("flag ")) counts.flag++;
    else if (where !== "default") counts.file++;
  }
  const addr = (a: { host: string; port: number }) => `${a.host}:${a.port}`;
  return (
    `config OK: listen ${addr(config.listen)} -> upstream ${config.upstream.text}, admin ${addr(config.adminListen)}, ` +
    `store ${config.redis ? "redis" : "memory"}, trusted proxies ${config.trustedProxies.length} ` +
    `(${counts.file} from ${file ?? "no file"}, ${counts.env} from env, ${counts.flag} from flags)`
  );
}

/** `policy OK: 2 files, 12 detection points, 3 rules, 9 responses, mode enforce (1 shadow entry)` */
export function policySummary(policy: Policy): string {
  const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const modes = [...policy.detectionPoints.values(), ...policy.rules].map((e) => e.mode);
  if (policy.breach.responses.length > 0) modes.push(policy.breach.mode);
  // Name the entries that run otherwise than the policy's mode: those are the surprises.
  const other = policy.mode === "enforce" ? "shadow" : "enforce";
  const odd = modes.filter((m) => m === other).length;
  return (
    `policy OK: ${plural(policy.files.length, "file")}, ` +
    `${plural(policy.detectionPoints.size, "detection point")}, ${plural(policy.rules.length, "rule")}, ` +
    `${plural(policy.responses.size, "response")}, mode ${policy.mode}` +
    (odd > 0 ? ` (${plural(odd, `${other} entry`, `${other} entries`)})` : "")
  );
}
