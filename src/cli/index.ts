/** Command dispatch for the `gatehouse` CLI. */

import { VERSION } from "../version.ts";
import { parseCommandLine, settingsHelp } from "./args.ts";
import { check } from "./check.ts";
import { DECISIONS_OPTIONS, decisionsCommand } from "./decisions.ts";
import { DEMO_OPTIONS, demo } from "./demo.ts";
import { INCIDENTS_OPTIONS, incidentsCommand } from "./incidents.ts";
import { serve } from "./serve.ts";
import { simulateCommand } from "./simulate.ts";
import { TAIL_OPTIONS, tailCommand } from "./tail.ts";

const USAGE = `Usage: gatehouse <command> [options]

Commands:
  serve     run the proxy in front of the app
  check     validate the configuration and policies (exit 1 with every problem)
  simulate  replay NDJSON events through a policy offline: --events FILE|- [--policy FILE]
  demo      the demo shop with Gatehouse in front of it, default policy, in memory, and a guided
            tour of curl commands (attempts, throttle, block, forced logout, breach page):
    demo [--listen HOST:PORT] [--admin-listen HOST:PORT] [--webhook-listen HOST:PORT]
         [--app-listen HOST:PORT | --app-port N]
    demo --app-only [--app-port N | --app-listen HOST:PORT]   the demo app alone (127.0.0.1:3000)
  decisions manage decisions through the admin API (--admin-listen, --admin-token):
    decisions list [--ip ADDR|--range CIDR|--user NAME|--session HASH] [--action ACTION]
                   [--origin policy|breach|manual|feed] [--limit N] [-o table|json]
    decisions add  [--ip ADDR|--range CIDR|--user NAME|--session HASH] (none: scope global)
                   [--action block|throttle|disable|logout|tarpit|flag] (default block)
                   [--duration 1h | --until RFC3339-TIME] [--route "METHOD /path/glob"]...
                   [--rate 10/m] [--status 503] [--delay 2s] [--reason TEXT] [-o table|json]
    decisions delete ID
  incidents list incidents through the admin API (--admin-listen, --admin-token), newest first:
    incidents [--outcome attempt|blocked|success] [--since 1h|RFC3339-TIME] [--ip ADDR]
              [--user NAME] [--limit N] [-o table|json]
  tail      the live feed of a running Gatehouse (--admin-listen, --admin-token), until Ctrl-C:
    tail [--kinds event,attack,breach,decision,incident] [-o text|json]
  version   print the version

Options (each is also a YAML key in --config FILE and an environment variable GATEHOUSE_<NAME>;
precedence: flag > environment > file > default):
  -c, --config FILE   YAML configuration file (env GATEHOUSE_CONFIG)
${settingsHelp()}
`;

/** Options only some commands take, beyond the settings every command accepts. */
const COMMAND_OPTIONS: Record<string, NonNullable<Parameters<typeof parseCommandLine>[1]>> = {
  simulate: { events: { type: "string" } },
  demo: DEMO_OPTIONS,
  decisions: DECISIONS_OPTIONS,
  incidents: INCIDENTS_OPTIONS,
  tail: TAIL_OPTIONS,
};
const ALL_COMMAND_OPTIONS = Object.assign({}, ...Object.values(COMMAND_OPTIONS));

export async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parseCommandLine>;
  try {
    args = parseCommandLine(argv, ALL_COMMAND_OPTIONS);
    const own = COMMAND_OPTIONS[args.positionals[0] ?? ""] ?? {};
    for (const name of Object.keys(args.options)) {
      if (name in ALL_COMMAND_OPTIONS && !(name in own))
        throw new Error(`--${name} is not an option of this command`);
    }
  } catch (err) {
    process.stderr.write(`gatehouse: ${(err as Error).message}\nRun 'gatehouse --help' for the options.\n`);
    return 2;
  }
  const [command, ...extra] = args.positionals;
  if (args.options.help || command === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  // `decisions` takes a subcommand and an id; it checks its own positionals.
  if (extra.length > 0 && command !== "decisions") {
    process.stderr.write(`gatehouse: unexpected argument ${JSON.stringify(extra[0])}\n`);
    return 2;
  }
  switch (command) {
    case "serve":
      return serve(args);
    case "check":
      return check(args);
    case "simulate":
      return simulateCommand(args);
    case "demo":
      return demo(args);
    case "decisions":
      return decisionsCommand(args);
    case "incidents":
      return incidentsCommand(args);
    case "tail":
      return tailCommand(args);
    case "version":
      process.stdout.write(`gatehouse ${VERSION}\n`);
      return 0;
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    default:
      process.stderr.write(`gatehouse: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}
