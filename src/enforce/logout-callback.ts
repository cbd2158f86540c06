/**
 * The optional app callback on logout (`logout.callback`): when this replica logs a session
 * out, the app is told, so it can end the session on its side too (Gatehouse only stops
 * forwarding the cookie). Off the request path, bounded: a few attempts with backoff, a timeout
 * per attempt, at most `maxPending` calls waiting, the rest counted and dropped.
 *
 * The body names the session by the keyed hash Gatehouse logs (it never keeps the raw value),
 * and the user when one is known.
 */
import { request } from "undici";
import type { Logger } from "../observability/logger.ts";
import type { Decision } from "../store/decision.ts";
import { decisionToJson } from "../store/decision.ts";

export interface LogoutCallback {
  notify(decision: Decision, user: string | null): void;
  /** Waits for calls in flight (bounded by their retries), for a graceful stop. */
  close(): Promise<void>;
}

const DELAYS_MS = [0, 500, 2_000];
const TIMEOUT_MS = 5_000;

export function createLogoutCallback(url: string, logger: Logger, maxPending = 1_000): LogoutCallback {
  const inFlight = new Set<Promise<void>>();
  let closed = false;

  async function deliver(body: string, sessionId: string): Promise<void> {
    for (const [attempt, delay] of DELAYS_MS.entries()) {
      if (delay > 0) await new Promise((r) => setTimeout(r, delay).unref());
      if (closed && attempt > 0) break;
      try {
        const res = await request(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          headersTimeout: TIMEOUT_MS,
          bodyTimeout: TIMEOUT_MS,
        });
        await res.body.dump();
        if (res.statusCode < 300) return;
        if (res.statusCode < 500 && res.statusCode !== 429) {
          logger.warn({ status: res.statusCode, session: sessionId }, "logout callback refused; not retried");
          return;
        }
      } catch (err) {
        if (attempt === DELAYS_MS.length - 1)
          logger.warn({ err: (err as Error).message, session: sessionId }, "logout callback failed");
      }
    }
    logger.warn({ session: sessionId, attempts: DELAYS_MS.length }, "logout callback gave up");
  }

  return {
    notify(decision, user) {
      if (decision.action !== "logout" || closed) return;
      if (inFlight.size >= maxPending) {
        logger.warn({ session: decision.value }, "logout callback queue full; call dropped");
        return;
      }
      const body = JSON.stringify({ session: decision.value, user, decision: decisionToJson(decision) });
      const call = deliver(body, decision.value).finally(() => inFlight.delete(call));
      inFlight.add(call);
    },
    async close() {
      closed = true;
      await Promise.all(inFlight);
    },
  };
}
