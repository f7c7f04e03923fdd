// An integrator's first program, written against the TypeScript types that openapi-typescript
// generated from the served document (../generated/api.d.ts, made at test time) and the
// openapi-fetch client: every path, parameter, body and answer below is checked by tsc against
// the document. test/typescript-client.test.mjs generates the types, compiles this file and
// runs it against the real service.

import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "../generated/api.js";

type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

/** What the flow saw, for the test to assert on. */
export interface FlowResult {
  region: Schemas["Region"];
  contractor: Schemas["Contractor"];
  job: Schemas["Job"];
  accepted: Schemas["RecommendationAccepted"];
  recommendation: Schemas["RecommendationRecord"];
  assignment: Schemas["Assignment"];
  audit: Schemas["AuditRecord"];
  plan: { status: Schemas["PlanStatus"]; kpis: Schemas["Kpis"] | null | undefined; applied: number; conflicts: number };
  invalid: { status: number; contentType: string | null; problem: Problem };
  missing: { status: number; problem: Problem };
  unauthenticated: { status: number; problem: Problem };
  /** Every answer's operation and status, each one checked against the document. */
  answers: string[];
}

/** The document as served, to check each answer against (status documented, media type). */
type Document = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };

class FlowError extends Error {}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new FlowError(message);
}

/** Fails any answer whose status the document does not list for its operation, or whose media type differs. */
function conformance(document: Document, answers: string[]): Middleware {
  return {
    onResponse({ request, response, schemaPath }) {
      const method = request.method.toLowerCase();
      const operation = document.paths[schemaPath]?.[method];
      check(operation, `${method} ${schemaPath} is not in the document`);
      const declared = operation.responses[String(response.status)];
      check(declared, `${method} ${schemaPath} answered ${response.status}, which the document does not list`);
      const media = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
      const expected = Object.keys(declared.content ?? {});
      check(
        expected.length === 0 ? media === "" : expected.includes(media),
        `${method} ${schemaPath} → ${response.status}: content-type ${media}, the document says ${expected.join(", ") || "none"}`,
      );
      answers.push(`${request.method} ${schemaPath} ${response.status}`);
      return undefined;
    },
  };
}

const isoIn = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");

