/**
 * Redis servers a test owns: `startRedis()` runs its own `redis-server` on a free loopback port
 * and `startRedisCluster(3)` a cluster of masters, so a test knows the whole state and can stop
 * the server under the code it tests. Never the shared server on 6379.
 *
 * `stop()` is `SHUTDOWN SAVE`: the data survives a `start()` on the same port, as it would
 * survive a network outage. `kill()` is SIGKILL: the data is gone, as after a crash (no
 * snapshots, no AOF). Every process is killed and every directory removed by `close()`, and
 * processes also when the test process exits, whatever the test did.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

export interface RedisServer {
  url: string;
  port: number;
  /** SHUTDOWN SAVE, and wait for the process to exit. */
  stop(): Promise<void>;
  /** Start again on the same port and directory (after stop() or kill()); waits for PING. */
  start(): Promise<void>;
  /** SIGKILL, and wait for the process to exit. */
  kill(): Promise<void>;
  /** Kill if running and remove the directory; for `after()`. */
  close(): Promise<void>;
}

export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` */
  url: string;
  nodes: RedisServer[];
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** A loopback port that is free, and whose cluster bus port (port + 10000) is free too. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(0);
    if (port <= 55_535 && (await listenOnce(port + 10_000).catch(() => 0)) !== 0) return port;
  }
  throw new Error("no free port pair found for redis-server");
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/** Send one inline command and resolve with what the server answered, once it contains `expect`. */
export function rawCommand(port: number, command: string, expect: string, ms = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    const socket = connect(port, "127.0.0.1");
    const timer = setTimeout(
      () => done(new Error(`no "${expect}" from ${port}: ${JSON.stringify(data)}`)),
      ms,
    );
    function done(err?: Error): void {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(data);
    }
    socket.on("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (chunk) => {
      data += chunk.toString("utf8");
      if (data.includes(expect)) done();
    });
    socket.on("error", (err) => done(err));
    socket.on("close", () => done(new Error(`connection to ${port} closed: ${JSON.stringify(data)}`)));
  });
}

async function until(probe: () => Promise<unknown>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await probe();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`timed out after ${ms} ms waiting for ${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface StartRedisOptions {
  /** Default: a free port. Pass one to start Redis where a client is already trying to connect. */
  port?: number;
  /** More `redis-server` arguments; `<dir>` and `<port>` in them are replaced by this server's. */
  args?: string[];
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `gh-redis-${port}-`));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  args.push(
    "--dir",
    dir,
    ...(options.args ?? []).map((a) => a.replaceAll("<dir>", dir).replaceAll("<port>", String(port))),
  );
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let output = "";

  async function start(): Promise<void> {
    if (child) throw new Error(`redis-server on ${port} is already running`);
    const proc = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    running.add(proc);
    output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    exited = new Promise((resolve) => {
      proc.once("exit", () => {
        running.delete(proc);
        if (child === proc) child = null;
        resolve();
      });
    });
    try {
      await until(
        async () => {
          if (child !== proc) throw new Error(`redis-server exited: ${output}`);
          await rawCommand(port, "PING", "+PONG");
        },
        `redis-server on ${port}`,
        10_000,
      );
    } catch (err) {
      proc.kill("SIGKILL");
      await exited;
      throw err;
    }
  }

  async function stop(): Promise<void> {
    if (!child) return;
    // The server closes the connection as it exits: no reply to wait for.
    await rawCommand(port, "SHUTDOWN SAVE", "\u0000never", 100).catch(() => {});
    await exited;
  }

  async function kill(): Promise<void> {
    if (!child) return;
    child.kill("SIGKILL");
    await exited;
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    kill,
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const close = async () => {
    await Promise.all(nodes.map((n) => n.close()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedis({
          args: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "<dir>/nodes-<port>.conf",
            "--cluster-node-timeout",
            "2000",
          ],
        }),
      );
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await new Promise<void>((resolve, reject) => {
      const create = spawn(
        "redis-cli",
        ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      create.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
      create.stderr.on("data", (c: Buffer) => (out += c.toString("utf8")));
      create.on("error", reject);
      create.on("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create: ${out}`)),
      );
    });
    for (const n of nodes) {
      await until(
        () => rawCommand(n.port, "CLUSTER INFO", "cluster_state:ok"),
        `cluster_state:ok on ${n.port}`,
        20_000,
      );
    }
    return { url: `redis+cluster://${addresses.join(",")}`, nodes, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Every key on these servers (each node of a cluster is scanned directly), with its PTTL and, for
 * sorted sets, its size: what a test asserts "everything written has a TTL" against.
 */
export async function serverKeys(ports: number[]): Promise<{ key: string; pttl: number; size: number }[]> {
  const out: { key: string; pttl: number; size: number }[] = [];
  for (const port of ports) {
    const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null });
    client.on("error", () => {});
    try {
      await client.connect();
      let cursor = "0";
      do {
        const [next, keys] = await client.scan(cursor, "COUNT", 1000);
        cursor = next;
        for (const key of keys) {
          const [pttl, size] = await Promise.all([client.pttl(key), client.zcard(key).catch(() => 0)]);
          out.push({ key, pttl, size });
        }
      } while (cursor !== "0");
    } finally {
      client.disconnect();
    }
  }
  return out;
}
