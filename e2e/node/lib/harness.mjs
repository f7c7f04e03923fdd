// Shared test harness for the interop suites: spawns the Rust interop server, builds official
// @microsoft/signalr clients against it, and offers small promise helpers with time bounds.
//
// Environment:
//   INTEROP_SERVER_BIN   path of the server binary (relative paths are taken from e2e/node);
//                        default ../../target/debug/examples/interop_server
//   INTEROP_TRANSPORTS   comma list of transports to run the client suites over
//                        (default: WebSockets,ServerSentEvents,LongPolling)
//   INTEROP_PROTOCOLS    comma list of hub protocols: json, messagepack (default: both)
//   INTEROP_SERVER_LOG=1 forward the server's stdout/stderr to this process's stderr
//   INTEROP_CLIENT_LOG=  @microsoft/signalr log level name (Trace, Debug, Information, ...);
//                        client logs are silent by default

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import WebSocket from "ws";
import {
  HttpTransportType,
  HubConnectionBuilder,
  HubConnectionState,
  LogLevel,
} from "@microsoft/signalr";

export { sleep, HubConnectionState, HttpTransportType };

/** Directory of the Node suite (e2e/node). */
export const NODE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Absolute path of the server binary under test. */
export const SERVER_BIN = (() => {
  const configured = process.env.INTEROP_SERVER_BIN || "../../target/debug/examples/interop_server";
  return isAbsolute(configured) ? configured : resolve(NODE_DIR, configured);
})();

const STARTUP_TIMEOUT_MS = 20_000;
const LOG_TAIL_LINES = 60;

// ---------------------------------------------------------------------------------------------
// Promise helpers
// ---------------------------------------------------------------------------------------------

