/**
 * The scalar value types of the policy format. Each one parses a raw YAML value into its runtime
 * form (durations in ms, rates, CIDRs) or says what was expected, and carries the same
 * constraint as a JSON Schema fragment for policies/schema.json. Messages quote the value as
 * written (bounded by `show`) so a reader can find it in the file.
 */
import { CIDR_KEYWORDS, type Cidr, parseCidrList } from "../actor/cidr.ts";
import { didYouMean } from "../config/suggest.ts";
import {
  MAX_POLICY_DURATION_MS,
  type Parsed,
  parseDuration,
  parseRate,
  parseSize,
  type Rate,
  show,
} from "../config/units.ts";
import { CATALOGUE, detectionPointInfo, LABEL } from "../events/catalogue.ts";
import type { JsonSchema, RefKind, ScalarShape } from "./shape.ts";

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

const LABEL_RULE = 'a letter, then up to 63 letters, digits, "_", ".", ":" or "-"';
const LABEL_JSON: JsonSchema = { type: "string", pattern: LABEL.source };

export function enumOf<T extends string>(
  values: readonly T[],
  doc: string,
  options: { name?: string; message?: (raw: unknown) => string } = {},
): ScalarShape<T> {
  return {
    kind: "scalar",
    doc,
    json: { enum: [...values] },
    ...(options.name ? { name: options.name } : {}),
    parse(raw) {
      if (values.includes(raw as T)) return ok(raw as T);
      if (options.message) return fail(options.message(raw));
      const hint = typeof raw === "string" ? didYouMean(raw, values, 2) : "";
      return fail(`${show(raw)} is not one of ${values.join(", ")}${hint}`);
    },
  };
}

export function integer(
  min: number,
  max: number,
  doc = `A whole number from ${min} to ${max}.`,
): ScalarShape<number> {
  return {
    kind: "scalar",
    doc,
    json: { type: "integer", minimum: min, maximum: max },
    parse(raw) {
      if (typeof raw === "number" && Number.isInteger(raw) && raw >= min && raw <= max) return ok(raw);
      return fail(`must be a whole number from ${min} to ${max}`);
    },
  };
}

/** A positive duration in milliseconds; `0` is refused (no window, block or delay lasts no time). */
export const duration: ScalarShape<number> = {
  kind: "scalar",
  name: "duration",
  doc: "A duration: a whole number and a unit, ms, s, m, h or d (e.g. 500ms, 30s, 10m, 1h, 7d).",
  json: { type: "string", pattern: "^[0-9]{1,9}(ms|s|m|h|d)$", examples: ["30s", "10m", "1h", "7d"] },
  parse(raw) {
    const parsed = parseDuration(raw, MAX_POLICY_DURATION_MS);
    if (parsed.ok && parsed.value === 0) return fail(`${show(raw)} is not a duration longer than 0`);
    return parsed;
  },
};

/** A duration from `minMs` to `maxMs`, for settings where a tiny or huge value is a mistake. */
export function boundedDuration(minMs: number, maxMs: number, doc: string): ScalarShape<number> {
  const range = `from ${shortDuration(minMs)} to ${shortDuration(maxMs)}`;
  return {
    kind: "scalar",
    doc,
    json: { type: "string", pattern: "^[0-9]{1,9}(ms|s|m|h|d)$" },
    parse(raw) {
      const parsed = duration.parse(raw);
      if (parsed.ok && (parsed.value < minMs || parsed.value > maxMs))
        return fail(`${show(raw)} is not a duration ${range}`);
      return parsed;
    },
  };
}

/** `60s`, `7d`: the largest unit that divides `ms`. */
function shortDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A digest interval: a duration of 1s to 7d, or `off` (breaches only). Null stands for off. */
export const digestInterval: ScalarShape<number | null> = {
  kind: "scalar",
  doc: "A digest interval from 1s to 7d (e.g. 15m, 1h), or off.",
  json: {
    anyOf: [{ const: "off" }, { type: "string", pattern: "^[0-9]{1,9}(ms|s|m|h|d)$" }],
    examples: ["15m", "1h", "off"],
  },
  parse(raw) {
    if (raw === "off" || raw === false) return ok(null);
    const parsed = duration.parse(raw);
    if (!parsed.ok || parsed.value < 1000 || parsed.value > 7 * 86_400_000)
      return fail(`${show(raw)} is not a digest interval from 1s to 7d (e.g. 15m), or off`);
    return parsed;
  },
};

