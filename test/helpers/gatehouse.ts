/**
 * `startGatehouse(opts)`: the real CLI (`node cmd/gatehouse.ts serve`) as a child process, on
 * loopback port 0 for both the proxy and the admin API. The bound addresses come from the
 * "gatehouse listening" log line; every stdout JSON line and stderr line is kept for assertions.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { RUNTIME_ENV, V8_FLAGS } from "../../src/v8-flags.ts";
import { waitFor, within } from "./wait.ts";

const policyDirs: string[] = [];
process.on("exit", () => {
  for (const dir of policyDirs) rmSync(dir, { recursive: true, force: true });
});

/** A policy file holding `text`, in a directory of its own (a test may rewrite it); removed when the tests exit. */
export function policyFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "gh-policy-"));
  policyDirs.push(dir);
  const file = join(dir, "policy.yaml");
  writeFileSync(file, text);
  return file;
}

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(REPO_ROOT, "cmd", "gatehouse.ts");

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GatehouseProcess {
  pid: number;
  /** `127.0.0.1:PORT` as logged. */
  proxy: string;
  admin: string;
  proxyUrl: string;
  adminUrl: string;
  proxyPort: number;
  /** The Unix socket the app reports detection events on. */
  eventsSocket: string;
  /** stdout, one parsed JSON object per line (non-JSON lines are kept as `{ msg: line }`). */
  logs: LogLine[];
  stderr: string[];
  exited: Promise<Exit>;
  alive(): boolean;
  /** Send `signal` (SIGTERM by default) and resolve with the exit code. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
  /** SIGKILL if still running; for `after()`. */
  kill(): Promise<void>;
  /** Peak resident set size of the process so far, in bytes (VmHWM in /proc/PID/status). */
  peakRss(): number;
  waitForLog(match: (line: LogLine) => boolean, what: string, ms?: number): Promise<LogLine>;
  /** GET /metrics on the admin API. */
  metrics(): Promise<string>;
}

export interface GatehouseOptions {
  /** `--upstream`: the fake app's `upstream`. */
  upstream: string;
  /** More CLI flags, e.g. `["--trusted-proxies", "127.0.0.1/32"]`. */
  args?: string[];
  logLevel?: string;
  env?: Record<string, string>;
}

/**
 * Node's compile cache as the container image has it (NODE_COMPILE_CACHE, see the Dockerfile):
 * the first Gatehouse of a run fills it, the others start from it, as replicas of one image do.
 * Inside the checkout, not the shared temp directory: its entries are run as code.
 */
export const COMPILE_CACHE = join(REPO_ROOT, "node_modules", ".cache", "gatehouse-compile-cache");

/**
 * The environment without any GATEHOUSE_* setting of the machine running the tests, with the
 * image's runtime environment (src/v8-flags.ts) and compile cache.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("GATEHOUSE_") && k !== "NODE_DISABLE_COMPILE_CACHE") env[k] = v;
  return { ...env, ...RUNTIME_ENV, NODE_COMPILE_CACHE: COMPILE_CACHE, ...extra };
}

export function spawnCli(args: string[], env?: Record<string, string>): ChildProcess {
  // process.execPath is the Node 24 that runs the tests (see package.json devDependencies),
  // with the V8 flags and environment Gatehouse ships with.
  return spawn(process.execPath, [...V8_FLAGS, CLI, ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode as NodeJS.Signals | null });
      return;
    }
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

/** `serve` with the proxy and the admin API on free loopback ports: the start of every test's command. */
export const SERVE_ON_FREE_PORTS = [
  "serve",
  "--listen",
  "127.0.0.1:0",
  "--admin-listen",
  "127.0.0.1:0",
] as const;

export async function startGatehouse(options: GatehouseOptions): Promise<GatehouseProcess> {
  const eventsSocket = join(tmpdir(), `gh-events-${randomBytes(4).toString("hex")}.sock`);
  const child = spawnCli(
    [
      ...SERVE_ON_FREE_PORTS,
      "--upstream",
      options.upstream,
      "--log-level",
      options.logLevel ?? "info",
      "--events-socket",
      eventsSocket,
      ...(options.args ?? []),
    ],
    options.env,
  );
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const exited = exitOf(child);
  let running = true;
  // 'close' rather than 'exit': by then every line the process wrote has been read.
  child.once("close", () => {
    running = false;
    rmSync(eventsSocket, { force: true }); // left behind when the process is killed
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      logs.push({ msg: line });
    }
  });
  createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line));

  const waitForLog = (match: (line: LogLine) => boolean, what: string, ms = 5000) =>
    waitFor(() => logs.find(match) ?? (running ? undefined : Promise.reject(gone(what))), what, ms);
  const gone = (what: string) =>
    new Error(`gatehouse exited while waiting for ${what}; stderr:\n${stderr.join("\n")}`);

  let listening: LogLine;
  try {
    listening = await waitForLog((l) => l.msg === "gatehouse listening", "the listening log line", 15_000);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const proxy = String(listening.proxy);
  const admin = String(listening.admin);
  return {
    pid: child.pid!,
    proxy,
    admin,
    proxyUrl: `http://${proxy}`,
    adminUrl: `http://${admin}`,
    proxyPort: Number(proxy.slice(proxy.lastIndexOf(":") + 1)),
    eventsSocket,
    logs,
    stderr,
    exited,
    alive: () => running,
    async stop(signal = "SIGTERM", ms = 15_000) {
      if (running) child.kill(signal);
      return (await within(exited, ms, `gatehouse to exit after ${signal}`)).code;
    },
    async kill() {
      if (running) child.kill("SIGKILL");
      await exited;
    },
    peakRss() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status);
      if (!kb) throw new Error(`no VmHWM in /proc/${child.pid}/status`);
      return Number(kb[1]) * 1024;
    },
    waitForLog,
    async metrics() {
      const res = await fetch(`http://${admin}/metrics`);
      return res.text();
    },
  };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion (for commands that are expected to exit on their own). */
export async function runGatehouse(args: string[], env?: Record<string, string>): Promise<CliRun> {
  const child = spawnCli(args, env);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  const exit = exitOf(child);
  try {
    const { code } = await within(exit, 15_000, `gatehouse ${args.join(" ")} to exit`);
    // 'exit' can come before the last output is read; 'close' means the pipes are drained.
    if (child.stdout!.readable || child.stderr!.readable) {
      await new Promise((resolve) => child.once("close", resolve));
    }
    return { code, stdout, stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
