/**
 * Signatures found in a stream of chunks exactly as in the whole text: wherever the chunks are
 * cut, however small they are, when the rest of a pattern arrives long after its atom, and with
 * a bounded number of pattern runs for a hostile body that repeats an atom without a match.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  findSignature,
  SIGNATURE_OVERLAP,
  SignatureScan,
} from "../../../../src/events/evidence/signature-scan.ts";
import {
  ERROR_OR_FILE,
  ERROR_TEXT,
  MAX_MATCH,
  type Signature,
  type SignatureSet,
  signatureSet,
} from "../../../../src/events/evidence/signatures.ts";
import { Overlap } from "../../../../src/events/evidence/stream-scan.ts";

/** The chunks through a SignatureScan as FlaggedScan drives it; the names found, in order. */
function stream(set: SignatureSet, chunks: Buffer[], options: { lastMarked?: boolean } = {}): string[] {
  const names: string[] = [];
  const scan = new SignatureScan(set, (s) => names.push(`${s.family}: ${s.name}`));
  const overlap = new Overlap(SIGNATURE_OVERLAP, set.atoms.longest - 1);
  chunks.forEach((chunk, i) => {
    const last = options.lastMarked === true && i === chunks.length - 1;
    scan.write(chunk, overlap.junction(chunk), overlap, last);
    if (!last) overlap.keep(chunk);
  });
  if (options.lastMarked !== true) scan.end(overlap);
  return names;
}

function pieces(body: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) out.push(body.subarray(i, i + size));
  return out;
}

const LEAKS = [
  'SqliteError: near "\'": syntax error',
  "You have an error in your SQL syntax; check the manual",
  "SQLSTATE[42000]: Syntax error or access violation: 1064",
  "ORA-01756: quoted string not properly terminated",
  "TypeError: x\n    at getItem (/srv/app/routes/items.js:42:17)\n",
  "java.lang.NullPointerException\n\tat com.shop.ItemController.find(ItemController.java:57)",
  'Traceback (most recent call last):\n  File "/srv/app.py", line 12, in view',
  "Parse error on line 1:\n{{#each}\n--------^",
  "root:x:0:0:root:/root:/bin/bash",
  "-----BEGIN OPENSSH PRIVATE KEY-----",
];

describe("SignatureScan", () => {
  it("finds each leak wherever a page of it is cut in two, and in one-byte chunks", () => {
    for (const leak of LEAKS) {
      const body = Buffer.from(
        `<html>${"<p>filler</p>".repeat(20)}${leak}${"<p>more</p>".repeat(20)}</html>`,
      );
      const whole = findSignature(ERROR_OR_FILE, body.toString("latin1"));
      assert.ok(whole, leak);
      const expected = [`${whole.family}: ${whole.name}`];
      for (let at = 1; at < body.length; at += 5) {
        assert.deepEqual(
          stream(ERROR_OR_FILE, [body.subarray(0, at), body.subarray(at)]),
          expected,
          `${leak} cut at ${at}`,
        );
      }
      assert.deepEqual(stream(ERROR_OR_FILE, pieces(body, 1)), expected, `${leak} byte by byte`);
      assert.deepEqual(
        stream(ERROR_OR_FILE, pieces(body, 7), { lastMarked: true }),
        expected,
        `${leak}, last marked`,
      );
    }
  });

  it("confirms a pattern whose rest arrives long after its atom", () => {
    // The Handlebars atom comes first; the caret that completes the match some 600 bytes later.
    const error = `Parse error on line 3:\n${"x".repeat(280)}\n${"-".repeat(280)}^`;
    const body = Buffer.from(`<pre>${error}</pre>`);
    assert.deepEqual(stream(ERROR_TEXT, pieces(body, 64)), ["template: Handlebars"]);
    assert.deepEqual(stream(ERROR_TEXT, pieces(body, 1)), ["template: Handlebars"]);
    // The match is complete only in the last chunk, which the atom's chunk did not see.
    const atomThenRest = [Buffer.from("<pre>Parse error on line 3:"), Buffer.from("\n{{x}\n---^</pre>")];
    assert.deepEqual(stream(ERROR_TEXT, atomThenRest), ["template: Handlebars"]);
    assert.deepEqual(stream(ERROR_TEXT, atomThenRest, { lastMarked: true }), ["template: Handlebars"]);
  });

  it("finds the longest match, cut anywhere", () => {
    const longest = `    at ${"f".repeat(199)} (/${"p".repeat(296)}.js:1234567:1234567)\n`;
    assert.ok(longest.length <= MAX_MATCH);
    const body = Buffer.from(`${"a".repeat(5000)}${longest}${"b".repeat(5000)}`);
    for (const size of [1, 13, 500, 1024, 1025, 4096]) {
      assert.deepEqual(stream(ERROR_TEXT, pieces(body, size)), ["stack trace: Node.js"], `chunks of ${size}`);
    }
  });

  it("reports error text and file content once each, the earliest of a chunk first", () => {
    const body = Buffer.from("at x (/srv/a.js:1:2) SQLITE_ERROR root:x:0:0: SQLITE_ERROR daemon:x:1:1:");
    assert.deepEqual(stream(ERROR_OR_FILE, [body]), ["stack trace: Node.js", "file: /etc/passwd"]);
    const reversed = Buffer.from("SQLITE_ERROR at x (/srv/a.js:1:2)");
    assert.deepEqual(stream(ERROR_TEXT, [reversed]), ["database: SQLite"]);
  });

  it("finds nothing in ordinary pages that share atoms with the signatures", () => {
    const page = Buffer.from(
      '<script src="/app.js"></script><p>See line 12 of the template: it says "near".</p><a href="x.ts:">x</a>',
    );
    assert.deepEqual(stream(ERROR_OR_FILE, pieces(page, 9)), []);
  });

  it("runs a pattern at most twice per MAX_MATCH bytes of a body that repeats its atom without a match", () => {
    let runs = 0;
    class Counting extends RegExp {
      override exec(text: string): RegExpExecArray | null {
        runs++;
        return super.exec(text);
      }
    }
    const s: Signature = {
      name: "Test",
      family: "database",
      atoms: ["ORA-"],
      pattern: new Counting("ORA-\\d{5}: "),
    };
    const set = signatureSet([s]);
    const body = Buffer.from("ORA-x ".repeat(20_000)); // 120 KB, an atom every six bytes
    for (const size of [1, 100, 16 * 1024]) {
      runs = 0;
      assert.deepEqual(stream(set, pieces(body, size)), [], `chunks of ${size}`);
      // At most once per chunk, and twice per MAX_MATCH bytes (the first run, then the one due).
      const bound = Math.min(Math.ceil(body.length / size), 2 * Math.ceil(body.length / MAX_MATCH)) + 2;
      assert.ok(runs <= bound, `chunks of ${size}: ${runs} runs, more than ${bound}`);
    }
  });
});
