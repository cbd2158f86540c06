/**
 * What edge detection found on one request. Each detection point is raised at most once per
 * request (an attacker who fills ten parameters with `<script>` sends one XSS attempt, and a
 * threshold counts requests, not parameters), which also caps the events one request can raise
 * at the number of edge-detectable points.
 */

import type { RequestDetection } from "../../pipeline/context.ts";
import type { EventOutcome } from "../event.ts";
import type { EdgeDetection } from "../intake.ts";
import { MATCHED_MAX } from "./signatures.ts";

/** Evidence attached to a success event (DESIGN section 6), shown in its incident. */
export interface Evidence {
  kind: string;
  detail: string;
}

export class Findings {
  /** Events for intake.fromEdge. */
  readonly events: EdgeDetection[] = [];
  /** The same detections, for ctx.detections (what response evidence reads). */
  readonly detections: RequestDetection[] = [];

  /** A scan of at most the edge-detectable points: no set kept beside the list it would mirror. */
  has(detectionPoint: string): boolean {
    for (const d of this.detections) if (d.detectionPoint === detectionPoint) return true;
    return false;
  }

  get size(): number {
    return this.events.length;
  }

  /** Record one detection, unless its detection point was raised already on this request. */
  add(
    detectionPoint: string,
    outcome: EventOutcome,
    detail: string,
    part: string,
    matched: string,
    evidence: Evidence | null = null,
  ): void {
    if (this.has(detectionPoint)) return;
    const text = matched.length > MATCHED_MAX ? matched.slice(0, MATCHED_MAX) : matched;
    this.events.push({
      detectionPoint,
      outcome,
      detail,
      metadata: evidence ? { evidence, part, matched: text } : { part, matched: text },
    });
    this.detections.push({ detectionPoint, channel: "edge", part, matched: text });
  }
}
