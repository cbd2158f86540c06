/**
 * Detection-event benchmarks (npm run bench:events):
 *
 * 1. Socket ingestion: NDJSON batches POSTed to Gatehouse's event socket by several concurrent
 *    keep-alive clients for a fixed time; reports accepted events per second (target ≥ 50 000).
 * 2. Header-channel cost: two Gatehouse processes, one in front of an app that puts a
 *    Gatehouse-Event header on every response and one in front of the same app without it,
 *    driven alternately with autocannon (50 connections); reports the requests/s ratio
 *    (target: parsing costs ≤ 3%, i.e. ratio ≥ 0.97).
 *
 * Gatehouse runs at log level warn here: at info it writes one line per event (DESIGN 7), which
 * measures the logger, not the channel. Its policy (POLICY below) counts every IE1 against a
 * threshold, as the default policy does, but answers attacks with a log line only: with the
 * default policy the load generator, whose every response carries IE1, was soon blocked, and the
 * "with events" half measured 403s. Pinning as in run.ts: Gatehouse alone on one CPU, load and
 * app on the other.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { V8_FLAGS } from "../src/v8-flags.ts";
import { benchTempDir, freePort, installCleanup, portLine, startChild, stopAll } from "./children.ts";
import { runLoad } from "./load.ts";
import { pinnableCpus, setAffinity } from "./placement.ts";
import { treeCpuSeconds } from "./proc-stats.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NODE = process.execPath;
const seconds = Number(process.env.BENCH_DURATION ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);

/** Every IE1 goes through the engine's threshold; the attacks it makes only log. */
const POLICY = `responses:
  log: { action: log }
detectionPoints:
  IE1:
    threshold: { count: 3, within: 10m }
    per: ip
    responses: [log]
`;

async function startGatehouse(upstream: string, cpu: number | null, name: string) {
  const [port, admin] = [await freePort(), await freePort()];
  const dir = benchTempDir(name);
  const socket = `${dir}/events.sock`;
  const policy = `${dir}/policy.yaml`;
  writeFileSync(policy, POLICY);
  const args = [
    ...V8_FLAGS,
    `${ROOT}cmd/gatehouse.ts`,
    "serve",
    "--listen",
    `127.0.0.1:${port}`,
    "--admin-listen",
    `127.0.0.1:${admin}`,
    "--events-socket",
    socket,
    "--upstream",
    upstream,
    "--log-level",
    "warn",
    "--policy",
    policy,
  ];
  const { child } = await startChild(name, NODE, args, {
    cpu,
    cwd: ROOT,
    probe: async () => ((await fetch(`http://127.0.0.1:${admin}/healthz`)).ok ? true : null),
  });
  return { url: `http://127.0.0.1:${port}/`, socket, admin, pid: child.pid };
}

async function startApp(withEvent: boolean, cpu: number | null) {
  const { info: port } = await startChild(
    withEvent ? "app+event" : "app",
    NODE,
    [`${ROOT}bench/events-app.ts`, ...(withEvent ? ["--event"] : [])],
    { cpu, ready: portLine },
  );
  return `http://127.0.0.1:${port}`;
}

async function socketIngestion(
  socket: string,
): Promise<{ eventsPerSecond: number; batches: number; rejected: number }> {
  const batchSize = 500;
  const line = JSON.stringify({
    detectionPoint: "IE1",
    ip: "203.0.113.7",
    outcome: "blocked",
    detail: "script tag",
  });
  const body = `${Array.from({ length: batchSize }, () => line).join("\n")}\n`;
  const agent = new Agent({ connect: { socketPath: socket }, connections: 4 });
  let accepted = 0;
  let rejected = 0;
  let batches = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  async function worker(): Promise<void> {
    while (performance.now() < deadline) {
      const res = await request("http://gatehouse/v1/events", {
        method: "POST",
        dispatcher: agent,
        headers: { "content-type": "application/x-ndjson" },
        body,
      });
      const answer = (await res.body.json()) as { accepted: number; rejected: unknown[] };
      accepted += answer.accepted;
      rejected += answer.rejected.length;
      batches++;
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()]);
  const elapsed = (performance.now() - started) / 1000;
  await agent.close();
  return { eventsPerSecond: accepted / elapsed, batches, rejected };
}

async function main(): Promise<void> {
  installCleanup();
  const pin = pinnableCpus();
  const [loadCpu, proxyCpu] = "cpus" in pin ? [pin.cpus[0]!, pin.cpus[1]!] : [null, null];
  if (loadCpu !== null) setAffinity(process.pid, String(loadCpu));
  console.log(
    `bench:events: ${"cpus" in pin ? `Gatehouse pinned to CPU ${proxyCpu}, load and apps to CPU ${loadCpu}` : `no pinning (${pin.why})`}`,
  );

  const plainApp = await startApp(false, loadCpu);
  const eventApp = await startApp(true, loadCpu);
  const plain = await startGatehouse(plainApp, proxyCpu, "gatehouse-plain");
  const withEvents = await startGatehouse(eventApp, proxyCpu, "gatehouse-events");

  // Socket ingestion, after a warm-up.
  await socketIngestion(plain.socket);
  const ingestion = await socketIngestion(plain.socket);
  console.log(
    `socket ingestion: ${Math.round(ingestion.eventsPerSecond)} events/s (${ingestion.batches} NDJSON batches of 500, ${ingestion.rejected} rejected; target ≥ 50000)`,
  );

  // Header channel: interleaved rounds, the two Gatehouses never loaded at once.
  await runLoad(plain.url, 50, 2);
  await runLoad(withEvents.url, 50, 2);
  const ratios: number[] = [];
  const rps = { none: [] as number[], event: [] as number[] };
  // CPU time per request is also recorded: on a shared host, requests/s moves with the neighbours,
  // while the CPU Gatehouse spends on each request does much less.
  const cpu = { none: [] as number[], event: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (["none", "event"] as const) : (["event", "none"] as const);
    const got: Record<string, number> = {};
    for (const which of order) {
      const target = which === "none" ? plain : withEvents;
      const before = treeCpuSeconds(target.pid);
      const r = await runLoad(target.url, 50, seconds);
      got[which] = r.rps;
      rps[which].push(r.rps);
      cpu[which].push(((treeCpuSeconds(target.pid) - before) / r.ok) * 1e6);
    }
    ratios.push(got.event! / got.none!);
    console.log(
      `round ${round + 1}: no event ${Math.round(got.none!)} req/s, one event ${Math.round(got.event!)} req/s, ratio ${(got.event! / got.none!).toFixed(3)}`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const metrics = await (await fetch(`http://127.0.0.1:${withEvents.admin}/metrics`)).text();
  const counted =
    /gatehouse_events_total\{channel="header",detection_point="IE1",outcome="blocked"\} (\d+)/.exec(
      metrics,
    )?.[1];
  console.log(
    `header channel: median ${Math.round(median(rps.none))} req/s without events, ${Math.round(median(rps.event))} req/s with one event each; ` +
      `median ratio ${median(ratios).toFixed(3)} (cost ${((1 - median(ratios)) * 100).toFixed(1)}%; target ≤ 3%); ${counted} events counted`,
  );
  const cpuCost = median(cpu.event) / median(cpu.none) - 1;
  console.log(
    `header channel CPU: median ${median(cpu.none).toFixed(1)} µs/req without events, ${median(cpu.event).toFixed(1)} µs/req with one event each: ` +
      `${(cpuCost * 100).toFixed(1)}% more CPU per request (target ≤ 3%)`,
  );
  await stopAll();
}

main().catch(async (err) => {
  console.error(err);
  await stopAll();
  process.exit(1);
});
