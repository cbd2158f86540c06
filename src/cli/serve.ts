/** `gatehouse serve`: run the proxy until SIGTERM/SIGINT, then drain and exit 0. */
import { createGatehouse } from "../app.ts";
import { createLogger } from "../observability/logger.ts";
import type { ParsedArgs } from "./args.ts";
import { loadFromArgs, printProblems } from "./load.ts";

export async function serve(args: ParsedArgs): Promise<number> {
  const loaded = loadFromArgs(args);
  if (!loaded.ok) {
    printProblems(loaded, (line) => process.stderr.write(`${line}\n`));
    return 1;
  }
  const { config } = loaded;
  const logger = createLogger(config.logLevel);
  const gatehouse = createGatehouse(config, logger);
  try {
    await gatehouse.start();
  } catch (err) {
    logger.fatal({ code: (err as { code?: string }).code }, (err as Error).message);
    logger.flush();
    process.stderr.write(`gatehouse: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal, shutdownTimeout: config.shutdownTimeout }, "shutting down");
      gatehouse.stop().then(
        () => {
          logger.flush();
          resolve(0);
        },
        (err: Error) => {
          logger.error({ err: err.message }, "shutdown failed");
          logger.flush();
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    // Without a handler SIGHUP would kill the process; it will reload policies once they exist.
    process.on("SIGHUP", () => logger.info("SIGHUP received: no policy is loaded yet, nothing to reload"));
  });
}
