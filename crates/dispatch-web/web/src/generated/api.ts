// Generated from the Rust types by `cargo run -p dispatch-server --features ts --example export-types`.
// Do not edit: change the Rust type and export again (scripts/test web checks this file is fresh).

/**
 * A planned visit that was booked.
 */
export type AppliedVisit = { 
/**
 * The job.
 */
jobId: JobId, 
/**
 * Its new assignment.
 */
assignmentId: AssignmentId, 
/**
 * The assignment's audit record, which names the plan.
 */
auditId: AuditId, };

/**
 * A contractor booked for a job at a time.
 */
export type Assignment = { 
/**
 * Id.
 */
id: AssignmentId, 
/**
 * The job.
 */
jobId: JobId, 
/**
 * The contractor.
 */
contractorId: ContractorId, 
/**
 * On-site start.
 */
startUtc: string, 
/**
 * On-site end.
 */
endUtc: string, 
/**
 * Auto or manual.
 */
source: AssignmentSource, 
/**
 * The audit record behind the decision.
 */
auditId: AuditId, };

/**
 * Identifies an assignment (a booking of a contractor for a job).
 */
export type AssignmentId = string;

/**
 * `POST /api/v1/assignments`.
 */
export type AssignmentRequest = { 
/**
 * The job.
 */
jobId: JobId, 
/**
 * Who takes it.
 */
contractorId: ContractorId, 
/**
 * On-site start.
 */
startUtc: string, 
/**
 * On-site end.
 */
endUtc: string, 
/**
 * The recommendation the choice was made from, if any.
 */
requestId?: RequestId, };

/**
 * Who made an assignment.
 */
export type AssignmentSource = "auto" | "manual";

/**
 * Identifies an audit record of a recommendation or of a manual decision.
 */
export type AuditId = string;

/**
 * The audit record of a recommendation or of a manual decision (SPEC §4 "Audit record").
 */
export type AuditRecord = { 
/**
 * Id.
 */
auditId: AuditId, 
/**
 * The recommendation request behind it; `None` for a manual assignment without one.
 */
requestId: RequestId | null, 
/**
 * The plan whose application made the decision; absent for any other decision.
 */
planId?: PlanId, 
/**
 * The job's region.
 */
region: RegionId, 
/**
 * The job as it was when recommended for (or assigned).
 */
job: Job, 
/**
 * The scoring configuration version in force.
 */
configVersion: number, 
/**
 * Who asked.
 */
requestedBy: string, 
/**
 * When the record was made.
 */
createdAt: string, 
/**
 * Every candidate considered, best first, with breakdown and proposed slot.
 */
candidates: Array<Candidate>, 
/**
 * Every contractor excluded, with the reason.
 */
excluded: Array<Exclusion>, 
/**
 * How many contractors were evaluated.
 */
evaluated: number, 
/**
 * The decision, once one is made.
 */
decision: Decision | null, };

/**
 * Grades of the soft factors, each 0 (worst case) … 100 (best case).
 */
export type Breakdown = { 
/**
 * 100 at 0 minutes, 0 at `travelWorstMinutes` or more.
 */
travelTime: number, 
/**
 * 100 when starting as early as the job allows, 0 at the latest start (window end or
 * horizon).
 */
earliestStart: number, 
/**
 * 100 at exactly the required level, 0 when four levels above it (averaged over skills).
 */
skillFit: number, 
/**
 * 100 for a 5.0 rating, 0 for 0.
 */
rating: number, 
/**
 * 100 with no other job that day, falling linearly to 0 at `maxJobsPerDay` jobs.
 */
workload: number, };

/**
 * A count per priority.
 */
export type ByPriority = { 
/**
 * Emergencies.
 */
emergency: number, 
/**
 * High.
 */
high: number, 
/**
 * Normal.
 */
normal: number, 
/**
 * Low.
 */
low: number, };

/**
 * A ranked contractor with its proposed slot and the explanation of its score.
 */