export async function runFlow(base: string, tokens: { admin: string; dispatcher: string }): Promise<FlowResult> {
  const document = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as Document;
  const answers: string[] = [];
  const client = (token?: string) => {
    const made = createClient<paths>({
      baseUrl: base,
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    made.use(conformance(document, answers));
    return made;
  };
  const admin = client(tokens.admin);
  const dispatcher = client(tokens.dispatcher);

  const region = await admin.POST("/api/v1/regions", {
    params: { header: { "Idempotency-Key": "region-west-1" } },
    body: { id: "west", name: "West", timeZone: "America/Los_Angeles" },
  });
  check(region.data && region.response.status === 201, `createRegion: ${region.response.status} ${JSON.stringify(region.error)}`);

  const everyDay: Schemas["Weekday"][] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const contractor = await admin.POST("/api/v1/contractors", {
    body: {
      name: "Ana Ruiz",
      region: "west",
      skills: [{ name: "plumbing", level: 4 }],
      location: { lat: 37.77, lon: -122.42 },
      workingHours: everyDay.map((day) => ({ day, start: "00:00", end: "23:59" })),
      rating: 4.6,
      maxJobsPerDay: 6,
      active: true,
    },
  });
  check(contractor.data && contractor.response.status === 201, `createContractor: ${contractor.response.status} ${JSON.stringify(contractor.error)}`);

  const newJob: Schemas["NewJob"] = {
    region: "west",
    title: "Leaking pipe under sink",
    location: { lat: 37.76, lon: -122.41 },
    requiredSkills: [{ name: "plumbing", minLevel: 2 }],
    priority: "high",
    windowStartUtc: isoIn(2),
    windowEndUtc: isoIn(8),
    durationMinutes: 90,
  };
  const job = await dispatcher.POST("/api/v1/jobs", { body: newJob });
  check(job.data && job.response.status === 201, `createJob: ${job.response.status} ${JSON.stringify(job.error)}`);

  const accepted = await dispatcher.POST("/api/v1/recommendations", { body: { jobId: job.data.id, limit: 5 } });
  check(accepted.data && accepted.response.status === 202, `askRecommendation: ${accepted.response.status} ${JSON.stringify(accepted.error)}`);

  // Computed in the background: read it until it is no longer pending (a subscriber would hear
  // RecommendationReady instead), within a deadline.
  const deadline = Date.now() + 15_000;
  let recommendation: Schemas["RecommendationRecord"] | undefined;
  for (;;) {
    const read = await dispatcher.GET("/api/v1/recommendations/{id}", { params: { path: { id: accepted.data.requestId } } });
    check(read.data, `getRecommendation: ${read.response.status} ${JSON.stringify(read.error)}`);
    if (read.data.status !== "pending") {
      recommendation = read.data;
      break;
    }
    check(Date.now() < deadline, "the recommendation was still pending after 15 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  check(recommendation.status === "ready", `recommendation ${recommendation.status}: ${recommendation.error}`);
  const best = recommendation.candidates[0];
  check(best, "no candidate");

  const assignment = await dispatcher.POST("/api/v1/assignments", {
    body: {
      jobId: job.data.id,
      contractorId: best.contractorId,
      startUtc: best.startUtc,
      endUtc: best.endUtc,
      requestId: recommendation.requestId,
    },
  });
  check(assignment.data && assignment.response.status === 201, `createAssignment: ${assignment.response.status} ${JSON.stringify(assignment.error)}`);

  const audit = await dispatcher.GET("/api/v1/audit/{id}", { params: { path: { id: assignment.data.auditId } } });
  check(audit.data, `getAuditRecord: ${audit.response.status} ${JSON.stringify(audit.error)}`);

  // A plan of the next two days: asked for, read until it is no longer running, applied.
  const planAccepted = await dispatcher.POST("/api/v1/plans", {
    body: { region: "west", from: isoIn(0), to: isoIn(48), jobIds: null, timeLimitSeconds: 1, seed: 1 },
  });
  check(planAccepted.data && planAccepted.response.status === 202, `askPlan: ${planAccepted.response.status} ${JSON.stringify(planAccepted.error)}`);
  const planDeadline = Date.now() + 30_000;
  let plan: Schemas["PlanRecord"] | undefined;
  for (;;) {
    const read = await dispatcher.GET("/api/v1/plans/{id}", { params: { path: { id: planAccepted.data.planId } } });
    check(read.data, `getPlan: ${read.response.status} ${JSON.stringify(read.error)}`);
    if (read.data.status !== "running") {
      plan = read.data;
      break;
    }
    check(Date.now() < planDeadline, "the plan was still running after 30 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  check(plan.status === "ready", `plan ${plan.status}: ${plan.error}`);
  const applied = await dispatcher.POST("/api/v1/plans/{id}/apply", { params: { path: { id: plan.planId } } });
  check(applied.data && applied.response.status === 200, `applyPlan: ${applied.response.status} ${JSON.stringify(applied.error)}`);
  const planConflicts: Schemas["PlanConflict"][] = applied.data.conflicts;

  // A bad request: the typed problem names the field.
  const invalid = await dispatcher.POST("/api/v1/jobs", { body: { ...newJob, durationMinutes: 0 } });
  check(invalid.error && !invalid.data, "an invalid job was accepted");
  const missing = await dispatcher.GET("/api/v1/jobs/{id}", { params: { path: { id: "3f2b9c1e-0000-4000-8000-000000000000" } } });
  check(missing.error, "a missing job was found");
  const anonymous = await client().GET("/api/v1/regions");
  check(anonymous.error, "no token, yet an answer");

  return {
    region: region.data,
    contractor: contractor.data,
    job: job.data,
    accepted: accepted.data,
    recommendation,
    assignment: assignment.data,
    audit: audit.data,
    plan: { status: plan.status, kpis: plan.kpis, applied: applied.data.applied.length, conflicts: planConflicts.length },
    invalid: { status: invalid.response.status, contentType: invalid.response.headers.get("content-type"), problem: invalid.error },
    missing: { status: missing.response.status, problem: missing.error },
    unauthenticated: { status: anonymous.response.status, problem: anonymous.error },
    answers,
  };
}
