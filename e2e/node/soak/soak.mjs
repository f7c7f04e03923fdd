// The chaos soak: N real `dispatch serve` nodes on one PostgreSQL database, events crossing them
// on Redis (through a proxy this script can cut) or on PostgreSQL's LISTEN/NOTIFY, official
// @microsoft/signalr clients subscribed on every node over WebSockets, Server-Sent Events and
// Long Polling, a steady seeded load of recommendations, auto-assignments, racing manual
// assignments, unassignments and time off through every node — and, overlapping it, faults drawn
// from the seed: SIGKILL and restart, SIGSTOP for seconds, Redis cut or restarted, the nodes'
// PostgreSQL sessions terminated, the relay of the soak's events (the holder of their outbox
// shard) killed right after a burst of commits.
//
// At the end, from the database and from what every client recorded (Jepsen's way), it checks:
//   * no contractor booked twice at overlapping times, no job with two live assignments;
//   * every committed assignment produced exactly one JobAssigned on each channel it belongs to;
//   * a subscriber on a node that lived through the whole run received each event of its
//     channel committed after it subscribed exactly once, in commit order;
//   * a subscriber whose node died reconnected (the official client's automatic reconnect) and,
//     after it last resubscribed, missed nothing and got nothing twice or out of order;
//   * every request got an answer or a connection error within its timeout (no hang), none was
//     a 500, and every 2xx change is in the database.
// It prints what it did and ends with `violations: N`; it exits 0 only when N is 0 and every
// fault kind asked for was injected at least once.
//
//   node soak/soak.mjs [--nodes 3] [--seconds 60] [--seed N] [--backplane redis|postgres]
//                      [--faults kill,stop,redis-cut,redis-restart,pg-terminate,relay-kill]
//                      [--self-check]
//
// --self-check proves the checker can fail: before judging it removes one event a witness
// subscriber heard, repeats one another heard, and invents a 201 assignment the database never
// saw; the run passes only if exactly those three are reported.
//
// Needs DISPATCH_TEST_POSTGRES_URL (a database it may CREATE DATABASE from), and for the Redis
// backplane the redis-server binary (it runs its own instance, so restarting it disturbs
// nobody). DISPATCH_BIN picks the binary (default: the workspace's debug build).

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, openSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { cpus, tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { HttpTransportType, HubConnectionBuilder, HubConnectionState, LogLevel } from "@microsoft/signalr";
import { freePort } from "../../api/lib/service.mjs";
import { contractorBody } from "../lib/dispatch.mjs";
import { waitUntil } from "../lib/harness.mjs";

// ----- arguments -----
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const NODES = Number(arg("nodes", "3"));
const SECONDS = Number(arg("seconds", "60"));
const SEED = Number(arg("seed", String(Date.now() % 1_000_000)));
const BACKPLANE = arg("backplane", "redis");
/** Plants three faults in the records before judging and passes only if exactly those are found. */
const SELF_CHECK = process.argv.includes("--self-check");
const ALL_FAULTS = ["kill", "stop", "redis-cut", "redis-restart", "pg-terminate", "relay-kill"];
const FAULTS = arg("faults", BACKPLANE === "redis" ? ALL_FAULTS.join(",") : ALL_FAULTS.filter((f) => !f.startsWith("redis")).join(","))
  .split(",")
  .filter(Boolean);
const IN_CI = process.env.CI === "true";
const HERE = dirname(fileURLToPath(import.meta.url));
const DISPATCH_BIN = (() => {
  const configured = process.env.DISPATCH_BIN || "../../../target/debug/dispatch";
  return isAbsolute(configured) ? configured : resolve(HERE, configured);
})();
const SECRET = "soak-secret";
/** A request without an answer after this long is a hang (a violation). */
const REQUEST_TIMEOUT_MS = 20_000;
/** How long the end may wait for the system to settle and every event to arrive. */
const SETTLE_MS = 60_000;

for (const f of FAULTS) {
  if (!ALL_FAULTS.includes(f)) {
    console.error(`unknown fault kind ${f} (known: ${ALL_FAULTS.join(", ")})`);
    process.exit(2);
  }
}
if (BACKPLANE !== "redis" && BACKPLANE !== "postgres") {
  console.error("--backplane is redis or postgres");
  process.exit(2);
}
const ADMIN_URL = process.env.DISPATCH_TEST_POSTGRES_URL;
if (!ADMIN_URL) {
  const message = "DISPATCH_TEST_POSTGRES_URL is not set: the soak needs PostgreSQL";
  if (IN_CI) {
    console.error(message);
    process.exit(1);
  }
  console.warn(`\n*** SKIPPING the soak: ${message} ***\n`);
  process.exit(0);
}

// ----- seeded randomness (mulberry32) -----
let rngState = SEED >>> 0 || 1;
function random() {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (a, b) => a + random() * (b - a);
const pick = (xs) => xs[Math.floor(random() * xs.length)];

// ----- bookkeeping -----
const violations = [];
const violate = (what) => {
  violations.push(what);
  console.log(`VIOLATION: ${what}`);
};
const ops = new Map();
const count = (kind, outcome) => {
  const key = `${kind} ${outcome}`;
  ops.set(key, (ops.get(key) ?? 0) + 1);
};
const faults = new Map(FAULTS.map((f) => [f, { injected: 0, skipped: 0 }]));
const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const log = (line) => console.log(`[${stamp()}] ${line}`);

// ----- PostgreSQL -----
const database = `soak_${SEED}_${process.pid}`;
const dbUrl = (() => {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
})();
const psql = (url, sql) => execFileSync("psql", [url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], { encoding: "utf8" }).trim();

// ----- processes -----
const dir = mkdtempSync(join(tmpdir(), "dispatch-soak-"));
/** Our own redis-server on a free port (restartable without disturbing anybody). */
class Redis {
  constructor(port) {
    this.port = port;
    this.child = null;
  }
  async start() {
    this.child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    await waitUntil(() => canConnect(this.port), 10_000, "redis-server to listen");
  }
  async restart() {
    this.child?.kill("SIGKILL");
    await new Promise((r) => (this.child.exitCode !== null ? r() : this.child.once("exit", r)));
    await sleep(between(200, 1500));
    await this.start();
  }
  stop() {
    this.child?.kill("SIGKILL");
  }
}

/** A TCP proxy that can be cut: while down it resets every open connection and refuses new ones. */
async function outageProxy(targetPort) {
  const open = new Set();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(targetPort, "127.0.0.1");
    const pair = { client, upstream };
    open.add(pair);
    const close = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: server.address().port,
    cut() {
      down = true;
      for (const { client, upstream } of open) {
        client.resetAndDestroy?.() ?? client.destroy();
        upstream.destroy();
      }
      open.clear();
    },
    restore() {
      down = false;
    },
    close: () => server.close(),
  };
}

function canConnect(port) {
  return new Promise((r) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      r(true);
    });
    socket.once("error", () => r(false));
  });
}


