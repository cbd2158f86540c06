/**
 * Request-side edge detection (DESIGN 3.3): what the method, the target, the headers and the body
 * say on their own, before the app sees them. Pure functions over a compiled `edge:` and a
 * Findings; the stage (src/pipeline/detect-at-edge.ts) supplies the request and publishes.
 */
import { normalizePath } from "../../enforce/normalize-path.ts";
import type { CompiledEdge } from "./compile-edge.ts";
import type { Findings } from "./findings.ts";
import type { MultipartField } from "./multipart.ts";
import { type BodyKind, forEachJsonString, forEachPair, percentDecode } from "./parameters.ts";
import {
  findCrLf,
  findDoubleEncoding,
  findNullByte,
  findSqlInjection,
  findTraversal,
  findXss,
} from "./signatures.ts";

/** The methods AppSensor's RE2 calls supported (plus PATCH, RFC 5789); anything else raises RE2. */
const SUPPORTED_METHODS = new Set([
  "HEAD",
  "GET",
  "POST",
  "PUT",
  "DELETE",
  "TRACE",
  "OPTIONS",
  "CONNECT",
  "PATCH",
]);

/** A value no signature can match (see checkValue): letters, digits, `-`, `.`, `~`, `/`. */
const PLAIN = /^[A-Za-z0-9\-.~/]*$/;

/** Longest Authorization value decoded to look for a decoy credential (Basic credentials are short). */
const AUTHORIZATION_MAX = 4096;

export interface RequestHead {
  method: string;
  /** Origin-form target, path and query, as forwarded. */
  target: string;
  /** Name/value pairs as received (Node's `req.rawHeaders`). */
  rawHeaders: readonly string[];
  /** The Content-Length header, if any. */
  contentLength: string | undefined;
}

/** Everything decided from the request head. */
export function checkHead(edge: CompiledEdge, head: RequestHead, found: Findings): void {
  const { detect } = edge;
  const { method, target } = head;
  if (detect.has("RE2") && !SUPPORTED_METHODS.has(method)) {
    found.add("RE2", "attempt", `unsupported method ${method.slice(0, 32)}`, "method", method);
  }
  const q = target.indexOf("?");
  const rawPath = q === -1 ? target : target.slice(0, q);
  if (edge.decoys !== null || edge.checkMethods) {
    const path = normalizePath(rawPath);
    if (edge.decoys?.matches(method, path)) {
      found.add("HT2", "attempt", "decoy route requested", "path", rawPath);
    }
    // An unsupported method is RE2 alone: the same request is not also "unexpected" here.
    if (edge.checkMethods && !found.has("RE2")) checkDeclaredMethod(edge, method, path, rawPath, found);
  }
  if (edge.params) {
    checkValue(edge, found, "path", rawPath, percentDecode(rawPath, false), true);
    if (q !== -1) {
      forEachPair(target.slice(q + 1), (name, raw, value) => {
        checkValue(edge, found, `query:${name}`, raw, value, true);
        return false;
      });
    }
  }
  if (edge.bodyBytes !== null && detect.has("FIO1") && head.contentLength !== undefined) {
    const length = Number(head.contentLength);
    if (length > edge.bodyBytes) {
      found.add(
        "FIO1",
        "attempt",
        `request body of ${length} bytes (limit ${edge.bodyBytes})`,
        "body",
        String(length),
      );
    }
  }
  if (edge.tokens !== null) checkTokensInHead(edge.tokens, head, found);
}

/** RE1/RE3/RE4: the request addresses a declared route's path with a method none of them expects. */
function checkDeclaredMethod(
  edge: CompiledEdge,
  method: string,
  path: string,
  rawPath: string,
  found: Findings,
): void {
  // A browser's CORS preflight asks before any cross-origin call to a declared route.
  if (method === "OPTIONS") return;
  let addressed = false;
  let expectsGet = false;
  let expectsPost = false;
  for (const r of edge.routes) {
    if (!r.path.matches(method, path)) continue;
    if (r.matcher.matches(method, path)) return;
    addressed = true;
    if (r.method === "GET") expectsGet = true;
    else if (r.method === "POST") expectsPost = true;
  }
  if (!addressed) return;
  // AppSensor's RE3 is "GET when expecting POST", RE4 "POST when expecting GET"; any other
  // unexpected method on a declared route is RE1 ("unexpected HTTP command").
  const upper = method.toUpperCase();
  const id =
    (upper === "GET" || upper === "HEAD") && expectsPost
      ? "RE3"
      : upper === "POST" && expectsGet
        ? "RE4"
        : "RE1";
  if (edge.detect.has(id))
    found.add(
      id,
      "attempt",
      `${method.slice(0, 32)} not expected on ${rawPath.slice(0, 128)}`,
      "method",
      method,
    );
}

