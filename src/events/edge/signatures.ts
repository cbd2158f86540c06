/**
 * The signature sets edge detection matches parameter values against (DESIGN 3.3). They are kept
 * deliberately small: the app's own validation is the primary detector, and every signature here
 * must stay silent on ordinary traffic (names such as O'Brien, markdown, JSON, pasted URLs, prices
 * like 5' x 10'). docs/edge-detection.md lists each one with its known false positives; a change
 * here is a change there, and in test/unit/events/edge/signatures.test.ts.
 *
 * Every pattern is compiled once, matched case-insensitively against a value decoded once, and
 * written so that V8's backtracking engine stays linear: no nested unbounded quantifiers, and each
 * unbounded `\s*` follows a literal, so the runs it can retry are disjoint.
 */

/** What one signature found: the matched text (at most MATCHED_MAX characters) and its offset. */
export interface SignatureMatch {
  index: number;
  matched: string;
}

/** Longest `matched` recorded with a detection (the convention response evidence relies on). */
export const MATCHED_MAX = 256;

// IE1 (Cross Site Scripting Attempt): a script element, a script URL scheme, or an event-handler
// attribute. `<iframe`, `<svg`, `<img` alone are left out: people paste embed codes and markup.
const XSS = new RegExp(
  [
    // <script> or </script>, as a tag (not "<scripts" or prose about "scripting").
    "<\\/?script[\\s>/]",
    // Script URL schemes, followed at once by code (so "JavaScript: the good parts" is prose).
    "\\b(?:java|vb)script:[^\\s]",
    "\\bdata:text\\/html",
    // An event handler attribute, as it follows a tag name, a quote, a slash or a space.
    "(?:^|[\\s\"'`/;<])on(?:error|load|click|dblclick|mouse(?:over|enter|out|down|up|move)|focus(?:in)?|blur|animation(?:start|end)|transitionend|toggle|pointer(?:over|enter|down)|begin|input|change|submit|key(?:down|up|press)|wheel|scroll|copy|paste)\\s*=",
  ].join("|"),
  "i",
);

// CIE1 (Blacklist Inspection for Common SQL Injection Values).
const SQL = new RegExp(
  [
    // A tautology after a closing quote: ' or 1=1, " or ""=", 'or'a'='a, ') or ('x'='x.
    // The runs of space are bounded: unbounded runs on both sides of the optional parts made a
    // quote followed by a long run of spaces cost quadratic time (seconds for 64 KB).
    "['\"`)]\\s{0,8}(?:or|and|\\|\\||&&)(?:\\s{1,8}|(?=['\"(]))['\"(]{0,2}[\\w.]{0,32}['\"]?\\s{0,8}(?:=|<>|!=|\\blike\\b)",
    // UNION SELECT, with spaces, comments or parentheses between (not "a union rep", not "selection").
    "\\bunion(?:\\s|\\+|\\(|\\/\\*.{0,64}?\\*\\/){1,16}(?:(?:all|distinct)(?:\\s|\\+|\\(|\\/\\*.{0,64}?\\*\\/){1,16})?select\\b",
    // A comment right after a closing quote: admin'--, x'/*.
    "'\\s*(?:--|\\/\\*)",
    // A stacked statement: ; drop table, ; delete from, ; exec xp_cmdshell.
    ";\\s*(?:drop\\s+(?:table|database|schema)\\b|delete\\s+from\\b|insert\\s+into\\b|truncate\\s+table\\b|alter\\s+table\\b|update\\s+\\w{1,64}\\s+set\\b|shutdown\\b|exec(?:ute)?\\s+(?:xp_|sp_))",
    // Time-based blind probes: sleep(5), pg_sleep(5), benchmark(1000000,…), waitfor delay '0:0:5'.
    "\\b(?:pg_)?sleep\\s*\\(\\s*\\d{1,10}(?:\\.\\d{1,6})?\\s*\\)",
    "\\bbenchmark\\s*\\(\\s*\\d{1,12}\\s*,",
    "\\bwaitfor\\s+delay\\s+'",
    // Catalogue and file access no form field has a reason to name.
    "\\binformation_schema\\b",
    "@@version\\b",
    "\\bload_file\\s*\\(",
    "\\binto\\s+(?:out|dump)file\\b",
  ].join("|"),
  "i",
);

