/**
 * `gatehouse simulate` as an operator runs it: the real CLI, a policy file, events from a file or
 * standard input, NDJSON out, bad lines named on stderr with exit code 1.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO_ROOT, runGatehouse } from "../helpers/gatehouse.ts";

const POLICY = `
detectionPoints:
  IE1:
    threshold: { count: 3, within: 10m }
    per: user
    responses: [log, logout, block-user]
responses:
  log: { action: log }
  logout: { action: logout }
  block-user: { action: block, scope: user, duration: 1h }
`;

function events(spacingSeconds: number): string {
  return Array.from({ length: 7 }, (_, i) =>
    JSON.stringify({
      detectionPoint: "IE1",
      user: "alice",
      session: "s1",
      timestamp: new Date(Date.parse("2026-11-22T03:00:00Z") + i * spacingSeconds * 1000).toISOString(),
    }),
  ).join("\n");
}

const records = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("gatehouse simulate", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "gh-simulate-"));
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    writeFileSync(join(dir, "minute.ndjson"), events(8));
    writeFileSync(join(dir, "spread.ndjson"), events(360));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("7 events of one user in a minute against threshold 3: exactly 2 attacks, log then logout", async () => {
    const run = await runGatehouse([
      "simulate",
      "--policy",
      join(dir, "policy.yaml"),
      "--events",
      join(dir, "minute.ndjson"),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const out = records(run.stdout);
    const attacks = out.filter((r) => r.type === "attack");
    assert.deepEqual(
      attacks.map((a) => [a.count, a.response]),
      [
        [1, "log"],
        [2, "logout"],
      ],
    );
    const decisions = out.filter((r) => r.type === "decision");
    assert.deepEqual(
      decisions.map((d) => [d.action, d.scope, d.value]),
      [["logout", "session", "s1"]],
    );
    assert.match(run.stderr, /simulated 7 events: 2 attacks, 0 breaches, 1 decision\b/);
  });

  it("the same events spread wider than the window make no attack", async () => {
    const run = await runGatehouse([
      "simulate",
      "--policy",
      join(dir, "policy.yaml"),
      "--events",
      join(dir, "spread.ndjson"),
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(records(run.stdout), []);
  });

  it("reads standard input with --events -, and names each bad line while running the rest", async () => {
    const child = spawn(
      process.execPath,
      ["cmd/gatehouse.ts", "simulate", "--policy", join(dir, "policy.yaml"), "--events", "-"],
      { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    child.stdin.end(
      `${events(8)}\nnot json\n{"detectionPoint":"IE1","user":"bob"}\n{"detectionPoint":"<script>","timestamp":"2026-11-22T03:00:00Z"}\n`,
    );
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 1);
    assert.equal(records(stdout).filter((r) => r.type === "attack").length, 2, "the good lines still ran");
    assert.match(stderr, /\(stdin\):8: not JSON/);
    assert.match(stderr, /\(stdin\):9: timestamp: required for simulate/);
    assert.match(stderr, /\(stdin\):10: detectionPoint: must be an AppSensor id or a label/);
    assert.match(stderr, /3 lines refused/);
  });

  it("refuses an invalid policy with every problem, and a missing --events", async () => {
    writeFileSync(
      join(dir, "bad.yaml"),
      "detectionPoints:\n  IE1: { threshold: { count: 0, within: soon } }\n",
    );
    const bad = await runGatehouse(["simulate", "--policy", join(dir, "bad.yaml"), "--events", "-"]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /bad\.yaml:2:\d+ detectionPoints\.IE1\.threshold\.count: must be a whole number/,
    );
    assert.match(
      bad.stderr,
      /bad\.yaml:2:\d+ detectionPoints\.IE1\.threshold\.within: "soon" is not a duration/,
    );
    const missing = await runGatehouse(["simulate", "--policy", join(dir, "policy.yaml")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--events FILE \(or - for standard input\) is required/);
  });
});