/** A tarpit delay: a duration of at most 60s (a request held longer is a timeout, not a tarpit). */
export const delay: ScalarShape<number> = {
  kind: "scalar",
  name: "delay",
  doc: "A delay of at most 60s (e.g. 500ms, 2s).",
  json: { type: "string", pattern: "^[0-9]{1,9}(ms|s|m|h|d)$", examples: ["500ms", "2s"] },
  parse(raw) {
    const parsed = duration.parse(raw);
    if (parsed.ok && parsed.value > 60_000)
      return fail(`${show(raw)} is longer than 60s, the longest tarpit delay`);
    return parsed;
  },
};

export const rate: ScalarShape<Rate> = {
  kind: "scalar",
  name: "rate",
  doc: "A rate: requests per second, minute or hour (e.g. 10/s, 600/m, 1000/h).",
  json: { type: "string", pattern: "^[0-9]{1,9}/(s|m|h)$", examples: ["10/s", "600/m"] },
  parse: parseRate,
};

export const size: ScalarShape<number> = {
  kind: "scalar",
  name: "size",
  doc: "A size in bytes: a whole number, or with a unit B, KB, MB or GB (binary multiples, e.g. 512KB, 10MB).",
  json: {
    anyOf: [
      { type: "integer", minimum: 0 },
      { type: "string", pattern: "^[0-9]{1,12}[KkMmGg]?[Bb]$" },
    ],
    examples: ["512KB", "10MB"],
  },
  parse: parseSize,
};

/** Ids the AppSensor catalogue would use; one of these that is not in it is a typo, not a label. */
const APPSENSOR_SHAPED = /^(RE|AE|SE|ACE|IE|EE|FIO|HT|CIE|UT|STE|RP)\d+$/;

export const detectionPoint: ScalarShape<string> = {
  kind: "scalar",
  name: "detectionPoint",
  doc: `An AppSensor detection point id (e.g. IE1, AE2) or a custom label: ${LABEL_RULE}.`,
  // One `const` per catalogue id, so an editor's completion shows what each one means.
  json: {
    anyOf: [
      ...CATALOGUE.map((d) => ({ const: d.id, description: `${d.title} (${d.category}): ${d.description}` })),
      { ...LABEL_JSON, description: "A custom label.", not: { pattern: APPSENSOR_SHAPED.source } },
    ],
  },
  parse(raw) {
    if (typeof raw !== "string" || !LABEL.test(raw)) {
      return fail(
        `${show(raw)} is not a detection point (an AppSensor id such as IE1, or a label: ${LABEL_RULE})`,
      );
    }
    const shaped = APPSENSOR_SHAPED.exec(raw);
    if (shaped && !detectionPointInfo(raw)) {
      return fail(
        `unknown detection point ${JSON.stringify(raw)} (not in the AppSensor catalogue, which has ${catalogueRange(shaped[1]!)})`,
      );
    }
    return ok(raw);
  },
};

/** `IE1 to IE7`: the catalogue's ids with this prefix (numbered without gaps). */
function catalogueRange(prefix: string): string {
  const numbers = CATALOGUE.filter((d) => d.id.replace(/\d+$/, "") === prefix).map((d) =>
    Number(d.id.slice(prefix.length)),
  );
  return `${prefix}${Math.min(...numbers)} to ${prefix}${Math.max(...numbers)}`;
}

/** The name of a response, rule or notify channel; `ref` marks a use that must name a definition. */
export function entryName(what: string, ref?: RefKind): ScalarShape<string> {
  return {
    kind: "scalar",
    name: ref ? `${ref}Name` : "name",
    doc: ref ? `The name of a ${what} defined in this or another policy file.` : `A name: ${LABEL_RULE}.`,
    json: LABEL_JSON,
    ...(ref ? { ref } : {}),
    parse(raw) {
      if (typeof raw === "string" && LABEL.test(raw)) return ok(raw);
      return fail(`${show(raw)} is not a ${what} name (${LABEL_RULE})`);
    },
  };
}

