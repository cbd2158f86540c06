/**
 * A broken configuration stops `serve` before anything is bound, and the operator sees every
 * problem at once, each pointing at where it was written (DESIGN section 7, STYLE pattern 6).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runGatehouse } from "../helpers/gatehouse.ts";

describe("invalid configuration", () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "gh-config-"));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("a config file with several problems: exit 1, every problem as FILE:LINE:COL path: message", async () => {
    const file = join(dir, "gatehouse.yaml");
    const eventsSocket = join(tmpdir(), `gh-never-${randomBytes(4).toString("hex")}.sock`);
    writeFileSync(
      file,
      [
        "# several mistakes at once",
        'listen: "127.0.0.1:99999"',
        "upstream: ftp://app.internal",
        "adminListen: 127.0.0.1:0",
        `eventsSocket: ${eventsSocket}`,
        "timeouts:",
        "  upstreamConnect: 5 parsecs",
        "limits:",
        "  headerBytes: huge",
        "trustedProxies: [10.0.0.0/33]",
        "upstrem: http://127.0.0.1:3000",
        "",
      ].join("\n"),
    );
    const run = await runGatehouse(["serve", "--config", file]);
    assert.equal(run.code, 1);
    const lines = run.stderr.trimEnd().split("\n");
    const expected: [string, string][] = [
      [`${file}:2:9`, "listen"],
      [`${file}:3:11`, "upstream"],
      [`${file}:7:20`, "timeouts.upstreamConnect"],
      [`${file}:9:16`, "limits.headerBytes"],
      [`${file}:10:17`, "trustedProxies"],
      [`${file}:11:1`, "upstrem"],
    ];
    for (const [where, path] of expected) {
      assert.ok(
        lines.some((line) => line.startsWith(`${where} ${path}: `)),
        `no line for ${where} ${path}:\n${run.stderr}`,
      );
    }
    for (const line of lines.slice(0, -1)) {
      assert.match(line, /^\S+:\d+:\d+ [\w.()]+: \S/, "each problem is FILE:LINE:COL path: message");
    }
    assert.match(lines.at(-1)!, /^6 problems found; nothing was started\.$/);
    assert.match(run.stderr, /upstrem: unknown setting \(did you mean "upstream"\?\)/);
    assert.equal(run.stdout, "", "no listener was started, so nothing was logged");
    assert.equal(existsSync(eventsSocket), false, "the event socket was never created");
  });

  it("bad flag values: exit 1, each problem named by its flag and setting, nothing started", async () => {
    const run = await runGatehouse([
      "serve",
      "--listen",
      "nope",
      "--admin-listen",
      "127.0.0.1:0",
      "--timeouts-upstream-response",
      "soon",
    ]);
    assert.equal(run.code, 1);
    const lines = run.stderr.trimEnd().split("\n");
    assert.deepEqual(
      lines.map((line) => (line.includes(": ") ? line.slice(0, line.indexOf(": ")) : line)),
      [
        "flag --listen listen",
        "flag --timeouts-upstream-response timeouts.upstreamResponse",
        "2 problems found; nothing was started.",
      ],
    );
    assert.equal(run.stdout, "");
  });
});
