/**
 * One measured load run and what is read around it: the proxy's peak RSS under load, the CPU
 * time it used, how busy its CPU was, and whether anything outside the benchmark took CPU
 * meanwhile (other jobs on the machine make a run worthless, so such runs are flagged).
 */
import { type LoadResult, runLoad } from "./load.ts";
import { CLK_TCK, cpuJiffies, treeCpuSeconds, treeMemory } from "./proc-stats.ts";
import type { Phase, RunRecord } from "./report.ts";
import type { Target } from "./targets.ts";

/** Foreign CPU (CPUs' worth) above which a run is flagged as disturbed by other jobs. */
export const DISTURBED = 0.05;

export interface Measured {
  load: LoadResult;
  maxRssKb: number;
  cpuSeconds: number;
  /** Share of the proxy's CPU that was busy, kernel networking (softirq) included; null unpinned. */
  proxyCpuBusy: number | null;
  /**
   * CPUs' worth of time used by processes outside the benchmark (other jobs on the machine)
   * plus hypervisor steal, during the run. Above ~0.05 the run was disturbed.
   */
  foreignCpu: number;
}

/**
 * One load run, with the proxy's RSS sampled while it runs (peak under load, not at rest) and the
 * CPU time it used: CPU µs per request is the proxy's cost whether or not it was the bottleneck,
 * so it stays comparable when the load side saturates first.
 */
export async function measured(
  t: Target,
  connections: number,
  seconds: number,
  proxyCpu: number | null,
): Promise<Measured> {
  let maxRssKb = 0;
  const sample = () => {
    maxRssKb = Math.max(maxRssKb, treeMemory(t.pid).rssKb);
  };
  const timer = setInterval(sample, 250);
  try {
    const cpuBefore = treeCpuSeconds(t.pid);
    const oursBefore = treeCpuSeconds(process.pid);
    const machineBefore = cpuJiffies(null);
    const jiffiesBefore = proxyCpu === null ? null : cpuJiffies(proxyCpu);
    const load = await runLoad(t.url, connections, seconds);
    const cpuSeconds = treeCpuSeconds(t.pid) - cpuBefore;
    const machine = cpuJiffies(null);
    const ours = treeCpuSeconds(process.pid) - oursBefore;
    // Process time on the machine that was not ours (this harness and its children), plus steal.
    const foreignSeconds =
      (machine.tasks - machineBefore.tasks) / CLK_TCK -
      ours +
      (machine.steal - machineBefore.steal) / CLK_TCK;
    const foreignCpu = Math.max(0, foreignSeconds) / load.seconds;
    let proxyCpuBusy: number | null = null;
    if (jiffiesBefore && proxyCpu !== null) {
      const after = cpuJiffies(proxyCpu);
      proxyCpuBusy = (after.busy - jiffiesBefore.busy) / Math.max(1, after.total - jiffiesBefore.total);
    }
    sample();
    // A short pause so the next target does not start while this one still closes connections.
    await new Promise((r) => setTimeout(r, 200));
    return { load, maxRssKb, cpuSeconds, proxyCpuBusy, foreignCpu };
  } finally {
    clearInterval(timer);
  }
}

export function record(phase: Phase, round: number, t: Target, m: Measured): RunRecord {
  const { samples: _samples, ...rest } = m.load;
  return {
    phase,
    round: round + 1,
    target: t.id,
    ...rest,
    maxRssKb: m.maxRssKb,
    cpuSeconds: m.cpuSeconds,
    proxyCpuBusy: m.proxyCpuBusy,
    foreignCpu: m.foreignCpu,
    cpuUsPerRequest: rest.ok > 0 ? (m.cpuSeconds * 1e6) / rest.ok : Number.NaN,
  };
}

export function describe(t: Target, r: RunRecord): string {
  const failed = r.errors + r.non2xx + r.timeouts;
  return (
    `${t.id.padEnd(13)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(3)} ms  ` +
    `p99 ${r.p99Ms.toFixed(3)} ms  cpu ${((r.cpuSeconds / r.seconds) * 100).toFixed(0).padStart(3)}%  ` +
    `${r.cpuUsPerRequest.toFixed(1)} µs/req` +
    (r.proxyCpuBusy === null ? "" : `  proxy CPU busy ${(r.proxyCpuBusy * 100).toFixed(0)}%`) +
    (r.foreignCpu > DISTURBED ? `  DISTURBED: other processes used ${r.foreignCpu.toFixed(2)} CPU` : "") +
    (failed ? `  FAILED ${failed}` : "")
  );
}