export type Candidate = { 
/**
 * 1 for the best.
 */
rank: number, 
/**
 * The contractor.
 */
contractorId: ContractorId, 
/**
 * Weighted score, 0–100 (two decimals): `Σ weight·grade / Σ weight` over the breakdown.
 */
score: number, 
/**
 * Each factor's grade, 0–100 (one decimal).
 */
breakdown: Breakdown, 
/**
 * Proposed on-site start: the earliest feasible.
 */
startUtc: string, 
/**
 * Proposed on-site end (start + duration).
 */
endUtc: string, 
/**
 * The trip to the job for this slot.
 */
travel: Travel, };

/**
 * A contractor (technician) who can be assigned jobs.
 */
export type Contractor = { 
/**
 * Id.
 */
id: ContractorId, 
/**
 * Display name.
 */
name: string, 
/**
 * Region the contractor works in.
 */
region: RegionId, 
/**
 * Skills with levels.
 */
skills: Array<Skill>, 
/**
 * Home base (start and end of each working day).
 */
location: GeoPoint, 
/**
 * Weekly working hours in the region's time zone.
 */
workingHours: Array<WorkingHours>, 
/**
 * Absences.
 */
timeOff: Array<TimeOff>, 
/**
 * Rating 0…5.
 */
rating: number, 
/**
 * Most jobs the contractor takes on one local day.
 */
maxJobsPerDay: number, 
/**
 * Inactive contractors are never recommended.
 */
active: boolean, };

/**
 * Identifies a contractor.
 */
export type ContractorId = string;

/**
 * Which contractor was assigned from an audit record, by whom and at which rank.
 */
export type Decision = { 
/**
 * The contractor assigned.
 */
contractorId: ContractorId, 
/**
 * The assignment made.
 */
assignmentId: AssignmentId, 
/**
 * Who decided (the token's `sub`, or the service for `auto`).
 */
decidedBy: string, 
/**
 * Auto or manual.
 */
source: AssignmentSource, 
/**
 * The contractor's rank among the candidates; `None` when it was not among them.
 */
rank: number | null, 
/**
 * When.
 */
decidedAt: string, };

/**
 * A contractor one can sign in as.
 */
export type DevContractor = { 
/**
 * Id.
 */
id: ContractorId, 
/**
 * Display name.
 */
name: string, 
/**
 * Skills with levels.
 */
skills: Array<Skill>, };

/**
 * Who one can sign in as.
 */
export type DevIdentities = { 
/**
 * Every region, with its contractors.
 */
regions: Array<DevRegion>, };

/**
 * A region one can dispatch, and its contractors one can be.
 */
export type DevRegion = { 
/**
 * The region.
 */
region: Region, 
/**
 * Its contractors (at most 200), by name.
 */
contractors: Array<DevContractor>, };

/**
 * The role of a development token.
 */
export type DevRole = "dispatcher" | "contractor";

/**
 * A development token and what it lets one be.
 */
export type DevToken = { 
/**
 * The bearer token (also the hub's `access_token`).
 */
token: string, 
/**
 * When it expires.
 */
expiresAt: string, 
/**
 * Dispatcher or contractor.
 */
role: DevRole, 
/**
 * The token's subject (recorded as who asked and who decided).
 */
sub: string, 
/**
 * The regions a dispatcher serves.
 */
regions: Array<RegionId>, 
/**
 * The contractor a contractor token is for.
 */
contractorId: ContractorId | null, };

/**
 * `POST /api/v1/dev/token`.
 */
export type DevTokenRequest = { 
/**
 * Dispatcher or contractor.
 */
role: DevRole, 
/**
 * For a dispatcher: the region.
 */
region?: RegionId, 
/**
 * For a contractor: who.
 */
contractorId?: ContractorId, };

/**
 * A contractor failing a hard rule: the first rule's stable code, its facts and a
 * sentence.
 */
export type Exclusion = { contractorId: ContractorId, reason: "inactive" | "wrongRegion" | "missingSkill" | "tooFar" | "noSlot" | "maxJobsPerDay", message: string, region?: string | null, skill?: string, requiredLevel?: number, actualLevel?: number | null, distanceKm?: number, maxKm?: number, cause?: "noWorkingHours" | "busy" | "outsideWindow" | "outsideWorkingHours" | "tooShort" | "overlap" | "travel", maxJobsPerDay?: number, };

