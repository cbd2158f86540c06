/**
 * The scenario suite's ground truth: without Gatehouse in front, each hole of the demo app really
 * is exploitable and each safe twin really is not. If one of these fails, the scenarios would be
 * asserting "success" for an exploit that no longer works (or "attempt" for one that does).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, client } from "../helpers/client.ts";
import {
  ACCOUNTS,
  HONEYTOKENS,
  PASSWD_LINE,
  startVulnerableApp,
  type VulnerableApp,
} from "./vulnerable-app.ts";

const XSS = "<script>alert(document.cookie)</script>";
const form = (fields: Record<string, string>) => ({
  method: "POST" as const,
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

describe("the vulnerable demo app, on its own", () => {
  let app: VulnerableApp;
  let c: Client;

  before(async () => {
    app = await startVulnerableApp();
    c = client(app.upstream);
  });
  after(async () => {
    await c?.close();
    await app?.close();
  });

  it("reflects a script raw on /search and encoded on /safe/search", async () => {
    const raw = await c.send(`/search?q=${encodeURIComponent(XSS)}`);
    assert.equal(raw.status, 200);
    assert.ok(raw.text.includes(XSS));
    const safe = await c.send(`/safe/search?q=${encodeURIComponent(XSS)}`);
    assert.equal(safe.status, 200);
    assert.ok(!safe.text.includes("<script>"));
    assert.ok(safe.text.includes("&#60;script&#62;"));
  });

  it("shows SQLite's error for a broken injection on /items, and nothing on /safe/items", async () => {
    const broken = await c.send(`/items?id=${encodeURIComponent("1' OR '1'='1")}`);
    assert.equal(broken.status, 500);
    assert.match(broken.text, /ERR_SQLITE_ERROR: near .*syntax error/);
    const safe = await c.send(`/safe/items?id=${encodeURIComponent("1' OR '1'='1")}`);
    assert.equal(safe.status, 404);
  });

  it("lets a UNION read the canary record through /items, and not through /safe/items", async () => {
    const union = encodeURIComponent("0 UNION SELECT id, value, 0 FROM secrets");
    const dumped = await c.send(`/items?id=${union}`);
    assert.equal(dumped.status, 200);
    assert.ok(dumped.text.includes(HONEYTOKENS.record));
    const safe = await c.send(`/safe/items?id=${union}`);
    assert.equal(safe.status, 404);
    assert.ok(!safe.text.includes(HONEYTOKENS.record));
  });

  it("reads the sandbox's passwd through /files, and refuses it on /safe/files", async () => {
    const read = await c.send(`/files?name=${encodeURIComponent("../etc/passwd")}`);
    assert.equal(read.status, 200);
    assert.ok(read.text.startsWith(PASSWD_LINE));
    const safe = await c.send(`/safe/files?name=${encodeURIComponent("../etc/passwd")}`);
    assert.equal(safe.status, 404);
    assert.equal((await c.send("/safe/files?name=readme.txt")).status, 200);
  });

  it("never reads outside its temporary directory, however deep the traversal", async () => {
    for (const name of ["../../../../../../etc/passwd", "/etc/passwd", "..", "../..", "a\u0000b"]) {
      const reply = await c.send(`/files?name=${encodeURIComponent(name)}`);
      assert.equal(reply.status, 404, name);
    }
  });

  it("signs in with form or JSON, answers 401 otherwise, and names the user and the decoy", async () => {
    const ok = await c.send("/login", form({ username: "admin", password: ACCOUNTS.admin }));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["gatehouse-user"], "admin");
    assert.match(String(ok.headers["set-cookie"]), /^sid=[0-9a-f]{32}; /);
    assert.equal(ok.headers["gatehouse-event"], undefined);
    const wrong = await c.send("/login", form({ username: "admin", password: "admin" }));
    assert.equal(wrong.status, 401);
    const decoy = await c.send("/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: HONEYTOKENS.account, password: ACCOUNTS[HONEYTOKENS.account] }),
    });
    assert.equal(decoy.status, 200);
    assert.match(String(decoy.headers["gatehouse-event"]), /^HT3;outcome=success;/);
  });

  it("survives hostile bodies: broken JSON, JSON that is not an object, oversized forms", async () => {
    const hostile = [
      { type: "application/json", body: "{not json" },
      { type: "application/json", body: "[1,2,3]" },
      { type: "application/json", body: '{"username":{"$ne":null},"password":{"$ne":null}}' },
      { type: "application/x-www-form-urlencoded", body: `username=${"a".repeat(100_000)}` },
    ];
    for (const { type, body } of hostile) {
      const reply = await c.send("/login", { method: "POST", headers: { "content-type": type }, body });
      assert.ok(
        reply.status === 400 || reply.status === 401,
        `${type} ${body.slice(0, 40)}: ${reply.status}`,
      );
    }
    assert.equal((await c.send("/")).status, 200, "still serving");
  });

  it("stores comments and shows them HTML-encoded", async () => {
    const posted = await c.send("/comments", form({ author: "Dara O'Brien", text: "<b>great</b> lantern" }));
    assert.equal(posted.status, 200);
    assert.ok(posted.text.includes("Dara O&#39;Brien"));
    assert.ok(posted.text.includes("&#60;b&#62;great&#60;/b&#62;"));
  });
});
