/**
 * `gatehouse decisions list|add|delete` against an in-process admin server (loopback port 0,
 * a real DecisionService on a MemoryReplicatedMap), as an operator runs it.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createAdminServer, type ReadinessSources } from "../../../src/admin/admin-server.ts";
import { parseCommandLine } from "../../../src/cli/args.ts";
import { DECISIONS_OPTIONS, decisionsCommand } from "../../../src/cli/decisions.ts";
import { createDecisionService, type DecisionService } from "../../../src/enforce/decision-service.ts";
import type { Metrics } from "../../../src/observability/metrics.ts";
import { ManualClock } from "../../../src/store/clock.ts";
import type { Decision } from "../../../src/store/decision.ts";
import { MemoryReplicatedMap } from "../../../src/store/replicated-map.ts";
import { runGatehouse } from "../../helpers/gatehouse.ts";

const START = Date.parse("2026-11-22T03:00:00Z");
const TOKEN = "cli-admin-token-0123456789";

const readiness = {} as ReadinessSources;

interface Admin {
  listen: string;
  decisions: DecisionService;
  close(): Promise<void>;
}

async function startAdmin(adminToken: string | null = null): Promise<Admin> {
  const clock = new ManualClock(START);
  const map = new MemoryReplicatedMap<Decision>({ clock, sweepMs: 0 });
  const decisions = createDecisionService(map, clock);
  const server = createAdminServer({} as Metrics, readiness, { decisions, clock, adminToken });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    listen: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    decisions,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await map.close();
    },
  };
}

interface Run {
  code: number;
  out: string[];
  err: string[];
}

/** Run `gatehouse decisions …argv` in-process, with no GATEHOUSE_* environment. */
async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const args = parseCommandLine(["decisions", ...argv], DECISIONS_OPTIONS);
  const code = await decisionsCommand(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, env);
  return { code, out, err };
}

