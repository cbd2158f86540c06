/**
 * `gatehouse decisions list|add|delete`: manual decisions through a running Gatehouse's admin
 * API (DESIGN section 7), at the `adminListen` setting, with `adminToken` when one is set. The
 * API does the validating; this command builds the body, prints what comes back, and names each
 * field the API refused. Exit 0 on success, 1 when the API refused or could not be reached, 2
 * on a usage mistake.
 */
import { formatProblem } from "../config/load.ts";
import { adminClient, type CommandIo, cell, defaultIo, renderTable } from "./admin-client.ts";
import type { ParsedArgs } from "./args.ts";
import { loadFromArgs } from "./load.ts";

export const DECISIONS_OPTIONS = {
  ip: { type: "string" },
  range: { type: "string" },
  user: { type: "string" },
  session: { type: "string" },
  route: { type: "string", multiple: true },
  action: { type: "string" },
  duration: { type: "string" },
  until: { type: "string" },
  rate: { type: "string" },
  status: { type: "string" },
  delay: { type: "string" },
  reason: { type: "string" },
  origin: { type: "string" },
  limit: { type: "string" },
  output: { type: "string", short: "o" },
} as const;

type Option = keyof typeof DECISIONS_OPTIONS;
const SCOPE_FLAGS = ["ip", "range", "user", "session"] as const;
const FOR_ADD: readonly Option[] = [
  ...SCOPE_FLAGS,
  "route",
  "action",
  "duration",
  "until",
  "rate",
  "status",
  "delay",
  "reason",
  "output",
];
const FOR_SUB: Record<string, readonly Option[]> = {
  list: [...SCOPE_FLAGS, "action", "origin", "limit", "output"],
  add: FOR_ADD,
  delete: [],
};
export type DecisionsIo = CommandIo;

export async function decisionsCommand(
  args: ParsedArgs,
  io: DecisionsIo = defaultIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [, sub, ...rest] = args.positionals;
  const usage = (message: string) => {
    io.err(`gatehouse decisions: ${message}`);
    io.err(
      "Usage: gatehouse decisions list | add [--ip ADDR|--range CIDR|--user NAME|--session HASH] | delete ID",
    );
    return 2;
  };
  if (sub === undefined || !(sub in FOR_SUB)) {
    return usage(sub === undefined ? "say list, add or delete" : `unknown subcommand ${JSON.stringify(sub)}`);
  }
  for (const name of Object.keys(args.options)) {
    if (name in DECISIONS_OPTIONS && !FOR_SUB[sub]!.includes(name as Option)) {
      return usage(`--${name} is not an option of decisions ${sub}`);
    }
  }
  if (sub === "delete" ? rest.length !== 1 : rest.length > 0) {
    return usage(
      sub === "delete" ? "delete takes one decision id" : `unexpected argument ${JSON.stringify(rest[0])}`,
    );
  }
  const output = opt(args, "output") ?? "table";
  if (output !== "table" && output !== "json") return usage('-o takes "table" or "json"');
  const scopes = SCOPE_FLAGS.filter((s) => opt(args, s) !== undefined);
  if (scopes.length > 1)
    return usage("give at most one of --ip, --range, --user, --session (none: scope global)");

  const loaded = loadFromArgs(args, env);
  if (!loaded.ok) {
    for (const problem of loaded.problems) io.err(formatProblem(problem));
    io.err("gatehouse decisions: the configuration has problems; fix them or pass --admin-listen");
    return 1;
  }
  const api = adminClient(loaded.config.adminListen, loaded.config.adminToken, (message) =>
    io.err(`gatehouse decisions ${sub}: ${message}`),
  );
  const scope = scopes[0];
  switch (sub) {
    case "list": {
      const query = new URLSearchParams();
      for (const name of ["action", "origin", "limit"] as const) {
        const v = opt(args, name);
        if (v !== undefined) query.set(name, v);
      }
      if (scope) {
        query.set("scope", scope);
        query.set("value", opt(args, scope)!);
      }
      const body = await api("GET", `/v1/decisions${query.size > 0 ? `?${query}` : ""}`);
      if (!body) return 1;
      const decisions = (body as { decisions: Record<string, unknown>[] }).decisions;
      // The replica could not read Redis: the table has no reasons (the JSON carries the warning).
      const warning = (body as { warning?: unknown }).warning;
      if (typeof warning === "string" && output !== "json")
        io.err(`gatehouse decisions list: ${cell(warning, 400)}`);
      if (output === "json") io.out(JSON.stringify(body, null, 2));
      else if (decisions.length === 0) io.out("no live decisions");
      else for (const line of table(decisions)) io.out(line);
      return 0;
    }
    case "add": {
      const decision = await api("POST", "/v1/decisions", addBody(args, scope));
      if (!decision) return 1;
      if (output === "json") io.out(JSON.stringify(decision, null, 2));
      else for (const line of table([decision])) io.out(line);
      return 0;
    }
    default: {
      const id = rest[0]!;
      if ((await api("DELETE", `/v1/decisions/${encodeURIComponent(id)}`)) === null) return 1;
      io.out(`decision ${id} deleted`);
      return 0;
    }
  }
}

function opt(args: ParsedArgs, name: Option): string | undefined {
  const v = args.options[name];
  return typeof v === "string" ? v : undefined;
}

/** The POST body: only what was given, so the API names what is missing for the action. */
function addBody(args: ParsedArgs, scope: (typeof SCOPE_FLAGS)[number] | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = { action: opt(args, "action") ?? "block", scope: scope ?? "global" };
  if (scope) body.value = opt(args, scope);
  const routes = args.options.route;
  if (Array.isArray(routes)) body.routes = routes;
  const until = opt(args, "until");
  if (until !== undefined) body.until = until;
  if (until === undefined || opt(args, "duration") !== undefined)
    body.duration = opt(args, "duration") ?? "1h";
  for (const name of ["rate", "delay", "reason"] as const) {
    const v = opt(args, name);
    if (v !== undefined) body[name] = v;
  }
  const status = opt(args, "status");
  if (status !== undefined) body.status = /^\d{1,9}$/.test(status) ? Number(status) : status;
  return body;
}

const COLUMNS = ["ID", "ACTION", "SCOPE", "VALUE", "UNTIL", "ORIGIN", "REASON"] as const;
/** Aligned columns, one decision a line, under a header. */
export function table(decisions: readonly Record<string, unknown>[]): string[] {
  const rows = decisions.map((d) => [
    cell(d.id, Number.POSITIVE_INFINITY),
    cell(d.action),
    cell(d.scope),
    cell(d.value),
    cell(d.until),
    cell(d.origin),
    cell(reasonText(d)),
  ]);
  return renderTable(COLUMNS, rows);
}

/** An operator's text, or what the policy answered with (detection point or rule → response). */
function reasonText(d: Record<string, unknown>): string {
  const r = (d.reason ?? {}) as Record<string, unknown>;
  if (typeof r.text === "string") return r.text;
  const cause = [r.detectionPoint, r.rule].find((v) => typeof v === "string");
  const parts = [cause, r.response].filter((v) => typeof v === "string");
  return parts.join(" -> ");
}
