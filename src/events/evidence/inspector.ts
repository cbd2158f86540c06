/**
 * Response inspection: breach evidence read from the app's response to a request that already
 * carries a detection (DESIGN section 6). The forwarder shows each body chunk after writing it
 * to the client, so nothing here can delay a byte; scanning stops after `inspection.maxBytes`
 * and keeps only a short overlap between chunks, never the body.
 *
 * Which evidence is looked for depends on what flagged the request:
 *
 *   evidence              after                          in                      detection point
 *   reflected-payload     IE1 with a matched payload     HTML (or untyped) body  IE1
 *   error-disclosure      an injection (INJECTION_POINTS) any text body          CIE1 for database errors, else the injection's
 *   file-content          a traversal (TRAVERSAL_POINTS) any text body           IE3, else the traversal's
 *   oversized-response    any detection                  any body (byte count)   CIE2
 *   honeytoken-response   nothing: every text response, when the policy lists HT3 and decoy tokens     HT3
 *
 * Each kind is raised at most once per response. The unflagged majority costs a null check; with
 * decoy tokens declared, a Buffer.indexOf per token over the first `maxBytes` of text; on a route
 * whose sizes are learned (route-sizes.ts), a path normalisation and a map lookup.
 */
import type { Config } from "../../config/settings.ts";
import { normalizePath } from "../../enforce/normalize-path.ts";
import { compileRoute, type RouteMatcher } from "../../enforce/route-matcher.ts";
import type { ResponseObserver } from "../../forward/forwarder.ts";
import type { ResponseHeaders } from "../../forward/interceptors/pass-through-handler.ts";
import type { RequestContext, RequestDetection } from "../../pipeline/context.ts";
import type { Policy } from "../../policy/policy.ts";
import { type BodyKind, bodyKind } from "./content.ts";
import { boundedInflater } from "./decompress.ts";
import { FACTOR, type Normal, RouteSizes } from "./route-sizes.ts";
import {
  ERROR_TEXT,
  type Family,
  FILE_CONTENT,
  findSignature,
  INJECTION_POINTS,
  MAX_MATCH,
  TRAVERSAL_POINTS,
} from "./signatures.ts";
import { LiteralScanner, TextWindow, wireText } from "./stream-scan.ts";

export type EvidenceKind =
  | "reflected-payload"
  | "error-disclosure"
  | "file-content"
  | "oversized-response"
  | "honeytoken-response";

/** One piece of breach evidence: app.ts turns it into an edge event with outcome `success`. */
export interface Evidence {
  detectionPoint: string;
  detail: string;
  metadata: { evidence: { kind: EvidenceKind; detail: string }; part?: string; matched?: string };
}

export interface InspectionOptions {
  inspection: Config["inspection"];
  policy: () => Policy;
  onEvidence: (ctx: RequestContext, evidence: Evidence) => void;
  /** A failure in onEvidence; the response it was found in is not affected. */
  onError?: (err: unknown) => void;
}

export type InspectResponse = (
  ctx: RequestContext,
  statusCode: number,
  headers: ResponseHeaders,
) => ResponseObserver | null;

/** What inspection needs from a policy, compiled once per Policy object (it is hot reloaded). */
interface Compiled {
  /** Decoy tokens, when the policy lists HT3 in `edge.detect`; null otherwise. */
  tokens: readonly { text: string; wire: string; bytes: Buffer }[] | null;
  tokenBytes: readonly Buffer[];
  routes: readonly RouteMatcher[];
}

function compile(policy: Policy): Compiled {
  const edge = policy.edge;
  const tokens =
    edge.detect.includes("HT3") && edge.honeyTraps.tokens.length > 0
      ? edge.honeyTraps.tokens.map((text) => ({
          text,
          wire: wireText(text),
          bytes: Buffer.from(text, "utf8"),
        }))
      : null;
  const routes: RouteMatcher[] = [];
  for (const r of edge.routes) {
    const m = compileRoute(r.route);
    if (m) routes.push(m);
  }
  return { tokens, tokenBytes: tokens?.map((t) => t.bytes) ?? [], routes };
}

