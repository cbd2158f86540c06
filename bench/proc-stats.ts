/**
 * What /proc says about the benchmark's processes: descendants, memory (VmRSS, VmHWM), CPU time,
 * and the machine's CPU counters. Linux only, like the benchmark.
 */
import { readFileSync } from "node:fs";

/** Every descendant pid of `pid` (nginx's workers), read from /proc. */
export function descendants(pid: number): number[] {
  let direct: number[] = [];
  try {
    direct = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return direct.flatMap((c) => [c, ...descendants(c)]);
}

export interface Memory {
  /** Resident set size now, KiB. */
  rssKb: number;
  /** Peak resident set size since the process started (VmHWM), KiB. */
  hwmKb: number;
}

/** VmRSS and VmHWM of a process and all its descendants, summed (nginx: master + worker). */
export function treeMemory(pid: number): Memory {
  const total: Memory = { rssKb: 0, hwmKb: 0 };
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      total.rssKb += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      total.hwmKb += Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // the process went away between listing and reading; nothing to count
    }
  }
  return total;
}

// Clock ticks per second of /proc/PID/stat utime/stime and /proc/stat (USER_HZ): 100 on Linux.
export const CLK_TCK = 100;

/** User + system CPU seconds used so far by a process (all its threads) and its descendants. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      // The command name may hold spaces and parentheses: fields are counted after the last ")".
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    } catch {
      // gone; nothing to count
    }
  }
  return ticks / CLK_TCK;
}

export interface Jiffies {
  /** All but idle and iowait: user, system, irq, softirq (kernel networking), steal. */
  busy: number;
  /** Time charged to processes: user + nice + system. */
  tasks: number;
  /** Time the hypervisor gave to someone else. */
  steal: number;
  total: number;
}

/** One CPU's counters from /proc/stat, or all CPUs' with `cpu` null. */
export function cpuJiffies(cpu: number | null): Jiffies {
  const prefix = cpu === null ? "cpu " : `cpu${cpu} `;
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((l) => l.startsWith(prefix));
  const f = (line ?? "").trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number) => f[i] ?? 0;
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - at(3) - at(4), tasks: at(0) + at(1) + at(2), steal: at(7), total };
}
