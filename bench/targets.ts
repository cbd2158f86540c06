/**
 * What the load generator is pointed at: the app itself (direct), Gatehouse as a real
 * `gatehouse serve` child process, and the baselines. Every one listens on 127.0.0.1 on an
 * ephemeral port and forwards to the same app process.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { V8_FLAGS } from "../src/v8-flags.ts";
import { findNginx, prepareNginx, probeHttp } from "./baselines/nginx.ts";
import { benchTempDir, type Child, portLine, startChild } from "./children.ts";

/** The Node proxies in bench/baselines/, started the same way. */
export const NODE_BASELINES = ["bare-undici", "contract-minimal", "http-proxy-3"] as const;
export type NodeBaseline = (typeof NODE_BASELINES)[number];

export type TargetId = "direct" | "gatehouse" | NodeBaseline | "nginx";

export interface Target {
  id: TargetId;
  label: string;
  url: string;
  /** The process whose memory is reported (for direct: the app, shown for scale only). */
  pid: number;
  child: Child;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BENCH = fileURLToPath(new URL(".", import.meta.url));
// Under `npm run bench` this is the pinned Node 24 from node_modules, which runs .ts directly.
const NODE = process.execPath;

export async function startUpstream(cpu: number | null): Promise<Target> {
  const { child, info: port } = await startChild("upstream app", NODE, [`${BENCH}upstream-app.ts`], {
    cpu,
    ready: portLine,
  });
  return {
    id: "direct",
    label: "upstream (direct)",
    url: `http://127.0.0.1:${port}/`,
    pid: child.pid,
    child,
  };
}

/** `nodeFlags` go before the script (bench/profile.ts passes --cpu-prof there). */
export async function startGatehouse(
  upstreamUrl: string,
  cpu: number | null,
  nodeFlags: string[] = [],
  extraArgs: string[] = [],
  entry = `${ROOT}cmd/gatehouse.ts`,
): Promise<Target> {
  // Its own event socket, so the bench never collides with a Gatehouse already running here.
  const dir = benchTempDir("gatehouse");
  const args = [
    ...V8_FLAGS,
    ...nodeFlags,
    entry,
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--admin-listen",
    "127.0.0.1:0",
    "--events-socket",
    join(dir, "events.sock"),
    "--upstream",
    upstreamUrl.replace(/\/$/, ""),
    // info only to read the bound port from "gatehouse listening"; nothing is logged per request
    // below debug, so this costs nothing under load.
    "--log-level",
    "info",
    ...extraArgs,
  ];
  const { child, info: proxy } = await startChild("gatehouse", NODE, args, {
    cpu,
    cwd: ROOT,
    ready: function listeningLine(line) {
      try {
        const msg = JSON.parse(line) as { msg?: string; proxy?: string };
        return msg.msg === "gatehouse listening" && typeof msg.proxy === "string" ? msg.proxy : null;
      } catch {
        return null;
      }
    },
  });
  return { id: "gatehouse", label: "gatehouse", url: `http://${proxy}/`, pid: child.pid, child };
}

export async function startNodeBaseline(
  id: NodeBaseline,
  upstreamUrl: string,
  cpu: number | null,
  nodeFlags: string[] = [],
): Promise<Target> {
  const script = `${BENCH}baselines/${id}.ts`;
  const args = [...nodeFlags, script, upstreamUrl.replace(/\/$/, "")];
  const { child, info: port } = await startChild(id, NODE, args, {
    cpu,
    ready: portLine,
  });
  return { id, label: id, url: `http://127.0.0.1:${port}/`, pid: child.pid, child };
}

export type NginxStart = { ok: true; target: Target; version: string } | { ok: false; why: string };

export async function startNginx(upstreamPort: number, cpu: number | null): Promise<NginxStart> {
  const found = findNginx();
  if ("missing" in found) return { ok: false, why: found.missing };
  // The free port is taken from the kernel and handed over, so another process may grab it first:
  // try again with a new port once before giving up.
  let lastError: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    const setup = await prepareNginx(upstreamPort, benchTempDir(`nginx-${attempt}`));
    try {
      const { child } = await startChild("nginx", found.path, setup.args, {
        cpu,
        probe: () => probeHttp(setup.port),
      });
      const target: Target = {
        id: "nginx",
        label: "nginx (1 worker)",
        url: `http://127.0.0.1:${setup.port}/`,
        pid: child.pid,
        child,
      };
      return { ok: true, target, version: found.version };
    } catch (err) {
      lastError = err;
    }
  }
  return { ok: false, why: `nginx did not start: ${(lastError as Error).message}` };
}
