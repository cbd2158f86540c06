/**
 * Parameters as edge detection reads them: the query string, and urlencoded or JSON request
 * bodies (a bounded prefix). Decoding is done once and never throws: malformed percent-escapes
 * stay as written, invalid UTF-8 becomes U+FFFD, invalid or truncated JSON is scanned as text.
 * Every walk here is one pass over its input, so 10 000 parameters or a 100 KB value cost time in
 * proportion to their size and nothing more.
 */

/** Longest parameter name kept in a detection's `part` (a hostile name can be any length). */
export const NAME_MAX = 64;

/** Values visited in one JSON body; the rest of a larger document is not scanned. */
export const JSON_VALUES_MAX = 10_000;

/**
 * Called for each parameter with its name (at most NAME_MAX characters), its raw value (as
 * sent) and its decoded value; return true to stop the walk.
 */
export type VisitParameter = (name: string, raw: string, value: string) => boolean;

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

function hex(c: number): number {
  return c < 128 ? HEX[c]! : -1;
}

/**
 * Percent-decode `text` (`+` as a space when `plusIsSpace`, as forms and query strings mean it),
 * reading the bytes as UTF-8. `text` holds one byte per character (Node hands the request target
 * over as latin1, and bodies are read that way here). Text without `%` or `+` is returned as is.
 */
export function percentDecode(text: string, plusIsSpace: boolean): string {
  let i = 0;
  const n = text.length;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 /* % */ || (plusIsSpace && c === 43) /* + */ || c > 127) break;
  }
  if (i === n) return text;
  const bytes = Buffer.allocUnsafe(n);
  let out = bytes.write(text.slice(0, i), "latin1");
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 && i + 2 < n) {
      const hi = hex(text.charCodeAt(i + 1));
      const lo = hex(text.charCodeAt(i + 2));
      if (hi !== -1 && lo !== -1) {
        bytes[out++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    if (plusIsSpace && c === 43) bytes[out++] = 32;
    // Characters above one byte do not occur in latin1 input; one would be a caller's bug.
    else bytes[out++] = c > 255 ? 63 /* ? */ : c;
  }
  return bytes.toString("utf8", 0, out);
}

/** Each `name=value` of an `&`-separated list (a query string or an urlencoded body). */
export function forEachPair(text: string, visit: VisitParameter): void {
  const n = text.length;
  let start = 0;
  while (start <= n) {
    let end = text.indexOf("&", start);
    if (end === -1) end = n;
    if (end > start) {
      const eq = text.indexOf("=", start);
      const hasValue = eq !== -1 && eq < end;
      const rawName = text.slice(start, hasValue ? eq : end);
      const raw = hasValue ? text.slice(eq + 1, end) : "";
      const name = percentDecode(
        rawName.length > NAME_MAX * 3 ? rawName.slice(0, NAME_MAX * 3) : rawName,
        true,
      );
      if (visit(name.slice(0, NAME_MAX), raw, percentDecode(raw, true))) return;
    }
    start = end + 1;
  }
}

/**
 * Each string of a JSON body, named by its path (`user.name`, `items[2]`), up to JSON_VALUES_MAX
 * values. A body that does not parse (invalid, or cut at the scanned prefix) is visited as one
 * value named `*`, so its text is still matched.
 */
export function forEachJsonString(text: string, visit: VisitParameter): void {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    visit("*", text, text);
    return;
  }
  // Iterative, not recursive: a hostile body nests as deep as JSON.parse allows.
  const stack: { value: unknown; name: string }[] = [{ value: doc, name: "" }];
  let visited = 0;
  // Only strings count toward the bound, and numbers, booleans and nulls are never stacked:
  // padding a body with 10 000 zeros must not push the string after them out of reach. The
  // work stays bounded by the body prefix (BODY_SCAN_BYTES) that was parsed.
  while (stack.length > 0 && visited < JSON_VALUES_MAX) {
    const { value, name } = stack.pop()!;
    if (typeof value === "string") {
      visited++;
      if (visit(name || "*", value, value)) return;
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const item = value[i];
        if (typeof item === "object" || typeof item === "string")
          stack.push({ value: item, name: child(name, `[${i}]`) });
      }
    } else if (value !== null && typeof value === "object") {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        const item = (value as Record<string, unknown>)[key];
        if (typeof item === "object" || typeof item === "string")
          stack.push({ value: item, name: child(name, name ? `.${key}` : key) });
      }
    }
  }
}

function child(parent: string, step: string): string {
  return parent.length >= NAME_MAX ? parent : (parent + step).slice(0, NAME_MAX);
}

/** The body kinds whose parameters are scanned, from the request's Content-Type. */
export type BodyKind = "form" | "json" | "multipart" | null;

export function bodyKind(contentType: string | undefined): BodyKind {
  if (contentType === undefined) return null;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded") return "form";
  if (type === "multipart/form-data") return "multipart";
  if (type === "application/json" || (type.startsWith("application/") && type.endsWith("+json")))
    return "json";
  return null;
}