/**
 * A point on the earth, in degrees (WGS 84).
 */
export type GeoPoint = { 
/**
 * Latitude, −90…90.
 */
lat: number, 
/**
 * Longitude, −180…180.
 */
lon: number, };

/**
 * A job to be done by one contractor inside a time window.
 */
export type Job = { 
/**
 * Id.
 */
id: JobId, 
/**
 * Region the job is in.
 */
region: RegionId, 
/**
 * Short description.
 */
title: string, 
/**
 * Where the work is.
 */
location: GeoPoint, 
/**
 * Skills needed, each with a minimum level.
 */
requiredSkills: Array<RequiredSkill>, 
/**
 * Urgency.
 */
priority: Priority, 
/**
 * The work may start at this instant at the earliest.
 */
windowStartUtc: string, 
/**
 * The work must be finished by this instant.
 */
windowEndUtc: string, 
/**
 * How long the work takes on site, in minutes.
 */
durationMinutes: number, 
/**
 * Life-cycle state.
 */
status: JobStatus, };

/**
 * A job was assigned.
 */
export type JobAssigned = { 
/**
 * Always `JobAssigned`.
 */
type: "JobAssigned", 
/**
 * The job.
 */
jobId: JobId, 
/**
 * Who takes it.
 */
contractorId: ContractorId, 
/**
 * The assignment.
 */
assignmentId: AssignmentId, 
/**
 * On-site start.
 */
startUtc: string, 
/**
 * On-site end.
 */
endUtc: string, 
/**
 * The job's region.
 */
region: RegionId, 
/**
 * `auto` or `manual`.
 */
source: AssignmentSource, 
/**
 * The audit record behind the decision.
 */
auditId: AuditId, };

/**
 * Identifies a job.
 */
export type JobId = string;

/**
 * Where a job is in its life.
 */
export type JobStatus = "open" | "assigned" | "completed" | "cancelled";

/**
 * A plan's figures.
 */
export type Kpis = { 
/**
 * Jobs planned.
 */
scheduled: number, 
/**
 * Jobs planned per priority.
 */
scheduledByPriority: ByPriority, 
/**
 * Driving the plan adds to the calendars, minutes: the trips into the visits, plus the
 * change of the trip into each booked job a visit now precedes.
 */
travelMinutes: number, 
/**
 * The same in road km (one decimal).
 */
travelKm: number, 
/**
 * Share of the free working time in the period (of contractors who can take a job) that
 * the plan fills with visits and the driving to them, 0…1.
 */
utilisation: number, };

/**
 * Hard limits and the scales of the soft factors.
 */
export type Limits = { 
/**
 * A contractor whose home base is farther than this from the job (estimated road km) is
 * excluded (`tooFar`).
 */
maxTravelKm: number, 
/**
 * Straight-line distance × this = estimated road distance (circuity factor, ≥ 1).
 */
roadFactor: number, 
/**
 * Average driving speed for the straight-line estimate.
 */
averageSpeedKmh: number, 
/**
 * Slots are searched up to this many hours after the job can first start; it is also the
 * "worst case" of the earliest-start factor.
 */
horizonHours: number, 
/**
 * Travel of this many minutes or more grades 0 on the travel factor.
 */
travelWorstMinutes: number, 
/**
 * Proposed start times are multiples of this many minutes (UTC), e.g. 10:05, not 10:03.
 */
slotStepMinutes: number, 
/**
 * At most this many candidates are returned, whatever limit is asked for.
 */
maxCandidates: number, };

/**
 * `POST /api/v1/assignments/{id}/move`.
 */
export type MoveRequest = { 
/**
 * Who takes the job now (the same contractor for a new time).
 */
contractorId: ContractorId, 
/**
 * The new on-site start.
 */
startUtc: string, 
/**
 * The new on-site end.
 */
endUtc: string, };

/**
 * The create input for a contractor (`POST /api/v1/contractors`).
 */
