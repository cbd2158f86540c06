/**
 * Value types of settings: each turns a raw value (from YAML, or text from a flag or the
 * environment) into its runtime form, or says what is wrong. Pure functions, no side effects.
 */
import { type Cidr, parseCidrList } from "../actor/cidr.ts";
import { parseRedisUrl } from "./redis-url.ts";
import { type Parsed, parseDuration, parseSize, show } from "./units.ts";

export interface ValueType<T> {
  /** Shown in `--help` and the docs. */
  hint: string;
  /** Whether the type is a list (repeatable flag, comma list in the environment). */
  list?: boolean;
  /** A secret is never echoed back in an error message or `check` summary. */
  secret?: boolean;
  parse(raw: unknown, fromText: boolean): Parsed<T>;
}

export interface Address {
  host: string;
  port: number;
}

export type Upstream =
  | { kind: "http"; origin: string; text: string }
  | { kind: "unix"; path: string; text: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function validHost(host: string): boolean {
  if (IPV4.test(host)) return host.split(".").every((o) => Number(o) <= 255);
  if (host.includes(":")) return parseCidrList([host]).errors.length === 0;
  return HOSTNAME.test(host);
}

/** `host:port`, `[v6]:port` or `:port` (all interfaces). Port 0 picks a free port. */
export const address: ValueType<Address> = {
  hint: "HOST:PORT",
  parse(raw) {
    if (typeof raw !== "string")
      return fail(`${show(raw)} is not an address (use HOST:PORT, e.g. 0.0.0.0:8080)`);
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(raw.trim());
    const host = match ? (match[1] ?? match[2] ?? "") : "";
    const port = match ? Number(match[3]) : Number.NaN;
    if (!match || port > 65535)
      return fail(`${show(raw)} is not an address (use HOST:PORT, e.g. 0.0.0.0:8080)`);
    if (host !== "" && !validHost(host)) return fail(`${show(raw)} has an invalid host ${show(host)}`);
    return ok({ host: host === "" ? "0.0.0.0" : host, port });
  },
};

export const upstream: ValueType<Upstream> = {
  hint: "URL",
  parse(raw) {
    const usage = "use http://HOST:PORT or unix:/path/to/app.sock";
    if (typeof raw !== "string") return fail(`${show(raw)} is not an upstream (${usage})`);
    const text = raw.trim();
    if (text.startsWith("unix:")) {
      const path = text.slice(5);
      if (!path.startsWith("/") || path.length > 107) {
        return fail(`${show(raw)} is not a Unix socket path (absolute, at most 107 bytes)`);
      }
      return ok({ kind: "unix", path, text });
    }
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return fail(`${show(raw)} is not an upstream (${usage})`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return fail(`${show(raw)} has scheme ${show(url.protocol)}; ${usage}`);
    }
    if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash || url.username) {
      return fail(`${show(raw)} must be an origin without path, query or credentials (${usage})`);
    }
    return ok({ kind: "http", origin: url.origin, text: url.origin });
  },
};

export function enumOf<T extends string>(values: readonly T[]): ValueType<T> {
  return {
    hint: values.join("|"),
    parse(raw) {
      return values.includes(raw as T)
        ? ok(raw as T)
        : fail(`${show(raw)} is not one of ${values.join(", ")}`);
    },
  };
}

export const duration: ValueType<number> = { hint: "DURATION", parse: (raw) => parseDuration(raw) };
export const size: ValueType<number> = { hint: "SIZE", parse: parseSize };

/** A size from 0 to `max` bytes; `0` where a setting says it means "off". */
export function sizeUpTo(max: number, maxText: string): ValueType<number> {
  return {
    hint: "SIZE",
    parse(raw, fromText) {
      // From a flag or the environment a byte count is text: `0` (off) must be writable there too.
      const value = fromText && typeof raw === "string" && /^\d{1,12}$/.test(raw.trim()) ? Number(raw) : raw;
      const parsed = parseSize(value);
      if (parsed.ok && parsed.value > max) return fail(`${show(raw)} is more than ${maxText}`);
      return parsed;
    },
  };
}

/** `on` or `off` (YAML booleans too, as people write them either way). */
export const onOff: ValueType<boolean> = {
  hint: "on|off",
  parse(raw) {
    if (raw === true || raw === "on" || raw === "true") return ok(true);
    if (raw === false || raw === "off" || raw === "false") return ok(false);
    return fail(`${show(raw)} is not on or off`);
  },
};

export function integer(min: number, max: number): ValueType<number> {
  return {
    hint: "N",
    parse(raw, fromText) {
      const value = fromText && typeof raw === "string" && /^\d{1,9}$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        return fail(`${show(raw)} is not a whole number from ${min} to ${max}`);
      }
      return ok(value);
    },
  };
}

export function text(pattern: RegExp, what: string, options: { secret?: boolean } = {}): ValueType<string> {
  return {
    hint: "TEXT",
    secret: options.secret ?? false,
    parse(raw) {
      if (typeof raw === "string" && pattern.test(raw)) return ok(raw);
      return fail(options.secret ? `the value is not ${what}` : `${show(raw)} is not ${what}`);
    },
  };
}

function listOf<T>(item: (raw: unknown) => Parsed<T>, hint: string): ValueType<T[]> {
  return {
    hint,
    list: true,
    parse(raw, fromText) {
      const items = fromText && typeof raw === "string" ? splitList(raw) : raw;
      if (!Array.isArray(items)) return fail(`${show(raw)} is not a list`);
      const out: T[] = [];
      for (const [i, entry] of items.entries()) {
        const parsed = item(entry);
        if (!parsed.ok) return fail(`item ${i}: ${parsed.message}`);
        out.push(parsed.value);
      }
      return ok(out);
    },
  };
}

export function splitList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function stringList(pattern: RegExp, what: string): ValueType<string[]> {
  return listOf(
    (raw) => (typeof raw === "string" && pattern.test(raw) ? ok(raw) : fail(`${show(raw)} is not ${what}`)),
    "LIST",
  );
}

export const cidrList: ValueType<Cidr[]> = {
  hint: "CIDR,...",
  list: true,
  parse(raw, fromText) {
    const items = fromText && typeof raw === "string" ? splitList(raw) : raw;
    if (!Array.isArray(items)) return fail(`${show(raw)} is not a list of IP addresses or CIDRs`);
    const { cidrs, errors } = parseCidrList(items as string[]);
    if (errors.length > 0) return fail(errors.map((e) => `item ${e.index}: ${e.message}`).join("; "));
    return ok(cidrs);
  },
};

export const redisUrl: ValueType<string> = {
  hint: "URL",
  secret: true,
  parse(raw) {
    if (typeof raw !== "string") return fail("the value is not a Redis URL");
    try {
      parseRedisUrl(raw);
      return ok(raw);
    } catch (err) {
      // parseRedisUrl's messages never include the password.
      return fail(`the value is not a Redis URL (${(err as Error).message})`);
    }
  },
};

/** An http(s) URL, e.g. a callback Gatehouse POSTs to. Credentials in it are never echoed. */
export const httpUrl: ValueType<string> = {
  hint: "URL",
  parse(raw) {
    try {
      if (typeof raw === "string") {
        const url = new URL(raw);
        if (url.protocol === "http:" || url.protocol === "https:") return ok(url.toString());
      }
    } catch {
      // reported below
    }
    return fail(`${typeof raw === "string" ? "the value" : show(raw)} is not an http:// or https:// URL`);
  },
};