/** Rejects with a descriptive error if `promise` does not settle within `ms`. */
export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise with its resolve/reject exposed. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `predicate` (which may be async) every 20 ms until it is truthy; rejects after `ms`. */
export async function waitUntil(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Settles to the rejection error of `promise` (fails if it resolves instead). */
export async function rejectionOf(promise, ms, what) {
  const outcome = await withTimeout(
    promise.then(
      (value) => ({ ok: true, value }),
      (error) => ({ ok: false, error }),
    ),
    ms,
    what,
  );
  if (outcome.ok) {
    throw new Error(`expected ${what} to fail, but it resolved with ${JSON.stringify(outcome.value)}`);
  }
  return outcome.error;
}

// ---------------------------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------------------------

/**
 * Spawns the interop server on a free port and resolves once it printed
 * `listening on http://127.0.0.1:PORT`.
 *
 * @param {object} [options]
 * @param {number} [options.keepAliveMs]       --keep-alive-ms
 * @param {number} [options.clientTimeoutMs]   --client-timeout-ms
 * @param {number} [options.handshakeTimeoutMs] --handshake-timeout-ms
 * @param {number} [options.maxMessageSize]    --max-message-size
 * @param {string[]} [options.extraArgs]
 */
export async function startServer(options = {}) {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(
      `interop server binary not found at ${SERVER_BIN}; build it with ` +
        "`cargo build -p signalr-hub --example interop_server` or set INTEROP_SERVER_BIN",
    );
  }
  const args = ["--addr", "127.0.0.1:0"];
  if (options.keepAliveMs !== undefined) args.push("--keep-alive-ms", String(options.keepAliveMs));
  if (options.clientTimeoutMs !== undefined) args.push("--client-timeout-ms", String(options.clientTimeoutMs));
  if (options.handshakeTimeoutMs !== undefined) {
    args.push("--handshake-timeout-ms", String(options.handshakeTimeoutMs));
  }
  if (options.maxMessageSize !== undefined) args.push("--max-message-size", String(options.maxMessageSize));
  args.push(...(options.extraArgs ?? []));

  const forward = process.env.INTEROP_SERVER_LOG === "1";
  const child = spawn(SERVER_BIN, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { RUST_LOG: "info", ...process.env },
  });
  const log = [];
  const remember = (stream) => (line) => {
    log.push(`[${stream}] ${line}`);
    if (log.length > LOG_TAIL_LINES) log.shift();
    if (forward) process.stderr.write(`[server ${child.pid} ${stream}] ${line}\n`);
  };
  const ready = deferred();
  const exited = deferred();
  let exit = null;

  createInterface({ input: child.stdout }).on("line", (line) => {
    remember("out")(line);
    const match = /^listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/.exec(line);
    if (match) ready.resolve({ origin: match[1], port: Number(match[2]) });
  });
  createInterface({ input: child.stderr }).on("line", remember("err"));
  child.on("error", (error) => ready.reject(error));
  child.on("exit", (code, signal) => {
    exit = { code, signal };
    ready.reject(new Error(`server exited before listening (code ${code}, signal ${signal})`));
    exited.resolve(exit);
  });
  liveChildren.add(child);
  exited.promise.then(() => liveChildren.delete(child));

  let address;
  try {
    address = await withTimeout(ready.promise, STARTUP_TIMEOUT_MS, "the server's `listening on` line");
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${error.message}\n${tail(log)}`);
  }
  let stopped = false;

  return {
    origin: address.origin,
    port: address.port,
    args,
    /** Full http URL of a path on this server, e.g. url("/hub"). */
    url: (path) => `${address.origin}${path}`,
    /** ws:// URL of a path on this server. */
    wsUrl: (path) => `${address.origin.replace(/^http/, "ws")}${path}`,
    /** The last lines the server printed. */
    logTail: () => tail(log),
    /** True while the process runs. */
    isRunning: () => exit === null,
    /**
     * Stops the server. Fails if it had died on its own before (a crash is a test failure).
     */
    async stop() {
      if (stopped) return;
      stopped = true;
      if (exit !== null) {
        throw new Error(`the server died during the tests (code ${exit.code}, signal ${exit.signal})\n${tail(log)}`);
      }
      child.kill("SIGTERM");
      try {
        await withTimeout(exited.promise, 3_000, "the server to exit after SIGTERM");
      } catch {
        child.kill("SIGKILL");
        await withTimeout(exited.promise, 3_000, "the server to exit after SIGKILL");
      }
    },
  };
}

const liveChildren = new Set();
process.on("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

function tail(lines) {
  return lines.length === 0 ? "(server printed nothing)" : `server output (last lines):\n  ${lines.join("\n  ")}`;
}

// ---------------------------------------------------------------------------------------------
// Client matrix: transport x protocol
// ---------------------------------------------------------------------------------------------

const TRANSPORTS = {
  WebSockets: HttpTransportType.WebSockets,
  ServerSentEvents: HttpTransportType.ServerSentEvents,
  LongPolling: HttpTransportType.LongPolling,
};
const PROTOCOLS = ["json", "messagepack"];

/**
 * The client configurations the suites run over: every requested transport x protocol, minus
 * SSE + MessagePack (SSE carries text only). By default the full matrix: WebSockets/json,
 * WebSockets/messagepack, ServerSentEvents/json, LongPolling/json, LongPolling/messagepack.
 */
export function variants() {
  const transports = listFromEnv("INTEROP_TRANSPORTS", Object.keys(TRANSPORTS).join(","));
  const protocols = listFromEnv("INTEROP_PROTOCOLS", PROTOCOLS.join(","));
  for (const t of transports) if (!(t in TRANSPORTS)) throw new Error(`unknown transport ${t} in INTEROP_TRANSPORTS`);
  for (const p of protocols) if (!PROTOCOLS.includes(p)) throw new Error(`unknown protocol ${p} in INTEROP_PROTOCOLS`);
  const out = [];
  for (const transport of transports) {
    for (const protocol of protocols) {
      if (transport === "ServerSentEvents" && protocol === "messagepack") continue;
      out.push({ name: `${transport}/${protocol}`, transport, protocol });
    }
  }
  return out;
}

/**
 * `test()` for one variant: the name ends with `[Transport/protocol]`, so every result line says
 * which variant ran, and a test skipped for this variant carries the reason in its name too
 * (`options.skip` = the reason string, or false).
 */
export function variantTest(variant) {
  return (name, options, fn) => {
    let full = `${name} [${variant.name}]`;
    if (typeof options.skip === "string") full += ` (skipped: ${options.skip})`;
    return test(full, options, fn);
  };
}

function listFromEnv(name, fallback) {
  return (process.env[name] || fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

async function hubProtocol(name) {
  if (name === "json") return undefined; // the builder's default JsonHubProtocol
  // Loaded lazily so the JSON-only suite does not need the package installed.
  const mod = await import("@microsoft/signalr-protocol-msgpack");
  return new mod.MessagePackHubProtocol();
}

const clientLogLevel = (() => {
  const name = process.env.INTEROP_CLIENT_LOG;
  if (!name) return LogLevel.None;
  if (!(name in LogLevel)) throw new Error(`unknown INTEROP_CLIENT_LOG level ${name}`);
  return LogLevel[name];
})();

/**
 * Builds and starts official-client connections for one variant, remembers them, and stops them
 * all in `stopAll()` (call it from afterEach).
 */
export class Clients {
  /**
   * @param {() => {url: (p: string) => string}} getServer returns the server handle (lazily, so a
   *   suite can create the Clients before its `before` hook started the server)
   * @param {{transport: string, protocol: string}} variant
   */
  constructor(getServer, variant) {
    this.getServer = getServer;
    this.variant = variant;
    this.connections = [];
  }

  /**
   * Builds a HubConnection (not started). Records onclose/onreconnecting events on
   * `conn.events` and the close error in `conn.closed` (a promise).
   *
   * @param {object} [o]
   * @param {string} [o.hub]            path, default /hub
   * @param {string} [o.token]          bearer token returned by accessTokenFactory
   * @param {boolean} [o.skipNegotiation]
   * @param {number} [o.serverTimeoutMs]
   * @param {number} [o.keepAliveMs]
   * @param {number[]} [o.reconnectDelays] enables withAutomaticReconnect(delays)
   * @param {boolean} [o.statefulReconnect] enables withStatefulReconnect()
   * @param {object} [o.server]         another server handle than the suite's (anything with
   *                                    `url(path)`, e.g. a proxy in front of it)
   * @param {object} [o.httpClient]     the client's HttpClient (withUrl's `httpClient` option),
   *                                    e.g. one that records negotiate answers
   */
  async build(o = {}) {
    const server = o.server ?? this.getServer();
    const httpOptions = { transport: TRANSPORTS[this.variant.transport] };
    if (o.token !== undefined) httpOptions.accessTokenFactory = () => o.token;
    if (o.skipNegotiation) httpOptions.skipNegotiation = true;
    if (o.httpClient) httpOptions.httpClient = o.httpClient;
    let builder = new HubConnectionBuilder()
      .withUrl(server.url(o.hub ?? "/hub"), httpOptions)
      .configureLogging(clientLogLevel);
    const protocol = await hubProtocol(this.variant.protocol);
    if (protocol) builder = builder.withHubProtocol(protocol);
    if (o.serverTimeoutMs !== undefined) builder = builder.withServerTimeout(o.serverTimeoutMs);
    if (o.keepAliveMs !== undefined) builder = builder.withKeepAliveInterval(o.keepAliveMs);
    if (o.reconnectDelays) builder = builder.withAutomaticReconnect(o.reconnectDelays);
    if (o.statefulReconnect) builder = builder.withStatefulReconnect();
    const conn = builder.build();
    const closed = deferred();
    conn.events = [];
    conn.closed = closed.promise;
    conn.onclose((error) => {
      conn.events.push({ type: "close", error });
      closed.resolve(error);
    });
    conn.onreconnecting((error) => conn.events.push({ type: "reconnecting", error }));
    conn.onreconnected((id) => conn.events.push({ type: "reconnected", id }));
    this.connections.push(conn);
    return conn;
  }

  /**
   * build() + start(), bounded to 10 s, then checks that the connection really runs the
   * variant's transport and protocol. `handlers` maps client method names to callbacks.
   */
  async connect(o = {}, handlers = {}) {
    const conn = await this.build(o);
    for (const [name, fn] of Object.entries(handlers)) conn.on(name, fn);
    await withTimeout(conn.start(), 10_000, `start() of a ${this.variant.name} connection to ${o.hub ?? "/hub"}`);
    assertVariant(conn, this.variant);
    return conn;
  }

  /** Stops every connection built so far (errors ignored), bounded per connection. */
  async stopAll() {
    const all = this.connections.splice(0);
    await Promise.all(
      all.map((conn) => withTimeout(conn.stop(), 5_000, "stop()").catch(() => undefined)),
    );
  }
}

const TRANSPORT_CLASSES = {
  WebSockets: "WebSocketTransport",
  ServerSentEvents: "ServerSentEventsTransport",
  LongPolling: "LongPollingTransport",
};

/**
 * Fails unless a started connection uses the variant's transport and hub protocol (reads the
 * client's internals: `HubConnection.connection.transport` and `HubConnection._protocol`).
 */
export function assertVariant(conn, variant) {
  const transport = conn.connection?.transport?.constructor?.name;
  const protocol = conn._protocol?.name;
  if (transport !== TRANSPORT_CLASSES[variant.transport] || protocol !== variant.protocol) {
    throw new Error(`expected a ${variant.name} connection, got transport ${transport} with protocol ${protocol}`);
  }
}

/**
 * Collects the argument lists of every call of client method `name` on `conn`.
 * `waitFor(n)` resolves once n calls arrived.
 */
export function recorder(conn, name) {
  const calls = [];
  const waiters = [];
  conn.on(name, (...args) => {
    calls.push(args);
    for (const w of waiters.slice()) {
      if (calls.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(calls.slice(0, w.n));
      }
    }
  });
  return {
    calls,
    waitFor(n, ms = 5_000) {
      if (calls.length >= n) return Promise.resolve(calls.slice(0, n));
      const d = deferred();
      waiters.push({ n, resolve: d.resolve });
      return withTimeout(d.promise, ms, `${n} call(s) of client method ${name} (got ${calls.length})`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Raw WebSocket client (for wire-level assertions the official client hides)
// ---------------------------------------------------------------------------------------------

export const RS = "\x1e";

/**
 * Opens a raw WebSocket. Resolves once open, or rejects with `error.statusCode` when the server
 * refused the upgrade. Text frames are also split into JSON records (`records`), so tests can wait
 * for a hub message with `waitRecord(predicate)` regardless of how the server batched frames.
 */
export function rawWebSocket(url, { headers = {} } = {}) {
  return withTimeout(
    new Promise((resolveOpen, rejectOpen) => {
      const ws = new WebSocket(url, { headers });
      const frames = [];
      const records = [];
      const consumed = new Set();
      let waiters = [];
      const closed = deferred();
      let isClosed = false;
      const wake = () => {
        const pending = waiters;
        waiters = [];
        for (const w of pending) w();
      };
      ws.on("message", (data) => {
        const frame = { binary: typeof data !== "string", data };
        frames.push(frame);
        if (!frame.binary) {
          for (const text of data.split(RS).slice(0, -1)) {
            try {
              records.push(JSON.parse(text));
            } catch {
              records.push({ unparsable: text });
            }
          }
        }
        wake();
      });
      ws.on("unexpected-response", (req, res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => {
          const error = new Error(`upgrade refused with HTTP ${res.statusCode}: ${body}`);
          error.statusCode = res.statusCode;
          error.body = body;
          rejectOpen(error);
        });
        req.destroy();
      });
      ws.on("error", (error) => rejectOpen(error));
      ws.on("close", (code, reason) => {
        isClosed = true;
        closed.resolve({ code, reason: String(reason) });
        wake();
      });
      ws.on("open", () => {
        resolveOpen({
          ws,
          frames,
          records,
          /** Resolves to the close {code, reason}. */
          closed: closed.promise,
          send: (data) => ws.send(data),
          /** Resolves to frame number `index` (0-based) once it arrived. */
          async frame(index, ms = 5_000) {
            await waitFor(() => frames.length > index, ms, `frame #${index} on ${url}`);
            return frames[index];
          },
          /**
           * Resolves to the first not-yet-returned JSON record matching `predicate`, waiting up
           * to `ms`. Fails early if the socket closes first.
           */
          async waitRecord(predicate, ms = 5_000, what = "a matching hub message") {
            let found;
            await waitFor(
              () => {
                const i = records.findIndex((r, i) => !consumed.has(i) && predicate(r));
                if (i >= 0) {
                  consumed.add(i);
                  found = records[i];
                  return true;
                }
                if (isClosed) throw new Error(`socket closed before ${what}; records: ${JSON.stringify(records)}`);
                return false;
              },
              ms,
              `${what} (records so far: ${JSON.stringify(records).slice(0, 500)})`,
            );
            return found;
          },
          close: () => ws.terminate(),
        });
      });

      function waitFor(check, ms, what) {
        return withTimeout(
          new Promise((resolve, reject) => {
            const attempt = () => {
              try {
                if (check()) return resolve();
              } catch (error) {
                return reject(error);
              }
              waiters.push(attempt);
            };
            attempt();
          }),
          ms,
          what,
        );
      }
    }),
    10_000,
    `raw WebSocket ${url}`,
  );
}