export type NewContractor = { 
/**
 * Display name.
 */
name: string, 
/**
 * Region the contractor works in.
 */
region: RegionId, 
/**
 * Skills with levels.
 */
skills: Array<Skill>, 
/**
 * Home base (start and end of each working day).
 */
location: GeoPoint, 
/**
 * Weekly working hours in the region's time zone.
 */
workingHours: Array<WorkingHours>, 
/**
 * Absences.
 */
timeOff: Array<TimeOff>, 
/**
 * Rating 0…5.
 */
rating: number, 
/**
 * Most jobs the contractor takes on one local day.
 */
maxJobsPerDay: number, 
/**
 * Inactive contractors are never recommended.
 */
active: boolean, };

/**
 * The create input for a job (`POST /api/v1/jobs`).
 */
export type NewJob = { 
/**
 * Region the job is in.
 */
region: RegionId, 
/**
 * Short description.
 */
title: string, 
/**
 * Where the work is.
 */
location: GeoPoint, 
/**
 * Skills needed, each with a minimum level.
 */
requiredSkills: Array<RequiredSkill>, 
/**
 * Urgency.
 */
priority: Priority, 
/**
 * The work may start at this instant at the earliest.
 */
windowStartUtc: string, 
/**
 * The work must be finished by this instant.
 */
windowEndUtc: string, 
/**
 * How long the work takes on site, in minutes (at least 1).
 */
durationMinutes: number, };

/**
 * The body of `PUT /api/v1/config`: a configuration without its version (the store assigns it).
 */
export type NewScoringConfig = { 
/**
 * Soft-factor weights.
 */
weights: Weights, 
/**
 * Hard limits and scales.
 */
limits: Limits, };

/**
 * One page of a list: `{"items":[…],"nextCursor":"…"|null}`.
 */
export type Page<T> = { 
/**
 * The items, in the list's order.
 */
items: Array<T>, 
/**
 * Pass this back to get the next page; `None` on the last page. Opaque and URL-safe.
 */
nextCursor: string | null, };

/**
 * The 202 answer.
 */
export type PlanAccepted = { 
/**
 * Read it with `getPlan`.
 */
planId: PlanId, 
/**
 * Always `running`.
 */
status: PlanStatus, };

/**
 * What `POST /api/v1/plans/{planId}/apply` did: the visits booked and the ones that no longer
 * held.
 */
export type PlanApplication = { 
/**
 * Booked, in the plan's order.
 */
applied: Array<AppliedVisit>, 
/**
 * Not booked: something changed since the plan was made.
 */
conflicts: Array<PlanConflict>, };

/**
 * A planned visit that was not booked, and why.
 */
export type PlanConflict = { 
/**
 * The job.
 */
jobId: JobId, 
/**
 * Why, as a stable code: a hard rule's exclusion code (`timeOff`, `outsideWorkingHours`,
 * …) or a booking conflict (`job-not-open`, `job-taken`, `contractor-busy`, `gone`).
 */
reason: string, 
/**
 * Why, for people.
 */
detail: string, };

/**
 * Identifies a plan of a region's backlog (`POST /api/v1/plans`).
 */
export type PlanId = string;

/**
 * How a plan's search is doing: its best solution so far (the final figures once ended).
 */
export type PlanProgress = { 
/**
 * Search time so far, ms.
 */
elapsedMs: number, 
/**
 * Search iterations so far.
 */
iterations: number, 
/**
 * Jobs placed by the best solution.
 */
scheduled: number, 
/**
 * Driving minutes of the best solution.
 */
travelMinutes: number, };

/**
 * A plan as `GET /api/v1/plans/{planId}` shows it: the request, where its search is, and its
 * result once ready.
 */
