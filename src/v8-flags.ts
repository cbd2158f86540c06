/**
 * The V8 flags Gatehouse runs with: the container image's ENTRYPOINT and `npm start` pass them,
 * and the benchmarks run Gatehouse with them, so what is measured is what ships. A packaging test
 * keeps the Dockerfile and package.json in step with this list.
 *
 * `--max-semi-space-size=16`: V8 lets the young generation's two semi-spaces grow to 64 MB each
 * on a 64-bit host when allocation is sustained, and keeps that memory once reserved. A sidecar
 * has little use for it: a request's garbage is short-lived, and a snapshot load (1 000 000
 * decisions) with the default peaked at ~445 MB RSS against ~340 MB with 16 MB (bench/RESULTS.md,
 * issue 5). It sizes the young generation, it is not a limit: nothing fails when a burst needs
 * more, V8 promotes sooner instead.
 *
 * Run without the image: `node --max-semi-space-size=16 cmd/gatehouse.ts serve`, or
 * `NODE_OPTIONS=--max-semi-space-size=16` for the installed `gatehouse` command.
 */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=16"];
