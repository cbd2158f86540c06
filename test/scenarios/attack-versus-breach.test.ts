/**
 * Attack versus breach, end to end (DESIGN sections 3.3 and 6): the vulnerable demo app behind a
 * real Gatehouse with edge detection, honey traps and response evidence on, attacked by scripted
 * actors while benign actors shop. Each attack runs once against a safe twin (an attempt: nothing
 * was obtained) and once against the hole (a breach: it worked). The suite asserts what an operator
 * relies on: attempts are counted and summarised in a digest, every breach is an incident with its
 * evidence and pages exactly once, the metrics agree with the pages, and ordinary traffic is never
 * a breach, a decision or a refused request.
 *
 * It is a regression suite for the breach signal: every count it checks is asserted to be
 * positive as well as exact, so a detector that silently stops firing fails it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Client, client, type Reply } from "../helpers/client.ts";
import { type GatehouseProcess, policyFile, runGatehouse, startGatehouse } from "../helpers/gatehouse.ts";
import { metric } from "../helpers/prometheus.ts";
import { waitFor } from "../helpers/wait.ts";
import { type BenignResult, benignActor } from "./benign-traffic.ts";
import {
  ACCOUNTS,
  HONEYTOKENS,
  PASSWD_LINE,
  startVulnerableApp,
  type VulnerableApp,
} from "./vulnerable-app.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.ts";

type Outcome = "attempt" | "blocked" | "success";

interface Incident {
  id: string;
  outcome: Outcome;
  actor: { ip?: string; range?: string; session?: string; user?: string };
  firstSeen: string;
  lastSeen: string;
  detectionPoints: string[];
  events: number;
  attacks: number;
  evidence: { kind: string; detail: string; requestId: string | null }[];
  responses: unknown[];
}

interface Decision {
  id: string;
  action: string;
  scope: string;
  value: string;
  origin: string;
}

const POLICY_TEMPLATE = readFileSync(new URL("./policy.yaml", import.meta.url), "utf8");
/** Where policy.yaml points its webhooks until the test knows its receiver's port. */
const PLACEHOLDER_ORIGIN = "http://127.0.0.1:9";

const XSS = "<script>alert(document.cookie)</script>";
const SQLI_BROKEN = "1' OR '1'='1";
const SQLI_UNION = "0 UNION SELECT id, value, 0 FROM secrets";
const TRAVERSAL = "../etc/passwd";
// An attempt is recorded once it is an attack: the policy's threshold is three tries.
const XSS_TRIES = [XSS, "<img src=x onerror=alert(1)>", '"><script src=//evil.example/x.js></script>'];
const SQLI_TRIES = [SQLI_BROKEN, SQLI_UNION, "1'--"];
const TRAVERSAL_TRIES = [TRAVERSAL, "../../../../etc/passwd", "..\\..\\windows\\win.ini"];

async function sendAll(
  c: Client,
  payloads: readonly string[],
  path: (p: string) => string,
): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (const p of payloads) replies.push(await c.send(path(p)));
  return replies;
}

const form = (fields: Record<string, string>) => ({
  method: "POST" as const,
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});
const json = (value: unknown) => ({
  method: "POST" as const,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(value),
});

/** Gatehouse's own refusal (DESIGN section 5), as opposed to an app's 403 page. */
const refusedByGatehouse = (r: Reply) =>
  r.status === 403 && String(r.headers["content-type"]).startsWith("application/problem+json");

interface Scenario {
  name: string;
  /** The attacker's own loopback address, so its incident is its alone. */
  ip: string;
  expected: "attempt" | "success" | "attempt, then blocked";
  /** A detection point the incident must list. */
  detectionPoint: string;
  /** For a breach: an evidence kind the incident must carry. */
  evidence?: string;
  /** The attack. It asserts what the attacker got back: whether the exploit really worked. */
  attack(c: Client): Promise<Reply[]>;
}