/** One `dispatch serve` node on a fixed port (a restart comes back on the same address). */
class DispatchNode {
  constructor(index, port, env) {
    this.index = index;
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.env = env;
    this.child = null;
    this.stopped = false;
    this.log = join(dir, `node-${index}.log`);
    /** Ever killed or stopped: its subscribers are not held to "lived through the run". */
    this.faulted = false;
  }
  async start() {
    const out = openSync(this.log, "a");
    this.child = spawn(DISPATCH_BIN, ["serve", "--addr", `127.0.0.1:${this.port}`], { env: this.env, stdio: ["ignore", out, out] });
    this.stopped = false;
    await waitUntil(async () => {
      try {
        return (await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(2000) })).ok;
      } catch {
        return false;
      }
    }, 30_000, `node ${this.index} ready`);
  }
  get alive() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }
  async kill() {
    const child = this.child;
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", r)));
  }
  /** `/readyz`'s relay facts: `{relay, relayShards}` (role and the outbox shards it relays). */
  async readiness() {
    try {
      return await (await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(2000) })).json();
    } catch {
      return {};
    }
  }
  async relayRole() {
    return (await this.readiness()).relay ?? null;
  }
}

/** The outbox shard of a region's events: 32-bit FNV-1a of its id modulo 8 (`outbox_shard`). */
function outboxShard(region) {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(region, "utf8")) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash % 8;
}

