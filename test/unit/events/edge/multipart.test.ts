/**
 * The text fields of a multipart/form-data body prefix: what edge detection checks. Hostile and
 * broken bodies give what could be read, and the callback always runs exactly once.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  MULTIPART_PARTS_MAX,
  type MultipartField,
  multipartFields,
} from "../../../../src/events/edge/multipart.ts";
import { NAME_MAX } from "../../../../src/events/edge/parameters.ts";
import { deferred, within } from "../../../helpers/wait.ts";

const B = "----boundary";
const TYPE = `multipart/form-data; boundary=${B}`;

function part(name: string, value: string, filename?: string): string {
  const file = filename === undefined ? "" : `; filename="${filename}"`;
  return `--${B}\r\nContent-Disposition: form-data; name="${name}"${file}\r\n\r\n${value}\r\n`;
}

/** The fields, and how many times the callback ran (a second call would have come by the end). */
async function fields(
  body: string | Buffer,
  type = TYPE,
): Promise<{ fields: MultipartField[]; calls: number }> {
  let calls = 0;
  const first = deferred<MultipartField[]>();
  multipartFields(typeof body === "string" ? Buffer.from(body) : body, type, (f) => {
    calls++;
    first.resolve(f);
  });
  const got = await within(first.promise, 5000, "the fields");
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

  it("gives nothing, once, for garbage, an empty body or parts without a disposition", async () => {
    for (const [body, type] of [
      ["not multipart at all", TYPE],
      ["", TYPE],
      [`--${B}\r\n\r\n\r\n`.repeat(100), TYPE],
    ] as const) {
      assert.deepEqual(await fields(body, type), { fields: [], calls: 1 }, JSON.stringify(body.slice(0, 40)));
    }
  });

  it("gives a body it cannot split (no boundary) back as one text", async () => {
    const body = `${part("a", "<script>")}--${B}--\r\n`;
    assert.deepEqual(await fields(body, "multipart/form-data"), {
      fields: [{ name: "*", value: body }],
      calls: 1,
    });
  });

  it("takes a part without a name for a field with an empty name", async () => {
    const body = `--${B}\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--${B}--\r\n`;
    assert.deepEqual(await fields(body), { fields: [{ name: "", value: "no name" }], calls: 1 });
  });

  it("reads a field as the app's framework would, not as busboy alone would", async () => {
    const headed = (headers: string, value: string) => `--${B}\r\n${headers}\r\n\r\n${value}\r\n`;
    const body = [
      // Not a file without a filename, whatever its type (busboy alone would skip it).
      headed(
        'Content-Disposition: form-data; name="a"\r\nContent-Type: application/octet-stream',
        "' OR 1=1",
      ),
      // Its bytes as sent (busboy alone would re-encode them as base64).
      headed(
        'Content-Disposition: form-data; name="b"\r\nContent-Type: text/plain; charset=base64',
        "<script>",
      ),
      // More header lines before the disposition than busboy reads by default (2000).
      headed(`${"X: y\r\n".repeat(2001)}Content-Disposition: form-data; name="c"`, "deep"),
      // An empty file name is a value to Go's ReadForm, not a file.
      headed('Content-Disposition: form-data; name="d"; filename=""', "<svg onload=x>"),
      `--${B}--\r\n`,
    ].join("");
    assert.deepEqual((await fields(body)).fields, [
      { name: "a", value: "' OR 1=1" },
      { name: "b", value: "<script>" },
      { name: "c", value: "deep" },
      { name: "d", value: "<svg onload=x>" },
    ]);
  });

  it("reads the boundary the parser reads, whatever else the Content-Type says", async () => {
    const body = `${part("q", "<script>")}--${B}--\r\n`;
    const decoy = `multipart/form-data; x="; boundary=fake"; boundary=${B}`;
    assert.deepEqual((await fields(body, decoy)).fields, [{ name: "q", value: "<script>" }]);
  });

  it("splits only the first parts, and gives what follows back as one text", async () => {
    const many = Array.from({ length: MULTIPART_PARTS_MAX * 4 }, (_, i) => part(`f${i}`, "v")).join("");
    const { fields: got } = await fields(`${many}--${B}--\r\n`);
    const named = got.filter((f) => f.name !== "*");
    assert.equal(named.length, MULTIPART_PARTS_MAX);
    assert.deepEqual(
      named.map((f) => f.name),
      Array.from({ length: MULTIPART_PARTS_MAX }, (_, i) => `f${i}`),
    );
    const rest = got.filter((f) => f.name === "*");
    assert.equal(rest.length, 1);
    assert.match(
      rest[0]!.value,
      new RegExp(`name="f${MULTIPART_PARTS_MAX * 4 - 1}"`),
      "the last part is in the text",
    );
    // Empty parts are parts too: a payload behind thousands of them is still in what comes back.
    const padded = `${`--${B}\r\n\r\n\r\n`.repeat(6000)}${part("x", "<script>")}--${B}--\r\n`;
    assert.ok((await fields(padded)).fields.some((f) => f.value.includes("<script>")));
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
    const structured = fc.array(fragment, { maxLength: 40 }).map((parts) => parts.join(""));
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
      structured.map((text) => Buffer.from(text)),
      // Cut anywhere, as the scanned prefix cuts a body.
      fc
        .tuple(structured, fc.nat())
        .map(([text, at]) => Buffer.from(text).subarray(0, at % (text.length + 1))),
    );
    const types = fc.constantFrom(
      TYPE,
      "multipart/form-data",
      'multipart/form-data; boundary="a b"',
      `multipart/form-data; x="; boundary=fake"; boundary=${B}`,
      `multipart/form-data; boundary=${"x".repeat(300)}`,
      `multipart/form-data; boundary=${B}; boundary=${B}x`,
    );
    await fc.assert(
      fc.asyncProperty(body, types, async (bytes, type) => {
        const { calls } = await fields(bytes, type);
        assert.equal(calls, 1);
      }),
      { numRuns: 200 },
    );
  });
});