export type PlanRecord = { 
/**
 * The plan.
 */
planId: PlanId, 
/**
 * Its region.
 */
region: RegionId, 
/**
 * Where it is.
 */
status: PlanStatus, 
/**
 * The scoring configuration version it was planned with.
 */
configVersion: number, 
/**
 * Start of the planning period.
 */
from: string, 
/**
 * End of the planning period.
 */
to: string, 
/**
 * The jobs asked for; `null`: every open job of the region in the period.
 */
jobIds: Array<JobId> | null, 
/**
 * Whether unstarted automatic bookings in the period were let move (their jobs are
 * planned again with the rest; applying moves each booking in one step).
 */
moveAutomatic: boolean, 
/**
 * The search's time budget, seconds.
 */
timeLimitSeconds: number, 
/**
 * The search's seed.
 */
seed: number, 
/**
 * The token subject who asked.
 */
requestedBy: string, 
/**
 * When it was asked for.
 */
createdAt: string, 
/**
 * The search so far (final once it ended).
 */
progress: PlanProgress, 
/**
 * Per contractor with at least one planned visit, in contractor-id order (empty while
 * running).
 */
routes: Array<PlannedRoute>, 
/**
 * The jobs the plan leaves out, with why (empty while running).
 */
unassigned: Array<Unplanned>, 
/**
 * The plan's figures (`null` while running).
 */
kpis: Kpis | null, 
/**
 * Why it failed, when failed.
 */
error: string | null, 
/**
 * What applying it did, once applied.
 */
application: PlanApplication | null, };

/**
 * `POST /api/v1/plans`.
 */
export type PlanRequest = { 
/**
 * The region whose backlog to plan.
 */
region: string, 
/**
 * Start of the planning period: no visit starts before it (nor before now).
 */
from: string, 
/**
 * End of the planning period (at most 14 days after `from`): every visit ends by it.
 */
to: string, 
/**
 * The jobs to plan, all open jobs of the region; `null` or absent: every open job of the
 * region whose window overlaps the period.
 */
jobIds?: Array<JobId>, 
/**
 * Let unstarted automatic bookings in the period move (default false: every booking
 * stays where it is). Their jobs are planned again with the rest, and applying moves each
 * such booking in one step (never leaving its job unassigned).
 */
moveAutomatic?: boolean, 
/**
 * Search time, 1–300 seconds (default 10).
 */
timeLimitSeconds?: number, 
/**
 * Seed of the search (default 1), 0 … 2^53 − 1: the same seed, data and budget give the
 * same plan.
 */
seed?: number, };

/**
 * Where a plan is. `running` until its search ends, then `ready` (or `failed`); `cancelled`
 * when stopped while running or discarded while ready; `applied` once applied.
 */
export type PlanStatus = "running" | "ready" | "failed" | "cancelled" | "applied";

/**
 * A contractor's planned visits.
 */
export type PlannedRoute = { 
/**
 * The contractor.
 */
contractorId: ContractorId, 
/**
 * In time order.
 */
visits: Array<PlannedVisit>, };

/**
 * One planned visit.
 */
export type PlannedVisit = { 
/**
 * The job.
 */
jobId: JobId, 
/**
 * On-site start.
 */
startUtc: string, 
/**
 * On-site end.
 */
endUtc: string, 
/**
 * Driving minutes into the visit, from the previous place (a visit, a booked job or home).
 */
travelMinutes: number, 
/**
 * Road km of that trip (one decimal).
 */
travelKm: number, };

/**
 * How urgent a job is. Priority orders *jobs* (which to handle first), not contractors; the
 * engine does not score contractors by it (DOMAIN.md, "Priority orders jobs").
 */
export type Priority = "low" | "normal" | "high" | "emergency";

/**
 * An error answer (RFC 9457 problem document).
 */
export type Problem = { 
/**
 * Stable problem type, e.g. `urn:dispatch:problem:validation`.
 */
type: string, 
/**
 * The HTTP status's phrase.
 */
title: string, 
/**
 * The HTTP status.
 */
status: number, 
/**
 * What went wrong, for people.
 */
detail: string, 
/**
 * For validation failures: the JSON path of the field at fault.
 */
field?: string, };

/**
 * The 202 answer.
 */
export type RecommendationAccepted = { 
/**
 * Correlates with `RecommendationReady`.
 */
requestId: RequestId, 
/**
 * The job.
 */
jobId: JobId, 
/**
 * Always `pending`.
 */
status: RecommendationStatus, };

