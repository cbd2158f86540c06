/** The machine a result was measured on, so a number is never read without its context. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, release, totalmem } from "node:os";

export interface Machine {
  /** CPUs this process may run on (what `nproc` prints); call before pinning. */
  cpus: number;
  /** CPUs the machine has. */
  cpusOnline: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  undici: string;
  httpProxy3: string;
  autocannon: string;
  gitCommit: string | null;
}

export function describeMachine(): Machine {
  return {
    cpus: availableParallelism(),
    cpusOnline: cpus().length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(safeRead("/proc/cpuinfo"))?.[1]?.trim() ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    undici: packageVersion("undici"),
    httpProxy3: packageVersion("http-proxy-3"),
    autocannon: packageVersion("autocannon"),
    gitCommit: gitCommit(),
  };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function packageVersion(name: string): string {
  const text = safeRead(new URL(`../node_modules/${name}/package.json`, import.meta.url).pathname);
  return text ? ((JSON.parse(text) as { version?: string }).version ?? "?") : "?";
}

function gitCommit(): string | null {
  try {
    const cwd = new URL("..", import.meta.url).pathname;
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "cmd"], {
      cwd,
      encoding: "utf8",
    });
    return dirty.trim() ? `${head} (src/cmd modified)` : head;
  } catch {
    return null;
  }
}
