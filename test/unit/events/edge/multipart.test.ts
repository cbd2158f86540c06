/**
 * The text fields of a multipart/form-data body prefix: what edge detection checks. Hostile and
 * broken bodies give what could be read, and the callback always runs exactly once.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  MULTIPART_FIELDS_MAX,
  type MultipartField,
  multipartFields,
} from "../../../../src/events/edge/multipart.ts";
import { NAME_MAX } from "../../../../src/events/edge/parameters.ts";

const B = "----boundary";
const TYPE = `multipart/form-data; boundary=${B}`;

function part(name: string, value: string, filename?: string): string {
  const file = filename === undefined ? "" : `; filename="${filename}"`;
  return `--${B}\r\nContent-Disposition: form-data; name="${name}"${file}\r\n\r\n${value}\r\n`;
}

/** The fields, and how many times the callback ran (after the parser's last tick). */
async function fields(
  body: string | Buffer,
  type = TYPE,
): Promise<{ fields: MultipartField[]; calls: number }> {
  let calls = 0;
  let got: MultipartField[] = [];
  multipartFields(typeof body === "string" ? Buffer.from(body) : body, type, (f) => {
    calls++;
    got = f;
  });
  await new Promise((r) => setTimeout(r, 5));
  return { fields: got, calls };
}

describe("multipart fields", () => {
  it("returns every text field in order, skips files, and decodes UTF-8", async () => {
    const body = `${part("a", "1")}${part("doc", "<script>", "x.html")}${part("city", "Zürich")}--${B}--\r\n`;
    assert.deepEqual(await fields(body), {
      fields: [
        { name: "a", value: "1" },
        { name: "city", value: "Zürich" },
      ],
      calls: 1,
    });
  });

  it("gives the fields before a cut, and the start of the field it cut", async () => {
    const body = `${part("a", "first")}${part("b", "second half")}`;
    const { fields: got, calls } = await fields(body.slice(0, body.length - 7));
    assert.equal(calls, 1);
    assert.deepEqual(got, [
      { name: "a", value: "first" },
      { name: "b", value: "second" },
    ]);
  });

  it("gives nothing, once, for a type without a boundary, garbage or an empty body", async () => {
    for (const [body, type] of [
      [`${part("a", "1")}--${B}--\r\n`, "multipart/form-data"],
      ["not multipart at all", TYPE],
      ["", TYPE],
      [`--${B}\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--${B}--\r\n`, TYPE],
      [`--${B}\r\n${"X-Header: y\r\n".repeat(5000)}\r\nvalue\r\n--${B}--\r\n`, TYPE],
    ] as const) {
      const { calls } = await fields(body, type);
      assert.equal(calls, 1, `one callback for ${JSON.stringify(body.slice(0, 40))}`);
    }
  });

  it("bounds the fields looked at and the length of their names", async () => {
    const many = Array.from({ length: MULTIPART_FIELDS_MAX + 50 }, (_, i) => part(`f${i}`, "v")).join("");
    const { fields: got } = await fields(`${many}--${B}--\r\n`);
    assert.equal(got.length, MULTIPART_FIELDS_MAX);
    const long = await fields(`${part("n".repeat(1000), "v")}--${B}--\r\n`);
    assert.ok((long.fields[0]?.name.length ?? 0) <= NAME_MAX);
  });

  it("never throws and always answers once, whatever the bytes", async () => {
    const fragment = fc.constantFrom(
      `--${B}\r\n`,
      `--${B}--\r\n`,
      'Content-Disposition: form-data; name="a"\r\n',
      'Content-Disposition: form-data; name="f"; filename="x"\r\n',
      "Content-Type: text/plain; charset=utf-16\r\n",
      "Content-Transfer-Encoding: base64\r\n",
      "\r\n",
      "\r",
      "value",
      "\u0000\uffff",
    );
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
      fc.array(fragment, { maxLength: 40 }).map((parts) => Buffer.from(parts.join(""))),
    );
    await fc.assert(
      fc.asyncProperty(body, async (bytes) => {
        const { calls } = await fields(bytes);
        assert.equal(calls, 1);
      }),
      { numRuns: 200 },
    );
  });
});
