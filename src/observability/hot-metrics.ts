/**
 * Metrics updated on every request, kept as plain numbers and read by the registry only at
 * scrape time. prom-client's own `inc()`/`observe()` hash and validate the labels on every call,
 * which showed up in profiles of the proxy under load; these cost an array index and an add.
 */
import type { Registry } from "prom-client";

interface Sample {
  value: number;
  labels?: Record<string, string | number>;
  metricName?: string;
}

/** A counter with one label whose values are all known up front. */
export class HotCounter<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = "counter";
  readonly aggregator = "sum";
  readonly #label: string;
  readonly #values: readonly L[];
  readonly #counts: Float64Array;

  constructor(
    registry: Registry,
    options: { name: string; help: string; label: string; values: readonly L[] },
  ) {
    this.name = options.name;
    this.help = options.help;
    this.#label = options.label;
    this.#values = options.values;
    this.#counts = new Float64Array(options.values.length);
    registry.registerMetric(this as never);
  }

  /** The increment for one label value, resolved once so the hot path only adds. */
  child(value: L): { inc(): void } {
    const index = this.#values.indexOf(value);
    if (index === -1) throw new Error(`${this.name}: unknown ${this.#label} ${value}`);
    const counts = this.#counts;
    return {
      inc() {
        counts[index]! += 1;
      },
    };
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    this.#values.forEach((v, i) => {
      if (this.#counts[i]! > 0) values.push({ value: this.#counts[i]!, labels: { [this.#label]: v } });
    });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A histogram without labels. */
export class HotHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #bounds: Float64Array;
  /** One count per bound, plus +Inf. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(registry: Registry, options: { name: string; help: string; buckets: readonly number[] }) {
    this.name = options.name;
    this.help = options.help;
    this.#bounds = Float64Array.from([...options.buckets].sort((a, b) => a - b));
    this.#counts = new Float64Array(this.#bounds.length + 1);
    registry.registerMetric(this as never);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.#counts[i]! += 1;
    this.#sum += value;
    this.#count++;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += this.#counts[i]!;
      values.push({ value: cumulative, labels: { le: bound }, metricName: `${this.name}_bucket` });
    });
    values.push({ value: this.#count, labels: { le: "+Inf" }, metricName: `${this.name}_bucket` });
    values.push({ value: this.#sum, metricName: `${this.name}_sum` });
    values.push({ value: this.#count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
