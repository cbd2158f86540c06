// Route patterns of `disable` decisions (DESIGN section 5), compiled once when a decision is
// indexed and matched per request without allocating or building a RegExp.
//
// A pattern is `METHOD /path`, as the policy `route` scalar accepts it (src/policy/scalars.ts):
//
// - METHOD is `*` (any method) or a token, compared ignoring ASCII case: HTTP methods are
//   case-sensitive (RFC 9110 section 9.1), but an app or framework that folds case would
//   otherwise let `post` past a disable written for `POST`.
// - `GET` also matches HEAD requests (HEAD is GET without the body).
// - The path is matched whole against the request path (no query), in lower case and without a
//   trailing slash on both sides (src/enforce/normalize-path.ts), one `/`-separated segment at
//   a time:
//   - `*` matches any run of characters, possibly empty, within one segment: never `/`.
//     `POST /upload/*` matches `/upload/a` and `/upload/`, not `/upload/a/b` nor `/upload`.
//   - `**` as a whole segment matches any number of whole segments, none included:
//     `GET /api/**` matches `/api`, `/api/`, `/api/a/b`, not `/apix`;
//     `GET /a/**/b` matches `/a/b`, `/a/x/b` and `/a/x/y/b`.
//   - `**` inside a segment (`/f**.js`), and `***`, are a plain `*`.
//   - Every other character matches itself.
//
// The request path is taken as given: normalising it (escapes, dot segments, case, slashes) is
// the caller's job, done once per request for every route that is checked.
//
// Matching is the classic wildcard algorithm on segments (greedy, backtracking to the last `**`
// only) and within a segment (leftmost parts): time O(path x pattern), no catastrophic
// backtracking on hostile paths.

/** Same grammar as the policy `route` scalar: METHOD, one space, a path of visible ASCII without `?`/`#`. */
const ROUTE = /^(\*|[A-Z][A-Z0-9_-]{0,31}) (\/[!-"$->@-~]{0,1023})$/;

/** One path segment of a pattern: `**`, or its text split at `*` (one part = a literal). */
type Segment = { globstar: true; parts: null } | { globstar: false; parts: readonly string[] };

export interface RouteMatcher {
  /** The pattern as written. */
  readonly pattern: string;
  matches(method: string, path: string): boolean;
}

/** Compile one pattern; null when it is not a route pattern (it then never matches anything). */
export function compileRoute(pattern: string): RouteMatcher | null {
  if (typeof pattern !== "string") return null;
  const m = ROUTE.exec(pattern);
  if (!m) return null;
  const method = m[1] === "*" ? null : m[1]!;
  // Lower case and without a trailing slash, as request paths are (normalize-path.ts).
  const text = m[2]!.toLowerCase();
  const segments: Segment[] = (text.length > 1 && text.endsWith("/") ? text.slice(0, -1) : text)
    .split("/")
    .map(compileSegment);
  // HEAD is GET without the body, and most apps answer it with the GET handler.
  const orHead = method === "GET";
  return {
    pattern,
    matches(requestMethod: string, path: string): boolean {
      const methodOk =
        method === null || sameMethod(method, requestMethod) || (orHead && sameMethod("HEAD", requestMethod));
      return methodOk && matchPath(segments, path);
    },
  };
}

/**
 * Compile a decision's route list into one matcher that matches when any of them does; patterns
 * that do not compile are left out. Null when none is left: such a decision disables nothing.
 */
export function compileRoutes(patterns: readonly string[] | null): RouteMatcher | null {
  if (!Array.isArray(patterns)) return null;
  const matchers: RouteMatcher[] = [];
  for (const p of patterns) {
    const compiled = compileRoute(p);
    if (compiled) matchers.push(compiled);
  }
  if (matchers.length === 0) return null;
  if (matchers.length === 1) return matchers[0]!;
  return {
    pattern: matchers.map((r) => r.pattern).join(", "),
    matches(method: string, path: string): boolean {
      for (let i = 0; i < matchers.length; i++) if (matchers[i]!.matches(method, path)) return true;
      return false;
    },
  };
}

function compileSegment(text: string): Segment {
  if (text === "**") return { globstar: true, parts: null };
  // Runs of stars inside a segment are one `*`.
  return { globstar: false, parts: text.replace(/\*+/g, "*").split("*") };
}

/** `expected` is upper case (the grammar says so); `actual` is compared ignoring ASCII case. */
function sameMethod(expected: string, actual: string): boolean {
  if (typeof actual !== "string" || actual.length !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) {
    let c = actual.charCodeAt(i);
    if (c >= 97 && c <= 122) c -= 32;
    if (c !== expected.charCodeAt(i)) return false;
  }
  return true;
}

/** The wildcard algorithm on segments: `**` segments absorb whole path segments, greedily backtracked. */
function matchPath(segments: readonly Segment[], path: string): boolean {
  if (typeof path !== "string") return false;
  const n = path.length;
  const count = segments.length;
  let si = 0;
  // Start of the current path segment; n + 1 once every segment is consumed.
  let ps = 0;
  let starSi = -1;
  let starPs = 0;
  while (ps <= n) {
    const seg = si < count ? segments[si]! : null;
    if (seg?.globstar) {
      starSi = si++;
      starPs = ps;
      continue;
    }
    let end = path.indexOf("/", ps);
    if (end === -1) end = n;
    if (seg !== null && matchSegment(seg.parts!, path, ps, end)) {
      si++;
      ps = end + 1;
      continue;
    }
    if (starSi === -1) return false;
    // Let the last `**` take one more segment and retry what follows it.
    let starEnd = path.indexOf("/", starPs);
    if (starEnd === -1) starEnd = n;
    starPs = starEnd + 1;
    ps = starPs;
    si = starSi + 1;
  }
  while (si < count && segments[si]!.globstar) si++;
  return si === count;
}

/** Whether path[start, end) matches a segment split at its stars. */
function matchSegment(parts: readonly string[], path: string, start: number, end: number): boolean {
  const last = parts.length - 1;
  const first = parts[0]!;
  if (last === 0) return end - start === first.length && path.startsWith(first, start);
  const tail = parts[last]!;
  if (end - start < first.length + tail.length) return false;
  if (!path.startsWith(first, start) || !path.startsWith(tail, end - tail.length)) return false;
  // Middle parts, leftmost first, between the first and the tail: leftmost is always safe for `*`.
  let pos = start + first.length;
  const limit = end - tail.length;
  for (let i = 1; i < last; i++) {
    const part = parts[i]!;
    const found = indexWithin(path, part, pos, limit);
    if (found === -1) return false;
    pos = found + part.length;
  }
  return true;
}

/** indexOf bounded to [from, limit): a plain indexOf would scan past the segment, to the path's end. */
function indexWithin(path: string, part: string, from: number, limit: number): number {
  for (let i = from; i + part.length <= limit; i++) if (path.startsWith(part, i)) return i;
  return -1;
}