describe("gatehouse decisions", () => {
  let admin: Admin;
  let at: string[];
  before(async () => {
    admin = await startAdmin();
    at = ["--admin-listen", admin.listen];
  });
  after(() => admin.close());

  it("add: blocks an address for an hour by default and prints it as a table", async () => {
    const r = await run(["add", ...at, "--ip", "::ffff:203.0.113.7", "--reason", "stuffing"]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.equal(r.out.length, 2);
    assert.match(r.out[0]!, /^ID +ACTION +SCOPE +VALUE +UNTIL +ORIGIN +REASON$/);
    const [stored] = admin.decisions.list();
    assert.ok(stored);
    assert.match(
      r.out[1]!,
      new RegExp(
        `^${stored.id} +block +ip +203\\.0\\.113\\.7 +2026-11-22T04:00:00\\.000Z +manual +stuffing$`,
      ),
    );
    assert.equal(stored.until, START + 3_600_000);
  });

  it("add: every option reaches the API, and -o json prints the stored decision", async () => {
    const r = await run([
      "add",
      ...at,
      "--user",
      "bob",
      "--action",
      "disable",
      "--route",
      "POST /export",
      "--route",
      "GET /reports/*",
      "--status",
      "451",
      "--duration",
      "15m",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.err.join("\n"));
    const decision = JSON.parse(r.out.join("\n"));
    assert.deepEqual(
      { ...decision, id: undefined },
      {
        id: undefined,
        action: "disable",
        scope: "user",
        value: "bob",
        routes: ["POST /export", "GET /reports/*"],
        until: "2026-11-22T03:15:00.000Z",
        createdAt: "2026-11-22T03:00:00.000Z",
        origin: "manual",
        reason: { mode: "enforce" },
        status: 451,
      },
    );
    const throttle = await run([
      "add",
      ...at,
      "--range",
      "198.51.100.9/24",
      "--action",
      "throttle",
      "--rate",
      "10/m",
      "-o",
      "json",
    ]);
    assert.equal(JSON.parse(throttle.out.join("")).value, "198.51.100.0/24");
    const tarpit = await run([
      "add",
      ...at,
      "--session",
      "abc_DEF-123",
      "--action",
      "tarpit",
      "--delay",
      "2s",
      "-o",
      "json",
    ]);
    assert.equal(JSON.parse(tarpit.out.join("")).delay, "2000ms");
    const global = await run([
      "add",
      ...at,
      "--action",
      "flag",
      "--until",
      "2026-11-23T00:00:00Z",
      "-o",
      "json",
    ]);
    assert.equal(global.code, 0, global.err.join("\n"));
    assert.deepEqual(
      [JSON.parse(global.out.join("")).scope, JSON.parse(global.out.join("")).until],
      ["global", "2026-11-23T00:00:00.000Z"],
    );
  });

  it("add: prints each field the API refused and exits 1", async () => {
    const r = await run(["add", ...at, "--ip", "300.1.1.1", "--action", "throttle", "--duration", "400d"]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.err, [
      "gatehouse decisions add: the admin API answered 400: the decision is not valid (3 problems)",
      "gatehouse decisions add:   value: must be an IPv4 or IPv6 address for scope ip",
      "gatehouse decisions add:   rate: is required for action throttle (e.g. 10/m)",
      'gatehouse decisions add:   duration: "400d" is longer than 366d',
    ]);
    assert.deepEqual(r.out, []);
  });

  it("list: a table of live decisions, with filters; -o json", async () => {
    const table = await run(["list", ...at]);
    assert.equal(table.code, 0, table.err.join("\n"));
    assert.equal(table.out.length, 1 + admin.decisions.list().length);
    assert.ok(table.out.some((line) => / flag +global +\* +2026-11-23T00:00:00\.000Z +manual$/.test(line)));
    // Columns line up: every row has VALUE where the header has it.
    const column = table.out[0]!.indexOf("VALUE");
    assert.ok(table.out.slice(1).every((line) => line[column - 2] === " " && line[column] !== " "));

    const blocks = await run(["list", ...at, "--ip", "203.0.113.7"]);
    assert.equal(blocks.out.length, 2);
    assert.match(blocks.out[1]!, / block +ip +203\.0\.113\.7 /);
    const json = await run(["list", ...at, "--action", "disable", "-o", "json"]);
    const body = JSON.parse(json.out.join("\n"));
    assert.deepEqual(
      body.decisions.map((d: { value: string }) => d.value),
      ["bob"],
    );
    const none = await run(["list", ...at, "--origin", "feed"]);
    assert.deepEqual(none.out, ["no live decisions"]);
    const bad = await run(["list", ...at, "--limit", "0"]);
    assert.equal(bad.code, 1);
    assert.deepEqual(bad.err.slice(1), [
      "gatehouse decisions list:   limit: must be a whole number from 1 to 10000",
    ]);
  });

  it("list: escapes control characters and bounds long values in the table", async () => {
    await run(["add", ...at, "--user", "u".repeat(200), "--reason", "line one\n\u001b[31mred"]);
    const r = await run(["list", ...at, "--user", "u".repeat(200)]);
    assert.equal(r.out.length, 2);
    assert.ok(!r.out[1]!.includes("\u001b") && !r.out[1]!.includes("\n"));
    assert.match(r.out[1]!, / u{45}\.\.\. /);
    assert.match(r.out[1]!, /line one\\u000a\\u001b\[31mred$/);
  });

  it("delete: removes the decision; an unknown id exits 1", async () => {
    const [first] = admin.decisions.list();
    const r = await run(["delete", ...at, first!.id]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.deepEqual(r.out, [`decision ${first!.id} deleted`]);
    assert.equal(admin.decisions.get(first!.id), undefined);
    const again = await run(["delete", ...at, first!.id]);
    assert.equal(again.code, 1);
    assert.deepEqual(again.err, [
      `gatehouse decisions delete: the admin API answered 404: no live decision ${first!.id} (it may have expired)`,
    ]);
  });

  it("usage mistakes exit 2 before any call", async () => {
    const cases: [string[], string][] = [
      [[], "gatehouse decisions: say list, add or delete"],
      [["purge"], 'gatehouse decisions: unknown subcommand "purge"'],
      [
        ["add", "--ip", "1.2.3.4", "--user", "bob"],
        "gatehouse decisions: give at most one of --ip, --range, --user, --session (none: scope global)",
      ],
      [["delete"], "gatehouse decisions: delete takes one decision id"],
      [["delete", "a", "b"], "gatehouse decisions: delete takes one decision id"],
      [["list", "extra"], 'gatehouse decisions: unexpected argument "extra"'],
      [["list", "--route", "GET /"], "gatehouse decisions: --route is not an option of decisions list"],
      [["delete", "x", "--ip", "1.2.3.4"], "gatehouse decisions: --ip is not an option of decisions delete"],
      [["list", "-o", "yaml"], 'gatehouse decisions: -o takes "table" or "json"'],
    ];
    for (const [argv, message] of cases) {
      const r = await run([...argv, "--admin-listen", "127.0.0.1:9"]);
      assert.equal(r.code, 2, argv.join(" "));
      assert.equal(r.err[0], message);
    }
  });
});

describe("gatehouse decisions with an admin token", () => {
  let admin: Admin;
  before(async () => {
    admin = await startAdmin(TOKEN);
  });
  after(() => admin.close());

  it("sends --admin-token, or the environment's, and says so when it is missing", async () => {
    const missing = await run(["add", "--admin-listen", admin.listen, "--ip", "192.0.2.1"]);
    assert.equal(missing.code, 1);
    assert.deepEqual(missing.err, [
      "gatehouse decisions add: the admin API answered 401: this call needs Authorization: Bearer <admin token>",
      "gatehouse decisions add:   pass the admin token with --admin-token (GATEHOUSE_ADMIN_TOKEN)",
    ]);
    const flag = await run([
      "add",
      "--admin-listen",
      admin.listen,
      "--admin-token",
      TOKEN,
      "--ip",
      "192.0.2.1",
    ]);
    assert.equal(flag.code, 0, flag.err.join("\n"));
    const env = await run(["add", "--ip", "192.0.2.2"], {
      GATEHOUSE_ADMIN_LISTEN: admin.listen,
      GATEHOUSE_ADMIN_TOKEN: TOKEN,
    });
    assert.equal(env.code, 0, env.err.join("\n"));
    assert.equal(admin.decisions.list().length, 2);
  });
});

describe("gatehouse decisions when the admin API is not there", () => {
  it("says it cannot reach it, where, and exits 1", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve)); // a port nobody listens on now
    const r = await run(["list", "--admin-listen", `127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.equal(r.err.length, 1);
    assert.match(
      r.err[0]!,
      new RegExp(
        `^gatehouse decisions list: cannot reach the admin API at http://127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\); is gatehouse serve running there\\?`,
      ),
    );
  });

  it("says what is wrong with the configuration instead", async () => {
    const r = await run(["list", "--admin-listen", "nowhere"]);
    assert.equal(r.code, 1);
    assert.match(r.err[0]!, /^flag --admin-listen adminListen: "nowhere" is not an address/);
  });

  it("says so when something else answers", async () => {
    const other: Server = createServer((_req, res) => {
      res.writeHead(404, { "content-type": "text/html" });
      res.end("<h1>not here</h1>");
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    try {
      const r = await run(["list", "--admin-listen", `127.0.0.1:${(other.address() as AddressInfo).port}`]);
      assert.equal(r.code, 1);
      assert.deepEqual(r.err, ["gatehouse decisions list: the admin API answered 404: <h1>not here</h1>"]);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe("gatehouse decisions from the command line", () => {
  let admin: Admin;
  before(async () => {
    admin = await startAdmin();
  });
  after(() => admin.close());

  it("takes its subcommand and id as arguments, add to delete", async () => {
    const add = await runGatehouse([
      "decisions",
      "add",
      "--admin-listen",
      admin.listen,
      "--ip",
      "192.0.2.9",
      "-o",
      "json",
    ]);
    assert.equal(add.code, 0, add.stderr);
    const { id } = JSON.parse(add.stdout);
    const list = await runGatehouse(["decisions", "list", "--admin-listen", admin.listen]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${id} +block +ip +192\\.0\\.2\\.9 `, "m"));
    const del = await runGatehouse(["decisions", "delete", id, "--admin-listen", admin.listen]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, `decision ${id} deleted\n`);
    const help = await runGatehouse(["--help"]);
    assert.match(help.stdout, /^ {2}decisions manage decisions through the admin API/m);
    const other = await runGatehouse(["check", "extra"]);
    assert.equal(other.code, 2, "other commands still refuse extra arguments");
  });
});
