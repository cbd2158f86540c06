/**
 * Detection at the edge (DESIGN 3.3) through a real Gatehouse process in front of a real app:
 * attacks in the query, the body, the method and the status become events on channel "edge"
 * (gatehouse_events_total{channel="edge"}), cross policy thresholds and get their sender blocked,
 * a guessing run that ends in a login is a success; ordinary traffic raises nothing, and hostile
 * input leaves the process answering.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { type Client, client, rawExchange } from "../helpers/client.ts";
import { type FakeApp, fakeApp, readBody } from "../helpers/fake-app.ts";
import { type GatehouseProcess, policyFile, startGatehouse } from "../helpers/gatehouse.ts";
import { metric } from "../helpers/prometheus.ts";
import { waitFor } from "../helpers/wait.ts";

const POLICY = `
mode: enforce
responses:
  log: { action: log }
  block-ip: { action: block, scope: ip, duration: 10m }
detectionPoints:
  CIE1:
    threshold: { count: 2, within: 1m }
    per: ip
    responses: [block-ip]
  IE1:
    threshold: { count: 1000, within: 1m }
    per: ip
    responses: [log]
edge:
  detect: [RE2, RE3, RE7, EE1, CIE3, CIE4, IE1, CIE1, IE3, ACE3, AE2, AE3, FIO1, HT2, HT3]
  routes:
    - { route: "POST /login", login: { failureStatus: [401], guessing: { failures: 5, within: 10m } } }
  honeyTraps:
    routes: ["GET /.env"]
    tokens: ["7f3a9c-canary-token"]
  limits: { paramLength: 2048, bodyBytes: 64KB }
`;

describe("detection at the edge", () => {
  let app: FakeApp;
  let gh: GatehouseProcess;
  const clients: Client[] = [];
  const from = (n: number) => {
    const c = client(gh.proxyUrl, { localAddress: `127.0.0.${n}` });
    clients.push(c);
    return c;
  };
  const edge = async (detectionPoint: string, outcome = "attempt") =>
    metric(await gh.metrics(), "gatehouse_events_total", {
      channel: "edge",
      detection_point: detectionPoint,
      outcome,
    }) ?? 0;
  const edgeTotal = async () => {
    let sum = 0;
    for (const line of (await gh.metrics()).split("\n"))
      if (line.startsWith('gatehouse_events_total{channel="edge"'))
        sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    return sum;
  };

  before(async () => {
    app = await fakeApp(async (req, res) => {
      const body = (await readBody(req)).toString();
      if (req.url === "/login" && req.method === "POST") {
        if (body.includes("password=right")) {
          res.writeHead(302, { location: "/", "set-cookie": "sid=fresh; HttpOnly" });
          res.end();
        } else {
          res.writeHead(401, { "content-type": "text/plain" });
          res.end("wrong password");
        }
        return;
      }
      if (req.url === "/.env" || req.url?.startsWith("/missing")) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`ok ${body.length}`);
    });
    gh = await startGatehouse({ upstream: app.upstream, args: ["--policy", policyFile(POLICY)] });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gh?.kill();
    await app?.close();
  });

  it("raises IE1 from the query and still forwards the request", async () => {
    const reply = await from(2).send("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    assert.equal(reply.status, 200);
    assert.equal(await waitFor(async () => (await edge("IE1")) === 1, "IE1 on /metrics"), true);
  });

  it("raises CIE1 from an urlencoded body, and blocks the sender once the threshold is crossed", async () => {
    const attacker = from(3);
    const post = (user: string) =>
      attacker.send("/profile", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `user=${encodeURIComponent(user)}&note=hi`,
      });
    assert.equal((await post("admin' or '1'='1")).status, 200);
    assert.equal((await post("x' union select password from users--")).status, 200);
    await waitFor(async () => (await edge("CIE1")) >= 2, "two CIE1 events");
    await waitFor(async () => (await attacker.send("/")).status === 403, "the block on 127.0.0.3");
    // Another address is not blocked.
    assert.equal((await from(4).send("/")).status, 200);
  });

  it("raises IE1 from a multipart form field, not from an uploaded file, and forwards the body whole", async () => {
    const before = await edge("IE1");
    const b = "gatehouse-form";
    const form = (file: string, bio: string) =>
      `--${b}\r\nContent-Disposition: form-data; name="avatar"; filename="page.html"\r\n` +
      `Content-Type: text/html\r\n\r\n${file}\r\n` +
      `--${b}\r\nContent-Disposition: form-data; name="bio"\r\n\r\n${bio}\r\n--${b}--\r\n`;
    const send = (body: string) =>
      from(12).send("/profile", {
        method: "POST",
        headers: { "content-type": `multipart/form-data; boundary=${b}` },
        body,
      });
    // An HTML upload is the app's business: no event for the script inside the file.
    const upload = form("<script>document.title='x'</script>", "I like HTML");
    const plain = await send(upload);
    assert.equal(plain.status, 200);
    assert.equal(plain.text, `ok ${Buffer.byteLength(upload)}`, "the app received the whole body");
    const attack = form("plain file", '<img src=x onerror="alert(1)">');
    assert.equal((await send(attack)).status, 200);
    await waitFor(async () => (await edge("IE1")) > before, "IE1 from the bio field");
    assert.equal(await edge("IE1"), before + 1, "one IE1 in all: none from the uploaded file");
  });

  it("sees a guessing run end in a login: five AE2 attempts, then an AE2 success", async () => {
    const guesser = from(5);
    const login = (password: string) =>
      guesser.send("/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `user=alice&password=${password}`,
      });
    for (let i = 0; i < 5; i++) assert.equal((await login(`guess${i}`)).status, 401);
    assert.equal((await login("right")).status, 302);
    await waitFor(async () => (await edge("AE2")) === 5, "five failed logins");
    await waitFor(async () => (await edge("AE2", "success")) === 1, "one login after guessing");
    const line = gh.logs.find(
      (l) => l.msg === "detection event" && l.detectionPoint === "AE2" && l.outcome === "success",
    );
    assert.equal(line?.channel, "edge");
  });

  it("raises HT2 (attempt) for a decoy route, ACE3 for its 404, HT3 (success) for a decoy token", async () => {
    const c = from(6);
    assert.equal((await c.send("/.env")).status, 404);
    assert.equal((await c.send("/account?ref=7f3a9c-canary-token")).status, 200);
    await waitFor(async () => (await edge("HT2")) === 1, "HT2");
    await waitFor(async () => (await edge("ACE3")) >= 1, "ACE3");
    await waitFor(async () => (await edge("HT3", "success")) === 1, "HT3 success");
  });

  it("raises RE2 and RE3 from the method", async () => {
    const c = from(7);
    await c.send("/files", { method: "PROPFIND" as never });
    await c.send("/login");
    await waitFor(async () => (await edge("RE2")) === 1, "RE2");
    await waitFor(async () => (await edge("RE3")) === 1, "RE3");
  });

  it("counts a chunked body past bodyBytes as FIO1 and forwards all of it", async () => {
    const c = from(8);
    const body = Readable.from(Array.from({ length: 20 }, () => Buffer.alloc(8192, 97)));
    const reply = await c.send("/upload", { method: "POST", body });
    assert.equal(reply.text, `ok ${20 * 8192}`);
    await waitFor(async () => (await edge("FIO1")) === 1, "FIO1");
  });

  it("raises nothing for ordinary traffic", async () => {
    const c = from(9);
    const start = await edgeTotal();
    const targets = [
      "/",
      "/search?q=O%27Brien",
      "/search?q=d%27Artagnan",
      "/search?q=rug+5%27+x+10%27",
      "/search?q=I+%3C3+it",
      "/search?q=select+a+union+rep",
      `/search?q=${"long+search+".repeat(60)}`,
      "/r?next=https%3A%2F%2Fexample.com%2Fa%3Fq%3D1%2520b",
    ];
    for (let round = 0; round < 10; round++) {
      for (const t of targets) assert.equal((await c.send(t)).status, 200, t);
      const json = await c.send("/api/notes", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          name: "Miles O'Brien",
          note: "**bold** `code`\n```\na || b\n```",
          html: "<b>hi</b>",
        }),
      });
      assert.equal(json.status, 200);
    }
    assert.equal(await edgeTotal(), start);
  });

  it("survives hostile input and keeps answering", async () => {
    const c = from(10);
    const hostile = [
      "/x?q=%",
      "/x?q=%zz%ff%c0%ae",
      `/x?${Array.from({ length: 1500 }, (_, i) => `p${i}=%27+or+1%3D1`).join("&")}`,
      `/x?q=${"'".padEnd(10_000, " ")}or`,
      `/x?${"n".repeat(8000)}=v`,
    ];
    for (const t of hostile) {
      const reply = await c.send(t);
      assert.ok(
        reply.status === 200 || reply.status === 431 || reply.status === 414,
        `${t.slice(0, 40)} → ${reply.status}`,
      );
    }
    for (const body of ["{", '{"a":"\\ud800"}', "[".repeat(50_000), Buffer.from([0xff, 0xfe, 0x00, 0x01])]) {
      await c.send("/api", { method: "POST", headers: { "content-type": "application/json" }, body });
    }
    const raw = await rawExchange(
      gh.proxy,
      "GET /x?a=%00%0d%0a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(raw.status, 200);
    assert.ok(gh.alive());
    assert.equal((await from(11).send("/")).status, 200);
  });
});
