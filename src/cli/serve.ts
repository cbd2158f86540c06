/**
 * `gatehouse serve`: load config and policy (refusing to start on any problem in either), run the
 * proxy until SIGTERM/SIGINT, then drain and exit 0. SIGHUP reloads the policy.
 */
import { flushCompileCache } from "node:module";
import { createGatehouse } from "../app.ts";
import { createLogger } from "../observability/logger.ts";
import { formatPolicyProblem } from "../policy/load.ts";
import type { ParsedArgs } from "./args.ts";
import { loadFromArgs, loadPolicies, printProblems } from "./load.ts";

export async function serve(args: ParsedArgs): Promise<number> {
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const loaded = loadFromArgs(args);
  if (!loaded.ok) {
    printProblems(loaded, err);
    return 1;
  }
  const { config, origin } = loaded;
  const policy = loadPolicies(config, origin);
  if (!policy.ok) {
    printProblems(policy, err);
    return 1;
  }
  const logger = createLogger(config.logLevel);
  for (const warning of policy.warnings)
    logger.warn({ warning: formatPolicyProblem(warning) }, "policy warning");
  const gatehouse = createGatehouse(config, logger, {
    policy: policy.policy,
    loadPolicy: () => loadPolicies(config, origin),
  });
  try {
    await gatehouse.start();
  } catch (err) {
    logger.fatal({ code: (err as { code?: string }).code }, (err as Error).message);
    logger.flush();
    process.stderr.write(`gatehouse: ${(err as Error).message}\n`);
    return 1;
  }
  // With NODE_COMPILE_CACHE set (the image sets it), every module is loaded by now: write the
  // cache while the process is sure to be alive, not at an exit that a SIGKILL would skip.
  flushCompileCache();
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
    process.on("SIGHUP", () => gatehouse.policies.reload("SIGHUP"));
    // A promise rejected with nobody to handle it (a library's, during an outage) is logged, and
    // the proxy keeps serving: Node's default would end the process, and the app's traffic with it.
    process.on("unhandledRejection", (reason) => {
      logger.error(
        { err: reason instanceof Error ? reason.message : String(reason) },
        "unhandled promise rejection; Gatehouse keeps serving",
      );
    });
  });
}
