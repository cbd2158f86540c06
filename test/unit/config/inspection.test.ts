/** The `inspection` settings: defaults, the three sources, and every malformed value refused. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { formatProblem, loadConfig } from "../../../src/config/load.ts";

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-inspection-"));
  temps.push(dir);
  const path = join(dir, "config.yaml");
  writeFileSync(path, text);
  return path;
}

function refused(result: ReturnType<typeof loadConfig>): string[] {
  assert.equal(result.ok, false);
  return result.ok ? [] : result.problems.map(formatProblem);
}

describe("inspection settings", () => {
  it("default to 64 KB scanned and no decompression", () => {
    const r = loadConfig({});
    assert.ok(r.ok);
    assert.deepEqual(r.config.inspection, { maxBytes: 64 * 1024, decompress: false });
  });

  it("come from the file, the environment and flags, flag first", () => {
    const r = loadConfig({
      file: file("inspection:\n  maxBytes: 1MB\n  decompress: on\n"),
      env: { GATEHOUSE_INSPECTION_MAX_BYTES: "256KB" },
      flags: new Map([["inspection.decompress", ["off"]]]),
    });
    assert.ok(r.ok);
    assert.deepEqual(r.config.inspection, { maxBytes: 256 * 1024, decompress: false });
    assert.equal(r.origin["inspection.decompress"], "flag --inspection-decompress");
  });

  it("take a byte count as text from a flag or the environment, 0 included", () => {
    const r = loadConfig({
      env: { GATEHOUSE_INSPECTION_MAX_BYTES: "4096" },
      flags: new Map([["inspection.maxBytes", ["0"]]]),
    });
    assert.ok(r.ok);
    assert.equal(r.config.inspection.maxBytes, 0);
    const env = loadConfig({ env: { GATEHOUSE_INSPECTION_MAX_BYTES: "4096" } });
    assert.ok(env.ok);
    assert.equal(env.config.inspection.maxBytes, 4096);
  });

  it("accept 0 (inspection off) and YAML booleans for decompress", () => {
    const r = loadConfig({ file: file("inspection: { maxBytes: 0, decompress: true }\n") });
    assert.ok(r.ok);
    assert.deepEqual(r.config.inspection, { maxBytes: 0, decompress: true });
  });

  it("refuse malformed, oversized and hostile values, naming the source and the path", () => {
    const messages = refused(
      loadConfig({
        file: file(`inspection:\n  maxBytes: -1\n  decompress: maybe\n  depth: 3\n`),
        env: { GATEHOUSE_INSPECTION_MAX_BYTES: "17MB" },
        flags: new Map([["inspection.decompress", ["x".repeat(10_000)]]]),
      }),
    );
    assert.ok(
      messages.some((m) => /config\.yaml:2:\d+ inspection\.maxBytes: -1 is not a size/.test(m)),
      messages.join("\n"),
    );
    assert.ok(messages.some((m) => /config\.yaml:4:\d+ inspection\.depth: unknown setting/.test(m)));
    assert.ok(
      messages.some(
        (m) => m === 'env GATEHOUSE_INSPECTION_MAX_BYTES inspection.maxBytes: "17MB" is more than 16MB',
      ),
    );
    const flag = messages.find((m) => m.startsWith("flag --inspection-decompress"));
    assert.ok(flag && flag.length < 200, "a 10 KB value is not echoed whole");
  });
});
