/**
 * What `serve` does with the engine's output: one info log line per attack, breach, decision and
 * notification (DESIGN section 7), and the policy metrics. Shadow-mode work is logged as
 * "would have" and counted with `mode="shadow"`, so a policy can be watched before it enforces.
 * Attacks on custom labels are capped like gatehouse_events_total, keeping series bounded.
 *
 * gatehouse_breaches_total counts breach *incidents*, not success events: one when an incident
 * turns to success, on the replica whose update did it (the store makes that transition atomic),
 * so the metric, the incidents API and the pages sent all agree.
 */
import { Counter, type Registry } from "prom-client";
import { detectionPointInfo } from "../events/catalogue.ts";
import type { Logger } from "../observability/logger.ts";
import { decisionToJson } from "../store/decision.ts";
import { incidentToJson } from "../store/incident.ts";
import type { AttackRecord, BreachRecord, EngineSink, IncidentReport } from "./engine.ts";
import type { Effect } from "./responses.ts";

export interface PolicyMetrics {
  attacks: Counter<"detection_point" | "mode">;
  breaches: Counter;
  decisions: Counter<"action" | "scope" | "mode">;
  reloadErrors: Counter;
  droppedEvents: Counter;
}

export function createPolicyMetrics(registry: Registry): PolicyMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    attacks: counter(
      "gatehouse_attacks_total",
      "Attacks identified, by detection point (or rule name) and mode (shadow = would have)",
      ["detection_point", "mode"],
    ),
    breaches: counter(
      "gatehouse_breaches_total",
      "Breach incidents: incidents whose outcome turned to success, one each however many success events they hold (counted by the replica that recorded the transition)",
      [],
    ),
    decisions: counter(
      "gatehouse_policy_decisions_total",
      "Decisions made by policy and breach responses, by action, scope and mode (shadow = would have)",
      ["action", "scope", "mode"],
    ),
    reloadErrors: counter(
      "gatehouse_policy_reload_errors_total",
      "Policy reloads refused because the new policy was invalid (the last good one stayed live)",
      [],
    ),
    droppedEvents: counter(
      "gatehouse_analysis_dropped_events_total",
      "Detection events not analysed because the store fell too far behind",
      [],
    ),
  };
}

export function createAuditSink(
  logger: Logger,
  metrics: PolicyMetrics,
  maxCustomLabels = 200,
): Required<EngineSink> {
  const custom = new Set<string>();
  /** The label an attack counts under: catalogue ids and rules as they are, custom labels capped. */
  function label(name: string): string {
    if (detectionPointInfo(name) !== undefined || custom.has(name)) return name;
    if (custom.size >= maxCustomLabels) return "other";
    custom.add(name);
    return name;
  }
  return {
    attack(a: AttackRecord) {
      metrics.attacks.labels(label(a.detectionPoint ?? a.rule ?? "other"), a.mode).inc();
      logger.info(
        {
          attackId: a.id,
          ...(a.detectionPoint !== null ? { detectionPoint: a.detectionPoint } : { rule: a.rule }),
          actor: a.actor,
          identities: a.identities,
          count: a.nth,
          response: a.response.name,
          mode: a.mode,
          allowlisted: a.allowlisted,
          requestId: a.event.request?.id,
        },
        a.mode === "shadow" ? "attack (shadow: would have responded)" : "attack",
      );
    },
    breach(b: BreachRecord) {
      logger.info(
        {
          breachId: b.id,
          detectionPoint: b.detectionPoint,
          identities: b.identities,
          evidence: b.evidence,
          mode: b.mode,
          allowlisted: b.allowlisted,
        },
        b.mode === "shadow" ? "breach (shadow: would have responded)" : "breach",
      );
    },
    effect(effect: Effect, cause: AttackRecord | BreachRecord) {
      const shadow = cause.mode === "shadow";
      switch (effect.kind) {
        case "decision": {
          const d = effect.decision;
          metrics.decisions.labels(d.action, d.scope, cause.mode).inc();
          logger.info({ decision: decisionToJson(d) }, shadow ? "decision (shadow: would have)" : "decision");
          return;
        }
        case "notify":
          logger.info(
            { channel: effect.channel, causeId: cause.id, mode: cause.mode },
            shadow ? "notify (shadow: would have)" : "notify",
          );
          return;
        case "skipped":
          logger.info({ response: effect.response, causeId: cause.id, why: effect.why }, "response skipped");
          return;
        case "log":
          return; // the attack line above is the audit line
      }
    },
    incident(report: IncidentReport) {
      if (report.breached) {
        metrics.breaches.inc();
        logger.info({ incident: incidentToJson(report.incident) }, "breach incident");
      } else if (report.opened) {
        logger.info({ incident: incidentToJson(report.incident) }, "incident opened");
      }
    },
  };
}
