// No sticky sessions over WebSockets: two interop servers started with the same
// `--connection-token-secret` act as two nodes of one cluster, so the official client may
// negotiate on one node and open its WebSocket on the other. A round-robin TCP balancer without
// affinity sits in front of them; the test reads from its records where each request went.
//
// Deterministic crossing: every test starts a fresh balancer (a new port, so no pooled
// keep-alive connection of an earlier test can be reused) and one client. The client's first TCP
// connection is the negotiate POST, its second the WebSocket upgrade, so the balancer sends the
// negotiate to its first backend and the upgrade to its second. Both orders (A then B, B then A)
// run.
//
// Negative controls: with different secrets, or with a node that has none, the node that did not
// negotiate does not know the token: the crossed upgrade is answered 404 and the official
// client's start() fails.
//
// Only WebSockets x {json, messagepack}, whatever INTEROP_TRANSPORTS says: Server-Sent Events
// and Long Polling use several HTTP requests per connection and are documented to need sticky
// sessions (crates/signalr-hub/src/token.rs, "Limits"), so they are not tested crossing.

import { after, afterEach, before, describe } from "node:test";
import assert from "node:assert/strict";
import { DefaultHttpClient, HubConnectionState, NullLogger } from "@microsoft/signalr";
import {
  Clients,
  rawHubConnection,
  rawInvoke,
  recorder,
  rejectionOf,
  startServer,
  variantTest,
  withTimeout,
} from "../lib/harness.mjs";
import { startBalancer } from "../lib/proxy.mjs";

const T = { timeout: 30_000 };
const SECRET = "no-sticky-sessions e2e: the cluster's shared secret, 32+ bytes";
const OTHER_SECRET = "no-sticky-sessions e2e: another cluster's secret, 32+ bytes";

/**
 * The official client's default HttpClient, recording every negotiate answer it gets
 * (`negotiations`: `{ url, statusCode, body }`, `body` parsed when it is JSON), so a test can
 * compare what the negotiating node issued with what the client and the other node use.
 */
class NegotiateRecorder extends DefaultHttpClient {
  constructor() {
    super(NullLogger.instance);
    this.negotiations = [];
  }

  async send(request) {
    const response = await super.send(request);
    if (new URL(request.url).pathname.endsWith("/negotiate")) {
      let body = response.content;
      try {
        body = JSON.parse(response.content);
      } catch {
        // kept as text
      }
      this.negotiations.push({ url: request.url, statusCode: response.statusCode, body });
    }
    return response;
  }
}

/** The `id` query parameter of a request line such as `GET /hub?id=... HTTP/1.1`. */
function idParam(requestLine) {
  const target = requestLine.split(" ")[1];
  return new URL(target, "http://x").searchParams.get("id");
}

/**
 * Fails unless the balancer saw exactly two connections: the negotiate POST, forwarded to
 * backend 0 and answered 200, then the WebSocket upgrade for `/hub`, forwarded to backend 1.
 * Returns the two records.
 */
function assertCrossed(balancer) {
  const records = JSON.stringify(balancer.connections);
  assert.equal(balancer.connections.length, 2, `balancer connections: ${records}`);
  const [negotiate, upgrade] = balancer.connections;
  assert.match(negotiate.request ?? "", /^POST \/hub\/negotiate\?negotiateVersion=1 /, records);
  assert.match(negotiate.response ?? "", /^HTTP\/1\.1 200 /, records);
  assert.equal(negotiate.backend, 0, `the negotiate went to backend ${negotiate.backend}: ${records}`);
  assert.match(upgrade.request ?? "", /^GET \/hub\?id=/, records);
  assert.equal(upgrade.backend, 1, `the upgrade went to backend ${upgrade.backend}: ${records}`);
  return { negotiate, upgrade };
}

