/**
 * The Dockerfile's promises, checked without a Docker daemon (none runs here): an exact, pinned
 * Node 24 base, a multi-stage build with production dependencies only, a non-root user, a
 * writable volume for the event socket so the root filesystem can be read-only, a HEALTHCHECK on
 * the admin server, and a build context limited by .dockerignore.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { RUNTIME_ENV, V8_FLAGS } from "../../../src/v8-flags.ts";
import { COMPILE_CACHE } from "../../helpers/gatehouse.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const dockerfile = readFileSync(`${ROOT}Dockerfile`, "utf8");
const dockerignore = readFileSync(`${ROOT}.dockerignore`, "utf8");

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const joined = text.replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [op = "", ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
}

const ops = instructions(dockerfile);
const args = new Map(
  ops
    .filter((i) => i.op === "ARG")
    .map((i) => {
      const [name = "", value = ""] = i.args.split("=");
      return [name, value] as const;
    }),
);
const resolve = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? "");
const stages = ops.filter((i) => i.op === "FROM");
const lastStage = ops.slice(ops.lastIndexOf(stages.at(-1)!));

describe("Dockerfile", () => {
  it("builds in stages from an exactly pinned Node 24 image", () => {
    assert.ok(stages.length >= 2, "multi-stage: dependencies are installed in a stage of their own");
    for (const from of stages) {
      const image = resolve(from.args.split(/\s+/)[0]!);
      assert.match(image, /^node:24\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/, `base ${image}`);
    }
  });

  it("installs production dependencies only, without install scripts", () => {
    const install = ops.find((i) => i.op === "RUN" && i.args.includes("npm ci"));
    assert.ok(install, "npm ci in the dependency stage");
    assert.match(install.args, /--omit=dev/);
    assert.match(install.args, /--ignore-scripts/);
  });

  it("runs as a non-root user in the final stage", () => {
    const users = lastStage.filter((i) => i.op === "USER");
    assert.ok(users.length > 0, "a USER instruction in the runtime stage");
    const user = users.at(-1)!.args;
    assert.doesNotMatch(user, /^(root|0)(:|$)/, `USER ${user}`);
  });

  it("keeps the event socket on a volume, so the root filesystem can be read-only", () => {
    const env = lastStage
      .filter((i) => i.op === "ENV")
      .map((i) => i.args)
      .join(" ");
    const socket = /GATEHOUSE_EVENTS_SOCKET=(\S+)/.exec(env)?.[1];
    assert.ok(socket, "GATEHOUSE_EVENTS_SOCKET is set");
    const volume = lastStage.find((i) => i.op === "VOLUME")?.args ?? "";
    const dir = socket.slice(0, socket.lastIndexOf("/"));
    assert.ok(volume.includes(`"${dir}"`), `VOLUME ${volume} holds ${dir}`);
  });

  it("has a HEALTHCHECK on the admin server's /healthz", () => {
    const check = lastStage.find((i) => i.op === "HEALTHCHECK");
    assert.ok(check, "HEALTHCHECK in the runtime stage");
    assert.match(check.args, /CMD/);
    assert.match(dockerfile, /HEALTHCHECK_URL=http:\/\/127\.0\.0\.1:9090\/healthz/);
  });

  it("starts `gatehouse serve` with the proxy and admin ports exposed", () => {
    assert.equal(
      lastStage.find((i) => i.op === "ENTRYPOINT")?.args,
      JSON.stringify(["node", ...V8_FLAGS, "cmd/gatehouse.ts"]).replaceAll('","', '", "'),
    );
    assert.equal(lastStage.find((i) => i.op === "CMD")?.args, '["serve"]');
    assert.match(lastStage.find((i) => i.op === "EXPOSE")?.args ?? "", /\b8080\b.*\b9090\b/);
  });

  it("runs Node with the V8 flags and environment Gatehouse is measured with, as `npm start` does", () => {
    assert.ok(V8_FLAGS.length > 0);
    const start = (JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { scripts: { start: string } })
      .scripts.start;
    const env = Object.entries(RUNTIME_ENV).map(([k, v]) => `${k}=${v}`);
    // The compile cache in the checkout, where the tests and benches keep it, unless one is set.
    const cache = `NODE_COMPILE_CACHE=\${NODE_COMPILE_CACHE:-${relative(ROOT, COMPILE_CACHE)}}`;
    assert.equal(start, [...env, cache, "node", ...V8_FLAGS, "cmd/gatehouse.ts", "serve"].join(" "));
    const envs = lastStage.filter((i) => i.op === "ENV").map((i) => i.args);
    for (const pair of env)
      assert.ok(
        envs.some((e) => e.split(/\s+/).includes(pair)),
        `ENV ${pair}`,
      );
  });

  it("fills Node's compile cache at build time as the user, and with the flags, it runs with", () => {
    const envs = lastStage.filter((i) => i.op === "ENV").map((i) => i.args);
    const dir = envs.join(" ").match(/NODE_COMPILE_CACHE=(\S+)/)?.[1];
    assert.ok(dir?.startsWith("/"), "NODE_COMPILE_CACHE is an absolute path in the runtime stage");
    // Node keys the cache by user id and by some V8 flags: filled as root, or without the
    // ENTRYPOINT's flags, it would never be read.
    const warm = ["node", ...V8_FLAGS, "cmd/gatehouse.ts", "version"].join(" ");
    const at = lastStage.findIndex((i) => i.op === "RUN" && i.args.includes(warm));
    assert.ok(at !== -1, `a RUN loads every module once, with the ENTRYPOINT's flags: ${warm}`);
    const user = lastStage.findLastIndex((i, n) => i.op === "USER" && n < at);
    assert.equal(lastStage[user]?.args, "node", "the cache is filled as the user the image runs as");
    assert.match(lastStage[at]!.args, new RegExp(`chmod -R a-w ${dir}`), "then made read-only");
  });

  it("copies every file the entry point imports into the image", () => {
    const copied = lastStage.filter((i) => i.op === "COPY").map((i) => i.args);
    for (const dir of ["cmd", "src", "policies", "package.json"]) {
      assert.ok(
        copied.some((c) => c.split(/\s+/).includes(dir)),
        `${dir} is copied`,
      );
    }
  });
});

describe(".dockerignore", () => {
  it("is an allowlist: secrets, tests and local state never reach the build context", () => {
    const lines = dockerignore.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
    assert.equal(lines[0], "*", "everything is excluded first");
    const allowed = lines.slice(1).map((l) => l.replace(/^!/, ""));
    assert.deepEqual(allowed.sort(), ["cmd", "package-lock.json", "package.json", "policies", "src"]);
  });
});
