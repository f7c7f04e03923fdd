//! Plans of a region's backlog: ask (202 at once; the planner searches), read (progress while
//! running, the routes once ready), apply, cancel.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use dispatch_core::plan::MAX_PLAN_JOBS;
use dispatch_core::{Assignment, Job, JobId, JobStatus, PlanId, RegionId};
use dispatch_store::{PlanApplication, PlanApplyClaim, PlanProgress, PlanRecord, PlanStatus};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Identity, require_dispatcher};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::openapi::{
    BodyProblems, Forbidden, IdempotencyKey, NotFound, RateLimited, Unauthenticated, Unavailable,
};
use crate::plans::{APPLY_STALE_AFTER, PlanJob, apply as apply_plan};
use crate::state::AppState;
use crate::telemetry;

/// The plan routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ask))
        .routes(routes!(read))
        .routes(routes!(apply))
        .routes(routes!(cancel))
}

/// `POST /api/v1/plans`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanRequest {
    /// The region whose backlog to plan.
    pub region: String,
    /// Start of the planning period: no visit starts before it (nor before now).
    pub from: DateTime<Utc>,
    /// End of the planning period (at most 14 days after `from`): every visit ends by it.
    pub to: DateTime<Utc>,
    /// The jobs to plan, all open jobs of the region; `null` or absent: every open job of the
    /// region whose window overlaps the period.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub job_ids: Option<Vec<JobId>>,
    /// Let unstarted automatic bookings in the period move (default false: every booking
    /// stays where it is). Their jobs are planned again with the rest, and applying moves each
    /// such booking in one step (never leaving its job unassigned).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub move_automatic: Option<bool>,
    /// Search time, 1–300 seconds (default 10).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub time_limit_seconds: Option<u32>,
    /// Seed of the search (default 1), 0 … 2^53 − 1: the same seed, data and budget give the
    /// same plan.
    #[cfg_attr(feature = "ts", ts(optional))]
    pub seed: Option<u64>,
}

/// The 202 answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PlanAccepted {
    /// Read it with `getPlan`.
    pub plan_id: PlanId,
    /// Always `running`.
    pub status: PlanStatus,
}

/// Longest planning period.
const MAX_PERIOD_DAYS: i64 = 14;
/// Longest search.
const MAX_TIME_LIMIT_SECONDS: u32 = 300;
/// Search time when none is given.
const DEFAULT_TIME_LIMIT_SECONDS: u32 = 10;
/// Seeds stay exact in JavaScript numbers.
const MAX_SEED: u64 = (1 << 53) - 1;

impl PlanRequest {
    /// The checks that need nothing but the body.
    fn validate(&self) -> Result<(u32, u64), ApiError> {
        if self.to <= self.from {
            return Err(ApiError::validation("to", "to must be after from"));
        }
        if self.to - self.from > Duration::days(MAX_PERIOD_DAYS) {
            return Err(ApiError::validation(
                "to",
                format!("the planning period may be at most {MAX_PERIOD_DAYS} days"),
            ));
        }
        let seconds = self
            .time_limit_seconds
            .unwrap_or(DEFAULT_TIME_LIMIT_SECONDS);
        if !(1..=MAX_TIME_LIMIT_SECONDS).contains(&seconds) {
            return Err(ApiError::validation(
                "timeLimitSeconds",
                format!("timeLimitSeconds must be between 1 and {MAX_TIME_LIMIT_SECONDS}"),
            ));
        }
        let seed = self.seed.unwrap_or(1);
        if seed > MAX_SEED {
            return Err(ApiError::validation(
                "seed",
                format!("seed must be at most {MAX_SEED} (2^53 - 1)"),
            ));
        }
        if let Some(ids) = &self.job_ids {
            if ids.is_empty() {
                return Err(ApiError::validation(
                    "jobIds",
                    "jobIds must name at least one job, or be null for the whole backlog",
                ));
            }
            if ids.len() > MAX_PLAN_JOBS {
                return Err(ApiError::validation(
                    "jobIds",
                    format!("at most {MAX_PLAN_JOBS} jobs per plan"),
                ));
            }
            let mut seen = HashSet::with_capacity(ids.len());
            if let Some(twice) = ids.iter().find(|id| !seen.insert(**id)) {
                return Err(ApiError::validation(
                    "jobIds",
                    format!("job {twice} is listed twice"),
                ));
            }
        }
        Ok((seconds, seed))
    }
}

