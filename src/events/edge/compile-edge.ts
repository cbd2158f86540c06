/**
 * The policy's `edge:` section compiled for the request path (STYLE pattern 5): which detection
 * points are on, route matchers for declared, login and decoy routes, one expression for the decoy
 * tokens. Compiled once per Policy object (a reload makes a new one) and looked up per request.
 */

import type { Rate } from "../../config/units.ts";
import { compileRoute, compileRoutes, type RouteMatcher } from "../../enforce/route-matcher.ts";
import type { Policy } from "../../policy/policy.ts";

export interface DeclaredRoute {
  /** The route as written, `METHOD /path/glob`. */
  route: string;
  /** Its method (upper case), or null for `*`. */
  method: string | null;
  /** The route itself: method and path. */
  matcher: RouteMatcher;
  /** Its path with any method: does this request address the route at all? */
  path: RouteMatcher;
  /** For a login route, the statuses that mean a failed login. */
  failureStatus: ReadonlySet<number> | null;
  /** For a login route: a success after this many failures within `withinMs` is a breach. */
  guessing: { failures: number; withinMs: number } | null;
}

export interface CompiledEdge {
  /** Anything to do at all: false for an empty `edge.detect`, the default. */
  readonly on: boolean;
  readonly detect: ReadonlySet<string>;
  /** Any of the detection points matched against parameter values. */
  readonly params: boolean;
  readonly routes: readonly DeclaredRoute[];
  readonly loginRoutes: readonly DeclaredRoute[];
  /** The most failures any login route's guessing run needs: how many times are kept per actor. */
  readonly guessingKeep: number;
  /** HT2: the decoy routes, when HT2 is on and some are declared. */
  readonly decoys: RouteMatcher | null;
  /** HT3: every decoy token in one expression, when HT3 is on and some are declared. */
  readonly tokens: RegExp | null;
  readonly paramLength: number | null;
  readonly bodyBytes: number | null;
  readonly requestRate: Rate | null;
  /** RE1/RE3/RE4 on, and routes declared. */
  readonly checkMethods: boolean;
  /** Status-side checks on (ACE3, or a login route with AE2 or AE3). */
  readonly statusSide: boolean;
}

/** The detection points matched against parameter (and path) values. */
const PARAMETER_POINTS = ["RE7", "EE1", "CIE3", "CIE4", "IE1", "CIE1", "IE3"] as const;

const compiled = new WeakMap<Policy, CompiledEdge>();

/** The compiled `edge:` of `policy`; derived data only, so one cache serves every instance. */
export function compiledEdge(policy: Policy): CompiledEdge {
  let edge = compiled.get(policy);
  if (edge === undefined) {
    edge = compileEdge(policy);
    compiled.set(policy, edge);
  }
  return edge;
}

export function compileEdge(policy: Policy): CompiledEdge {
  const e = policy.edge;
  const detect = new Set(e.detect);
  const routes: DeclaredRoute[] = [];
  for (const r of e.routes) {
    const space = r.route.indexOf(" ");
    const method = r.route.slice(0, space);
    const matcher = compileRoute(r.route);
    const path = compileRoute(`* ${r.route.slice(space + 1)}`);
    // The loader validated the grammar; a route that still does not compile is left out.
    if (matcher === null || path === null) continue;
    routes.push({
      route: r.route,
      method: method === "*" ? null : method,
      matcher,
      path,
      failureStatus: r.login ? new Set(r.login.failureStatus) : null,
      guessing: r.login ? r.login.guessing : null,
    });
  }
  const loginRoutes = routes.filter((r) => r.failureStatus !== null);
  const tokens =
    detect.has("HT3") && e.honeyTraps.tokens.length > 0 ? tokenExpression(e.honeyTraps.tokens) : null;
  return Object.freeze({
    on: detect.size > 0,
    detect,
    params: PARAMETER_POINTS.some((p) => detect.has(p)),
    routes,
    loginRoutes,
    guessingKeep: Math.max(0, ...loginRoutes.map((r) => r.guessing?.failures ?? 0)),
    decoys: detect.has("HT2") ? compileRoutes(e.honeyTraps.routes) : null,
    tokens,
    paramLength: e.limits.paramLength,
    bodyBytes: e.limits.bodyBytes,
    requestRate: e.limits.requestRate,
    checkMethods: routes.length > 0 && (detect.has("RE1") || detect.has("RE3") || detect.has("RE4")),
    statusSide: detect.has("ACE3") || (loginRoutes.length > 0 && (detect.has("AE2") || detect.has("AE3"))),
  });
}

/** One alternation of the literal tokens, longest first so a token inside another is not reported instead. */
function tokenExpression(tokens: readonly string[]): RegExp {
  const sorted = [...tokens].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map((t) => t.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&")).join("|"));
}
