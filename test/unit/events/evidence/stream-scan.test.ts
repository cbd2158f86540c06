/**
 * Scanning as bytes pass: a match split across chunks at any offset is found, while only a
 * short tail is kept between chunks (in one buffer, none for a single chunk), and decompression
 * stays bounded whatever it is fed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { boundedInflater } from "../../../../src/events/evidence/decompress.ts";
import { findNeedle, LiteralScanner, needle, Overlap } from "../../../../src/events/evidence/stream-scan.ts";

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

/** A small deterministic generator, so a failing case can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

describe("Overlap", () => {
  it("keeps exactly the stream's last `size` bytes, whatever the chunk sizes", () => {
    const next = random(7);
    for (const size of [1, 16, 100, 3072]) {
      const o = new Overlap(size, 0);
      const seen: Buffer[] = [];
      for (let i = 0; i < 300; i++) {
        const n = [0, 1, 2, size - 1, size, size + 1, Math.floor(next() * 3 * size)][i % 7]!;
        const chunk = randomBytes(Math.max(0, n));
        o.keep(chunk);
        seen.push(chunk);
        const all = Buffer.concat(seen);
        assert.deepEqual(Buffer.from(o.text(null), "latin1"), all.subarray(Math.max(0, all.length - size)));
      }
    }
  });

  it("joins the kept bytes with the next chunk's first bytes at the boundary", () => {
    const o = new Overlap(64, 8);
    assert.equal(o.junction(Buffer.from("anything")), null, "nothing kept before the first chunk");
    o.keep(Buffer.from("0123456789abcdef"));
    const j = o.junction(Buffer.from("XYZ"));
    assert.equal(j?.toString("latin1"), "89abcdefXYZ");
    assert.equal(o.boundary, 8);
    assert.equal(o.text(Buffer.from("XYZ")), "0123456789abcdefXYZ");
  });

  it("allocates nothing for a body scanned in one chunk", () => {
    const o = new Overlap(1024, 64);
    assert.equal(o.length, 0);
    assert.equal(o.text(null), "");
  });
});

describe("findNeedle", () => {
  it("agrees with Buffer.indexOf on random bodies, and where the anchor byte is everywhere", () => {
    const next = random(11);
    const alphabet = Buffer.from("ab<>(1 ");
    const pick = (n: number) =>
      Buffer.from(Array.from({ length: n }, () => alphabet[Math.floor(next() * 7)]!));
    for (let i = 0; i < 3000; i++) {
      const n = needle(pick(1 + Math.floor(next() * 12)).toString("latin1"));
      const body = pick(Math.floor(next() * 200));
      assert.equal(findNeedle(body, n), body.indexOf(n.wire, 0, "latin1") !== -1, `${n.wire} in ${body}`);
    }
    // Only the last of a thousand anchor bytes starts the needle.
    const dense = needle("((((((x");
    assert.equal(findNeedle(Buffer.from(`${"(".repeat(1000)}x`), dense), true);
    assert.equal(findNeedle(Buffer.from("(".repeat(1000)), dense), false);
  });

  it("matches UTF-8 text with the bytes it is on the wire, in any body, binary included", () => {
    const n = needle("<b>Zoë’s</b>");
    assert.equal(findNeedle(Buffer.from("x<b>Zoë’s</b>y", "utf8"), n), true);
    assert.equal(findNeedle(Buffer.from("x<b>Zoe's</b>y", "utf8"), n), false);
    for (let i = 0; i < 32; i++) assert.equal(findNeedle(randomBytes(4096), n), false);
  });
});

describe("LiteralScanner", () => {
  const tokens = ["7f3a9c-canary-ssn-000-00-0000", "backup_admin"].map(needle);

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

  it("does not look across a boundary after a chunk marked last", () => {
    const s = new LiteralScanner(tokens);
    assert.deepEqual(s.scan(Buffer.from("...backup_"), true), []);
    // A new body's first chunk, had it been the same scanner: nothing was kept to join it with.
    assert.deepEqual(s.scan(Buffer.from("admin...")), []);
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
