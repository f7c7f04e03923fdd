// Wire-level checks over a raw WebSocket with the JSON protocol: the handshake, frame types and
// message shapes that the official clients rely on but do not expose (checklist §5, §8–§13, §19).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { RS, rawHubConnection, rawInvoke, rawWebSocket, sleep, startServer, withTimeout } from "../lib/harness.mjs";

const T = { timeout: 20_000 };

/** Runs `fn(server)` against a server started with `options`, then stops it. */
async function withServer(options, fn) {
  const server = await startServer(options);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** Opens a negotiated raw WebSocket without sending the handshake. */
async function openUnshaken(server, hub = "/hub") {
  const res = await fetch(server.url(`${hub}/negotiate?negotiateVersion=1`), { method: "POST" });
  const body = await res.json();
  return rawWebSocket(server.wsUrl(`${hub}?id=${body.connectionToken}`));
}

/** Waits for the server to close the socket; resolves to {code, reason}. */
const closedBy = (socket, ms, what) => withTimeout(socket.closed, ms, what);

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

describe("handshake", () => {
  test("the response is exactly {} + 0x1E in a text frame, first on the wire", T, async () => {
    const { socket, handshake } = await rawHubConnection(server);
    try {
      assert.equal(handshake.binary, false, "JSON must go out in text frames");
      assert.ok(handshake.data.startsWith(`{}${RS}`), `first frame: ${JSON.stringify(handshake.data)}`);
    } finally {
      socket.close();
    }
  });

  test("nothing (not even a ping) is sent before the handshake response", T, async () => {
    await withServer({ keepAliveMs: 100 }, async (fast) => {
      const socket = await openUnshaken(fast);
      try {
        await sleep(600);
        assert.deepEqual(socket.frames, [], "the server sent data before the client's handshake");
        socket.send(`{"protocol":"json","version":1}${RS}`);
        const first = await socket.frame(0);
        assert.ok(first.data.startsWith(`{}${RS}`), `first frame: ${JSON.stringify(first.data)}`);
      } finally {
        socket.close();
      }
    });
  });

  test("handshake versions 0, 1 and 2 are accepted", T, async () => {
    for (const version of [0, 1, 2]) {
      const socket = await openUnshaken(server);
      try {
        socket.send(`{"protocol":"json","version":${version}}${RS}`);
        const first = await socket.frame(0);
        assert.ok(first.data.startsWith(`{}${RS}`), `version ${version}: ${JSON.stringify(first.data)}`);
      } finally {
        socket.close();
      }
    }
  });

  test("an unknown protocol gets an error response and the socket closes", T, async () => {
    const socket = await openUnshaken(server);
    socket.send(`{"protocol":"foo","version":1}${RS}`);
    const record = await socket.waitRecord(() => true, 5_000, "the handshake response");
    assert.deepEqual(record, { error: "The protocol 'foo' is not supported." });
    await closedBy(socket, 5_000, "the server to close after a failed handshake");
  });

  test("an unsupported version gets an error response and the socket closes", T, async () => {
    const socket = await openUnshaken(server);
    socket.send(`{"protocol":"json","version":3}${RS}`);
    const record = await socket.waitRecord(() => true, 5_000, "the handshake response");
    assert.deepEqual(record, { error: "The server does not support version 3 of the 'json' protocol." });
    await closedBy(socket, 5_000, "the server to close after a failed handshake");
  });

  test("a malformed handshake gets an error response and the socket closes", T, async () => {
    const socket = await openUnshaken(server);
    socket.send(`{"version":1}${RS}`);
    const record = await socket.waitRecord(() => true, 5_000, "the handshake response");
    assert.equal(typeof record.error, "string", JSON.stringify(record));
    assert.equal(Object.keys(record).length, 1, `handshake response must only hold error: ${JSON.stringify(record)}`);
    await closedBy(socket, 5_000, "the server to close after a failed handshake");
  });

  test("a handshake that never comes times out and the socket closes", T, async () => {
    await withServer({ handshakeTimeoutMs: 500 }, async (impatient) => {
      const socket = await openUnshaken(impatient);
      await closedBy(socket, 5_000, "the server to close after the handshake timeout");
      assert.deepEqual(socket.records, [{ error: "Handshake was canceled." }]);
    });
  });

  test("messages sent in the same frame as the handshake are processed", T, async () => {
    const socket = await openUnshaken(server);
    try {
      socket.send(
        `{"protocol":"json","version":1}${RS}` +
          `{"type":1,"invocationId":"1","target":"Echo","arguments":["piggy-backed"]}${RS}`,
      );
      const completion = await socket.waitRecord((r) => r.type === 3, 5_000, "the Completion");
      assert.equal(completion.result, "piggy-backed");
    } finally {
      socket.close();
    }
  });
});

describe("messages", () => {
  test("Completion shapes: result without error, error without result", T, async () => {
    const { socket } = await rawHubConnection(server);
    try {
      const ok = await rawInvoke(socket, "1", "Echo", ["x"]);
      assert.equal(ok.result, "x");
      assert.equal("error" in ok, false, JSON.stringify(ok));
      const failed = await rawInvoke(socket, "2", "Throw", ["bad"]);
      assert.equal(failed.error, "bad");
      assert.equal("result" in failed, false, `error and result are mutually exclusive: ${JSON.stringify(failed)}`);
      const unknown = await rawInvoke(socket, "3", "Nope", []);
      assert.equal(unknown.error, "Unknown hub method 'Nope'");
    } finally {
      socket.close();
    }
  });

  test("server-to-client invocations omit invocationId (never null)", T, async () => {
    const { socket } = await rawHubConnection(server);
    try {
      await rawInvoke(socket, "1", "JoinGroup", ["wire"]);
      await rawInvoke(socket, "2", "SendToGroup", ["wire", "payload"]);
      const invocation = await socket.waitRecord((r) => r.type === 1, 5_000, "the GroupMessage invocation");
      assert.equal("invocationId" in invocation, false, `fire-and-forget carries an id: ${JSON.stringify(invocation)}`);
      assert.equal(invocation.target, "GroupMessage");
      assert.deepEqual(invocation.arguments, ["wire", "payload"]);
      for (const [key, value] of Object.entries(invocation)) {
        assert.notEqual(value, null, `property ${key} is null in ${JSON.stringify(invocation)}`);
      }
    } finally {
      socket.close();
    }
  });

  test("several messages in one frame, and one message split over frames, are all handled", T, async () => {
    const { socket } = await rawHubConnection(server);
    try {
      socket.send(
        `{"type":1,"invocationId":"a","target":"Add","arguments":[1,2]}${RS}` +
          `{"type":1,"invocationId":"b","target":"Add","arguments":[3,4]}${RS}`,
      );
      const a = await socket.waitRecord((r) => r.invocationId === "a", 5_000, "completion a");
      const b = await socket.waitRecord((r) => r.invocationId === "b", 5_000, "completion b");
      assert.equal(a.result, 3);
      assert.equal(b.result, 7);
      const message = `{"type":1,"invocationId":"c","target":"Echo","arguments":["split"]}${RS}`;
      socket.send(message.slice(0, 20));
      await sleep(50);
      socket.send(message.slice(20));
      const c = await socket.waitRecord((r) => r.invocationId === "c", 5_000, "completion c");
      assert.equal(c.result, "split");
    } finally {
      socket.close();
    }
  });

  test("properties in any order, headers and unknown properties are accepted", T, async () => {
    const { socket } = await rawHubConnection(server);
    try {
      socket.send(
        `{"arguments":["ordered"],"headers":{"k":"v"},"unknownProp":[1,{"x":2}],"target":"Echo","invocationId":"o","type":1}${RS}`,
      );
      const c = await socket.waitRecord((r) => r.invocationId === "o", 5_000, "the Completion");
      assert.equal(c.result, "ordered");
    } finally {
      socket.close();
    }
  });

  test("invocation ids of 36+ characters (UUIDs, as Python clients send) are echoed", T, async () => {
    const { socket } = await rawHubConnection(server);
    try {
      const id = "0f8fad5b-d9cb-469f-a165-70867728950e-extra-long-suffix";
      const c = await rawInvoke(socket, id, "Echo", ["uuid"]);
      assert.equal(c.result, "uuid");
    } finally {
      socket.close();
    }
  });

  test("an idle connection receives {\"type\":6} pings at the keep-alive interval", T, async () => {
    await withServer({ keepAliveMs: 300 }, async (pinging) => {
      const { socket } = await rawHubConnection(pinging);
      try {
        const start = Date.now();
        await socket.waitRecord((r) => r.type === 6, 3_000, "a first ping");
        await socket.waitRecord((r) => r.type === 6, 3_000, "a second ping");
        assert.ok(Date.now() - start < 2_500, "pings are far slower than --keep-alive-ms 300");
        const pings = socket.records.filter((r) => r.type === 6);
        for (const ping of pings) assert.deepEqual(ping, { type: 6 });
      } finally {
        socket.close();
      }
    });
  });
});

describe("closing", () => {
  test("Kick sends Close with the reason, no allowReconnect, then closes the socket", T, async () => {
    const { socket } = await rawHubConnection(server);
    socket.send(`{"type":1,"invocationId":"k","target":"Kick","arguments":["reason text"]}${RS}`);
    const close = await socket.waitRecord((r) => r.type === 7, 5_000, "the Close message");
    assert.equal(close.error, "reason text");
    assert.notEqual(close.allowReconnect, true, `Kick must not allow reconnect: ${JSON.stringify(close)}`);
    const { code } = await closedBy(socket, 5_000, "the server to close the socket after Close");
    assert.equal(code, 1000, "a normal closure is expected after a Close message");
  });

  test("a Close from the client ends the connection", T, async () => {
    const { socket } = await rawHubConnection(server);
    socket.send(`{"type":7}${RS}`);
    await closedBy(socket, 5_000, "the server to close the socket after the client's Close");
  });

  test("client timeout: the server sends Close with an error, then closes", T, async () => {
    await withServer({ clientTimeoutMs: 800, keepAliveMs: 200 }, async (strict) => {
      const { socket } = await rawHubConnection(strict);
      socket.send(`{"type":6}${RS}`); // the JS client's first ping, which arms the timeout in .NET
      const close = await socket.waitRecord((r) => r.type === 7, 5_000, "the Close message");
      assert.equal(typeof close.error, "string", JSON.stringify(close));
      assert.ok(close.error.length > 0);
      await closedBy(socket, 5_000, "the server to close the socket");
    });
  });

  test("an oversized message gets Close with an error, then the socket closes", T, async () => {
    await withServer({ maxMessageSize: 1_024 }, async (small) => {
      const { socket } = await rawHubConnection(small);
      const ok = await rawInvoke(socket, "1", "Echo", ["a".repeat(900)]);
      assert.equal(ok.result.length, 900);
      socket.send(JSON.stringify({ type: 1, invocationId: "2", target: "Echo", arguments: ["b".repeat(5_000)] }) + RS);
      const close = await socket.waitRecord((r) => r.type === 7, 5_000, "the Close message");
      assert.equal(typeof close.error, "string", JSON.stringify(close));
      await closedBy(socket, 5_000, "the server to close the socket");
      assert.equal(
        socket.records.some((r) => r.invocationId === "2"),
        false,
        "the oversized invocation must not be executed",
      );
    });
  });
});
