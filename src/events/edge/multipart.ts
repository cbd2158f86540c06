/**
 * The text fields of a `multipart/form-data` body prefix (RFC 7578), for edge detection: parsed
 * by @fastify/busboy, files skipped unread. The prefix is what edge detection kept of the body
 * (at most BODY_SCAN_BYTES), so it is often cut mid-part: the fields before the cut are checked,
 * and so is the start of the one it cut.
 *
 * What counts as a field is what the app's framework would take for one: every part without a
 * `filename`, whatever its Content-Type (busboy alone would call an `application/octet-stream`
 * part a file), its bytes read as UTF-8 whatever charset it names (busboy would re-encode a part
 * that says `charset=base64`, and hide the payload from the checks).
 *
 * Only the first MULTIPART_PARTS_MAX parts are parsed: the parser's cost is per part, and 64 KiB
 * of empty parts would otherwise hold the event loop for a tenth of a second.
 *
 * busboy hands over the last part only after the input has ended, a tick later, so the result
 * comes through a callback. It is called exactly once, and nothing here throws: a hostile body
 * (no boundary, broken part headers, endless parts) yields the fields found until the parser gave up.
 */
import { Busboy, type BusboyInstance } from "@fastify/busboy";
import { NAME_MAX } from "./parameters.ts";

/** Most parts (fields and files) parsed in one body. */
export const MULTIPART_PARTS_MAX = 256;

export interface MultipartField {
  /** At most NAME_MAX characters; empty for a part without a name. */
  name: string;
  value: string;
}

/** The `boundary` parameter of a multipart Content-Type, or null. */
export function boundaryOf(contentType: string): string | null {
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;"]{1,200}))/i.exec(contentType);
  return m === null ? null : (m[1] ?? m[2] ?? null);
}

/** `body` up to its delimiter number MULTIPART_PARTS_MAX + 1 (the rest is never parsed). */
function firstParts(body: Buffer, boundary: string): Buffer {
  const delimiter = `--${boundary}`;
  let at = -1;
  for (let n = 0; n <= MULTIPART_PARTS_MAX; n++) {
    at = body.indexOf(delimiter, at + 1, "latin1");
    if (at === -1) return body;
  }
  return body.subarray(0, at);
}

export function multipartFields(
  body: Buffer,
  contentType: string,
  done: (fields: MultipartField[]) => void,
): void {
  const fields: MultipartField[] = [];
  let called = false;
  // A turn later: busboy may still hand over the part it was reading when it stopped.
  const finish = () =>
    setImmediate(() => {
      if (called) return;
      called = true;
      done(fields);
    });
  const boundary = boundaryOf(contentType);
  let parser: BusboyInstance;
  try {
    if (boundary === null) throw new Error("no boundary");
    parser = new Busboy({
      headers: { "content-type": contentType },
      // Every part comes as a stream; which of them are files is decided below.
      isPartAFile: () => true,
      limits: { parts: MULTIPART_PARTS_MAX, files: MULTIPART_PARTS_MAX },
    });
  } catch {
    // No boundary, one busboy refuses, or not multipart after all: nothing to look at.
    finish();
    return;
  }
  // busboy calls these from its own stream events, where a throw would end the process.
  parser.on("file", (name: unknown, part: NodeJS.ReadableStream, filename: unknown) => {
    part.on("error", () => {});
    if (filename !== undefined) {
      part.resume(); // drained unread: busboy waits for every part to be consumed
      return;
    }
    const chunks: Buffer[] = [];
    let kept = false;
    const keep = () => {
      if (kept) return;
      kept = true;
      const text = Buffer.concat(chunks).toString("utf8");
      fields.push({ name: typeof name === "string" ? name.slice(0, NAME_MAX) : "", value: text });
    };
    part.on("data", (chunk: Buffer) => chunks.push(chunk));
    part.on("end", keep);
    part.on("close", keep);
  });
  parser.on("finish", finish);
  parser.on("close", finish);
  parser.on("error", finish);
  try {
    parser.end(firstParts(body, boundary));
  } catch {
    finish();
  }
}
