/**
 * `gatehouse demo`: the demo shop (src/cli/demo-app.ts) with Gatehouse in front of it, the
 * configured policies (`policies/default.yaml` unless --policy says otherwise) and all state in
 * memory, one process. It also starts a loopback webhook listener that stands in for the
 * operators' alerting and prints each page it gets, and prints a guided tour (src/cli/demo-tour.ts):
 * curl commands that show attempts counted, a throttle, a block, a forced logout and a breach paged.
 *
 * The policy is used as loaded, with one change made in memory: the `ops` notify channel's webhook
 * (a placeholder that never resolves in default.yaml) is the listener's URL. The demo trusts
 * X-Forwarded-For from loopback, so each tour step can play a different client from one machine.
 *
 * `--app-only` serves the demo app alone (127.0.0.1:3000 by default), for deployments that run
 * Gatehouse in its own container beside it (the Helm chart's example). Ctrl-C or SIGTERM stops
 * whatever was started, cleanly.
 */
import { rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGatehouse } from "../app.ts";
import { loadConfig } from "../config/load.ts";
import { type Address, address } from "../config/types.ts";
import { createLogger } from "../observability/logger.ts";
import { FrozenMap } from "../policy/frozen.ts";
import type { Policy } from "../policy/policy.ts";
import type { ParsedArgs } from "./args.ts";
import { createDemoApp } from "./demo-app.ts";
import { type DemoListener, startDemoListener } from "./demo-listener.ts";
import { renderTour, TOUR_JARS, tourSteps } from "./demo-tour.ts";
import { loadPolicies, printProblems } from "./load.ts";

export const DEMO_OPTIONS = {
  "app-only": { type: "boolean" },
  "app-port": { type: "string" },
  "app-listen": { type: "string" },
  "webhook-listen": { type: "string" },
} as const;

/** The notify channel the demo points at its listener: the one default.yaml's breach pages. */
export const DEMO_CHANNEL = "ops";
/** Where the app listens with --app-only: the upstream `gatehouse serve` expects by default. */
const APP_ONLY_PORT = 3000;

type Out = (line: string) => void;

/** The app's address from --app-listen / --app-port, or a usage problem. */
export function demoAppAddress(options: ParsedArgs["options"], appOnly: boolean): Address | string {
  const listen = options["app-listen"];
  const port = options["app-port"];
  if (typeof listen === "string" && typeof port === "string")
    return "give --app-listen HOST:PORT or --app-port N, not both";
  if (typeof listen === "string") {
    const parsed = address.parse(listen, true);
    return parsed.ok ? parsed.value : `--app-listen: ${parsed.message}`;
  }
  if (typeof port === "string") {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535)
      return `--app-port: ${JSON.stringify(port.slice(0, 40))} is not a port (0 to 65535)`;
    return { host: "127.0.0.1", port: Number(port) };
  }
  // Alone, the app takes the upstream address Gatehouse defaults to; behind the demo's own
  // Gatehouse nobody needs to know its port, so any free one.
  return { host: "127.0.0.1", port: appOnly ? APP_ONLY_PORT : 0 };
}

