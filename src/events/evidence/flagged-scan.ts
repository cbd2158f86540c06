/**
 * The text scanners that apply to the response of a flagged request (DESIGN section 6), over
 * the body's bytes as they pass: the IE1 payload reflected (HTML only), error text after an
 * injection, file content after a traversal, and decoy tokens. Each drops out once it has fired.
 *
 * Set up per response, so it allocates little: the request's detections are read once, the
 * query is decoded only for an IE1 detection in a query parameter when the page is HTML, and the
 * buffer kept between chunks is allocated only if a second chunk comes.
 */
import type { RequestDetection } from "../../pipeline/context.ts";
import { NAME_MAX, percentDecode } from "../edge/parameters.ts";
import { type Evidence, errorEvidence, fileEvidence, honeytoken, reflectedEvidence } from "./evidence.ts";
import { disclosure, SIGNATURE_OVERLAP, SignatureScan } from "./signature-scan.ts";
import {
  ERROR_OR_FILE,
  ERROR_TEXT,
  FILE_CONTENT,
  INJECTION_POINTS,
  type Signature,
  TRAVERSAL_POINTS,
} from "./signatures.ts";
import { findNeedle, type Needle, needle, Overlap } from "./stream-scan.ts";

/** A decoy token compiled for search (inspector.ts compiles them once per policy). */
export interface Token {
  text: string;
  needle: Needle;
}

