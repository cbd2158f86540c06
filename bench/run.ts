/**
 * `npm run bench`: Gatehouse against a bare undici proxy, the same proxy doing only what the contract
 * requires (contract-minimal), http-proxy-3 and (when installed) nginx,
 * all in front of the same app, driven by autocannon from this process. See bench/README.md for
 * the method; in short:
 *   1. start the app, Gatehouse and the baselines as child processes on 127.0.0.1, ephemeral ports;
 *   2. check each answers 200 with the 1 KiB body, then warm each up (JIT, connection pools);
 *   3. throughput: R interleaved rounds, every target once per round, the order rotated each
 *      round so slow drift (host noise, thermal) falls on all targets alike;
 *   4. latency: the same with one connection, to see what a proxy adds to a lone request;
 *   5. print the table, check the project's targets, write JSON under .bench-tmp/.
 */
import { get } from "node:http";
import { resolve } from "node:path";
import { installCleanup, signalTree, stopAll } from "./children.ts";
import { runLoad } from "./load.ts";
import { describeMachine } from "./machine.ts";
import { DISTURBED, describe, measured, record } from "./measure.ts";
import { readOptions } from "./options.ts";
import { pinnableCpus, setAffinity } from "./placement.ts";
import { treeMemory } from "./proc-stats.ts";
import { checkTargets, type Phase, type RunRecord, renderTable, summarise, writeJson } from "./report.ts";
import {
  NODE_BASELINES,
  startGatehouse,
  startNginx,
  startNodeBaseline,
  startUpstream,
  type Target,
  type TargetId,
} from "./targets.ts";

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2), process.env);
  installCleanup();
  const started = Date.now();
  const machine = describeMachine();
  const cpus = options.pin ? pinnableCpus() : { why: "disabled (--no-pin / BENCH_PIN=0)" };
  // Pinned: the proxy under test has the second CPU to itself; the load generator (this process)
  // and the app share the first. Every proxy, nginx included, gets exactly one core.
  const pin = "cpus" in cpus ? { load: cpus.cpus[0]!, proxy: cpus.cpus[1]!, all: cpus.list } : null;
  if (pin) setAffinity(process.pid, String(pin.load));
  log(`machine: ${machine.cpus} CPU (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}`);
  log(
    pin
      ? `throughput runs pinned: load generator + app on CPU ${pin.load}, proxy under test on CPU ${pin.proxy}`
      : `pinning off: ${"why" in cpus ? cpus.why : ""}`,
  );

  const upstream = await startUpstream(pin?.load ?? null);
  const targets: Target[] = [upstream];
  const wanted = (id: string) => options.targets.includes(id);
  const cpuProxy = pin?.proxy ?? null;
  if (wanted("gatehouse")) {
    const entry = options.gatehouseEntry ? resolve(options.gatehouseEntry) : undefined;
    targets.push(await startGatehouse(upstream.url, cpuProxy, [], options.gatehouseArgs, entry));
  }
  for (const id of NODE_BASELINES) {
    if (wanted(id)) targets.push(await startNodeBaseline(id, upstream.url, cpuProxy));
  }
  let nginxVersion: string | null = null;
  let nginxSkipped: string | null = null;
  if (!wanted("nginx")) nginxSkipped = "not in --targets";
  else if (!options.nginx) nginxSkipped = "disabled (--no-nginx / BENCH_NGINX=0)";
  else {
    const nginx = await startNginx(Number(new URL(upstream.url).port), cpuProxy);
    if (nginx.ok) {
      targets.push(nginx.target);
      nginxVersion = nginx.version;
    } else nginxSkipped = nginx.why;
  }
  log(nginxSkipped ? `nginx reference SKIPPED: ${nginxSkipped}` : `nginx reference: ${nginxVersion}`);
  for (const t of targets) await checkAnswer(t);
  log(`targets: ${targets.map((t) => `${t.id} ${t.url} (pid ${t.pid})`).join(", ")}`);

  // Only the proxy being measured may run: the others are stopped (SIGSTOP) meanwhile, so an idle
  // proxy's background work (V8's memory reducer running major GCs on a big heap, timers) cannot
  // take CPU from the one under test. Each pays for its own background work in its own runs.
  const proxies = targets.filter((t) => t.id !== "direct");
  const awake = (t: Target) => {
    for (const p of proxies) signalTree(p.pid, p === t ? "SIGCONT" : "SIGSTOP");
  };
  const runs: RunRecord[] = [];
  const latency = new Map<Phase, Map<TargetId, Float64Array[]>>();
  async function phase(name: Phase, connections: number, seconds: number, rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      for (const t of rotate(targets, round)) {
        awake(t);
        const result = await measured(t, connections, seconds, pin?.proxy ?? null);
        const run = record(name, round, t, result);
        runs.push(run);
        if (name !== "throughput") {
          const byTarget = latency.get(name) ?? new Map<TargetId, Float64Array[]>();
          byTarget.set(t.id, [...(byTarget.get(t.id) ?? []), result.load.samples]);
          latency.set(name, byTarget);
        }
        log(`${name} ${round + 1}/${rounds}  ${describe(t, run)}`);
      }
    }
  }

  if (options.warmup > 0) {
    log(`warm-up: ${options.warmup}s per target, ${options.connections} connections, not recorded`);
    for (const t of targets) {
      awake(t);
      await runLoad(t.url, options.connections, options.warmup);
    }
  }
  await phase("throughput", options.connections, options.duration, options.rounds);
  if (pin) {
    // One connection, sidecar placement: the client alone on the first CPU, the app and the proxy
    // together on the second, as a sidecar shares its pod's CPU with the app. Direct and proxied
    // requests then both cross CPUs exactly twice (client → server → client), so the difference
    // is the proxy's own work, not extra cross-CPU wake-ups (tens of µs each on a VM).
    setAffinity(upstream.pid, String(pin.proxy));
    await phase("latency", 1, options.latencyDuration, options.latencyRounds);
    // And where the kernel puts things when nobody pins anything (noisier: placement varies).
    for (const pid of [process.pid, ...targets.map((t) => t.pid)]) setAffinity(pid, pin.all);
    await phase("latency-unpinned", 1, options.latencyDuration, options.latencyRounds);
  } else {
    await phase("latency", 1, options.latencyDuration, options.latencyRounds);
  }

  for (const p of proxies) signalTree(p.pid, "SIGCONT");
  const summary = summarise(
    targets.map((t) => ({ id: t.id, label: t.label, hwmKb: treeMemory(t.pid).hwmKb })),
    runs,
    latency,
  );
  const checks = checkTargets(summary, runs);
  process.stdout.write(`\n${renderTable(summary, checks, options.connections)}`);
  if (nginxSkipped) process.stdout.write(`  nginx reference skipped: ${nginxSkipped}\n`);
  const disturbed = runs.filter((r) => r.foreignCpu > DISTURBED);
  if (disturbed.length > 0) {
    const worst = Math.max(...disturbed.map((r) => r.foreignCpu));
    const byPhase = [...new Set(runs.map((r) => r.phase))].map((phase) => {
      const all = runs.filter((r) => r.phase === phase).length;
      return `${phase} ${disturbed.filter((r) => r.phase === phase).length}/${all}`;
    });
    process.stdout.write(
      `  WARNING: ${disturbed.length} of ${runs.length} runs were disturbed by other processes on this machine ` +
        `(up to ${worst.toFixed(2)} CPU taken; ${byPhase.join(", ")}); ` +
        "the numbers of those phases are not reliable, rerun when the machine is quiet.\n",
    );
  }
  const out = resolve(options.out);
  writeJson(out, {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    date: new Date(started).toISOString(),
    wallSeconds: Math.round((Date.now() - started) / 100) / 10,
    machine: { ...machine, nginx: nginxVersion },
    options,
    pinning: pin
      ? {
          throughput: { loadAndApp: pin.load, proxy: pin.proxy },
          latency: { load: pin.load, appAndProxy: pin.proxy },
          latencyUnpinned: pin.all,
        }
      : { off: cpus },
    nginxSkipped,
    disturbedRuns: disturbed.length,
    summary,
    checks,
    runs,
  });
  log(`JSON written to ${out}; wall time ${Math.round((Date.now() - started) / 1000)}s`);
  await stopAll();
}

/** The same targets, starting one further each round. */
function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Every target must really proxy the app: 200 and the 1 KiB body, or the numbers mean nothing. */
function checkAnswer(t: Target): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    get(t.url, { agent: false }, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
      });
      res.on("end", () => {
        if (res.statusCode === 200 && bytes === 1024) resolvePromise();
        else
          reject(new Error(`${t.id} answered ${res.statusCode} with ${bytes} bytes, expected 200 with 1024`));
      });
    }).on("error", (err) => reject(new Error(`${t.id} did not answer: ${err.message}`)));
  });
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

main().catch(function failed(err: Error) {
  process.stderr.write(`bench: failed: ${err.stack ?? err.message}\n`);
  stopAll().finally(() => process.exit(1));
});
