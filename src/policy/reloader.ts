/**
 * The live policy and its hot reload. A reload (a policy file changed, or SIGHUP) loads every
 * file again with the same loader; a policy that fails keeps the last good one live, logs each
 * problem and counts the failure. Readers take `current()` once per batch, so work in flight
 * always sees one whole policy.
 *
 * Files are watched through their directories, not as files: editors save by renaming a new file
 * over the old one, and a Kubernetes ConfigMap volume swaps a `..data` symlink, and a watch on
 * the old inode sees neither.
 */
import { createHash } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { Logger } from "../observability/logger.ts";
import { formatPolicyProblem, type PolicyResult } from "./load.ts";
import type { Policy } from "./policy.ts";

export interface PolicyStatus {
  files: readonly string[];
  /** sha256 of the files' contents, first 12 hex digits: tells replicas' policies apart. */
  version: string;
  loadedAt: number;
  reloads: number;
  failedReloads: number;
  /** Problems of the last failed reload, until a reload succeeds. */
  lastErrors: readonly string[];
}

export interface PolicyHolder {
  current(): Policy;
  /** Load again now; returns whether the new policy went live. */
  reload(reason: string): boolean;
  status(): PolicyStatus;
  close(): void;
}

export interface PolicyHolderOptions {
  initial: Policy;
  load: () => PolicyResult;
  logger: Logger;
  onReloadError?: () => void;
  /** Watch the files and reload on change (off in tests that drive `reload` themselves). */
  watch?: boolean;
  debounceMs?: number;
  now?: () => number;
}

export function createPolicyHolder(options: PolicyHolderOptions): PolicyHolder {
  const { logger } = options;
  const now = options.now ?? Date.now;
  let policy = options.initial;
  let version = contentVersion(policy.files);
  const state = { loadedAt: now(), reloads: 0, failedReloads: 0, lastErrors: [] as string[] };

  function reload(reason: string): boolean {
    const result = options.load();
    if (!result.ok) {
      state.failedReloads++;
      state.lastErrors = result.problems.map(formatPolicyProblem);
      options.onReloadError?.();
      logger.error(
        { reason, problems: state.lastErrors, keeping: version },
        "policy reload failed; the last good policy stays live",
      );
      return false;
    }
    const next = contentVersion(result.policy.files);
    policy = result.policy;
    state.reloads++;
    state.loadedAt = now();
    state.lastErrors = [];
    logger.info(
      { reason, version: next, previous: version, warnings: result.warnings.map(formatPolicyProblem) },
      "policy reloaded",
    );
    version = next;
    return true;
  }

  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | null = null;
  if (options.watch) {
    const byDir = new Map<string, Set<string>>();
    for (const file of policy.files) {
      const full = resolve(file);
      const names = byDir.get(dirname(full)) ?? new Set<string>();
      names.add(basename(full));
      byDir.set(dirname(full), names);
    }
    for (const [dir, names] of byDir) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (name !== null && !names.has(name) && name !== "..data") return;
          if (timer) clearTimeout(timer);
          // Editors write in several steps; reload once they are done, and only if content changed.
          timer = setTimeout(() => {
            timer = null;
            if (contentVersion(policy.files) !== version) reload("file changed");
          }, options.debounceMs ?? 250);
          timer.unref();
        });
        watcher.on("error", (err) => logger.warn({ dir, err: err.message }, "policy watch failed"));
        watchers.push(watcher);
      } catch (err) {
        logger.warn(
          { dir, err: (err as Error).message },
          "cannot watch policy directory; reload with SIGHUP",
        );
      }
    }
  }

  return {
    current: () => policy,
    reload,
    status: () => ({ files: policy.files, version, ...state }),
    close() {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}

/** A short hash of the files' contents; a file that cannot be read hashes as its error. */
function contentVersion(files: readonly string[]): string {
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(file).update("\0");
    try {
      hash.update(readFileSync(file));
    } catch (err) {
      hash.update((err as Error).message);
    }
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 12);
}
