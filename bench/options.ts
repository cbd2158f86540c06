/**
 * Benchmark options: a flag, else an environment variable `BENCH_<NAME>`, else the default.
 * The defaults keep a whole run (start-up, warm-up, 5 rounds of 5 targets, latency twice) under
 * ~3 minutes; more short rounds beat fewer long ones, because a Node proxy at saturation can sit in
 * a faster or a slower mode for seconds at a time and the median over rounds smooths that out.
 */
import { parseArgs } from "node:util";

export interface BenchOptions {
  /** Seconds of each measured load run. */
  duration: number;
  /** Interleaved rounds of load runs (every target once per round). */
  rounds: number;
  /** Seconds of the unrecorded warm-up run per target. */
  warmup: number;
  /** Concurrent keep-alive client connections in the throughput runs. */
  connections: number;
  /** Seconds of each one-connection latency run. */
  latencyDuration: number;
  /** Interleaved rounds of one-connection latency runs. */
  latencyRounds: number;
  /** Pin load generator + upstream to CPU 0 and the proxy under test to CPU 1 (needs taskset, ≥ 2 CPUs). */
  pin: boolean;
  /** Run the nginx reference when nginx is found. */
  nginx: boolean;
  /** Proxies to measure (the app itself, "direct", always is: it is the base of the latency column). */
  targets: string[];
  /** Extra `gatehouse serve` arguments, to measure a configuration (e.g. `--policy FILE`). */
  gatehouseArgs: string[];
  /** The Gatehouse entry point to run: another checkout's cmd/gatehouse.ts to compare a change. */
  gatehouseEntry: string | null;
  /** Where the JSON result goes. */
  out: string;
}

export const PROXIES = ["gatehouse", "bare-undici", "contract-minimal", "http-proxy-3", "nginx"] as const;

const HELP = `Usage: npm run bench -- [options]    (or: npx node bench/run.ts [options])

  --duration SEC            seconds per measured load run          BENCH_DURATION=4
  --rounds N                interleaved throughput rounds          BENCH_ROUNDS=5
  --warmup SEC              unrecorded warm-up per target          BENCH_WARMUP=3
  --connections N           connections in throughput runs         BENCH_CONNECTIONS=50
  --latency-duration SEC    seconds per one-connection run         BENCH_LATENCY_DURATION=2
  --latency-rounds N        interleaved latency rounds             BENCH_LATENCY_ROUNDS=2
  --targets LIST            proxies to measure, comma-separated    BENCH_TARGETS=gatehouse,bare-undici,
                            (the app itself always runs)             contract-minimal,http-proxy-3,nginx
  --gatehouse-args="ARGS"   extra \`gatehouse serve\` arguments      BENCH_GATEHOUSE_ARGS
  --gatehouse-entry FILE    another checkout's cmd/gatehouse.ts    BENCH_GATEHOUSE_ENTRY
  --no-pin                  no CPU pinning                         BENCH_PIN=0
  --no-nginx                skip nginx even when installed         BENCH_NGINX=0
                            the nginx binary                       BENCH_NGINX_BIN
  --out FILE                JSON result                            BENCH_OUT=.bench-tmp/bench-<time>.json
  -h, --help                this text
`;

export function readOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: "string" },
      rounds: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      "latency-duration": { type: "string" },
      "latency-rounds": { type: "string" },
      "no-pin": { type: "boolean" },
      "no-nginx": { type: "boolean" },
      targets: { type: "string" },
      "gatehouse-args": { type: "string" },
      "gatehouse-entry": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const targets = (values.targets ?? env.BENCH_TARGETS ?? PROXIES.join(","))
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of targets) {
    if (!(PROXIES as readonly string[]).includes(t)) {
      throw new Error(`--targets: "${t}" is not one of ${PROXIES.join(", ")}`);
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return {
    duration: number("duration", values.duration ?? env.BENCH_DURATION, 4, 1, 600),
    rounds: number("rounds", values.rounds ?? env.BENCH_ROUNDS, 5, 1, 50),
    warmup: number("warmup", values.warmup ?? env.BENCH_WARMUP, 3, 0, 120),
    connections: number("connections", values.connections ?? env.BENCH_CONNECTIONS, 50, 1, 1000),
    latencyDuration: number(
      "latency-duration",
      values["latency-duration"] ?? env.BENCH_LATENCY_DURATION,
      2,
      1,
      600,
    ),
    latencyRounds: number("latency-rounds", values["latency-rounds"] ?? env.BENCH_LATENCY_ROUNDS, 2, 1, 50),
    pin: !values["no-pin"] && env.BENCH_PIN !== "0",
    nginx: !values["no-nginx"] && env.BENCH_NGINX !== "0",
    targets,
    gatehouseEntry: values["gatehouse-entry"] ?? env.BENCH_GATEHOUSE_ENTRY ?? null,
    gatehouseArgs: (values["gatehouse-args"] ?? env.BENCH_GATEHOUSE_ARGS ?? "").split(/\s+/).filter(Boolean),
    out: values.out ?? env.BENCH_OUT ?? `.bench-tmp/bench-${stamp}.json`,
  };
}

function number(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new Error(`--${name}: "${raw}" is not a number from ${min} to ${max}`);
  }
  return n;
}
