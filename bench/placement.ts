/**
 * CPU placement with taskset. On a small machine the load generator, the app and the proxy
 * compete for the same cores; pinning gives each proxy exactly one core of its own, so requests/s
 * compare proxies per core, not how well each one happened to be scheduled.
 */
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { descendants } from "./proc-stats.ts";

/**
 * The CPUs this process may run on, as taskset prints them ("0,1" or "0-3"), when taskset is
 * there and there are at least two of them (one for the proxy, one for client + app).
 */
export function pinnableCpus(): { cpus: number[]; list: string } | { why: string } {
  if (availableParallelism() < 2) return { why: "fewer than 2 CPUs available" };
  let out: string;
  try {
    out = execFileSync("taskset", ["-c", "-p", String(process.pid)], { encoding: "utf8" });
  } catch {
    return { why: "taskset not found (util-linux)" };
  }
  const list = out.slice(out.lastIndexOf(":") + 1).trim();
  const cpus = list.split(",").flatMap((part) => {
    const [a, b] = part.split("-").map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
  });
  return cpus.length >= 2 ? { cpus, list } : { why: `only CPU ${list} allowed` };
}

/** Set the CPU affinity of a process, all its threads (-a) and its descendants (nginx's worker). */
export function setAffinity(pid: number, cpuList: string): void {
  for (const p of [pid, ...descendants(pid)]) {
    execFileSync("taskset", ["-a", "-p", "-c", cpuList, String(p)], { stdio: "ignore" });
  }
}
