/**
 * Profile one proxy under the benchmark's load: `npx node bench/profile.ts [--target gatehouse]`.
 * Starts the app and the proxy (with `node --cpu-prof`) pinned as in bench/run.ts, drives it with
 * autocannon, stops it gracefully so V8 writes the profile, and prints where the time went.
 * The .cpuprofile stays under .bench-tmp/ and opens in Chrome DevTools (Performance tab) too.
 * `--analyze FILE.cpuprofile` prints the summary of an existing profile; `--gatehouse-args="…"`
 * passes settings to `gatehouse serve` as in bench/run.ts; `--node-flags="…"` adds V8/Node flags
 * (e.g. `--max-semi-space-size=32`) to the profiled process.
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { installCleanup, stopAll } from "./children.ts";
import { renderProfile, summariseProfile } from "./cpu-profile.ts";
import { runLoad } from "./load.ts";
import { pinnableCpus, setAffinity } from "./placement.ts";
import {
  NODE_BASELINES,
  type NodeBaseline,
  startGatehouse,
  startNodeBaseline,
  startUpstream,
  type Target,
} from "./targets.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: "string", default: "gatehouse" },
      duration: { type: "string", default: "10" },
      warmup: { type: "string", default: "3" },
      connections: { type: "string", default: "50" },
      analyze: { type: "string" },
      top: { type: "string", default: "25" },
      "gatehouse-args": { type: "string", default: "" },
      "node-flags": { type: "string", default: "" },
    },
  });
  const top = Number(values.top);
  if (values.analyze) {
    process.stdout.write(renderProfile(summariseProfile(values.analyze, top)));
    return;
  }
  const target = values.target;
  const isBaseline = (id: string): id is NodeBaseline => (NODE_BASELINES as readonly string[]).includes(id);
  if (target !== "gatehouse" && !isBaseline(target)) {
    throw new Error(`--target: "${target}" is not gatehouse or one of ${NODE_BASELINES.join(", ")}`);
  }
  installCleanup();
  const cpus = pinnableCpus();
  const pin = "cpus" in cpus ? { load: cpus.cpus[0]!, proxy: cpus.cpus[1]! } : null;
  if (pin) setAffinity(process.pid, String(pin.load));
  const dir = resolve(`.bench-tmp/profile-${target}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  const flags = ["--cpu-prof", "--cpu-prof-dir", dir, ...values["node-flags"].split(/\s+/).filter(Boolean)];
  const upstream = await startUpstream(pin?.load ?? null);
  const proxy: Target =
    target === "gatehouse"
      ? await startGatehouse(
          upstream.url,
          pin?.proxy ?? null,
          flags,
          values["gatehouse-args"].split(/\s+/).filter(Boolean),
        )
      : await startNodeBaseline(target, upstream.url, pin?.proxy ?? null, flags);
  const connections = Number(values.connections);
  log(
    `${target} pid ${proxy.pid}, ${pin ? `pinned to CPU ${pin.proxy}` : "not pinned"}; profiling to ${dir}`,
  );
  // The profile covers the whole process life; the warm-up is short next to the measured run.
  const warm = await runLoad(proxy.url, connections, Number(values.warmup));
  const load = await runLoad(proxy.url, connections, Number(values.duration));
  // Every response the process served while profiled, for the µs-per-request column.
  const served = warm.ok + load.ok;
  log(`${load.rps.toFixed(0)} req/s, p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms`);
  // SIGTERM, not SIGKILL: V8 writes the profile only when the process exits on its own.
  const exited = new Promise((r) => proxy.child.process.once("exit", r));
  proxy.child.process.kill("SIGTERM");
  await exited;
  await stopAll();
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile was written to ${dir}`);
  process.stdout.write(
    `\nprofile: ${join(dir, file)}\n${renderProfile(summariseProfile(join(dir, file), top), served)}`,
  );
}

function log(line: string): void {
  process.stderr.write(`profile: ${line}\n`);
}

main().catch(function failed(err: Error) {
  process.stderr.write(`profile: failed: ${err.stack ?? err.message}\n`);
  stopAll().finally(() => process.exit(1));
});
