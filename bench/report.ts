/**
 * Turns the runs into a summary, a readable table and the JSON file. Medians over rounds are
 * reported (with the min–max spread of requests/s), so one disturbed round does not move the
 * result; the project's targets are checked against these medians, as measured, with no slack.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { concatSamples, percentile } from "./load.ts";
import type { TargetId } from "./targets.ts";

/**
 * throughput: many connections, proxy on its own CPU; latency: one connection, client on one CPU
 * and app + proxy on the other (or all unpinned with --no-pin); latency-unpinned: one connection,
 * placement left to the kernel.
 */
export type Phase = "throughput" | "latency" | "latency-unpinned";

export interface RunRecord {
  phase: Phase;
  round: number;
  target: TargetId;
  connections: number;
  seconds: number;
  ok: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  timeouts: number;
  /** Largest VmRSS of the proxy (process tree) sampled during the run, KiB. */
  maxRssKb: number;
  /** User + system CPU the proxy (process tree) used during the run. */
  cpuSeconds: number;
  cpuUsPerRequest: number;
  /** Busy share of the proxy's CPU during the run (softirq included), when pinned. */
  proxyCpuBusy: number | null;
  /** CPUs' worth of time other processes (and hypervisor steal) took during the run. */
  foreignCpu: number;
}

export interface TargetSummary {
  target: TargetId;
  label: string;
  rps: number;
  rpsMin: number;
  rpsMax: number;
  p50Ms: number;
  p99Ms: number;
  /** Median over rounds of the proxy's CPU time per request, µs. */
  cpuUsPerRequest: number;
  /**
   * Median busy share of the proxy's CPU (pinned runs only, NaN otherwise). Well under 1 means the
   * proxy was not the bottleneck: its requests/s is a lower bound set by the load side.
   */
  proxyCpuBusy: number;
  failures: number;
  maxRssKb: number;
  hwmKb: number;
  /** One connection: median and p99 over all latency rounds pooled. */
  oneConnP50Ms: number;
  oneConnP99Ms: number;
  /** oneConnP50Ms minus the app's own (direct) one-connection median. */
  addedP50Ms: number;
  /** The same with placement left to the kernel (NaN when not measured). */
  unpinnedOneConnP50Ms: number;
  unpinnedAddedP50Ms: number;
}

export interface Check {
  name: string;
  value: number | null;
  target: string;
  met: boolean | null;
}

const median = (xs: number[]): number => percentile(Float64Array.from(xs), 50);

export function summarise(
  targets: { id: TargetId; label: string; hwmKb: number }[],
  runs: RunRecord[],
  latency: Map<Phase, Map<TargetId, Float64Array[]>>,
): TargetSummary[] {
  const p50 = (phase: Phase, id: TargetId) =>
    percentile(concatSamples(latency.get(phase)?.get(id) ?? []), 50);
  return targets.map(function summariseOne(t) {
    const mine = runs.filter((r) => r.phase === "throughput" && r.target === t.id);
    const all = runs.filter((r) => r.target === t.id);
    return {
      target: t.id,
      label: t.label,
      rps: median(mine.map((r) => r.rps)),
      rpsMin: Math.min(...mine.map((r) => r.rps)),
      rpsMax: Math.max(...mine.map((r) => r.rps)),
      p50Ms: median(mine.map((r) => r.p50Ms)),
      p99Ms: median(mine.map((r) => r.p99Ms)),
      cpuUsPerRequest: median(mine.map((r) => r.cpuUsPerRequest)),
      proxyCpuBusy: median(mine.map((r) => r.proxyCpuBusy ?? Number.NaN)),
      failures: all.reduce((n, r) => n + r.errors + r.non2xx + r.timeouts, 0),
      maxRssKb: Math.max(...all.map((r) => r.maxRssKb)),
      hwmKb: t.hwmKb,
      oneConnP50Ms: p50("latency", t.id),
      oneConnP99Ms: percentile(concatSamples(latency.get("latency")?.get(t.id) ?? []), 99),
      addedP50Ms: p50("latency", t.id) - p50("latency", "direct"),
      unpinnedOneConnP50Ms: p50("latency-unpinned", t.id),
      unpinnedAddedP50Ms: p50("latency-unpinned", t.id) - p50("latency-unpinned", "direct"),
    };
  });
}

/**
 * The median over rounds of `a`'s req/s over `b`'s in the same round. Steadier than the ratio of
 * the medians when the host's speed drifts between rounds; null unless both ran in some round.
 */
export function perRoundRatio(runs: RunRecord[], a: TargetId, b: TargetId): number | null {
  const ratios: number[] = [];
  for (const x of runs) {
    if (x.phase !== "throughput" || x.target !== a) continue;
    const y = runs.find((r) => r.phase === "throughput" && r.target === b && r.round === x.round);
    if (y !== undefined && y.rps > 0) ratios.push(x.rps / y.rps);
  }
  return ratios.length > 0 ? median(ratios) : null;
}

