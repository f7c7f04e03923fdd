// A plan of the day end to end with the official @microsoft/signalr client: a dispatcher asks
// for a plan of the region's backlog, reads its progress until it is ready, applies it, and
// hears one JobAssigned per applied assignment on the region's channel (each contractor on its
// own channel hears only its own); applying again answers the same and sends nothing more.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { HttpTransportType } from "@microsoft/signalr";
import { WAIT, contractorBody, hours, startDispatch } from "../lib/dispatch.mjs";

let service;

before(async () => {
  service = await startDispatch();
});

after(() => service?.stop());

test("an applied plan's events reach the official client, one per assignment", async () => {
  const { token, api, connect } = service;
  const admin = token("--role", "admin");
  assert.equal((await api("POST", "/api/v1/regions", admin, { id: "west", name: "West", timeZone: "America/Los_Angeles" })).status, 201);
  const contractors = [];
  for (const [name, lat, lon] of [["Ana", 37.77, -122.42], ["Bo", 37.80, -122.30]]) {
    contractors.push((await api("POST", "/api/v1/contractors", admin, contractorBody("west", name, lat, lon, 4))).body);
  }
  const dispatcher = token("--role", "dispatcher", "--region", "west", "--sub", "dee");
  for (let n = 0; n < 8; n++) {
    const job = await api("POST", "/api/v1/jobs", dispatcher, {
      region: "west", title: `Job ${n}`, location: { lat: 37.74 + n * 0.01, lon: -122.40 + n * 0.01 },
      requiredSkills: [{ name: "plumbing", minLevel: 2 }], priority: n % 3 === 0 ? "emergency" : "normal",
      windowStartUtc: hours(2 + n), windowEndUtc: hours(10 + n), durationMinutes: 60,
    });
    assert.equal(job.status, 201);
  }
  const west = await connect(dispatcher);
  await west.connection.invoke("Subscribe", "/dispatch/west");
  const hubs = [];
  for (const contractor of contractors) {
    const hub = await connect(token("--role", "contractor", "--contractor", contractor.id), HttpTransportType.ServerSentEvents);
    await hub.connection.invoke("Subscribe", `/contractor/${contractor.id}`);
    hubs.push(hub);
  }

  const asked = await api("POST", "/api/v1/plans", dispatcher, {
    region: "west", from: hours(0), to: hours(48), jobIds: null, timeLimitSeconds: 1, seed: 1,
  });
  assert.equal(asked.status, 202);
  assert.equal(asked.body.status, "running");
  let plan;
  const deadline = Date.now() + 4 * WAIT;
  for (;;) {
    plan = (await api("GET", `/api/v1/plans/${asked.body.planId}`, dispatcher)).body;
    if (plan.status !== "running") break;
    if (Date.now() > deadline) throw new Error("the plan stayed running");
    await sleep(50);
  }
  assert.equal(plan.status, "ready");
  assert.deepEqual(Object.keys(plan.kpis).sort(), ["scheduled", "scheduledByPriority", "travelKm", "travelMinutes", "utilisation"]);
  assert.equal(plan.kpis.scheduledByPriority.emergency, 3, "every emergency is planned");

  const applied = await api("POST", `/api/v1/plans/${plan.planId}/apply`, dispatcher);
  assert.equal(applied.status, 200);
  assert.equal(applied.body.applied.length, plan.kpis.scheduled);
  const assignmentIds = new Set(applied.body.applied.map((entry) => entry.assignmentId));
  await west.until((events) => events.filter((e) => e.type === "JobAssigned").length >= assignmentIds.size, "every JobAssigned");

  // Applying again answers the same and books nothing; a later booking's event is the next one.
  const again = await api("POST", `/api/v1/plans/${plan.planId}/apply`, dispatcher);
  assert.deepEqual(again.body, applied.body);
  const later = await api("POST", "/api/v1/jobs", dispatcher, {
    region: "west", title: "Later", location: { lat: 37.77, lon: -122.42 },
    requiredSkills: [{ name: "plumbing", minLevel: 2 }], priority: "low",
    windowStartUtc: hours(100), windowEndUtc: hours(106), durationMinutes: 60,
  });
  const sentinel = await api("POST", "/api/v1/assignments", dispatcher, {
    jobId: later.body.id, contractorId: contractors[0].id, startUtc: hours(101), endUtc: hours(102),
  });
  assert.equal(sentinel.status, 201);
  await west.until((events) => events.some((e) => e.assignmentId === sentinel.body.id), "the sentinel's JobAssigned");
  const heard = west.events.filter((e) => e.type === "JobAssigned");
  assert.equal(heard.length, assignmentIds.size + 1, "one event per applied assignment, then the sentinel");
  assert.deepEqual(new Set(heard.slice(0, -1).map((e) => e.assignmentId)), assignmentIds);
  for (const event of heard.slice(0, -1)) assert.equal(event.source, "auto");

  // Each contractor heard exactly its own bookings of the plan.
  for (const [i, contractor] of contractors.entries()) {
    const own = plan.routes.find((route) => route.contractorId === contractor.id)?.visits.length ?? 0;
    const expected = own + (i === 0 ? 1 : 0);
    await hubs[i].until((events) => events.length >= expected, `${contractor.name}'s events`);
    assert.equal(hubs[i].events.length, expected);
    for (const event of hubs[i].events) assert.equal(event.contractorId, contractor.id);
  }
  for (const hub of [west, ...hubs]) await hub.connection.stop();
});
