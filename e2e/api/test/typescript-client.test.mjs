// A TypeScript client generated from the served document drives the real service: openapi-typescript
// turns /api/v1/openapi.json into types (generated/api.d.ts, git-ignored, never edited), tsc
// compiles ts/flow.ts against them (a path, field or answer the document lacks fails here), and
// the compiled flow runs with openapi-fetch: region, contractor, job, recommendation, its result,
// assignment, audit record, a plan applied, and typed problems for a bad request, a missing job and no token.
// Every answer's status and media type is checked against the document as it arrives.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";
import { API_DIR, startDispatch } from "../lib/service.mjs";

let service;

before(async () => {
  service = await startDispatch();
});

after(async () => {
  await service?.stop();
});

test("the generated TypeScript client (openapi-typescript + openapi-fetch) runs the dispatcher flow", async () => {
  const generated = join(API_DIR, "generated");
  rmSync(generated, { recursive: true, force: true });
  rmSync(join(API_DIR, "build"), { recursive: true, force: true });
  mkdirSync(generated, { recursive: true });
  const ast = await openapiTS(new URL(`${service.base}/api/v1/openapi.json`));
  writeFileSync(join(generated, "api.d.ts"), astToString(ast));

  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", join(API_DIR, "tsconfig.json")], { cwd: API_DIR, stdio: "pipe" });
  } catch (error) {
    assert.fail(`tsc refused ts/flow.ts against the generated types:\n${error.stdout}${error.stderr}`);
  }

  const { runFlow } = await import(pathToFileURL(join(API_DIR, "build", "ts", "flow.js")).href);
  const result = await runFlow(service.base, {
    admin: service.token("--role", "admin", "--sub", "ts-admin"),
    dispatcher: service.token("--role", "dispatcher", "--region", "west", "--sub", "ts-dispatcher"),
  });

  assert.deepEqual(result.region, { id: "west", name: "West", timeZone: "America/Los_Angeles" });
  assert.equal(result.job.status, "open");
  assert.equal(result.accepted.status, "pending");
  assert.equal(result.recommendation.status, "ready");
  assert.equal(result.recommendation.candidates[0].contractorId, result.contractor.id);
  assert.equal(result.recommendation.candidates[0].rank, 1);
  assert.equal(result.assignment.contractorId, result.contractor.id);
  assert.equal(result.assignment.source, "manual");
  assert.equal(result.assignment.auditId, result.recommendation.auditId);
  assert.equal(result.audit.auditId, result.assignment.auditId);
  assert.equal(result.audit.decision.contractorId, result.contractor.id);
  assert.equal(result.audit.decision.rank, 1);
  assert.equal(result.audit.decision.decidedBy, "ts-dispatcher");
  assert.equal(result.plan.status, "ready");
  assert.equal(result.plan.applied, result.plan.kpis.scheduled);
  assert.equal(result.plan.conflicts, 0);

  assert.equal(result.invalid.status, 422);
  assert.match(result.invalid.contentType, /^application\/problem\+json/);
  assert.equal(result.invalid.problem.type, "urn:dispatch:problem:validation");
  assert.equal(result.invalid.problem.field, "durationMinutes");
  assert.equal(result.missing.status, 404);
  assert.equal(result.missing.problem.type, "urn:dispatch:problem:not-found");
  assert.equal(result.unauthenticated.status, 401);
  assert.equal(result.unauthenticated.problem.type, "urn:dispatch:problem:unauthenticated");
  assert.ok(result.answers.length >= 10, result.answers.join("\n"));
});
