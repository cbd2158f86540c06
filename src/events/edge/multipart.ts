/**
 * The text fields of a `multipart/form-data` body prefix (RFC 7578), for edge detection: parsed
 * by @fastify/busboy, files skipped unread. The prefix is what edge detection kept of the body
 * (at most BODY_SCAN_BYTES), so it is often cut mid-part: the fields before the cut are checked,
 * and so is the start of the one it cut.
 *
 * What counts as a field is what the app's framework would take for one: every part without a
 * file name (none, or an empty one), whatever its Content-Type (busboy alone would call an
 * `application/octet-stream` part a file), its bytes read as UTF-8 whatever charset it names
 * (busboy would re-encode a part that says `charset=base64`, and hide the payload).
 *
 * What the parser cannot split is not let through unseen: a body whose boundary busboy refuses,
 * and whatever follows the first MULTIPART_PARTS_MAX parts, come back as one field named `*`,
 * matched as one text (as a JSON body that does not parse is). The cap is there because the
 * parser's cost is per part: 64 KiB of empty parts would otherwise hold the event loop for a
 * tenth of a second. The body is fed to busboy in small slices, so it stops soon after the cap.
 *
 * busboy hands over the last part only after the input has ended, a tick later, so the result
 * comes through a callback. It is called exactly once, and nothing here throws.
 */
import { Busboy, type BusboyInstance } from "@fastify/busboy";
import { NAME_MAX } from "./parameters.ts";

/** Most parts (fields, files, and parts busboy skips) parsed in one body. */
export const MULTIPART_PARTS_MAX = 256;
/** Bytes handed to the parser at a time: past the cap it reads at most this much more. */
const SLICE_BYTES = 1024;

export interface MultipartField {
  /** At most NAME_MAX characters; empty for a part without a name; `*` for text not split into parts. */
  name: string;
  value: string;
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
  const unsplit = (from: number) => {
    if (from < body.length) fields.push({ name: "*", value: body.toString("utf8", from) });
  };
  let parser: BusboyInstance;
  try {
    parser = new Busboy({
      headers: { "content-type": contentType },
      // Every part comes as a stream; which of them are files is decided below.
      isPartAFile: () => true,
      limits: {
        parts: MULTIPART_PARTS_MAX,
        files: MULTIPART_PARTS_MAX,
        // Never the limit that drops a part: padding header lines must not hide a field.
        headerPairs: Math.max(body.length, 1),
      },
    });
  } catch {
    // No boundary, or one busboy refuses: the app may still split the body, so it is one text.
    unsplit(0);
    finish();
    return;
  }
  let capped = false;
  parser.on("partsLimit", () => {
    capped = true;
  });
  // busboy calls these from its own stream events, where a throw would end the process.
  parser.on("file", (name: unknown, part: NodeJS.ReadableStream, filename: unknown) => {
    part.on("error", () => {});
    if (typeof filename === "string" && filename !== "") {
      part.resume(); // an upload: drained unread, busboy waits for every part to be consumed
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
    let at = 0;
    while (at < body.length && !capped) {
      parser.write(body.subarray(at, at + SLICE_BYTES));
      at += SLICE_BYTES;
    }
    if (capped) unsplit(Math.max(at - SLICE_BYTES, 0));
    parser.end();
  } catch {
    finish();
  }
}
