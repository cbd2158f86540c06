/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and says where the time went: self time per
 * function, inclusive time per Gatehouse function, and time per area (GC, Node core, undici,
 * Gatehouse's own rooms). Plain text, so a finding can be pasted into an issue as evidence.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time, ms (idle excluded). */
  busyMs: number;
  idleMs: number;
  selfTop: { name: string; where: string; ms: number; share: number }[];
  areas: { area: string; ms: number; share: number }[];
  gatehouseInclusive: { name: string; where: string; ms: number; share: number }[];
}

/** Which part of the process a frame belongs to, by its script URL. */
function areaOf(url: string, name: string): string {
  if (name === "(garbage collector)") return "GC (main thread)";
  if (name === "(program)") return "(program: VM/native, unattributed)";
  if (name === "(idle)") return "(idle)";
  if (url.startsWith("node:")) return `node core ${url.replace(/^node:(internal\/)?/, "").split("/")[0]}`;
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  const src = /\/src\/([^/]+)(\/[^/]+)?/.exec(url);
  if (src) return `gatehouse src/${src[2] ? src[1] : src[1]!.replace(/\.ts$/, ".ts")}`;
  if (url.includes("/bench/")) return "bench";
  return url ? "other" : "native (no script)";
}

function where(node: ProfileNode): string {
  const { url, lineNumber } = node.callFrame;
  if (!url) return "";
  const short = url.replace(/^file:\/\/.*?\/(src|node_modules|bench|cmd)\//, "$1/");
  return `${short}:${lineNumber + 1}`;
}

export function summariseProfile(path: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time between sample i-1 and sample i; it is charged to sample i.
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });

  const selfByFn = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, { name: string; where: string; us: number }>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName || "(anonymous)";
    if (name === "(idle)") {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const key = `${name} ${where(node)}`;
    const entry = selfByFn.get(key) ?? { name, where: where(node), us: 0 };
    entry.us += us;
    selfByFn.set(key, entry);
    const area = areaOf(node.callFrame.url, name);
    areas.set(area, (areas.get(area) ?? 0) + us);
    // Inclusive time of Gatehouse's own functions: every distinct one on this sample's stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!;
      if (!frame.callFrame.url.includes("/src/")) continue;
      const fkey = `${frame.callFrame.functionName || "(anonymous)"} ${where(frame)}`;
      if (seen.has(fkey)) continue;
      seen.add(fkey);
      const inc = inclusive.get(fkey) ?? {
        name: frame.callFrame.functionName || "(anonymous)",
        where: where(frame),
        us: 0,
      };
      inc.us += us;
      inclusive.set(fkey, inc);
    }
  }
  const share = (us: number) => us / busyUs;
  const ranked = <T extends { us: number }>(m: Iterable<T>) => [...m].sort((a, b) => b.us - a.us);
  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    selfTop: ranked(selfByFn.values())
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000, share: share(e.us) })),
    areas: ranked([...areas].map(([area, us]) => ({ area, us }))).map((a) => ({
      area: a.area,
      ms: a.us / 1000,
      share: share(a.us),
    })),
    gatehouseInclusive: ranked(inclusive.values())
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000, share: share(e.us) })),
  };
}

/** `requests`, when known, adds µs per request: comparable across proxies and runs, unlike shares. */
export function renderProfile(s: ProfileSummary, requests?: number): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const us = (ms: number) => (requests ? `${((ms * 1000) / requests).toFixed(2).padStart(6)} µs/req  ` : "");
  const fn = (e: { name: string; where: string; share: number; ms: number }) =>
    `  ${pct(e.share)}  ${us(e.ms)}${e.name}  ${e.where}`;
  const total = requests ? `; ${requests} responses, ${us(s.busyMs).trim()} busy in all` : "";
  return [
    `busy ${s.busyMs.toFixed(0)} ms sampled (idle ${s.idleMs.toFixed(0)} ms not counted)${total}`,
    "shares are of busy time",
    "",
    "by area (self time):",
    ...s.areas.map((a) => `  ${pct(a.share)}  ${us(a.ms)}${a.area}`),
    "",
    "top functions by self time:",
    ...s.selfTop.map(fn),
    "",
    "Gatehouse functions by inclusive time (src/ only):",
    ...(s.gatehouseInclusive.length ? s.gatehouseInclusive.map(fn) : ["  (none: not a Gatehouse profile)"]),
    "",
  ].join("\n");
}
