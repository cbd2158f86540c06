/**
 * The Helm chart, checked where the tests run: every values file validates against
 * values.schema.json (with Ajv, as Helm validates it), the schema refuses what Helm would install
 * wrongly, policies given inline are valid Gatehouse policies, the README documents every value,
 * and the templates make Gatehouse a native sidecar. `helm lint`, `helm template` and
 * `kubeconform` run when they are on the PATH; they cannot be installed on every machine (not
 * from npm or Debian), and the test says so when they are missing rather than pretend.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { loadPolicySources } from "../../../src/policy/load.ts";

const CHART = fileURLToPath(new URL("../../../helm/gatehouse/", import.meta.url));
const read = (path: string) => readFileSync(`${CHART}${path}`, "utf8");
const schema = JSON.parse(read("values.schema.json")) as object;
const defaults = parse(read("values.yaml")) as Record<string, unknown>;
const examples = readdirSync(`${CHART}examples`).filter((f) => f.endsWith(".yaml"));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === "object" && v !== null && !Array.isArray(v);

/** Helm's coalescing of a values file over values.yaml: maps merge, everything else replaces. */
function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isTree(v) && isTree(base[k]) ? merge(base[k], v) : v;
  return out;
}

function errorsOf(values: Tree): string[] {
  return validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** Leaf paths of values.yaml: what the README must document. */
function leaves(tree: Tree, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    // resources and securityContext are Kubernetes objects passed through whole.
    if (isTree(v) && Object.keys(v).length > 0 && !["resources", "securityContext"].includes(path))
      return leaves(v, path);
    return [path];
  });
}

describe("Helm chart values", () => {
  it("values.yaml validates against values.schema.json", () => {
    assert.deepEqual(errorsOf(defaults), []);
  });

  for (const file of examples) {
    it(`examples/${file} validates over the defaults`, () => {
      const values = merge(defaults, parse(read(`examples/${file}`)) as Tree);
      assert.deepEqual(errorsOf(values), []);
    });
  }

  it("has example values files to validate", () => {
    assert.ok(examples.length >= 2, `examples: ${examples.join(", ")}`);
  });

  const refused: [string, Tree][] = [
    ["an unknown key (a typo)", { proxyPrt: 8080 }],
    ["a port given as a string", { proxyPort: "8080" }],
    ["a port out of range", { adminPort: 70000 }],
    ["an upstream that is not a URL or socket", { upstream: "127.0.0.1:3000" }],
    ["an existing ConfigMap without the files to load", { policies: { existingConfigMap: "mine" } }],
    ["a policy file name that is not YAML", { policies: { inline: { "../etc/passwd": "mode: enforce" } } }],
    ["an unknown mode", { mode: "block-everything" }],
    ["a Redis URL of another scheme", { redis: { url: "http://redis:6379" } }],
    ["an environment name that is not one", { extraEnv: { "bad name": "x" } }],
  ];
  for (const [what, over] of refused) {
    it(`refuses ${what}`, () => {
      assert.notDeepEqual(errorsOf(merge(defaults, over)), [], JSON.stringify(over));
    });
  }

  it("inline policies in every values file are valid Gatehouse policies", () => {
    let checked = 0;
    for (const file of ["values.yaml", ...examples.map((f) => `examples/${f}`)]) {
      const inline = ((parse(read(file)) as Tree).policies as Tree | undefined)?.inline as
        | Record<string, string>
        | undefined;
      if (!inline || Object.keys(inline).length === 0) continue;
      const result = loadPolicySources(Object.entries(inline).map(([name, text]) => ({ name, text })));
      assert.ok(result.ok, `${file}: ${JSON.stringify(result.ok ? [] : result.problems)}`);
      checked++;
    }
    assert.ok(checked > 0, "at least one values file carries inline policies");
  });

  it("the README documents every value", () => {
    const readme = read("README.md");
    const missing = leaves(defaults).filter((path) => !readme.includes(`\`${path}\``));
    assert.deepEqual(missing, []);
  });
});

describe("Helm chart templates", () => {
  const helpers = read("templates/_helpers.tpl");
  const sidecar = helpers.slice(
    helpers.indexOf('define "gatehouse.sidecar"'),
    helpers.indexOf('define "gatehouse.volumes"'),
  );

  it("defines the sidecar as a native sidecar with probes on /healthz and /readyz", () => {
    assert.match(sidecar, /restartPolicy: Always/);
    assert.match(sidecar, /livenessProbe:\s+httpGet:\s+path: \/healthz/);
    assert.match(sidecar, /readinessProbe:\s+httpGet:\s+path: \/readyz/);
    assert.match(sidecar, /GATEHOUSE_EVENTS_SOCKET/);
  });

  it("puts the sidecar under initContainers and shares an emptyDir for the event socket", () => {
    const deployment = read("templates/deployment.yaml");
    assert.match(deployment, /initContainers:\s+\{\{- include "gatehouse\.sidecar" \. /);
    assert.match(deployment, /include "gatehouse\.appVolumeMount"/);
    assert.match(helpers, /name: gatehouse-socket\s+emptyDir:/);
  });

  it("takes secrets from Secrets, never from values in plain text", () => {
    for (const env of ["GATEHOUSE_ADMIN_TOKEN", "GATEHOUSE_REDIS_PASSWORD", "GATEHOUSE_IDENTITY_HASH_KEY"]) {
      assert.match(sidecar, new RegExp(`name: ${env}\\s+valueFrom:\\s+secretKeyRef:`), env);
    }
  });

  it("sends the Service's traffic to the sidecar's port, not the app's", () => {
    assert.match(read("templates/service.yaml"), /targetPort: gatehouse\n/);
  });
});

const onPath = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const tools = ["helm", "kubeconform"].filter((t) => !onPath(t));

describe("helm lint, helm template and kubeconform", () => {
  it("render every values file into valid Kubernetes objects", {
    skip: tools.length > 0 ? `not on this machine's PATH: ${tools.join(", ")} (not installable here)` : false,
  }, () => {
    for (const file of [null, ...examples]) {
      const extra = file ? ["-f", `${CHART}examples/${file}`] : [];
      execFileSync("helm", ["lint", "--strict", CHART, ...extra], { stdio: "pipe" });
      const rendered = execFileSync("helm", ["template", "test", CHART, ...extra], { encoding: "utf8" });
      execFileSync("kubeconform", ["-strict", "-summary", "-ignore-missing-schemas", "-"], {
        input: rendered,
        stdio: ["pipe", "pipe", "pipe"],
      });
    }
  });
});
