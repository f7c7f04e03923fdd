// Stateful reconnect with the official client's `.withStatefulReconnect()` (checklist §14):
// a TCP proxy between client and server loses traffic and then resets the connection in the
// middle of a server-to-client stream and of a client-to-server run of invocations. The client
// must come back on the same logical connection (same connectionId, no onreconnecting) and
// every message must arrive exactly once, in order, in both directions.
//
// Stateful reconnect exists only over WebSockets (SR-01), so these run for WebSockets x {json,
// messagepack} whatever INTEROP_TRANSPORTS says.

import { after, afterEach, before, describe } from "node:test";
import assert from "node:assert/strict";
import {
  Clients,
  HubConnectionState,
  assertVariant,
  recorder,
  sleep,
  startServer,
  variantTest,
  waitUntil,
  withTimeout,
} from "../lib/harness.mjs";
import { startProxy } from "../lib/proxy.mjs";

const T = { timeout: 60_000 };
/** Numbers the server streams to the group, one every INTERVAL_MS (about 3 s in all). */
const COUNT = 300;
const INTERVAL_MS = 10;
/** How long the proxy swallows traffic before it resets the connection. */
const LOSS_MS = 150;

const range = (n) => Array.from({ length: n }, (_, i) => i);

/**
 * Loses traffic for LOSS_MS in both directions (so messages are in flight and lost, not just
 * delayed), then resets every proxied connection. Returns the bytes lost each way.
 */
async function loseAndCut(proxy) {
  const before = { ...proxy.dropped };
  proxy.drop();
  await sleep(LOSS_MS);
  proxy.cut();
  return { up: proxy.dropped.up - before.up, down: proxy.dropped.down - before.down };
}

/** The WebSocket upgrade requests (and their answers) the proxy saw for `hub`. */
function upgrades(proxy, hub = "/hub") {
  return proxy.connections.filter((c) => c.request?.startsWith(`GET ${hub}?`));
}

function idParam(requestLine) {
  const target = requestLine.split(" ")[1];
  return new URL(target, "http://x").searchParams.get("id");
}

