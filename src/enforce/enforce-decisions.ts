/**
 * Stage: enforce the live decisions on this request, before it reaches the app (DESIGN section
 * 5). One lookup in the local index — no I/O — then, in this order:
 *
 *   allowlist  an allowlisted ip or user passes untouched: no decision applies to them
 *   disable    the route is disabled for this actor (or everyone): its status, default 503
 *   block      ip, range, session or user blocked: 403
 *   logout     the session is revoked: its cookie (or bearer token) is not forwarded and the
 *              cookie is expired on the response; the request goes on without a session
 *   throttle   over the decision's rate, counted across replicas for its whole scope (an ip, a
 *              range, a user, or everyone): 429 with Retry-After
 *   tarpit     forwarded after the decision's delay
 *   flag       forwarded with `Gatehouse-Posture: elevated`
 *
 * With `store.failMode: closed`, a replica that has never loaded the shared decisions (Redis
 * unreachable since start) answers 503 rather than let unknown state through.
 */
import type { IncomingMessage } from "node:http";
import { type SessionSource, sessionCandidates } from "../actor/session.ts";
import type { RequestContext } from "../pipeline/context.ts";
import type { Outcome } from "../pipeline/outcome.ts";
import type { Allowlist } from "../policy/policy.ts";
import type { Clock } from "../store/clock.ts";
import type { Decision } from "../store/decision.ts";
import { type DecisionIndex, emptyMatches, type RequestFacts } from "./decision-index.ts";
import { normalizePath } from "./normalize-path.ts";
import type { RateLimiter } from "./rate-limiter.ts";

export interface EnforceOptions {
  index: DecisionIndex;
  /** The keyed hash sessions are known by, and the session cookie names (for every credential check). */
  hashSession: (raw: string) => string;
  sessionCookies: () => readonly string[];
  limiter: RateLimiter;
  /** The live policy's allowlist. */
  allowlist: () => Allowlist;
  /** Whether this replica holds the shared decisions (loaded at least once). */
  decisionsKnown: () => boolean;
  failMode: "open" | "closed";
  clock: Clock;
}

/** The longest tarpit delay, as the admin API accepts it. */
const MAX_TARPIT_MS = 60_000;

const UNKNOWN: Outcome = { kind: "error", code: "STATE_UNKNOWN", cause: "shared decisions not loaded" };

export function createEnforceDecisions(options: EnforceOptions) {
  const { index, limiter, clock } = options;
  // Reused for every request: the stage is synchronous, so one at a time uses them.
  const matches = emptyMatches();
  const other = emptyMatches();
  const facts: RequestFacts = { ip: "", user: null, session: null, method: "", path: "" };

  /** Session decisions on the credentials the request carries besides its own session. */
  function checkOtherSessions(ctx: RequestContext, req: IncomingMessage): Outcome | undefined {
    const h = req.headers;
    if (h.cookie === undefined && h.authorization === undefined) return undefined;
    const candidates = sessionCandidates(h.cookie, h.authorization, options.sessionCookies());
    if (candidates.length < 2 && ctx.session !== null) return undefined;
    const own = facts.session;
    for (const candidate of candidates) {
      const id = options.hashSession(candidate.value);
      if (id === own) continue;
      facts.session = id;
      const m = index.match(facts, other);
      if (m.block?.scope === "session") return applied(ctx, { kind: "blocked", decision: m.block });
      if (m.logout) revoke(ctx, candidate, m.logout);
    }
    facts.session = own;
    return undefined;
  }

  return function enforceDecisions(ctx: RequestContext, req: IncomingMessage): Outcome | undefined {
    if (!options.decisionsKnown() && options.failMode === "closed") return UNKNOWN;
    if (index.size === 0) return undefined;
    const allow = options.allowlist();
    if ((ctx.user !== null && allow.users.has(ctx.user)) || allow.ips(ctx.clientIp)) return undefined;

    facts.ip = ctx.clientIp;
    facts.user = ctx.user;
    facts.session = ctx.sessionId;
    facts.method = ctx.method;
    facts.path = normalizePath(pathOf(ctx.target));
    const m = index.match(facts, matches);

    if (m.disable) return applied(ctx, { kind: "disabled", decision: m.disable });
    if (m.block) return applied(ctx, { kind: "blocked", decision: m.block });
    if (m.logout) revoke(ctx, ctx.session, m.logout);
    // The app may read another credential than the one the request is attributed to.
    const blocked = checkOtherSessions(ctx, req);
    if (blocked) return blocked;
    if (m.throttle?.rate) {
      // One budget per decision: its scope already names whom it holds for (an ip, a range or
      // a user together, or everyone for a global throttle).
      const wait = limiter.take(m.throttle.id, m.throttle.rate, clock.now());
      if (wait > 0) return applied(ctx, { kind: "throttled", decision: m.throttle, retryAfter: wait });
    }
    if (m.tarpit) {
      // Bounded whatever the decision says: a delay past Node's timer range would fire at once.
      ctx.tarpitMs = Math.min(Math.max(m.tarpit.delayMs ?? 0, 0), MAX_TARPIT_MS);
      mark(ctx, m.tarpit);
    }
    if (m.flag) {
      ctx.flagged = true;
      mark(ctx, m.flag);
    }
    return undefined;
  };
}

/** The path of an origin-form target, without its query. */
function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q === -1 ? target : target.slice(0, q);
}

function revoke(ctx: RequestContext, session: SessionSource | null, decision: Decision): void {
  if (session?.kind === "cookie" && !ctx.revokedCookies.includes(session.name)) {
    ctx.revokedCookies = [...ctx.revokedCookies, session.name];
  } else if (session?.kind === "bearer") {
    ctx.revokedBearer = true;
  }
  // The request goes on as the anonymous request it now is: no session, and no user learned from it.
  if (
    session === ctx.session ||
    (session?.kind === ctx.session?.kind && session?.name === ctx.session?.name)
  ) {
    ctx.session = null;
    ctx.sessionId = null;
  }
  mark(ctx, decision);
}

function applied(ctx: RequestContext, outcome: Outcome & { decision: Decision }): Outcome {
  mark(ctx, outcome.decision);
  return outcome;
}

function mark(ctx: RequestContext, decision: Decision): void {
  if (!ctx.trace.span.isRecording()) return;
  ctx.trace.span.addEvent("gatehouse.decision", {
    "gatehouse.decision.id": decision.id,
    "gatehouse.decision.action": decision.action,
    "gatehouse.decision.scope": decision.scope,
  });
}
