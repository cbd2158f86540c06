/**
 * The policy file format (DESIGN section 4), written down once: every key, its type, whether it
 * is required, its default and what it means. The validator (validate.ts) and
 * policies/schema.json (schema.ts) are both made from POLICY_FORMAT; `npm run schema` rewrites
 * the schema and a unit test fails when the committed one differs. Responses and edge detection
 * have their own files (format-responses.ts, format-edge.ts).
 *
 * Beyond DESIGN's example: `mode` on each detection point, rule and breach (per-entry shadow
 * mode), `count` on rules with `any`, `prefix` with `per: range` (the network counted as one
 * actor, DESIGN section 2), `escalation.memory`, `incidents` (window and retention) and the
 * delivery settings of a notify channel (digest interval, rate limit, timeout, retries).
 */
import { edge } from "./format-edge.ts";
import { prefix, response } from "./format-responses.ts";
import { PER_SCOPES } from "./policy.ts";
import {
  boundedDuration,
  cidr,
  cookieName,
  detectionPoint,
  digestInterval,
  duration,
  entryName,
  enumOf,
  integer,
  rate,
  userName,
  webhook,
} from "./scalars.ts";
import { listOf, mapOf, type ObjectShape, object, optional, required } from "./shape.ts";

/** Longest escalation ladder (and breach list), and most labels in one rule. */
export const MAX_LADDER = 32;
export const MAX_RULE_LABELS = 16;

const mode = enumOf(
  ["enforce", "shadow"] as const,
  'enforce acts; shadow evaluates, logs and counts what it "would have" done, and never acts.',
  { name: "mode" },
);
const entryMode = optional(mode, "This entry's mode; default: the top-level mode of its file.");
const per = optional(
  enumOf(PER_SCOPES, "Whom events are counted per.", { name: "per" }),
  "Whom events are counted per: ip, range, session, user or global; absent: user, else session, else ip.",
);
const countedPrefix = optional(
  prefix,
  "With per: range: the network counted as one actor (default /24 for IPv4, /64 for IPv6).",
);
const needsRange = { prefix: { key: "per", value: "range", message: "applies only with per: range" } };
const responseName = entryName("response", "response");
const ladder = required(
  listOf(
    responseName,
    "The escalation ladder: the Nth attack by the same actor gets the Nth response; past the end the last repeats.",
    { min: 1, max: MAX_LADDER },
  ),
);
const labels = (doc: string) => optional(listOf(detectionPoint, doc, { min: 1, max: MAX_RULE_LABELS }));

const threshold = object(
  "An attack is `count` events of one actor within `within`; the window then restarts.",
  {
    count: required(integer(1, 1_000_000), "Events that make one attack."),
    within: required(duration, "The sliding window the events are counted in."),
  },
);

const detectionPointEntry = object(
  "How events of one detection point become attacks, and what answers them.",
  {
    threshold: required(threshold),
    per,
    prefix: countedPrefix,
    responses: ladder,
    mode: entryMode,
  },
  { needs: needsRange },
);

const rule = object(
  "An attack made of events of several detection points by one actor within a window.",
  {
    name: required(entryName("rule"), "The rule's name, unique across all files; its attacks carry it."),
    per,
    prefix: countedPrefix,
    within: required(duration, "The window all the events must fall within."),
    sequence: labels("These detection points in this order (other events may come between)."),
    all: labels("Every one of these detection points at least once, in any order."),
    any: labels("`count` events of any of these detection points."),
    count: optional(integer(1, 1_000_000), "With `any`: how many events make one attack.", 1),
    responses: ladder,
    mode: entryMode,
  },
  {
    exactlyOne: ["sequence", "all", "any"],
    needs: { count: { key: "any", message: "applies only to a rule with any:" }, ...needsRange },
  },
);

const channel = object("A webhook notifications are POSTed to.", {
  webhook: required(webhook),
  format: optional(
    enumOf(["json", "slack"] as const, "The body: json, or slack (an incoming webhook)."),
    "The body: json, or slack (an incoming webhook).",
    "json",
  ),
  digest: optional(
    digestInterval,
    "How often attempted and blocked incidents are summarised in one message; off: breaches only.",
    "1h",
  ),
  rateLimit: optional(rate, "Most messages sent to this webhook per period; more wait their turn.", "30/m"),
  timeout: optional(
    boundedDuration(1000, 60_000, "A delivery attempt's timeout, from 1s to 60s."),
    "How long one delivery attempt may take before it is given up and retried.",
    "5s",
  ),
  retries: optional(
    integer(0, 10),
    "Attempts after a failed delivery (exponential backoff from 1s, capped at 5m).",
    5,
  ),
});

const incidents = object("How events and attacks are grouped into incidents (DESIGN section 6).", {
  window: optional(
    boundedDuration(1000, 7 * 86_400_000, "A duration from 1s to 7d."),
    "An incident stays open while its actor is seen again within this long.",
    "1h",
  ),
  retention: optional(
    boundedDuration(60_000, 90 * 86_400_000, "A duration from 1m to 90d."),
    "How long an incident is kept and listed after it was last active.",
    "7d",
  ),
});

export const POLICY_FORMAT: ObjectShape = object("A Gatehouse policy file (DESIGN section 4).", {
  mode: optional(mode, "The default mode of the entries in this file.", "enforce"),
  detectionPoints: optional(
    mapOf("Thresholds and ladders, by detection point.", detectionPoint, detectionPointEntry, 1000),
  ),
  rules: optional(listOf(rule, "Rules across detection points.", { max: 1000 })),
  responses: optional(
    mapOf("Responses by name; ladders and breach name them.", entryName("response"), response, 1000),
  ),
  breach: optional(
    object("Applied at once to an event with outcome success (no threshold).", {
      responses: required(
        listOf(responseName, "Responses applied all together (not a ladder).", { max: MAX_LADDER }),
      ),
      mode: optional(mode, "The breach responses' mode; default: the top-level mode of the file."),
    }),
  ),
  notify: optional(mapOf("Notification channels by name.", entryName("notify channel"), channel, 100)),
  allowlist: optional(
    object("Actors never blocked, throttled or logged out; their events are still counted and shown.", {
      ips: optional(listOf(cidr, "Addresses and networks.", { max: 4096 })),
      users: optional(listOf(userName, "User names.", { max: 4096 })),
    }),
  ),
  identity: optional(
    object("How the session is found.", {
      sessionCookies: required(
        listOf(
          cookieName,
          "Cookies that carry the session id, first present wins; replaces the configured list.",
          {
            min: 1,
            max: 32,
          },
        ),
      ),
    }),
  ),
  escalation: optional(
    object("Escalation.", {
      memory: optional(
        duration,
        "How long an actor's attacks are remembered for climbing the ladder.",
        "24h",
      ),
    }),
  ),
  incidents: optional(incidents),
  edge: optional(edge),
});
