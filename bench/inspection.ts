/**
 * What response inspection costs (npm run bench:inspection): two Gatehouse processes in front of
 * the same app (bench/inspection-app.ts: a 1 KiB HTML page), one with inspection off
 * (`--inspection-max-bytes 0`) and one with the default (64 KB), both with a policy whose edge
 * detection flags requests carrying an XSS string (`edge.detect: [IE1]`). Each is driven with
 * flagged requests (`?q=<script>alert(1)</script>`: every scanner runs over the whole page and
 * finds nothing, the most work an ordinary flagged response costs) and with unflagged ones
 * (`?q=blue+mug`), interleaved round by round, only the process being measured running.
 *
 * Targets: flagged, with inspection / without ≤ 1.05 in latency (p50 at one connection, a
 * request's own time); unflagged, with / without: nothing measurable (within the run's noise).
 * The unflagged pair is also the run's control: its code path does not change with inspection
 * beyond the route-size learning, so how far its ratio strays from 1 is the noise of the run.
 * The c=1 p50 of each round is printed too, and the median of the per-round on/off ratios,
 * which drifts less than the ratio of the pooled samples when the machine is shared.
 * Requests/s and CPU µs per request at 50 connections are reported beside them: CPU per request
 * is what inspection adds whether or not the proxy is the bottleneck.
 *
 * Pinning as in run.ts: for throughput, Gatehouse alone on one CPU, load and app on the other;
 * for latency, the client alone, app and Gatehouse together (a sidecar shares its pod's CPU).
 */
import { writeFileSync } from "node:fs";
import { V8_FLAGS } from "../src/v8-flags.ts";
import {
  benchTempDir,
  freePort,
  installCleanup,
  portLine,
  signalTree,
  startChild,
  stopAll,
} from "./children.ts";
import { concatSamples, percentile, runLoad } from "./load.ts";
import { describeMachine } from "./machine.ts";
import { pinnableCpus, setAffinity } from "./placement.ts";
import { treeCpuSeconds } from "./proc-stats.ts";

const NODE = process.execPath;
const ROOT = new URL("..", import.meta.url).pathname;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_DURATION ?? 4);
const LATENCY_ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 3);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_DURATION ?? 3);
const CONNECTIONS = 50;

const POLICY = "edge:\n  detect: [IE1]\n";
const PATHS = {
  flagged: `/search?q=${encodeURIComponent("<script>alert(1)</script>")}`,
  unflagged: "/search?q=blue+mug",
} as const;
type Traffic = keyof typeof PATHS;

interface Proxy {
  name: "inspection off" | "inspection on";
  origin: string;
  admin: string;
  pid: number;
}