const SCENARIOS: Scenario[] = [
  {
    name: "reflected XSS against the encoding page",
    ip: "127.0.0.11",
    expected: "attempt",
    detectionPoint: "IE1",
    async attack(c) {
      const replies = await sendAll(c, XSS_TRIES, (p) => `/safe/search?q=${encodeURIComponent(p)}`);
      for (const r of replies) {
        assert.equal(r.status, 200);
        assert.ok(!/<script|<img/.test(r.text.slice(r.text.indexOf("<body>"))), "the safe page encodes");
      }
      return replies;
    },
  },
  {
    name: "reflected XSS against the echoing page",
    ip: "127.0.0.12",
    expected: "success",
    detectionPoint: "IE1",
    evidence: "reflected-payload",
    async attack(c) {
      const r = await c.send(`/search?q=${encodeURIComponent(XSS)}`);
      assert.equal(r.status, 200);
      assert.ok(r.text.includes(XSS), "the script came back as it was sent");
      return [r];
    },
  },
  {
    name: "SQL injection against the parameterised query",
    ip: "127.0.0.21",
    expected: "attempt",
    detectionPoint: "CIE1",
    async attack(c) {
      const replies = await sendAll(c, SQLI_TRIES, (p) => `/safe/items?id=${encodeURIComponent(p)}`);
      for (const r of replies) assert.equal(r.status, 404, "the parameterised query found nothing");
      return replies;
    },
  },
  {
    name: "SQL injection that breaks the concatenated query",
    ip: "127.0.0.22",
    expected: "success",
    detectionPoint: "CIE1",
    evidence: "error-disclosure",
    async attack(c) {
      const r = await c.send(`/items?id=${encodeURIComponent(SQLI_BROKEN)}`);
      assert.equal(r.status, 500);
      assert.match(r.text, /syntax error/, "the database error reached the attacker");
      return [r];
    },
  },
  {
    name: "UNION injection that dumps the canary record",
    ip: "127.0.0.23",
    expected: "success",
    detectionPoint: "HT3",
    evidence: "honeytoken-response",
    async attack(c) {
      const r = await c.send(`/items?id=${encodeURIComponent(SQLI_UNION)}`);
      assert.equal(r.status, 200);
      assert.ok(r.text.includes(HONEYTOKENS.record), "the canary record left the app");
      return [r];
    },
  },
  {
    name: "path traversal against the checked file name",
    ip: "127.0.0.31",
    expected: "attempt",
    detectionPoint: "IE3",
    async attack(c) {
      const replies = await sendAll(c, TRAVERSAL_TRIES, (p) => `/safe/files?name=${encodeURIComponent(p)}`);
      for (const r of replies) assert.equal(r.status, 404, "the checked name refused it");
      return replies;
    },
  },
  {
    name: "path traversal against the joined file name",
    ip: "127.0.0.32",
    expected: "success",
    detectionPoint: "IE3",
    evidence: "file-content",
    async attack(c) {
      const r = await c.send(`/files?name=${encodeURIComponent(TRAVERSAL)}`);
      assert.equal(r.status, 200);
      assert.ok(r.text.startsWith(PASSWD_LINE), "the passwd file came back");
      return [r];
    },
  },
  {
    name: "credential stuffing that never gets in",
    ip: "127.0.0.41",
    expected: "attempt, then blocked",
    detectionPoint: "AE2",
    async attack(c) {
      const users = ["admin", "root", "test", "guest", "support", "info", "user", "shop"];
      const passwords = ["123456", "password", "qwerty", "letmein", "admin", "welcome", "111111"];
      const replies: Reply[] = [];
      // Until the block lands: it is decided off the request path, so a few more may get through.
      for (let i = 0; i < 60 && !replies.some(refusedByGatehouse); i++) {
        const username = users[i % users.length]!;
        const password = passwords[i % passwords.length]!;
        replies.push(await c.send("/login", form({ username, password })));
      }
      const failed = replies.filter((r) => r.status === 401).length;
      assert.ok(failed >= 10, `${failed} failed logins reached the app before the block`);
      assert.ok(
        replies.every((r) => r.status === 401 || refusedByGatehouse(r)),
        "no login succeeded",
      );
      assert.ok(replies.some(refusedByGatehouse), "the stuffer was blocked at the edge");
      return replies;
    },
  },
  {
    name: "credential guessing, then the right password",
    ip: "127.0.0.42",
    expected: "success",
    detectionPoint: "AE2",
    evidence: "login-after-guessing",
    async attack(c) {
      const replies: Reply[] = [];
      for (const password of ["123456", "password", "admin", "qwerty", "letmein"])
        replies.push(await c.send("/login", form({ username: "admin", password })));
      assert.ok(replies.every((r) => r.status === 401));
      const ok = await c.send("/login", form({ username: "admin", password: ACCOUNTS.admin }));
      assert.equal(ok.status, 200, "the guessed password let the attacker in");
      return [...replies, ok];
    },
  },
  {
    name: "login to the honeytoken account",
    ip: "127.0.0.43",
    expected: "success",
    detectionPoint: "HT3",
    evidence: "app",
    async attack(c) {
      const r = await c.send(
        "/login",
        json({ username: HONEYTOKENS.account, password: ACCOUNTS[HONEYTOKENS.account] }),
      );
      assert.equal(r.status, 200);
      return [r];
    },
  },
  {
    name: "decoy routes requested",
    ip: "127.0.0.51",
    expected: "attempt",
    detectionPoint: "HT2",
    async attack(c) {
      const replies = [await c.send("/.env"), await c.send("/backup.zip")];
      assert.ok(
        replies.every((r) => r.status === 404),
        "nothing was behind the decoys",
      );
      return replies;
    },
  },
];

