/**
 * Notification (DESIGN section 6): a breach pages at once, attempts are summarised.
 *
 * - Pages. The engine reports each incident an event touched; when that event turned the
 *   incident into a breach (an atomic transition in the incident store, so one replica among
 *   all of them sees it), every `notify` response of `breach.responses` gets one `"kind":
 *   "breach"` message with the incident and its evidence. A second success event on the same
 *   incident pages nobody; pages already sent are also remembered here per channel and
 *   incident, so a store that reports the transition twice still pages once from this replica.
 *   In shadow mode the page is logged as "would have" and not sent.
 * - Digests. Each channel with a `digest` interval gets, at the end of each interval (aligned to
 *   the clock, so replicas agree on the boundaries), one `"kind": "digest"` message summarising
 *   the attempted and blocked incidents active in it, sent by whichever replica claims that
 *   interval in the store first. Nothing is sent for an interval with nothing to report. Attacks
 *   whose response is a `notify` entry are in their incident, so they reach the digest; they are
 *   never sent one by one.
 */
import { Counter, type Registry } from "prom-client";
import type { IncidentReport } from "../policy/engine.ts";
import type { NotifyChannel, Policy } from "../policy/policy.ts";
import type { Clock } from "../store/clock.ts";
import type { IncidentStore } from "../store/incident-store.ts";
import { MAX_INCIDENTS } from "../store/incident-store.ts";
import { OldestFirst } from "../store/oldest-first.ts";
import { summarise } from "./digest.ts";
import { breachBody, digestBody } from "./format.ts";
import { type NotifyLogger, redactUrl, WebhookQueue } from "./webhook.ts";

export interface NotifierOptions {
  policy: () => Policy;
  incidents: Pick<IncidentStore, "list" | "claim">;
  registry: Registry;
  logger?: NotifyLogger;
  clock: Clock;
  /** How often digest boundaries are looked for (default 500 ms). */
  tickMs?: number;
  /** First retry delay (default 1s). */
  retryBaseMs?: number;
}

export interface Notifier {
  /** An incident report from the engine: pages when it is a breach's first moment. */
  incident(report: IncidentReport): void;
  /** Wait up to `ms` for queued messages to go out, then stop (queued ones left are dropped). */
  close(ms?: number): Promise<void>;
}

const MAX_REMEMBERED_PAGES = 10_000;

export function createNotifier(options: NotifierOptions): Notifier {
  const { clock, logger } = options;
  const delivered = new Counter({
    name: "gatehouse_notifications_total",
    help: "Notifications delivered to a webhook, by channel and kind (breach: one page per breach incident; digest)",
    labelNames: ["channel", "kind"],
    registers: [options.registry],
  });
  const failures = new Counter({
    name: "gatehouse_notify_failures_total",
    help: "Failed notification attempts and dropped notifications, by channel and reason (http_status, timeout, connection: an attempt; gave_up: every retry failed; queue_full: dropped; removed: the channel left the policy)",
    labelNames: ["channel", "reason"],
    registers: [options.registry],
  });
  const queues = new Map<string, WebhookQueue>();
  const paged = new Map<string, true>();
  const pagedOrder = new OldestFirst<string, true>();
  const lastSlot = new Map<string, { interval: number; slot: number }>();

  function queue(name: string): WebhookQueue {
    let q = queues.get(name);
    if (!q) {
      q = new WebhookQueue({
        name,
        settings: () => options.policy().notify.get(name),
        events: {
          delivered: (kind) => delivered.labels(name, kind).inc(),
          failed: (reason) => failures.labels(name, reason).inc(),
        },
        logger,
        ...(options.retryBaseMs !== undefined ? { baseDelayMs: options.retryBaseMs } : {}),
      });
      queues.set(name, q);
    }
    return q;
  }

  function incident(report: IncidentReport): void {
    for (const n of report.notify) {
      if (n.kind !== "breach") continue;
      const key = `${n.channel}\u0000${report.incident.id}`;
      if (paged.has(key)) continue;
      paged.set(key, true);
      pagedOrder.push(key, true);
      pagedOrder.trim(paged, MAX_REMEMBERED_PAGES);
      const channel = options.policy().notify.get(n.channel);
      const log = { channel: n.channel, incidentId: report.incident.id };
      if (n.mode === "shadow") {
        logger?.info(log, "breach page (shadow: would have sent)");
        continue;
      }
      if (!channel) continue; // a reload removed it between the decision and now
      const sent = queue(n.channel).send({
        kind: "breach",
        body: breachBody(report.incident, channel.format, clock.now()),
        about: report.incident.id,
      });
      if (sent) logger?.info({ ...log, webhook: redactUrl(channel.webhook) }, "breach page queued");
    }
  }

  async function digest(channel: NotifyChannel, from: number, to: number): Promise<void> {
    // One replica per channel and interval: the claim lasts two intervals, past any clock skew.
    if (!(await options.incidents.claim(`digest:${channel.name}:${from}`, 2 * (to - from)))) return;
    const active = await options.incidents.list({
      outcome: null,
      since: from,
      ip: null,
      user: null,
      limit: MAX_INCIDENTS,
    });
    const summary = summarise(active, from, to);
    if (summary === null) return;
    queue(channel.name).send({
      kind: "digest",
      body: digestBody(summary, channel.format, clock.now()),
      about: `${new Date(from).toISOString()}/${new Date(to).toISOString()}`,
    });
  }

  function tick(): void {
    const now = clock.now();
    for (const channel of options.policy().notify.values()) {
      const interval = channel.digestMs;
      if (interval === null) continue;
      const slot = Math.floor(now / interval);
      const last = lastSlot.get(channel.name);
      // The interval this replica started in (or was reconfigured in) is its first boundary.
      if (!last || last.interval !== interval) {
        lastSlot.set(channel.name, { interval, slot });
        continue;
      }
      if (slot <= last.slot) continue;
      lastSlot.set(channel.name, { interval, slot });
      digest(channel, (slot - 1) * interval, slot * interval).catch((err: Error) =>
        logger?.warn({ channel: channel.name, error: err.message }, "digest failed"),
      );
    }
  }

  const timer = setInterval(tick, options.tickMs ?? 500).unref();
  tick();

  return {
    incident,
    async close(ms = 2000) {
      clearInterval(timer);
      const all = Promise.all([...queues.values()].map((q) => q.idle()));
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise((resolve) => (deadline = setTimeout(resolve, ms)))]);
      clearTimeout(deadline);
      for (const q of queues.values()) q.close();
    },
  };
}
