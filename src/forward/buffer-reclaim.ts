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
 * So the forwarder tells it the size of each body chunk it passes on, request and response, and
 * after every `checkBytes` of them it looks at the memory held outside the heap; once that has
 * grown by `growthBytes` since the last look that found it lower, it runs a young-generation
 * collection (0.11 ms timed alone in a small process: a young generation that is mostly garbage
 * is quick to collect). Under ordinary traffic V8's own scavenges come first and the checks find
 * nothing to do. The WebSocket proxy counts what it relays the same way.
 *
 * It needs the `gc` function V8 exposes with `--expose-gc` (src/v8-flags.ts); without it,
 * nothing runs and V8's own schedule applies.
 */
import { getHeapStatistics } from "node:v8";

type Collector = (options: { type: "minor" }) => void;

export interface BufferReclaimOptions {
  /** Growth outside the heap, in bytes, that triggers a collection. */
  growthBytes?: number;
  /** Body bytes passed on between two checks. */
  checkBytes?: number;
  /** V8's collector; by default `globalThis.gc` under `--expose-gc`; null: none. */
  gc?: Collector | null;
  /** Bytes held outside V8's heap now. */
  externalBytes?: () => number;
}

export interface BufferReclaim {
  /** A body or WebSocket chunk of `bytes` was passed on (the request path: one addition, a check now and then). */
  note(bytes: number): void;
  /** Young-generation collections it has run. */
  readonly collections: number;
}

const GROWTH_BYTES = 4 * 1024 * 1024;
const CHECK_BYTES = 4 * 1024 * 1024;

/** The collector `--expose-gc` puts on the global object, if the process was started with it. */
function exposedGc(): Collector | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? (gc as Collector) : null;
}

/** Null when there is no collector to call. */
export function createBufferReclaim(options: BufferReclaimOptions = {}): BufferReclaim | null {
  const gc = options.gc === undefined ? exposedGc() : options.gc;
  if (gc === null) return null;
  const growth = options.growthBytes ?? GROWTH_BYTES;
  const checkBytes = options.checkBytes ?? CHECK_BYTES;
  const external = options.externalBytes ?? (() => getHeapStatistics().external_memory);
  let base = external();
  let flowed = 0;
  let collections = 0;

  function check(): void {
    flowed = 0;
    const now = external();
    if (now < base) {
      base = now; // V8 collected on its own
    } else if (now - base >= growth) {
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
  };
}