/**
 * Opens a raw JSON hub connection over WebSockets: negotiate v1, upgrade with the connection
 * token, send the handshake and wait for the first frame. Returns the raw socket, the negotiate
 * body and the first frame (which must begin with the handshake response).
 */
export async function rawHubConnection(server, { hub = "/hub", headers = {}, query = "" } = {}) {
  const negotiate = await fetch(server.url(`${hub}/negotiate?negotiateVersion=1${query}`), {
    method: "POST",
    headers,
  });
  if (negotiate.status !== 200) throw new Error(`negotiate returned ${negotiate.status}`);
  const body = await negotiate.json();
  const socket = await rawWebSocket(server.wsUrl(`${hub}?id=${body.connectionToken}${query}`), { headers });
  socket.send(`{"protocol":"json","version":1}${RS}`);
  const first = await socket.frame(0);
  return { socket, negotiate: body, handshake: first };
}

/** Sends a JSON Invocation on a raw socket and resolves to its Completion record. */
export async function rawInvoke(socket, invocationId, target, args, ms = 5_000) {
  socket.send(JSON.stringify({ type: 1, invocationId, target, arguments: args }) + RS);
  return socket.waitRecord(
    (r) => r.type === 3 && r.invocationId === invocationId,
    ms,
    `the Completion of ${target} (invocationId ${invocationId})`,
  );
}