for (const protocol of ["json", "messagepack"]) {
  const variant = { name: `WebSockets/${protocol}`, transport: "WebSockets", protocol };

  describe(`stateful reconnect over ${variant.name}`, () => {
    const test = variantTest(variant);
    let server;
    let proxy;
    const clients = new Clients(() => proxy, variant);
    before(async () => {
      server = await startServer();
    });
    afterEach(async () => {
      await clients.stopAll();
      await proxy?.close();
      proxy = undefined;
    });
    after(() => server?.stop());

    const invoke = (conn, method, ...args) =>
      withTimeout(conn.invoke(method, ...args), 10_000, `invoke ${method}`);

    test("two cuts mid-stream: same connection, every message once and in order, both ways", T, async () => {
      proxy = await startProxy(server.port);
      // Automatic reconnect is on too: had the stateful resume failed, the client would fall
      // back to it, fire onreconnecting and get a new connectionId, which the test would see.
      const conn = await clients.build({ statefulReconnect: true, reconnectDelays: [0, 0] });
      const numbers = [];
      conn.on("Numbered", (n) => numbers.push(n));
      const groupMessages = recorder(conn, "GroupMessage");
      await withTimeout(conn.start(), 10_000, "start()");
      assertVariant(conn, variant);
      assert.equal(conn.connection.features.reconnect, true, "negotiate did not grant stateful reconnect");
      const connectionId = conn.connectionId;
      const group = `stateful-${protocol}`;
      await invoke(conn, "JoinGroup", group);
      const serverSideId = await invoke(conn, "GetConnectionId");
      assert.equal(serverSideId, connectionId);

      // Client to server: a Record invocation every 15 ms until the stream is complete, so some
      // are sent while traffic is being lost and some while the client is reconnecting.
      const key = `stateful-${protocol}-${process.pid}-${Date.now()}`;
      const recorded = [];
      let sending = true;
      const sender = (async () => {
        for (let i = 0; sending; i++) {
          const call = conn.invoke("Record", key, i);
          call.catch(() => {}); // awaited below; not an unhandled rejection if the test fails first
          recorded.push(call);
          await sleep(15);
        }
      })();

      let first;
      let second;
      try {
        await invoke(conn, "StreamToGroup", group, COUNT, INTERVAL_MS);
        await waitUntil(() => numbers.length >= 80, 10_000, "80 numbers before the first cut");
        first = await loseAndCut(proxy);
        await waitUntil(() => numbers.length >= 180, 10_000, `180 numbers before the second cut (got ${numbers.length})`);
        // The second reconnect is held for 1.5 s: still well inside the 15 s resume window,
        // while the server keeps producing.
        proxy.holdNext(1_500);
        second = await loseAndCut(proxy);
        assert.ok(numbers.length < COUNT, "the stream had ended before the second cut");
        await waitUntil(() => numbers.length >= COUNT, 20_000, `all ${COUNT} numbers (got ${numbers.length})`);
      } finally {
        sending = false;
        await sender;
      }
      const results = await withTimeout(Promise.all(recorded), 20_000, `all ${recorded.length} Record invocations`);

      // Both cuts lost bytes in both directions, so replays were needed.
      for (const [name, lost] of [["first", first], ["second", second]]) {
        assert.ok(lost.down > 0, `the ${name} cut lost no server-to-client bytes`);
        assert.ok(lost.up > 0, `the ${name} cut lost no client-to-server bytes`);
      }

      // Server to client: each number exactly once, in order (a round trip first, so any late
      // duplicate would already be here).
      assert.equal(await invoke(conn, "Echo", "sync"), "sync");
      assert.deepEqual(numbers, range(COUNT));

      // Client to server: each invocation ran exactly once, in order (Record answers the list's
      // new length), and the server holds exactly 0..n-1.
      assert.deepEqual(results, range(recorded.length).map((i) => i + 1));
      assert.deepEqual(await invoke(conn, "GetRecorded", key), range(recorded.length));

      // The same logical connection throughout: no onreconnecting/onclose, same ids, still in
      // its group.
      assert.deepEqual(conn.events, [], `unexpected connection events: ${JSON.stringify(conn.events)}`);
      assert.equal(conn.state, HubConnectionState.Connected);
      assert.equal(conn.connectionId, connectionId);
      assert.equal(await invoke(conn, "GetConnectionId"), serverSideId);
      await invoke(conn, "SendToGroup", group, "still a member");
      assert.deepEqual(await groupMessages.waitFor(1), [[group, "still a member"]]);

      // Three WebSocket upgrades (the first and one per cut), all with the same connection
      // token and all accepted: the client resumed without negotiating again.
      const sockets = upgrades(proxy);
      assert.equal(sockets.length, 3, `upgrades: ${JSON.stringify(sockets)}`);
      assert.equal(new Set(sockets.map((s) => idParam(s.request))).size, 1, "the token changed");
      for (const s of sockets) assert.match(s.response, /^HTTP\/1\.1 101 /);
      assert.equal(
        proxy.connections.filter((c) => c.request?.startsWith("POST /hub/negotiate")).length,
        1,
        "the client negotiated again",
      );
    });

    test("a client without stateful reconnect loses the connection at the same cut", T, async () => {
      // The control experiment: the same cut is a real connection loss for a plain client.
      proxy = await startProxy(server.port);
      const conn = await clients.connect({ reconnectDelays: [0] });
      const connectionId = conn.connectionId;
      await loseAndCut(proxy);
      await waitUntil(() => conn.events.some((e) => e.type === "reconnected"), 10_000, "onreconnected");
      assert.equal(conn.events[0].type, "reconnecting");
      assert.notEqual(conn.connectionId, connectionId, "a plain reconnect gets a new connection");
    });

    test("after the resume window the server has let go; the client starts over", T, async () => {
      const strict = await startServer({ extraArgs: ["--disconnect-timeout-ms", "1000"] });
      try {
        proxy = await startProxy(strict.port);
        const conn = await clients.build({ statefulReconnect: true, reconnectDelays: [0] });
        const groupMessages = recorder(conn, "GroupMessage");
        const all = recorder(conn, "AllMessage");
        await withTimeout(conn.start(), 10_000, "start()");
        const connectionId = conn.connectionId;
        await invoke(conn, "JoinGroup", "window");

        // The resume attempt reaches the server 2.5 s after the cut, past its 1 s window.
        proxy.holdNext(2_500);
        await loseAndCut(proxy);
        await waitUntil(() => conn.events.some((e) => e.type === "reconnected"), 15_000, "onreconnected");
        assert.deepEqual(
          conn.events.map((e) => e.type),
          ["reconnecting", "reconnected"],
          "the failed resume must end in the automatic reconnect",
        );
        const resume = upgrades(proxy)[1];
        assert.equal(idParam(resume.request), idParam(upgrades(proxy)[0].request), "resume used another token");
        assert.match(resume.response, /^HTTP\/1\.1 404 /, "the expired token must be unknown");
        assert.notEqual(conn.connectionId, connectionId);
        assert.equal(await invoke(conn, "GetConnectionId"), conn.connectionId);

        // The old logical connection is gone, and its group membership with it.
        await invoke(conn, "SendToGroup", "window", "nobody here");
        await invoke(conn, "SendToAll", "sentinel");
        await all.waitFor(1);
        assert.deepEqual(groupMessages.calls, []);
      } finally {
        await clients.stopAll();
        await strict.stop();
      }
    });
  });
}
