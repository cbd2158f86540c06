/**
 * What a response body is, from its headers alone: whether text signatures can apply to it,
 * whether it is HTML (where a reflected payload runs), and how it is compressed. Decided once per
 * response, before the first byte is scanned.
 */
import type { ResponseHeaders } from "../../forward/interceptors/pass-through-handler.ts";

export type Encoding = "identity" | "gzip" | "deflate" | "br" | "other";

export interface BodyKind {
  /** Text signatures (errors, file content, decoy tokens) apply. */
  text: boolean;
  /** A reflected payload would be parsed as markup by a browser. */
  html: boolean;
  encoding: Encoding;
  /** Content-Length, or null when the body is chunked or the header is not a plain number. */
  length: number | null;
}

// Media types whose bodies are text an app may leak through: structured data as much as pages.
const TEXT_TYPES = new Set([
  "application/json",
  "application/xml",
  "application/javascript",
  "application/ecmascript",
  "application/x-javascript",
  "application/x-ndjson",
  "application/x-www-form-urlencoded",
  "application/problem+json",
  "application/graphql-response+json",
  "application/xhtml+xml",
  "application/yaml",
  "application/x-yaml",
  "application/sql",
  "application/x-sh",
  "application/x-httpd-php",
]);

export function bodyKind(headers: ResponseHeaders): BodyKind {
  const type = mediaType(headers["content-type"]);
  // No Content-Type: browsers sniff such a body, and one that looks like HTML is rendered as HTML.
  const html = type === "" || type === "text/html" || type === "application/xhtml+xml";
  const text =
    type === "" ||
    type.startsWith("text/") ||
    TEXT_TYPES.has(type) ||
    type.endsWith("+json") ||
    type.endsWith("+xml");
  return { text, html, encoding: encodingOf(headers["content-encoding"]), length: lengthOf(headers) };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `text/HTML; charset=utf-8` → `text/html`; "" when absent. */
export function mediaType(value: string | string[] | undefined): string {
  const raw = first(value);
  if (raw === undefined) return "";
  const semi = raw.indexOf(";");
  return (semi === -1 ? raw : raw.slice(0, semi)).trim().toLowerCase();
}

function encodingOf(value: string | string[] | undefined): Encoding {
  const raw = Array.isArray(value) ? value.join(",") : value;
  if (raw === undefined) return "identity";
  const codings = raw
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length === 0) return "identity";
  // Stacked codings (`gzip, br`) are rare enough that they are treated as opaque.
  if (codings.length > 1) return "other";
  const c = codings[0]!;
  if (c === "gzip" || c === "x-gzip") return "gzip";
  if (c === "deflate" || c === "br") return c;
  return "other";
}

function lengthOf(headers: ResponseHeaders): number | null {
  const raw = first(headers["content-length"]);
  if (raw === undefined || !/^\d{1,15}$/.test(raw)) return null;
  return Number(raw);
}
