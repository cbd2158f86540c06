/**
 * The error-text and file-content signature sets: what careless apps really print is found,
 * ordinary pages that talk about errors are not, and hostile bodies scan in linear time.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findSignature } from "../../../../src/events/evidence/signature-scan.ts";
import {
  ERROR_TEXT,
  FILE_CONTENT,
  MAX_MATCH,
  type SignatureSet,
} from "../../../../src/events/evidence/signatures.ts";

function found(set: SignatureSet, text: string): string | null {
  const s = findSignature(set, text);
  return s === null ? null : `${s.family}: ${s.name}`;
}

describe("error text after an injection", () => {
  const leaks: [string, string][] = [
    ['Error: near "\'": syntax error', "database: SQLite"],
    ['SqliteError: unrecognized token: "\'1"', "database: SQLite"],
    ["code: 'ERR_SQLITE_ERROR', errstr: 'SQL logic error'", "database: SQLite"],
    ['ERROR:  syntax error at or near "OR"\nLINE 1: SELECT', "database: PostgreSQL"],
    ['unterminated quoted string at or near "\'1"', "database: PostgreSQL"],
    [
      "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version",
      "database: MySQL",
    ],
    ["Unknown column '1' in 'where clause'", "database: MySQL"],
    ["Unclosed quotation mark after the character string ''.", "database: SQL Server"],
    ["Incorrect syntax near '='.", "database: SQL Server"],
    ["ORA-01756: quoted string not properly terminated", "database: Oracle"],
    ["SQLSTATE[42000]: Syntax error or access violation: 1064", "database: PDO"],
    [
      "TypeError: Cannot read properties of undefined (reading 'id')\n    at getItem (/srv/app/routes/items.js:42:17)\n",
      "stack trace: Node.js",
    ],
    [
      "Error<br> &nbsp; &nbsp;at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)",
      "stack trace: Node.js",
    ],
    ["    at file:///srv/app/server.mjs:10:3", "stack trace: Node.js"],
    [
      "java.lang.NullPointerException\n\tat com.shop.ItemController.find(ItemController.java:57)",
      "stack trace: Java",
    ],
    ['Traceback (most recent call last):\n  File "/srv/app.py", line 12, in view', "stack trace: Python"],
    [
      "<b>Warning</b>:  mysqli_query() expects parameter 1 in <b>/var/www/item.php</b> on line <b>12</b>",
      "stack trace: PHP",
    ],
    ["   at Shop.Items.Find(String id) in C:\\src\\Items.cs:line 88", "stack trace: .NET"],
    ["app/models/item.rb:14:in `find'", "stack trace: Ruby"],
    ["goroutine 1 [running]:\nmain.main()", "stack trace: Go"],
    ["jinja2.exceptions.UndefinedError: 'user' is undefined", "template: Jinja2"],
    ["django.template.exceptions.TemplateSyntaxError: Invalid block tag", "template: Jinja2/Django"],
    ["FreeMarker template error (DEBUG mode; use RETHROW in production!)", "template: FreeMarker"],
    ["Twig\\Error\\SyntaxError: Unexpected token", "template: Twig"],
  ];
  for (const [text, expected] of leaks) {
    it(`finds ${expected} in ${JSON.stringify(text.slice(0, 40))}`, () => {
      assert.equal(found(ERROR_TEXT, text), expected);
    });
  }

  const ordinary = [
    "<p>If the form shows a syntax error, check the date format.</p>",
    "<h1>Error</h1><p>Something went wrong. Please try again.</p>",
    "We are near the station; meet at 5pm at the cafe.",
    "<p>Look at the photos at /gallery and the notes at /notes.</p>",
    "O'Brien's SQL course: SELECT * FROM items WHERE id = 1",
    '{"error":"not found","status":404}',
    "Quoted string: 'hello' and Oracle databases are discussed in chapter 3.",
    "## Traceback\nA traceback is what Python prints when...",
  ];
  for (const text of ordinary) {
    it(`finds nothing in ${JSON.stringify(text.slice(0, 40))}`, () => {
      assert.equal(found(ERROR_TEXT, text), null);
    });
  }
});

describe("file content after a traversal", () => {
  const leaks: [string, string][] = [
    ["root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:", "file: /etc/passwd"],
    ["root:$6$abc$def:19000:0:99999:7:::", "file: /etc/shadow"],
    ["[boot loader]\ntimeout=30", "file: boot.ini"],
    ["; for 16-bit app support\n[fonts]", "file: win.ini"],
    ["-----BEGIN RSA PRIVATE KEY-----\nMIIE", "file: private key"],
    ["-----BEGIN OPENSSH PRIVATE KEY-----", "file: private key"],
    ["-----BEGIN PRIVATE KEY-----", "file: private key"],
    ["APP_ENV=production\nDB_PASSWORD=hunter2", "file: .env"],
    ["DATABASE_URL=postgres://app:pw@db/app", "file: .env"],
    ["[default]\naws_secret_access_key = abc", "file: AWS credentials"],
    ["[core]\n\trepositoryformatversion = 0", "file: .git/config"],
    ["<?php\n$db = new PDO(", "file: PHP source"],
  ];
  for (const [text, expected] of leaks) {
    it(`finds ${expected}`, () => assert.equal(found(FILE_CONTENT, text), expected));
  }

  const ordinary = [
    "<p>The root user has uid 0; see /etc/passwd(5).</p>",
    "<p>Rotate your private keys every year.</p>",
    "-----BEGIN PUBLIC KEY-----\nMIIB",
    "Set DB_PASSWORD in your environment (see the docs).",
    "<p>Use a boot loader such as GRUB.</p>",
  ];
  for (const text of ordinary) {
    it(`finds nothing in ${JSON.stringify(text.slice(0, 40))}`, () => {
      assert.equal(found(FILE_CONTENT, text), null);
    });
  }
});

describe("hostile bodies", () => {
  // Each would make a careless pattern backtrack: long runs of what a signature starts with.
  const hostile = [
    "at ".repeat(40_000),
    `at ${"a".repeat(120_000)}`,
    `at x (${"/".repeat(120_000)}`,
    `near "${"x".repeat(120_000)}`,
    `${"a.".repeat(60_000)}(`,
    `File "${'"'.repeat(120_000)}`,
    `-----BEGIN ${"A ".repeat(60_000)}`,
    "\u0000\xff".repeat(60_000),
  ];
  for (const [i, text] of hostile.entries()) {
    it(`scans hostile body ${i} (${text.length} characters) without a match or a stall`, () => {
      assert.equal(findSignature(ERROR_TEXT, text), null);
      assert.equal(findSignature(FILE_CONTENT, text), null);
    });
  }

  it("keeps every match within MAX_MATCH characters, the overlap kept between chunks", () => {
    const longest = `at ${"f".repeat(199)} (/${"p".repeat(296)}.js:1234567:1234567)`;
    assert.ok(findSignature(ERROR_TEXT, longest));
    assert.ok(longest.length <= MAX_MATCH, `${longest.length} > ${MAX_MATCH}`);
  });
});
