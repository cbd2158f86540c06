/**
 * Decisions across replicas (npm run bench:replication), on a redis-server of its own (free
 * loopback port, no persistence):
 *
 * 1. Snapshot load: 1 000 000 decision-like entries (the shape of src/store/decision.ts, encoded
 *    with the decision codec, ~300 bytes each) are written straight into the map's keys with
 *    pipelines; then a child process that does nothing else loads them as `serve` does: a
 *    RedisReplicatedMap whose local store is a DecisionIndex keeping columns (create-enforcement.ts),
 *    so every decision is in the index, matchable, when the load ends. It reports the time until
 *    the map is loaded and up, its peak RSS (VmHWM, the whole process: Node, ioredis, the map and
 *    the index), and the V8 heap live after a full GC; the writer's memory does not count.
 *    Targets: ≤ 10 s, ≤ 400 MB, with the V8 flags Gatehouse ships with (src/v8-flags.ts); the
 *    same load with V8's defaults is shown beside them.
 * 2. Propagation: 2 000 sets on replica A, one a millisecond, each timed from `set()` to the
 *    `onChange` it causes on replica B (both in this process, one clock). Target: p99 ≤ 50 ms.
 *
 * BENCH_ENTRIES and BENCH_SETS change the sizes.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { DecisionIndex } from "../src/enforce/decision-index.ts";
import { decisionCodec } from "../src/enforce/decision-service.ts";
import { systemClock } from "../src/store/clock.ts";
import type { Decision } from "../src/store/decision.ts";
import { RedisReplicatedMap } from "../src/store/redis-replicated-map.ts";
import { mapKeys } from "../src/store/replicated-map-scripts.ts";
import { RUNTIME_ENV, V8_FLAGS } from "../src/v8-flags.ts";
import { startRedis } from "../test/helpers/redis.ts";

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 1_000_000);
const SETS = Number(process.env.BENCH_SETS ?? 2_000);
const APP = "bench";
const HOUR = 3_600_000;

function decision(i: number, now: number): Decision {
  const a = (i >> 16) & 255;
  const b = (i >> 8) & 255;
  return {
    id: randomUUID(),
    action: i % 10 === 0 ? "throttle" : "block",
    scope: i % 7 === 0 ? "range" : "ip",
    value: i % 7 === 0 ? `10.${a}.${b}.0/24` : `10.${a}.${b}.${i & 255}`,
    routes: null,
    until: now + HOUR + (i % 3600) * 1000,
    createdAt: now - (i % 600) * 1000,
    origin: i % 5 === 0 ? "manual" : "policy",
    reason: {
      detectionPoint: "AE2",
      attackId: randomUUID(),
      mode: "enforce",
      response: "block-ip",
    },
    rate: i % 10 === 0 ? { count: 10, perMs: 60_000 } : null,
    status: null,
    delayMs: null,
  };
}

/** The child: load the map into the index and say how long it took and how much memory it needed. */
async function loadChild(url: string): Promise<void> {
  const started = performance.now();
  const index = new DecisionIndex({ clock: systemClock, keep: "columns" });
  const map = new RedisReplicatedMap<Decision>({
    url,
    app: APP,
    name: "decisions",
    codec: decisionCodec,
    clock: systemClock,
    timeoutMs: 10_000,
    local: index.store,
  });
  // Where the peak is: V8's heap (live and garbage not collected yet) or outside it.
  const peak = { heapTotal: 0, heapUsed: 0, external: 0 };
  const sample = setInterval(() => {
    const m = process.memoryUsage();
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
  }, 50);
  while (!(map.loaded() && map.status().status === "up")) await new Promise((r) => setTimeout(r, 5));
  const ms = performance.now() - started;
  clearInterval(sample);
  const status = readFileSync("/proc/self/status", "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  // Measured above, before this full collection: what stays is what the map holds.
  globalThis.gc?.();
  const live = process.memoryUsage().heapUsed;
  process.stdout.write(
    `${JSON.stringify({ ms, entries: map.size, indexed: index.size, hwmKb: kb("VmHWM"), rssKb: kb("VmRSS"), live, peak })}\n`,
  );
  await map.close();
}

async function write(redis: Redis, count: number): Promise<number> {
  const keys = mapKeys(APP, "decisions");
  const now = Date.now();
  let bytes = 0;
  let maxUntil = 0;
  const batch = 5000;
  for (let from = 0; from < count; from += batch) {
    const pipeline = redis.pipeline();
    const zadd: (string | number)[] = [];
    for (let i = from; i < Math.min(count, from + batch); i++) {
      const d = decision(i, now);
      const text = decisionCodec.encode(d);
      bytes += text.length;
      maxUntil = Math.max(maxUntil, d.until);
      pipeline.set(keys.entry + d.id, text, "PX", d.until - now);
      zadd.push(d.until, d.id);
    }
    pipeline.zadd(keys.index, ...zadd);
    await pipeline.exec();
  }
  await redis
    .pipeline()
    .pexpire(keys.index, maxUntil - now)
    .incr(keys.version)
    .pexpire(keys.version, 366 * 24 * HOUR)
    .exec();
  return bytes / count;
}

interface LoadResult {
  ms: number;
  entries: number;
  /** Decisions the index can match once loaded (all of them: none is shadow or unparseable). */
  indexed: number;
  hwmKb: number;
  rssKb: number;
  /** V8 heap in use after a full GC, bytes. */
  live: number;
  /** The largest V8 heap (reserved, in use) and memory outside it seen during the load, sampled. */
  peak: { heapTotal: number; heapUsed: number; external: number };
}

/**
 * `shipped`: with the V8 flags and environment Gatehouse runs with (src/v8-flags.ts), or with
 * V8's and glibc's defaults. (`--expose-gc` either way: the child measures the heap after a GC.)
 */
function runChild(url: string, shipped: boolean): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const flags = shipped ? V8_FLAGS : [];
    const args = [...flags, "--expose-gc", fileURLToPath(import.meta.url), "--load-child", url];
    const child = spawn(process.execPath, args, {
      env: shipped ? { ...process.env, ...RUNTIME_ENV } : process.env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`the loading child exited with ${code}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1)!));
    });
  });
}

async function propagation(url: string): Promise<number[]> {
  const open = () =>
    new RedisReplicatedMap<Decision>({
      url,
      app: "bench-propagation",
      name: "decisions",
      codec: decisionCodec,
      clock: systemClock,
    });
  const a = open();
  const b = open();
  const ready = (m: RedisReplicatedMap<Decision>) => m.loaded() && m.status().status === "up";
  while (!ready(a) || !ready(b)) await new Promise((r) => setTimeout(r, 5));
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  b.onChange((c) => {
    if (c.kind !== "set") return;
    const t = sent.get(c.key);
    if (t !== undefined) latencies.push(performance.now() - t);
  });
  const now = Date.now();
  for (let i = 0; i < SETS; i++) {
    const d = decision(i, now);
    sent.set(d.id, performance.now());
    a.set(d.id, d, d.until);
    await new Promise((r) => setTimeout(r, 1));
  }
  const deadline = Date.now() + 5000;
  while (latencies.length < SETS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await Promise.all([a.close(), b.close()]);
  return latencies.sort((x, y) => x - y);
}

async function main(): Promise<void> {
  const server = await startRedis();
  try {
    const redis = new Redis({ port: server.port, host: "127.0.0.1" });
    const t0 = performance.now();
    const avg = await write(redis, ENTRIES);
    const writeMs = performance.now() - t0;
    const info = await redis.info("memory");
    const redisMb = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 2 ** 20;
    redis.disconnect();
    console.log(
      `wrote ${ENTRIES} entries (${avg.toFixed(0)} bytes each encoded) in ${(writeMs / 1000).toFixed(1)} s; redis used_memory ${redisMb.toFixed(0)} MB`,
    );
    const load = await runChild(server.url, true);
    const plain = await runChild(server.url, false);
    const lat = await propagation(server.url);
    const pct = (p: number) =>
      lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] ?? Number.NaN;
    const rows: [string, string, string, boolean][] = [
      [
        `snapshot load, ${load.entries} entries`,
        `${(load.ms / 1000).toFixed(2)} s`,
        "≤ 10 s",
        load.ms <= 10_000 && load.entries === ENTRIES,
      ],
      [
        "decisions in the index after the load",
        String(load.indexed),
        `= ${ENTRIES}`,
        load.indexed === ENTRIES,
      ],
      [
        "peak RSS of the loading process (VmHWM)",
        `${(load.hwmKb / 1024).toFixed(0)} MB`,
        "≤ 400 MB",
        load.hwmKb <= 400 * 1024,
      ],
      ["RSS after the load (VmRSS)", `${(load.rssKb / 1024).toFixed(0)} MB`, "", true],
      [
        "the same load with V8's and glibc's defaults: time / peak RSS",
        `${(plain.ms / 1000).toFixed(2)} s`,
        `${(plain.hwmKb / 1024).toFixed(0)} MB`,
        true,
      ],
      [
        "largest V8 heap during the load (total / used)",
        `${(load.peak.heapTotal / 2 ** 20).toFixed(0)} MB`,
        `${(load.peak.heapUsed / 2 ** 20).toFixed(0)} MB used`,
        true,
      ],
      [
        "largest memory outside the heap (external)",
        `${(load.peak.external / 2 ** 20).toFixed(0)} MB`,
        "",
        true,
      ],
      [
        "V8 heap live after the load (after a full GC)",
        `${(load.live / 2 ** 20).toFixed(0)} MB`,
        `${(load.live / load.entries).toFixed(0)} B/entry`,
        true,
      ],
      [`propagation p50 (${lat.length}/${SETS} received, 1 set/ms)`, `${pct(50).toFixed(2)} ms`, "", true],
      ["propagation p99", `${pct(99).toFixed(2)} ms`, "≤ 50 ms", pct(99) <= 50 && lat.length === SETS],
      ["propagation max", `${(lat.at(-1) ?? Number.NaN).toFixed(2)} ms`, "", true],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(`\n${"measure".padEnd(width)}  ${"value".padStart(9)}  ${"target".padEnd(11)}  result`);
    for (const [name, value, target, met] of rows)
      console.log(
        `${name.padEnd(width)}  ${value.padStart(9)}  ${target.padEnd(11)}  ${/^[≤=]/.test(target) ? (met ? "MET" : "MISSED") : ""}`,
      );
  } finally {
    await server.close();
  }
}

if (process.argv[2] === "--load-child") await loadChild(process.argv[3]!);
else await main();
