/**
 * The pieces of breach evidence response inspection raises, and how each is worded. A detail
 * names what was found and after which detection, never the response's own bytes: a leaked
 * private key is not copied into logs, incidents or webhooks (docs/response-evidence.md).
 */
import type { RequestDetection } from "../../pipeline/context.ts";
import { FACTOR, type Normal } from "./route-sizes.ts";
import type { Family } from "./signatures.ts";

export type EvidenceKind =
  | "reflected-payload"
  | "error-disclosure"
  | "file-content"
  | "oversized-response"
  | "honeytoken-response";

/** One piece of breach evidence: app.ts turns it into an edge event with outcome `success`. */
export interface Evidence {
  detectionPoint: string;
  detail: string;
  metadata: { evidence: { kind: EvidenceKind; detail: string }; part?: string; matched?: string };
}

export function evidence(
  detectionPoint: string,
  kind: EvidenceKind,
  detail: string,
  d: RequestDetection | null,
): Evidence {
  const metadata: Evidence["metadata"] = { evidence: { kind, detail } };
  if (d?.part) metadata.part = d.part;
  if (d?.matched) metadata.matched = d.matched;
  return { detectionPoint, detail, metadata };
}

export function where(d: RequestDetection): string {
  return d.part === null ? "" : ` in ${d.part}`;
}

export function reflectedEvidence(d: RequestDetection): Evidence {
  const detail = `the input that raised IE1${where(d)} is reflected unencoded in the HTML response`;
  return evidence("IE1", "reflected-payload", detail, d);
}

export function errorEvidence(name: string, family: Family, d: RequestDetection): Evidence {
  const detail = `${name} ${describeFamily(family)} in the response after ${d.detectionPoint}${where(d)}`;
  return evidence(d.detectionPoint, "error-disclosure", detail, d);
}

export function fileEvidence(name: string, d: RequestDetection): Evidence {
  const detail = `content of ${name} in the response after ${d.detectionPoint}${where(d)}`;
  return evidence(d.detectionPoint, "file-content", detail, d);
}

export function honeytoken(token: string): Evidence {
  const e = evidence("HT3", "honeytoken-response", `decoy token "${token}" in the response`, null);
  e.metadata.matched = token;
  return e;
}

export function oversizedEvidence(
  route: string,
  bytes: number,
  normal: Normal,
  detections: readonly RequestDetection[],
): Evidence {
  const d = detections[0]!;
  const detail =
    `response of ${bytes} bytes on ${route}, more than ${FACTOR}x the route's median of ` +
    `${Math.round(normal.median)} bytes over ${normal.samples} responses, after ${d.detectionPoint}${where(d)}`;
  return evidence("CIE2", "oversized-response", detail, d);
}

function describeFamily(family: Family): string {
  return family === "database"
    ? "database error text"
    : family === "stack trace"
      ? "stack trace"
      : family === "template"
        ? "template error"
        : "file content";
}
