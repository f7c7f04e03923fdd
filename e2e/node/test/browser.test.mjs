// The official browser bundle (`@microsoft/signalr/dist/browser/signalr.min.js`, plus the
// MessagePack bundle) in headless Chromium, driven with playwright-core. Browsers cannot set
// headers on a WebSocket or an EventSource, so the client sends the token as `access_token` in
// the query string there (AUTH-01): `/authhub` must accept it.
//
// The page comes from a small HTTP server of this test, so it talks to the interop server
// cross-origin, which that server allows with `--allowed-origin` (CORS with credentials,
// AUTH-05). A page from an origin not on the list must be refused.
//
// Chromium: /usr/bin/chromium (Debian's `chromium` package, which .ci/run installs), or
// INTEROP_CHROMIUM. No browser is ever downloaded. If it is missing or does not start, the tests
// fail when CI=true and are skipped, with the reason in their names, otherwise.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { resolve } from "node:path";
import { NODE_DIR, deferred, startServer, withTimeout } from "../lib/harness.mjs";

const CHROMIUM = process.env.INTEROP_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const IN_CI = process.env.CI === "true";
const T = { timeout: 30_000 };

const BUNDLES = {
  "/signalr.min.js": resolve(NODE_DIR, "node_modules/@microsoft/signalr/dist/browser/signalr.min.js"),
  "/signalr-protocol-msgpack.min.js": resolve(
    NODE_DIR,
    "node_modules/@microsoft/signalr-protocol-msgpack/dist/browser/signalr-protocol-msgpack.min.js",
  ),
};

