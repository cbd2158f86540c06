/**
 * One load run with autocannon's programmatic API. Latency percentiles are computed here from
 * every response's own time (autocannon's `response` event, float milliseconds): autocannon's
 * built-in histogram keeps whole milliseconds, too coarse to see a 0.2 ms difference.
 */
import autocannon from "autocannon";

export interface LoadResult {
  connections: number;
  seconds: number;
  /** 2xx responses. */
  ok: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  timeouts: number;
  /** Every 2xx response time of the run, ms (kept so latency rounds can be pooled). */
  samples: Float64Array;
}

export function runLoad(url: string, connections: number, seconds: number): Promise<LoadResult> {
  let samples = new Float64Array(1 << 16);
  let count = 0;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url, connections, duration: seconds, pipelining: 1, timeout: 10 },
      function finished(err, result) {
        if (err) return reject(err);
        const elapsed = (performance.now() - started) / 1000;
        const kept = samples.subarray(0, count);
        const [p50, p99] = percentiles(kept, [50, 99]);
        resolve({
          connections,
          seconds: elapsed,
          ok: count,
          rps: count / elapsed,
          p50Ms: p50!,
          p99Ms: p99!,
          errors: result.errors,
          non2xx: result.non2xx,
          timeouts: result.timeouts,
          samples: kept,
        });
      },
    );
    instance.on(
      "response",
      function onResponse(_client: unknown, status: number, _bytes: number, ms: number) {
        if (status < 200 || status > 299) return;
        if (count === samples.length) {
          const bigger = new Float64Array(samples.length * 2);
          bigger.set(samples);
          samples = bigger;
        }
        samples[count++] = ms;
      },
    );
  });
}

/** Nearest-rank percentiles of `values` (not modified; NaN when empty). */
export function percentiles(values: Float64Array, ps: number[]): number[] {
  if (values.length === 0) return ps.map(() => Number.NaN);
  const sorted = Float64Array.from(values).sort();
  return ps.map(
    (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!,
  );
}

export function percentile(values: Float64Array, p: number): number {
  return percentiles(values, [p])[0]!;
}

/** Several runs' samples as one array. */
export function concatSamples(parts: Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}
