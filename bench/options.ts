/**
 * Benchmark options: a flag, else an environment variable `BENCH_<NAME>`, else the default.
 * The defaults keep a whole run (start-up, warm-up, 3 rounds of 5 targets, latency) under ~3 minutes
 * on a 2-core machine; raise `--duration`/`--rounds` for tighter numbers.
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
  /** Where the JSON result goes. */
  out: string;
}

const HELP = `Usage: npm run bench -- [options]    (or: npx node bench/run.ts [options])

  --duration SEC          seconds per measured load run           (BENCH_DURATION, default 6)
  --rounds N              interleaved rounds                      (BENCH_ROUNDS, default 3)
  --warmup SEC            unrecorded warm-up per target           (BENCH_WARMUP, default 2)
  --connections N         client connections for throughput       (BENCH_CONNECTIONS, default 50)
  --latency-duration SEC  seconds per one-connection latency run  (BENCH_LATENCY_DURATION, default 3)
  --latency-rounds N      interleaved latency rounds              (BENCH_LATENCY_ROUNDS, default 2)
  --no-pin                do not pin processes to CPUs            (BENCH_PIN=0)
  --no-nginx              skip the nginx reference                (BENCH_NGINX=0)
  --out FILE              JSON result file                        (BENCH_OUT, default .bench-tmp/bench-<time>.json)
  -h, --help              this text
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
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return {
    duration: number("duration", values.duration ?? env.BENCH_DURATION, 6, 1, 600),
    rounds: number("rounds", values.rounds ?? env.BENCH_ROUNDS, 3, 1, 50),
    warmup: number("warmup", values.warmup ?? env.BENCH_WARMUP, 2, 0, 120),
    connections: number("connections", values.connections ?? env.BENCH_CONNECTIONS, 50, 1, 1000),
    latencyDuration: number(
      "latency-duration",
      values["latency-duration"] ?? env.BENCH_LATENCY_DURATION,
      3,
      1,
      600,
    ),
    latencyRounds: number("latency-rounds", values["latency-rounds"] ?? env.BENCH_LATENCY_ROUNDS, 2, 1, 50),
    pin: !values["no-pin"] && env.BENCH_PIN !== "0",
    nginx: !values["no-nginx"] && env.BENCH_NGINX !== "0",
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