// ----- HTTP with outcomes -----
/** A request to `node`: `{status, body}`, or `{status: 0}` on a connection error. */
async function call(kind, node, method, path, token, body) {
  const started = Date.now();
  try {
    const response = await fetch(`${node.base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    count(kind, String(response.status));
    if (response.status === 500) violate(`${kind}: 500 from node ${node.index} ${method} ${path}: ${text.slice(0, 200)}`);
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: response.status, body: parsed };
  } catch (error) {
    if (error.name === "TimeoutError" || error.name === "AbortError") {
      count(kind, "hang");
      violate(`${kind}: no answer from node ${node.index} within ${REQUEST_TIMEOUT_MS} ms (${method} ${path}, after ${Date.now() - started} ms)`);
    } else {
      count(kind, "connection error");
    }
    return { status: 0, body: null };
  }
}

// ----- subscribers -----
const TRANSPORTS = [
  ["ws", HttpTransportType.WebSockets],
  ["ws", HttpTransportType.WebSockets],
  ["sse", HttpTransportType.ServerSentEvents],
  ["lp", HttpTransportType.LongPolling],
];

/** An official client on one node, subscribed to one channel, recording what it hears. */
class Subscriber {
  constructor(node, channel, token, [transportName, transport], name) {
    this.node = node;
    this.channel = channel;
    this.name = name;
    this.transportName = transportName;
    /** [{assignmentId, at}] in arrival order. */
    this.received = [];
    /** Times (ms) each subscription succeeded: the first, then one per reconnection. */
    this.subscribedAt = [];
    this.disconnects = 0;
    this.closed = false;
    this.connection = new HubConnectionBuilder()
      .withUrl(`${node.base}/hub/v1`, { transport, accessTokenFactory: () => token })
      .withAutomaticReconnect({ nextRetryDelayInMilliseconds: () => 500 })
      .configureLogging(LogLevel.None)
      .build();
    this.connection.on("JobAssigned", (event) => this.received.push({ assignmentId: event.assignmentId, at: Date.now() }));
    this.connection.onreconnecting(() => {
      this.disconnects += 1;
    });
    this.connection.onreconnected(() => void this.subscribe());
    this.connection.onclose(() => {
      if (!this.closed) void this.restart();
    });
  }
  async start() {
    await this.connection.start();
    await this.subscribe();
  }
  async subscribe() {
    try {
      await this.connection.invoke("Subscribe", this.channel);
      this.subscribedAt.push(Date.now());
    } catch {
      // The connection dropped again meanwhile; its reconnect subscribes again.
    }
  }
  /** After automatic reconnect gave up (the official client stops after its retries). */
  async restart() {
    this.disconnects += 1;
    while (!this.closed) {
      await sleep(500);
      try {
        if (this.connection.state === HubConnectionState.Disconnected) await this.start();
        return;
      } catch {
        // not back yet
      }
    }
  }
  get connected() {
    return this.connection.state === HubConnectionState.Connected;
  }
  async stop() {
    this.closed = true;
    await this.connection.stop().catch(() => {});
  }
}

// ----- the run -----
const hoursFromNow = (h) => new Date(Math.floor((Date.now() + h * 3_600_000) / 3_600_000) * 3_600_000);
const isoZ = (d) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

async function main() {
  console.log(
    `soak: seed ${SEED}, ${NODES} nodes, ${SECONDS} s, backplane ${BACKPLANE}, faults ${FAULTS.join(",")}; ` +
      `${cpus().length} cores; binary ${DISPATCH_BIN}; re-run with --seed ${SEED}`,
  );
  psql(ADMIN_URL, `CREATE DATABASE ${database}`);
  let redis = null;
  let proxy = null;
  const nodes = [];
  const subscribers = [];
  try {
    let backplaneUrl = dbUrl;
    if (BACKPLANE === "redis") {
      redis = new Redis(await freePort());
      await redis.start();
      proxy = await outageProxy(redis.port);
      backplaneUrl = `redis://127.0.0.1:${proxy.port}`;
    }
    const env = {
      ...process.env,
      DISPATCH_DATABASE_URL: dbUrl,
      DISPATCH_BACKPLANE_URL: backplaneUrl,
      DISPATCH_JWT_SECRET: SECRET,
      RUST_LOG: process.env.RUST_LOG || "warn",
    };
    const token = (...args) => execFileSync(DISPATCH_BIN, ["token", ...args], { env }).toString().trim();
    for (let i = 0; i < NODES; i++) nodes.push(new DispatchNode(i, await freePort(), env));
    // The last node starts first and takes the relay: node 0 (never faulted) is not the relay
    // at first, so the relay can be killed without losing the run's witness.
    await nodes[NODES - 1].start();
    await waitUntil(async () => (await nodes[NODES - 1].relayRole()) === "leader", 20_000, "the first node to take the relay");
    await Promise.all(nodes.slice(0, -1).map((n) => n.start()));
    log(`nodes up on ports ${nodes.map((n) => n.port).join(", ")}`);

    // --- data: two regions of contractors working around the clock
    const admin = token("--role", "admin", "--sub", "soak-admin");
    const regions = ["soak-a", "soak-b"];
    const contractors = [];
    for (const region of regions) {
      const made = await call("setup", nodes[0], "POST", "/regions", admin, { id: region, name: region, timeZone: "UTC" });
      if (made.status !== 201) throw new Error(`region: ${JSON.stringify(made)}`);
      for (let i = 0; i < 6; i++) {
        const c = await call("setup", nodes[0], "POST", "/contractors", admin, contractorBody(region, `${region} ${i}`, 37.77 + i * 0.01, -122.42, 3));
        if (c.status !== 201) throw new Error(`contractor: ${JSON.stringify(c)}`);
        contractors.push({ id: c.body.id, region });
      }
    }

    // --- subscribers: every region and two contractors per region on every node, mixed transports
    let t = 0;
    for (const node of nodes) {
      for (const region of regions) {
        const dispatcher = token("--role", "dispatcher", "--region", region, "--sub", `soak-sub-${node.index}-${region}`);
        subscribers.push(new Subscriber(node, `/dispatch/${region}`, dispatcher, TRANSPORTS[t++ % TRANSPORTS.length], `node${node.index}:${region}`));
      }
      for (const c of contractors.filter((_, i) => i % 3 === 0)) {
        subscribers.push(new Subscriber(node, `/contractor/${c.id}`, admin, TRANSPORTS[t++ % TRANSPORTS.length], `node${node.index}:contractor-${c.id.slice(0, 8)}`));
      }
    }
    await Promise.all(subscribers.map((s) => s.start()));
    log(`${subscribers.length} subscribers connected (${TRANSPORTS.map(([n]) => n).join("/")} in turn)`);

    // --- load
    const ledger = { assignments: new Map(), unassigned: new Set(), timeOff: [], recommendations: [] };
    const end = Date.now() + SECONDS * 1000;
    const workers = Array.from({ length: 6 }, (_, w) => ({
      dispatchers: Object.fromEntries(regions.map((r) => [r, token("--role", "dispatcher", "--region", r, "--sub", `soak-worker-${w}-${r}`)])),
    }));
    const randomNode = () => pick(nodes);
    // A week of hourly slots: enough room that racing, not a full calendar, is what refuses.
    const slotStart = () => hoursFromNow(2 + Math.floor(random() * 168));

    async function newJob(worker, region, start) {
      const made = await call("create job", randomNode(), "POST", "/jobs", worker.dispatchers[region], {
        region,
        title: `soak job ${Math.floor(random() * 1e9)}`,
        location: { lat: 37.77 + random() * 0.05, lon: -122.42 },
        requiredSkills: [{ name: "plumbing", minLevel: 1 }],
        priority: pick(["low", "normal", "high", "emergency"]),
        windowStartUtc: isoZ(start),
        windowEndUtc: isoZ(new Date(start.getTime() + 4 * 3_600_000)),
        durationMinutes: 60,
      });
      return made.status === 201 ? made.body.id : null;
    }

    const record = (kind, answer) => {
      if (answer.status === 201 && answer.body?.id) ledger.assignments.set(answer.body.id, { ...answer.body, kind });
    };

    const operations = {
      async recommend(worker) {
        const region = pick(regions);
        const job = await newJob(worker, region, slotStart());
        if (!job) return;
        const auto = random() < 0.5;
        const asked = await call(auto ? "recommend+auto" : "recommend", randomNode(), "POST", "/recommendations", worker.dispatchers[region], {
          jobId: job,
          limit: 3,
          autoAssign: auto,
        });
        if (asked.status === 202) ledger.recommendations.push(asked.body.requestId);
      },
      async raceForContractor(worker) {
        // Several jobs, one contractor, one slot, through different nodes at once: one wins.
        const c = pick(contractors);
        const start = slotStart();
        const jobs = (await Promise.all([0, 1, 2, 3].map(() => newJob(worker, c.region, start)))).filter(Boolean);
        const answers = await Promise.all(
          jobs.map((jobId) =>
            call("race contractor", randomNode(), "POST", "/assignments", worker.dispatchers[c.region], {
              jobId, contractorId: c.id, startUtc: isoZ(start), endUtc: isoZ(new Date(start.getTime() + 3_600_000)),
            }),
          ),
        );
        for (const a of answers) record("manual", a);
      },
      async raceForJob(worker) {
        // One job, several contractors, through different nodes at once: one wins.
        const region = pick(regions);
        const start = slotStart();
        const job = await newJob(worker, region, start);
        if (!job) return;
        const mine = contractors.filter((c) => c.region === region);
        const answers = await Promise.all(
          [0, 1, 2].map(() =>
            call("race job", randomNode(), "POST", "/assignments", worker.dispatchers[region], {
              jobId: job, contractorId: pick(mine).id, startUtc: isoZ(start), endUtc: isoZ(new Date(start.getTime() + 3_600_000)),
            }),
          ),
        );
        for (const a of answers) record("manual", a);
      },
      async unassign(worker) {
        const live = [...ledger.assignments.values()].filter((a) => !ledger.unassigned.has(a.id));
        if (live.length === 0) return;
        const a = pick(live);
        const region = contractors.find((c) => c.id === a.contractorId)?.region;
        const answer = await call("unassign", randomNode(), "DELETE", `/assignments/${a.id}`, worker.dispatchers[region]);
        if (answer.status === 204) ledger.unassigned.add(a.id);
      },
      async timeOff() {
        const c = pick(contractors);
        const start = slotStart();
        const body = { startUtc: isoZ(start), endUtc: isoZ(new Date(start.getTime() + 1_800_000)), reason: "soak" };
        const answer = await call("time off", randomNode(), "POST", `/contractors/${c.id}/time-off`, admin, body);
        if (answer.status === 201) ledger.timeOff.push({ contractorId: c.id, ...body });
      },
    };
    const weights = [["recommend", 4], ["raceForContractor", 2], ["raceForJob", 2], ["unassign", 2], ["timeOff", 1]];
    const total = weights.reduce((s, [, w]) => s + w, 0);
    const chooseOp = () => {
      let x = random() * total;
      for (const [name, w] of weights) if ((x -= w) < 0) return name;
      return "recommend";
    };
    const load = workers.map(async (worker) => {
      while (Date.now() < end) {
        await operations[chooseOp()](worker);
        await sleep(between(20, 120));
      }
    });

    // --- faults: each kind asked for once early (in a seeded order), then more at random,
    // overlapping: a fault does not wait for the previous one to heal.
    const pending = [];
    const healing = [];
    const witness = nodes[0];
    const victims = () => nodes.filter((n) => n !== witness && n.alive && !n.stopped);
    const order = [...FAULTS].sort(() => random() - 0.5);
    // The relay kill goes first: later the relay may sit on the witness node, which is spared.
    if (order.includes("relay-kill")) order.splice(order.indexOf("relay-kill"), 1), order.unshift("relay-kill");
    let redisDown = false;
    const inject = {
      async kill() {
        const n = pick(victims());
        if (!n) return false;
        n.faulted = true;
        log(`fault: SIGKILL node ${n.index}`);
        await n.kill();
        healing.push((async () => {
          await sleep(between(500, 3000));
          log(`heal: restart node ${n.index}`);
          await n.start();
        })());
        return true;
      },
      async stop() {
        const n = pick(victims());
        if (!n) return false;
        n.faulted = true;
        n.stopped = true;
        const ms = between(1000, 5000);
        log(`fault: SIGSTOP node ${n.index} for ${(ms / 1000).toFixed(1)} s`);
        n.child.kill("SIGSTOP");
        healing.push((async () => {
          await sleep(ms);
          n.child.kill("SIGCONT");
          n.stopped = false;
          log(`heal: SIGCONT node ${n.index}`);
        })());
        return true;
      },
      async "redis-cut"() {
        if (!proxy || redisDown) return false;
        const ms = between(5000, Math.min(30_000, Math.max(6000, SECONDS * 1000 * 0.25)));
        redisDown = true;
        log(`fault: Redis cut for ${(ms / 1000).toFixed(1)} s`);
        proxy.cut();
        healing.push((async () => {
          await sleep(ms);
          proxy.restore();
          redisDown = false;
          log("heal: Redis reachable again");
        })());
        return true;
      },
      async "redis-restart"() {
        if (!redis || redisDown) return false;
        log("fault: Redis restarted (its state is gone)");
        await redis.restart();
        return true;
      },
      async "pg-terminate"() {
        const n = psql(ADMIN_URL, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${database}' AND pid <> pg_backend_pid()`);
        log(`fault: terminated ${n} PostgreSQL sessions of the nodes`);
        return true;
      },
      async "relay-kill"() {
        // The node relaying the outbox shard of a soak region (not the witness).
        const shards = new Set(regions.map(outboxShard));
        let relay = null;
        for (const n of victims()) if (((await n.readiness()).relayShards ?? []).some((x) => shards.has(x))) relay = n;
        if (!relay) return false;
        // A burst of commits, then the kill while the relay is sending them.
        const worker = workers[0];
        void operations.raceForContractor(worker);
        void operations.raceForJob(worker);
        await sleep(between(5, 60));
        relay.faulted = true;
        log(`fault: SIGKILL the relay, node ${relay.index}, in the middle of a burst`);
        await relay.kill();
        healing.push((async () => {
          await sleep(between(500, 3000));
          log(`heal: restart node ${relay.index}`);
          await relay.start();
        })());
        return true;
      },
    };
    const faulting = (async () => {
      await sleep(2000);
      while (Date.now() < end - 3000) {
        const kind = order.length ? order.shift() : pick(FAULTS);
        const done = await inject[kind]().catch((error) => {
          log(`fault ${kind} failed: ${error.message}`);
          return false;
        });
        faults.get(kind)[done ? "injected" : "skipped"] += 1;
        // A skipped early fault is tried again later.
        if (!done && faults.get(kind).injected === 0) order.push(kind);
        pending.push(done);
        await sleep(between(1500, 5000));
      }
    })();

    await Promise.all(load);
    await faulting;
    log("load and faults over; healing");
    await Promise.all(healing);
    proxy?.restore();
    for (const n of nodes) {
      if (n.stopped) n.child.kill("SIGCONT");
      if (!n.alive) await n.start();
    }

    // --- settle: the outbox drained, every subscriber connected
    await waitUntil(() => psql(dbUrl, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") === "0", SETTLE_MS, "the outbox to drain").catch((e) => violate(e.message));
    await waitUntil(() => subscribers.every((s) => s.connected), SETTLE_MS, "every subscriber to be connected again").catch((e) => violate(e.message));

    // --- what the database says
    const overlaps = psql(
      dbUrl,
      `SELECT count(*) FROM assignments a JOIN assignments b ON a.contractor_id = b.contractor_id AND a.id < b.id
       WHERE a.status = 'live' AND b.status = 'live' AND a.start_utc < b.end_utc AND b.start_utc < a.end_utc`,
    );
    if (overlaps !== "0") violate(`${overlaps} pairs of overlapping live assignments of one contractor`);
    const doubled = psql(dbUrl, "SELECT count(*) FROM (SELECT job_id FROM assignments WHERE status = 'live' GROUP BY job_id HAVING count(*) > 1) j");
    if (doubled !== "0") violate(`${doubled} jobs with two live assignments`);
    const rows = JSON.parse(
      psql(dbUrl, "SELECT coalesce(json_agg(json_build_object('id', a.id, 'jobId', a.job_id, 'contractorId', a.contractor_id, 'status', a.status, 'region', j.region_id, 'startUtc', a.start_utc, 'endUtc', a.end_utc)), '[]') FROM assignments a JOIN jobs j ON j.id = a.job_id"),
    );
    const events = JSON.parse(
      psql(dbUrl, "SELECT coalesce(json_agg(json_build_object('sequence', sequence, 'channels', channels, 'assignmentId', payload->>'assignmentId', 'createdAt', (extract(epoch from created_at) * 1000)::bigint) ORDER BY sequence), '[]') FROM outbox WHERE target = 'JobAssigned'"),
    );
    const byAssignment = new Map();
    for (const e of events) {
      const list = byAssignment.get(e.assignmentId) ?? [];
      list.push(e);
      byAssignment.set(e.assignmentId, list);
    }
    for (const a of rows) {
      const channels = (byAssignment.get(a.id) ?? []).flatMap((e) => e.channels);
      for (const channel of [`/dispatch/${a.region}`, `/contractor/${a.contractorId}`]) {
        const n = channels.filter((c) => c === channel).length;
        if (n !== 1) violate(`assignment ${a.id}: ${n} JobAssigned on ${channel} (expected exactly 1)`);
      }
    }
    const planted = [];
    if (SELF_CHECK) {
      const invented = "00000000-0000-4000-8000-00000000dead";
      ledger.assignments.set(invented, { id: invented, contractorId: contractors[0].id, jobId: invented, kind: "planted" });
      planted.push(`assignment ${invented} was answered 201 but is not in the database`);
    }
    // Every accepted recommendation was computed (none left pending by a node that died) and
    // announced exactly once.
    await waitUntil(() => psql(dbUrl, "SELECT count(*) FROM recommendations WHERE status = 'pending'") === "0", SETTLE_MS, "every accepted recommendation to be computed").catch(
      (e) => violate(`${e.message}: ${psql(dbUrl, "SELECT count(*) FROM recommendations WHERE status = 'pending'")} still pending`),
    );
    const announced = new Map(
      JSON.parse(psql(dbUrl, "SELECT coalesce(json_agg(json_build_array(r, n)), '[]') FROM (SELECT payload->>'requestId' AS r, count(*) AS n FROM outbox WHERE target = 'RecommendationReady' GROUP BY 1) x")),
    );
    const statuses = new Map(JSON.parse(psql(dbUrl, "SELECT coalesce(json_agg(json_build_array(request_id, status)), '[]') FROM recommendations")));
    for (const id of ledger.recommendations) {
      if (!statuses.has(id)) violate(`recommendation ${id} was accepted (202) but is not in the database`);
      else if (statuses.get(id) === "ready" && announced.get(id) !== 1) violate(`recommendation ${id}: ${announced.get(id) ?? 0} RecommendationReady events (expected exactly 1)`);
    }
    const inDb = new Map(rows.map((a) => [a.id, a]));
    for (const a of ledger.assignments.values()) {
      const row = inDb.get(a.id);
      if (!row) violate(`assignment ${a.id} was answered 201 but is not in the database`);
      else if (row.contractorId !== a.contractorId || row.jobId !== a.jobId) violate(`assignment ${a.id} differs in the database`);
    }
    for (const id of ledger.unassigned) {
      if (inDb.get(id)?.status !== "unassigned") violate(`assignment ${id} was unassigned (204) but is ${inDb.get(id)?.status} in the database`);
    }
    const offByContractor = new Map();
    for (const off of ledger.timeOff) {
      if (!offByContractor.has(off.contractorId)) {
        const c = await call("check", nodes[0], "GET", `/contractors/${off.contractorId}`, admin);
        offByContractor.set(off.contractorId, c.body?.timeOff ?? []);
      }
      if (!offByContractor.get(off.contractorId).some((t) => Date.parse(t.startUtc) === Date.parse(off.startUtc))) {
        violate(`time off ${off.startUtc} of ${off.contractorId} was answered 201 but is not in the database`);
      }
    }

    // --- what the subscribers heard (waiting, bounded, for the last events to arrive)
    const seqOf = new Map(events.map((e) => [e.assignmentId, e]));
    const expectedFor = (s, since) => events.filter((e) => e.channels.includes(s.channel) && e.createdAt > since);
    const judge = (s) => {
      const strict = !s.node.faulted && s.disconnects === 0;
      const since = strict ? s.subscribedAt[0] : s.subscribedAt.at(-1);
      const problems = [];
      if (!s.node.faulted && s.disconnects > 0) problems.push(`lost its connection ${s.disconnects} time(s) on a node that was never faulted`);
      const heard = s.received.filter((r) => r.at >= since);
      const seqs = heard.map((r) => seqOf.get(r.assignmentId)?.sequence ?? -1);
      if (seqs.includes(-1)) problems.push("heard a JobAssigned that is not in the outbox");
      for (let i = 1; i < seqs.length; i++) {
        if (seqs[i] === seqs[i - 1]) problems.push(`heard sequence ${seqs[i]} twice`);
        else if (seqs[i] < seqs[i - 1]) problems.push(`heard sequence ${seqs[i]} after ${seqs[i - 1]} (out of commit order)`);
      }
      const got = new Set(seqs);
      const missing = expectedFor(s, since).filter((e) => !got.has(e.sequence));
      if (missing.length) problems.push(`missed ${missing.length} of ${expectedFor(s, since).length} events committed after it ${strict ? "subscribed" : "last resubscribed"} (first: sequence ${missing[0].sequence})`);
      return { strict, problems, checked: expectedFor(s, since).length };
    };
    await waitUntil(() => subscribers.every((s) => judge(s).problems.every((p) => !p.startsWith("missed"))), 20_000, "every subscriber to hear its events").catch(() => {});
    if (SELF_CHECK) {
      const witnesses = subscribers.filter((s) => !s.node.faulted && s.disconnects === 0 && s.received.length > 2);
      if (witnesses.length < 2) throw new Error("--self-check needs two witness subscribers that heard events");
      const [a, b] = witnesses;
      a.received.splice(Math.floor(a.received.length / 2), 1);
      planted.push(`subscriber ${a.name} (`);
      b.received.push({ ...b.received.at(-1), at: Date.now() });
      planted.push(`subscriber ${b.name} (`);
    }
    let strictCount = 0;
    let checked = 0;
    for (const s of subscribers) {
      const verdict = judge(s);
      if (verdict.strict) strictCount += 1;
      checked += verdict.checked;
      for (const p of verdict.problems) violate(`subscriber ${s.name} (${s.transportName}, ${s.channel}): ${p}`);
      if (s.node.faulted && s.subscribedAt.length < 2 && s.disconnects > 0) violate(`subscriber ${s.name} (${s.transportName}) never resubscribed after losing its node`);
    }

    // --- report
    console.log("\noperations (kind status: count):");
    for (const [key, n] of [...ops].sort()) console.log(`  ${key}: ${n}`);
    console.log("faults (kind: injected / skipped):");
    for (const [kind, f] of faults) console.log(`  ${kind}: ${f.injected} / ${f.skipped}`);
    console.log(`recommendations: ${ledger.recommendations.length} accepted, ${[...statuses.values()].filter((v) => v === "ready").length} ready, ${[...statuses.values()].filter((v) => v === "failed").length} failed`);
    console.log(
      `database: ${rows.length} assignments (${rows.filter((r) => r.status === "live").length} live), ${events.length} JobAssigned events; ` +
        `subscribers: ${subscribers.length} (${strictCount} on nodes that lived through the run, ${subscribers.length - strictCount} reconnected), ` +
        `${checked} deliveries checked, ${subscribers.reduce((n, s) => n + s.disconnects, 0)} disconnects`,
    );
    const missingKinds = [...faults].filter(([, f]) => f.injected === 0).map(([k]) => k);
    if (missingKinds.length) console.log(`could not inject: ${missingKinds.join(", ")}`);
    if (SELF_CHECK) {
      const found = planted.filter((p) => violations.some((v) => v.startsWith(p)));
      const others = violations.filter((v) => !planted.some((p) => v.startsWith(p)));
      console.log(`self-check: ${found.length} of ${planted.length} planted faults found; ${others.length} other violations`);
      console.log(`violations: ${others.length}`);
      return found.length === planted.length && others.length === 0 && missingKinds.length === 0 ? 0 : 1;
    }
    console.log(`violations: ${violations.length}`);
    if (violations.length) for (const n of nodes) console.log(`--- node ${n.index} log tail ---\n${readFileSync(n.log, "utf8").split("\n").slice(-15).join("\n")}`);
    return violations.length === 0 && missingKinds.length === 0 ? 0 : 1;
  } finally {
    await Promise.all(subscribers.map((s) => s.stop()));
    for (const n of nodes) {
      if (n.child && n.alive) {
        n.child.kill("SIGCONT");
        n.child.kill("SIGKILL");
      }
    }
    proxy?.close();
    redis?.stop();
    await sleep(300);
    try {
      psql(ADMIN_URL, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } catch (error) {
      console.warn(`could not drop ${database}: ${error.message}`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exit(await main());