function listenOn(server: Server, at: Address): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => {
      server.off("error", reject);
      const bound = server.address() as AddressInfo;
      resolve(
        bound.family === "IPv6" ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`,
      );
    });
  });
}

/** An address to connect to: the app may listen on every interface, Gatehouse reaches it on loopback. */
function connectable(bound: string): string {
  if (bound.startsWith("0.0.0.0:")) return `127.0.0.1:${bound.slice("0.0.0.0:".length)}`;
  if (bound.startsWith("[::]:")) return `[::1]:${bound.slice("[::]:".length)}`;
  return bound;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Resolves once SIGINT or SIGTERM has arrived and `stop` has finished. */
function untilSignal(stop: () => Promise<void>, out: Out, err: Out): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      stop().then(
        () => {
          out("Gatehouse demo stopped.");
          resolve(0);
        },
        (failure: Error) => {
          err(`gatehouse demo: stopping failed: ${failure.message}`);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

/**
 * The policy with the `ops` channel's webhook replaced, in memory. Everything else is the loaded
 * policy itself: the notifier looks channels up by name, so swapping the map is the whole change.
 */
export function withDemoWebhook(policy: Policy, url: string): Policy {
  const notify = new FrozenMap(
    [...policy.notify].map(([name, channel]) => [
      name,
      name === DEMO_CHANNEL ? Object.freeze({ ...channel, webhook: url }) : channel,
    ]),
  );
  return Object.freeze({ ...policy, notify });
}

export async function demo(
  args: ParsedArgs,
  out: Out = (l) => process.stdout.write(`${l}\n`),
  err: Out = (l) => process.stderr.write(`${l}\n`),
): Promise<number> {
  const appOnly = args.options["app-only"] === true;
  const appAt = demoAppAddress(args.options, appOnly);
  if (typeof appAt === "string") {
    err(`gatehouse demo: ${appAt}`);
    return 2;
  }
  let webhookAt: Address = { host: "127.0.0.1", port: 0 };
  const webhookListen = args.options["webhook-listen"];
  if (typeof webhookListen === "string") {
    const parsed = address.parse(webhookListen, true);
    if (!parsed.ok) {
      err(`gatehouse demo: --webhook-listen: ${parsed.message}`);
      return 2;
    }
    webhookAt = parsed.value;
  }

  const app = createDemoApp();
  let appAddress: string;
  try {
    appAddress = await listenOn(app, appAt);
  } catch (failure) {
    err(
      `gatehouse demo: the demo app cannot listen on ${appAt.host}:${appAt.port}: ${(failure as Error).message}`,
    );
    return 1;
  }
  if (appOnly) {
    out(
      `Gatehouse demo app listening on http://${appAddress}/ (the app alone: put gatehouse serve in front of it).`,
    );
    return untilSignal(() => closeServer(app), out, err);
  }

  let listener: DemoListener;
  try {
    listener = await startDemoListener(webhookAt.host, webhookAt.port, out);
  } catch (failure) {
    err(
      `gatehouse demo: the webhook listener cannot listen: ${(failure as Error).message} (choose another with --webhook-listen)`,
    );
    await closeServer(app);
    return 1;
  }
  const stopHelpers = () => Promise.all([closeServer(app), listener.close()]).then(() => undefined);

  // Loopback by default, logs at warnings only (the terminal is for the tour and the pages), and
  // X-Forwarded-For believed from loopback so each tour step can be another client. The user's
  // environment and flags still win, except the upstream, which is this process's app.
  const socketDir = join(tmpdir(), `gatehouse-demo-${process.pid}`);
  const env = {
    GATEHOUSE_LISTEN: "127.0.0.1:8080",
    GATEHOUSE_LOG_LEVEL: "warn",
    GATEHOUSE_SHUTDOWN_TIMEOUT: "2s",
    GATEHOUSE_EVENTS_SOCKET: join(socketDir, "events.sock"),
    GATEHOUSE_TRUSTED_PROXIES: "loopback",
    ...process.env,
    GATEHOUSE_UPSTREAM: `http://${connectable(appAddress)}`,
  };
  const loaded = loadConfig({ file: args.configFile, env, flags: args.settings });
  if (!loaded.ok) {
    printProblems(loaded, err);
    await stopHelpers();
    return 1;
  }
  const policy = loadPolicies(loaded.config, loaded.origin);
  if (!policy.ok) {
    printProblems(policy, err);
    await stopHelpers();
    return 1;
  }
  const logger = createLogger(loaded.config.logLevel);
  const gatehouse = createGatehouse(loaded.config, logger, {
    policy: withDemoWebhook(policy.policy, listener.url),
  });
  let at: { proxy: string; admin: string; events: string[] };
  try {
    at = await gatehouse.start();
  } catch (failure) {
    err(`gatehouse demo: ${(failure as Error).message} (choose another with --listen or --admin-listen)`);
    await gatehouse.stop().catch(() => undefined);
    await stopHelpers();
    rmSync(socketDir, { recursive: true, force: true });
    return 1;
  }

  out("Gatehouse demo: a small shop with Gatehouse in front of it, state in memory.");
  out("");
  out(`  shop     http://${at.proxy}/   (through Gatehouse)`);
  out(`  watch    http://${at.admin}/   (the dashboard: live events, attacks, decisions, incidents)`);
  out(`           or in a terminal: npx gatehouse tail --admin-listen ${at.admin}`);
  out(`  admin    http://${at.admin}/metrics   (also /readyz, /v1/incidents, /v1/decisions, /v1/stream)`);
  out(`  webhook  ${listener.url}   (stands in for your alerting: each page it gets is printed here)`);
  for (const channel of at.events) out(`  events   ${channel}`);
  out("");
  const files = policy.policy.files.join(", ");
  if (policy.policy.notify.has(DEMO_CHANNEL)) {
    out(`Policy: ${files}, as written, except notify.${DEMO_CHANNEL}.webhook, which is the listener above`);
    out("(changed in memory only; the file is not touched).");
  } else {
    out(`Policy: ${files}. It has no notify.${DEMO_CHANNEL} channel, so the listener above gets no pages.`);
  }
  if (loaded.origin["policy"] !== "default")
    out("The tour below is written for policies/default.yaml; with another policy its steps may differ.");
  out("The demo trusts X-Forwarded-For from loopback, so each step plays its own client with");
  out("-H 'X-Forwarded-For: …'. In production, trust only your load balancer (trustedProxies).");
  out("");
  out(
    `The tour: run these in order in another terminal (cookie jars: ./${TOUR_JARS.alice}, ./${TOUR_JARS.intruder}).`,
  );
  out("");
  const addresses = { proxy: at.proxy, admin: at.admin };
  for (const line of renderTour(tourSteps(addresses), addresses)) out(line);
  out(
    `Start again with a clean slate: Ctrl-C, then run the demo again (and rm ${TOUR_JARS.alice} ${TOUR_JARS.intruder}).`,
  );
  out("Press Ctrl-C to stop.");

  return untilSignal(
    async () => {
      await gatehouse.stop();
      await stopHelpers();
      // The demo's own socket directory (absent when --events-socket put the socket elsewhere).
      rmSync(socketDir, { recursive: true, force: true });
    },
    out,
    err,
  );
}
