/**
 * The text fields of a `multipart/form-data` body prefix (RFC 7578), for edge detection: parsed
 * by @fastify/busboy, files skipped unread. The prefix is what edge detection kept of the body
 * (at most BODY_SCAN_BYTES), so it is often cut mid-part: the fields before the cut are checked,
 * and so is the start of the one it cut.
 *
 * busboy hands over the last field only after the input has ended, a tick later, so the result
 * comes through a callback. It is called exactly once, and nothing here throws: a hostile body
 * (no boundary, broken part headers, endless parts) yields the fields found until the parser gave up.
 */
import { Busboy, type BusboyInstance } from "@fastify/busboy";
import { NAME_MAX } from "./parameters.ts";

/** Most fields looked at in one body (its files do not count). */
export const MULTIPART_FIELDS_MAX = 1000;

export interface MultipartField {
  /** At most NAME_MAX characters. */
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
  const finish = () => {
    if (called) return;
    called = true;
    done(fields);
  };
  let parser: BusboyInstance;
  try {
    parser = new Busboy({
      headers: { "content-type": contentType },
      limits: {
        fieldNameSize: NAME_MAX * 4,
        fieldSize: body.length,
        fields: MULTIPART_FIELDS_MAX,
        parts: MULTIPART_FIELDS_MAX * 2,
        headerPairs: 32,
      },
    });
  } catch {
    // No boundary, or not multipart after all: nothing to look at.
    finish();
    return;
  }
  // busboy calls these from its own stream events, where a throw would end the process: a part
  // without a name arrives with `name` undefined.
  parser.on("field", (name: unknown, value: unknown) => {
    if (typeof value !== "string" || fields.length >= MULTIPART_FIELDS_MAX) return;
    fields.push({ name: (typeof name === "string" ? name.slice(0, NAME_MAX) : "") || "*", value });
  });
  parser.on("file", (_name: unknown, file: NodeJS.ReadableStream) => {
    // Not read, but drained: busboy waits for each file stream to be consumed. Its own errors
    // (a part cut short) are the parser's too, and end up below.
    file.on("error", () => {});
    file.resume();
  });
  parser.on("finish", finish);
  parser.on("close", finish);
  // A cut body ends in an error, and busboy hands over the field it cut after it: wait a turn.
  parser.on("error", () => setImmediate(finish));
  try {
    parser.end(body);
  } catch {
    finish();
  }
}
