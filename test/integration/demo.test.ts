/**
 * `gatehouse demo` as a user meets it: the real CLI as a child process, its printed tour read
 * back, and every command of it executed in order against the running demo, each step checked
 * for what its text promises. The tour is data (src/cli/demo-tour.ts) that the demo renders to
 * curl lines; this test renders the same list for the addresses the demo printed, checks that
 * each line is in its output, and runs the requests the lines stand for (curl -b/-c cookie jars
 * included), so the printed script and this test cannot drift apart.
 *
 * Between commands the test waits, as a reader does, until analysis has acted on what the last
 * one reported (the decision exists, the page was printed); it never asserts how long that took.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { Agent, request } from "undici";
import {
  commandLine,
  TOUR_CLIENTS,
  type TourAddresses,
  type TourCommand,
  type TourRequest,
  tourSteps,
} from "../../src/cli/demo-tour.ts";
import { REPO_ROOT, runGatehouse } from "../helpers/gatehouse.ts";
import { waitFor, within } from "../helpers/wait.ts";

const CLI = join(REPO_ROOT, "cmd", "gatehouse.ts");

interface Demo {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("GATEHOUSE_")) env[k] = v;
  return env;
}

/** The CLI with `args`, its stdout lines kept; resolves once `ready` matches a line. */
async function startDemo(args: string[], ready: RegExp): Promise<Demo> {
  const child = spawn(process.execPath, [CLI, "demo", ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  let running = true;
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      running = false;
      // A killed demo cannot remove its socket directory itself.
      rmSync(join(tmpdir(), `gatehouse-demo-${child.pid}`), { recursive: true, force: true });
      resolve(code);
    }),
  );
  createInterface({ input: child.stdout! }).on("line", (l) => lines.push(l));
  createInterface({ input: child.stderr! }).on("line", (l) => stderr.push(l));
  await waitFor(
    () =>
      lines.some((l) => ready.test(l)) ||
      (running
        ? undefined
        : Promise.reject(new Error(`demo exited early:\n${[...lines, ...stderr].join("\n")}`))),
    "the demo to be ready",
    20_000,
  );
  return {
    child,
    lines,
    exited,
    async stop(signal = "SIGTERM") {
      if (running) child.kill(signal);
      return within(exited, 15_000, `the demo to exit after ${signal}`);
    },
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body, or with `grep` only its lines containing that text. */
  text: string;
}

