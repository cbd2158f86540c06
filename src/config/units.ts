/**
 * Parsers for the unit-bearing scalars used across config and policy files: durations (`500ms`,
 * `30s`, `10m`, `1h`, `7d`), sizes (`512KB`, `10MB`, `1GB`) and rates (`10/s`, `600/m`).
 * Each returns a number or a message saying what was expected; none throws, so a validator can
 * collect every problem in a file at once.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;
const MAX_DURATION_MS = 2 ** 31 - 1;

/** Longest policy duration: windows, bans and memory are store expiries, not Node timers. */
export const MAX_POLICY_DURATION_MS = 366 * 86_400_000;

/**
 * A duration in milliseconds. `0` (no unit) is accepted and means "off" where a setting allows it.
 * `maxMs` defaults to the longest timer Node can set, which is what settings use durations for.
 */
export function parseDuration(input: unknown, maxMs: number = MAX_DURATION_MS): Parsed<number> {
  if (input === 0 || input === "0") return { ok: true, value: 0 };
  const match = typeof input === "string" ? DURATION.exec(input.trim()) : null;
  if (!match)
    return { ok: false, message: `${show(input)} is not a duration (use e.g. 500ms, 30s, 5m, 1h, 7d)` };
  const value = Number(match[1]) * DURATION_UNITS[match[2]!]!;
  // Node's timers hold at most 2^31-1 ms (about 24.8 days); past that they fire at once.
  if (value > maxMs) {
    const limit =
      maxMs === MAX_DURATION_MS
        ? "24d, the longest timer Node can set"
        : `${Math.floor(maxMs / 86_400_000)}d`;
    return { ok: false, message: `${show(input)} is longer than ${limit}` };
  }
  return { ok: true, value };
}

// Binary multiples, as operators mean when they write "10MB" for a body limit.
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
const SIZE = /^(\d{1,12})(B|KB|MB|GB)$/i;

/** A size in bytes; a bare integer counts as bytes. */
export function parseSize(input: unknown): Parsed<number> {
  if (typeof input === "number" && Number.isSafeInteger(input) && input >= 0)
    return { ok: true, value: input };
  const match = typeof input === "string" ? SIZE.exec(input.trim()) : null;
  if (!match) return { ok: false, message: `${show(input)} is not a size (use e.g. 512KB, 10MB, 1GB)` };
  const value = Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(value)) return { ok: false, message: `${show(input)} is too large` };
  return { ok: true, value };
}

export interface Rate {
  /** Events allowed per `perMs`. */
  count: number;
  perMs: number;
}

const RATE_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000 };
const RATE = /^(\d{1,9})\/(s|m|h)$/;

export function parseRate(input: unknown): Parsed<Rate> {
  const match = typeof input === "string" ? RATE.exec(input.trim()) : null;
  if (!match || Number(match[1]) === 0) {
    return { ok: false, message: `${show(input)} is not a rate (use e.g. 10/s, 600/m, 1000/h)` };
  }
  return { ok: true, value: { count: Number(match[1]), perMs: RATE_UNITS[match[2]!]! } };
}

/** Quote a user value for an error message, bounded so hostile input cannot flood the output. */
export function show(value: unknown): string {
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (value === null || value === undefined) text = String(value);
  else if (typeof value === "object") text = Array.isArray(value) ? "a list" : "a mapping";
  else text = String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
