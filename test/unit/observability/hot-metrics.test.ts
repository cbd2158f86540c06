import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { HotCounter, HotHistogram } from "../../../src/observability/hot-metrics.ts";

const BUCKETS = [0.001, 0.01, 0.1, 1];
const SAMPLES = [0.0005, 0.001, 0.002, 0.05, 0.05, 0.7, 3, 12];

describe("hot metrics scrape exactly like prom-client's own", () => {
  it("histogram: cumulative buckets, +Inf, sum and count", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const hot = new HotHistogram(ours, { name: "h_seconds", help: "h", buckets: BUCKETS });
    const ref = new Histogram({ name: "h_seconds", help: "h", buckets: BUCKETS, registers: [theirs] });
    for (const v of SAMPLES) {
      hot.observe(v);
      ref.observe(v);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  it("counter: one series per label value that was counted", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const hot = new HotCounter(ours, {
      name: "c_total",
      help: "c",
      label: "outcome",
      values: ["a", "b", "c"] as const,
    });
    const ref = new Counter({ name: "c_total", help: "c", labelNames: ["outcome"], registers: [theirs] });
    const a = hot.child("a");
    const c = hot.child("c");
    for (let i = 0; i < 3; i++) a.inc();
    c.inc();
    ref.labels("a").inc(3);
    ref.labels("c").inc();
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  it("refuses a label value it was not built for", () => {
    const hot = new HotCounter(new Registry(), {
      name: "x_total",
      help: "x",
      label: "l",
      values: ["a"] as const,
    });
    assert.throws(() => hot.child("z" as "a"), /unknown l z/);
  });
});
