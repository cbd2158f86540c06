/** Command dispatch for the `gatehouse` CLI. */

import { VERSION } from "../version.ts";
import { parseCommandLine, settingsHelp } from "./args.ts";
import { check } from "./check.ts";
import { demo } from "./demo.ts";
import { serve } from "./serve.ts";

const USAGE = `Usage: gatehouse <command> [options]

Commands:
  serve     run the proxy in front of the app
  check     validate the configuration (exit 1 with every problem)
  demo      run a demo app with Gatehouse in front of it, in memory
  version   print the version

Options (each is also a YAML key in --config FILE and an environment variable GATEHOUSE_<NAME>;
precedence: flag > environment > file > default):
  -c, --config FILE   YAML configuration file (env GATEHOUSE_CONFIG)
${settingsHelp()}
`;

export async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parseCommandLine>;
  try {
    args = parseCommandLine(argv);
  } catch (err) {
    process.stderr.write(`gatehouse: ${(err as Error).message}\nRun 'gatehouse --help' for the options.\n`);
    return 2;
  }
  const [command, ...extra] = args.positionals;
  if (args.options.help || command === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (extra.length > 0) {
    process.stderr.write(`gatehouse: unexpected argument ${JSON.stringify(extra[0])}\n`);
    return 2;
  }
  switch (command) {
    case "serve":
      return serve(args);
    case "check":
      return check(args);
    case "demo":
      return demo(args);
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
