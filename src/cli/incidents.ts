/**
 * `gatehouse incidents`: the incidents a running Gatehouse knows (DESIGN sections 6 and 7),
 * through its admin API at the `adminListen` setting (with `adminToken` when one is set), most
 * recently active first. Flags mirror the API's filters; the API validates them and this command
 * names each one it refused. Exit 0 on success, 1 when the API refused or could not be reached,
 * 2 on a usage mistake.
 */
import { formatProblem } from "../config/load.ts";
import type { Address } from "../config/types.ts";
import type { ParsedArgs } from "./args.ts";
import { loadFromArgs } from "./load.ts";

export const INCIDENTS_OPTIONS = {
  outcome: { type: "string" },
  since: { type: "string" },
  ip: { type: "string" },
  user: { type: "string" },
  limit: { type: "string" },
  output: { type: "string", short: "o" },
} as const;

const FILTERS = ["outcome", "since", "ip", "user", "limit"] as const;
const REQUEST_TIMEOUT_MS = 10_000;

export interface IncidentsIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: IncidentsIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

export async function incidentsCommand(
  args: ParsedArgs,
  io: IncidentsIo = defaultIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const say = (message: string) => io.err(`gatehouse incidents: ${message}`);
  const output = typeof args.options.output === "string" ? args.options.output : "table";
  if (output !== "table" && output !== "json") {
    say('-o takes "table" or "json"');
    return 2;
  }
  const loaded = loadFromArgs(args, env);
  if (!loaded.ok) {
    for (const problem of loaded.problems) io.err(formatProblem(problem));
    say("the configuration has problems; fix them or pass --admin-listen");
    return 1;
  }
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const v = args.options[name];
    if (typeof v === "string") query.set(name, v);
  }
  const { adminListen, adminToken } = loaded.config;
  const base = `http://${connectHost(adminListen)}`;
  let res: Response;
  try {
    res = await fetch(`${base}/v1/incidents${query.size > 0 ? `?${query}` : ""}`, {
      headers: {
        accept: "application/json",
        ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}),
      },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause ?? (err as Error);
    say(
      `cannot reach the admin API at ${base} (${cause.message}); is gatehouse serve running there? ` +
        "Set --admin-listen (GATEHOUSE_ADMIN_LISTEN) to its admin address",
    );
    return 1;
  }
  const text = await res.text().catch(() => "");
  let answer: Record<string, unknown> = {};
  try {
    answer = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    // Not JSON: reported by status below.
  }
  if (!res.ok) {
    say(
      `the admin API answered ${res.status}: ${typeof answer.detail === "string" ? answer.detail : text.slice(0, 200)}`,
    );
    for (const e of (Array.isArray(answer.errors) ? answer.errors : []) as {
      field?: unknown;
      message?: unknown;
    }[])
      say(`  --${cell(e.field)}: ${cell(e.message)}`);
    return 1;
  }
  const incidents = Array.isArray(answer.incidents) ? (answer.incidents as Record<string, unknown>[]) : [];
  if (output === "json") io.out(JSON.stringify(answer, null, 2));
  else if (incidents.length === 0) io.out("no incidents");
  else for (const line of table(incidents)) io.out(line);
  return 0;
}

function connectHost(address: Address): string {
  const host =
    address.host === "0.0.0.0" || address.host === ""
      ? "127.0.0.1"
      : address.host === "::"
        ? "[::1]"
        : address.host.includes(":")
          ? `[${address.host}]`
          : address.host;
  return `${host}:${address.port}`;
}

const COLUMNS = ["ID", "OUTCOME", "ACTOR", "LAST SEEN", "EVENTS", "ATTACKS", "DETECTION POINTS", "EVIDENCE"];

/** Aligned columns, one incident a line, under a header. */
export function table(incidents: readonly Record<string, unknown>[]): string[] {
  const rows = incidents.map((i) => {
    const actor = (i.actor ?? {}) as Record<string, unknown>;
    const evidence = Array.isArray(i.evidence) ? (i.evidence as { kind?: unknown }[]) : [];
    return [
      cell(i.id, Number.POSITIVE_INFINITY),
      cell(i.outcome),
      cell([actor.user, actor.ip].filter((v) => typeof v === "string").join(" @ ") || "-"),
      cell(i.lastSeen),
      cell(i.events),
      cell(i.attacks),
      cell(Array.isArray(i.detectionPoints) ? i.detectionPoints.join(",") : "-"),
      cell([...new Set(evidence.map((e) => e.kind))].join(",") || "-"),
    ];
  });
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(COLUMNS), ...rows.map(line)];
}

/**
 * Text for one cell, bounded and with control characters escaped: user names and evidence come
 * from attackers, and a terminal would obey escape sequences in them.
 */
function cell(value: unknown, max = 48): string {
  const text = (
    typeof value === "string" ? value : value === undefined || value === null ? "-" : String(value)
  )
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters escaped
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
