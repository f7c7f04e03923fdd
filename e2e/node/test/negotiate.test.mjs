// Raw HTTP checks of the negotiate endpoint and of the connection-id rules on the hub route
// (protocol checklist §1, §2, §4, §5). These use fetch and a raw WebSocket, not the SignalR client.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { RS, rawInvoke, rawWebSocket, startServer, withTimeout } from "../lib/harness.mjs";

const URL_SAFE = /^[A-Za-z0-9_-]+$/;
const CANONICAL_TRANSPORTS = [
  { transport: "WebSockets", transferFormats: ["Text", "Binary"] },
  { transport: "ServerSentEvents", transferFormats: ["Text"] },
  { transport: "LongPolling", transferFormats: ["Text", "Binary"] },
];

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

async function negotiate(path, init = {}) {
  const res = await withTimeout(
    fetch(server.url(path), { method: "POST", ...init }),
    5_000,
    `POST ${path}`,
  );
  const text = await res.text();
  return { res, text, body: safeJson(text) };
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function assertJsonContentType(res) {
  const type = res.headers.get("content-type") ?? "";
  assert.match(type, /^application\/json/, `negotiate Content-Type was ${JSON.stringify(type)}`);
}

function assertTransports(available) {
  assert.ok(Array.isArray(available) && available.length > 0, "availableTransports must be a non-empty array");
  assert.deepEqual(available[0], CANONICAL_TRANSPORTS[0], "WebSockets must be listed first with [Text, Binary]");
  // Every listed entry is one of the canonical ones, exactly, and they keep the canonical order.
  let lastIndex = -1;
  for (const entry of available) {
    const index = CANONICAL_TRANSPORTS.findIndex((t) => t.transport === entry.transport);
    assert.ok(index >= 0, `unknown transport entry ${JSON.stringify(entry)}`);
    assert.deepEqual(entry, CANONICAL_TRANSPORTS[index], `transport entry ${entry.transport}`);
    assert.ok(index > lastIndex, `transports out of order: ${JSON.stringify(available.map((t) => t.transport))}`);
    lastIndex = index;
  }
}

describe("negotiate", () => {
  test("v1: connectionId plus a different URL-safe connectionToken", async () => {
    const { res, body, text } = await negotiate("/hub/negotiate?negotiateVersion=1");
    assert.equal(res.status, 200, text);
    assertJsonContentType(res);
    assert.ok(body, `body is not JSON: ${text}`);
    assert.equal(body.negotiateVersion, 1);
    assert.equal(typeof body.connectionId, "string");
    assert.equal(typeof body.connectionToken, "string");
    assert.match(body.connectionId, URL_SAFE);
    assert.match(body.connectionToken, URL_SAFE);
    assert.ok(body.connectionId.length >= 16, `connectionId too short: ${body.connectionId}`);
    assert.ok(body.connectionToken.length >= 16, `connectionToken too short: ${body.connectionToken}`);
    assert.notEqual(body.connectionToken, body.connectionId);
    assert.equal("ProtocolVersion" in body, false, "must never send ProtocolVersion");
    assert.equal("useStatefulReconnect" in body, false, "useStatefulReconnect only when the client asked");
    assert.equal("error" in body, false);
    assertTransports(body.availableTransports);
  });

  test("v0 when negotiateVersion is absent: connectionId only", async () => {
    // What signalrcore sends: an empty body with Content-Type: application/json.
    const { res, body, text } = await negotiate("/hub/negotiate", {
      headers: { "Content-Type": "application/json" },
    });
    assert.equal(res.status, 200, text);
    assertJsonContentType(res);
    assert.equal(body.negotiateVersion, 0, text);
    assert.equal(typeof body.connectionId, "string");
    assert.match(body.connectionId, URL_SAFE);
    assert.equal("connectionToken" in body, false, `v0 must not carry connectionToken: ${text}`);
    assertTransports(body.availableTransports);
  });

  test("a version above 1 is answered with 1", async () => {
    const { res, body, text } = await negotiate("/hub/negotiate?negotiateVersion=7");
    assert.equal(res.status, 200, text);
    assert.equal(body.negotiateVersion, 1, text);
    assert.equal(typeof body.connectionToken, "string");
  });

  test("a non-integer version is a 200 JSON error", async () => {
    const { res, body, text } = await negotiate("/hub/negotiate?negotiateVersion=abc");
    assert.equal(res.status, 200, text);
    assertJsonContentType(res);
    assert.deepEqual(body, { error: "The client requested a non-integer protocol version." });
  });

  test("every negotiate reserves a fresh id", async () => {
    const a = await negotiate("/hub/negotiate?negotiateVersion=1");
    const b = await negotiate("/hub/negotiate?negotiateVersion=1");
    assert.notEqual(a.body.connectionId, b.body.connectionId);
    assert.notEqual(a.body.connectionToken, b.body.connectionToken);
  });

  test("extra query parameters are tolerated", async () => {
    const { res, body, text } = await negotiate("/hub/negotiate?foo=bar&negotiateVersion=1&x=");
    assert.equal(res.status, 200, text);
    assert.equal(body.negotiateVersion, 1);
  });

  test("GET on /negotiate is 405", async () => {
    const res = await fetch(server.url("/hub/negotiate?negotiateVersion=1"));
    await res.arrayBuffer();
    assert.equal(res.status, 405);
  });
});

describe("authentication on /authhub", () => {
  test("negotiate without a token is 401", async () => {
    const { res } = await negotiate("/authhub/negotiate?negotiateVersion=1");
    assert.equal(res.status, 401);
  });

  test("negotiate with an invalid token is 401", async () => {
    const { res } = await negotiate("/authhub/negotiate?negotiateVersion=1", {
      headers: { Authorization: "Bearer not-a-user-token" },
    });
    assert.equal(res.status, 401);
  });

  test("negotiate with a bearer header succeeds", async () => {
    const { res, body, text } = await negotiate("/authhub/negotiate?negotiateVersion=1", {
      headers: { Authorization: "Bearer user:alice" },
    });
    assert.equal(res.status, 200, text);
    assert.equal(body.negotiateVersion, 1);
  });

  test("negotiate with access_token in the query succeeds (browser path)", async () => {
    const { res, body, text } = await negotiate(
      `/authhub/negotiate?negotiateVersion=1&access_token=${encodeURIComponent("user:alice")}`,
    );
    assert.equal(res.status, 200, text);
    assert.equal(body.negotiateVersion, 1);
  });

  test("WebSocket upgrade without a token is 401", async () => {
    const { body } = await negotiate("/authhub/negotiate?negotiateVersion=1", {
      headers: { Authorization: "Bearer user:alice" },
    });
    const error = await rawWebSocket(server.wsUrl(`/authhub?id=${body.connectionToken}`)).then(
      (s) => {
        s.close();
        return null;
      },
      (e) => e,
    );
    assert.ok(error, "the upgrade without a token must be refused");
    assert.equal(error.statusCode, 401);
  });

  test("WebSocket with access_token in the query reaches the hub as that user", async () => {
    const token = encodeURIComponent("user:alice");
    const { body } = await negotiate(`/authhub/negotiate?negotiateVersion=1&access_token=${token}`);
    const socket = await rawWebSocket(server.wsUrl(`/authhub?id=${body.connectionToken}&access_token=${token}`));
    try {
      socket.send(`{"protocol":"json","version":1}${RS}`);
      await socket.waitRecord((r) => r.type === undefined, 5_000, "the handshake response");
      const completion = await rawInvoke(socket, "1", "GetUser", []);
      assert.deepEqual(pick(completion), { type: 3, invocationId: "1", result: "alice" });
    } finally {
      socket.close();
    }
  });
});

describe("connection ids on the hub route", () => {
  test("WebSocket upgrade with an unknown id is 404", async () => {
    const error = await rawWebSocket(server.wsUrl("/hub?id=doesnotexist0000000000")).then(
      (s) => {
        s.close();
        return null;
      },
      (e) => e,
    );
    assert.ok(error, "the upgrade must be refused");
    assert.equal(error.statusCode, 404);
  });

  test("non-upgrade GET with an unknown id is 404", async () => {
    const res = await fetch(server.url("/hub?id=doesnotexist0000000000"));
    await res.arrayBuffer();
    assert.equal(res.status, 404);
  });

  test("non-upgrade GET without an id is 400 'Connection ID required'", async () => {
    const res = await fetch(server.url("/hub"));
    const text = await res.text();
    assert.equal(res.status, 400);
    assert.equal(text, "Connection ID required");
  });

  test("v1 connections are looked up by connectionToken, not by connectionId", async () => {
    const { body } = await negotiate("/hub/negotiate?negotiateVersion=1");
    const byId = await rawWebSocket(server.wsUrl(`/hub?id=${body.connectionId}`)).then(
      (s) => {
        s.close();
        return null;
      },
      (e) => e,
    );
    assert.ok(byId, "the public connectionId must not open the connection");
    assert.equal(byId.statusCode, 404);

    const socket = await rawWebSocket(server.wsUrl(`/hub?id=${body.connectionToken}`));
    try {
      socket.send(`{"protocol":"json","version":1}${RS}`);
      const first = await socket.frame(0);
      assert.equal(first.binary, false);
      assert.ok(first.data.startsWith(`{}${RS}`), `handshake response: ${JSON.stringify(first.data)}`);
      // The hub sees the public id, not the token.
      const completion = await rawInvoke(socket, "1", "GetConnectionId", []);
      assert.equal(completion.result, body.connectionId);
    } finally {
      socket.close();
    }
  });

  test("v0 connections are opened with the connectionId", async () => {
    const { body } = await negotiate("/hub/negotiate");
    const socket = await rawWebSocket(server.wsUrl(`/hub?id=${body.connectionId}`));
    try {
      socket.send(`{"protocol":"json","version":0}${RS}`);
      const first = await socket.frame(0);
      assert.ok(first.data.startsWith(`{}${RS}`), `handshake response: ${JSON.stringify(first.data)}`);
      const completion = await rawInvoke(socket, "a", "GetConnectionId", []);
      assert.equal(completion.result, body.connectionId);
    } finally {
      socket.close();
    }
  });

  test("a second WebSocket for the same token is refused", async () => {
    const { body } = await negotiate("/hub/negotiate?negotiateVersion=1");
    const first = await rawWebSocket(server.wsUrl(`/hub?id=${body.connectionToken}`));
    try {
      const second = await rawWebSocket(server.wsUrl(`/hub?id=${body.connectionToken}`)).then(
        (s) => {
          s.close();
          return null;
        },
        (e) => e,
      );
      assert.ok(second, "a second WebSocket on one connection must be refused");
      assert.equal(second.statusCode, 409);
    } finally {
      first.close();
    }
  });

  test("skipNegotiation: a WebSocket without id opens a new connection", async () => {
    const socket = await rawWebSocket(server.wsUrl("/hub"));
    try {
      socket.send(`{"protocol":"json","version":1}${RS}`);
      const first = await socket.frame(0);
      assert.ok(first.data.startsWith(`{}${RS}`), `handshake response: ${JSON.stringify(first.data)}`);
      const completion = await rawInvoke(socket, "1", "GetConnectionId", []);
      assert.equal(typeof completion.result, "string");
      assert.ok(completion.result.length > 0);
    } finally {
      socket.close();
    }
  });
});

/** The Completion without headers, for comparison. */
function pick(record) {
  const { headers, ...rest } = record;
  return rest;
}