// The page: loads the bundles and offers `scenario(...)`, which connects to /authhub as user
// "browser", invokes, joins a group and waits for a group message, then stops.
const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>signalr interop</title>
<script src="/signalr.min.js"></script>
<script src="/signalr-protocol-msgpack.min.js"></script>
</head>
<body>
<script>
window.scenario = async (hubUrl, transport, protocol) => {
  const out = { steps: [] };
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(hubUrl, {
      transport: signalR.HttpTransportType[transport],
      accessTokenFactory: () => "user:browser",
    })
    .configureLogging(signalR.LogLevel.None);
  if (protocol === "messagepack") {
    builder = builder.withHubProtocol(new signalR.protocols.msgpack.MessagePackHubProtocol());
  }
  const connection = builder.build();
  const group = new Promise((resolve) => connection.on("GroupMessage", (g, m) => resolve([g, m])));
  try {
    await connection.start();
    out.steps.push("started");
    out.connectionId = connection.connectionId;
    out.user = await connection.invoke("GetUser");
    out.echo = await connection.invoke("Echo", "héllo from the browser ✓");
    out.sum = await connection.invoke("Add", 40, 2);
    await connection.invoke("JoinGroup", "browser-room");
    await connection.invoke("SendToGroup", "browser-room", "hello group");
    out.group = await Promise.race([
      group,
      new Promise((_, reject) => setTimeout(() => reject(new Error("no GroupMessage within 5 s")), 5000)),
    ]);
    out.serverConnectionId = await connection.invoke("GetConnectionId");
    await connection.stop();
    out.steps.push("stopped");
  } catch (error) {
    out.error = String(error && error.message || error);
    try { await connection.stop(); } catch {}
  }
  return out;
};
</script>
</body>
</html>`;

/** Serves the page and the bundles on 127.0.0.1 (free port); resolves to {origin, close}. */
async function startPageServer() {
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(PAGE);
    } else if (path in BUNDLES) {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      res.end(readFileSync(BUNDLES[path]));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  const listening = deferred();
  server.once("error", listening.reject);
  server.listen(0, "127.0.0.1", listening.resolve);
  await listening.promise;
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((res) => server.close(res)),
  };
}

/** Launches Chromium, or says why it cannot. */
async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    return { problem: `no Chromium at ${CHROMIUM} (apt-get install chromium, or set INTEROP_CHROMIUM)` };
  }
  try {
    const { chromium } = await import("playwright-core");
    const browser = await withTimeout(
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }),
      30_000,
      "Chromium to start",
    );
    return { browser };
  } catch (error) {
    return { problem: `Chromium at ${CHROMIUM} did not start: ${String(error.message).split("\n")[0]}` };
  }
}

const launched = await launchChromium();
if (launched.problem) {
  process.stderr.write(
    `\n*** browser tests: ${launched.problem}; ${IN_CI ? "FAILING (CI=true)" : "SKIPPED"} ***\n\n`,
  );
}
// Outside CI a missing browser skips (the reason is in each test's name); in CI it fails.
const SKIP = launched.problem && !IN_CI ? `skipped: ${launched.problem}` : false;
const named = (name) => (SKIP ? `${name} (${SKIP})` : name);
const opts = { ...T, skip: SKIP };

describe("official browser bundle in headless Chromium", () => {
  let server;
  let pages;
  let stranger;
  before(async () => {
    if (SKIP) return;
    if (launched.problem) throw new Error(`browser tests cannot run in CI: ${launched.problem}`);
    pages = await startPageServer();
    stranger = await startPageServer();
    server = await startServer({ extraArgs: ["--allowed-origin", pages.origin] });
  });
  after(async () => {
    await launched.browser?.close();
    await pages?.close();
    await stranger?.close();
    await server?.stop();
  });

  /** Opens the page of `origin` in a fresh context and runs the scenario; records requests. */
  async function run(origin, transport, protocol = "json") {
    const context = await launched.browser.newContext();
    try {
      const page = await context.newPage();
      const requests = [];
      const sockets = [];
      page.on("request", (request) =>
        requests.push({
          url: request.url(),
          method: request.method(),
          type: request.resourceType(),
          headers: request.headers(),
        }),
      );
      page.on("websocket", (socket) => sockets.push(socket.url()));
      await page.goto(`${origin}/`);
      const result = await withTimeout(
        page.evaluate(([url, t, p]) => window.scenario(url, t, p), [server.url("/authhub"), transport, protocol]),
        20_000,
        `the ${transport}/${protocol} scenario in the page`,
      );
      return { result, requests, sockets };
    } finally {
      await context.close();
    }
  }

  const hubRequests = (requests, pred) =>
    requests.filter((r) => r.url.startsWith(server.url("/authhub")) && pred(r));
  const param = (url, name) => new URL(url).searchParams.get(name);

  /** What every successful scenario must show. */
  function assertConversation(result) {
    assert.equal(result.error, undefined, `the page failed: ${result.error}`);
    assert.deepEqual(result.steps, ["started", "stopped"]);
    assert.equal(result.user, "browser");
    assert.equal(result.echo, "héllo from the browser ✓");
    assert.equal(result.sum, 42);
    assert.deepEqual(result.group, ["browser-room", "hello group"]);
    assert.equal(result.serverConnectionId, result.connectionId);
  }

  test(named("WebSockets/json: the token travels as access_token in the query string"), opts, async () => {
    const { result, requests, sockets } = await run(pages.origin, "WebSockets");
    assertConversation(result);
    // Negotiate carries the token as a header (fetch can), cross-origin with a preflight.
    const [negotiate] = hubRequests(requests, (r) => r.url.includes("/authhub/negotiate"));
    assert.ok(negotiate, "no negotiate request");
    assert.equal(negotiate.headers.authorization, "Bearer user:browser");
    // The WebSocket cannot: its URL holds the token, and the server took the user from it
    // (GetUser answered "browser" above on that socket).
    assert.equal(sockets.length, 1, `WebSockets opened: ${JSON.stringify(sockets)}`);
    assert.match(sockets[0], /^ws:\/\/127\.0\.0\.1:\d+\/authhub\?/);
    assert.equal(param(sockets[0], "access_token"), "user:browser");
    assert.ok(param(sockets[0], "id"), "no connection token in the WebSocket URL");
  });

  test(named("WebSockets/messagepack: binary frames in the browser"), opts, async () => {
    const { result, sockets } = await run(pages.origin, "WebSockets", "messagepack");
    assertConversation(result);
    assert.equal(param(sockets[0], "access_token"), "user:browser");
  });

  test(named("ServerSentEvents/json: EventSource carries access_token, POSTs the header"), opts, async () => {
    const { result, requests, sockets } = await run(pages.origin, "ServerSentEvents");
    assertConversation(result);
    assert.deepEqual(sockets, []);
    const streams = hubRequests(requests, (r) => r.type === "eventsource");
    assert.equal(streams.length, 1, `event streams: ${JSON.stringify(streams.map((r) => r.url))}`);
    assert.equal(param(streams[0].url, "access_token"), "user:browser");
    const sends = hubRequests(requests, (r) => r.method === "POST" && !r.url.includes("/negotiate"));
    assert.ok(sends.length > 0, "no POSTs");
    for (const send of sends) assert.equal(send.headers.authorization, "Bearer user:browser");
  });

  test(named("LongPolling/json: polls and sends carry the header"), opts, async () => {
    const { result, requests, sockets } = await run(pages.origin, "LongPolling");
    assertConversation(result);
    assert.deepEqual(sockets, []);
    const polls = hubRequests(requests, (r) => r.method === "GET");
    assert.ok(polls.length >= 2, `polls: ${polls.length}`);
    for (const poll of polls) assert.equal(poll.headers.authorization, "Bearer user:browser");
    assert.equal(hubRequests(requests, (r) => r.method === "DELETE").length, 1, "stop() sends one DELETE");
  });

  test(named("a page from an origin that is not allowed cannot connect"), opts, async () => {
    const { result } = await run(stranger.origin, "WebSockets");
    assert.equal(result.steps.length, 0, `connected from ${stranger.origin}`);
    assert.match(result.error, /^Failed to complete negotiation with the server/);
  });
});

// CORS answers as raw HTTP, without a browser: what the browser relied on above.
describe("CORS for an --allowed-origin", () => {
  let server;
  const allowed = "http://127.0.0.1:1";
  before(async () => {
    server = await startServer({ extraArgs: ["--allowed-origin", allowed] });
  });
  after(() => server?.stop());

  const preflight = (origin) =>
    fetch(server.url("/authhub/negotiate?negotiateVersion=1"), {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,x-requested-with,x-signalr-user-agent",
      },
    });

  test("a preflight from the allowed origin is answered with credentials", T, async () => {
    const res = await preflight(allowed);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), allowed);
    assert.equal(res.headers.get("access-control-allow-credentials"), "true");
    assert.match(res.headers.get("access-control-allow-methods"), /POST/);
    assert.match(res.headers.get("access-control-allow-methods"), /DELETE/);
    assert.equal(
      res.headers.get("access-control-allow-headers"),
      "authorization,x-requested-with,x-signalr-user-agent",
    );
  });

  test("negotiate from the allowed origin echoes it; another origin gets 403", T, async () => {
    const ok = await fetch(server.url("/authhub/negotiate?negotiateVersion=1"), {
      method: "POST",
      headers: { origin: allowed, authorization: "Bearer user:x" },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("access-control-allow-origin"), allowed);
    assert.equal(ok.headers.get("vary"), "Origin");
    assert.equal((await preflight("http://127.0.0.1:2")).status, 403);
    const refused = await fetch(server.url("/hub/negotiate?negotiateVersion=1"), {
      method: "POST",
      headers: { origin: "http://127.0.0.1:2" },
    });
    assert.equal(refused.status, 403);
    // Requests without an Origin (non-browser clients) are not affected.
    const plain = await fetch(server.url("/hub/negotiate?negotiateVersion=1"), { method: "POST" });
    assert.equal(plain.status, 200);
  });
});