const BENIGN: { ip: string; user: "alice" | "siobhan.o'neill" }[] = [
  { ip: "127.0.0.101", user: "alice" },
  { ip: "127.0.0.102", user: "siobhan.o'neill" },
  { ip: "127.0.0.103", user: "alice" },
  { ip: "127.0.0.104", user: "siobhan.o'neill" },
  { ip: "127.0.0.105", user: "alice" },
  { ip: "127.0.0.106", user: "siobhan.o'neill" },
];
const BENIGN_REQUESTS_EACH = 500;

interface Row {
  scenario: string;
  ip: string;
  expected: string;
  outcome: string;
  statuses: string;
  detectionPoints: string;
  evidence: string;
  pages: number | string;
}

describe("attack versus breach: the vulnerable shop behind Gatehouse", { timeout: 90_000 }, () => {
  let app: VulnerableApp;
  let receiver: WebhookReceiver;
  let gatehouse: GatehouseProcess;
  let benign: Promise<BenignResult[]>;
  const clients: Client[] = [];
  const rows = new Map<string, Row>();
  /** The incident each scenario ended with, by scenario name. */
  const outcomes = new Map<string, Incident>();

  async function incidents(query = ""): Promise<Incident[]> {
    const res = await fetch(`${gatehouse.adminUrl}/v1/incidents${query}`);
    assert.equal(res.status, 200, `GET /v1/incidents${query}: ${res.status}`);
    const body = (await res.json()) as { incidents: Incident[] };
    assert.ok(Array.isArray(body.incidents), "incidents is a list");
    return body.incidents;
  }

  async function decisions(): Promise<Decision[]> {
    const res = await fetch(`${gatehouse.adminUrl}/v1/decisions`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { decisions: Decision[] }).decisions;
  }

  /** The one incident of `ip`, once `ready` holds for it. */
  async function incidentOf(ip: string, ready: (i: Incident) => boolean, what: string): Promise<Incident> {
    return waitFor(
      async () => {
        const list = await incidents(`?ip=${ip}`);
        return list.length === 1 && ready(list[0]!) ? list[0]! : undefined;
      },
      what,
      10_000,
    ).catch(async (err: Error) => {
      const list = await incidents(`?ip=${ip}`);
      throw new Error(`${err.message}; incidents of ${ip}: ${JSON.stringify(list)}`);
    });
  }

  before(async () => {
    app = await startVulnerableApp();
    receiver = await startWebhookReceiver({ refuseFirst: 1 });
    const policy = policyFile(POLICY_TEMPLATE.replaceAll(PLACEHOLDER_ORIGIN, receiver.origin));
    gatehouse = await startGatehouse({ upstream: app.upstream, args: ["--policy", policy] });
    // Benign shoppers start now and browse while the attacks run.
    benign = Promise.all(
      BENIGN.map((b) => benignActor(gatehouse.proxyUrl, b.ip, b.user, BENIGN_REQUESTS_EACH)),
    );
  });

  after(async () => {
    await benign?.catch(() => []);
    await Promise.all(clients.map((c) => c.close()));
    await gatehouse?.kill();
    await receiver?.close();
    await app?.close();
    if (rows.size > 0) {
      console.log("\nattack versus breach: what each actor did and what Gatehouse made of it");
      console.table([...rows.values()]);
    }
  });

  for (const s of SCENARIOS) {
    it(`${s.name}: ${s.expected}`, async () => {
      const c = client(gatehouse.proxyUrl, { localAddress: s.ip });
      clients.push(c);
      const row: Row = {
        scenario: s.name,
        ip: s.ip,
        expected: s.expected,
        outcome: "(none)",
        statuses: "(attack failed)",
        detectionPoints: "",
        evidence: "",
        pages: "",
      };
      rows.set(s.name, row);
      const replies = await s.attack(c);
      const statuses = new Map<number, number>();
      for (const r of replies) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      row.statuses = [...statuses].map(([k, v]) => `${v}x${k}`).join(" ");

      const incident = await incidentOf(
        s.ip,
        (i) =>
          i.detectionPoints.includes(s.detectionPoint) &&
          (s.expected === "success" ? i.outcome === "success" : true) &&
          (s.evidence === undefined || i.evidence.some((e) => e.kind === s.evidence)),
        `an incident of ${s.ip} with ${s.detectionPoint}${s.evidence ? ` and ${s.evidence} evidence` : ""}`,
      );
      row.outcome = incident.outcome;
      row.detectionPoints = incident.detectionPoints.join(" ");
      row.evidence = incident.evidence.map((e) => e.kind).join(" ");
      outcomes.set(s.name, incident);

      assert.equal(incident.actor.ip, s.ip);
      assert.ok(incident.events >= 1, "the incident counts the events that made it");
      if (s.expected === "success") {
        assert.equal(incident.outcome, "success");
        for (const e of incident.evidence) assert.equal(typeof e.detail, "string");
        // A breach acts at once: the attacker's next request is refused at the edge.
        const next = await waitFor(
          async () => {
            const r = await c.send("/");
            return refusedByGatehouse(r) ? r : undefined;
          },
          `${s.ip} refused after its breach`,
          5000,
        );
        assert.equal(next.status, 403);
        const mine = (await decisions()).filter((d) => d.scope === "ip" && d.value === s.ip);
        assert.ok(
          mine.some((d) => d.origin === "breach"),
          `a breach decision blocks ${s.ip}: ${JSON.stringify(mine)}`,
        );
      } else if (s.expected === "attempt") {
        assert.equal(incident.outcome, "attempt", JSON.stringify(incident));
        assert.deepEqual(
          incident.evidence.filter((e) => e.kind !== "app"),
          [],
          "an attempt carries no breach evidence",
        );
      } else {
        // The stuffer was blocked by policy (AE2), never by a breach.
        const blocked = await incidentOf(s.ip, (i) => i.outcome === "blocked", `${s.ip}'s incident blocked`);
        row.outcome = blocked.outcome;
        outcomes.set(s.name, blocked);
        const mine = (await decisions()).filter((d) => d.scope === "ip" && d.value === s.ip);
        assert.ok(mine.length > 0 && mine.every((d) => d.origin === "policy"), JSON.stringify(mine));
      }
    });
  }

  it("benign shoppers are never a breach, a decision or a refused request", async () => {
    const results = await benign;
    const total = results.reduce((n, r) => n + r.requests, 0);
    assert.equal(total, BENIGN.length * BENIGN_REQUESTS_EACH, "every benign request was sent");
    for (const r of results) {
      assert.deepEqual(r.refused.slice(0, 10), [], `${r.ip} had requests refused`);
      assert.ok((r.statuses.get(200) ?? 0) > BENIGN_REQUESTS_EACH / 2, `${r.ip} mostly got 200`);
    }
    const ips = new Set(BENIGN.map((b) => b.ip));
    const users = new Set<string>(BENIGN.map((b) => b.user));
    const all = await incidents();
    const theirs = all.filter((i) => ips.has(i.actor.ip ?? "") || users.has(i.actor.user ?? ""));
    assert.deepEqual(
      theirs.filter((i) => i.outcome === "success"),
      [],
      "no benign actor has a breach incident",
    );
    const decided = (await decisions()).filter(
      (d) =>
        d.scope === "global" ||
        d.scope === "range" ||
        (d.scope === "ip" && ips.has(d.value)) ||
        (d.scope === "user" && users.has(d.value)),
    );
    assert.deepEqual(decided, [], "no decision touches a benign actor");
    rows.set("benign", {
      scenario: `benign shoppers (${BENIGN.length} actors)`,
      ip: "127.0.0.101-106",
      expected: "nothing",
      outcome: theirs.length === 0 ? "(none)" : theirs.map((i) => i.outcome).join(" "),
      statuses: [...mergeStatuses(results)].map(([k, v]) => `${v}x${k}`).join(" "),
      detectionPoints: [...new Set(theirs.flatMap((i) => i.detectionPoints))].join(" "),
      evidence: "",
      pages: 0,
    });
    // Stricter than "no breach": ordinary traffic is no incident at all, and the only detection
    // it raises is the one mistyped password of each shopper (AE2), far below any threshold.
    assert.deepEqual(theirs, [], "no benign actor has an incident");
    const detections = gatehouse.logs.filter(
      (l) => l.msg === "detection event" && ips.has(String((l.actor as { ip?: string } | undefined)?.ip)),
    );
    const points = detections.map((l) => `${l.detectionPoint}:${l.outcome}`);
    rows.get("benign")!.detectionPoints = [...new Set(points)].join(" ") || "(none)";
    assert.ok(
      points.every((p) => p === "AE2:attempt"),
      `benign traffic raised only the mistyped logins: ${points.join(", ")}`,
    );
    assert.ok(points.length <= BENIGN.length, `${points.length} detections from ${BENIGN.length} typos`);
  });

  it("each breach incident pages exactly once, attempts only in a digest, and the metric agrees", async () => {
    const breaches = SCENARIOS.filter((s) => s.expected === "success");
    const attempts = SCENARIOS.filter((s) => s.expected !== "success");
    const breachIncidents = (await incidents("?outcome=success")).filter((i) =>
      breaches.some((s) => s.ip === i.actor.ip),
    );
    assert.equal(breachIncidents.length, breaches.length, "one breach incident per successful exploit");
    assert.ok(breachIncidents.length > 0);

    // A JSON page says `"kind": "breach"`; a Slack one has no kind, only its text ("Breach: …").
    const pages = (path: string) =>
      receiver
        .accepted(path)
        .filter((d) => d.body?.kind === "breach" || String(d.body?.text ?? "").startsWith("Breach:"));
    // Every breach is paged on both channels; the first delivery was refused and had to be retried.
    await waitFor(
      () => pages("/ops").length >= breaches.length && pages("/chat").length >= breaches.length,
      `${breaches.length} breach pages on each channel`,
      20_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; received: ${JSON.stringify(receiver.received.map((d) => d.text))}`);
    });
    // Attempts reach a digest once the interval they were active in has ended.
    const attemptIncidents = (await incidents()).filter((i) => attempts.some((s) => s.ip === i.actor.ip));
    assert.equal(attemptIncidents.length, attempts.length, "one incident per attempting actor");
    const digests = () => receiver.accepted("/ops").filter((d) => d.body?.kind === "digest");
    const digested = () =>
      new Set(digests().flatMap((d) => (d.body?.incidentIds as string[] | undefined) ?? []));
    await waitFor(
      () => attemptIncidents.every((i) => digested().has(i.id)),
      "every attempt incident in a digest",
      15_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; digests: ${JSON.stringify(digests().map((d) => d.body))}`);
    });
    // Then one more digest interval (2s in policy.yaml) with nothing new: a duplicate page, or a
    // page for an attempt, would have arrived by now.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.ok(receiver.received[0]!.status === 503, "the first delivery was refused (and retried)");

    const opsPages = pages("/ops");
    const perIncident = new Map<string, number>();
    for (const p of opsPages) {
      const id = String((p.body?.incident as { id?: string } | undefined)?.id ?? "");
      perIncident.set(id, (perIncident.get(id) ?? 0) + 1);
    }
    for (const i of breachIncidents) {
      assert.equal(perIncident.get(i.id), 1, `incident ${i.id} of ${i.actor.ip} paged once`);
      const s = breaches.find((b) => b.ip === i.actor.ip)!;
      rows.get(s.name)!.pages = perIncident.get(i.id) ?? 0;
    }
    assert.equal(opsPages.length, breachIncidents.length, "no page for anything but a breach incident");
    assert.equal(pages("/chat").length, breachIncidents.length, "the Slack channel got the same pages");

    // Attempts are never paged one by one: they are summarised in digests.
    for (const i of attemptIncidents) {
      assert.ok(!perIncident.has(i.id), `attempt ${i.actor.ip} was not paged`);
      const s = attempts.find((a) => a.ip === i.actor.ip)!;
      rows.get(s.name)!.pages = `0 (digest)`;
    }
    const slackDigests = receiver
      .accepted("/chat")
      .filter((d) => /^Gatehouse digest: /.test(String(d.body?.text)));
    assert.ok(slackDigests.length > 0, "the Slack channel got the digest too");
    for (const d of digests()) {
      const ids = (d.body?.incidentIds as string[] | undefined) ?? [];
      for (const i of breachIncidents) assert.ok(!ids.includes(i.id), "a breach is paged, never digested");
    }

    const metrics = await gatehouse.metrics();
    assert.equal(metric(metrics, "gatehouse_breaches_total"), breachIncidents.length, "breaches metric");
  });
});

describe("the scenario policy", () => {
  it("is a valid policy on its own, as gatehouse check sees it", async () => {
    const run = await runGatehouse(["check", "--policy", policyFile(POLICY_TEMPLATE)]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /policy OK: 1 file, 7 detection points/);
  });
});

function mergeStatuses(results: BenignResult[]): Map<number, number> {
  const all = new Map<number, number>();
  for (const r of results) for (const [k, v] of r.statuses) all.set(k, (all.get(k) ?? 0) + v);
  return new Map([...all].sort((a, b) => a[0] - b[0]));
}
