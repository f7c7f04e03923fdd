// The real `dispatch` binary for the Dispatch suites: started on a fresh SQLite file and a free
// port, tokens from `dispatch token` (the CLI under test too), a JSON API helper, and official
// @microsoft/signalr connections that record every event they hear.
//
// Environment: DISPATCH_BIN, path of the binary (relative paths are taken from e2e/node);
// default ../../target/debug/dispatch.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { HttpTransportType, HubConnectionBuilder, LogLevel } from "@microsoft/signalr";
import { NODE_DIR, withTimeout } from "./harness.mjs";

const DISPATCH_BIN = (() => {
  const configured = process.env.DISPATCH_BIN || "../../target/debug/dispatch";
  return isAbsolute(configured) ? configured : resolve(NODE_DIR, configured);
})();
const SECRET = "node-e2e-secret";
/** How long any one wait of these suites may take. */
export const WAIT = 15_000;

function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/** Starts `dispatch serve` on a fresh database; resolves once `/readyz` answers. */
export async function startDispatch() {
  const dir = mkdtempSync(join(tmpdir(), "dispatch-e2e-"));
  const env = {
    ...process.env,
    DISPATCH_DATABASE_URL: `sqlite://${join(dir, "dispatch.db")}`,
    DISPATCH_JWT_SECRET: SECRET,
    RUST_LOG: process.env.RUST_LOG || "warn",
  };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(DISPATCH_BIN, ["serve", "--addr", `127.0.0.1:${port}`], { env, stdio: "ignore" });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error("dispatch did not start");
    await sleep(100);
  }

  /** A token minted by `dispatch token`. */
  const token = (...args) => execFileSync(DISPATCH_BIN, ["token", ...args], { env }).toString().trim();

  /** A JSON request; `{status, body}`. */
  async function api(method, path, tokenValue, body) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(tokenValue ? { authorization: `Bearer ${tokenValue}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** An official client connected to the hub, recording every event; `next(type)` waits. */
  async function connect(tokenValue, transport = HttpTransportType.WebSockets) {
    const connection = new HubConnectionBuilder()
      .withUrl(`${base}/hub/v1`, { transport, accessTokenFactory: () => tokenValue })
      .configureLogging(LogLevel.None)
      .build();
    const events = [];
    const waiters = [];
    for (const type of ["RecommendationReady", "JobAssigned"]) {
      connection.on(type, (payload) => {
        events.push(payload);
        for (const waiter of waiters.splice(0)) waiter();
      });
    }
    await withTimeout(connection.start(), WAIT, "hub start");
    /** Resolves once `done(events)` holds (bounded by WAIT). */
    const until = async (done, what) => {
      const deadline = Date.now() + WAIT;
      while (!done(events)) {
        if (Date.now() > deadline) throw new Error(`not within ${WAIT} ms: ${what}`);
        await withTimeout(new Promise((r) => waiters.push(r)), WAIT, what).catch(() => {});
      }
    };
    const next = async (type) => {
      await until((all) => all.some((event) => event.type === type), type);
      return events.find((event) => event.type === type);
    };
    return { connection, events, next, until };
  }

  const stop = () => {
    server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  return { base, token, api, connect, stop };
}

/** An ISO instant `h` hours from now, to the second. */
export const hours = (h) => new Date(Date.now() + h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

const everyDay = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => ({ day, start: "00:00", end: "23:59" }));

/** A contractor of `region` working around the clock, with plumbing at `level`. */
export function contractorBody(region, name, lat, lon, level) {
  return {
    name, region, skills: [{ name: "plumbing", level }], location: { lat, lon },
    workingHours: everyDay, rating: 4.6, maxJobsPerDay: 6, active: true,
  };
}
