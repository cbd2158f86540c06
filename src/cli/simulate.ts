/**
 * `gatehouse simulate --policy FILE --events FILE|-`: replay timestamped NDJSON events through a
 * policy offline and print attacks, decisions, breaches and notifications as NDJSON, by event
 * time (DESIGN section 7). Same loader and engine as `serve`. Event lines use the socket's event
 * shape (DESIGN 3.2) with a required `timestamp`; a bad line is reported on stderr as
 * `FILE:LINE: message`, the rest still run, and the exit code is 1.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { DetectionEvent } from "../events/event.ts";
import { validateEvent } from "../events/socket-parser.ts";
import { simulate } from "../policy/simulate.ts";
import type { ParsedArgs } from "./args.ts";
import { loadPoliciesFromArgs } from "./load.ts";

/** Longest event line accepted; the socket's own per-event bounds apply inside it. */
const MAX_LINE = 64 * 1024;

export interface SimulateIo {
  stdin: Readable;
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: SimulateIo = {
  stdin: process.stdin,
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

export async function simulateCommand(args: ParsedArgs, io: SimulateIo = defaultIo): Promise<number> {
  const source = args.options.events;
  if (typeof source !== "string") {
    io.err("gatehouse simulate: --events FILE (or - for standard input) is required");
    return 2;
  }
  const loaded = loadPoliciesFromArgs(args, io.err);
  if (!loaded) return 1;
  const name = source === "-" ? "(stdin)" : source;
  let input: Readable;
  try {
    input = source === "-" ? io.stdin : await openFile(source);
  } catch (err) {
    io.err(`gatehouse simulate: cannot read ${source}: ${(err as Error).message}`);
    return 1;
  }
  const { events, refused } = await readEvents(input, name, io.err);
  const summary = await simulate(loaded, events, (record) => io.out(JSON.stringify(record)));
  const n = (count: number, what: string) =>
    `${count} ${what}${count === 1 ? "" : what.endsWith("h") ? "es" : "s"}`;
  io.err(
    `simulated ${n(summary.events, "event")}: ${n(summary.attacks, "attack")}, ${n(summary.breaches, "breach")}, ` +
      `${n(summary.decisions, "decision")}${refused > 0 ? `; ${n(refused, "line")} refused` : ""}`,
  );
  return refused > 0 ? 1 : 0;
}

function openFile(path: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path);
    stream.once("open", () => resolve(stream));
    stream.once("error", reject);
  });
}

/** Parse NDJSON event lines; blank lines are skipped, bad ones reported with their line number. */
export async function readEvents(
  input: Readable,
  name: string,
  err: (line: string) => void,
): Promise<{ events: DetectionEvent[]; refused: number }> {
  const events: DetectionEvent[] = [];
  let refused = 0;
  let line = 0;
  const refuse = (message: string) => {
    refused++;
    // Bounded, so a file of garbage cannot flood the terminal.
    if (refused <= 100) err(`${name}:${line}: ${message}`);
    else if (refused === 101) err(`${name}: more lines refused; not showing them`);
  };
  for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (text.trim() === "") continue;
    if (text.length > MAX_LINE) {
      refuse(`line is longer than ${MAX_LINE} characters`);
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      refuse("not JSON");
      continue;
    }
    const result = validateEvent(json);
    if (!result.ok) {
      refuse(result.error);
      continue;
    }
    const e = result.event;
    if (e.timestamp === null) {
      refuse("timestamp: required for simulate (events are replayed by event time)");
      continue;
    }
    events.push({
      detectionPoint: e.detectionPoint,
      channel: "socket",
      outcome: e.outcome,
      time: e.timestamp,
      // Offline, the operator's own file: session values are shown as written, not hashed.
      actor: { ip: e.ip, session: e.session, user: e.user },
      request: e.requestId === null ? null : { id: e.requestId, method: "", path: "" },
      detail: e.detail,
      metadata: e.metadata,
    });
  }
  return { events, refused };
}
