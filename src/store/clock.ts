/** Time, injected everywhere state expires, so tests and `simulate` can drive it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told: `simulate` sets it to each event's time, tests step it. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = 0) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  /** Move to `time`; never backwards, so expiry stays monotonic when events arrive out of order. */
  set(time: number): void {
    if (time > this.#now) this.#now = time;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}