/**
 * One value (a parameter, or the path), raw and decoded once. `crlf` is false for bodies: a
 * textarea sends line breaks (browsers submit them as CR LF), so CIE4 looks at the path and the
 * query only.
 */
export function checkValue(
  edge: CompiledEdge,
  found: Findings,
  part: string,
  raw: string,
  value: string,
  crlf: boolean,
): void {
  const { detect } = edge;
  // `body:*` is a JSON body that did not parse (or was cut at the scanned prefix), matched as
  // one text: its length is the body's, not a parameter's.
  if (
    detect.has("RE7") &&
    edge.paramLength !== null &&
    value.length > edge.paramLength &&
    part !== "path" &&
    part !== "body:*"
  ) {
    found.add(
      "RE7",
      "attempt",
      `${part} of ${value.length} characters (limit ${edge.paramLength})`,
      part,
      value.slice(0, 64),
    );
  }
  // Most values are plain words, numbers and paths: no signature below can match them (each
  // needs a `%`, a control character, `..`, or one of < > : = ' " ( ) ; @ _ + space), so they
  // cost one test instead of six.
  if (PLAIN.test(raw) && raw.indexOf("..") === -1) return;
  check(found, detect, "CIE3", part, () => findNullByte(value, raw), "null byte");
  if (crlf) check(found, detect, "CIE4", part, () => findCrLf(value, raw), "CR or LF");
  check(found, detect, "EE1", part, () => findDoubleEncoding(raw), "double-encoded character");
  check(found, detect, "IE3", part, () => findTraversal(value, raw), "path traversal");
  check(found, detect, "IE1", part, () => findXss(value), "XSS signature");
  check(found, detect, "CIE1", part, () => findSqlInjection(value), "SQL injection signature");
}

function check(
  found: Findings,
  detect: ReadonlySet<string>,
  id: string,
  part: string,
  find: () => { matched: string } | null,
  what: string,
): void {
  if (!detect.has(id) || found.has(id)) return;
  const m = find();
  if (m !== null) found.add(id, "attempt", `${what} in ${part}`, part, m.matched);
}

/** The parameters of a body prefix, once the body has ended (multipart: checkMultipartFields). */
export function checkBody(edge: CompiledEdge, kind: BodyKind, text: string, found: Findings): void {
  if (kind === null || kind === "multipart" || !edge.params) return;
  const visit = (name: string, raw: string, value: string) => {
    checkValue(edge, found, `body:${name}`, raw, value, false);
    return false;
  };
  if (kind === "form") forEachPair(text, visit);
  else forEachJsonString(text, visit);
}

/** The text fields of a multipart body prefix (multipart.ts), checked as form parameters are. */
export function checkMultipartFields(
  edge: CompiledEdge,
  fields: readonly MultipartField[],
  found: Findings,
): void {
  if (!edge.params) return;
  for (const { name, value } of fields) checkValue(edge, found, `body:${name}`, value, value, false);
}

/** HT3 in the target (raw and decoded) and every header value, Basic credentials decoded. */
function checkTokensInHead(tokens: RegExp, head: RequestHead, found: Findings): void {
  const inTarget = tokens.exec(head.target) ?? tokens.exec(percentDecode(head.target, true));
  if (inTarget !== null) return honeytoken(found, "target", inTarget[0]);
  const raw = head.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    // Referer names the page a browser came from: a link to a decoy URL on someone else's page
    // would otherwise make the victim's own browser "use" the decoy.
    if (name.length === 7 && name.toLowerCase() === "referer") continue;
    const value = raw[i + 1]!;
    let m = tokens.exec(value);
    if (m === null && name.length === 13 && name.toLowerCase() === "authorization") {
      m = tokens.exec(basicCredentials(value));
    }
    if (m !== null) return honeytoken(found, `header:${name.toLowerCase().slice(0, 64)}`, m[0]);
  }
}

/** HT3 in a body prefix: its text, and (for urlencoded bodies) its decoded values. */
export function checkTokensInBody(tokens: RegExp, kind: BodyKind, text: string, found: Findings): void {
  const m = tokens.exec(text) ?? (kind === "form" ? tokens.exec(percentDecode(text, true)) : null);
  if (m !== null) honeytoken(found, "body", m[0]);
}

function honeytoken(found: Findings, part: string, token: string): void {
  found.add("HT3", "success", `decoy value used in ${part}`, part, token, {
    kind: "honeytoken-request",
    detail: `a declared decoy value was sent in ${part}`,
  });
}

function basicCredentials(value: string): string {
  if (value.length > AUTHORIZATION_MAX || !/^basic\s/i.test(value)) return "";
  return Buffer.from(value.slice(6).trim(), "base64").toString("latin1");
}