// IE3 (Violation Of Implemented Black Lists), path traversal. After one decoding: a `..` segment,
// that is `..` at the start of the value or after a slash, followed by a slash, a backslash, `;`
// (Tomcat's `..;/`) or the end. "wait.../ok" and markdown's "[doc](../x.md)" are not segments.
const DOT_SEGMENT = /(?:^|[\\/])\.\.(?:[\\/;]|$)/;
// In the raw (undecoded) text: forms that no decoding turns into a plain dot: overlong UTF-8
// (CVE-2000-0884 and its kin) and a double-encoded dot pair.
const ENCODED_TRAVERSAL = /%c0%ae|%c0%af|%c1%1c|%c1%9c|%e0%80%ae|%252e%252e/i;

// EE1 (Double Encoded Character), in raw text: `%25` followed by the code of a character that
// matters to an injection: < > ' " . \ NUL CR LF %, or an overlong UTF-8 lead byte. Double-encoded
// `/`, `:`, `=`, `&`, `?`, `+` and space are left out: they are what a URL passed as a parameter
// looks like (redirect_uri=https%3A%2F%2Fx%2F%3Fq%3Da%2520b).
const DOUBLE_ENCODED = /%25(?:3c|3e|27|22|2e|5c|00|0d|0a|25|c0|c1|e0)/i;

const NULL_BYTE_RAW = /%00/;
const CRLF_RAW = /%0[ad]/i;

/** IE1: an XSS string in a decoded value. `matched` runs to the end of the tag, so it is the payload. */
export function findXss(value: string): SignatureMatch | null {
  const m = XSS.exec(value);
  if (m === null) return null;
  let start = m.index;
  // An event handler is reported with its tag (`<img src=x onerror=…>`), when one opens before it.
  if (m[0].charCodeAt(0) !== 60 /* < */) {
    const open = value.lastIndexOf("<", start);
    const shut = open === -1 ? -1 : value.indexOf(">", open);
    if (open !== -1 && start - open <= 128 && (shut === -1 || shut >= start)) start = open;
  }
  const close = value.indexOf(">", m.index + m[0].length - 1);
  const end = close === -1 ? value.length : close + 1;
  return { index: start, matched: value.slice(start, Math.min(end, start + MATCHED_MAX)) };
}

/** CIE1: a SQL injection string in a decoded value. */
export function findSqlInjection(value: string): SignatureMatch | null {
  return match(SQL, value);
}

/** IE3: path traversal, in the decoded value (dot segments) or the raw one (encoded forms). */
export function findTraversal(decoded: string, raw: string): SignatureMatch | null {
  return match(DOT_SEGMENT, decoded) ?? (raw.indexOf("%") === -1 ? null : match(ENCODED_TRAVERSAL, raw));
}

/** EE1: a double-encoded character in raw (undecoded) text. */
export function findDoubleEncoding(raw: string): SignatureMatch | null {
  return raw.indexOf("%25") === -1 ? null : match(DOUBLE_ENCODED, raw);
}

/** CIE3: a null byte, decoded or as `%00`. */
export function findNullByte(decoded: string, raw: string): SignatureMatch | null {
  const at = decoded.indexOf("\u0000");
  if (at !== -1) return { index: at, matched: excerpt(decoded, at) };
  return match(NULL_BYTE_RAW, raw, true);
}

/** CIE4: a carriage return or line feed, decoded or as `%0D` / `%0A`. */
export function findCrLf(decoded: string, raw: string): SignatureMatch | null {
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c === 10 || c === 13) return { index: i, matched: excerpt(decoded, i) };
  }
  return match(CRLF_RAW, raw, true);
}

function match(re: RegExp, text: string, withContext = false): SignatureMatch | null {
  const m = re.exec(text);
  if (m === null) return null;
  return {
    index: m.index,
    matched: withContext ? excerpt(text, m.index) : m[0].slice(0, MATCHED_MAX),
  };
}

/** A few characters either side of `at`: enough for an operator to see what was sent. */
function excerpt(text: string, at: number): string {
  const start = Math.max(0, at - 32);
  return text.slice(start, Math.min(text.length, at + 32));
}
