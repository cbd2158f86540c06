/**
 * RedisStore on a Redis Cluster of three masters this file creates: the same contract. The
 * `{app}` hash tag is what makes it pass: the script's two keys, and a whole batch's pipeline,
 * land on one slot.
 */
import { after, before } from "node:test";
import { RedisStore } from "../../src/store/redis-store.ts";
import { type RedisCluster, serverKeys, startRedisCluster } from "../helpers/redis.ts";
import { storeContract, whenUp } from "./store-contract.ts";

let cluster: RedisCluster;
before(async () => {
  cluster = await startRedisCluster(3);
});
after(async () => {
  await cluster?.close();
});

async function connected(app: string): Promise<RedisStore> {
  const store = new RedisStore({ url: cluster.url, app });
  await whenUp(store);
  return store;
}

const ports = () => cluster.nodes.map((n) => n.port);

storeContract(
  "redis cluster",
  async () => {
    const store = await connected("contract");
    return {
      store,
      cleanup: () => store.close(),
      replica: () => connected("contract"),
      otherApp: () => connected("contract-other"),
      apps: ["contract", "contract-other"],
      keys: () => serverKeys(ports()),
      windowSize: async (window) =>
        (await serverKeys(ports())).find((k) => k.key === `gatehouse:{contract}:${window}`)?.size ?? 0,
    };
  },
  { shared: true },
);
