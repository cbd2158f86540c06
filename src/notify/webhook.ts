/**
 * Delivery to one webhook, off the request path: a bounded queue, one message in flight at a
 * time, a rate limit (token bucket), a timeout per attempt, and retries with exponential backoff
 * (1s, 2s, 4s, … capped at 5m, with jitter so replicas do not retry in lockstep). Breach pages go
 * ahead of queued digests. When the queue is full the new message is dropped and counted; a
 * message that fails every attempt is given up and counted. Nothing here ever throws into its
 * caller.
 *
 * The channel's settings are read for each message (policy reloads apply to the next one), and
 * the URL is never logged whole: a Slack webhook keeps its secret in the path, others in the
 * query or userinfo, so logs carry the channel name and the URL's origin only.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { NotifyChannel } from "../policy/policy.ts";

export type MessageKind = "breach" | "digest";

export interface NotifyMessage {
  kind: MessageKind;
  body: unknown;
  /** What it is about, for logs: an incident id or a digest's interval. */
  about: string;
}

/** Why a delivery failed, as the `reason` label of gatehouse_notify_failures_total. */
export type FailureReason = "http_status" | "timeout" | "connection" | "gave_up" | "queue_full" | "removed";

export interface WebhookEvents {
  delivered(kind: MessageKind): void;
  failed(reason: FailureReason): void;
}

export interface NotifyLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WebhookQueueOptions {
  name: string;
  /** The channel as the live policy has it; undefined once a reload removed it. */
  settings: () => NotifyChannel | undefined;
  events: WebhookEvents;
  logger?: NotifyLogger | undefined;
  /** Messages waiting at most (default 100). */
  maxQueued?: number;
  /** First retry delay (default 1000 ms), doubled each attempt up to `maxDelayMs` (default 5m). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

interface Queued {
  message: NotifyMessage;
  attempts: number;
}

/** A URL as it may be logged: its origin, never its path, query or credentials. */
export function redactUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

export class WebhookQueue {
  readonly #o: WebhookQueueOptions;
  readonly #queue: Queued[] = [];
  readonly #max: number;
  readonly #stop = new AbortController();
  #running: Promise<void> | null = null;
  #tokens = Number.NaN;
  #refilled = 0;

  constructor(options: WebhookQueueOptions) {
    this.#o = options;
    this.#max = options.maxQueued ?? 100;
  }