const METHOD = "(\\*|[A-Z][A-Z0-9_-]{0,31})";
// Visible ASCII without `?` and `#`: a route matches the path, never the query or a fragment.
const PATH = '(/[!-"$->@-~]{0,1023})';
const ROUTE = new RegExp(`^${METHOD} ${PATH}$`);

export const route: ScalarShape<string> = {
  kind: "scalar",
  name: "route",
  doc: 'A route pattern "METHOD /path": METHOD upper case or * for any, the path may use * as a glob (e.g. "POST /upload/*").',
  json: {
    type: "string",
    pattern: ROUTE.source,
    examples: ["POST /login", "GET /api/items/*", "* /admin/*"],
  },
  parse(raw) {
    if (typeof raw === "string" && ROUTE.test(raw)) return ok(raw);
    return fail(
      `${show(raw)} is not a route (use "METHOD /path", e.g. "POST /upload/*": METHOD upper case or *, the path from /, * as a glob, no query)`,
    );
  },
};

export const webhook: ScalarShape<string> = {
  kind: "scalar",
  doc: "The URL the notification is POSTed to (http:// or https://).",
  json: { type: "string", pattern: "^https?://[^\\s/?#]+", maxLength: 2048 },
  // A webhook URL is often its own secret (Slack's path, a token in the query): problems never
  // quote it, since they reach logs and /readyz.
  parse(raw) {
    if (typeof raw === "string" && raw.length <= 2048) {
      let url: URL | null = null;
      try {
        url = new URL(raw);
      } catch {
        // reported below
      }
      if (url && (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "") {
        if (url.username !== "" || url.password !== "")
          return fail(
            "must not carry user:password@ (HTTP clients refuse such URLs); put the secret in the path or query",
          );
        return ok(raw);
      }
    }
    return fail("is not an http:// or https:// URL (the value is not shown: it may hold a secret)");
  },
};

export const cidr: ScalarShape<Cidr[]> = {
  kind: "scalar",
  name: "cidr",
  doc: `An IP address, a CIDR (10.0.0.0/8, 2001:db8::/32), or one of ${Object.keys(CIDR_KEYWORDS).join(", ")}.`,
  json: {
    anyOf: [
      { enum: Object.keys(CIDR_KEYWORDS) },
      { type: "string", pattern: "^[0-9A-Fa-f:.]{2,45}(/[0-9]{1,3})?$" },
    ],
  },
  parse(raw) {
    if (typeof raw !== "string") return fail(`${show(raw)} is not an IP address or CIDR`);
    const { cidrs, errors } = parseCidrList([raw]);
    return errors.length > 0 ? fail(errors[0]!.message) : ok(cidrs);
  },
};

/** Bounded like `Gatehouse-User` (DESIGN 3.1), so every name an app can report can be listed. */
export const userName: ScalarShape<string> = {
  kind: "scalar",
  doc: "A user name as the app reports it (at most 256 bytes).",
  json: { type: "string", minLength: 1, maxLength: 256 },
  parse(raw) {
    if (typeof raw === "string" && raw.length > 0 && Buffer.byteLength(raw) <= 256) return ok(raw);
    return fail(`${show(raw)} is not a user name of 1 to 256 bytes`);
  },
};

// RFC 6265 section 4.1.1: a cookie-name is an RFC 2616 token.
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;

export const cookieName: ScalarShape<string> = {
  kind: "scalar",
  doc: "A cookie name (an RFC 6265 token).",
  json: { type: "string", pattern: COOKIE_NAME.source },
  parse(raw) {
    if (typeof raw === "string" && COOKIE_NAME.test(raw)) return ok(raw);
    return fail(`${show(raw)} is not a cookie name`);
  },
};

export const decoyToken: ScalarShape<string> = {
  kind: "scalar",
  doc: "A decoy value (8 to 256 characters) that no real user or response ever contains.",
  json: { type: "string", minLength: 8, maxLength: 256 },
  parse(raw) {
    // Shorter values would match innocent text by chance and raise false breaches.
    if (typeof raw === "string" && raw.length >= 8 && raw.length <= 256) return ok(raw);
    return fail(`${show(raw)} is not a decoy token of 8 to 256 characters`);
  },
};
