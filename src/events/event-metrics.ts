/**
 * gatehouse_events_total{channel,detection_point,outcome} and
 * gatehouse_event_errors_total{channel,reason}. Custom labels are the app's to choose, so the
 * detection_point label is capped: catalogue ids always count under their own name, and past
 * `maxCustomLabels` distinct custom labels the rest count as "other", keeping the series bounded.
 */
import { Counter, type Registry } from "prom-client";
import { detectionPointInfo } from "./catalogue.ts";

export interface EventMetrics {
  event(channel: string, detectionPoint: string, outcome: string): void;
  error(channel: string, reason: string): void;
}

export function createEventMetrics(registry: Registry, maxCustomLabels = 200): EventMetrics {
  const events = new Counter({
    name: "gatehouse_events_total",
    help: "Detection events accepted, by channel, detection point and outcome",
    labelNames: ["channel", "detection_point", "outcome"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "gatehouse_event_errors_total",
    help: "Detection events or headers refused or not correlated, by channel and reason",
    labelNames: ["channel", "reason"],
    registers: [registry],
  });
  const custom = new Set<string>();
  return {
    event(channel, detectionPoint, outcome) {
      let label = detectionPoint;
      if (!detectionPointInfo(detectionPoint) && !custom.has(detectionPoint)) {
        if (custom.size < maxCustomLabels) custom.add(detectionPoint);
        else label = "other";
      }
      events.labels(channel, label, outcome).inc();
    },
    error(channel, reason) {
      errors.labels(channel, reason).inc();
    },
  };
}
