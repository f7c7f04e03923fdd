// The Dispatch service end to end with the official @microsoft/signalr client: the `dispatch`
// binary on a fresh SQLite file; a dispatcher creates a job, asks for recommendations, hears
// RecommendationReady, fetches, assigns; JobAssigned reaches the region's dispatchers and that
// contractor only, once each; the audit record shows the decision. Tokens come from
// `dispatch token` (the CLI under test too).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { HttpTransportType } from "@microsoft/signalr";
import { WAIT, contractorBody, hours, startDispatch } from "../lib/dispatch.mjs";

let service;
let token;
let api;
let connect;

before(async () => {
  service = await startDispatch();
  ({ token, api, connect } = service);
});

after(() => service?.stop());

test("the dispatcher flow over the official client", async () => {
  const admin = token("--role", "admin");
  assert.equal((await api("POST", "/api/v1/regions", admin, { id: "west", name: "West", timeZone: "America/Los_Angeles" })).status, 201);
  assert.equal((await api("POST", "/api/v1/regions", admin, { id: "east", name: "East", timeZone: "America/New_York" })).status, 201);
  const ana = (await api("POST", "/api/v1/contractors", admin, contractorBody("west", "Ana Ruiz", 37.77, -122.42, 4))).body;
  const bo = (await api("POST", "/api/v1/contractors", admin, contractorBody("west", "Bo Chen", 37.85, -122.27, 3))).body;

  const dispatcherToken = token("--role", "dispatcher", "--region", "west", "--sub", "dee");
  const job = await api("POST", "/api/v1/jobs", dispatcherToken, {
    region: "west", title: "Leaking pipe under sink", location: { lat: 37.76, lon: -122.41 },
    requiredSkills: [{ name: "plumbing", minLevel: 2 }], priority: "high",
    windowStartUtc: hours(2), windowEndUtc: hours(8), durationMinutes: 90,
  });
  assert.equal(job.status, 201);

  // The dispatcher over WebSockets, the contractors and another region over SSE and long polling.
  const west = await connect(dispatcherToken);
  const anaHub = await connect(token("--role", "contractor", "--contractor", ana.id), HttpTransportType.ServerSentEvents);
  const boHub = await connect(token("--role", "contractor", "--contractor", bo.id), HttpTransportType.LongPolling);
  const east = await connect(token("--role", "dispatcher", "--region", "east"));
  await west.connection.invoke("Subscribe", "/dispatch/west");
  await anaHub.connection.invoke("Subscribe", `/contractor/${ana.id}`);
  await boHub.connection.invoke("Subscribe", `/contractor/${bo.id}`);
  await east.connection.invoke("Subscribe", "/dispatch/east");
  await assert.rejects(east.connection.invoke("Subscribe", "/dispatch/west"), /Forbidden/);
  await assert.rejects(anaHub.connection.invoke("Subscribe", `/contractor/${bo.id}`), /Forbidden/);

  const asked = await api("POST", "/api/v1/recommendations", dispatcherToken, { jobId: job.body.id, limit: 5 });
  assert.equal(asked.status, 202);
  const ready = await west.next("RecommendationReady");
  assert.deepEqual(Object.keys(ready).sort(), ["configVersion", "generatedAt", "jobId", "region", "requestId", "type"]);
  assert.equal(ready.requestId, asked.body.requestId);

  const result = await api("GET", `/api/v1/recommendations/${ready.requestId}`, dispatcherToken);
  assert.equal(result.body.status, "ready");
  const top = result.body.candidates[0];
  assert.equal(top.contractorId, ana.id);

  const assigned = await api("POST", "/api/v1/assignments", dispatcherToken, {
    jobId: job.body.id, contractorId: ana.id, startUtc: top.startUtc, endUtc: top.endUtc, requestId: ready.requestId,
  });
  assert.equal(assigned.status, 201);
  const toWest = await west.next("JobAssigned");
  const toAna = await anaHub.next("JobAssigned");
  assert.deepEqual(toAna, toWest);
  assert.deepEqual(Object.keys(toWest).sort(), ["assignmentId", "auditId", "contractorId", "endUtc", "jobId", "region", "source", "startUtc", "type"]);
  assert.equal(toWest.assignmentId, assigned.body.id);

  await sleep(1_000);
  assert.equal(west.events.filter((e) => e.type === "JobAssigned").length, 1);
  assert.equal(anaHub.events.length, 1);
  assert.equal(boHub.events.length, 0);
  assert.equal(east.events.length, 0);

  const audit = await api("GET", `/api/v1/audit/${toWest.auditId}`, dispatcherToken);
  assert.equal(audit.body.decision.contractorId, ana.id);
  assert.equal(audit.body.decision.rank, 1);
  assert.equal(audit.body.decision.decidedBy, "dee");

  // Auto-assign: the service books the top candidate itself; JobAssigned says "auto".
  const second = await api("POST", "/api/v1/jobs", dispatcherToken, {
    region: "west", title: "No hot water", location: { lat: 37.84, lon: -122.28 },
    requiredSkills: [{ name: "plumbing", minLevel: 2 }], priority: "normal",
    windowStartUtc: hours(26), windowEndUtc: hours(34), durationMinutes: 60,
  });
  assert.equal(second.status, 201);
  const auto = await api("POST", "/api/v1/recommendations", dispatcherToken, { jobId: second.body.id, autoAssign: true });
  assert.equal(auto.status, 202);
  const deadline = Date.now() + WAIT;
  let autoAssigned;
  while (!autoAssigned && Date.now() < deadline) {
    autoAssigned = west.events.find((e) => e.type === "JobAssigned" && e.jobId === second.body.id);
    if (!autoAssigned) await sleep(50);
  }
  assert.ok(autoAssigned, "JobAssigned for the auto-assigned job");
  assert.equal(autoAssigned.source, "auto");
  const autoAudit = await api("GET", `/api/v1/audit/${autoAssigned.auditId}`, dispatcherToken);
  assert.equal(autoAudit.body.decision.rank, 1);
  assert.equal(autoAudit.body.decision.source, "auto");

  for (const hub of [west, anaHub, boHub, east]) await hub.connection.stop();
});
