/**
 * Reading a replicated map's snapshot out of Redis (replicated-map-scripts.ts has the layout):
 * the index in ZSCAN pages, the values of each page with one MGET.
 *
 * ZSCAN rather than ZRANGE: it returns every member present for the whole scan (members added or
 * removed meanwhile may or may not come, and their messages, newer than the version read before
 * the scan, are applied after it), never holds Redis for long, and needs no offsets that a
 * concurrent change would shift. A member may come twice; the map is keyed, so that is harmless.
 *
 * Round trips overlap: the next page's ZSCAN and this page's MGET are sent before the previous
 * page is decoded, so Redis works while this process decodes (a million entries is a thousand
 * pages of a few milliseconds each on both sides).
 *
 * The index's size (ZCARD, sent with the first ZSCAN: no round trip of its own) is told before the
 * first page, so the local store can make room for the whole map once: columns that double as
 * they fill leave their old copies to the garbage collector, and a million decisions loaded that
 * way peaked at twice the memory they needed (issue 5). The count includes members that expired
 * and were not pruned yet; it is a hint.
 */
import type { MapClient, MapKeys } from "./replicated-map-scripts.ts";

/** Pages whose values are asked for before the oldest of them is decoded. */
const PAGES_AHEAD = 3;

/** One page: index members, the stored text of each (null: the key is gone), and their `until`. */
export interface SnapshotPage {
  keys: string[];
  texts: (string | null)[];
  untils: number[];
}

export interface SnapshotOptions {
  /** Members scored at or before it are expired: not fetched. */
  now: () => number;
  /** Members per page. */
  count: number;
  /** Bounds each command (the map's command timeout). */
  timeout: <T>(promise: Promise<T>) => Promise<T>;
  /** Told the index's member count (ZCARD) once, before the first page. */
  size?: (members: number) => void;
}

/** Calls `page` for every page of the index, in scan order, and resolves when the scan is done. */
export async function readSnapshot(
  client: MapClient,
  keys: MapKeys,
  options: SnapshotOptions,
  page: (p: SnapshotPage) => void,
): Promise<void> {
  // Sent ahead and awaited later: a handler now, so a rejection meanwhile is not "unhandled".
  const ahead = <T>(promise: Promise<T>): Promise<T> => {
    const bounded = options.timeout(promise);
    bounded.catch(() => {});
    return bounded;
  };
  const scanFrom = (cursor: string) => ahead(client.zscan(keys.index, cursor, "COUNT", options.count));
  const queued: { keys: string[]; untils: number[]; texts: Promise<(string | null)[]> }[] = [];
  const tell = options.size;
  const size = tell ? ahead(client.zcard(keys.index)) : null;
  let scan: Promise<[string, string[]]> | null = scanFrom("0");
  if (tell && size) tell(Number(await size) || 0);
  while (scan || queued.length > 0) {
    // Keep Redis PAGES_AHEAD pages ahead of the decoding.
    while (scan && queued.length < PAGES_AHEAD) {
      const [cursor, flat]: [string, string[]] = await scan;
      scan = cursor === "0" ? null : scanFrom(cursor);
      const now = options.now();
      const members: string[] = [];
      const untils: number[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const until = Number(flat[i + 1]);
        if (until > now) {
          members.push(flat[i]!);
          untils.push(until);
        }
      }
      if (members.length > 0)
        queued.push({ keys: members, untils, texts: ahead(client.mget(members.map((m) => keys.entry + m))) });
    }
    const next = queued.shift();
    if (next) page({ keys: next.keys, untils: next.untils, texts: await next.texts });
  }
}

/** The current text and `until` of a few keys (NaN: not in the index). */
export async function readEntries(
  client: MapClient,
  keys: MapKeys,
  members: string[],
  timeout: <T>(promise: Promise<T>) => Promise<T>,
): Promise<SnapshotPage> {
  const pipeline = client.pipeline();
  for (const m of members) pipeline.get(keys.entry + m).zscore(keys.index, m);
  const replies = (await timeout(pipeline.exec())) ?? [];
  const out: SnapshotPage = { keys: members, texts: [], untils: [] };
  members.forEach((_, i) => {
    const [err1, text] = replies[2 * i] ?? [new Error("no reply"), null];
    const [err2, score] = replies[2 * i + 1] ?? [new Error("no reply"), null];
    if (err1 || err2) throw err1 ?? err2;
    out.texts.push(typeof text === "string" ? text : null);
    out.untils.push(score === null ? Number.NaN : Number(score));
  });
  return out;
}

/** Drop index members whose entry is gone, unless it has come back (PRUNE_LUA). Best effort. */
export async function pruneIndex(client: MapClient, keys: MapKeys, members: string[]): Promise<void> {
  for (let from = 0; from < members.length; from += 500) {
    const part = members.slice(from, from + 500);
    await client
      .ghMapPrune(String(part.length + 1), keys.index, ...part.map((m) => keys.entry + m), ...part)
      .catch(() => {});
  }
}
