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
 * decoy tokens declared, a memchr per token over the first `maxBytes` of text; on a route whose
 * sizes are learned (route-sizes.ts), a path normalisation and a map lookup. A flagged response
 * is scanned as the Buffers it arrives in (flagged-scan.ts): no text is made of it, and what is
 * set up for it is compiled once per policy or allocated only when it is needed.
 */
import type { Config } from "../../config/settings.ts";
import { normalizePath } from "../../enforce/normalize-path.ts";
import { compileRoute, type RouteMatcher } from "../../enforce/route-matcher.ts";
import type { ResponseObserver } from "../../forward/forwarder.ts";
import type { ResponseHeaders } from "../../forward/interceptors/pass-through-handler.ts";
import type { RequestContext } from "../../pipeline/context.ts";
import type { Policy } from "../../policy/policy.ts";
import { type BodyKind, bodyKind } from "./content.ts";
import { type BoundedInflater, boundedInflater } from "./decompress.ts";
import { type Evidence, honeytoken, oversizedEvidence } from "./evidence.ts";
import { FlaggedScan, type Token } from "./flagged-scan.ts";
import { RouteSizes } from "./route-sizes.ts";
import { LiteralScanner, needle } from "./stream-scan.ts";

export type { Evidence, EvidenceKind } from "./evidence.ts";

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
  tokens: readonly Token[] | null;
  routes: readonly RouteMatcher[];
}

function compile(policy: Policy): Compiled {
  const edge = policy.edge;
  const tokens =
    edge.detect.includes("HT3") && edge.honeyTraps.tokens.length > 0
      ? edge.honeyTraps.tokens.map((text) => ({ text, needle: needle(text) }))
      : null;
  const routes: RouteMatcher[] = [];
  for (const r of edge.routes) {
    const m = compileRoute(r.route);
    if (m) routes.push(m);
  }
  return { tokens, routes };
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

  const onError = (err: unknown) => options.onError?.(err);

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
    const readable = kind.text && (kind.encoding === "identity" || (decompress && kind.encoding !== "other"));
    if (detections === null) {
      // Unflagged: learn the route's size, and look for decoy tokens leaving.
      // With a Content-Length the size is learned at once; otherwise counted as the body passes.
      if (route !== null && kind.length !== null) sizes.learn(route, kind.length);
      const learn = route !== null && kind.length === null ? route : null;
      const tokens = readable ? policy.tokens : null;
      if (learn === null && tokens === null) return null;
      const observer = new Observer(
        kind,
        maxBytes,
        learn === null ? null : (total) => sizes.learn(learn, total),
        onError,
      );
      if (tokens !== null) observer.read(() => new TokenScan(tokens, (e) => emit(ctx, e)));
      return observer;
    }

    const normal = route === null ? null : sizes.normal(route);
    let observer: Observer | null = null;
    if (normal !== null) {
      const oversized = (bytes: number) => emit(ctx, oversizedEvidence(route!, bytes, normal, detections));
      // With a Content-Length the size is known before the body: the evidence does not wait for it.
      if (kind.length === null) {
        observer = new Observer(kind, maxBytes, null, onError);
        observer.watchSize(normal.limit, oversized);
      } else if (kind.length > normal.limit) oversized(kind.length);
    }
    const tokens = policy.tokens;
    if (!readable || !FlaggedScan.applies(detections, kind.html, tokens)) return observer;
    observer ??= new Observer(kind, maxBytes, null, onError);
    const { target } = ctx;
    const html = kind.html;
    // Made when the first text is read, after the response's bytes are on their way (Observer).
    observer.read(() => FlaggedScan.create(detections, target, html, tokens, (e) => emit(ctx, e)));
    return observer;
  };
}

function hasBody(method: string, status: number): boolean {
  return method !== "HEAD" && status !== 204 && status !== 304;
}

/** Where the inspected text of a body goes: a FlaggedScan, or the decoy tokens of an unflagged one. */
interface TextSink {
  /** `last`: no text follows this chunk. Returns false once nothing is left to look for. */
  write(chunk: Buffer, last: boolean): boolean;
  /** The text ended after a chunk that was not `last`. */
  end(): void;
}

/** Decoy tokens in an unflagged response: one piece of evidence, naming the first token found. */
class TokenScan implements TextSink {
  readonly #tokens: readonly Token[];
  readonly #scanner: LiteralScanner;
  readonly #emit: (evidence: Evidence) => void;

  constructor(tokens: readonly Token[], emit: (evidence: Evidence) => void) {
    this.#tokens = tokens;
    this.#scanner = new LiteralScanner(tokens.map((t) => t.needle));
    this.#emit = emit;
  }

  write(chunk: Buffer, last: boolean): boolean {
    const hits = this.#scanner.scan(chunk, last);
    if (hits.length === 0) return true;
    this.#emit(honeytoken(this.#tokens[hits[0]!]!.text));
    return false;
  }

