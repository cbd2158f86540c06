/**
 * docs/alerts.md's rules name only metrics Gatehouse exports, with label values it uses, so an
 * operator who copies them gets alerts that can fire. The names come from a Gatehouse built in
 * process (nothing listens), so every registered metric is known.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { createGatehouse, type Gatehouse } from "../../../src/app.ts";
import { loadConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { loadPolicySources } from "../../../src/policy/load.ts";

const DOC = fileURLToPath(new URL("../../../docs/alerts.md", import.meta.url));

interface Rule {
  alert: string;
  expr: string;
}

function rules(): Rule[] {
  const block = /```yaml\n([\s\S]*?)```/.exec(readFileSync(DOC, "utf8"))?.[1];
  assert.ok(block, "docs/alerts.md has a yaml block");
  const doc = parse(block) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

describe("docs/alerts.md", () => {
  let gatehouse: Gatehouse | null = null;
  after(async () => {
    await gatehouse?.incidents.close();
    await gatehouse?.store.close();
  });

  it("alerts only on metrics Gatehouse registers", async () => {
    const loaded = loadConfig({ env: { GATEHOUSE_EVENTS_SOCKET: "off" } });
    assert.ok(loaded.ok);
    const policy = loadPolicySources([{ name: "empty.yaml", text: "mode: enforce\n" }]);
    assert.ok(policy.ok);
    gatehouse = createGatehouse(loaded.config, createLogger("silent"), { policy: policy.policy });
    const registered = new Set((await gatehouse.metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const all = rules();
    assert.ok(all.length >= 5, "the page carries a useful set of rules");
    for (const rule of all) {
      const names = rule.expr.match(/gatehouse_[a-z_]+/g) ?? [];
      assert.ok(names.length > 0, `${rule.alert} uses a Gatehouse metric`);
      for (const name of names) assert.ok(registered.has(name), `${rule.alert}: ${name} is not registered`);
    }
  });

  it("uses label values the metrics really carry", () => {
    const exprs = rules()
      .map((r) => r.expr)
      .join("\n");
    for (const reason of /reason=~"([^"]+)"/.exec(exprs)?.[1]?.split("|") ?? []) {
      const webhook = readFileSync(
        fileURLToPath(new URL("../../../src/notify/webhook.ts", import.meta.url)),
        "utf8",
      );
      assert.match(webhook, new RegExp(`"${reason}"`), `gatehouse_notify_failures_total reason ${reason}`);
    }
    assert.match(exprs, /outcome="upstream_error"/);
    const record = readFileSync(
      fileURLToPath(new URL("../../../src/pipeline/record.ts", import.meta.url)),
      "utf8",
    );
    assert.match(record, /"upstream_error"/);
  });
});