async function startGatehouse(
  name: Proxy["name"],
  upstream: string,
  extra: string[],
  cpu: number | null,
): Promise<Proxy> {
  const dir = benchTempDir(name.replace(" ", "-"));
  const policy = `${dir}/policy.yaml`;
  writeFileSync(policy, POLICY);
  const [port, admin] = [await freePort(), await freePort()];
  const { child } = await startChild(
    name,
    NODE,
    [
      ...V8_FLAGS,
      `${ROOT}cmd/gatehouse.ts`,
      "serve",
      "--listen",
      `127.0.0.1:${port}`,
      "--admin-listen",
      `127.0.0.1:${admin}`,
      "--events-socket",
      `${dir}/events.sock`,
      "--upstream",
      upstream,
      "--policy",
      policy,
      // At info every detection event is a log line (DESIGN 7): that would measure the logger.
      "--log-level",
      "warn",
      ...extra,
    ],
    {
      cpu,
      cwd: ROOT,
      probe: async () => ((await fetch(`http://127.0.0.1:${admin}/healthz`)).ok ? true : null),
    },
  );
  return { name, origin: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${admin}`, pid: child.pid };
}

/** Events counted by a proxy's /metrics: proof that the flagged requests really were flagged. */
async function edgeEvents(p: Proxy, outcome: string): Promise<number> {
  const text = await (await fetch(`${p.admin}/metrics`)).text();
  const m = new RegExp(
    `gatehouse_events_total\\{channel="edge",detection_point="IE1",outcome="${outcome}"\\} (\\d+)`,
  ).exec(text);
  return m ? Number(m[1]) : 0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  installCleanup();
  const machine = describeMachine();
  const pin = process.env.BENCH_PIN === "0" ? { why: "BENCH_PIN=0" } : pinnableCpus();
  const [loadCpu, proxyCpu] = "cpus" in pin ? [pin.cpus[0]!, pin.cpus[1]!] : [null, null];
  if (loadCpu !== null) setAffinity(process.pid, String(loadCpu));
  console.log(
    `bench:inspection: ${"cpus" in pin ? `Gatehouse pinned to CPU ${proxyCpu}, load and app to CPU ${loadCpu}` : `no pinning (${pin.why})`}`,
  );
  const { child: app, info: appPort } = await startChild("app", NODE, [`${ROOT}bench/inspection-app.ts`], {
    cpu: loadCpu,
    ready: portLine,
  });
  const upstream = `http://127.0.0.1:${appPort}`;
  const off = await startGatehouse("inspection off", upstream, ["--inspection-max-bytes", "0"], proxyCpu);
  const on = await startGatehouse("inspection on", upstream, [], proxyCpu);
  const proxies = [off, on];
  const awake = (p: Proxy) => {
    for (const q of proxies) signalTree(q.pid, q === p ? "SIGCONT" : "SIGSTOP");
  };

  for (const p of proxies) {
    for (const path of Object.values(PATHS)) {
      const res = await fetch(`${p.origin}${path}`);
      const body = await res.text();
      if (res.status !== 200 || body.length !== 1024) throw new Error(`${p.name} answered ${res.status}`);
    }
  }
  const key = (p: Proxy, t: Traffic) => `${p.name}, ${t}`;
  const rps = new Map<string, number[]>();
  const cpuUs = new Map<string, number[]>();
  const p50c50 = new Map<string, number[]>();
  const samples = new Map<string, Float64Array[]>();
  /** c=1 p50 of each latency round: the ratio of one round's pair is the least drift-prone. */
  const p50c1 = new Map<string, number[]>();
  const combos = proxies.flatMap((p) => (["flagged", "unflagged"] as const).map((t) => ({ p, t })));

  // Warm-up (JIT, pools), not recorded.
  for (const { p, t } of combos) {
    awake(p);
    await runLoad(`${p.origin}${PATHS[t]}`, CONNECTIONS, 2);
  }
  // Throughput at 50 connections, the order rotating each round.
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < combos.length; i++) {
      const { p, t } = combos[(i + round) % combos.length]!;
      awake(p);
      const before = treeCpuSeconds(p.pid);
      const r = await runLoad(`${p.origin}${PATHS[t]}`, CONNECTIONS, SECONDS);
      if (r.errors + r.non2xx > 0) throw new Error(`${key(p, t)}: ${r.errors} errors, ${r.non2xx} non-2xx`);
      const k = key(p, t);
      rps.set(k, [...(rps.get(k) ?? []), Math.round(r.rps)]);
      cpuUs.set(k, [...(cpuUs.get(k) ?? []), ((treeCpuSeconds(p.pid) - before) / r.ok) * 1e6]);
      p50c50.set(k, [...(p50c50.get(k) ?? []), r.p50Ms]);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  // Latency at one connection: app and Gatehouse share a CPU, the client has the other.
  if (loadCpu !== null && proxyCpu !== null) {
    setAffinity(app.pid, String(proxyCpu));
  }
  for (let round = 0; round < LATENCY_ROUNDS; round++) {
    for (let i = 0; i < combos.length; i++) {
      const { p, t } = combos[(i + round) % combos.length]!;
      awake(p);
      const r = await runLoad(`${p.origin}${PATHS[t]}`, 1, LATENCY_SECONDS);
      if (r.errors + r.non2xx > 0) throw new Error(`${key(p, t)}: ${r.errors} errors, ${r.non2xx} non-2xx`);
      const k = key(p, t);
      samples.set(k, [...(samples.get(k) ?? []), r.samples]);
      p50c1.set(k, [...(p50c1.get(k) ?? []), percentile(r.samples, 50)]);
    }
  }
  for (const p of proxies) signalTree(p.pid, "SIGCONT");

  const counted = {
    off: await edgeEvents(off, "attempt"),
    on: await edgeEvents(on, "attempt"),
    success: (await edgeEvents(off, "success")) + (await edgeEvents(on, "success")),
  };
  console.log(
    `machine: ${machine.cpus} CPUs, ${machine.cpuModel}, Node ${machine.node}, commit ${machine.gitCommit ?? "?"}`,
  );
  console.log(
    `IE1 attempts counted: ${counted.off} (inspection off), ${counted.on} (inspection on); successes ${counted.success} (the page leaks nothing: must be 0)`,
  );
  console.log(
    "| target | traffic | req/s c=50 (median) | rounds | p50 ms c=50 | CPU µs/req | c=1 p50 ms | c=1 p99 ms | c=1 p50 ms by round |",
  );
  console.log("|---|---|--:|---|--:|--:|--:|--:|---|");
  const c1 = (k: string, p: number) => percentile(concatSamples(samples.get(k)!), p);
  for (const { p, t } of combos) {
    const k = key(p, t);
    console.log(
      `| ${p.name} | ${t} | ${median(rps.get(k)!)} | ${rps.get(k)!.join(", ")} | ${median(p50c50.get(k)!).toFixed(3)} | ` +
        `${median(cpuUs.get(k)!).toFixed(1)} | ${c1(k, 50).toFixed(3)} | ${c1(k, 99).toFixed(3)} | ` +
        `${p50c1
          .get(k)!
          .map((x) => x.toFixed(3))
          .join(", ")} |`,
    );
  }
  console.log("");
  const ratio = (t: Traffic, f: (k: string) => number) => f(key(on, t)) / f(key(off, t));
  for (const t of ["flagged", "unflagged"] as const) {
    const lat1 = ratio(t, (k) => c1(k, 50));
    const lat50 = ratio(t, (k) => median(p50c50.get(k)!));
    const thr = ratio(t, (k) => median(rps.get(k)!));
    const cpu = ratio(t, (k) => median(cpuUs.get(k)!));
    const on1 = p50c1.get(key(on, t))!;
    const off1 = p50c1.get(key(off, t))!;
    const byRound = median(on1.map((x, i) => x / off1[i]!));
    const target = t === "flagged" ? "≤ 1.05" : "≈ 1.00 (noise)";
    const verdict =
      t === "flagged" ? (lat1 <= 1.05 ? "MET" : "MISSED") : Math.abs(lat1 - 1) <= 0.03 ? "MET" : "CHECK";
    console.log(
      `  ${t.padEnd(9)} on/off: c=1 p50 latency ${lat1.toFixed(3)} (target ${target}: ${verdict}); ` +
        `median of the rounds' c=1 ratios ${byRound.toFixed(3)}; ` +
        `c=50 p50 latency ${lat50.toFixed(3)}; req/s ${thr.toFixed(3)}; CPU µs/req ${cpu.toFixed(3)}`,
    );
  }
  if (counted.off === 0 || counted.on === 0 || counted.success !== 0)
    throw new Error("the flagged requests were not flagged as expected: the numbers above mean nothing");
}

main()
  .then(() => stopAll())
  .catch(async (err) => {
    console.error(err);
    await stopAll();
    process.exit(1);
  });
