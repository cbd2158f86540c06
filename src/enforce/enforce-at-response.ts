/**
 * Stage at the app's response headers, right after readDetections: when the app names the
 * request's user (`Gatehouse-User`) and that user is blocked, the app's response is replaced by
 * the block (DESIGN section 5). That is what keeps a locked-out user out: their login succeeds
 * in the app from a new address and a new session, and the session cookie it sets never reaches
 * them. No I/O: the same local index as before forwarding.
 */
import type { RequestContext } from "../pipeline/context.ts";
import type { Outcome } from "../pipeline/outcome.ts";
import type { Allowlist } from "../policy/policy.ts";
import { type DecisionIndex, emptyMatches, type RequestFacts } from "./decision-index.ts";

export function createEnforceAtResponse(index: DecisionIndex, allowlist: () => Allowlist) {
  const matches = emptyMatches();
  const facts: RequestFacts = { ip: "", user: null, session: null, method: "", path: "" };

  return function enforceAtResponse(ctx: RequestContext, userBefore: string | null): Outcome | undefined {
    // Only a user the app has just named can be new here; everything else was checked before forwarding.
    if (ctx.user === null || ctx.user === userBefore || index.size === 0) return undefined;
    const allow = allowlist();
    // The same exemption as before forwarding: an allowlisted address or user.
    if (allow.users.has(ctx.user) || allow.ips(ctx.clientIp)) return undefined;
    facts.ip = ctx.clientIp;
    facts.user = ctx.user;
    facts.session = ctx.sessionId;
    facts.method = ctx.method;
    facts.path = ctx.target;
    const block = index.match(facts, matches).block;
    return block !== null && block.scope === "user" ? { kind: "blocked", decision: block } : undefined;
  };
}