/** Shortest payload worth looking for: shorter ones appear in ordinary pages by chance. */
export const MIN_REFLECTED = 8;
// A bare tag such as `<script>` or `</div>` is in every page: its presence proves nothing.
const BARE_TAG = /^<\/?[A-Za-z][A-Za-z0-9-]{0,30}\s{0,4}\/?>?$/;

/**
 * Whether a payload reflected as is would run as markup: long enough to be specific, with a
 * character an HTML encoder rewrites (`<`, `>`, `"`). Not the apostrophe: many encoders leave it,
 * and names such as O'Brien are reflected all day.
 */
export function reflectable(matched: string | null): matched is string {
  return (
    matched !== null &&
    matched.length >= MIN_REFLECTED &&
    /[<>"]/.test(matched) &&
    !BARE_TAG.test(matched.trim())
  );
}

export function createInspector(options: InspectionOptions): InspectResponse {
  const { maxBytes, decompress } = options.inspection;
  const sizes = new RouteSizes();
  const compiled = new WeakMap<Policy, Compiled>();

  function compiledPolicy(): Compiled {
    const policy = options.policy();
    let c = compiled.get(policy);
    if (!c) {
      c = compile(policy);
      compiled.set(policy, c);
    }
    return c;
  }

  function emit(ctx: RequestContext, evidence: Evidence): void {
    try {
      options.onEvidence(ctx, evidence);
    } catch (err) {
      options.onError?.(err);
    }
  }

  /** The route whose sizes this response belongs to, when sizes are learned for it. */
  function routeOf(ctx: RequestContext, policy: Compiled, flagged: boolean): string | null {
    if (policy.routes.length === 0 && sizes.size === 0 && !flagged) return null;
    const q = ctx.target.indexOf("?");
    const path = normalizePath(q === -1 ? ctx.target : ctx.target.slice(0, q));
    for (const route of policy.routes) {
      if (route.matches(ctx.method, path)) {
        sizes.watch(route.pattern, true);
        return route.pattern;
      }
    }
    const key = `${ctx.method} ${path}`;
    if (flagged) sizes.watch(key, false);
    return sizes.has(key) ? key : null;
  }

  return function inspectResponse(ctx, statusCode, headers) {
    if (maxBytes === 0 || !hasBody(ctx.method, statusCode)) return null;
    const policy = compiledPolicy();
    const detections = ctx.detections;
    const route = routeOf(ctx, policy, detections !== null);
    const kind = policy.tokens === null && route === null && detections === null ? null : bodyKind(headers);
    if (kind === null) return null;
    if (detections === null) {
      // Unflagged: learn the route's size, and look for decoy tokens leaving.
      // With a Content-Length the size is learned at once; otherwise counted as the body passes.
      if (route !== null && kind.length !== null) sizes.learn(route, kind.length);
      const learn = route !== null && kind.length === null ? route : null;
      const observer = new Observer(learn === null ? null : (total) => sizes.learn(learn, total));
      if (policy.tokens !== null && kind.text) {
        const tokens = policy.tokens;
        const scanner = new LiteralScanner(policy.tokenBytes);
        observer.text = textFeed(kind, maxBytes, decompress, (chunk) => {
          const hits = scanner.scan(chunk);
          if (hits.length === 0) return true;
          // One piece of evidence per response, naming the first token found.
          emit(ctx, honeytoken(tokens[hits[0]!]!.text));
          return false;
        });
      }
      return observer.text === null && learn === null ? null : observer;
    }

    const observer = new Observer(null);
    const normal = route === null ? null : sizes.normal(route);
    if (normal !== null) {
      const oversized = (bytes: number) => emit(ctx, oversizedEvidence(route!, bytes, normal, detections));
      // With a Content-Length the size is known before the body: the evidence does not wait for it.
      if (kind.length === null) observer.watchSize(normal.limit, oversized);
      else if (kind.length > normal.limit) oversized(kind.length);
    }
    const scan = kind.text ? textScan(detections, ctx.target, kind, policy, (e) => emit(ctx, e)) : null;
    if (scan !== null) observer.text = textFeed(kind, maxBytes, decompress, scan);
    return observer.text === null && !observer.watching ? null : observer;
  };
}

function hasBody(method: string, status: number): boolean {
  return method !== "HEAD" && status !== 204 && status !== 304;
}

/** Sees the body pass: counts its bytes and hands its text (if any is wanted) to the scanners. */
class Observer implements ResponseObserver {
  text: TextFeed | null = null;
  readonly #learn: ((total: number) => void) | null;
  #total = 0;
  #limit = Number.POSITIVE_INFINITY;
  #onOversized: ((bytes: number) => void) | null = null;

  constructor(learn: ((total: number) => void) | null) {
    this.#learn = learn;
  }

  get watching(): boolean {
    return this.#learn !== null || this.#onOversized !== null;
  }

  watchSize(limit: number, onOversized: (bytes: number) => void): void {
    this.#limit = limit;
    this.#onOversized = onOversized;
  }

  onData(chunk: Buffer): void {
    this.#total += chunk.length;
    if (this.#total > this.#limit && this.#onOversized !== null) {
      const fire = this.#onOversized;
      this.#onOversized = null;
      fire(this.#total);
    }
    this.text?.write(chunk);
  }

  onEnd(): void {
    this.text?.end();
    this.#learn?.(this.#total);
  }
}

/** Text bytes to the scanners, at most `maxBytes`: as they come, or through bounded decompression. */
interface TextFeed {
  write(chunk: Buffer): void;
  end(): void;
}

/** `consume` returns false once it has nothing left to look for. */
export function textFeed(
  kind: BodyKind,
  maxBytes: number,
  decompress: boolean,
  consume: (chunk: Buffer) => boolean,
): TextFeed | null {
  if (kind.encoding === "other" || (kind.encoding !== "identity" && !decompress)) return null;
  let wanted = true;
  if (kind.encoding !== "identity") {
    const inflater = boundedInflater(kind.encoding, maxBytes, maxBytes, (text) => {
      if (wanted) wanted = consume(text);
    });
    return {
      write(chunk) {
        if (wanted) inflater.write(chunk);
      },
      end() {
        inflater.end();
      },
    };
  }
  let seen = 0;
  return {
    write(chunk) {
      if (!wanted || seen >= maxBytes) return;
      const piece = chunk.length > maxBytes - seen ? chunk.subarray(0, maxBytes - seen) : chunk;
      seen += piece.length;
      wanted = consume(piece);
    },
    end() {},
  };
}

/**
 * The text scanners that apply to a flagged request's response, as one `consume` over a
 * TextWindow; null when none applies. Each scanner drops out once it has fired.
 */
export function textScan(
  detections: readonly RequestDetection[],
  target: string,
  kind: BodyKind,
  policy: Compiled,
  emit: (evidence: Evidence) => void,
): ((chunk: Buffer) => boolean) | null {
  let reflected = kind.html ? reflectedPayloads(detections, target) : [];
  const injections = detections.filter((d) => INJECTION_POINTS.has(d.detectionPoint));
  const traversals = detections.filter((d) => TRAVERSAL_POINTS.has(d.detectionPoint));
  let errors = injections.length > 0;
  let files = traversals.length > 0;
  let tokens = policy.tokens;
  if (reflected.length === 0 && !errors && !files && tokens === null) return null;
  const window = new TextWindow(MAX_MATCH);
  return function consume(chunk) {
    const text = window.next(chunk);
    if (reflected.length > 0) {
      const hit = reflected.find((r) => text.includes(r.wire));
      if (hit) {
        reflected = [];
        const d = hit.detection;
        const detail = `the input that raised IE1${where(d)} is reflected unencoded in the HTML response`;
        emit(evidence("IE1", "reflected-payload", detail, d));
      }
    }
    if (errors) {
      const found = findSignature(ERROR_TEXT, text);
      if (found) {
        errors = false;
        const d = confirmed(injections, found.family === "database" ? "CIE1" : null);
        const detail = `${found.name} ${describeFamily(found.family)} in the response after ${d.detectionPoint}${where(d)}`;
        emit(evidence(d.detectionPoint, "error-disclosure", detail, d));
      }
    }
    if (files) {
      const found = findSignature(FILE_CONTENT, text);
      if (found) {
        files = false;
        const d = confirmed(traversals, "IE3");
        const detail = `content of ${found.name} in the response after ${d.detectionPoint}${where(d)}`;
        emit(evidence(d.detectionPoint, "file-content", detail, d));
      }
    }
    if (tokens !== null) {
      const hit = tokens.find((t) => text.includes(t.wire));
      if (hit) {
        tokens = null;
        emit(honeytoken(hit.text));
      }
    }
    return reflected.length > 0 || errors || files || tokens !== null;
  };
}

/** Longest stretch of a query parameter, from the matched text on, looked for in the page. */
export const PAYLOAD_PREFIX = 64;

/**
 * What to look for in the page for each IE1 detection: its matched text and, when it matched in
 * a query parameter, that parameter's value from the match on (at most PAYLOAD_PREFIX
 * characters). Edge detection records an XSS match up to the end of its tag, and for
 * `<script>alert(1)</script>` that is a bare `<script>`, which ordinary pages contain too; the
 * parameter's value says what followed it.
 */
function reflectedPayloads(
  detections: readonly RequestDetection[],
  target: string,
): { detection: RequestDetection; wire: string }[] {
  const out: { detection: RequestDetection; wire: string }[] = [];
  for (const d of detections) {
    if (d.detectionPoint !== "IE1" || d.matched === null) continue;
    if (reflectable(d.matched)) out.push({ detection: d, wire: wireText(d.matched) });
    const value = d.part?.startsWith("query:") ? queryValue(target, d.part.slice(6)) : null;
    const at = value === null ? -1 : value.indexOf(d.matched);
    if (at === -1) continue;
    const longer = value!.slice(at, at + PAYLOAD_PREFIX);
    if (longer !== d.matched && reflectable(longer)) out.push({ detection: d, wire: wireText(longer) });
  }
  return out;
}

/** The first value of query parameter `name` in `target`, decoded; null when absent. */
function queryValue(target: string, name: string): string | null {
  const q = target.indexOf("?");
  if (q === -1) return null;
  // URLSearchParams never throws: malformed escapes are kept as they were sent.
  return new URLSearchParams(target.slice(q + 1)).get(name);
}

function describeFamily(family: Family): string {
  return family === "database"
    ? "database error text"
    : family === "stack trace"
      ? "stack trace"
      : family === "template"
        ? "template error"
        : "file content";
}

/** The detection a piece of evidence confirms: `preferred` when the request has it, else the first. */
function confirmed(detections: readonly RequestDetection[], preferred: string | null): RequestDetection {
  return (preferred && detections.find((d) => d.detectionPoint === preferred)) || detections[0]!;
}

function where(d: RequestDetection): string {
  return d.part === null ? "" : ` in ${d.part}`;
}

function evidence(
  detectionPoint: string,
  kind: EvidenceKind,
  detail: string,
  d: RequestDetection | null,
): Evidence {
  const metadata: Evidence["metadata"] = { evidence: { kind, detail } };
  if (d?.part) metadata.part = d.part;
  if (d?.matched) metadata.matched = d.matched;
  return { detectionPoint, detail, metadata };
}

function honeytoken(token: string): Evidence {
  const e = evidence("HT3", "honeytoken-response", `decoy token "${token}" in the response`, null);
  e.metadata.matched = token;
  return e;
}

function oversizedEvidence(
  route: string,
  bytes: number,
  normal: Normal,
  detections: readonly RequestDetection[],
): Evidence {
  const d = detections[0]!;
  const detail =
    `response of ${bytes} bytes on ${route}, more than ${FACTOR}x the route's median of ` +
    `${Math.round(normal.median)} bytes over ${normal.samples} responses, after ${d.detectionPoint}${where(d)}`;
  return evidence("CIE2", "oversized-response", detail, d);
}