/**
 * Recommendations for a job were computed; clients fetch them over HTTP.
 */
export type RecommendationReady = { 
/**
 * Always `RecommendationReady`.
 */
type: "RecommendationReady", 
/**
 * The job.
 */
jobId: JobId, 
/**
 * The `POST /api/v1/recommendations` call that asked.
 */
requestId: RequestId, 
/**
 * The job's region.
 */
region: RegionId, 
/**
 * Scoring configuration version used.
 */
configVersion: number, 
/**
 * When it was computed.
 */
generatedAt: string, };

/**
 * A recommendation as `GET /api/v1/recommendations/{requestId}` shows it.
 */
export type RecommendationRecord = { 
/**
 * The request.
 */
requestId: RequestId, 
/**
 * The job recommended for.
 */
jobId: JobId, 
/**
 * The job's region.
 */
region: RegionId, 
/**
 * Pending, ready or failed.
 */
status: RecommendationStatus, 
/**
 * How many candidates were asked for.
 */
limit: number, 
/**
 * Whether the top candidate is assigned automatically.
 */
autoAssign: boolean, 
/**
 * Who asked (the token's `sub`).
 */
requestedBy: string, 
/**
 * When it was asked.
 */
requestedAt: string, 
/**
 * The scoring configuration version used, once ready.
 */
configVersion: number | null, 
/**
 * When the engine produced it, once ready.
 */
generatedAt: string | null, 
/**
 * The audit record of the result, once ready.
 */
auditId: AuditId | null, 
/**
 * Candidates in rank order.
 */
candidates: Array<Candidate>, 
/**
 * Excluded contractors with reasons (empty when read with `?excluded=summary`).
 */
excluded: Array<Exclusion>, 
/**
 * How many contractors were excluded for each reason code (`missingSkill`, `tooFar`, …):
 * the counts of `excluded`, also when `?excluded=summary` leaves the list out. Counted
 * when the result is stored; empty while pending.
 */
excludedCounts: Record<string, number>, 
/**
 * Why it failed, when failed.
 */
error: string | null, };

/**
 * `POST /api/v1/recommendations`.
 */
export type RecommendationRequest = { 
/**
 * The job to recommend contractors for.
 */
jobId: JobId, 
/**
 * How many candidates (default 5, at most 200).
 */
limit?: number, 
/**
 * Book the top candidate once computed.
 */
autoAssign: boolean, };

/**
 * Where a recommendation request is.
 */
export type RecommendationStatus = "pending" | "ready" | "failed";

/**
 * A region (territory) with its IANA time zone; also its own create input.
 */
export type Region = { 
/**
 * Slug, e.g. `west`.
 */
id: RegionId, 
/**
 * Display name.
 */
name: string, 
/**
 * IANA zone, e.g. `America/Los_Angeles`; working hours are read in it.
 */
timeZone: string, };

/**
 * Identifies a region: a short slug such as `west` (SPEC §2), not a UUID.
 *
 * Deserializing accepts any string; [`crate::Region::validate`] checks the slug form, so the
 * service can answer 422 naming the field.
 */
export type RegionId = string;

/**
 * Identifies a recommendation request (`POST /api/v1/recommendations` answers with it).
 */
export type RequestId = string;

/**
 * A skill a job requires, with the minimum acceptable level.
 */
export type RequiredSkill = { 
/**
 * Trade name, e.g. `plumbing`.
 */
name: string, 
/**
 * Minimum level, 1…5.
 */
minLevel: number, };

/**
 * A region's schedule over a period.
 */
export type Schedule = { 
/**
 * The region (its time zone is the board's).
 */
region: Region, 
/**
 * Start of the period.
 */
from: string, 
/**
 * End of the period.
 */
to: string, 
/**
 * Every contractor of the region, by name, with its bookings in the period.
 */
contractors: Array<ScheduleRow>, 
/**
 * Open jobs whose window overlaps the period: emergencies first, then by window start.
 */
unassigned: Array<Job>, 
/**
 * True when there are more open jobs than [`MAX_UNASSIGNED`] (the first are listed).
 */
unassignedTruncated: boolean, };

