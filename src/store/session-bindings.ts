/**
 * Session → user bindings (DESIGN section 2): once the app names the user of a session, later
 * requests on that session are attributed to the user before they reach the app, on every
 * replica. Kept in a replicated map keyed by the session hash, each binding for `ttlMs` after it
 * was last set.
 */
import type { Clock } from "./clock.ts";
import type { ReplicatedMap } from "./replicated-map.ts";

export interface SessionBindings {
  get(sessionId: string): string | undefined;
  set(sessionId: string, user: string): void;
}

export function sessionBindings(map: ReplicatedMap<string>, clock: Clock, ttlMs: number): SessionBindings {
  return {
    get: (sessionId) => map.get(sessionId),
    set: (sessionId, user) => map.set(sessionId, user, clock.now() + ttlMs),
  };
}

/** Bindings are stored as the user name itself. */
export const userCodec = {
  encode: (user: string): string => user,
  decode: (text: string): string | null => (text.length > 0 && text.length <= 1024 ? text : null),
};
