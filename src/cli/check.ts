/**
 * `gatehouse check`: validate the configuration with the server's own loader. Exit 1 and print
 * every problem as `FILE:LINE:COL path: message`; exit 0 with a one-line summary when valid.
 */
import type { ParsedArgs } from "./args.ts";
import { loadFromArgs, printProblems } from "./load.ts";

export function check(
  args: ParsedArgs,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): number {
  const loaded = loadFromArgs(args);
  if (!loaded.ok) {
    printProblems(loaded, out);
    return 1;
  }
  const { config, origin } = loaded;
  const counts = { file: 0, env: 0, flag: 0 };
  for (const where of Object.values(origin)) {
    if (where.startsWith("env ")) counts.env++;
    else if (where.startsWith("flag ")) counts.flag++;
    else if (where !== "default") counts.file++;
  }
  const addr = (a: { host: string; port: number }) => `${a.host}:${a.port}`;
  out(
    `config OK: listen ${addr(config.listen)} -> upstream ${config.upstream.text}, admin ${addr(config.adminListen)}, ` +
      `store ${config.redis ? "redis" : "memory"}, trusted proxies ${config.trustedProxies.length} ` +
      `(${counts.file} from ${args.configFile ?? "no file"}, ${counts.env} from env, ${counts.flag} from flags)`,
  );
  return 0;
}