  /** Queue a message; false when it was dropped (queue full, or closed). */
  send(message: NotifyMessage): boolean {
    if (this.#stop.signal.aborted) return false;
    if (this.#queue.length >= this.#max && message.kind === "breach") {
      // A page is worth more than a summary: a full queue gives up its newest waiting digest
      // (never the one in flight) before it drops a breach.
      let at = -1;
      for (let i = this.#queue.length - 1; i > 0; i--) {
        if (this.#queue[i]!.message.kind === "digest") {
          at = i;
          break;
        }
      }
      if (at !== -1) {
        const [dropped] = this.#queue.splice(at, 1);
        this.#o.events.failed("queue_full");
        this.#o.logger?.warn(
          {
            channel: this.#o.name,
            kind: "digest",
            about: dropped!.message.about,
            queued: this.#queue.length,
          },
          "digest dropped to make room for a breach page: the channel's queue is full",
        );
      }
    }
    if (this.#queue.length >= this.#max) {
      this.#o.events.failed("queue_full");
      this.#o.logger?.warn(
        { channel: this.#o.name, kind: message.kind, about: message.about, queued: this.#queue.length },
        "notification dropped: the channel's queue is full",
      );
      return false;
    }
    const item = { message, attempts: 0 };
    if (message.kind === "breach") {
      // Ahead of waiting digests, behind the message in flight and earlier pages.
      const at = this.#queue.findIndex((q, i) => i > 0 && q.message.kind === "digest");
      if (at === -1) this.#queue.push(item);
      else this.#queue.splice(at, 0, item);
    } else this.#queue.push(item);
    this.#running ??= this.#run().finally(() => {
      this.#running = null;
    });
    return true;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves when the queue is empty (or closed). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stop: messages still queued are not sent. */
  close(): void {
    this.#stop.abort();
    this.#queue.length = 0;
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
      const item = this.#queue[0]!;
      const channel = this.#o.settings();
      if (!channel) {
        this.#queue.shift();
        this.#o.events.failed("removed");
        continue;
      }
      await this.#token(channel);
      if (this.#stop.signal.aborted) return;
      const failure = await this.#attempt(channel, item.message);
      if (failure === null) {
        this.#queue.shift();
        this.#o.events.delivered(item.message.kind);
        continue;
      }
      this.#o.events.failed(failure.reason);
      item.attempts++;
      const log = {
        channel: this.#o.name,
        webhook: redactUrl(channel.webhook),
        kind: item.message.kind,
        about: item.message.about,
        attempt: item.attempts,
        error: failure.detail,
      };
      if (item.attempts > channel.retries || !failure.retry) {
        this.#queue.shift();
        this.#o.events.failed("gave_up");
        this.#o.logger?.warn(log, "notification given up after its retries");
        continue;
      }
      this.#o.logger?.warn(log, "notification failed; retrying");
      // A failing digest does not hold the pages queued behind it through its backoff: it goes
      // to the back, and waits its turn again.
      if (
        item.message.kind === "digest" &&
        this.#queue.some((q, i) => i > 0 && q.message.kind === "breach")
      ) {
        this.#queue.push(this.#queue.shift()!);
        continue;
      }
      await this.#wait(this.#delay(item.attempts));
    }
  }

  async #attempt(
    channel: NotifyChannel,
    message: NotifyMessage,
  ): Promise<{ reason: FailureReason; detail: string; retry: boolean } | null> {
    const timeout = AbortSignal.timeout(channel.timeoutMs);
    try {
      const res = await fetch(channel.webhook, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "gatehouse" },
        body: JSON.stringify(message.body),
        // A redirect could take the body to another host; a webhook that moved must be reconfigured.
        redirect: "manual",
        signal: AbortSignal.any([timeout, this.#stop.signal]),
      });
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return null;
      // A 4xx other than 408 and 429 says the request itself is wrong: sending it again will not help.
      const retry = res.status >= 500 || res.status === 408 || res.status === 429 || res.status < 400;
      return { reason: "http_status", detail: `answered ${res.status}`, retry };
    } catch (err) {
      if (timeout.aborted)
        return { reason: "timeout", detail: `no answer within ${channel.timeoutMs} ms`, retry: true };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return {
        reason: "connection",
        detail: cause?.code ?? cause?.message ?? (err as Error).message,
        retry: true,
      };
    }
  }

  #delay(attempt: number): number {
    const base = this.#o.baseDelayMs ?? 1000;
    const max = this.#o.maxDelayMs ?? 300_000;
    const exact = Math.min(max, base * 2 ** Math.min(attempt - 1, 30));
    return exact + Math.floor(Math.random() * Math.min(base, exact) * 0.2);
  }

  /** Take one token of the channel's rate, waiting for it if none is left. */
  async #token(channel: NotifyChannel): Promise<void> {
    const { count, perMs } = channel.rateLimit;
    const refill = () => {
      const now = Date.now();
      this.#tokens = Number.isNaN(this.#tokens)
        ? count
        : Math.min(count, this.#tokens + ((now - this.#refilled) * count) / perMs);
      this.#refilled = now;
    };
    refill();
    while (this.#tokens < 1 && !this.#stop.signal.aborted) {
      await this.#wait(Math.ceil(((1 - this.#tokens) * perMs) / count));
      refill();
    }
    this.#tokens -= 1;
  }

  async #wait(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => {});
  }
}
