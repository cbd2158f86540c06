/**
 * The tour's rendering to shell (what a reader pastes) and the demo's webhook listener's printing
 * (what a page puts on the reader's terminal). The tour executed against a running demo is
 * test/integration/demo.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describePage } from "../../../src/cli/demo-listener.ts";
import { curlLine, renderTour, shellWord, tourSteps } from "../../../src/cli/demo-tour.ts";

const at = { proxy: "127.0.0.1:8080", admin: "127.0.0.1:9090" };

describe("demo tour: shell rendering", () => {
  it("quotes words only as much as the shell needs, and $i only inside double quotes", () => {
    assert.equal(shellWord("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/");
    assert.equal(shellWord("X-Forwarded-For: 192.0.2.1"), "'X-Forwarded-For: 192.0.2.1'");
    assert.equal(shellWord("it's"), `'it'\\''s'`);
    assert.equal(shellWord("password=guess$i"), '"password=guess$i"');
    for (const unsafe of ['a"$i', "$i`id`", "$i!", "$HOME$i", "$i\\"])
      assert.throws(() => shellWord(unsafe), /cannot be quoted/, unsafe);
  });

  it("renders loops, jars, encoded form fields and greps as curl would take them", () => {
    assert.equal(
      curlLine(
        {
          kind: "http",
          method: "POST",
          on: "proxy",
          path: "/comments",
          client: "192.0.2.30",
          jar: "a.cookies",
          form: [["text", "<script>alert(1)</script>"]],
          repeat: 3,
          show: "status",
        },
        at,
      ),
      "for i in $(seq 3); do curl -s -o /dev/null -w '%{http_code} ' -H 'X-Forwarded-For: 192.0.2.30' -b a.cookies -c a.cookies --data-urlencode 'text=<script>alert(1)</script>' http://127.0.0.1:8080/comments; done; echo",
    );
    assert.equal(
      curlLine(
        { kind: "http", method: "GET", on: "admin", path: "/metrics", show: "body", grep: 'kind="breach"' },
        at,
      ),
      `curl -s http://127.0.0.1:9090/metrics | grep -F 'kind="breach"'`,
    );
    assert.equal(
      curlLine({ kind: "http", method: "GET", on: "proxy", path: "/", repeat: 130, show: "tally" }, at),
      "for i in $(seq 130); do curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:8080/; done | sort | uniq -c",
    );
  });

  it("every printed line of the tour is at most 100 characters, or a single command", () => {
    const lines = renderTour(tourSteps(at), at);
    for (const line of lines) {
      if (line.startsWith("   curl") || line.startsWith("   for") || line.startsWith("   npx")) continue;
      assert.ok(line.length <= 100, line);
    }
    assert.deepEqual(
      lines.filter((l) => /^\d\. /.test(l)).map((l) => l.split(".")[0]),
      ["1", "2", "3", "4", "5"],
    );
  });

  it("uses only loopback for requests and documentation addresses for the clients it plays", () => {
    for (const step of tourSteps(at)) {
      for (const c of step.commands) {
        if (c.run.kind !== "http") continue;
        if (c.run.client) assert.match(c.run.client, /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$/);
      }
    }
  });
});

describe("demo listener: what a page prints", () => {
  const page = (incident: unknown) => JSON.stringify({ kind: "breach", sentAt: "t", incident });

  it("prints a breach's kind, incident id, outcome, actor and evidence", () => {
    assert.deepEqual(
      describePage(
        page({
          id: "inc-1",
          outcome: "success",
          actor: { ip: "198.51.100.40", user: "backup_admin" },
          detectionPoints: ["HT3"],
          evidence: [{ kind: "app", detail: "honeytoken account backup_admin signed in", requestId: "r1" }],
        }),
      ),
      [
        "[webhook] page: kind breach, incident inc-1, outcome success, actor user backup_admin, ip 198.51.100.40, detection points HT3",
        "[webhook]   evidence app: honeytoken account backup_admin signed in",
      ],
    );
  });

  it("takes control characters out of attacker-chosen text and bounds it", () => {
    const [head, evidence] = describePage(
      page({
        id: "x\u001b[2J\u001b]0;owned\u0007",
        outcome: "success",
        actor: { user: "a\r\nb\u009b" },
        detectionPoints: ["HT3"],
        evidence: [{ kind: "app", detail: "d".repeat(5000) }],
      }),
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    assert.doesNotMatch(`${head}${evidence}`, /[\u0000-\u001f\u007f-\u009f]/);
    assert.ok(evidence!.length < 260, `${evidence!.length}`);
  });

  it("reports bodies that are not pages, and shapes that are not what a page has, without throwing", () => {
    for (const body of [
      "",
      "not json",
      "[1,2]",
      "null",
      '"kind"',
      "{".repeat(10_000),
      JSON.stringify({ kind: "breach", incident: "nope" }),
      JSON.stringify({ kind: "breach", incident: { actor: [1], evidence: "x", detectionPoints: 5 } }),
      JSON.stringify({ kind: "breach", incident: { evidence: [null, 3, { kind: { a: 1 } }] } }),
      JSON.stringify({ kind: "digest", outcomes: null }),
      JSON.stringify({ kind: 42 }),
    ]) {
      const lines = describePage(body);
      assert.ok(lines.length >= 1 && lines.every((l) => l.startsWith("[webhook] ")), body.slice(0, 40));
    }
    assert.deepEqual(describePage("not json"), ["[webhook] received 8 bytes that are not a Gatehouse page"]);
    assert.match(
      describePage(
        JSON.stringify({
          kind: "digest",
          incidents: 3,
          from: "a",
          to: "b",
          outcomes: { attempt: 2, blocked: 1 },
        }),
      )[0]!,
      /^\[webhook\] digest: 3 incidents from a to b \(2 attempted, 1 blocked\)$/,
    );
  });
});
