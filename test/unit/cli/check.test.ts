import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseCommandLine } from "../../../src/cli/args.ts";
import { check } from "../../../src/cli/check.ts";
import { loadFromArgs, PACKAGED_POLICY, policyFiles } from "../../../src/cli/load.ts";

const FIXTURES = new URL("../../fixtures/config/", import.meta.url).pathname;
const POLICIES = new URL("../../fixtures/policy/", import.meta.url).pathname;
const DESIGN = `${POLICIES}design-example.yaml`;

function runCheck(argv: string[]): { code: number; lines: string[] } {
  const lines: string[] = [];
  const code = check(parseCommandLine(argv), (l) => lines.push(l));
  return { code, lines };
}

describe("gatehouse check", () => {
  it("exits 0 with a summary line for the config and one for the policy, then the warnings", () => {
    const { code, lines } = runCheck([
      "--config",
      `${FIXTURES}valid.yaml`,
      "--listen",
      "127.0.0.1:8081",
      "--policy",
      DESIGN,
    ]);
    assert.equal(code, 0, lines.join("\n"));
    assert.equal(lines.length, 3);
    assert.match(
      lines[0]!,
      /^config OK: listen 127\.0\.0\.1:8081 -> upstream unix:\/var\/run\/app\/app\.sock, admin 127\.0\.0\.1:9090/,
    );
    assert.match(lines[0]!, /trusted proxies 4 \(\d+ from .*valid\.yaml, 0 from env, 2 from flags\)/);
    assert.equal(lines[1], "policy OK: 1 file, 2 detection points, 1 rule, 8 responses, mode enforce");
    assert.equal(
      lines[2],
      `warning: ${DESIGN}:24:3 responses.disable-upload: is defined but no detection point, rule or breach uses it`,
    );
  });

  it("counts files and names the entries that run in the other mode", () => {
    const extra = `${POLICIES}shadow-extra.yaml`;
    const { code, lines } = runCheck(["--policy", DESIGN, "--policy", extra]);
    assert.equal(code, 0, lines.join("\n"));
    assert.equal(
      lines[1],
      "policy OK: 2 files, 3 detection points, 2 rules, 9 responses, mode enforce (2 shadow entries)",
    );
    const shadow = runCheck(["--policy", DESIGN, "--policy", extra, "--mode", "shadow"]);
    assert.equal(
      shadow.lines[1],
      "policy OK: 2 files, 3 detection points, 2 rules, 9 responses, mode shadow",
    );
  });

  it("exits 1 and prints every problem, then a count", () => {
    const { code, lines } = runCheck([
      "--config",
      `${FIXTURES}many-problems.yaml`,
      "--timeouts-idle",
      "forever",
      "--policy",
      DESIGN,
    ]);
    assert.equal(code, 1);
    assert.equal(lines.length, 9);
    assert.match(lines[0]!, /many-problems\.yaml:1:1 listn: unknown setting/);
    assert.match(lines[7]!, /^flag --timeouts-idle timeouts\.idle: "forever" is not a duration/);
    assert.equal(lines[8], "8 problems found; nothing was started.");
  });

  it("prints the config's and the policy's problems together", () => {
    const invalid = `${POLICIES}invalid.yaml`;
    const { code, lines } = runCheck(["--config", `${FIXTURES}many-problems.yaml`, "--policy", invalid]);
    assert.equal(code, 1);
    assert.equal(lines.length, 10);
    assert.match(lines[6]!, /many-problems\.yaml:10:13 store\.failMode: /);
    assert.deepEqual(lines.slice(7), [
      `${invalid}:4:28 detectionPoints.IE1.threshold.witin: unknown key (did you mean "within"?)`,
      `${invalid}:5:17 detectionPoints.IE1.responses.0: unknown response "blok-ip" (did you mean "block-ip"?)`,
      "9 problems found; nothing was started.",
    ]);
  });

  it("a policy file named but missing is a problem", () => {
    const { code, lines } = runCheck(["--policy", DESIGN, "--policy", "no/such/policy.yaml"]);
    assert.equal(code, 1);
    assert.deepEqual(lines, [
      "no/such/policy.yaml (file): does not exist",
      "1 problem found; nothing was started.",
    ]);
  });

  it("does not guess at the policy when the policy setting itself is wrong", () => {
    const { code, lines } = runCheck(["--policy", "x".repeat(5000)]);
    assert.equal(code, 1);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^flag --policy policy: /);
  });

  it("refuses an unknown flag before anything runs", () => {
    assert.throws(() => parseCommandLine(["check", "--lisen", "x"]), /Unknown option '--lisen'/);
  });
});

describe("which policy files", () => {
  const configOf = (argv: string[]) => {
    const loaded = loadFromArgs(parseCommandLine(argv), {});
    assert.ok(loaded.ok);
    return loaded;
  };

  it("the files named, in order", () => {
    const { config, origin } = configOf(["--policy", "a.yaml", "--policy", "b.yaml"]);
    assert.deepEqual(policyFiles(config, origin), { ok: true, files: ["a.yaml", "b.yaml"] });
  });

  it("by default policies/default.yaml of the working directory, else the packaged one", () => {
    const { config, origin } = configOf([]);
    const cwd = mkdtempSync(join(tmpdir(), "gatehouse-cwd-"));
    after(() => rmSync(cwd, { recursive: true, force: true }));
    const fallback = policyFiles(config, origin, cwd);
    if (existsSync(PACKAGED_POLICY)) {
      assert.deepEqual(fallback, { ok: true, files: [PACKAGED_POLICY] });
    } else {
      assert.deepEqual(fallback, {
        ok: false,
        problem: {
          where: "policies/default.yaml",
          path: "policy",
          message: `does not exist here, nor in the package (${PACKAGED_POLICY}); name a policy file with --policy FILE`,
        },
      });
    }
    mkdirSync(join(cwd, "policies"));
    writeFileSync(join(cwd, "policies", "default.yaml"), "");
    assert.deepEqual(policyFiles(config, origin, cwd), { ok: true, files: ["policies/default.yaml"] });
  });
});
