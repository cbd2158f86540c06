/**
 * SIGTERM in a rolling deploy: Gatehouse stops taking connections, lets the requests in flight
 * finish (bodies whole), and exits 0; a request that outlives `shutdownTimeout` is cut so the
 * process still exits in time.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { afterEach, describe, it } from "node:test";
import type { Dispatcher } from "undici";
import { type Client, client, tryConnect } from "../helpers/client.ts";
import { type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";
import { deferred, waitFor, within } from "../helpers/wait.ts";

const IN_FLIGHT = 5;
const BODY_BYTES = 8 * 1024 * 1024;

/**
 * Read a response body the way a slow client does, a little at a time; resolves with its size.
 * A slow reader still has bytes to read when Gatehouse closes the connection, so it fails if the
 * response promised keep-alive (undici: "other side closed") instead of `Connection: close`.
 */
async function readSlowly(res: Dispatcher.ResponseData): Promise<number> {
  let bytes = 0;
  for await (const chunk of res.body) {
    bytes += (chunk as Buffer).length;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return bytes;
}

describe("graceful shutdown", () => {
  let app: FakeApp | undefined;
  let gatehouse: GatehouseProcess | undefined;
  let http: Client | undefined;

  afterEach(async () => {
    await http?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  it("SIGTERM: requests in flight complete whole, new connections are refused, exit code 0", async () => {
    const held: ServerResponse[] = [];
    const release = deferred();
    app = await fakeApp(async (_req, res) => {
      held.push(res);
      await release.promise;
      // A body large enough that it is still being written when the app finishes.
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": BODY_BYTES });
      res.end(Buffer.alloc(BODY_BYTES, "z"));
    });
    gatehouse = await startGatehouse({ upstream: app.upstream, args: ["--shutdown-timeout", "20s"] });
    http = client(gatehouse.proxyUrl);
    const gh = gatehouse;

    const replies = Array.from({ length: IN_FLIGHT }, async (_, i) => {
      const res = await http!.open(`/slow/${i}`);
      return { status: res.statusCode, bytes: await readSlowly(res) };
    });
    await waitFor(() => held.length === IN_FLIGHT, "every request to reach the app");

    gh.stop("SIGTERM").catch(() => {});
    await gh.waitForLog((l) => l.msg === "shutting down", "the shutdown to begin");
    assert.equal(await tryConnectUntilRefused(gh.proxy), "ECONNREFUSED", "new connections are refused");

    release.resolve();
    const results = await within(Promise.all(replies), 15_000, "the requests in flight");
    for (const reply of results) {
      assert.equal(reply.status, 200);
      assert.equal(reply.bytes, BODY_BYTES, "each body arrives whole");
    }
    const exit = await within(gh.exited, 15_000, "gatehouse to exit");
    assert.deepEqual(exit, { code: 0, signal: null });
    const stopped = gh.logs.find((l) => l.msg === "gatehouse stopped");
    assert.equal(stopped?.forced, 0);
  });

  it("a request that outlives --shutdown-timeout is cut and the process still exits 0 in time", async () => {
    const appSawClose = deferred();
    app = await fakeApp((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("started;"); // and never finishes
      res.on("close", () => appSawClose.resolve());
    });
    gatehouse = await startGatehouse({ upstream: app.upstream, args: ["--shutdown-timeout", "1s"] });
    http = client(gatehouse.proxyUrl);
    const gh = gatehouse;

    const res = await http.open("/forever");
    // Settles with "complete" or the error that cut it (caught now: it happens during stop()).
    const body = (async () => {
      for await (const _ of res.body) {
        // read until the connection is cut
      }
      return "complete";
    })().catch((err: Error) => err);

    const sent = performance.now();
    const code = await gh.stop("SIGTERM", 10_000);
    const elapsed = performance.now() - sent;
    assert.equal(code, 0);
    assert.ok(elapsed < 1000 + 4000, `exited ${Math.round(elapsed)}ms after SIGTERM; shutdownTimeout is 1s`);
    assert.ok((await body) instanceof Error, "the unfinished response is cut, not passed off as complete");
    await within(appSawClose.promise, 5000, "the app's request to be closed");
    const stopped = gh.logs.find((l) => l.msg === "gatehouse stopped");
    assert.equal(stopped?.forced, 1);
  });
});

/** The listener closes right after "shutting down" is logged; allow the few ms in between. */
async function tryConnectUntilRefused(hostPort: string): Promise<string> {
  return waitFor(async () => {
    const result = await tryConnect(hostPort);
    return result === "connected" ? undefined : result;
  }, "the proxy listener to close");
}