/** Shortest payload worth looking for: shorter ones appear in ordinary pages by chance. */
export const MIN_REFLECTED = 8;
// A bare tag such as `<script>` or `</div>` is in every page: its presence proves nothing.
const BARE_TAG = /^<\/?[A-Za-z][A-Za-z0-9-]{0,30}\s{0,4}\/?>?$/;
const MARKUP = /[<>"]/;

/**
 * Whether a payload reflected as is would run as markup: long enough to be specific, with a
 * character an HTML encoder rewrites (`<`, `>`, `"`). Not the apostrophe: many encoders leave it,
 * and names such as O'Brien are reflected all day.
 */
export function reflectable(matched: string | null): matched is string {
  return (
    matched !== null &&
    matched.length >= MIN_REFLECTED &&
    MARKUP.test(matched) &&
    !BARE_TAG.test(matched.trim())
  );
}

/** Longest stretch of a query parameter, from the matched text on, looked for in the page. */
export const PAYLOAD_PREFIX = 64;

interface Reflected {
  detection: RequestDetection;
  needle: Needle;
}

export class FlaggedScan {
  readonly #emit: (evidence: Evidence) => void;
  #reflected: Reflected[] | null;
  #signatures: SignatureScan | null;
  #tokens: readonly Token[] | null;
  readonly #overlap: Overlap;
  /** The detections error text and file content confirm (`confirmed` below). */
  readonly #injections: readonly RequestDetection[];
  readonly #traversals: readonly RequestDetection[];
  /** The request target, for telling a disclosure from the request's own text echoed back. */
  readonly #target: string;
  #decodedTarget: string | null = null;

  /**
   * Whether any scanner applies to a flagged response, cheaply (the query is not read): the
   * check made at its headers, where create() waits until its text is read.
   */
  static applies(
    detections: readonly RequestDetection[],
    html: boolean,
    tokens: readonly Token[] | null,
  ): boolean {
    if (tokens !== null) return true;
    for (const d of detections) {
      if (INJECTION_POINTS.has(d.detectionPoint) || TRAVERSAL_POINTS.has(d.detectionPoint)) return true;
      if (html && d.detectionPoint === "IE1" && d.matched !== null) return true;
    }
    return false;
  }

  /** The scan for a flagged response; null when no scanner applies to it. */
  static create(
    detections: readonly RequestDetection[],
    target: string,
    html: boolean,
    tokens: readonly Token[] | null,
    emit: (evidence: Evidence) => void,
  ): FlaggedScan | null {
    let injections: RequestDetection[] | null = null;
    let traversals: RequestDetection[] | null = null;
    let ie1 = false;
    for (const d of detections) {
      if (INJECTION_POINTS.has(d.detectionPoint)) injections = append(injections, d);
      if (TRAVERSAL_POINTS.has(d.detectionPoint)) traversals = append(traversals, d);
      if (d.detectionPoint === "IE1" && d.matched !== null) ie1 = true;
    }
    const reflected = html && ie1 ? reflectedPayloads(detections, target) : null;
    if (reflected === null && injections === null && traversals === null && tokens === null) return null;
    return new FlaggedScan(reflected, injections ?? [], traversals ?? [], tokens, emit, target);
  }

  private constructor(
    reflected: Reflected[] | null,
    injections: readonly RequestDetection[],
    traversals: readonly RequestDetection[],
    tokens: readonly Token[] | null,
    emit: (evidence: Evidence) => void,
    target: string,
  ) {
    this.#target = target;
    this.#reflected = reflected;
    this.#injections = injections;
    this.#traversals = traversals;
    this.#tokens = tokens;
    this.#emit = emit;
    const set =
      injections.length > 0 && traversals.length > 0
        ? ERROR_OR_FILE
        : injections.length > 0
          ? ERROR_TEXT
          : traversals.length > 0
            ? FILE_CONTENT
            : null;
    this.#signatures = set === null ? null : new SignatureScan(set, (s) => this.#found(s));
    // What a match across a chunk boundary can span: a literal (payload, token or atom) less
    // one byte in the junction; a whole signature match, and then some, in the kept bytes.
    let longest = set?.atoms.longest ?? 0;
    for (const r of reflected ?? []) longest = Math.max(longest, r.needle.wire.length);
    for (const t of tokens ?? []) longest = Math.max(longest, t.needle.wire.length);
    this.#overlap = new Overlap(set === null ? 0 : SIGNATURE_OVERLAP, Math.max(0, longest - 1));
  }

  /**
   * Scan the next chunk of text; `last`: nothing follows it (the body's end or the end of what
   * is inspected). Returns false once nothing is left to look for.
   */
  write(chunk: Buffer, last: boolean): boolean {
    if (chunk.length === 0) return this.#wanted();
    const overlap = this.#overlap;
    const junction = overlap.junction(chunk);
    const reflected = this.#reflected;
    if (reflected !== null) {
      for (const r of reflected) {
        if (findNeedle(chunk, r.needle) || (junction !== null && findNeedle(junction, r.needle))) {
          this.#reflected = null;
          this.#emit(reflectedEvidence(r.detection));
          break;
        }
      }
    }
    this.#signatures?.write(chunk, junction, overlap, last);
    if (this.#signatures?.done) this.#signatures = null;
    const tokens = this.#tokens;
    if (tokens !== null) {
      for (const t of tokens) {
        if (findNeedle(chunk, t.needle) || (junction !== null && findNeedle(junction, t.needle))) {
          this.#tokens = null;
          this.#emit(honeytoken(t.text));
          break;
        }
      }
    }
    const wanted = this.#wanted();
    if (wanted && !last) overlap.keep(chunk);
    return wanted;
  }

  /** The body ended (or its decompression did) after a chunk that was not `last`. */
  end(): void {
    this.#signatures?.end(this.#overlap);
    this.#signatures = null;
  }

  #wanted(): boolean {
    return this.#reflected !== null || this.#signatures !== null || this.#tokens !== null;
  }

  #found(s: Signature): void {
    // A page that echoes the request ("no results for …") shows whatever the client sent: a
    // signature whose text the request itself carries proves nothing, and would let a client
    // (or a page that sends a victim's browser there) forge a breach. The trade: an attacker who
    // adds that text to a real injection hides that one signature; the attempt still counts.
    this.#decodedTarget ??= percentDecode(this.#target, true);
    if (s.atoms.some((atom) => this.#decodedTarget!.includes(atom))) return;
    if (disclosure(s) === "error") {
      const d = confirmed(this.#injections, s.family === "database" ? "CIE1" : null);
      this.#emit(errorEvidence(s.name, s.family, d));
    } else {
      this.#emit(fileEvidence(s.name, confirmed(this.#traversals, "IE3")));
    }
  }
}

/** Lists are made only for the requests that need them: most flagged requests have one detection. */
function append<T>(list: T[] | null, item: T): T[] {
  if (list === null) return [item];
  list.push(item);
  return list;
}

/** The detection a piece of evidence confirms: `preferred` when the request has it, else the first. */
function confirmed(detections: readonly RequestDetection[], preferred: string | null): RequestDetection {
  return (preferred && detections.find((d) => d.detectionPoint === preferred)) || detections[0]!;
}

/**
 * What to look for in the page for each IE1 detection: its matched text and, when it matched in
 * a query parameter, that parameter's value from the match on (at most PAYLOAD_PREFIX
 * characters). Edge detection records an XSS match up to the end of its tag, and for
 * `<script>alert(1)</script>` that is a bare `<script>`, which ordinary pages contain too; the
 * parameter's value says what followed it. Null when there is nothing worth looking for.
 */
function reflectedPayloads(detections: readonly RequestDetection[], target: string): Reflected[] | null {
  let out: Reflected[] | null = null;
  for (const d of detections) {
    if (d.detectionPoint !== "IE1" || d.matched === null) continue;
    if (reflectable(d.matched)) out = append(out, { detection: d, needle: needle(d.matched) });
    const value = d.part?.startsWith("query:") ? queryValue(target, d.part.slice(6), d.matched) : null;
    if (value === null) continue;
    const at = value.indexOf(d.matched);
    const longer = value.slice(at, at + PAYLOAD_PREFIX);
    if (longer !== d.matched && reflectable(longer))
      out = append(out, { detection: d, needle: needle(longer) });
  }
  return out;
}

/**
 * The decoded value of the first query parameter `name` in `target` whose value contains
 * `containing`; null when there is none. Names and values are decoded as edge detection decoded
 * them (edge/parameters.ts), so the matched text it recorded is found in the value again; only
 * the values of parameters with that name are decoded.
 */
export function queryValue(target: string, name: string, containing: string): string | null {
  const q = target.indexOf("?");
  if (q === -1) return null;
  const n = target.length;
  let start = q + 1;
  while (start <= n) {
    let end = target.indexOf("&", start);
    if (end === -1) end = n;
    if (end > start) {
      const eq = target.indexOf("=", start);
      const hasValue = eq !== -1 && eq < end;
      const rawName = target.slice(start, hasValue ? eq : end);
      const decodedName = percentDecode(
        rawName.length > NAME_MAX * 3 ? rawName.slice(0, NAME_MAX * 3) : rawName,
        true,
      ).slice(0, NAME_MAX);
      if (decodedName === name) {
        const value = hasValue ? decodeValue(target.slice(eq + 1, end)) : "";
        if (value.includes(containing)) return value;
      }
    }
    start = end + 1;
  }
  return null;
}

/**
 * `percentDecode(raw, true)`, without its Buffer round trip for the usual value whose decoded
 * bytes are all ASCII (where UTF-8 decoding changes nothing); any other value goes to it.
 */
export function decodeValue(raw: string): string {
  const n = raw.length;
  let out = "";
  let run = 0;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c > 127) return percentDecode(raw, true);
    if (c === 43 /* + */) {
      out += `${raw.slice(run, i)} `;
      run = i + 1;
    } else if (c === 37 /* % */ && i + 2 < n) {
      const hi = hexDigit(raw.charCodeAt(i + 1));
      const lo = hexDigit(raw.charCodeAt(i + 2));
      if (hi === -1 || lo === -1) continue;
      const byte = hi * 16 + lo;
      if (byte > 127) return percentDecode(raw, true);
      out += raw.slice(run, i) + String.fromCharCode(byte);
      i += 2;
      run = i + 1;
    }
  }
  return run === 0 ? raw : out + raw.slice(run);
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}