/** What curl -b FILE -c FILE does with cookies, for the few the demo sets. */
class CookieJar {
  readonly cookies = new Map<string, string>();
  header(): string | undefined {
    return this.cookies.size === 0 ? undefined : [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  update(setCookie: string | string[] | undefined): void {
    for (const line of setCookie === undefined ? [] : [setCookie].flat()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(eq + 1).trim());
    }
  }
}

const agent = new Agent({ keepAliveTimeout: 1000 });
const jars = new Map<string, CookieJar>();
after(() => agent.close());

/** One tour request, as many times as its loop says, `$i` replaced as the shell would. */
async function execute(r: TourRequest, at: TourAddresses): Promise<Reply[]> {
  const replies: Reply[] = [];
  const jar = r.jar === undefined ? undefined : (jars.get(r.jar) ?? new CookieJar());
  if (r.jar !== undefined && jar) jars.set(r.jar, jar);
  for (let i = 1; i <= (r.repeat ?? 1); i++) {
    const sub = (text: string) => (r.repeat === undefined ? text : text.replaceAll("$i", String(i)));
    const headers: Record<string, string> = {};
    if (r.client) headers["x-forwarded-for"] = r.client;
    const cookie = jar?.header();
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (r.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(r.form.map(([k, v]) => [k, sub(v)])).toString();
    }
    const origin = r.on === "proxy" ? at.proxy : at.admin;
    const res = await request(`http://${origin}${sub(r.path)}`, {
      method: r.method,
      headers,
      body,
      dispatcher: agent,
    });
    const text = await res.body.text();
    jar?.update(res.headers["set-cookie"]);
    const shown =
      r.grep === undefined
        ? text
        : text
            .split("\n")
            .filter((l) => l.includes(r.grep!))
            .join("\n");
    replies.push({ status: res.statusCode, headers: res.headers, text: shown });
  }
  return replies;
}

async function json(url: string): Promise<Record<string, unknown>> {
  const res = await request(url, { dispatcher: agent });
  return (await res.body.json()) as Record<string, unknown>;
}

/** Wait until analysis made the decision (what a reader's pause between two commands gives it). */
function decisionFor(at: TourAddresses, action: string, scope: string, value?: string) {
  const query = new URLSearchParams({ action, scope, ...(value ? { value } : {}) });
  return waitFor(
    async () => {
      const answer = await json(`http://${at.admin}/v1/decisions?${query}`);
      const list = answer.decisions as unknown[];
      return list.length > 0 ? list : undefined;
    },
    `a ${action} decision on ${scope} ${value ?? ""}`,
  );
}

const statuses = (replies: Reply[]) => replies.map((r) => r.status);

describe("gatehouse demo: the printed tour does what it says", () => {
  let demo: Demo;
  let at: TourAddresses;
  const steps = new Map<string, TourCommand[]>();

  before(async () => {
    demo = await startDemo(
      ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
      /^Press Ctrl-C to stop\.$/,
    );
    const addressOf = (label: string, suffix: string) => {
      const line = demo.lines.find((l) => l.startsWith(`  ${label} `));
      const m = line && new RegExp(`http://(\\S+?)${suffix}`).exec(line);
      assert.ok(m, `the demo prints its ${label} address`);
      return m[1]!;
    };
    at = { proxy: addressOf("shop", "/"), admin: addressOf("admin", "/metrics") };
    for (const step of tourSteps(at)) steps.set(step.id, [...step.commands]);
  });

  after(async () => {
    await demo?.stop("SIGKILL");
  });

  it("prints five numbered steps in order, every command as the tour renders it", () => {
    const text = demo.lines.join("\n");
    const tour = tourSteps(at);
    assert.deepEqual(
      tour.map((s) => s.id),
      ["counted", "throttle", "block", "logout", "breach"],
    );
    tour.forEach((step, n) => {
      assert.ok(
        demo.lines.some((l) => l.startsWith(`${n + 1}. ${step.title}.`)),
        `step ${n + 1} is printed`,
      );
      for (const c of step.commands) {
        assert.ok(demo.lines.includes(`   ${commandLine(c.run, at)}`), `printed: ${commandLine(c.run, at)}`);
        assert.ok(demo.lines.includes(`     → ${c.expect}`), `expectation printed: ${c.expect}`);
      }
    });
    assert.match(text, /notify\.ops\.webhook, which is the listener above/);
    assert.match(text, /changed in memory only/);
    assert.match(text, / {2}webhook {2}http:\/\/127\.0\.0\.1:\d+\/gatehouse /);
  });

  it("1. counts failed logins without acting on them", async () => {
    const [guess, metrics] = steps.get("counted")!;
    assert.deepEqual(statuses(await execute(guess!.run as TourRequest, at)), [401, 401, 401, 401, 401]);
    const [shown] = await execute(metrics!.run as TourRequest, at);
    assert.equal(
      shown!.text,
      'gatehouse_events_total{channel="header",detection_point="AE2",outcome="attempt"} 5',
    );
    const decisions = await json(`http://${at.admin}/v1/decisions?value=${TOUR_CLIENTS.guesser}`);
    assert.deepEqual(decisions.decisions, [], "5 failures are below AE2's threshold: nothing acts");
  });

  it("2. throttles a force-browsing scanner: 429 with Retry-After past 60 a minute", async () => {
    const [browse, burst] = steps.get("throttle")!;
    const browsed = await execute(browse!.run as TourRequest, at);
    assert.deepEqual(statuses(browsed), Array(20).fill(404));
    await decisionFor(at, "throttle", "ip", TOUR_CLIENTS.scanner);
    const replies = await execute(burst!.run as TourRequest, at);
    const limited = replies.filter((r) => r.status === 429);
    const passed = replies.filter((r) => r.status === 200);
    assert.equal(limited.length + passed.length, 130, "each answer is 200 or 429");
    // 130 requests span at most two clock minutes of 60 each, so some are always refused.
    assert.ok(limited.length >= 10, `429s: ${limited.length}`);
    for (const r of limited) assert.ok(Number(r.headers["retry-after"]) >= 1, "429 carries Retry-After");
  });

  it("3. blocks the guesser at its 20th failure: 403 problem+json, and one incident for it", async () => {
    const [guess, home, incidents] = steps.get("block")!;
    const codes = statuses(await execute(guess!.run as TourRequest, at));
    // Step 1's 5 failures count: the 15th here is the 20th, after which the block is in place.
    const firstBlocked = codes.includes(403) ? codes.indexOf(403) : codes.length;
    assert.ok(firstBlocked >= 15, codes.join(" "));
    assert.deepEqual(codes, [...Array(firstBlocked).fill(401), ...Array(20 - firstBlocked).fill(403)]);
    await decisionFor(at, "block", "ip", TOUR_CLIENTS.guesser);
    const [blocked] = await execute(home!.run as TourRequest, at);
    assert.equal(blocked!.status, 403);
    assert.equal(blocked!.headers["content-type"], "application/problem+json");
    assert.equal(JSON.parse(blocked!.text).requestId, blocked!.headers["x-request-id"]);
    const run = incidents!.run;
    assert.equal(run.kind, "gatehouse");
    const listed = await runGatehouse([...run.args]);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = listed.stdout.trim().split("\n");
    assert.equal(rows.length, 2, listed.stdout);
    const [, outcome, actor, , , attacks, points] = rows[1]!.split(/\s+/);
    assert.deepEqual([outcome, actor, attacks, points], ["blocked", TOUR_CLIENTS.guesser, "2", "AE2"]);
  });

  it("4. logs alice out after script tags in her comments: the cookie expired, the app sees none", async () => {
    const [login, account, comments, after] = steps.get("logout")!;
    const [signedIn] = await execute(login!.run as TourRequest, at);
    assert.equal(signedIn!.status, 200);
    assert.match(String(signedIn!.headers["set-cookie"]), /^sid=[0-9a-f]{32};/);
    const [page] = await execute(account!.run as TourRequest, at);
    assert.equal(page!.text.split("</p>")[0], "<p>Signed in as alice.");
    assert.deepEqual(
      statuses(await execute(comments!.run as TourRequest, at)),
      [400, 400, 400, 400, 400, 400],
    );
    // The step says each comment is one IE1 event, the edge's: the app's report is not counted again.
    const metrics = await (await request(`http://${at.admin}/metrics`, { dispatcher: agent })).body.text();
    assert.match(
      metrics,
      /gatehouse_events_total\{channel="edge",detection_point="IE1",outcome="attempt"\} 6/,
    );
    assert.doesNotMatch(metrics, /gatehouse_events_total\{channel="header",detection_point="IE1"/);
    await decisionFor(at, "logout", "session");
    const [out] = await execute(after!.run as TourRequest, at);
    assert.deepEqual([out!.headers["set-cookie"]].flat(), ["sid=; Max-Age=0; Path=/"]);
    assert.equal(out!.status, 401);
    assert.match(out!.text, /Not signed in/);
    assert.equal(jars.get("alice.cookies")?.cookies.has("sid"), false, "curl's jar drops the expired cookie");
  });

  it("5. pages one breach when the honeytoken account signs in, and shuts the intruder out", async () => {
    const [source, login, account, metrics] = steps.get("breach")!;
    const [hint] = await execute(source!.run as TourRequest, at);
    assert.equal(
      hint!.text.trim(),
      "<!-- TODO before launch: delete the backup login backup_admin / letmein-2019 -->",
    );
    const [inside] = await execute(login!.run as TourRequest, at);
    assert.equal(inside!.status, 200);
    assert.match(inside!.text, /Signed in as backup_admin/);
    const page = await waitFor(
      () => demo.lines.find((l) => l.startsWith("[webhook] page: kind breach")),
      "the listener to print the breach page",
    );
    assert.match(
      page,
      /incident [0-9a-f-]{36}, outcome success, actor user backup_admin, ip 198\.51\.100\.40/,
    );
    assert.match(page, /detection points HT3/);
    const evidence = demo.lines[demo.lines.indexOf(page) + 1];
    assert.match(evidence ?? "", /^\[webhook\] {3}evidence app: honeytoken account backup_admin signed in$/);
    const [shut] = await execute(account!.run as TourRequest, at);
    assert.equal(shut!.status, 403);
    const [counted] = await execute(metrics!.run as TourRequest, at);
    assert.equal(counted!.text, 'gatehouse_notifications_total{channel="ops",kind="breach"} 1');
  });

  it("stops on SIGTERM with exactly one breach page printed, and no attempt paged", async () => {
    assert.equal(await demo.stop("SIGTERM"), 0);
    assert.equal(demo.lines.at(-1), "Gatehouse demo stopped.");
    const pages = demo.lines.filter((l) => l.startsWith("[webhook]") && !l.startsWith("[webhook]   "));
    assert.equal(
      pages.filter((l) => l.startsWith("[webhook] page: kind breach")).length,
      1,
      pages.join("\n"),
    );
    // Attempts only ever reach a digest, at the end of the hour; nothing else is a page.
    assert.deepEqual(
      pages.filter((l) => !l.startsWith("[webhook] page: kind breach") && !l.startsWith("[webhook] digest:")),
      [],
    );
  });
});

describe("gatehouse demo --app-only", () => {
  it("serves the instrumented app alone, reporting detections in headers, and exits on SIGINT", async () => {
    const demo = await startDemo(["--app-only", "--app-port", "0"], /^Gatehouse demo app listening on /);
    try {
      const line = demo.lines.find((l) => l.startsWith("Gatehouse demo app listening on "))!;
      const origin = /http:\/\/(127\.0\.0\.1:\d+)\//.exec(line)![1];
      const res = await request(`http://${origin}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "username=alice&password=nope",
        dispatcher: agent,
      });
      await res.body.text();
      assert.equal(res.statusCode, 401);
      // No Gatehouse in front: the app's own header is there to see.
      assert.equal(res.headers["gatehouse-event"], 'AE2;detail="wrong user or password"');
      assert.equal(await demo.stop("SIGINT"), 0);
      assert.equal(demo.lines.at(-1), "Gatehouse demo stopped.");
    } finally {
      await demo.stop("SIGKILL");
    }
  });

  it("refuses a port that is not one, and --app-listen with --app-port", async () => {
    const bad = await runGatehouse(["demo", "--app-only", "--app-port", "http"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--app-port: "http" is not a port/);
    const both = await runGatehouse(["demo", "--app-listen", "127.0.0.1:0", "--app-port", "1"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /not both/);
    const other = await runGatehouse(["decisions", "list", "--app-only"]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /--app-only is not an option of this command/);
  });
});
