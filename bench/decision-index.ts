/**
 * The decision index's per-request cost (npm run bench:index): ns per match() with 0, 1 000 and
 * 100 000 live decisions, for requests that hit a decision and requests that miss, over IPv4
 * and IPv6; and heap bytes allocated per match() (run with --expose-gc, as the npm script does).
 *
 * Decisions are mixed as a busy deployment's would be: ~40% IPv4 addresses, 20% IPv4 ranges
 * (half /24, the rest /16 to /31), 20% IPv6 (half /128 addresses, half ranges, mostly /64, all in
 * a few /32s so lookups walk deep), 10% users, 10% sessions; actions mostly block, with throttle,
 * tarpit, flag, logout and route-scoped disables. Every request carries a user and a session (a
 * logged-in client), so the user and session maps are looked up too. A "miss" request matches no
 * decision at all but is drawn from the same address space (checked against the index).
 *
 * Allocation is heapUsed before and after 1 000 000 calls (BENCH_INDEX_ALLOC_ITERATIONS), after a
 * forced GC, with no GC in between (checked): one object per call would show as 16 or more; the
 * hundredths left are the JIT's own few KB per measurement, the same however many calls.
 */
import { PerformanceObserver } from "node:perf_hooks";
import {
  DecisionIndex,
  emptyMatches,
  type Matches,
  type RequestFacts,
} from "../src/enforce/decision-index.ts";
import { ManualClock } from "../src/store/clock.ts";
import type { Decision, DecisionAction, DecisionScopeName } from "../src/store/decision.ts";
import { describeMachine } from "./machine.ts";

const SIZES = [0, 1_000, 100_000];
const REQUESTS = 4096;
const ITERATIONS = Number(process.env.BENCH_INDEX_ITERATIONS ?? 2_000_000);
const ALLOC_ITERATIONS = Number(process.env.BENCH_INDEX_ALLOC_ITERATIONS ?? 1_000_000);

