/**
 * Bodies stream through Gatehouse with backpressure, never buffered: a 1 GiB upload and a 1 GiB
 * download leave the Gatehouse process's peak RSS far below the size of the body.
 *
 * The bound is on growth over the idle process, not on absolute RSS: an idle Gatehouse on Node 24
 * already peaks near 113 MB (type stripping and undici alone are ~45 MB), and V8 lets up to
 * ~64 MB of dead socket buffers pile up before a collection when bytes flow at 1 GB/s. Measured:
 * about +75 MB whether the body is 256 MiB or 1 GiB, so the growth does not scale with the body.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
import { type Client, client } from "../helpers/client.ts";
import { countBytes, type FakeApp, fakeApp } from "../helpers/fake-app.ts";
import { type GatehouseProcess, startGatehouse } from "../helpers/gatehouse.ts";

const GIB = 1024 ** 3;
/** Most the peak RSS may grow over the idle process while 1 GiB passes through. */
const GROWTH_LIMIT = 150 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, "gatehouse streams ");

/** `total` bytes as a stream of one reused chunk: the test never holds more than 256 KiB. */
async function* generate(total: number): AsyncGenerator<Buffer> {
  let left = total;
  while (left > 0) {
    const n = Math.min(left, CHUNK.length);
    yield n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n);
    left -= n;
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

describe("1 GiB bodies with bounded memory", { timeout: 120_000 }, () => {
  let app: FakeApp;
  let gatehouse: GatehouseProcess;
  let http: Client;
  let idlePeak: number;

  before(async () => {
    app = await fakeApp(async (req, res) => {
      if (req.url === "/warm-up") {
        res.end("ok");
      } else if (req.url === "/upload") {
        const received = await countBytes(req);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ received }));
      } else if (req.url === "/download") {
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": GIB });
        await pipeline(generate(GIB), res);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    gatehouse = await startGatehouse({ upstream: app.upstream });
    http = client(gatehouse.proxyUrl);
    assert.equal((await http.send("/warm-up")).status, 200);
    idlePeak = gatehouse.peakRss();
  });

  after(async () => {
    await http?.close();
    await gatehouse?.kill();
    await app?.close();
  });

  function assertBounded(t: { diagnostic(message: string): void }, after: string): void {
    const peak = gatehouse.peakRss();
    t.diagnostic(`gatehouse peak RSS: idle ${mb(idlePeak)}, after the ${after} ${mb(peak)}`);
    assert.ok(
      peak - idlePeak < GROWTH_LIMIT,
      `peak RSS grew by ${mb(peak - idlePeak)} (idle ${mb(idlePeak)}, peak ${mb(peak)}); the limit is ${mb(GROWTH_LIMIT)}`,
    );
  }

  it("a 1 GiB upload reaches the app whole while Gatehouse's RSS stays bounded", async (t) => {
    const reply = await http.send("/upload", {
      method: "POST",
      headers: { "content-length": String(GIB), "content-type": "application/octet-stream" },
      body: Readable.from(generate(GIB)),
    });
    assert.equal(reply.status, 200);
    assert.deepEqual(JSON.parse(reply.text), { received: GIB });
    assertBounded(t, "upload");
  });

  it("a 1 GiB download reaches the client whole while Gatehouse's RSS stays bounded", async (t) => {
    const res = await http.open("/download");
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-length"], String(GIB));
    let received = 0;
    for await (const chunk of res.body) received += (chunk as Buffer).length;
    assert.equal(received, GIB);
    assertBounded(t, "download");
  });
});
