/**
 * The in-process event bus between the channels and analysis. `publish` never runs a subscriber
 * synchronously: events are queued and delivered in a batch on the next turn of the event loop,
 * so a detection costs the request path one array push. The queue is bounded; past the bound
 * events are dropped and counted rather than growing memory without end.
 */
import type { DetectionEvent } from "./event.ts";

export type EventSubscriber = (events: readonly DetectionEvent[]) => void;

export interface EventBus {
  publish(event: DetectionEvent): boolean;
  subscribe(subscriber: EventSubscriber): () => void;
  /** Resolves once everything published so far has been delivered. */
  flush(): Promise<void>;
}

export function createEventBus(
  options: {
    maxQueued?: number;
    onDrop?: (event: DetectionEvent) => void;
    onError?: (err: unknown) => void;
  } = {},
): EventBus {
  const maxQueued = options.maxQueued ?? 100_000;
  const subscribers = new Set<EventSubscriber>();
  let queue: DetectionEvent[] = [];
  let scheduled = false;
  let waiters: (() => void)[] = [];

  function deliver(): void {
    scheduled = false;
    const batch = queue;
    queue = [];
    for (const subscriber of subscribers) {
      try {
        subscriber(batch);
      } catch (err) {
        options.onError?.(err);
      }
    }
    const done = waiters;
    waiters = [];
    for (const w of done) w();
  }

  return {
    publish(event) {
      if (queue.length >= maxQueued) {
        options.onDrop?.(event);
        return false;
      }
      queue.push(event);
      if (!scheduled) {
        scheduled = true;
        setImmediate(deliver);
      }
      return true;
    },
    subscribe(subscriber) {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    flush() {
      if (!scheduled) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}
