/**
 * Streamed bodies leave their socket buffers to a young-generation collection sooner than V8
 * would on its own (issue 2: a 1 GiB upload or download within 150 MB RSS).
 *
 * Every chunk read from a socket is a fresh buffer outside V8's heap; once written on, it is
 * garbage. V8 frees such buffers when it collects the small JS objects that own them, and a body
 * streamed at a gigabyte a second makes almost no JS garbage, so collections come from V8's
 * external-memory heuristic instead: it starts one when ~64 MB more is held outside the heap than
 * at the last, and the bytes keep flowing while it marks. Measured through a 1 GiB download,
 * that put ~70 MB of dead buffers on the process's RSS.
 *
 * So the forwarder tells it the size of each response chunk it writes, and after every
 * `checkBytes` of them it looks at the memory held outside the heap; once that has grown by
 * `growthBytes` since the last look that found it lower, it runs a young-generation collection:
 * ~0.1 ms when the young generation is mostly garbage, as it is then. A timer (unref'd) makes the
 * same check every `intervalMs` for the bytes it is not told about: request bodies, WebSockets.
 * Under ordinary traffic V8's own scavenges come first and the checks find nothing to do.
 *
 * It needs the `gc` function V8 exposes with `--expose-gc` (src/v8-flags.ts); without it,
 * nothing runs and V8's own schedule applies.
 */
import { getHeapStatistics } from "node:v8";

export interface BufferReclaimOptions {
  /** Growth outside the heap, in bytes, that triggers a collection. */
  growthBytes?: number;
  /** Body bytes written between two checks. */
  checkBytes?: number;
  /** How often the timer checks. */
  intervalMs?: number;
  /** V8's collector (`globalThis.gc` under `--expose-gc`). */
  gc?: Collector;
  /** Bytes held outside V8's heap now. */
  externalBytes?: () => number;
}

export interface BufferReclaim {
  /** A body chunk of `bytes` was written (the request path: one addition, a check now and then). */
  note(bytes: number): void;
  /** Young-generation collections it has run. */
  readonly collections: number;
  start(): void;
  stop(): void;
}

export const RECLAIM_GROWTH_BYTES = 4 * 1024 * 1024;
export const RECLAIM_CHECK_BYTES = 4 * 1024 * 1024;
export const RECLAIM_INTERVAL_MS = 10;

type Collector = (options: { type: "minor" }) => void;

/** The collector `--expose-gc` puts on the global object, if the process was started with it. */
export function exposedGc(): Collector | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? (gc as Collector) : undefined;
}

/** Null when there is no collector to call. */
export function createBufferReclaim(options: BufferReclaimOptions = {}): BufferReclaim | null {
  const gc = options.gc ?? exposedGc();
  if (!gc) return null;
  const growth = options.growthBytes ?? RECLAIM_GROWTH_BYTES;
  const checkBytes = options.checkBytes ?? RECLAIM_CHECK_BYTES;
  const intervalMs = options.intervalMs ?? RECLAIM_INTERVAL_MS;
  const external = options.externalBytes ?? (() => getHeapStatistics().external_memory);
  let base = external();
  let flowed = 0;
  let collections = 0;
  let timer: NodeJS.Timeout | null = null;

  function check(): void {
    flowed = 0;
    const now = external();
    if (now < base)
      base = now; // V8 collected on its own
    else if (now - base >= growth) {
      gc!({ type: "minor" });
      collections++;
      base = external();
    }
  }

  return {
    note(bytes) {
      flowed += bytes;
      if (flowed >= checkBytes) check();
    },
    get collections() {
      return collections;
    },
    start() {
      if (timer) return;
      timer = setInterval(check, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
