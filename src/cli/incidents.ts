/**
 * `gatehouse incidents`: the incidents a running Gatehouse knows (DESIGN sections 6 and 7),
 * through its admin API at the `adminListen` setting (with `adminToken` when one is set), most
 * recently active first. Flags mirror the API's filters; the API validates them and this command
 * names each one it refused. Exit 0 on success, 1 when the API refused or could not be reached,
 * 2 on a usage mistake.
 */
import { formatProblem } from "../config/load.ts";
import { adminClient, type CommandIo, cell, defaultIo, renderTable } from "./admin-client.ts";
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
export type IncidentsIo = CommandIo;

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
  const api = adminClient(loaded.config.adminListen, loaded.config.adminToken, say, (f) => `--${f}`);
  const answer = await api("GET", `/v1/incidents${query.size > 0 ? `?${query}` : ""}`);
  if (answer === null) return 1;
  const incidents = Array.isArray(answer.incidents) ? (answer.incidents as Record<string, unknown>[]) : [];
  if (output === "json") io.out(JSON.stringify(answer, null, 2));
  else if (incidents.length === 0) io.out("no incidents");
  else for (const line of table(incidents)) io.out(line);
  return 0;
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
  return renderTable(COLUMNS, rows);
}
