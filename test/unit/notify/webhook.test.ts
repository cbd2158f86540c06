/**
 * The per-channel delivery queue against a real local receiver: a page is worth more than a
 * summary. A full queue gives up a waiting digest rather than a breach, a digest that keeps
 * failing does not hold pages behind its backoff, and a refusal that resending cannot fix (a
 * 4xx other than 408/429) is not retried.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { type FailureReason, type NotifyMessage, WebhookQueue } from "../../../src/notify/webhook.ts";
import type { NotifyChannel } from "../../../src/policy/policy.ts";

interface Receiver {
  url: string;
  got: { kind: string; about: string }[];
  /** Answer for each request, by the message's `about`; 200 when absent. */
  status: (about: string) => number;
  close(): Promise<void>;
}

async function receiver(status: (about: string) => number = () => 200): Promise<Receiver> {
  const got: { kind: string; about: string }[] = [];
  const r: Receiver = { url: "", got, status, close: async () => {} };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      const m = JSON.parse(body) as { kind: string; about: string };
      got.push(m);
      res.statusCode = r.status(m.about);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () => new Promise((resolve) => server.close(() => resolve()));
  return r;
}

function channel(url: string, retries = 3): NotifyChannel {
  return {
    name: "ops",
    webhook: url,
    format: "json",
    digestMs: 60_000,
    rateLimit: { count: 1000, perMs: 1000 },
    timeoutMs: 2000,
    retries,
  };
}

const message = (kind: "breach" | "digest", about: string): NotifyMessage => ({
  kind,
  about,
  body: { kind, about },
});

describe("webhook queue", () => {
  const closing: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closing) await c();
  });

  function queue(hook: Receiver, options: { maxQueued?: number; retries?: number } = {}) {
    const failures: FailureReason[] = [];
    const q = new WebhookQueue({
      name: "ops",
      settings: () => channel(hook.url, options.retries ?? 3),
      events: { delivered: () => {}, failed: (r) => failures.push(r) },
      maxQueued: options.maxQueued ?? 100,
      baseDelayMs: 20,
      maxDelayMs: 40,
    });
    closing.push(async () => q.close());
    return { q, failures };
  }

  it("a full queue drops a waiting digest to take a breach page, never the page", async () => {
    const hook = await receiver();
    closing.push(() => hook.close());
    const { q, failures } = queue(hook, { maxQueued: 3 });
    for (const about of ["d1", "d2", "d3"]) assert.equal(q.send(message("digest", about)), true);
    assert.equal(q.send(message("breach", "inc-1")), true, "the page is queued");
    await q.idle();
    assert.deepEqual(
      hook.got.map((m) => m.about),
      ["d1", "inc-1", "d2"],
      "the page goes ahead of waiting digests; the newest digest made room",
    );
    assert.deepEqual(failures, ["queue_full"]);
  });

  it("a digest that keeps failing does not hold a page behind its backoff", async () => {
    const hook = await receiver((about) => (about === "d1" ? 503 : 200));
    closing.push(() => hook.close());
    const { q } = queue(hook, { retries: 2 });
    q.send(message("digest", "d1"));
    q.send(message("breach", "inc-2"));
    await q.idle();
    const order = hook.got.map((m) => m.about);
    assert.equal(order[0], "d1");
    assert.equal(order[1], "inc-2", "the page went out right after the digest's first failure");
  });

  it("does not retry a refusal a resend cannot fix (400), and retries 429", async () => {
    const hook = await receiver((about) => (about === "bad" ? 400 : about === "busy" ? 429 : 200));
    closing.push(() => hook.close());
    const { q, failures } = queue(hook, { retries: 2 });
    q.send(message("breach", "bad"));
    await q.idle();
    assert.equal(hook.got.filter((m) => m.about === "bad").length, 1);
    assert.deepEqual(failures, ["http_status", "gave_up"]);
    q.send(message("breach", "busy"));
    await q.idle();
    assert.equal(hook.got.filter((m) => m.about === "busy").length, 3, "the first try and two retries");
  });
});