  end(): void {}
}

/**
 * Sees the body pass: counts its bytes (for CIE2), and hands at most `maxBytes` of its text to
 * a sink, as it comes or through bounded decompression.
 *
 * The text is scanned after the chunk has gone to the client, not merely after it was written:
 * Node corks a response's socket on write and uncorks it on the next tick, so work done in
 * onData delays the bytes by its own length. The pieces are queued and scanned in a
 * process.nextTick queued after that uncork, in the same turn of the event loop (before the
 * socket is read again, so the chunk Buffers are still the response's and need no copy). The
 * sink itself (a FlaggedScan: the query decoded, the payloads compiled) is made then too, so
 * at the headers a flagged response costs no more than this object.
 */
class Observer implements ResponseObserver {
  readonly #kind: BodyKind;
  readonly #maxBytes: number;
  readonly #learn: ((total: number) => void) | null;
  #total = 0;
  #limit = Number.POSITIVE_INFINITY;
  #onOversized: ((bytes: number) => void) | null = null;
  /** Makes the sink at the first text; null when no text is read, or no more is wanted. */
  #make: (() => TextSink | null) | null = null;
  #sink: TextSink | null = null;
  #inflater: BoundedInflater | null = null;
  /** Body bytes queued for the sink (identity encoding), and whether the last of them is queued. */
  #fed = 0;
  #complete = false;
  #ended = false;
  #queue: Buffer[] = [];
  #scheduled = false;

  /** A scanner that threw: reported, and this response is inspected no further. */
  readonly onError: (err: unknown) => void;

  constructor(
    kind: BodyKind,
    maxBytes: number,
    learn: ((total: number) => void) | null,
    onError: (err: unknown) => void,
  ) {
    this.#kind = kind;
    this.#maxBytes = maxBytes;
    this.#learn = learn;
    this.onError = onError;
  }

  /** Stop inspecting: nothing more is queued or scanned. */
  abandon(): void {
    this.#make = null;
    this.#sink = null;
    this.#queue = [];
  }

  watchSize(limit: number, onOversized: (bytes: number) => void): void {
    this.#limit = limit;
    this.#onOversized = onOversized;
  }

  read(make: () => TextSink | null): void {
    const encoding = this.#kind.encoding;
    // An unknown or stacked coding is opaque: its bytes are never scanned (inspectResponse
    // does not ask for them; this keeps it so).
    if (encoding === "other") return;
    this.#make = make;
    if (encoding === "identity") return;
    // Decompressed text comes out of zlib later anyway: nothing here is on the response's way.
    const max = this.#maxBytes;
    let sink: TextSink | null | undefined;
    this.#inflater = boundedInflater(
      encoding,
      max,
      max,
      (text) => {
        if (sink === undefined) sink = make();
        if (sink !== null && !sink.write(text, false)) sink = null;
      },
      () => {
        sink?.end();
        sink = null;
      },
    );
  }

  onData(chunk: Buffer): void {
    this.#total += chunk.length;
    if (this.#total > this.#limit && this.#onOversized !== null) {
      const fire = this.#onOversized;
      this.#onOversized = null;
      fire(this.#total);
    }
    if (this.#make === null) return;
    if (this.#inflater !== null) {
      this.#inflater.write(chunk);
      return;
    }
    if (this.#complete) return;
    const room = this.#maxBytes - this.#fed;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#fed += piece.length;
    // The last piece is known when it fills `maxBytes` or the Content-Length: nothing of it
    // needs keeping for a next one.
    this.#complete = this.#fed >= this.#maxBytes || this.#fed === this.#kind.length;
    this.#queue.push(piece);
    this.#schedule();
  }

  onEnd(): void {
    this.#learn?.(this.#total);
    if (this.#make === null) return;
    if (this.#inflater !== null) {
      this.#inflater.end();
      return;
    }
    this.#ended = true;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(flushObserver, this);
  }

  /** Hand the queued text to the sink (made now, the first time). */
  flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    if (this.#make === null) return;
    this.#sink ??= this.#make();
    let wanted = this.#sink !== null;
    for (let i = 0; wanted && i < queue.length; i++) {
      wanted = this.#sink!.write(queue[i]!, this.#complete && i === queue.length - 1);
    }
    if (wanted && this.#ended && !this.#complete) this.#sink!.end();
    if (!wanted || this.#complete || this.#ended) {
      this.#make = null;
      this.#sink = null;
    }
  }
}

function flushObserver(observer: Observer): void {
  // Runs outside any handler that could catch it: a scanner that throws on hostile content must
  // cost this response its inspection, never the process.
  try {
    observer.flush();
  } catch (err) {
    observer.abandon();
    observer.onError(err);
  }
}
