/**
 * What live decisions cost the request path (npm run bench:decisions): two Gatehouse processes
 * in front of the same app, one holding no decision and one holding 100 000 (a mix of IPv4 and
 * IPv6 addresses and ranges, users and sessions, none of them the load generator's, so every
 * request is looked up and forwarded), driven alternately with autocannon at 50 connections.
 * Target: requests/s with 100 000 decisions ≥ 0.95 × with none, same run. Nine rounds by default:
 * with five, a run's median moved by ±3% on a 2-CPU host with nothing changed (bench/RESULTS.md).
 * The median of the per-round ratios (each round drives both, back to back) is printed beside
 * the ratio of medians, so drift during a run shows as a gap between the two.
 *
 * The decisions go in through the admin API, as an operator's would. Pinning as in run.ts: each
 * Gatehouse alone on one CPU while it is measured, load and app on the other.
 */

import { V8_FLAGS } from "../src/v8-flags.ts";
import { benchTempDir, installCleanup, portLine, startChild, stopAll } from "./children.ts";
import { runLoad } from "./load.ts";
import { describeMachine } from "./machine.ts";
import { pinnableCpus, setAffinity } from "./placement.ts";
import { treeMemory } from "./proc-stats.ts";

const NODE = process.execPath;
const ROOT = new URL("..", import.meta.url).pathname;
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const SECONDS = Number(process.env.BENCH_DURATION ?? 4);
const CONNECTIONS = 50;

interface Proxy {
  name: string;
  url: string;
  admin: string;
  pid: number;
}

async function startGatehouse(name: string, upstream: string, cpu: number | null): Promise<Proxy> {
  const dir = benchTempDir(name);
  const { child, info } = await startChild(
    name,
    NODE,
    [
      ...V8_FLAGS,
      `${ROOT}cmd/gatehouse.ts`,
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--admin-listen",
      "127.0.0.1:0",
      "--events-socket",
      `${dir}/events.sock`,
      "--upstream",
      upstream,
      "--log-level",
      "info",
    ],
    {
      cpu,
      cwd: ROOT,
      ready(line) {
        try {
          const msg = JSON.parse(line) as { msg?: string; proxy?: string; admin?: string };
          return msg.msg === "gatehouse listening" ? { proxy: msg.proxy!, admin: msg.admin! } : null;
        } catch {
          return null;
        }
      },
    },
  );
  return { name, url: `http://${info.proxy}/`, admin: `http://${info.admin}`, pid: child.pid };
}

/** The i-th decision of the mix: never 127.0.0.1, the load generator's address. */
function decision(i: number): Record<string, unknown> {
  const a = (i >> 8) & 255;
  const b = i & 255;
  const base = { action: "block", duration: "1h" };
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
      return { ...base, scope: "ip", value: `10.${(i >> 16) & 255}.${a}.${b}` };
    case 4:
    case 5:
      return { ...base, scope: "range", value: `172.${16 + (i % 16)}.${a}.0/24` };
    case 6:
      return {
        ...base,
        scope: "ip",
        value: `2001:db8:${(i >> 16).toString(16)}:${a.toString(16)}::${b.toString(16)}`,
      };
    case 7:
      return {
        ...base,
        scope: "range",
        value: `2001:db8:${(i & 0xffff).toString(16)}:${(i >> 16).toString(16)}::/64`,
      };
    case 8:
      return { ...base, scope: "user", value: `user-${i}` };
    default:
      return { ...base, scope: "session", value: `session-${i}` };
  }
}

async function load(admin: string, n: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  async function worker(): Promise<void> {
    while (next < n) {
      const body = JSON.stringify(decision(next++));
      const res = await fetch(`${admin}/v1/decisions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      if (res.status !== 201)
        throw new Error(`POST /v1/decisions answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker));
  return (performance.now() - started) / 1000;
}

installCleanup();
const machine = describeMachine();
const pin = pinnableCpus();
const [loadCpu, proxyCpu] = "cpus" in pin ? [pin.cpus[0]!, pin.cpus[1]!] : [null, null];
if (loadCpu !== null) setAffinity(process.pid, String(loadCpu));
try {
  const { info: port } = await startChild("app", NODE, [`${ROOT}bench/upstream-app.ts`], {
    cpu: loadCpu,
    ready: portLine,
  });
  const upstream = `http://127.0.0.1:${port}`;
  const none = await startGatehouse("gatehouse (no decisions)", upstream, proxyCpu);
  const full = await startGatehouse(`gatehouse (${DECISIONS} decisions)`, upstream, proxyCpu);
  const loadSeconds = await load(full.admin, DECISIONS);
  const listed = (await (await fetch(`${full.admin}/v1/decisions?limit=1`)).json()) as {
    decisions: unknown[];
  };
  if (listed.decisions.length !== 1) throw new Error("the decisions did not land");
  for (const p of [none, full]) {
    const check = await fetch(p.url);
    if (check.status !== 200) throw new Error(`${p.name} answered ${check.status}`);
    await runLoad(p.url, CONNECTIONS, 2); // warm-up
  }
  const rps: Record<string, number[]> = { [none.name]: [], [full.name]: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of round % 2 === 0 ? [none, full] : [full, none]) {
      const r = await runLoad(p.url, CONNECTIONS, SECONDS);
      if (r.errors + r.non2xx > 0) throw new Error(`${p.name}: ${r.errors} errors, ${r.non2xx} non-2xx`);
      rps[p.name]!.push(Math.round(r.rps));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratio = median(rps[full.name]!) / median(rps[none.name]!);
  const paired = median(rps[full.name]!.map((r, i) => r / rps[none.name]![i]!));
  console.log(
    `machine: ${machine.cpus} CPUs, ${machine.cpuModel}, Node ${machine.node}, commit ${machine.gitCommit ?? "?"}`,
  );
  console.log(`${DECISIONS} decisions loaded through the admin API in ${loadSeconds.toFixed(1)} s`);
  console.log("| target | req/s (median) | rounds | RSS MiB |");
  console.log("|---|--:|---|--:|");
  for (const p of [none, full]) {
    const mem = treeMemory(p.pid);
    console.log(
      `| ${p.name} | ${median(rps[p.name]!)} | ${rps[p.name]!.join(", ")} | ${(mem.rssKb / 1024).toFixed(1)} |`,
    );
  }
  console.log("");
  console.log(
    `  with ${DECISIONS} / with none req/s   ${ratio.toFixed(3)}   target ≥ 0.95  ${ratio >= 0.95 ? "MET" : "MISSED"}`,
  );
  console.log(`  median of the per-round ratios     ${paired.toFixed(3)}`);
} finally {
  await stopAll();
}
