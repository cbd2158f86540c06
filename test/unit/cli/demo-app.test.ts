/**
 * The demo app on its own (no Gatehouse in front): what it reports for each detection point the
 * tour relies on, and that hostile input (oversized, malformed, forged) gets an answer, never a
 * crash or a detection it should not raise.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { ALICE_ORDER, createDemoApp, DEMO_USER, HONEYTOKEN_USER } from "../../../src/cli/demo-app.ts";
import { type Client, client } from "../../helpers/client.ts";

let server: Server;
let app: Client;
let origin: string;

before(async () => {
  server = createDemoApp();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  app = client(origin);
});

after(async () => {
  await app.close();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
});

const form = (fields: Record<string, string>) => ({
  method: "POST" as const,
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

async function signIn(
  name: string,
  password: string,
): Promise<{ cookie: string; status: number; event: unknown }> {
  const res = await app.send("/login", form({ username: name, password }));
  const cookie = String(res.headers["set-cookie"] ?? "").split(";")[0]!;
  return { cookie, status: res.status, event: res.headers["gatehouse-event"] };
}

describe("demo app: detection points", () => {
  it("a wrong password is 401 with AE2 and no user; the right one signs in and names the user", async () => {
    const wrong = await app.send("/login", form({ username: DEMO_USER.name, password: "nope" }));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers["gatehouse-event"], 'AE2;detail="wrong user or password"');
    assert.equal(wrong.headers["gatehouse-user"], undefined);
    assert.equal(wrong.headers["set-cookie"], undefined);
    const right = await app.send("/login", form({ username: DEMO_USER.name, password: DEMO_USER.password }));
    assert.equal(right.status, 200);
    assert.equal(right.headers["gatehouse-user"], DEMO_USER.name);
    assert.equal(right.headers["gatehouse-event"], undefined);
    assert.match(String(right.headers["set-cookie"]), /^sid=[0-9a-f]{32}; Path=\/; HttpOnly; SameSite=Lax$/);
  });

  it("the honeytoken account signs in as a real one would, reported as HT3 outcome success", async () => {
    const page = await app.send("/login");
    assert.match(
      page.text,
      /<!-- TODO before launch: delete the backup login backup_admin \/ letmein-2019 -->/,
    );
    const { status, event, cookie } = await signIn(HONEYTOKEN_USER.name, HONEYTOKEN_USER.password);
    assert.equal(status, 200);
    assert.equal(event, 'HT3;outcome=success;detail="honeytoken account backup_admin signed in"');
    const account = await app.send("/account", { headers: { cookie } });
    assert.match(account.text, /Signed in as backup_admin/);
    const tried = await signIn(HONEYTOKEN_USER.name, "guess");
    assert.equal(tried.status, 401);
    assert.equal(tried.event, 'AE2, HT3;detail="honeytoken account tried"');
  });

  it("markup in a comment is refused with IE1 and shown encoded; plain text is posted", async () => {
    const { cookie } = await signIn(DEMO_USER.name, DEMO_USER.password);
    const refused = await app.send("/comments", {
      ...form({ text: `<script>alert("x")</script>` }),
      headers: { ...form({}).headers, cookie },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.headers["gatehouse-event"], 'IE1;detail="markup in a comment"');
    assert.equal(refused.headers["gatehouse-user"], DEMO_USER.name);
    assert.ok(!refused.text.includes("<script"), "nothing typed runs in the page");
    assert.match(refused.text, /&#60;script&#62;alert\(&#34;x&#34;\)&#60;\/script&#62;/);
    const posted = await app.send("/comments", {
      ...form({ text: "O'Brien says hi" }),
      headers: { ...form({}).headers, cookie },
    });
    assert.equal(posted.status, 200);
    assert.equal(posted.headers["gatehouse-event"], undefined);
    const account = await app.send("/account", { headers: { cookie } });
    assert.match(account.text, /O&#39;Brien says hi/);
  });

  it("someone else's order, a missing one and /admin are ACE3; alice's own order is not", async () => {
    const { cookie } = await signIn(DEMO_USER.name, DEMO_USER.password);
    const own = await app.send(`/orders/${ALICE_ORDER}`, { headers: { cookie } });
    assert.equal(own.status, 200);
    assert.equal(own.headers["gatehouse-event"], undefined);
    const anonymous = await app.send(`/orders/${ALICE_ORDER}`);
    assert.equal(anonymous.status, 404);
    assert.equal(anonymous.headers["gatehouse-event"], 'ACE3;detail="an order of another customer"');
    for (const path of ["/orders/999999", "/orders/abc", "/orders/", "/orders/%00"]) {
      const res = await app.send(path, { headers: { cookie } });
      assert.equal(res.status, 404, path);
      assert.equal(res.headers["gatehouse-event"], 'ACE3;detail="no such order"', path);
    }
    const admin = await app.send("/admin");
    assert.equal(admin.status, 403);
    assert.equal(admin.headers["gatehouse-event"], 'ACE3;detail="admin area"');
    // A plain missing page is not force browsing: broken links happen to everyone.
    const missing = await app.send("/favicon.ico");
    assert.equal(missing.status, 404);
    assert.equal(missing.headers["gatehouse-event"], undefined);
  });
});

describe("demo app: hostile input", () => {
  it("forged, malformed and oversized cookies are no session", async () => {
    for (const cookie of [
      "sid=0123456789abcdef0123456789abcdef",
      "sid=",
      "sid",
      "=;=;;",
      "sid=../../etc/passwd",
      `sid=${"a".repeat(10_000)}`,
      `x=${"y".repeat(9000)}; sid=0123456789abcdef0123456789abcdef`,
    ]) {
      const res = await app.send("/account", { headers: { cookie } });
      assert.equal(res.status, 401, cookie.slice(0, 40));
      assert.equal(res.headers["gatehouse-user"], undefined);
    }
  });

  it("a form body over 16 KiB is refused with 413 and the connection closed", async () => {
    const res = await app.send("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `username=alice&password=${"x".repeat(20_000)}`,
    });
    assert.equal(res.status, 413);
    assert.equal(res.headers.connection, "close");
    const still = await app.send("/");
    assert.equal(still.status, 200, "the app keeps serving");
  });

  it("malformed encodings, missing fields and odd methods get answers, not crashes", async () => {
    const cases: [string, Parameters<Client["send"]>[1], number][] = [
      ["/login", { method: "POST", body: "%zz=%&&&==&username=%E0%A4%A&password" }, 400],
      ["/login", { method: "POST", body: "" }, 400],
      ["/login", { method: "POST", body: "username=alice" }, 400],
      ["/login", { method: "POST", body: `username=${"\u0000".repeat(100)}&password=x` }, 401],
      ["/comments", { method: "POST", body: "text=<b>" }, 401],
      ["/login", { method: "DELETE" }, 404],
      ["/%%%/..;/", { method: "GET" }, 404],
    ];
    for (const [path, options, status] of cases) {
      const res = await app.send(path, options);
      assert.equal(res.status, status, `${options?.method} ${path} ${String(options?.body).slice(0, 30)}`);
    }
  });

  it("a client that drops the connection mid-body leaves the app serving", async () => {
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.write("POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nusername=al");
        socket.destroy();
        resolve();
      });
    });
    const res = await app.send("/login");
    assert.equal(res.status, 200);
  });

  it("a long comment is cut to 500 characters, and only the last 20 comments are kept", async () => {
    const { cookie } = await signIn(DEMO_USER.name, DEMO_USER.password);
    const headers = { "content-type": "application/x-www-form-urlencoded", cookie };
    for (let i = 0; i < 25; i++) {
      const text = i === 24 ? "z".repeat(2000) : `comment ${i}`;
      const res = await app.send("/comments", {
        method: "POST",
        headers,
        body: new URLSearchParams({ text }).toString(),
      });
      assert.equal(res.status, 200);
    }
    const page = await app.send("/account", { headers: { cookie } });
    assert.equal((page.text.match(/<li>/g) ?? []).length, 20);
    assert.ok(page.text.includes(`${"z".repeat(500)}</li>`));
    assert.ok(!page.text.includes("z".repeat(501)));
    assert.ok(!page.text.includes("comment 4<"), "the oldest are gone");
  });
});
