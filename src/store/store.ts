/**
 * The state store behind the policy engine: sliding windows of events and the attack history
 * that drives escalation. One interface, two implementations (memory for one process, Redis for
 * many replicas), one contract suite (test/contract/). The store knows no policy and no HTTP: the
 * engine tells it which window an event falls in and how that window is matched.
 *
 * Every `hit` is atomic: recording the event, pruning the window, testing the match, restarting
 * the window and appending to the attack history happen as one step (a Lua script on Redis), so
 * across replicas one crossing yields exactly one attack.
 */

/** How a window is matched when an event is added to it. */
export type WindowMatch =
  /** At least `count` events of any label (thresholds, and rules with `any`). */
  | { kind: "count"; count: number }
  /** Every label at least once, in any order. */
  | { kind: "all"; labels: readonly string[] }
  /** The labels in this order, by event time; other events may come between. */
  | { kind: "sequence"; labels: readonly string[] };

export interface WindowHit {
  /**
   * The window's key, without the app namespace (the store adds it), e.g. `t:IE1:user:alice` for a
   * threshold or `r:probe-then-inject:ip:203.0.113.9` for a rule.
   */
  window: string;
  /** The attack history's key for escalation, e.g. `h:t:IE1:user:alice`. */
  history: string;
  /** The event's detection point (matched against `all` / `sequence` labels). */
  label: string;
  /** Event time, ms since the epoch. The window holds events with time > `time - withinMs`. */
  time: number;
  withinMs: number;
  match: WindowMatch;
  /** Escalation memory: attacks older than `time - memoryMs` are forgotten. */
  memoryMs: number;
}

/**
 * `attack: true` when this event completed the match: the window was emptied (it restarts), the
 * attack was appended to the history, and `nth` is the number of attacks in the history within
 * `memoryMs` (this one included), i.e. the rung of the escalation ladder.
 */
export type HitResult = { attack: false } | { attack: true; nth: number };

export interface StoreStatus {
  kind: "memory" | "redis";
  /** `up`; `degraded`: the shared store is unreachable and state is kept locally for now. */
  status: "up" | "degraded";
  /** Why it is degraded, when it is. */
  detail?: string;
}

export interface Store {
  /** Apply hits in order; results are in the same order. Never rejects for a store outage when the store can fall back. */
  hit(hits: readonly WindowHit[]): Promise<HitResult[]>;
  status(): StoreStatus;
  /** Called with the new status whenever it changes (up ↔ degraded). */
  onStatusChange(listener: (status: StoreStatus) => void): void;
  close(): Promise<void>;
}
