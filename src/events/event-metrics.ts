/**
 * gatehouse_events_total{channel,detection_point,outcome} and
 * gatehouse_event_errors_total{channel,reason}. Custom labels are the app's to choose, so the
 * detection_point label is capped: catalogue ids always count under their own name, and past
 * `maxCustomLabels` distinct custom labels the rest count as "other", keeping the series bounded.
 */
import { Counter, type Registry } from "prom-client";
import { detectionPointInfo } from "./catalogue.ts";
import { CHANNELS, OUTCOMES } from "./event.ts";

export interface EventMetrics {
  event(channel: string, detectionPoint: string, outcome: string): void;
  error(channel: string, reason: string): void;
}

export function createEventMetrics(registry: Registry, maxCustomLabels = 200): EventMetrics {
  // Counted as plain numbers (one small array per detection point) and read at scrape time:
  // prom-client's labelled inc() hashes the labels on every call, and this runs per event.
  const events = new Map<string, Float64Array>();
  const name = "gatehouse_events_total";
  const help = "Detection events accepted, by channel, detection point and outcome";
  registry.registerMetric({
    name,
    help,
    type: "counter",
    aggregator: "sum",
    async get() {
      const values: { value: number; labels: Record<string, string> }[] = [];
      for (const [detectionPoint, counts] of events) {
        CHANNELS.forEach((channel, c) => {
          OUTCOMES.forEach((outcome, o) => {
            const value = counts[c * OUTCOMES.length + o]!;
            if (value > 0)
              values.push({ value, labels: { channel, detection_point: detectionPoint, outcome } });
          });
        });
      }
      return { name, help, type: "counter", aggregator: "sum", values };
    },
  } as never);
  const errors = new Counter({
    name: "gatehouse_event_errors_total",
    help: "Detection events or headers refused or not correlated, by channel and reason",
    labelNames: ["channel", "reason"],
    registers: [registry],
  });
  let custom = 0;
  return {
    event(channel, detectionPoint, outcome) {
      let counts = events.get(detectionPoint);
      if (counts === undefined) {
        const known = detectionPointInfo(detectionPoint) !== undefined;
        if (!known && custom >= maxCustomLabels) {
          counts = events.get("other") ?? new Float64Array(CHANNELS.length * OUTCOMES.length);
          events.set("other", counts);
        } else {
          if (!known) custom++;
          counts = new Float64Array(CHANNELS.length * OUTCOMES.length);
          events.set(detectionPoint, counts);
        }
      }
      const c = CHANNELS.indexOf(channel as (typeof CHANNELS)[number]);
      const o = OUTCOMES.indexOf(outcome as (typeof OUTCOMES)[number]);
      if (c !== -1 && o !== -1) counts[c * OUTCOMES.length + o]! += 1;
    },
    error(channel, reason) {
      errors.labels(channel, reason).inc();
    },
  };
}
