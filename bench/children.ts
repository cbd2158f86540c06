/**
 * Child processes of the benchmark: start one (optionally pinned to a CPU with taskset), wait until
 * it says where it listens, and make sure every one of them (and nginx's worker) is gone when the
 * harness exits — normally, on an error, on Ctrl-C, and even when it is SIGKILLed (a reaper).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { RUNTIME_ENV } from "../src/v8-flags.ts";
import { COMPILE_CACHE } from "../test/helpers/gatehouse.ts";
import { descendants } from "./proc-stats.ts";

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
}

export interface StartOptions<T> {
  /** CPU to pin the process (and all its threads and children) to, or null for no pinning. */
  cpu: number | null;
  /** Looks at each stdout line; returns what the caller needs once the child is ready, else null. */
  ready?: (line: string) => T | null;
  /** For children that print nothing (nginx): polled every 100 ms until it returns non-null. */
  probe?: () => Promise<T | null>;
  timeoutMs?: number;
  cwd?: string;
}

const live = new Set<Child>();
let root: string | null = null;
let pidFile: string | null = null;

/**
 * A fresh directory for one child's files (nginx config, Gatehouse's event socket), inside one
 * temporary root that is removed on exit, or by the reaper if the harness was killed.
 */
export function benchTempDir(name: string): string {
  root ??= mkdtempSync(join(tmpdir(), "gatehouse-bench-"));
  const dir = join(root, name);
  mkdirSync(dir);
  return dir;
}

/** Keep the reaper's list of pids (children and their descendants) current. */
function writePids(): void {
  if (!pidFile) return;
  const pids = [...live].flatMap((c) => [c.pid, ...descendants(c.pid)]);
  writeFileSync(pidFile, `${pids.join(" ")}\n`);
}

export function startChild<T>(
  name: string,
  command: string,
  args: string[],
  options: StartOptions<T>,
): Promise<{ child: Child; info: T }> {
  // taskset execs the command, so the pid we get is the proxy's own pid, not a wrapper's.
  const [cmd, argv] =
    options.cpu === null ? [command, args] : ["taskset", ["-c", String(options.cpu), command, ...args]];
  // Every child, Gatehouse and the baselines alike, runs with the environment the image sets
  // (src/v8-flags.ts) and with the compile cache the integration tests use.
  const env = {
    ...process.env,
    ...RUNTIME_ENV,
    NODE_COMPILE_CACHE: COMPILE_CACHE,
  };
  const proc = spawn(cmd, argv, { cwd: options.cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  const child: Child = { name, pid: proc.pid ?? -1, process: proc };
  live.add(child);
  proc.once("exit", () => {
    live.delete(child);
    writePids();
  });
  let stderr = "";
  // Both pipes are read to the end: a child whose pipe fills up would block mid-benchmark.
  proc.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const lines = createInterface({ input: proc.stdout! });
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () => fail(`did not become ready within ${options.timeoutMs ?? 15_000} ms`),
      options.timeoutMs ?? 15_000,
    );
    function fail(why: string): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill("SIGKILL");
      reject(new Error(`${name}: ${why}${stderr ? `\n--- stderr ---\n${stderr.trim()}` : ""}`));
    }
    proc.once("error", (err) => fail(err.message));
    proc.once("exit", (code, signal) => fail(`exited (${signal ?? code}) before it was ready`));
    function succeed(info: T): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      writePids(); // now that nginx has its worker
      resolve({ child, info });
    }
    const { ready, probe } = options;
    lines.on("line", function onLine(line) {
      if (settled || !ready) return;
      const info = ready(line);
      if (info !== null) succeed(info);
    });
    if (probe) {
      const poll = async (): Promise<void> => {
        while (!settled) {
          const info = await probe().catch(() => null);
          if (info !== null) return succeed(info);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      void poll();
    }
  });
}

/** A child that prints `{"port": N}` when listening (the upstream app and the Node baselines). */
export function portLine(line: string): number | null {
  try {
    const msg = JSON.parse(line) as { port?: unknown };
    return typeof msg.port === "number" ? msg.port : null;
  } catch {
    return null;
  }
}

/** Send a signal to a process and its descendants (nginx master and worker). */
export function signalTree(pid: number, signal: NodeJS.Signals): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM every child, wait up to `graceMs`, then SIGKILL what is left, descendants included. */
export async function stopAll(graceMs = 3000): Promise<void> {
  const waiting = [...live].map(function stopOne(child) {
    const exited = new Promise<void>((resolve) => {
      if (child.process.exitCode !== null || child.process.signalCode !== null) resolve();
      else child.process.once("exit", () => resolve());
    });
    // A child stopped with SIGSTOP (run.ts freezes the proxies not being measured) acts on
    // SIGTERM only once continued.
    signalTree(child.pid, "SIGCONT");
    child.process.kill("SIGTERM");
    return exited;
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(waiting),
    new Promise((resolve) => {
      timer = setTimeout(resolve, graceMs);
    }),
  ]);
  clearTimeout(timer);
  killAllNow();
}

/** Synchronous last resort, safe inside process.on("exit"). */
export function killAllNow(): void {
  for (const child of live) {
    for (const pid of descendants(child.pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    child.process.kill("SIGKILL");
  }
}

/**
 * Children die with the harness: on exit, on an uncaught error, and on Ctrl-C / SIGTERM / SIGHUP.
 * A SIGKILLed harness can do nothing, and a child frozen with SIGSTOP would then stay forever, so
 * a detached shell watches the harness and kills whatever pids it left in the list.
 */
export function installCleanup(): void {
  root ??= mkdtempSync(join(tmpdir(), "gatehouse-bench-"));
  pidFile = join(root, "pids");
  writeFileSync(pidFile, "\n");
  const reaper = spawn(
    "sh",
    [
      "-c",
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
        'for p in $(cat "$2" 2>/dev/null); do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done; ' +
        'rm -rf "$3"',
      "bench-reaper",
      String(process.pid),
      pidFile,
      root,
    ],
    { detached: true, stdio: "ignore" },
  );
  reaper.unref();
  process.once("exit", function onExit() {
    killAllNow();
    // Nothing left for the reaper: it finds no list and ends.
    if (root) rmSync(root, { recursive: true, force: true });
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, function onSignal() {
      process.stderr.write(`\nbench: ${signal} received, stopping child processes\n`);
      stopAll(1500).finally(() => process.exit(130));
    });
  }
}

/** A loopback port free at the moment of asking, for a child told where to listen. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
