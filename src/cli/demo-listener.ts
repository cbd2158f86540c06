/**
 * The demo's stand-in for an alerting service: a loopback HTTP server that the demo points the
 * policy's `notify.ops` webhook at, and that prints each page it receives to the terminal. In
 * production this is Slack, PagerDuty or your own receiver (docs/incidents.md).
 *
 * What it prints comes from the page, and a page carries attacker-chosen text (a user name, a
 * matched payload), so control characters are removed before anything reaches the terminal: an
 * escape sequence in a user name must not rewrite the screen. Bodies are bounded; anything that
 * is not a Gatehouse page is reported as such, never parsed further.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "../events/read-body.ts";

/** Largest body read; Gatehouse's pages are a few KiB. */
const MAX_BODY_BYTES = 256 * 1024;
/** Longest text printed for one field. */
const FIELD_MAX = 200;
/** Evidence entries printed per page. */
const EVIDENCE_MAX = 5;

export const PAGE_PREFIX = "[webhook]";

export interface DemoListener {
  server: Server;
  /** `http://HOST:PORT/gatehouse`: the webhook URL given to the policy. */
  url: string;
  close(): Promise<void>;
}

/** Printable text of at most FIELD_MAX characters: control characters become spaces. */
function clean(value: unknown): string {
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters removed
  const printable = String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
  return printable.length > FIELD_MAX ? `${printable.slice(0, FIELD_MAX)}…` : printable;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** The lines printed for one received body (exported for its tests). */
export function describePage(text: string): string[] {
  let body: Record<string, unknown> | null = null;
  try {
    body = record(JSON.parse(text));
  } catch {
    body = null;
  }
  if (body === null)
    return [`${PAGE_PREFIX} received ${Buffer.byteLength(text)} bytes that are not a Gatehouse page`];
  if (body.kind === "breach") {
    const incident = record(body.incident) ?? {};
    const actor = record(incident.actor) ?? {};
    const who = ["user", "ip", "range"]
      .filter((k) => typeof actor[k] === "string")
      .map((k) => `${k} ${clean(actor[k])}`)
      .join(", ");
    const points = Array.isArray(incident.detectionPoints)
      ? incident.detectionPoints.map(clean).join(", ")
      : "";
    const lines = [
      `${PAGE_PREFIX} page: kind breach, incident ${clean(incident.id)}, outcome ${clean(incident.outcome)}, actor ${who || "unknown"}, detection points ${points || "none"}`,
    ];
    const evidence = Array.isArray(incident.evidence) ? incident.evidence : [];
    for (const item of evidence.slice(0, EVIDENCE_MAX)) {
      const e = record(item) ?? {};
      lines.push(`${PAGE_PREFIX}   evidence ${clean(e.kind)}: ${clean(e.detail)}`);
    }
    if (evidence.length === 0) lines.push(`${PAGE_PREFIX}   evidence: none recorded`);
    return lines;
  }
  if (body.kind === "digest") {
    const outcomes = record(body.outcomes) ?? {};
    return [
      `${PAGE_PREFIX} digest: ${clean(body.incidents)} incidents from ${clean(body.from)} to ${clean(body.to)} (${clean(outcomes.attempt)} attempted, ${clean(outcomes.blocked)} blocked)`,
    ];
  }
  return [
    `${PAGE_PREFIX} received JSON that is not a Gatehouse page (kind ${clean(body.kind) || "missing"})`,
  ];
}

export async function startDemoListener(
  host: string,
  port: number,
  out: (line: string) => void,
): Promise<DemoListener> {
  const server = createServer(async (req, res) => {
    // Read to its end whatever its size (a sender sees the 413, not a reset), keeping at most the limit.
    const read = await readBody(req, {
      maxBytes: MAX_BODY_BYTES,
      drainBytes: Number.POSITIVE_INFINITY,
      tooLarge: "too large",
    });
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST", "content-type": "text/plain" });
      res.end("POST pages here\n");
      return;
    }
    if (!read.ok) {
      if (read.status === 413) out(`${PAGE_PREFIX} received a body over ${MAX_BODY_BYTES} bytes; not read`);
      if (read.close) res.destroy();
      else {
        res.writeHead(413, { "content-type": "text/plain" });
        res.end("too large\n");
      }
      return;
    }
    for (const line of describePage(read.body)) out(line);
    // 2xx is what tells Gatehouse the page was delivered (it retries anything else).
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const origin =
    bound.family === "IPv6" ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  return {
    server,
    url: `http://${origin}/gatehouse`,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
