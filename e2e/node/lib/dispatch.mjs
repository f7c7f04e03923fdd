// The real `dispatch` binary for the Dispatch suites: started by e2e/api's launcher (a fresh
// SQLite file, a free port, tokens from `dispatch token`), a JSON API helper, and official
// @microsoft/signalr connections that record every event they hear. DISPATCH_BIN names the
// binary (default: the workspace's debug build).

import { setTimeout as sleep } from "node:timers/promises";
import { HttpTransportType, HubConnectionBuilder, LogLevel } from "@microsoft/signalr";
import { startDispatch as startService } from "../../api/lib/service.mjs";
import { withTimeout } from "./harness.mjs";

/** How long any one wait of these suites may take. */
export const WAIT = 15_000;

/** Starts `dispatch serve` on a fresh database (e2e/api's launcher); resolves once ready. */
export async function startDispatch() {
  const { base, token, stop } = await startService();

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

  return { base, token, api, connect, stop };
}

/** An ISO instant `h` hours from now, to the second. */
export const hours = (h) => new Date(Date.now() + h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

// Two touching shifts a day: no slot falls into a gap at midnight, whatever the time of the run.
const everyDay = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].flatMap((day) => [
  { day, start: "00:00", end: "12:00" },
  { day, start: "12:00", end: "00:00" },
]);

/** A contractor of `region` working around the clock, with plumbing at `level`. */
export function contractorBody(region, name, lat, lon, level) {
  return {
    name, region, skills: [{ name: "plumbing", level }], location: { lat, lon },
    workingHours: everyDay, rating: 4.6, maxJobsPerDay: 6, active: true,
  };
}
