/**
 * The part of autocannon's programmatic API the benchmark uses (the package ships no types).
 * See node_modules/autocannon/README.md, "API".
 */
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      duration?: number;
      pipelining?: number;
      /** Seconds before a request is counted as a timeout. */
      timeout?: number;
      headers?: Record<string, string>;
    }

    interface Result {
      /** Seconds the run lasted. */
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      resets: number;
      "2xx": number;
      requests: { average: number; total: number; sent: number };
    }

    /** Emits `response` (client, statusCode, resBytes, responseTimeMs) for every response. */
    interface Instance extends EventEmitter {
      stop(): void;
    }
  }

  function autocannon(
    options: autocannon.Options,
    callback: (err: Error | null, result: autocannon.Result) => void,
  ): autocannon.Instance;

  export = autocannon;
}
