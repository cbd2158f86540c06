/**
 * GET /v1/stream, `gatehouse tail` and the dashboard against a real Gatehouse process: the app's
 * reports become events, an attack and a decision on the stream as they happen; kinds filter it;
 * sessions are redacted; `tail` prints the same as lines and JSON until SIGINT (exit 0); the
 * dashboard is one page whose script runs only under its own nonce.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { client } from "../helpers/client.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, policyFile, spawnCli, startGatehouse } from "../helpers/gatehouse.ts";
import { waitFor } from "../helpers/wait.ts";

const POLICY = `
detectionPoints:
  ACE3: { threshold: { count: 2, within: 1m }, per: ip, responses: [block-ip] }
responses:
  block-ip: { action: block, scope: ip, duration: 10m }
`;

interface Message {
  kind: string;
  data: Record<string, unknown>;
}

/** Reads server-sent messages from a stream until stopped. */
async function openStream(url: string): Promise<{ messages: Message[]; status: number; close(): void }> {
  const stop = new AbortController();
  const res = await fetch(url, { signal: stop.signal });
  const messages: Message[] = [];
  if (res.ok && res.body) {
    void (async () => {
      let buffered = "";
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) {
          buffered += decoder.decode(chunk, { stream: true });
          for (let end = buffered.indexOf("\n\n"); end !== -1; end = buffered.indexOf("\n\n")) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const kind = /^event: (.+)$/m.exec(block)?.[1];
            const data = /^data: (.+)$/m.exec(block)?.[1];
            if (kind && data) messages.push({ kind, data: JSON.parse(data) });
          }
        }
      } catch {
        // Aborted.
      }
    })();
  }
  return { messages, status: res.status, close: () => stop.abort() };
}

describe("live feed: /v1/stream, gatehouse tail, dashboard", { timeout: 60_000 }, () => {
  let app: FakeApp;
  let g: GatehouseProcess;

  before(async () => {
    app = await fakeApp((req, res) => {
      if (req.url?.startsWith("/probe")) res.setHeader("gatehouse-event", 'ACE3;detail="tried /admin"');
      res.end("ok");
    });
    g = await startGatehouse({
      upstream: app.upstream,
      args: ["--policy", policyFile(POLICY), "--trusted-proxies", "127.0.0.1/32"],
    });
  });

  after(async () => {
    await g?.kill();
    await app?.close();
  });

  it("streams the app's events, the attack they add up to and the decision it makes, as they happen", async () => {
    const all = await openStream(`${g.adminUrl}/v1/stream`);
    const attacks = await openStream(`${g.adminUrl}/v1/stream?kinds=attack`);
    try {
      assert.equal(all.status, 200);
      const c = client(g.proxyUrl);
      const from = { headers: { "x-forwarded-for": "203.0.113.7", cookie: "session=s3cr3t-session" } };
      await c.send("/probe/1", from);
      await c.send("/probe/2", from);
      await c.close();
      await waitFor(
        () => all.messages.some((m) => m.kind === "decision"),
        "the decision on the stream",
        10_000,
      );
      const kinds = all.messages.map((m) => m.kind);
      assert.deepEqual(
        kinds.filter((k) => k === "event" || k === "attack" || k === "decision"),
        ["event", "event", "attack", "decision"],
      );
      const event = all.messages.find((m) => m.kind === "event")!.data;
      assert.equal(event.detectionPoint, "ACE3");
      assert.equal(event.detail, "tried /admin");
      assert.deepEqual((event.request as { path: string }).path, "/probe/1");
      assert.equal((event.actor as { ip: string }).ip, "203.0.113.7");
      assert.equal(
        (event.actor as { session: string }).session,
        "[redacted]",
        "sessions redacted, as in logs",
      );
      assert.ok(!JSON.stringify(all.messages).includes("s3cr3t"), "no session value leaves");
      const decision = all.messages.find((m) => m.kind === "decision")!.data;
      assert.deepEqual([decision.action, decision.scope, decision.value], ["block", "ip", "203.0.113.7"]);
      await waitFor(() => attacks.messages.length === 1, "the attack on the filtered stream");
      assert.deepEqual(
        attacks.messages.map((m) => [m.kind, m.data.detectionPoint, m.data.response]),
        [["attack", "ACE3", "block-ip"]],
      );
    } finally {
      all.close();
      attacks.close();
    }
  });

  it("refuses an unknown kind with a 400 that names it, and a write with 405", async () => {
    const bad = await fetch(`${g.adminUrl}/v1/stream?kinds=attack,%3Cscript%3E`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { detail: string }).detail, /"<script>" is not one of event, attack/);
    const post = await fetch(`${g.adminUrl}/v1/stream`, { method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  });

  it("gatehouse tail prints the feed, as lines and as JSON, until SIGINT, then exits 0", async () => {
    const tail = (...extra: string[]) => {
      const child = spawnCli(["tail", "--admin-listen", g.admin, ...extra]);
      const out: string[] = [];
      let err = "";
      child.stdout!.on("data", (d: Buffer) => out.push(...d.toString().split("\n").filter(Boolean)));
      child.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      return { child, out, exited, following: () => err.includes("gatehouse tail: following ") };
    };
    const text = tail("--kinds", "event");
    const json = tail("-o", "json", "--kinds", "event,decision");
    // Events published before a tail is subscribed are not replayed: wait until both say so.
    await waitFor(() => text.following() && json.following(), "both tails to follow the feed", 20_000);
    const c = client(g.proxyUrl);
    await c.send("/probe/tail", { headers: { "x-forwarded-for": "198.51.100.9" } });
    await c.send("/probe/tail-2", { headers: { "x-forwarded-for": "198.51.100.9" } });
    await c.close();
    await waitFor(() => text.out.length >= 2, "tail to print the two events", 10_000);
    await waitFor(
      () => json.out.some((l) => l.includes('"kind":"decision"')),
      "tail -o json to print the decision",
      10_000,
    );
    assert.match(
      text.out[0]!,
      /^\d\d:\d\d:\d\d\.\d{3} {2}event {5}ACE3 attempt ip 198\.51\.100\.9 GET \/probe\/tail: tried \/admin$/,
    );
    const lines = json.out.map((l) => JSON.parse(l) as { kind: string; value?: string });
    assert.deepEqual(
      lines.map((l) => l.kind),
      ["event", "event", "decision"],
    );
    assert.equal(lines[2]!.value, "198.51.100.9");
    text.child.kill("SIGINT");
    json.child.kill("SIGINT");
    assert.equal(await text.exited, 0);
    assert.equal(await json.exited, 0);
  });

  it("serves the dashboard: one page, its script allowed by a per-response nonce only", async () => {
    const first = await fetch(`${g.adminUrl}/`);
    const second = await fetch(`${g.adminUrl}/`);
    assert.equal(first.status, 200);
    assert.match(first.headers.get("content-type") ?? "", /^text\/html/);
    const csp = first.headers.get("content-security-policy") ?? "";
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce, csp);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.notEqual(second.headers.get("content-security-policy"), csp, "a new nonce per response");
    const html = await first.text();
    await second.body?.cancel();
    assert.ok(html.includes(`<script nonce="${nonce}">`));
    assert.ok(html.includes('new EventSource("/v1/stream")'));
    assert.ok(!html.includes("innerHTML"), "text goes in with textContent only");
  });
});
