/**
 * Scanning as bytes pass: a match split across chunks at any offset is found, while only a
 * short tail is kept between chunks, and decompression stays bounded whatever it is fed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { boundedInflater } from "../../../../src/events/evidence/decompress.ts";
import { LiteralScanner, TextWindow, wireText } from "../../../../src/events/evidence/stream-scan.ts";

/** `body` cut into chunks at the given offsets. */
function cut(body: Buffer, ...at: number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...at, body.length]) {
    out.push(body.subarray(from, to));
    from = to;
  }
  return out;
}

describe("TextWindow", () => {
  const needle = "root:x:0:0:";
  const body = Buffer.from(`${"a".repeat(100)}${needle}${"b".repeat(100)}`);

  it("finds a match split at every offset, and one byte a chunk", () => {
    for (let at = 95; at <= 115; at++) {
      const w = new TextWindow(64);
      assert.ok(
        cut(body, at).some((c) => w.next(c).includes(needle)),
        `split at ${at}`,
      );
    }
    const w = new TextWindow(64);
    let found = false;
    for (let i = 0; i < body.length; i++) found ||= w.next(body.subarray(i, i + 1)).includes(needle);
    assert.ok(found);
  });

  it("keeps only the overlap between chunks, however large the body", () => {
    const w = new TextWindow(16);
    const big = Buffer.alloc(1024 * 1024, "x");
    const text = w.next(big);
    assert.equal(text.length, big.length);
    // The next window is the 16-byte tail plus the new chunk: nothing else was kept.
    assert.equal(w.next(Buffer.from("y")).length, 17);
  });

  it("compares UTF-8 text with the bytes it is on the wire, and reads binary bytes as they are", () => {
    const payload = "<b>Zoë’s</b>";
    const w = new TextWindow(64);
    const bytes = Buffer.from(`x${payload}y`, "utf8");
    assert.ok(cut(bytes, 6).some((c) => w.next(c).includes(wireText(payload))));
    const binary = new TextWindow(64).next(randomBytes(4096));
    assert.equal(binary.length, 4096);
  });
});

describe("LiteralScanner", () => {
  const tokens = ["7f3a9c-canary-ssn-000-00-0000", "backup_admin"].map((t) => Buffer.from(t));

  it("reports each token once, found across any chunk boundary", () => {
    const body = Buffer.from(`{"rows":[{"ssn":"7f3a9c-canary-ssn-000-00-0000"},{"u":"backup_admin"}]}`);
    for (let at = 1; at < body.length; at++) {
      const s = new LiteralScanner(tokens);
      const hits = cut(body, at).flatMap((c) => s.scan(c));
      assert.deepEqual(hits.sort(), [0, 1], `split at ${at}`);
      assert.ok(s.done);
    }
  });

  it("finds a token spread over many one-byte chunks", () => {
    const s = new LiteralScanner(tokens);
    const body = Buffer.from("...backup_admin...");
    const hits: number[] = [];
    for (let i = 0; i < body.length; i++) hits.push(...s.scan(body.subarray(i, i + 1)));
    assert.deepEqual(hits, [1]);
  });

  it("finds nothing in a body without the tokens, or in random bytes", () => {
    const s = new LiteralScanner(tokens);
    assert.deepEqual(s.scan(Buffer.from("backup_admi n and 7f3a9c-canary")), []);
    for (let i = 0; i < 64; i++) assert.deepEqual(s.scan(randomBytes(16 * 1024)), []);
  });
});

describe("boundedInflater", () => {
  const page = Buffer.from(`<html>${"<p>hello</p>".repeat(200)}near "'": syntax error</html>`);

  function inflate(
    encoding: "gzip" | "deflate" | "br",
    body: Buffer,
    maxBytes: number,
    chunk = 1000,
  ): Promise<Buffer> {
    return new Promise((resolve) => {
      const out: Buffer[] = [];
      const z = boundedInflater(
        encoding,
        maxBytes,
        maxBytes,
        (text) => out.push(Buffer.from(text)),
        () => resolve(Buffer.concat(out)),
      );
      for (let i = 0; i < body.length; i += chunk) z.write(body.subarray(i, i + chunk));
      z.end();
    });
  }

  it("decompresses gzip, deflate (zlib and raw) and br bodies fed in chunks", async () => {
    assert.deepEqual(await inflate("gzip", gzipSync(page), 1 << 20, 7), page);
    assert.deepEqual(await inflate("deflate", deflateSync(page), 1 << 20), page);
    assert.deepEqual(await inflate("deflate", deflateRawSync(page), 1 << 20), page);
    assert.deepEqual(await inflate("br", brotliCompressSync(page), 1 << 20), page);
  });

  it("stops a gzip bomb at the output bound", async () => {
    // 64 MiB of zeros: about 64 KB compressed.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const out = await inflate("gzip", bomb, 64 * 1024, 16 * 1024);
    assert.equal(out.length, 64 * 1024);
  });

  it("reads at most the input bound of a body", async () => {
    const big = gzipSync(randomBytes(512 * 1024)); // incompressible: as large compressed
    const out = await inflate("gzip", big, 32 * 1024);
    assert.ok(out.length <= 32 * 1024, `${out.length} bytes out`);
  });

  it("ends quietly on corrupt data and on a truncated body", async () => {
    assert.equal((await inflate("gzip", Buffer.from("not gzip at all"), 1 << 20)).length, 0);
    const truncated = gzipSync(page).subarray(0, 40);
    assert.ok((await inflate("gzip", truncated, 1 << 20)).length < page.length);
    // Random bytes are not brotli: decompression must end (the promise resolves), not hang or throw.
    await inflate("br", randomBytes(2048), 1 << 20);
  });
});
