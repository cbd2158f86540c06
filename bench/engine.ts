/**
 * Policy engine throughput (npm run bench:engine): detection events through the same engine and
 * policy code `serve` runs, with no HTTP in front, against
 *
 *   1. the in-memory store (target ≥ 200 000 events/s), and
 *   2. a local Redis the benchmark starts on a free port, through the store `serve` builds for
 *      `--redis` (Redis with the in-memory fallback), batches pipelined (target ≥ 30 000 events/s).
 *
 * Events are spread over many actors and detection points as real traffic would be: each event
 * feeds one threshold, and a quarter of them also a rule, so the store sees ~1.25 hits per event.
 * Batches of 500 are handed to the engine as the event bus does, several in flight at once for
 * Redis (the bus does not wait for one batch before delivering the next).
 */
import type { DetectionEvent } from "../src/events/event.ts";
import { createEngine, type EngineSink } from "../src/policy/engine.ts";
import { loadPolicySources } from "../src/policy/load.ts";
import { systemClock } from "../src/store/clock.ts";
import { createStore } from "../src/store/create-store.ts";
import type { Store } from "../src/store/store.ts";
import { startRedis } from "../test/helpers/redis.ts";
import { describeMachine } from "./machine.ts";

const POLICY = `
detectionPoints:
  IE1: { threshold: { count: 3, within: 10m }, per: user, responses: [log, block-user] }
  AE2: { threshold: { count: 5, within: 5m }, per: ip, responses: [block-ip] }
  ACE3: { threshold: { count: 10, within: 1m }, per: ip, responses: [block-ip] }
  CIE1: { threshold: { count: 2, within: 10m }, per: ip, responses: [block-range] }
rules:
  - { name: probe-then-inject, per: ip, within: 15m, sequence: [ACE3, IE1], responses: [block-range] }
responses:
  log: { action: log }
  block-user: { action: block, scope: user, duration: 1h }
  block-ip: { action: block, scope: ip, duration: 15m }
  block-range: { action: block, scope: range, duration: 1h }
`;

const BATCH = 500;
const DPS = ["IE1", "AE2", "ACE3", "CIE1"];

function makeEvents(n: number, actors: number, start: number): DetectionEvent[] {
  const events: DetectionEvent[] = [];
  for (let i = 0; i < n; i++) {
    const a = (i * 7919) % actors;
    events.push({
      detectionPoint: DPS[i % DPS.length]!,
      channel: "socket",
      outcome: "attempt",
      time: start + i,
      actor: { ip: `10.${(a >> 16) & 255}.${(a >> 8) & 255}.${a & 255}`, session: null, user: `user-${a}` },
      request: null,
      detail: null,
      metadata: null,
    });
  }
  return events;
}

async function run(store: Store, events: DetectionEvent[], inFlight: number) {
  const loaded = loadPolicySources([{ name: "bench.yaml", text: POLICY }]);
  if (!loaded.ok) throw new Error("bench policy invalid");
  const counts = { attacks: 0, effects: 0 };
  const sink: EngineSink = {
    attack: () => counts.attacks++,
    breach: () => {},
    effect: () => counts.effects++,
  };
  const engine = createEngine({ store, policy: () => loaded.policy, sink, maxPending: 10_000_000 });
  const batches: DetectionEvent[][] = [];
  for (let i = 0; i < events.length; i += BATCH) batches.push(events.slice(i, i + BATCH));
  const started = performance.now();
  let next = 0;
  async function worker(): Promise<void> {
    while (next < batches.length) await engine.process(batches[next++]!);
  }
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { eventsPerSecond: Math.round(events.length / seconds), seconds, ...counts };
}

async function waitUp(store: Store): Promise<void> {
  for (let i = 0; i < 100 && store.status().status !== "up"; i++) await new Promise((r) => setTimeout(r, 50));
  if (store.status().status !== "up") throw new Error("redis store never came up");
}

const machine = describeMachine();
const memoryEvents = Number(process.env.BENCH_ENGINE_EVENTS ?? 1_000_000);
const redisEvents = Number(process.env.BENCH_ENGINE_REDIS_EVENTS ?? 200_000);
const t0 = Date.parse("2026-11-22T03:00:00Z");

// Warm-up, so the JIT is not what is measured.
await run(createStore({ redis: null, app: "bench", clock: systemClock }), makeEvents(100_000, 5_000, t0), 1);

const memoryRuns = [];
for (let round = 0; round < 3; round++) {
  const store = createStore({ redis: null, app: "bench", clock: systemClock });
  memoryRuns.push(await run(store, makeEvents(memoryEvents, 50_000, t0), 1));
  await store.close();
}

const redis = await startRedis();
const redisRuns = [];
try {
  for (let round = 0; round < 3; round++) {
    const store = createStore({ redis: redis.url, app: `bench${round}`, clock: systemClock });
    await waitUp(store);
    redisRuns.push(await run(store, makeEvents(redisEvents, 50_000, t0), 8));
    if (store.status().status !== "up") throw new Error("the store fell back to memory during the run");
    await store.close();
  }
} finally {
  await redis.close();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mem = median(memoryRuns.map((r) => r.eventsPerSecond));
const red = median(redisRuns.map((r) => r.eventsPerSecond));
console.log(
  `machine: ${machine.cpus} CPUs, ${machine.cpuModel}, Node ${machine.node}, commit ${machine.gitCommit ?? "?"}`,
);
console.log("| store | events | events/s (median of 3) | runs | attacks per run |");
console.log("|---|--:|--:|---|--:|");
console.log(
  `| memory | ${memoryEvents} | ${mem} | ${memoryRuns.map((r) => r.eventsPerSecond).join(", ")} | ${memoryRuns[0]!.attacks} |`,
);
console.log(
  `| redis (local, pipelined, 8 batches in flight) | ${redisEvents} | ${red} | ${redisRuns.map((r) => r.eventsPerSecond).join(", ")} | ${redisRuns[0]!.attacks} |`,
);
console.log("");
console.log(`  memory events/s   ${mem}   target ≥ 200000  ${mem >= 200_000 ? "MET" : "MISSED"}`);
console.log(`  redis events/s    ${red}   target ≥ 30000   ${red >= 30_000 ? "MET" : "MISSED"}`);
