/**
 * The `redis` setting's URL forms, parsed (pure, so configuration validation and the store share
 * one reading of them):
 *
 *   redis://[[user]:password@]host[:port][/db]            rediss:// for TLS
 *   redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/MASTER[/db][?sentinelPassword=…]
 *   redis+cluster://[[user]:password@]host[:port][,host[:port]…]
 */

export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { mode: "single"; node: RedisNode; tls: boolean; username?: string; password?: string; db: number }
  | {
      mode: "sentinel";
      sentinels: RedisNode[];
      name: string;
      tls: boolean;
      username?: string;
      password?: string;
      sentinelPassword?: string;
      db: number;
    }
  | { mode: "cluster"; nodes: RedisNode[]; tls: boolean; username?: string; password?: string };

const SCHEMES: Record<string, { mode: RedisTarget["mode"]; tls: boolean; port: number }> = {
  redis: { mode: "single", tls: false, port: 6379 },
  rediss: { mode: "single", tls: true, port: 6379 },
  "redis+sentinel": { mode: "sentinel", tls: false, port: 26379 },
  "rediss+sentinel": { mode: "sentinel", tls: true, port: 26379 },
  "redis+cluster": { mode: "cluster", tls: false, port: 6379 },
  "rediss+cluster": { mode: "cluster", tls: true, port: 6379 },
};

/**
 * Parse by hand rather than with `new URL`: WHATWG URLs have one host, and Sentinel and Cluster
 * URLs list several. Throws an Error whose message says what is wrong (never the password).
 */
export function parseRedisUrl(raw: string): RedisTarget {
  const m = /^([a-z+]+):\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i.exec(raw);
  const scheme = m ? SCHEMES[m[1]!.toLowerCase()] : undefined;
  if (!m || !scheme) {
    throw new Error(`not a Redis URL: use ${Object.keys(SCHEMES).join("://, ")}://`);
  }
  const authority = m[2]!;
  const path = (m[3] ?? "").split("/").filter((s) => s !== "");
  const query = new URLSearchParams(m[4] ?? "");
  const at = authority.lastIndexOf("@");
  const credentials: { username?: string; password?: string } = {};
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(":");
    const user = decodeURIComponent(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
    if (user !== "") credentials.username = user;
    if (colon >= 0) credentials.password = decodeURIComponent(userinfo.slice(colon + 1));
  }
  const nodes = authority
    .slice(at + 1)
    .split(",")
    .map((hostPort) => parseNode(hostPort, scheme.port));
  for (const key of query.keys()) {
    if (key !== "sentinelPassword" || scheme.mode !== "sentinel") {
      throw new Error(`unknown Redis URL parameter "${key}"`);
    }
  }
  if (scheme.mode === "single") {
    if (nodes.length !== 1)
      throw new Error("a redis:// URL names one server; use redis+cluster:// or redis+sentinel://");
    return { mode: "single", node: nodes[0]!, tls: scheme.tls, ...credentials, db: parseDb(path, 0) };
  }
  if (scheme.mode === "sentinel") {
    const name = path[0];
    if (name === undefined)
      throw new Error("a Sentinel URL ends with the master name: redis+sentinel://host:26379/mymaster");
    const sentinelPassword = query.get("sentinelPassword");
    return {
      mode: "sentinel",
      sentinels: nodes,
      name: decodeURIComponent(name),
      tls: scheme.tls,
      ...credentials,
      ...(sentinelPassword === null ? {} : { sentinelPassword }),
      db: parseDb(path, 1),
    };
  }
  if (path.length > 0 && !(path.length === 1 && path[0] === "0")) {
    throw new Error("a Redis Cluster has only database 0: remove the path from the URL");
  }
  return { mode: "cluster", nodes, tls: scheme.tls, ...credentials };
}

function parseNode(hostPort: string, defaultPort: number): RedisNode {
  // `[::1]:6379` for IPv6, as in URLs.
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(hostPort);
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  if (!m || port < 1 || port > 65535) throw new Error(`"${hostPort}" is not host:port`);
  return { host: m[1] ?? m[2]!, port };
}

function parseDb(path: string[], at: number): number {
  if (path.length > at + 1) throw new Error("unexpected path in the Redis URL");
  const db = path[at];
  if (db === undefined) return 0;
  if (!/^\d{1,5}$/.test(db)) throw new Error(`"${db}" is not a database number`);
  return Number(db);
}
