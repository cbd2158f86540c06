/**
 * The V8 flags and the environment Gatehouse runs with: the container image's ENTRYPOINT and ENV
 * and `npm start` pass them, and the benchmarks and integration tests run Gatehouse with them, so
 * what is measured is what ships. A packaging test keeps the Dockerfile and package.json in step.
 *
 * `--max-semi-space-size=16`: V8 lets the young generation's two semi-spaces grow to 64 MB each
 * on a 64-bit host when allocation is sustained, and keeps that memory once reserved. A sidecar
 * has little use for it: a request's garbage is short-lived, and a snapshot load (1 000 000
 * decisions) with the default peaked at ~445 MB RSS against ~340 MB with 16 MB (bench/RESULTS.md,
 * issue 5). It sizes the young generation, it is not a limit: nothing fails when a burst needs
 * more, V8 promotes sooner instead.
 *
 * `--expose-gc`: lets src/forward/buffer-reclaim.ts run a young-generation collection when
 * socket buffers pile up outside the heap during a large transfer; a 1 GiB download otherwise
 * leaves ~70 MB of dead buffers on the RSS until V8's external-memory heuristic collects them.
 * It puts a `gc` function on the global object; only Gatehouse and its dependencies run in the
 * process, and Gatehouse calls it only there.
 *
 * Run without the image: `node --max-semi-space-size=16 --expose-gc cmd/gatehouse.ts serve`, or
 * `NODE_OPTIONS="--max-semi-space-size=16 --expose-gc"` for the installed `gatehouse` command.
 */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=16", "--expose-gc"];

/**
 * `MALLOC_ARENA_MAX=2`: glibc gives threads that allocate at the same time arenas of their own,
 * up to eight per CPU, and each keeps the memory freed in it. Node's worker threads (V8's and
 * libuv's) allocate beside the main thread; two arenas held ~8 MB less peak RSS through a 1 GiB
 * transfer than the default, with no measured cost to requests/s (bench/RESULTS.md).
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };
