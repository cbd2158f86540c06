/**
 * The live feed on a real HTTP server: the SSE framing, kinds, redaction, a client that stops
 * reading (it misses messages, is told how many, and never holds the others up), and the cap on
 * open streams.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { createLiveFeed, type LiveFeed, parseKinds, redactSessions } from "../../../src/admin/live-feed.ts";
import { waitFor } from "../../helpers/wait.ts";

let feed: LiveFeed;
let server: Server;
let port: number;

before(async () => {
  feed = createLiveFeed();
  server = createServer((req, res) => feed.handle(req, res, new URL(req.url ?? "/", "http://x.invalid")));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  feed.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A raw client, so the test decides when it reads. */
function rawClient(path: string) {
  const socket = connect(port, "127.0.0.1");
  let text = "";
  socket.on("data", (d: Buffer) => (text += d.toString("utf8")));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  return { socket, text: () => text };
}

describe("live feed", () => {
  it("builds nothing while nobody listens: the first message a client gets is the first serialised", async () => {
    assert.equal(feed.clients, 0);
    assert.equal(feed.wants("event"), false);
    feed.publish("event", { detectionPoint: "IE1", unseen: true });
    const late = rawClient("/v1/stream");
    try {
      await waitFor(() => feed.clients === 1, "the client");
      feed.publish("event", { detectionPoint: "IE2" });
      await waitFor(() => late.text().includes("IE2"), "the message");
      assert.match(late.text(), /event: event\nid: 1\ndata: \{"detectionPoint":"IE2"\}/);
      assert.ok(!late.text().includes("unseen"), "no history");
    } finally {
      late.socket.destroy();
    }
    await waitFor(() => feed.clients === 0, "gone");
  });

  it("frames each message as event, id and one data line, only for the kinds asked", async () => {
    const both = rawClient("/v1/stream");
    const attacks = rawClient("/v1/stream?kinds=attack");
    try {
      await waitFor(() => feed.clients === 2, "two clients");
      assert.equal(feed.wants("event"), true);
      feed.publish("event", { detectionPoint: "IE1", detail: "line one\nline two" });
      feed.publish("attack", { detectionPoint: "IE1", count: 1 });
      await waitFor(() => both.text().includes("event: attack"), "the attack");
      await waitFor(() => attacks.text().includes("event: attack"), "the attack, filtered");
      assert.match(both.text(), /content-type: text\/event-stream/i);
      assert.match(
        both.text(),
        /event: event\nid: 2\ndata: \{"detectionPoint":"IE1","detail":"line one\\nline two"\}\n\n/,
      );
      assert.match(both.text(), /event: attack\nid: 3\ndata: /);
      assert.ok(!attacks.text().includes("event: event"), "not asked for");
    } finally {
      both.socket.destroy();
      attacks.socket.destroy();
    }
    await waitFor(() => feed.clients === 0, "both gone");
  });

  it("a client that stops reading misses messages, then is told how many; the others get all", async () => {
    const slow = rawClient("/v1/stream?kinds=event");
    const fast = rawClient("/v1/stream?kinds=event");
    try {
      await waitFor(() => feed.clients === 2, "two clients");
      slow.socket.pause();
      const big = "x".repeat(64 * 1024);
      // Spread out, as events come: the fast client drains between them, the paused one cannot.
      for (let i = 0; i < 200; i++) {
        feed.publish("event", { n: i, big });
        if (i % 4 === 3) await new Promise((r) => setTimeout(r, 5));
      }
      await waitFor(
        () => (fast.text().match(/event: event/g) ?? []).length === 200,
        "the fast one gets all 200",
        10_000,
      );
      slow.socket.resume();
      await new Promise((r) => setTimeout(r, 300));
      feed.publish("event", { n: "after" });
      await waitFor(() => slow.text().includes('"n":"after"'), "the slow one catches up");
      const dropped = /event: dropped\ndata: \{"count":(\d+)\}/.exec(slow.text());
      assert.ok(dropped, "told it missed messages");
      const got = (slow.text().match(/event: event/g) ?? []).length;
      assert.equal(got + Number(dropped[1]), 201, "every message either came or was counted");
      assert.ok(Number(dropped[1]) > 0);
    } finally {
      slow.socket.destroy();
      fast.socket.destroy();
    }
  });

  it("caps the streams open at once with a 503 and Retry-After", async () => {
    const open = Array.from({ length: 32 }, () => rawClient("/v1/stream"));
    try {
      await waitFor(() => feed.clients === 32, "32 clients");
      const res = await fetch(`http://127.0.0.1:${port}/v1/stream`);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "5");
      await res.body?.cancel();
    } finally {
      for (const c of open) c.socket.destroy();
    }
    await waitFor(() => feed.clients === 0, "all gone");
  });
});

describe("feed kinds and redaction", () => {
  it("reads kinds, refusing unknown and hostile ones with a bounded message", () => {
    assert.deepEqual(
      [...(parseKinds(null) as Set<string>)],
      ["event", "attack", "breach", "decision", "incident"],
    );
    assert.deepEqual([...(parseKinds("attack, breach") as Set<string>)], ["attack", "breach"]);
    const bad = parseKinds(`attack,${"<x>".repeat(1000)}`);
    assert.equal(typeof bad, "string");
    assert.ok((bad as string).length < 200);
  });

  it("redacts sessions at any depth, and a session decision's value, leaving the rest", () => {
    const out = redactSessions({
      actor: { ip: "203.0.113.1", session: "abc", user: null },
      identities: [
        { scope: "session", value: "abc" },
        { scope: "ip", value: "203.0.113.1" },
      ],
      nested: { deeper: { sessionId: "abc" } },
    });
    assert.deepEqual(out, {
      actor: { ip: "203.0.113.1", session: "[redacted]", user: null },
      identities: [
        { scope: "session", value: "[redacted]" },
        { scope: "ip", value: "203.0.113.1" },
      ],
      nested: { deeper: { sessionId: "[redacted]" } },
    });
  });
});
