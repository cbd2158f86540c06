/**
 * The buffer reclaimer runs a young-generation collection only when memory outside V8's heap has
 * grown by its threshold since it last looked, and looks only after enough body bytes have
 * passed; it never collects for traffic that V8's own collections already keep down.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createBufferReclaim } from "../../../src/forward/buffer-reclaim.ts";

const MB = 1024 * 1024;

/** A collector and an outside-the-heap gauge the test moves by hand; collecting frees `freed`. */
function fakeV8(start = 10 * MB) {
  const v8 = {
    external: start,
    freed: 0,
    collected: [] as string[],
    gc: (options: { type: "minor" }) => {
      v8.collected.push(options.type);
      v8.external -= v8.freed;
    },
  };
  return v8;
}

/** A reclaimer over the fake, with its two thresholds. */
function reclaimer(v8: ReturnType<typeof fakeV8>, growthBytes: number, checkBytes: number) {
  return createBufferReclaim({ gc: v8.gc, externalBytes: () => v8.external, growthBytes, checkBytes })!;
}

describe("buffer reclaim", () => {
  it("is off (null) when there is no collector (the process was started without --expose-gc)", () => {
    assert.equal(createBufferReclaim({ gc: null }), null);
  });

  it("collects once the memory outside the heap grew by the threshold while bodies flowed", () => {
    const v8 = fakeV8();
    const r = reclaimer(v8, 4 * MB, 1 * MB);
    v8.freed = 5 * MB;
    for (let i = 0; i < 16; i++) {
      v8.external += 64 * 1024; // each 64 KiB chunk passed on leaves its buffer outside the heap
      r.note(64 * 1024);
    }
    assert.equal(r.collections, 0, "1 MiB of growth is below the threshold");
    for (let i = 0; i < 64; i++) {
      v8.external += 64 * 1024;
      r.note(64 * 1024);
    }
    assert.deepEqual(v8.collected, ["minor"], "one young-generation collection at 4 MiB of growth");
    assert.equal(r.collections, 1);
    assert.equal(v8.external, 10 * MB, "what it freed is what had piled up");
  });

  it("does not look before `checkBytes` have flowed, however the gauge moves", () => {
    const v8 = fakeV8();
    const r = reclaimer(v8, 1 * MB, 8 * MB);
    v8.external += 50 * MB;
    r.note(7 * MB);
    assert.equal(r.collections, 0);
    r.note(1 * MB);
    assert.equal(r.collections, 1);
  });

  it("measures growth from where V8's own collections left the gauge, not from a stale high", () => {
    const v8 = fakeV8(40 * MB);
    const r = reclaimer(v8, 4 * MB, 1);
    v8.external = 12 * MB; // V8 collected on its own
    r.note(1);
    v8.external = 15 * MB; // +3 MiB over the new low: nothing to do
    r.note(1);
    assert.equal(r.collections, 0);
    v8.external = 17 * MB; // +5 MiB over 12
    r.note(1);
    assert.equal(r.collections, 1);
  });
});
