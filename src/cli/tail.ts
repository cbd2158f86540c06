/**
 * `gatehouse tail`: the live feed of a running Gatehouse (DESIGN section 7), from its admin API's
 * `GET /v1/stream` at the `adminListen` setting: one line per detection event, attack, breach,
 * decision and incident as it happens on that replica, until Ctrl-C (exit 0) or the stream ends
 * (exit 1). `-o json` prints each as one JSON object with its `kind`; the default is a line for
 * people, attacker-chosen text escaped. `--kinds attack,breach` narrows it.
 */

import { parseKinds } from "../admin/live-feed.ts";
import { formatProblem } from "../config/load.ts";
import { type CommandIo, cell, connectHost, defaultIo } from "./admin-client.ts";
import type { ParsedArgs } from "./args.ts";
import { loadFromArgs } from "./load.ts";

export const TAIL_OPTIONS = {
  kinds: { type: "string" },
  output: { type: "string", short: "o" },
} as const;

export interface TailOptions {
  io?: CommandIo;
  env?: NodeJS.ProcessEnv;
  /** Ends the tail as Ctrl-C does (tests); by default SIGINT and SIGTERM. */
  signal?: AbortSignal;
}

export async function tailCommand(args: ParsedArgs, options: TailOptions = {}): Promise<number> {
  const io = options.io ?? defaultIo;
  const say = (message: string) => io.err(`gatehouse tail: ${message}`);
  const output = typeof args.options.output === "string" ? args.options.output : "text";
  if (output !== "text" && output !== "json") {
    say('-o takes "text" or "json"');
    return 2;
  }
  const kindsText = typeof args.options.kinds === "string" ? args.options.kinds : null;
  const kinds = parseKinds(kindsText);
  if (typeof kinds === "string") {
    say(`--${kinds}`);
    return 2;
  }
  const loaded = loadFromArgs(args, options.env ?? process.env);
  if (!loaded.ok) {
    for (const problem of loaded.problems) io.err(formatProblem(problem));
    say("the configuration has problems; fix them or pass --admin-listen");
    return 1;
  }
  const { adminListen, adminToken } = loaded.config;
  const url = `http://${connectHost(adminListen.host)}:${adminListen.port}/v1/stream${kindsText ? `?kinds=${encodeURIComponent(kindsText)}` : ""}`;

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (options.signal) options.signal.addEventListener("abort", onSignal, { once: true });
  else {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  try {
    let res: Response;
    try {
      res = await fetch(url, {
        headers: {
          accept: "text/event-stream",
          ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}),
        },
        signal: stop.signal,
      });
    } catch (err) {
      if (stop.signal.aborted) return 0;
      const cause = (err as Error & { cause?: Error }).cause ?? (err as Error);
      say(
        `cannot reach the admin API at ${url} (${cause.message}); is gatehouse serve running there? ` +
          "Set --admin-listen (GATEHOUSE_ADMIN_LISTEN) to its admin address",
      );
      return 1;
    }
    if (!res.ok || res.body === null) {
      const text = await res.text().catch(() => "");
      say(`the admin API answered ${res.status}: ${cell(text, 300)}`);
      return 1;
    }
    // On stderr, so that stdout stays the feed alone (for `-o json | jq`).
    say(`following ${url} (Ctrl-C to stop)`);
    const print = (kind: string, data: string) => {
      if (output === "json") {
        try {
          const value: unknown = JSON.parse(data);
          const fields =
            value !== null && typeof value === "object" && !Array.isArray(value) ? value : { data: value };
          io.out(JSON.stringify({ kind, ...fields }));
        } catch {
          io.out(JSON.stringify({ kind, data }));
        }
      } else io.out(describe(kind, data));
    };
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of res.body) {
        buffered += decoder.decode(chunk, { stream: true });
        let end = buffered.indexOf("\n\n");
        while (end !== -1) {
          const message = parseMessage(buffered.slice(0, end));
          buffered = buffered.slice(end + 2);
          if (message) print(message.kind, message.data);
          end = buffered.indexOf("\n\n");
        }
      }
    } catch (err) {
      if (stop.signal.aborted) return 0;
      say(`the stream broke: ${(err as Error).message}`);
      return 1;
    }
    if (stop.signal.aborted) return 0;
    say("the stream ended (Gatehouse stopped?)");
    return 1;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

/** One server-sent message's `event` and `data`; null for comments and keep-alives. */
export function parseMessage(block: string): { kind: string; data: string } | null {
  let kind = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") kind = value;
    else if (field === "data") data.push(value);
  }
  return data.length > 0 ? { kind, data: data.join("\n") } : null;
}

/** A line for people: time, kind, what happened; text from the request escaped and bounded. */
export function describe(kind: string, data: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    parsed = null;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return `${kind}  ${cell(data)}`;
  const d = parsed as Record<string, unknown>;
  const time = typeof d.time === "string" ? d.time.slice(11, 23) : new Date().toISOString().slice(11, 23);
  const actor = (a: unknown): string => {
    const x = (a ?? {}) as Record<string, unknown>;
    if (typeof x.scope === "string") return `${x.scope} ${cell(x.value, 80)}`;
    return [x.ip && `ip ${cell(x.ip, 60)}`, x.user && `user ${cell(x.user, 80)}`].filter(Boolean).join(" ");
  };
  const request = d.request as { method?: unknown; path?: unknown } | null | undefined;
  let what: string;
  switch (kind) {
    case "event":
      what = `${cell(d.detectionPoint, 40)} ${cell(d.outcome, 10)} ${actor(d.actor)}${request ? ` ${cell(request.method, 10)} ${cell(request.path, 120)}` : ""}${d.detail ? `: ${cell(d.detail, 200)}` : ""}`;
      break;
    case "attack":
      what = `${cell(d.detectionPoint ?? d.rule, 60)} #${cell(d.count)} ${actor(d.actor)} -> ${cell(d.response, 60)}${d.mode === "shadow" ? " (shadow)" : ""}`;
      break;
    case "breach":
      what = `${cell(d.detectionPoint, 40)} ${actor(d.actor)} ${cell(
        (Array.isArray(d.evidence) ? d.evidence : [])
          .map((e: { kind?: unknown; detail?: unknown } | null) =>
            e !== null && typeof e === "object" ? `${e.kind}: ${e.detail}` : String(e),
          )
          .join("; "),
        200,
      )}`;
      break;
    case "decision":
      what = `${cell(d.action, 20)} ${cell(d.scope, 10)} ${cell(d.value, 80)} until ${cell(d.until, 40)} (${cell(d.origin, 10)}) ${cell(d.id, 40)}`;
      break;
    case "incident":
      what = `${cell(d.id, 40)} ${cell(d.outcome, 10)} ${actor(d.actor)} events ${cell(d.events)} attacks ${cell(d.attacks)}`;
      break;
    case "dropped":
      what = `${cell(d.count)} messages missed: this terminal fell behind`;
      break;
    default:
      what = cell(data, 300);
  }
  return `${time}  ${kind.padEnd(8)}  ${what}`;
}
