/**
 * Status-side edge detection, at the app's response headers: ACE3 (a 403 or 404 answer), AE2 (a
 * failed login, seen as a declared failure status on a login route), AE3 (login attempts faster
 * than a person types), and login evidence (DESIGN section 6): a successful login right after a
 * guessing run by the same actor, or on a request that itself carried an injection detection.
 *
 * The guessing and rate counts are local to this replica (bounded, see rate-tracker.ts): an
 * attacker spread over replicas is still counted whole by the AE2/AE3 thresholds in the store,
 * but the "success right after guessing" link needs the failures to have passed this replica.
 */

import { normalizePath } from "../../enforce/normalize-path.ts";
import type { RequestContext } from "../../pipeline/context.ts";
import type { EdgeDetection } from "../intake.ts";
import type { CompiledEdge, DeclaredRoute } from "./compile-edge.ts";
import { FailureLog, SlidingCounter } from "./rate-tracker.ts";

/** AE3: more login attempts than this by one ip within `windowMs` (sliding); each one beyond raises AE3. */
export const LOGIN_RATE = { attempts: 10, windowMs: 60_000 } as const;

/** Detections of the app's or the edge's that make a successful login on the same request a breach. */
const INJECTION_POINTS = new Set(["CIE1", "CIE3", "CIE4", "IE1", "IE3"]);

/** identity.sessionCookies' default, for callers that do not pass the live list. */
const DEFAULT_SESSION_COOKIES = ["sid", "connect.sid", "session", "JSESSIONID", "PHPSESSID"];

export type ResponseHeadersLike = Record<string, string | string[] | undefined>;

/**
 * `sessionCookies`: the names of the cookies that carry a session (identity.sessionCookies), so
 * a CSRF or flash cookie on a failure page is not taken for a login.
 */
export function createStatusChecks(
  now: () => number,
  sessionCookies: () => readonly string[] = () => DEFAULT_SESSION_COOKIES,
) {
  // Failure times kept per actor: as many as the longest guessing run in the policy needs; a
  // reload that changes it starts the history afresh (the runs it held were judged by the old one).
  let failures = new FailureLog(0);
  const attempts = new SlidingCounter(LOGIN_RATE.windowMs);

  return function statusDetections(
    edge: CompiledEdge,
    ctx: RequestContext,
    status: number,
    headers: ResponseHeadersLike,
  ): EdgeDetection[] | null {
    let out: EdgeDetection[] | null = null;
    const push = (d: EdgeDetection) => {
      if (out === null) out = [];
      out.push(d);
    };
    if ((status === 403 || status === 404) && edge.detect.has("ACE3")) {
      push({
        detectionPoint: "ACE3",
        outcome: "attempt",
        detail: `${status} answered`,
        metadata: { part: "status", matched: String(status) },
      });
    }
    if (edge.loginRoutes.length === 0) return out;
    if (failures.keep !== edge.guessingKeep) failures = new FailureLog(edge.guessingKeep);
    const route = loginRoute(edge, ctx);
    if (route === null) return out;
    const t = now();
    const ipKey = `ip:${ctx.clientIp}`;
    const sessionKey = ctx.sessionId === null ? null : `s:${ctx.sessionId}`;

    if (edge.detect.has("AE3")) {
      const { rate } = attempts.hit(ipKey, t);
      if (rate > LOGIN_RATE.attempts) {
        push({
          detectionPoint: "AE3",
          outcome: "attempt",
          detail: `login attempts at ${Math.round(rate)} a minute on ${route.route}`,
          metadata: { part: "path", matched: pathOf(ctx.target).slice(0, 256) },
        });
      }
    }
    if (!edge.detect.has("AE2")) return out;
    if (route.failureStatus!.has(status)) {
      failures.add(ipKey, t);
      if (sessionKey !== null) failures.add(sessionKey, t);
      push({
        detectionPoint: "AE2",
        outcome: "attempt",
        detail: `failed login (${status}) on ${route.route}`,
        metadata: { part: "status", matched: String(status) },
      });
      return out;
    }
    if (!isSuccessfulLogin(ctx, status, headers, sessionCookies())) return out;
    const injection = ctx.detections?.find((d) => INJECTION_POINTS.has(d.detectionPoint));
    if (injection !== undefined) {
      push({
        detectionPoint: injection.detectionPoint,
        outcome: "success",
        detail: `login succeeded (${status}) on a request carrying ${injection.detectionPoint}`,
        metadata: {
          evidence: {
            kind: "login-after-injection",
            detail: `${route.route} answered ${status} to a request with ${injection.detectionPoint}${injection.part ? ` in ${injection.part}` : ""}`,
          },
          ...(injection.part !== null ? { part: injection.part } : {}),
          ...(injection.matched !== null ? { matched: injection.matched } : {}),
        },
      });
    } else {
      const run = route.guessing!;
      const byIp = failures.count(ipKey, t, run.withinMs);
      const bySession = sessionKey === null ? 0 : failures.count(sessionKey, t, run.withinMs);
      const guessed = Math.max(byIp, bySession);
      if (guessed >= run.failures) {
        push({
          detectionPoint: "AE2",
          outcome: "success",
          detail: `login succeeded (${status}) after ${guessed} failed logins`,
          metadata: {
            evidence: {
              kind: "login-after-guessing",
              detail: `${route.route} answered ${status} after ${guessed} failed logins by the same ${byIp >= bySession ? "address" : "session"} within ${formatWindow(run.withinMs)}`,
            },
            part: "status",
            matched: String(status),
          },
        });
      }
    }
    // A success ends the run: the next failures start a new count, and one guessing run is one breach.
    failures.clear(ipKey);
    if (sessionKey !== null) failures.clear(sessionKey);
    return out;
  };
}

function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q === -1 ? target : target.slice(0, q);
}

function loginRoute(edge: CompiledEdge, ctx: RequestContext): DeclaredRoute | null {
  const path = normalizePath(pathOf(ctx.target));
  for (const r of edge.loginRoutes) if (r.matcher.matches(ctx.method, path)) return r;
  return null;
}

/**
 * A login that worked: a 2xx or 3xx that is not a declared failure status and that either sets a
 * session cookie (one of identity.sessionCookies) or names the user in this very response (the
 * app's `Gatehouse-User`). A user known before the request (a session already bound) does not
 * count, nor does any other cookie; an app that answers a failed login with a plain `200` page
 * sets neither, so it is not mistaken for a success.
 */
function isSuccessfulLogin(
  ctx: RequestContext,
  status: number,
  headers: ResponseHeadersLike,
  sessionCookies: readonly string[],
): boolean {
  if (status < 200 || status >= 400) return false;
  if (ctx.appNamedUser) return true;
  const cookies = headers["set-cookie"];
  if (cookies === undefined) return false;
  for (const line of Array.isArray(cookies) ? cookies : [cookies]) {
    const eq = line.indexOf("=");
    const name = (eq === -1 ? line : line.slice(0, eq)).trim();
    // The expiry Gatehouse adds for a revoked session is not the app's doing.
    if (sessionCookies.includes(name) && !ctx.revokedCookies.includes(name)) return true;
  }
  return false;
}

/** `10m`, `90s`, `1h`: how the guessing window reads in evidence. */
function formatWindow(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