describe("no sticky sessions: negotiate on one node, WebSocket on another", () => {
  // A and B share SECRET; C has another secret; D has none.
  const servers = {};
  before(async () => {
    const [a, b, c, d] = await Promise.all([
      startServer({ extraArgs: ["--connection-token-secret", SECRET] }),
      startServer({ extraArgs: ["--connection-token-secret", SECRET] }),
      startServer({ extraArgs: ["--connection-token-secret", OTHER_SECRET] }),
      startServer(),
    ]);
    Object.assign(servers, { A: a, B: b, C: c, D: d });
  });
  after(async () => {
    // stop() fails if a server died during the tests: a crash is a failure.
    await Promise.all(Object.values(servers).map((server) => server.stop()));
  });

  for (const protocol of ["json", "messagepack"]) {
    const variant = { name: `WebSockets/${protocol}`, transport: "WebSockets", protocol };

    describe(`over ${variant.name}`, () => {
      const test = variantTest(variant);
      let balancer;
      const clients = new Clients(() => balancer, variant);
      afterEach(async () => {
        await clients.stopAll();
        await balancer?.close();
        balancer = undefined;
      });

      const invoke = (conn, method, ...args) =>
        withTimeout(conn.invoke(method, ...args), 10_000, `invoke ${method}`);

      for (const [first, second] of [["A", "B"], ["B", "A"]]) {
        test(`same secret: negotiate on ${first}, WebSocket on ${second}, and the connection works`, T, async () => {
          balancer = await startBalancer([servers[first].port, servers[second].port]);
          const http = new NegotiateRecorder();
          const conn = await clients.connect({ httpClient: http });
          const groupMessages = recorder(conn, "GroupMessage");

          // The balancer sent the negotiate to `first` and the upgrade to `second`, which took
          // the token `first` issued.
          const { negotiate, upgrade } = assertCrossed(balancer);
          assert.equal(negotiate.port, servers[first].port);
          assert.equal(upgrade.port, servers[second].port);
          assert.match(upgrade.response ?? "", /^HTTP\/1\.1 101 /, `the upgrade was refused on ${second}`);
          assert.equal(http.negotiations.length, 1, `negotiations: ${JSON.stringify(http.negotiations)}`);
          const negotiated = http.negotiations[0].body;
          assert.equal(idParam(upgrade.request), negotiated.connectionToken, "the upgrade carried another token");

          // The connection id `first` issued is the client's, and the id hub code on `second`
          // sees.
          assert.equal(typeof negotiated.connectionId, "string");
          assert.equal(conn.connectionId, negotiated.connectionId);
          assert.equal(await invoke(conn, "GetConnectionId"), negotiated.connectionId);

          // Invocations and group messages over the crossed WebSocket.
          const message = `across nodes ${protocol} ${first}->${second}`;
          assert.equal(await invoke(conn, "Echo", message), message);
          const group = `no-sticky-${protocol}-${first}${second}`;
          await invoke(conn, "JoinGroup", group);
          await invoke(conn, "SendToGroup", group, "to the group");
          assert.deepEqual(await groupMessages.waitFor(1), [[group, "to the group"]]);
          assert.equal(conn.state, HubConnectionState.Connected);
          assert.deepEqual(conn.events, []);

          // The hub code ran on `second`: a value recorded over the connection is in `second`'s
          // process, not in `first`'s (asked directly, bypassing the balancer). And no request
          // went through the balancer besides the two above.
          const key = `no-sticky-${protocol}-${first}${second}-${process.pid}-${Date.now()}`;
          assert.equal(await invoke(conn, "Record", key, "here"), 1);
          for (const [name, expected] of [[second, ["here"]], [first, []]]) {
            const raw = await rawHubConnection(servers[name]);
            try {
              const completion = await rawInvoke(raw.socket, "1", "GetRecorded", [key]);
              assert.deepEqual(completion.result, expected, `GetRecorded on ${name}`);
            } finally {
              raw.socket.close();
            }
          }
          assert.equal(balancer.connections.length, 2, `balancer connections: ${JSON.stringify(balancer.connections)}`);
        });
      }

      const controls = [
        { name: "different secrets", negotiateOn: "A", webSocketOn: "C" },
        { name: "the negotiating node has no secret", negotiateOn: "D", webSocketOn: "A" },
        { name: "the WebSocket node has no secret", negotiateOn: "A", webSocketOn: "D" },
      ];
      for (const { name, negotiateOn, webSocketOn } of controls) {
        test(`control, ${name}: the crossed WebSocket is refused with 404 and start() fails`, T, async () => {
          balancer = await startBalancer([servers[negotiateOn].port, servers[webSocketOn].port]);
          const http = new NegotiateRecorder();
          const conn = await clients.build({ httpClient: http });
          const error = await rejectionOf(conn.start(), 10_000, `start() negotiating on ${negotiateOn}, upgrading on ${webSocketOn}`);

          const { upgrade } = assertCrossed(balancer);
          assert.equal(idParam(upgrade.request), http.negotiations[0].body.connectionToken);
          assert.match(upgrade.response ?? "", /^HTTP\/1\.1 404 /, `${webSocketOn} must not know the token`);
          assert.match(String(error?.message ?? error), /WebSockets failed/, `start() failed for another reason: ${error}`);
          assert.equal(conn.state, HubConnectionState.Disconnected);
          assert.equal(conn.connectionId, null, "a failed start leaves no connection id");
        });
      }
    });
  }
});
