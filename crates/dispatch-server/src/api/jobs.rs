//! Jobs: create, list by region and status, read, cancel (admins and the region's
//! dispatchers; a contractor may read a job it is assigned to).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{Duration, Utc};
use dispatch_core::{Job, JobId, JobStatus, NewJob, RegionId};
use dispatch_store::Page;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{Paging, created};
use crate::auth::{Identity, Role, require_dispatcher};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi::{
    BodyProblems, Forbidden, IdempotencyKey, InvalidQuery, NotFound, Unauthenticated, Unavailable,
};
use crate::state::AppState;

/// The job routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read))
        .routes(routes!(cancel))
}

fn parse_id(id: &str) -> Result<JobId, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound("job"))
}

/// The job, if it exists and the caller may work with it (admin, region's dispatcher);
/// otherwise 404 either way.
pub async fn dispatchable_job(
    state: &AppState,
    identity: &Identity,
    id: JobId,
) -> Result<Job, ApiError> {
    state
        .store
        .job(id)
        .await?
        .filter(|job| identity.can_dispatch(&job.region))
        .ok_or(ApiError::NotFound("job"))
}

/// How far ahead a job window may end.
const MAX_WINDOW_AHEAD_DAYS: i64 = 366;

/// Creates an open job.
///
/// Roles: `admin`, a `dispatcher` of the job's region.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", operation_id = "createJob",
    security(("bearer" = ["admin", "dispatcher"])), params(IdempotencyKey),
    request_body(content = NewJob, description = "The job (the service assigns its id; it starts `open`)",
        example = json!({"region": "west", "title": "Leaking pipe under sink",
            "location": {"lat": 37.76, "lon": -122.41}, "requiredSkills": [{"name": "plumbing", "minLevel": 2}],
            "priority": "high", "windowStartUtc": "2026-12-01T16:00:00Z",
            "windowEndUtc": "2026-12-01T22:00:00Z", "durationMinutes": 90})),
    responses((status = 201, description = "The job, created, with its id", body = Job),
        (status = 409, description = "A request with this Idempotency-Key is still running (`idempotency-in-progress`)",
            body = Problem, content_type = "application/problem+json"),
        BodyProblems, Unauthenticated, Forbidden, Unavailable))]
async fn create(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(new): ApiJson<NewJob>,
) -> Result<Response, ApiError> {
    if !identity.can_dispatch(&new.region) {
        return Err(ApiError::Forbidden(format!(
            "you do not dispatch region '{}'",
            new.region
        )));
    }
    new.validate()?;
    let now = Utc::now();
    if new.window_end_utc <= now {
        return Err(ApiError::validation(
            "windowEndUtc",
            "the window has already ended",
        ));
    }
    if new.window_end_utc > now + Duration::days(MAX_WINDOW_AHEAD_DAYS) {
        return Err(ApiError::validation(
            "windowEndUtc",
            format!("the window must end within {MAX_WINDOW_AHEAD_DAYS} days"),
        ));
    }
    if state.store.region(&new.region).await?.is_none() {
        return Err(ApiError::validation(
            "region",
            format!("region '{}' does not exist", new.region),
        ));
    }
    let job = new.into_job(JobId::from(Uuid::new_v4()));
    state.store.create_job(&job).await?;
    Ok(created(&job))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// The region.
    #[param(example = "west")]
    region: String,
    /// Only jobs of this status.
    status: Option<JobStatus>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// A page of a region's jobs, optionally of one status.
///
/// Roles: `admin`, a `dispatcher` of the region.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", operation_id = "listJobs",
    security(("bearer" = ["admin", "dispatcher"])), params(ListQuery),
    responses((status = 200, description = "One page of the region's jobs", body = Page<Job>),
        InvalidQuery, Unauthenticated, Forbidden, Unavailable))]
async fn list(
    State(state): State<AppState>,
    identity: Identity,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<Job>>, ApiError> {
    let region = RegionId::new(query.region);
    if !identity.can_dispatch(&region) {
        return Err(ApiError::Forbidden(format!(
            "you do not dispatch region '{region}'"
        )));
    }
    let page = Paging {
        limit: query.limit,
        cursor: query.cursor,
    }
    .into_request()?;
    Ok(Json(
        state.store.list_jobs(&region, query.status, page).await?,
    ))
}

/// One job.
///
/// Roles: `admin`, a `dispatcher` of its region, a `contractor` booked for it.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", operation_id = "getJob",
    security(("bearer" = ["admin", "dispatcher", "contractor"])),
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses((status = 200, description = "The job", body = Job),
        NotFound, Unauthenticated, Unavailable))]
async fn read(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    let id = parse_id(&id)?;
    let job = state
        .store
        .job(id)
        .await?
        .ok_or(ApiError::NotFound("job"))?;
    let visible = match identity.role {
        Role::Contractor => match identity.contractor_id {
            // A contractor sees the jobs it is booked for, to know where to go.
            Some(me) => state
                .store
                .contractor_assignments(
                    me,
                    job.window_start_utc - Duration::days(1),
                    job.window_end_utc + Duration::days(1),
                )
                .await?
                .iter()
                .any(|assignment| assignment.job_id == job.id),
            None => false,
        },
        _ => identity.can_dispatch(&job.region),
    };
    if visible {
        Ok(Json(job))
    } else {
        Err(ApiError::NotFound("job"))
    }
}

/// Cancels an open or assigned job (its live assignment ends with it).
///
/// Roles: `admin`, a `dispatcher` of its region.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", operation_id = "cancelJob",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses((status = 200, description = "The job, now `cancelled`", body = Job),
        (status = 409, description = "The job is completed or cancelled already", body = Problem, content_type = "application/problem+json"),
        NotFound, Unauthenticated, Forbidden, Unavailable))]
async fn cancel(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    require_dispatcher(&identity)?;
    let id = parse_id(&id)?;
    dispatchable_job(&state, &identity, id).await?;
    state
        .store
        .cancel_job(id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("job"))
}
