/** Running the response inspector in-process: a request context, a policy, and a body in chunks. */
import {
  createInspector,
  type Evidence,
  type InspectResponse,
} from "../../../../src/events/evidence/inspector.ts";
import type { RequestContext, RequestDetection } from "../../../../src/pipeline/context.ts";
import { loadPolicySources } from "../../../../src/policy/load.ts";
import type { Policy } from "../../../../src/policy/policy.ts";

export function policy(text = "{}"): Policy {
  const result = loadPolicySources([{ name: "policy.yaml", text }]);
  if (!result.ok) throw new Error(result.problems.map((p) => p.message).join("; "));
  return result.policy;
}

export function detection(
  detectionPoint: string,
  part: string | null = null,
  matched: string | null = null,
  channel: "edge" | "header" = "edge",
): RequestDetection {
  return { detectionPoint, channel, part, matched };
}

export function context(
  target: string,
  detections: RequestDetection[] | null,
  method = "GET",
): RequestContext {
  return { requestId: "r-1", method, target, detections } as unknown as RequestContext;
}

export interface Harness {
  inspect: InspectResponse;
  found: Evidence[];
}

export function harness(options: { maxBytes?: number; decompress?: boolean; policy?: Policy } = {}): Harness {
  const found: Evidence[] = [];
  const current = options.policy ?? policy();
  const inspect = createInspector({
    inspection: { maxBytes: options.maxBytes ?? 64 * 1024, decompress: options.decompress ?? false },
    policy: () => current,
    onEvidence: (_ctx, e) => found.push(e),
  });
  return { inspect, found };
}

/**
 * One response through the inspector: returns the kinds of evidence raised, and whether an
 * observer was made at all. The observer scans in a process.nextTick after each chunk (once the
 * response's bytes are flushed), so this waits for the next turn of the event loop.
 */
export async function respond(
  h: Harness,
  ctx: RequestContext,
  headers: Record<string, string>,
  chunks: (string | Buffer)[],
  status = 200,
): Promise<{ kinds: string[]; observed: boolean }> {
  const before = h.found.length;
  const observer = h.inspect(ctx, status, headers);
  for (const c of chunks) observer?.onData(typeof c === "string" ? Buffer.from(c) : c);
  observer?.onEnd();
  await nextTurn();
  return { kinds: h.found.slice(before).map((e) => e.metadata.evidence.kind), observed: observer !== null };
}

/** After every process.nextTick queued so far has run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export const HTML = { "content-type": "text/html; charset=utf-8" };