export function checkTargets(summary: TargetSummary[], runs: RunRecord[] = []): Check[] {
  const by = (id: TargetId) => summary.find((s) => s.target === id);
  const gh = by("gatehouse");
  const rpsRatio = (a: TargetId, b: TargetId) => {
    const x = by(a);
    const y = by(b);
    return x && y ? x.rps / y.rps : null;
  };
  const ratio = (id: TargetId) => rpsRatio("gatehouse", id);
  const cpuRatio = (id: TargetId) => {
    const other = by(id);
    return gh && other ? other.cpuUsPerRequest / gh.cpuUsPerRequest : null;
  };
  const check = (name: string, value: number | null, target: string, ok: (v: number) => boolean): Check => ({
    name,
    value,
    target,
    met: value === null ? null : ok(value),
  });
  return [
    check("gatehouse / bare-undici req/s", ratio("bare-undici"), "≥ 0.90", (v) => v >= 0.9),
    check(
      "gatehouse / bare-undici, per-round median",
      perRoundRatio(runs, "gatehouse", "bare-undici"),
      "reference",
      () => true,
    ),
    check("gatehouse / http-proxy-3 req/s", ratio("http-proxy-3"), "≥ 1.50", (v) => v >= 1.5),
    check("gatehouse / nginx req/s", ratio("nginx"), "reference", () => true),
    // The bare proxy doing only what the contract requires of every request: what the contract
    // costs by itself, and what Gatehouse's own features (decisions, detection, …) cost on top.
    check(
      "contract-minimal / bare-undici req/s",
      rpsRatio("contract-minimal", "bare-undici"),
      "reference",
      () => true,
    ),
    check("gatehouse / contract-minimal req/s", ratio("contract-minimal"), "reference", () => true),
    // The same comparison in CPU time per request, which moves less than req/s with the host.
    check("bare-undici / gatehouse CPU µs/req", cpuRatio("bare-undici"), "reference", () => true),
    check("gatehouse added p50 at 1 conn (ms)", gh ? gh.addedP50Ms : null, "≤ 0.200", (v) => v <= 0.2),
  ];
}

interface Column {
  title: string;
  cell: (s: TargetSummary) => string;
}

export function renderTable(summary: TargetSummary[], checks: Check[], connections: number): string {
  const mib = (kb: number) => (kb > 0 ? (kb / 1024).toFixed(1) : "–");
  const n = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const added = (s: TargetSummary, x: number) => (s.target === "direct" ? "(base)" : n(x, 3));
  const unpinned = summary.some((s) => Number.isFinite(s.unpinnedOneConnP50Ms));
  const columns: Column[] = [
    { title: "target", cell: (s) => s.label },
    { title: `req/s (c=${connections})`, cell: (s) => n(s.rps, 0) },
    { title: "req/s min–max", cell: (s) => `${n(s.rpsMin, 0)}–${n(s.rpsMax, 0)}` },
    { title: "p50 ms", cell: (s) => n(s.p50Ms, 2) },
    { title: "p99 ms", cell: (s) => n(s.p99Ms, 2) },
    { title: "CPU µs/req", cell: (s) => n(s.cpuUsPerRequest, 1) },
    {
      title: "its CPU busy",
      cell: (s) => (s.target === "direct" || !Number.isFinite(s.proxyCpuBusy) ? "–" : pct(s.proxyCpuBusy)),
    },
    { title: "RSS MiB", cell: (s) => mib(s.maxRssKb) },
    { title: "peak MiB", cell: (s) => mib(s.hwmKb) },
    { title: "c=1 p50 ms", cell: (s) => n(s.oneConnP50Ms, 3) },
    { title: "c=1 p99 ms", cell: (s) => n(s.oneConnP99Ms, 3) },
    { title: "added p50 ms", cell: (s) => added(s, s.addedP50Ms) },
    ...(unpinned
      ? [{ title: "unpinned: added p50 ms", cell: (s: TargetSummary) => added(s, s.unpinnedAddedP50Ms) }]
      : []),
    { title: "failed", cell: (s) => String(s.failures) },
  ];
  const rows = [columns.map((c) => c.title), ...summary.map((s) => columns.map((c) => c.cell(s)))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 2)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  const table = [line(rows[0]!), sep, ...rows.slice(1).map(line)].join("\n");
  const verdicts = checks.map((c) => {
    const value = c.value === null ? "n/a (not run)" : c.value.toFixed(3);
    const verdict = c.met === null || c.target === "reference" ? "" : c.met ? "  MET" : "  MISSED";
    return `  ${c.name.padEnd(36)} ${value.padStart(14)}   target ${c.target}${verdict}`;
  });
  return `${table}\n\n${verdicts.join("\n")}\n`;
}

export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}
