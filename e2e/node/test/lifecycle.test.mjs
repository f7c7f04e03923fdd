// Connection lifecycle through the official client: start/stop, skipNegotiation, authentication,
// keep-alive and both timeouts, server-initiated close, message size limit (checklist §3, §4,
// §12, §13). Tests that need other server settings start their own server.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Clients,
  HubConnectionState,
  rejectionOf,
  sleep,
  startServer,
  variantTest,
  variants,
  waitUntil,
  withTimeout,
} from "../lib/harness.mjs";

const T = { timeout: 30_000 };

/** Runs `fn(server)` against a server started with `options`, then stops it. */
async function withServer(options, fn) {
  const server = await startServer(options);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

for (const variant of variants()) {
  describe(`lifecycle over ${variant.name}`, () => {
    // Shadows node:test's test(): names end with the variant, e.g. "... [LongPolling/json]".
    const test = variantTest(variant);
    let server;
    const clients = new Clients(() => server, variant);
    before(async () => {
      server = await startServer();
    });
    afterEach(() => clients.stopAll());
    after(() => server?.stop());

    const invoke = (conn, method, ...args) =>
      withTimeout(conn.invoke(method, ...args), 5_000, `invoke ${method}`);

    // Long polling has inherent keep-alive: no pings either way and no timeouts on them (TRS-05,
    // LP-08), so the ping/timeout tests only apply to the other transports.
    const PINGS = variant.transport === "LongPolling" ? { ...T, skip: "no pings over long polling" } : T;

    test("start, invoke, stop: onclose fires without error", T, async () => {
      const conn = await clients.connect();
      assert.equal(conn.state, HubConnectionState.Connected);
      assert.equal(await invoke(conn, "Echo", "x"), "x");
      await withTimeout(conn.stop(), 5_000, "stop()");
      assert.equal(conn.state, HubConnectionState.Disconnected);
      assert.equal(await withTimeout(conn.closed, 1_000, "onclose"), undefined);
    });

    test("a stopped connection can start again and gets a new connectionId", T, async () => {
      const conn = await clients.connect();
      const firstId = conn.connectionId;
      await withTimeout(conn.stop(), 5_000, "stop()");
      await withTimeout(conn.start(), 10_000, "second start()");
      assert.equal(conn.state, HubConnectionState.Connected);
      assert.notEqual(conn.connectionId, firstId);
      assert.equal(await invoke(conn, "GetConnectionId"), conn.connectionId);
    });

    // skipNegotiation is only legal with WebSockets (TRS-04).
    const WS_ONLY =
      variant.transport === "WebSockets" ? T : { ...T, skip: "skipNegotiation needs WebSockets" };

    test("skipNegotiation: connects directly, connectionId is null on the client", WS_ONLY, async () => {
      const conn = await clients.connect({ skipNegotiation: true });
      assert.equal(conn.connectionId, null);
      assert.equal(await invoke(conn, "Echo", "direct"), "direct");
      const serverSideId = await invoke(conn, "GetConnectionId");
      assert.equal(typeof serverSideId, "string");
      assert.ok(serverSideId.length > 0);
    });

    test("skipNegotiation with a token on /authhub", WS_ONLY, async () => {
      const conn = await clients.connect({ hub: "/authhub", token: "user:dora", skipNegotiation: true });
      assert.equal(await invoke(conn, "GetUser"), "dora");
    });

    test("/authhub without a token: start() fails with 401 Unauthorized", T, async () => {
      const conn = await clients.build({ hub: "/authhub" });
      const error = await rejectionOf(conn.start(), 10_000, "start() without token");
      assert.equal(
        error.message,
        "Failed to complete negotiation with the server: Error: Unauthorized: Status code '401'",
      );
      assert.equal(conn.state, HubConnectionState.Disconnected);
    });

    test("/authhub with an invalid token: start() fails with 401", T, async () => {
      const conn = await clients.build({ hub: "/authhub", token: "not-a-user-token" });
      const error = await rejectionOf(conn.start(), 10_000, "start() with a bad token");
      assert.match(error.message, /Status code '401'/);
    });

    test("/authhub with accessTokenFactory user:alice", T, async () => {
      const conn = await clients.connect({ hub: "/authhub", token: "user:alice" });
      assert.equal(await invoke(conn, "GetUser"), "alice");
      assert.equal(await invoke(conn, "Echo", "authorized"), "authorized");
    });

    test("Kick: onclose gets the server's error and automatic reconnect does not run", T, async () => {
      const conn = await clients.connect({ reconnectDelays: [0, 0, 0] });
      const result = conn.invoke("Kick", "go away").catch((e) => e);
      // A Close with allowReconnect (or a dropped socket) would fire onreconnecting instead.
      await waitUntil(() => conn.events.length > 0, 5_000, "onclose or onreconnecting after Kick");
      assert.equal(conn.events[0].type, "close", `first event: ${conn.events[0].type} (${conn.events[0].error?.message})`);
      const error = conn.events[0].error;
      assert.ok(error instanceof Error, `onclose error: ${error}`);
      assert.equal(error.message, "Server returned an error on close: go away");
      await sleep(300);
      assert.deepEqual(
        conn.events.map((e) => e.type),
        ["close"],
        "Kick sends allowReconnect=false, so no reconnect attempt may follow",
      );
      assert.equal(conn.state, HubConnectionState.Disconnected);
      // The Kick invocation itself either completed before the close or was rejected by it.
      await withTimeout(result, 2_000, "the Kick invocation to settle");
    });

    test("keep-alive: an idle client with a 2 s server timeout stays connected for 5 s", PINGS, async () => {
      await withServer({ keepAliveMs: 500 }, async (pinging) => {
        const conn = await clients.connect({ server: pinging, serverTimeoutMs: 2_000 });
        await sleep(5_000);
        assert.deepEqual(conn.events, [], "the connection closed while idle");
        assert.equal(conn.state, HubConnectionState.Connected);
        assert.equal(await invoke(conn, "Echo", "still here"), "still here");
        await withTimeout(conn.stop(), 5_000, "stop()");
      });
    });

    test("server timeout on the client: no pings from the server closes the client", PINGS, async () => {
      await withServer({ keepAliveMs: 60_000 }, async (silent) => {
        const conn = await clients.connect({ server: silent, serverTimeoutMs: 1_000 });
        const started = Date.now();
        const error = await withTimeout(conn.closed, 5_000, "onclose from the client's server timeout");
        assert.ok(error instanceof Error, `onclose error: ${error}`);
        assert.match(error.message, /Server timeout elapsed without receiving a message from the server\./);
        assert.ok(Date.now() - started >= 500, "closed sooner than the server timeout");
      });
    });

    test("client timeout on the server: a silent client is closed with an error", PINGS, async () => {
      await withServer({ clientTimeoutMs: 1_000 }, async (strict) => {
        const conn = await clients.connect({ server: strict, keepAliveMs: 10_000, serverTimeoutMs: 20_000 });
        const error = await withTimeout(conn.closed, 8_000, "the server to close the silent client");
        assert.ok(error instanceof Error, `onclose error: ${error}`);
        assert.match(error.message, /^Server returned an error on close: /);
      });
    });

    test("a client that pings in time is not timed out by the server", PINGS, async () => {
      await withServer({ clientTimeoutMs: 1_500, keepAliveMs: 500 }, async (strict) => {
        const conn = await clients.connect({ server: strict, keepAliveMs: 300, serverTimeoutMs: 5_000 });
        await sleep(4_000);
        assert.deepEqual(conn.events, [], "the server closed a client that was pinging");
        assert.equal(await invoke(conn, "Echo", "alive"), "alive");
        await withTimeout(conn.stop(), 5_000, "stop()");
      });
    });

    test("a message over --max-message-size closes that connection only", T, async () => {
      await withServer({ maxMessageSize: 4_096 }, async (small) => {
        const victim = await clients.connect({ server: small });
        const bystander = await clients.connect({ server: small });
        // Just under the limit (framing included) still works.
        const fits = "y".repeat(3_000);
        assert.equal(await invoke(victim, "Echo", fits), fits);

        const tooBig = conn => conn.invoke("Echo", "z".repeat(10_000));
        const rejected = await rejectionOf(tooBig(victim), 5_000, "the oversized invocation");
        assert.ok(rejected instanceof Error);
        const error = await withTimeout(victim.closed, 5_000, "onclose after the oversized message");
        assert.ok(error instanceof Error, `the connection must close with an error, got ${error}`);
        assert.equal(victim.state, HubConnectionState.Disconnected);

        assert.equal(await invoke(bystander, "Echo", "unaffected"), "unaffected");
        assert.deepEqual(bystander.events, []);
      });
    });
  });
}