/// The jobs to plan — those named, or the region's open backlog in the period — and, with
/// `moveAutomatic`, the unstarted automatic bookings among them that may move.
async fn jobs_to_plan(
    state: &AppState,
    region: &RegionId,
    request: &PlanRequest,
) -> Result<(Vec<Job>, Vec<Assignment>), ApiError> {
    let too_many = || {
        ApiError::validation(
            "to",
            format!(
                "the period holds more than {MAX_PLAN_JOBS} jobs to plan; plan a shorter period"
            ),
        )
    };
    let limit = u32::try_from(MAX_PLAN_JOBS + 1).unwrap_or(u32::MAX);
    let mut movable = if request.move_automatic == Some(true) {
        let now = Utc::now();
        state
            .store
            .movable_assignments(region, request.from, request.to, now, limit)
            .await?
    } else {
        Vec::new()
    };
    let Some(ids) = &request.job_ids else {
        let mut jobs = state
            .store
            .open_jobs_between(region, request.from, request.to, limit)
            .await?;
        if jobs.len() + movable.len() > MAX_PLAN_JOBS {
            return Err(too_many());
        }
        for booking in &movable {
            if let Some(job) = state.store.job(booking.job_id).await? {
                jobs.push(job);
            }
        }
        return Ok((jobs, movable));
    };
    let by_job: HashMap<JobId, Assignment> = movable.drain(..).map(|a| (a.job_id, a)).collect();
    let mut jobs = Vec::with_capacity(ids.len());
    for &id in ids {
        // Another region's job reads exactly like a missing one.
        let job = state
            .store
            .job(id)
            .await?
            .filter(|job| &job.region == region)
            .ok_or_else(|| {
                ApiError::validation(
                    "jobIds",
                    format!("job {id} is not a job of region {region}"),
                )
            })?;
        match (job.status, by_job.get(&id)) {
            (JobStatus::Open, _) => {}
            (JobStatus::Assigned, Some(booking)) => movable.push(booking.clone()),
            _ => {
                return Err(ApiError::validation(
                    "jobIds",
                    format!(
                        "job {id} is not open{}",
                        if request.move_automatic == Some(true) {
                            " nor booked automatically in the period and not yet started"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        jobs.push(job);
    }
    Ok((jobs, movable))
}

/// Plans a region's open backlog over a period: 202 at once, the search runs in the background.
///
/// Poll `getPlan` for its progress and result; then `applyPlan` books it, or `cancelPlan`
/// discards it. The search follows every hard rule of the recommendations; it puts more urgent
/// jobs first, then less driving, then earlier starts and balanced days.
///
/// Roles: `admin`, a `dispatcher` of the region.
#[utoipa::path(post, path = "/api/v1/plans", tag = "plans", operation_id = "askPlan",
    security(("bearer" = ["admin", "dispatcher"])), params(IdempotencyKey),
    request_body(content = PlanRequest, description = "The region, the period, optionally the jobs, the search's time and seed",
        example = json!({"region": "west", "from": "2026-12-07T00:00:00Z", "to": "2026-12-12T00:00:00Z",
            "jobIds": null, "moveAutomatic": false, "timeLimitSeconds": 10, "seed": 1})),
    responses((status = 202, description = "Accepted: searching in the background; read it with `getPlan`",
            body = PlanAccepted, headers(("Location" = String, description = "The plan's URL"))),
        BodyProblems, Unauthenticated, Forbidden, RateLimited, Unavailable))]
async fn ask(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(request): ApiJson<PlanRequest>,
) -> Result<Response, ApiError> {
    require_dispatcher(&identity)?;
    // Before any work: a caller over its rate or its share of the node's plans costs a map
    // lookup, nothing more.
    if let Err(retry_after) = state.limiters.plans.check(&identity.sub) {
        metrics::counter!(telemetry::REFUSALS, "reason" => "rate-plans").increment(1);
        return Err(ApiError::TooManyRequests {
            detail: "too many plan requests from this caller; retry after the time in Retry-After"
                .to_owned(),
            retry_after,
        });
    }
    let Some(share) = state.limiters.plan_places.acquire(&identity.sub) else {
        metrics::counter!(telemetry::REFUSALS, "reason" => "plan-share").increment(1);
        return Err(ApiError::TooManyRequests {
            detail: "this caller has as many plans running as it may; wait for one to end"
                .to_owned(),
            retry_after: std::time::Duration::from_secs(5),
        });
    };
    let region_id = RegionId::new(request.region.clone());
    if !identity.can_dispatch(&region_id) {
        return Err(ApiError::Forbidden(format!(
            "you do not dispatch region '{region_id}'"
        )));
    }
    let (time_limit_seconds, seed) = request.validate()?;
    let region = state.store.region(&region_id).await?.ok_or_else(|| {
        ApiError::validation("region", format!("region '{region_id}' does not exist"))
    })?;
    let (jobs, movable) = jobs_to_plan(&state, &region_id, &request).await?;
    let config = state.store.current_config().await?;
    // Take the place before storing, so a full node leaves nothing behind.
    let admission = state.plans.admit(Some(share))?;
    let record = PlanRecord {
        plan_id: PlanId::from(Uuid::new_v4()),
        region: region_id,
        status: PlanStatus::Running,
        config_version: config.version,
        from: request.from,
        to: request.to,
        job_ids: request.job_ids,
        move_automatic: request.move_automatic == Some(true),
        time_limit_seconds,
        seed,
        requested_by: identity.sub.clone(),
        created_at: Utc::now(),
        progress: PlanProgress::default(),
        routes: Vec::new(),
        unassigned: Vec::new(),
        kpis: None,
        error: None,
        application: None,
    };
    state.store.create_plan(&record).await?;
    let accepted = PlanAccepted {
        plan_id: record.plan_id,
        status: PlanStatus::Running,
    };
    let location = format!("/api/v1/plans/{}", record.plan_id);
    state.plans.start(
        state.clone(),
        PlanJob {
            record,
            region,
            jobs,
            movable,
            config,
        },
        admission,
    );
    Ok((StatusCode::ACCEPTED, [(LOCATION, location)], Json(accepted)).into_response())
}

/// The plan of `id` if the caller may see it; another region's plan is missing.
async fn visible_plan(
    state: &AppState,
    identity: &Identity,
    id: &str,
) -> Result<PlanRecord, ApiError> {
    require_dispatcher(identity)?;
    let id: PlanId = id.parse().map_err(|_| ApiError::NotFound("plan"))?;
    state
        .store
        .plan(id)
        .await?
        .filter(|plan| identity.can_dispatch(&plan.region))
        .ok_or(ApiError::NotFound("plan"))
}

/// A plan: its progress while running; its routes, the jobs it leaves out with why, and its
/// figures once ready; what applying it did once applied.
///
/// Roles: `admin`, a `dispatcher` of the plan's region.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "plans", operation_id = "getPlan",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("id" = uuid::Uuid, Path, description = "The `planId` of `askPlan`")),
    responses((status = 200, description = "The plan", body = PlanRecord),
        NotFound, Unauthenticated, Forbidden, Unavailable))]
async fn read(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<PlanRecord>, ApiError> {
    visible_plan(&state, &identity, &id).await.map(Json)
}

/// Books a ready plan: each planned visit is re-validated against every hard rule as things
/// are now and booked (`source: "auto"`, an audit record naming the plan, `JobAssigned` on the
/// region's and the contractor's channels); the visits that no longer hold are reported as
/// conflicts. Idempotent: applying an applied plan answers the same result and books nothing.
///
/// Roles: `admin`, a `dispatcher` of the plan's region.
#[utoipa::path(post, path = "/api/v1/plans/{id}/apply", tag = "plans", operation_id = "applyPlan",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("id" = uuid::Uuid, Path, description = "The `planId` of `askPlan`")),
    responses((status = 200, description = "What was booked, and what no longer held", body = PlanApplication),
        (status = 409, description = "The plan is not ready (`plan-not-ready`: still running, failed or cancelled), or another apply of it is under way (`plan-apply-in-progress`)",
            body = Problem, content_type = "application/problem+json"),
        NotFound, Unauthenticated, Forbidden, Unavailable))]
async fn apply(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<PlanApplication>, ApiError> {
    let plan = visible_plan(&state, &identity, &id).await?;
    let plan = match state
        .store
        .claim_plan_apply(plan.plan_id, APPLY_STALE_AFTER)
        .await?
    {
        PlanApplyClaim::Claimed(plan) => plan,
        PlanApplyClaim::Applied(plan) => return Ok(Json(plan.application.unwrap_or_default())),
        PlanApplyClaim::Missing => return Err(ApiError::NotFound("plan")),
        PlanApplyClaim::InProgress => {
            return Err(ApiError::conflict(
                "plan-apply-in-progress",
                "this plan is being applied; read it again shortly",
            ));
        }
        PlanApplyClaim::NotReady(status) => {
            return Err(ApiError::conflict(
                "plan-not-ready",
                format!(
                    "the plan is {}; only a ready plan can be applied",
                    status.as_str()
                ),
            ));
        }
    };
    match apply_plan(&state, &plan, &identity.sub).await {
        Ok(application) => {
            state
                .store
                .finish_plan_apply(plan.plan_id, &application)
                .await?;
            Ok(Json(application))
        }
        Err(error) => {
            // What was booked stays booked; a retry recognises it and goes on.
            if let Err(error) = state.store.abandon_plan_apply(plan.plan_id).await {
                tracing::warn!(%error, "could not end a failed apply's claim");
            }
            Err(error.into())
        }
    }
}

/// Cancels a running plan (its search stops; what it found is kept) or discards a ready one.
/// Cancelling a cancelled plan changes nothing.
///
/// Roles: `admin`, a `dispatcher` of the plan's region.
#[utoipa::path(post, path = "/api/v1/plans/{id}/cancel", tag = "plans", operation_id = "cancelPlan",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("id" = uuid::Uuid, Path, description = "The `planId` of `askPlan`")),
    responses((status = 200, description = "The plan, cancelled", body = PlanRecord),
        (status = 409, description = "The plan is applied, being applied, or failed (`plan-not-cancellable`)",
            body = Problem, content_type = "application/problem+json"),
        NotFound, Unauthenticated, Forbidden, Unavailable))]
async fn cancel(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<PlanRecord>, ApiError> {
    let plan = visible_plan(&state, &identity, &id).await?;
    match state.store.cancel_plan(plan.plan_id).await? {
        None => Err(ApiError::NotFound("plan")),
        Some(PlanStatus::Cancelled) => {
            state.plans.cancel(plan.plan_id);
            let plan = state.store.plan(plan.plan_id).await?;
            plan.map(Json).ok_or(ApiError::NotFound("plan"))
        }
        Some(status) => Err(ApiError::conflict(
            "plan-not-cancellable",
            format!(
                "the plan is {}{}; it can no longer be cancelled",
                status.as_str(),
                if status == PlanStatus::Ready {
                    " and being applied"
                } else {
                    ""
                }
            ),
        )),
    }
}
