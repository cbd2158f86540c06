/**
 * RedisReplicatedMap on a Redis Cluster of three masters this file creates: the same contract.
 * A map's keys share the `{app}` hash tag, so its scripts and snapshot reads go to one node, and
 * its messages, published there, reach a subscriber on any node.
 */
import { after, before } from "node:test";
import { Cluster } from "ioredis";
import { RedisReplicatedMap } from "../../src/store/redis-replicated-map.ts";
import { type RedisCluster, serverKeys, startRedisCluster } from "../helpers/redis.ts";
import { type Item, itemCodec, replicatedMapContract } from "./replicated-map-contract.ts";

let cluster: RedisCluster;
let admin: Cluster;
before(async () => {
  cluster = await startRedisCluster(3);
  admin = new Cluster(cluster.nodes.map((n) => ({ host: "127.0.0.1", port: n.port })));
});
after(async () => {
  admin?.disconnect();
  await cluster?.close();
});

replicatedMapContract(
  "redis cluster",
  async (clock, app) => {
    const open = () =>
      new RedisReplicatedMap<Item>({ url: cluster.url, app, name: "decisions", codec: itemCodec, clock });
    const map = open();
    return {
      map,
      replica: async () => open(),
      keys: () => serverKeys(cluster.nodes.map((n) => n.port)),
      async command(...args) {
        const [name, ...rest] = args.map(String) as [string, ...string[]];
        // A subscriber may be on any node: CLIENT KILL goes to all of them.
        if (name === "CLIENT") return Promise.all(admin.nodes("master").map((n) => n.call(name, ...rest)));
        return admin.call(name, ...rest);
      },
      cleanup: () => map.close(),
    };
  },
  { shared: true },
);
