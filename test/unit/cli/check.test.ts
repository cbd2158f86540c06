import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCommandLine } from "../../../src/cli/args.ts";
import { check } from "../../../src/cli/check.ts";

const FIXTURES = new URL("../../fixtures/config/", import.meta.url).pathname;

function runCheck(argv: string[]): { code: number; lines: string[] } {
  const lines: string[] = [];
  const code = check(parseCommandLine(argv), (l) => lines.push(l));
  return { code, lines };
}

describe("gatehouse check", () => {
  it("exits 0 with a one-line summary for a valid file", () => {
    const { code, lines } = runCheck(["--config", `${FIXTURES}valid.yaml`, "--listen", "127.0.0.1:8081"]);
    assert.equal(code, 0);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^config OK: listen 127\.0\.0\.1:8081 -> upstream unix:\/var\/run\/app\/app\.sock, admin 127\.0\.0\.1:9090/,
    );
    assert.match(lines[0]!, /trusted proxies 4 \(\d+ from .*valid\.yaml, 0 from env, 1 from flags\)/);
  });

  it("exits 1 and prints every problem, then a count", () => {
    const { code, lines } = runCheck([
      "--config",
      `${FIXTURES}many-problems.yaml`,
      "--timeouts-idle",
      "forever",
    ]);
    assert.equal(code, 1);
    assert.equal(lines.length, 9);
    assert.match(lines[0]!, /many-problems\.yaml:1:1 listn: unknown setting/);
    assert.match(lines[7]!, /^flag --timeouts-idle timeouts\.idle: "forever" is not a duration/);
    assert.equal(lines[8], "8 problems found; nothing was started.");
  });

  it("refuses an unknown flag before anything runs", () => {
    assert.throws(() => parseCommandLine(["check", "--lisen", "x"]), /Unknown option '--lisen'/);
  });
});
