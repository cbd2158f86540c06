/**
 * `gatehouse demo`: the demo app plus Gatehouse in front of it, in memory, in one process.
 * Prints the URL to open; Ctrl-C stops both cleanly.
 */
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGatehouse } from "../app.ts";
import { loadConfig } from "../config/load.ts";
import { createLogger } from "../observability/logger.ts";
import type { ParsedArgs } from "./args.ts";
import { createDemoApp } from "./demo-app.ts";
import { loadPolicies, printProblems } from "./load.ts";

export async function demo(
  args: ParsedArgs,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const app = createDemoApp();
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  const appPort = (app.address() as AddressInfo).port;
  // The demo listens on loopback by default and keeps logs to warnings, so the terminal stays readable.
  const env = {
    GATEHOUSE_LISTEN: "127.0.0.1:8080",
    GATEHOUSE_LOG_LEVEL: "warn",
    GATEHOUSE_SHUTDOWN_TIMEOUT: "2s",
    GATEHOUSE_EVENTS_SOCKET: join(tmpdir(), `gatehouse-demo-${process.pid}`, "events.sock"),
    ...process.env,
    GATEHOUSE_UPSTREAM: `http://127.0.0.1:${appPort}`,
  };
  const loaded = loadConfig({ file: args.configFile, env, flags: args.settings });
  if (!loaded.ok) {
    printProblems(loaded, out);
    app.close();
    return 1;
  }
  const policy = loadPolicies(loaded.config, loaded.origin);
  if (!policy.ok) {
    printProblems(policy, out);
    app.close();
    return 1;
  }
  const logger = createLogger(loaded.config.logLevel);
  const gatehouse = createGatehouse(loaded.config, logger, { policy: policy.policy });
  let addresses: { proxy: string; admin: string; events: string[] };
  try {
    addresses = await gatehouse.start();
  } catch (err) {
    out(`gatehouse demo: ${(err as Error).message} (choose another with --listen or --admin-listen)`);
    app.close();
    return 1;
  }
  out("Gatehouse demo: a small shop app with Gatehouse in front of it, state in memory.");
  out("");
  out(`  open     http://${addresses.proxy}/`);
  out(`  metrics  http://${addresses.admin}/metrics`);
  out(`  ready    http://${addresses.admin}/readyz`);
  for (const channel of addresses.events) out(`  events   ${channel}`);
  out("");
  out("Press Ctrl-C to stop.");
  return new Promise<number>((resolve) => {
    const stop = () => {
      gatehouse
        .stop()
        .then(() => new Promise<void>((r) => app.close(() => r())))
        .then(() => {
          out("Gatehouse demo stopped.");
          resolve(0);
        });
      app.closeAllConnections();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
