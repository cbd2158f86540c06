import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { addEventHeader, eventHeader } from "../../../src/client/index.ts";
import { parseDetectionHeaders } from "../../../src/events/header-parser.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

describe("eventHeader", () => {
  it("writes a header Gatehouse reads back as the same events", () => {
    const value = eventHeader([
      { detectionPoint: "IE1", outcome: "blocked", detail: 'a "quoted" <script>' },
      { detectionPoint: "AE2", user: "alice" },
    ]);
    assert.equal(value, 'IE1;outcome=blocked;detail="a \\"quoted\\" <script>", AE2;user="alice"');
    assert.deepEqual(parseDetectionHeaders(value, undefined).events, [
      { detectionPoint: "IE1", outcome: "blocked", user: null, detail: 'a "quoted" <script>' },
      { detectionPoint: "AE2", outcome: "attempt", user: "alice", detail: null },
    ]);
  });

  it("makes non-ASCII and over-long details safe instead of failing the response", () => {
    const value = eventHeader([{ detectionPoint: "IE1", detail: `ünïcode\r\n${"x".repeat(2000)}` }]);
    const [event] = parseDetectionHeaders(value, undefined).events;
    assert.equal(event!.detail!.length, 1024);
    assert.ok(event!.detail!.startsWith("?n?code??"));
  });

  it("adds to events already on a Node response, and appends to fetch Headers", () => {
    const store = new Map<string, string>();
    const res = {
      getHeader: (n: string) => store.get(n),
      setHeader: (n: string, v: string) => store.set(n, v),
    };
    addEventHeader(res, { detectionPoint: "IE1" });
    addEventHeader(res, { detectionPoint: "ACE3", outcome: "attempt" });
    assert.equal(store.get("Gatehouse-Event"), "IE1, ACE3;outcome=attempt");
    const headers = new Headers();
    addEventHeader(headers, { detectionPoint: "IE1" }, { detectionPoint: "IE3" });
    assert.equal(headers.get("gatehouse-event"), "IE1, IE3");
  });
});

describe("published package entry", () => {
  it("`gatehouse/client` builds to plain JavaScript that Node loads without type stripping", () => {
    execFileSync(
      process.execPath,
      [
        fileURLToPath(new URL("node_modules/typescript/bin/tsc", `file://${ROOT}/`)),
        "-p",
        "tsconfig.client.json",
      ],
      {
        cwd: ROOT,
      },
    );
    const out = execFileSync(
      process.execPath,
      [
        "--no-experimental-strip-types",
        "--input-type=module",
        "-e",
        'import { eventHeader } from "gatehouse/client"; console.log(eventHeader([{ detectionPoint: "IE1" }]));',
      ],
      { cwd: ROOT, encoding: "utf8" },
    );
    assert.equal(out.trim(), "IE1");
  });
});
