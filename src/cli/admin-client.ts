/**
 * What the commands that talk to a running Gatehouse's admin API share (`decisions`,
 * `incidents`): one call that says why it failed (each field the API named), where to connect
 * for a listen address, and tables with bounded, escaped cells.
 */
import type { Address } from "../config/types.ts";

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const defaultIo: CommandIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

const REQUEST_TIMEOUT_MS = 10_000;

export type AdminCall = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<Record<string, unknown> | null>;

/**
 * Calls the API; on any failure prints why through `say` and resolves to null. `field` names a
 * field the API refused as the user wrote it (a query parameter is a command's `--flag`).
 */
export function adminClient(
  address: Address,
  token: string | null,
  say: (message: string) => void,
  field: (name: string) => string = (name) => name,
): AdminCall {
  const base = `http://${connectHost(address.host)}:${address.port}`;
  return async function call(method, path, body) {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause ?? (err as Error);
      say(
        `cannot reach the admin API at ${base} (${cause.message}); is gatehouse serve running there? ` +
          "Set --admin-listen (GATEHOUSE_ADMIN_LISTEN) to its admin address",
      );
      return null;
    }
    const text = await res.text().catch(() => "");
    let answer: Record<string, unknown> = {};
    try {
      answer = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      // Not JSON: not a Gatehouse admin API; reported by status below.
    }
    if (res.ok) return answer;
    const detail = typeof answer.detail === "string" ? answer.detail : `${text.slice(0, 200)}`;
    say(`the admin API answered ${res.status}: ${detail}`);
    if (Array.isArray(answer.errors)) {
      for (const e of answer.errors as { field?: unknown; message?: unknown }[]) {
        say(`  ${field(cell(e.field))}: ${cell(e.message)}`);
      }
    }
    if (res.status === 401) say("  pass the admin token with --admin-token (GATEHOUSE_ADMIN_TOKEN)");
    return null;
  };
}

/** Where to connect for a listen address: a wildcard means this host. */
export function connectHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

const MAX_CELL = 48;

/**
 * Text for one cell, bounded and with control characters escaped: reasons, user names and
 * evidence come from whoever could call the API or attack the app, and a terminal would obey
 * escape sequences in them.
 */
export function cell(value: unknown, max = MAX_CELL): string {
  const text = (
    typeof value === "string" ? value : value === undefined || value === null ? "-" : String(value)
  )
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters escaped
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** Aligned columns under a header, one row a line; the last column is not padded. */
export function renderTable(columns: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns), ...rows.map(line)];
}