/** mulberry32: the same decisions and requests every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(42);
const int = (n: number) => Math.floor(random() * n);
const ipv4 = (): string => `${int(224)}.${int(256)}.${int(256)}.${int(256)}`;
/** In one of four /32s, so IPv6 lookups share long prefixes. */
const ipv6 = (): string => {
  const hex = () => int(0x10000).toString(16);
  return `2001:${(0xdb8 + int(4)).toString(16)}:${hex()}:${hex()}:${hex()}:${hex()}:${hex()}:${hex()}`;
};
const masked4 = (prefix: number): string => {
  const a = ipv4().split(".").map(Number);
  const value = ((((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0) & maskOf(prefix)) >>> 0;
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}/${prefix}`;
};
const maskOf = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

function pickAction(): DecisionAction {
  const r = random();
  return r < 0.6
    ? "block"
    : r < 0.7
      ? "throttle"
      : r < 0.8
        ? "tarpit"
        : r < 0.88
          ? "flag"
          : r < 0.95
            ? "logout"
            : "disable";
}

function makeDecisions(n: number, now: number) {
  const decisions: Decision[] = [];
  const hits = { v4: [] as string[], v6: [] as string[], users: [] as string[], sessions: [] as string[] };
  for (let i = 0; i < n; i++) {
    const r = random();
    let scope: DecisionScopeName;
    let value: string;
    if (r < 0.4) {
      scope = "ip";
      value = ipv4();
      hits.v4.push(value);
    } else if (r < 0.6) {
      scope = "range";
      value = masked4(random() < 0.5 ? 24 : 16 + int(16));
    } else if (r < 0.8) {
      const address = ipv6();
      if (random() < 0.5) {
        scope = "ip";
        value = address;
        hits.v6.push(value);
      } else {
        scope = "range";
        value = `${address}/${random() < 0.6 ? 64 : 48 + int(80)}`;
      }
    } else if (r < 0.9) {
      scope = "user";
      value = `user-${i}`;
      hits.users.push(value);
    } else {
      scope = "session";
      value = `s${i.toString(16).padStart(42, "0")}`;
      hits.sessions.push(value);
    }
    const action = pickAction();
    decisions.push({
      id: `d-${i}`,
      action,
      scope,
      value,
      routes: action === "disable" ? ["POST /upload/*", "GET /api/**"] : null,
      until: now + 3_600_000 + int(3_600_000),
      createdAt: now,
      origin: "policy",
      reason: { mode: "enforce" },
      rate: action === "throttle" ? { count: 1 + int(100), perMs: 60_000 } : null,
      status: action === "disable" ? 503 : null,
      delayMs: action === "tarpit" ? 100 + int(900) : null,
    });
  }
  return { decisions, hits };
}

function facts(ip: string, user: string, session: string, path = "/api/items/42"): RequestFacts {
  return { ip, user, session, method: "GET", path };
}

const anyMatch = (m: Matches) =>
  m.block !== null ||
  m.throttle !== null ||
  m.disable !== null ||
  m.logout !== null ||
  m.tarpit !== null ||
  m.flag !== null;

function makeRequests(index: DecisionIndex, kind: "v4" | "v6", hit: boolean, pool: string[]): RequestFacts[] {
  const out = emptyMatches();
  const requests: RequestFacts[] = [];
  let attempts = 0;
  while (requests.length < REQUESTS) {
    if (++attempts > REQUESTS * 100) throw new Error(`could not draw ${kind} ${hit ? "hits" : "misses"}`);
    const user = `visitor-${int(1e9)}`;
    const session = `v${int(1e9).toString(16).padStart(42, "0")}`;
    const ip = hit && pool.length > 0 ? pool[int(pool.length)]! : kind === "v4" ? ipv4() : ipv6();
    const f = facts(ip, user, session);
    if (anyMatch(index.match(f, out)) !== hit) continue;
    requests.push(f);
  }
  return requests;
}

function nsPerMatch(index: DecisionIndex, requests: RequestFacts[]): number {
  const out = emptyMatches();
  const mask = requests.length - 1;
  let sink = 0;
  for (let i = 0; i < 200_000; i++) if (index.match(requests[i & mask]!, out).block) sink++;
  const rounds: number[] = [];
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) if (index.match(requests[i & mask]!, out).block) sink++;
    rounds.push(Number(process.hrtime.bigint() - start) / ITERATIONS);
  }
  if (sink === -1) console.log(sink);
  return rounds.sort((a, b) => a - b)[1]!;
}

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ["gc"] });
const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Bytes held: the V8 heap in use plus memory outside it (`external`, which includes the typed
 * arrays the index keeps its columns in), after full collections. Freed array buffers are
 * released by a sweeper after the collection, so it is given a moment and a second collection.
 */
async function held(): Promise<number> {
  gc?.();
  await new Promise((resolve) => setTimeout(resolve, 100));
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Heap bytes per iteration of `loop` (which runs ALLOC_ITERATIONS), or null without --expose-gc. */
async function bytesPerIteration(loop: () => void) {
  if (!gc) return null;
  loop();
  gc();
  // GC entries reach the observer a little later: let the forced one arrive before counting.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const gcsBefore = gcs;
  const before = process.memoryUsage().heapUsed;
  loop();
  const after = process.memoryUsage().heapUsed;
  await new Promise((resolve) => setTimeout(resolve, 50));
  // A collection during the loop would hide what it allocated: say so rather than report less.
  return { bytes: Math.max(0, after - before) / ALLOC_ITERATIONS, gcRan: gcs !== gcsBefore };
}

function bytesPerMatch(index: DecisionIndex, requests: RequestFacts[]) {
  const out = emptyMatches();
  const mask = requests.length - 1;
  return bytesPerIteration(() => {
    for (let i = 0; i < ALLOC_ITERATIONS; i++) index.match(requests[i & mask]!, out);
  });
}

/** The same loop without match(): what the measurement itself costs. */
function bytesOfHarness(requests: RequestFacts[]) {
  const mask = requests.length - 1;
  let sink = 0;
  return bytesPerIteration(() => {
    for (let i = 0; i < ALLOC_ITERATIONS; i++) sink += requests[i & mask]!.ip.length;
    if (sink === -1) console.log(sink);
  });
}

const machine = describeMachine();
const now = Date.parse("2026-11-22T03:00:00Z");
const rows: string[] = [];
for (const size of SIZES) {
  const clock = new ManualClock(now);
  const index = new DecisionIndex({ clock, keep: "columns" });
  const { decisions, hits } = makeDecisions(size, now);
  const heapBefore = await held();
  const started = performance.now();
  for (const d of decisions) index.add(d);
  const addMs = performance.now() - started;
  // What the index itself holds, beyond the decision objects it is given (kept alive until the
  // reading is taken: were they collected in between, the difference would come out negative).
  const indexHeap = (await held()) - heapBefore;
  if (decisions.length !== size) throw new Error("decisions changed under the measurement");
  const scenarios: [string, "v4" | "v6", boolean, string[]][] = [
    ["IPv4 hit (ip)", "v4", true, hits.v4],
    ["IPv4 miss", "v4", false, []],
    ["IPv6 hit (ip)", "v6", true, hits.v6],
    ["IPv6 miss", "v6", false, []],
  ];
  for (const [name, kind, hit, pool] of scenarios) {
    if (hit && pool.length === 0) continue;
    const requests = makeRequests(index, kind, hit, pool);
    const ns = nsPerMatch(index, requests);
    const alloc = await bytesPerMatch(index, requests);
    const allocText =
      alloc === null
        ? "n/a (no --expose-gc)"
        : `${alloc.bytes.toFixed(2)}${alloc.gcRan ? " (gc ran: lower bound)" : ""}`;
    rows.push(`| ${size} | ${name} | ${ns.toFixed(1)} | ${allocText} |`);
  }
  if (size > 0) {
    const held = gc
      ? `; index heap + external ${(indexHeap / 2 ** 20).toFixed(1)} MiB, ${Math.round(indexHeap / size)} B/decision`
      : "";
    rows.push(`| ${size} | (add() of all: ${addMs.toFixed(0)} ms${held}) | | |`);
  }
}

console.log(
  `machine: ${machine.cpus} CPUs, ${machine.cpuModel}, Node ${machine.node}, commit ${machine.gitCommit ?? "?"}`,
);
console.log(
  `iterations per timing: ${ITERATIONS} (median of 3), ${REQUESTS} distinct requests, allocation over ${ALLOC_ITERATIONS}`,
);
const harness = await bytesOfHarness(
  makeRequests(new DecisionIndex({ clock: new ManualClock(now) }), "v4", false, []),
);
if (harness) {
  console.log(`heap bytes per iteration of the measuring loop without match(): ${harness.bytes.toFixed(2)}`);
}
console.log("| live decisions | request | ns per match() | heap bytes per match() |");
console.log("|--:|---|--:|--:|");
for (const row of rows) console.log(row);
