import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { perRoundRatio, type RunRecord } from "../../../bench/report.ts";
import type { TargetId } from "../../../bench/targets.ts";

function run(
  target: TargetId,
  round: number,
  rps: number,
  phase: RunRecord["phase"] = "throughput",
): RunRecord {
  return {
    phase,
    round,
    target,
    connections: 50,
    seconds: 4,
    ok: rps * 4,
    rps,
    p50Ms: 1,
    p99Ms: 2,
    errors: 0,
    non2xx: 0,
    timeouts: 0,
    maxRssKb: 0,
    cpuSeconds: 1,
    cpuUsPerRequest: 1,
    proxyCpuBusy: 1,
    foreignCpu: 0,
  };
}

describe("bench per-round ratio", () => {
  it("pairs each round's runs and takes the median of their ratios", () => {
    // Round 2 ran on a host twice as fast: its ratio counts like any other round's.
    const runs = [
      run("gatehouse", 1, 800),
      run("bare-undici", 1, 1000),
      run("gatehouse", 2, 1800),
      run("bare-undici", 2, 2000),
      run("gatehouse", 3, 850),
      run("bare-undici", 3, 1000),
    ];
    assert.equal(perRoundRatio(runs, "gatehouse", "bare-undici"), 0.85);
  });

  it("ignores latency runs and rounds where only one of the two ran", () => {
    const runs = [
      run("gatehouse", 1, 900),
      run("bare-undici", 1, 1000),
      run("gatehouse", 2, 100),
      run("gatehouse", 1, 1, "latency"),
      run("bare-undici", 1, 1000, "latency"),
    ];
    assert.equal(perRoundRatio(runs, "gatehouse", "bare-undici"), 0.9);
  });

  it("is null when the two never ran in the same round", () => {
    assert.equal(perRoundRatio([run("gatehouse", 1, 900)], "gatehouse", "bare-undici"), null);
  });
});
