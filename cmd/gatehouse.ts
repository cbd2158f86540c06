#!/usr/bin/env node
import { enableCompileCache } from "node:module";

// Modules compiled once (types stripped, V8 code cache) are reused from disk by later starts:
// NODE_COMPILE_CACHE names the directory (the container image sets it), else the OS temp dir.
// A directory that cannot be written is skipped quietly.
enableCompileCache();
const { main } = await import("../src/cli/index.ts");

process.exitCode = await main(process.argv.slice(2));