/**
 * One contractor's row: the contractor (its time off cut to the period), when it works and
 * its bookings.
 */
export type ScheduleRow = { 
/**
 * The contractor.
 */
contractor: Contractor, 
/**
 * Its working hours in the period as UTC stretches (sorted, merged, DST-correct): the
 * engine's own "inside working hours", so a board never re-derives it.
 */
working: Array<WorkingStretch>, 
/**
 * Its live bookings overlapping the period, by start.
 */
bookings: Array<ScheduledBooking>, };

/**
 * A booking with its job and the trip into it.
 */
export type ScheduledBooking = { 
/**
 * The assignment.
 */
assignment: Assignment, 
/**
 * Its job.
 */
job: Job, 
/**
 * The drive before it, by the rule recommendations plan with: from the previous job of
 * the same working stretch, else from home.
 */
travel: Travel, };

/**
 * A versioned scoring configuration.
 */
export type ScoringConfig = { 
/**
 * Increases by one on every change; recorded in every recommendation.
 */
version: number, 
/**
 * Soft-factor weights.
 */
weights: Weights, 
/**
 * Hard limits and scales.
 */
limits: Limits, };

/**
 * A skill a contractor has, with a proficiency level 1 (apprentice) … 5 (master).
 */
export type Skill = { 
/**
 * Trade name, e.g. `plumbing`.
 */
name: string, 
/**
 * Level, 1…5.
 */
level: number, };

/**
 * A period a contractor is not available (vacation, sick leave, appointment).
 */
export type TimeOff = { 
/**
 * Start, inclusive.
 */
startUtc: string, 
/**
 * End, exclusive.
 */
endUtc: string, 
/**
 * Free text, e.g. `vacation`.
 */
reason: string, };

/**
 * The trip to the job for a proposed slot.
 */
export type Travel = { 
/**
 * Road distance, km (one decimal).
 */
distanceKm: number, 
/**
 * Driving minutes.
 */
minutes: number, 
/**
 * `estimate` (straight line) or `road`.
 */
source: TravelSource, 
/**
 * Where the trip starts.
 */
from: TravelOrigin, };

/**
 * Where the trip to the job starts.
 */
export type TravelOrigin = "home" | "previousJob";

/**
 * Where a travel figure comes from.
 */
export type TravelSource = "estimate" | "road";

/**
 * A job the plan leaves out.
 */
export type Unplanned = { 
/**
 * The job.
 */
jobId: JobId, 
/**
 * Why, as a stable code.
 */
reason: UnplannedReason, 
/**
 * Why, for people.
 */
detail: string, };

/**
 * Why a job is left out of a plan.
 */
export type UnplannedReason = "outsideWindow" | "noEligibleContractor" | "noSlot" | "outcompeted";

/**
 * A day of the week, `mon` … `sun` on the wire.
 */
export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

/**
 * The weight of each soft factor (see the crate README for each factor's best and worst case).
 */
export type Weights = { 
/**
 * Travel time to the job from where the contractor comes from.
 */
travelTime: number, 
/**
 * How soon the job can start (ASAP).
 */
earliestStart: number, 
/**
 * Skill level close to what the job needs (keeps masters for hard jobs).
 */
skillFit: number, 
/**
 * The contractor's rating.
 */
rating: number, 
/**
 * How lightly loaded the contractor is on the slot's day.
 */
workload: number, };

/**
 * One weekly working period in the region's time zone.
 *
 * `end` earlier than `start` (e.g. `22:00`–`06:00`) means the shift runs overnight into the next
 * day; `end == start` is refused by validation. Several entries on one day (a split shift) are
 * fine; overlapping or touching entries are merged into one working stretch.
 */
export type WorkingHours = { 
/**
 * The day the shift starts on.
 */
day: Weekday, 
/**
 * Local start time.
 */
start: string, 
/**
 * Local end time; before `start` means the next day.
 */
end: string, };

/**
 * A stretch of working time.
 */
export type WorkingStretch = { 
/**
 * Start.
 */
startUtc: string, 
/**
 * End.
 */
endUtc: string, };
