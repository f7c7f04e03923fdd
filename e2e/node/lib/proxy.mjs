// A TCP proxy for the interop suites: sits between a client and the server, forwards bytes both
// ways, and can lose traffic and cut every connection without any close handshake, like a
// network failure. Used by the stateful-reconnect tests.
//
// The same proxy in front of several servers is a load balancer without affinity
// (`startBalancer`): each accepted TCP connection goes to the next backend in turn. Used by the
// no-sticky-sessions tests.

import { createServer, connect } from "node:net";
import { deferred } from "./harness.mjs";

/**
 * Starts a proxy on 127.0.0.1 (free port) in front of `targetPort`.
 *
 * - `drop()`: from now on, bytes of the open connections are swallowed in both directions
 *   (counted in `dropped`); new connections are unaffected.
 * - `cut()`: resets (TCP RST) every open connection on both sides, and leaves drop mode.
 * - `holdNext(ms)`: the next accepted connection waits `ms` before it is forwarded; what the
 *   client sends meanwhile is delivered once it is.
 * - `connections`: one record per accepted connection: the first request line the client sent
 *   (`request`), the first status line the server answered (`response`), and where the
 *   connection was forwarded to (`backend`: index in the target list, always 0 here; `port`).
 */
export async function startProxy(targetPort) {
  return listen([targetPort]);
}

/**
 * Starts a round-robin TCP load balancer on 127.0.0.1 (free port) in front of `backendPorts`,
 * without affinity: accepted connection number n (0-based) is forwarded to
 * `backendPorts[n % backendPorts.length]`, whatever the client sent on earlier connections.
 * A client's HTTP requests land on one backend or another depending only on how many TCP
 * connections the balancer accepted before (an HTTP keep-alive connection stays on its backend).
 *
 * Returns the same handle as `startProxy` (drop, cut, holdNext, close); the `connections`
 * records say which backend each connection went to (`backend`: the index in `backendPorts`;
 * `port`).
 *
 * @param {number[]} backendPorts at least one port
 */
export async function startBalancer(backendPorts) {
  if (!Array.isArray(backendPorts) || backendPorts.length === 0) {
    throw new Error("startBalancer needs a non-empty list of backend ports");
  }
  return listen(backendPorts);
}

/** The proxy behind startProxy and startBalancer: round robin over `targets` (ports). */
async function listen(targets) {
  const open = new Set();
  const connections = [];
  const dropped = { up: 0, down: 0 };
  let holdNextMs = 0;
  let accepted = 0;

  const server = createServer((client) => {
    const backend = accepted % targets.length;
    accepted += 1;
    const targetPort = targets[backend];
    const record = { request: null, response: null, backend, port: targetPort };
    connections.push(record);
    const pair = { client, upstream: null, dropping: false };
    open.add(pair);
    const pending = [];
    const holdMs = holdNextMs;
    holdNextMs = 0;

    const end = () => {
      client.destroy();
      pair.upstream?.destroy();
      open.delete(pair);
    };
    client.on("error", end);
    client.on("close", end);
    client.on("data", (chunk) => {
      if (record.request === null) record.request = firstLine(chunk);
      if (pair.dropping) {
        dropped.up += chunk.length;
      } else if (pair.upstream?.readyState === "open") {
        pair.upstream.write(chunk);
      } else {
        pending.push(chunk);
      }
    });

    const forward = () => {
      if (client.destroyed) return;
      const upstream = connect(targetPort, "127.0.0.1");
      pair.upstream = upstream;
      upstream.on("connect", () => {
        for (const chunk of pending.splice(0)) upstream.write(chunk);
      });
      upstream.on("data", (chunk) => {
        if (record.response === null) record.response = firstLine(chunk);
        if (pair.dropping) {
          dropped.down += chunk.length;
        } else {
          client.write(chunk);
        }
      });
      upstream.on("error", end);
      upstream.on("close", end);
    };
    if (holdMs > 0) setTimeout(forward, holdMs);
    else forward();
  });

  const listening = deferred();
  server.once("error", listening.reject);
  server.listen(0, "127.0.0.1", listening.resolve);
  await listening.promise;
  const { port } = server.address();

  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    connections,
    dropped,
    drop() {
      for (const pair of open) pair.dropping = true;
    },
    cut() {
      for (const pair of open) {
        pair.client.resetAndDestroy();
        pair.upstream?.resetAndDestroy();
      }
      open.clear();
    },
    holdNext(ms) {
      holdNextMs = ms;
    },
    async close() {
      for (const pair of open) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      open.clear();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function firstLine(chunk) {
  const text = chunk.toString("latin1");
  const end = text.indexOf("\r\n");
  return end >= 0 ? text.slice(0, end) : text.slice(0, 200);
}
