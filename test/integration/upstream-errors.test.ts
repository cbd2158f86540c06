/**
 * When the app cannot answer, the client gets an honest answer from Gatehouse: 502 for an app that
 * is down or breaks the connection, 504 for one that is too slow, each as RFC 9457 problem+json
 * carrying the request id. When the client goes away, the app's request is aborted too.
 */
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { type Client, client, type Reply } from "../helpers/client.ts";
import { closedPort, type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";
import { metric } from "../helpers/prometheus.ts";
import { type Deferred, deferred, waitFor, within } from "../helpers/wait.ts";

function assertProblem(reply: Reply, status: number): { requestId: string } {
  assert.equal(reply.status, status);
  assert.equal(reply.headers["content-type"], "application/problem+json");
  const problem = JSON.parse(reply.text);
  assert.equal(problem.status, status);
  assert.equal(typeof problem.title, "string");
  assert.match(problem.requestId, /^[0-9a-f]{16}-[0-9a-z]+$/);
  assert.equal(reply.headers["x-request-id"], problem.requestId);
  return problem;
}

describe("an app that is down", () => {
  let gatehouse: GatehouseProcess;
  let http: Client;

  before(async () => {
    gatehouse = await startGatehouse({ upstream: `http://127.0.0.1:${await closedPort()}` });
    http = client(gatehouse.proxyUrl);
  });

  after(async () => {
    await http?.close();
    await gatehouse?.kill();
  });

  it("connection refused → 502 problem+json with the request id, logged with the same id", async () => {
    const problem = assertProblem(await http.send("/anything"), 502);
    const line = await gatehouse.waitForLog(
      (l) => l.msg === "upstream request failed" && l.requestId === problem.requestId,
      "the warning for the failed request",
    );
    assert.match(String(line.cause), /ECONNREFUSED/);
  });
});

describe("an app that misbehaves", () => {
  let app: FakeApp;
  let gatehouse: GatehouseProcess;
  let http: Client;
  /** Settled with whether the app's response had finished when its connection closed. */
  let appClosed: Deferred<{ finished: boolean; bodyComplete: boolean }>;

  function watchClose(req: IncomingMessage, res: ServerResponse): void {
    res.on("close", () => appClosed.resolve({ finished: res.writableFinished, bodyComplete: req.complete }));
  }

  before(async () => {
    app = await fakeApp((req, res) => {
      switch (req.url) {
        case "/slow":
          watchClose(req, res); // never answers
          return;
        case "/reset":
          req.socket.resetAndDestroy();
          return;
        case "/dies-mid-body":
          res.writeHead(200, { "content-length": "100000" });
          res.write("x".repeat(1000), () => setTimeout(() => req.socket.resetAndDestroy(), 50));
          return;
        case "/endless":
          watchClose(req, res);
          res.writeHead(200, { "content-type": "text/plain" });
          res.write("first chunk");
          return;
        case "/upload":
          watchClose(req, res);
          req.resume();
          return;
        default:
          res.end("ok");
      }
    });
    gatehouse = await startGatehouse({
      upstream: app.upstream,
      args: ["--timeouts-upstream-response", "300ms"],
    });
    http = client(gatehouse.proxyUrl);
  });

  after(async () => {
    await http?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  it("no response headers within --timeouts-upstream-response → 504, and the app's request is dropped", async () => {
    appClosed = deferred();
    assertProblem(await http.send("/slow"), 504);
    const closed = await within(appClosed.promise, 5000, "the app's request to be closed");
    assert.equal(closed.finished, false);
  });

  it("an app that resets the connection → 502 problem+json", async () => {
    assertProblem(await http.send("/reset"), 502);
  });

  it("an app that dies mid-body: the client's response is cut, never passed off as complete", async () => {
    const res = await http.open("/dies-mid-body");
    assert.equal(res.statusCode, 200);
    await assert.rejects(async () => {
      for await (const _ of res.body) {
        // drain until the cut
      }
    });
  });

  /** Requests counted under `outcome` in gatehouse_requests_total. */
  async function counted(outcome: string): Promise<number> {
    return metric(await gatehouse.metrics(), "gatehouse_requests_total", { outcome }) ?? 0;
  }

  it("a client that disconnects mid-response aborts the app's request", async () => {
    appClosed = deferred();
    const res = await http.open("/endless");
    for await (const chunk of res.body) {
      assert.equal(Buffer.from(chunk).toString(), "first chunk");
      break; // leaving the loop destroys the body and with it the connection
    }
    const closed = await within(appClosed.promise, 5000, "the app to see its request aborted");
    assert.equal(closed.finished, false, "the app's response was still open when it was aborted");
  });

  it("a client that disconnects is counted as aborted, never as an upstream error", async () => {
    const [aborted, upstreamErrors] = [await counted("aborted"), await counted("upstream_error")];
    appClosed = deferred();
    const res = await http.open("/endless");
    res.body.destroy();
    await within(appClosed.promise, 5000, "the app to see its request aborted");
    assert.equal(await counted("aborted"), aborted + 1);
    assert.equal(await counted("upstream_error"), upstreamErrors);
    assert.ok(
      !gatehouse.logs.some((l) => l.msg === "upstream request failed" && l.path === "/endless"),
      "no upstream failure is logged for it",
    );
  });

  it("a client that disconnects mid-upload aborts the app's request", async () => {
    appClosed = deferred();
    const port = gatehouse.proxyPort;
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    socket.write("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
    socket.write("y".repeat(10_000));
    // Wait until the app is reading this upload before hanging up on it.
    await waitFor(() => app.requests.some((r) => r.url === "/upload"), "the upload to reach the app");
    const aborted = await counted("aborted");
    socket.destroy();
    const closed = await within(appClosed.promise, 5000, "the app to see its upload aborted");
    assert.equal(closed.bodyComplete, false);
    await waitFor(
      async () => (await counted("aborted")) === aborted + 1,
      "the upload to be counted as aborted",
    );
  });

  it("after all that, a normal request still works", async () => {
    const reply = await http.send("/fine");
    assert.equal(reply.status, 200);
    assert.equal(reply.text, "ok");
  });
});
