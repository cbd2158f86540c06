/**
 * Binding the event server to its Unix socket: the parent directory is created, a stale socket
 * file left by a dead process is replaced, a live one (another Gatehouse) makes startup fail
 * with a clear message, and the socket gets mode 0660 so only the pod's group can report.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import type { Server } from "node:http";
import { connect } from "node:net";
import { dirname } from "node:path";
import { GatehouseError } from "../errors.ts";

export async function listenOnSocket(server: Server, path: string): Promise<void> {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    throw new GatehouseError(
      "EVENTS_SOCKET",
      `eventsSocket: cannot create ${dirname(path)}: ${(err as Error).message}`,
    );
  }
  let stat: ReturnType<typeof lstatSync> | undefined;
  try {
    stat = lstatSync(path);
  } catch {
    stat = undefined;
  }
  if (stat) {
    if (!stat.isSocket()) {
      throw new GatehouseError(
        "EVENTS_SOCKET",
        `eventsSocket: ${path} exists and is not a socket; refusing to replace it`,
      );
    }
    if (await isLive(path)) {
      throw new GatehouseError(
        "EVENTS_SOCKET",
        `eventsSocket: ${path} is in use by a running process (another Gatehouse?)`,
      );
    }
    unlinkSync(path);
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        new GatehouseError(
          "EVENTS_SOCKET",
          `eventsSocket: cannot listen on ${path}: ${err.code ?? err.message}`,
        ),
      );
    server.once("error", onError);
    server.listen(path, () => {
      server.off("error", onError);
      resolve();
    });
  });
  chmodSync(path, 0o660);
}

function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
