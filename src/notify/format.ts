/**
 * Webhook bodies (DESIGN section 6): `"kind": "breach"` with one incident, sent at once, or
 * `"kind": "digest"`, a summary of attempted and blocked incidents over an interval. Two formats:
 * `json` (the incident as the API shows it) and `slack` (an incoming-webhook message, `text` for
 * notifications and `blocks` for the channel; the JSON is not included).
 *
 * Everything in an incident can come from an attacker (a user name, a matched payload, a detail
 * the app copied from a request), so Slack text is escaped (`&`, `<`, `>`, Slack's own control
 * characters: `<!channel>` in a user name must not ping a channel) and bounded.
 */
import { type Incident, incidentToJson } from "../store/incident.ts";

export type NotifyFormat = "json" | "slack";

/** A digest's summary of the incidents active in its interval (src/notify/digest.ts). */
export interface DigestSummary {
  from: number;
  to: number;
  incidents: number;
  outcomes: { attempt: number; blocked: number };
  /** Incidents per detection point and outcome, most first. */
  detectionPoints: { detectionPoint: string; attempt: number; blocked: number }[];
  /** The actors with the most incidents (then events). */
  topActors: { actor: Incident["actor"]; incidents: number; events: number; attacks: number }[];
  incidentIds: string[];
  /** More incidents than `incidentIds` lists. */
  truncated: boolean;
}

export function breachBody(incident: Incident, format: NotifyFormat, now: number): unknown {
  if (format === "json") return { kind: "breach", sentAt: iso(now), incident: incidentToJson(incident) };
  const who = actorText(incident.actor);
  const lines = [
    `*Outcome:* success   *Actor:* ${who}`,
    `*Detection points:* ${esc(incident.detectionPoints.join(", ") || "-")}`,
    `*Seen:* ${iso(incident.firstSeen)} to ${iso(incident.lastSeen)} (${incident.events} events, ${incident.attacks} attacks)`,
    `*Responses:* ${esc(incident.responses.map((r) => r.response).join(", ") || "none")}`,
  ];
  const evidence = incident.evidence
    .slice(0, 5)
    .map(
      (e) => `• \`${esc(e.kind)}\` ${esc(e.detail)}${e.requestId ? ` (request ${esc(e.requestId)})` : ""}`,
    );
  return {
    text: `Breach: ${who} got in (incident ${esc(incident.id)})`,
    blocks: [
      { type: "header", text: { type: "plain_text", text: "Gatehouse: breach" } },
      { type: "section", text: { type: "mrkdwn", text: bounded(lines.join("\n")) } },
      {
        type: "section",
        text: { type: "mrkdwn", text: bounded(`*Evidence*\n${evidence.join("\n") || "none recorded"}`) },
      },
      { type: "context", elements: [{ type: "mrkdwn", text: `incident ${esc(incident.id)}` }] },
    ],
  };
}

export function digestBody(summary: DigestSummary, format: NotifyFormat, now: number): unknown {
  if (format === "json") {
    return {
      kind: "digest",
      sentAt: iso(now),
      from: iso(summary.from),
      to: iso(summary.to),
      incidents: summary.incidents,
      outcomes: summary.outcomes,
      detectionPoints: summary.detectionPoints,
      topActors: summary.topActors,
      incidentIds: summary.incidentIds,
      truncated: summary.truncated,
    };
  }
  const points = summary.detectionPoints
    .slice(0, 10)
    .map((d) => `• ${esc(d.detectionPoint)}: ${d.attempt} attempted, ${d.blocked} blocked`);
  const actors = summary.topActors
    .slice(0, 5)
    .map((a) => `• ${actorText(a.actor)}: ${a.incidents} incidents, ${a.events} events`);
  return {
    text: `Gatehouse digest: ${summary.incidents} incidents (${summary.outcomes.attempt} attempted, ${summary.outcomes.blocked} blocked), no breach among them`,
    blocks: [
      { type: "header", text: { type: "plain_text", text: "Gatehouse: attempts digest" } },
      {
        type: "section",
        text: {
          type: "mrkdwn",
          text: bounded(
            `*${summary.incidents} incidents* from ${iso(summary.from)} to ${iso(summary.to)}: ` +
              `${summary.outcomes.attempt} attempted, ${summary.outcomes.blocked} blocked`,
          ),
        },
      },
      {
        type: "section",
        text: { type: "mrkdwn", text: bounded(`*By detection point*\n${points.join("\n")}`) },
      },
      { type: "section", text: { type: "mrkdwn", text: bounded(`*Top actors*\n${actors.join("\n")}`) } },
    ],
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

function actorText(actor: Incident["actor"]): string {
  const parts = [
    actor.user !== undefined ? `user ${actor.user}` : null,
    actor.ip !== undefined ? `ip ${actor.ip}` : null,
    actor.user === undefined && actor.session !== undefined ? "a session" : null,
  ].filter((p) => p !== null);
  return esc(parts.join(", ") || "an unknown actor");
}

/** Slack's mrkdwn escaping (its docs: "Escaping text"), with control characters and backticks neutralised. */
export function esc(text: string): string {
  return (
    text
      .slice(0, 500)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/`/g, "'")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters removed
      .replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, " ")
  );
}

/** A section's text is at most 3000 characters in Slack's block kit. */
function bounded(text: string): string {
  return text.length > 2900 ? `${text.slice(0, 2900)}…` : text;
}
