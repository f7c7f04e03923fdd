//! Assignments: manual assignment (re-validated against the hard constraints at the moment it
//! is made; the store enforces no double booking), read, and unassign.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use dispatch_core::{Assignment, AssignmentId, AssignmentSource, Contractor, ContractorId, JobId};
use dispatch_store::{RecommendationStatus, RequestId};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::created;
use crate::api::jobs::dispatchable_job;
use crate::assignment::{Basis, Proposal, assign as assign_step};
use crate::auth::{Identity, require_dispatcher};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::openapi::{
    BodyProblems, Forbidden, IdempotencyKey, NotFound, Unauthenticated, Unavailable,
};
use crate::planning::region_view;
use crate::state::AppState;

/// The assignment routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(assign))
        .routes(routes!(read, unassign))
        .routes(routes!(move_booking))
}

/// `POST /api/v1/assignments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignmentRequest {
    /// The job.
    pub job_id: JobId,
    /// Who takes it.
    pub contractor_id: ContractorId,
    /// On-site start.
    pub start_utc: DateTime<Utc>,
    /// On-site end.
    pub end_utc: DateTime<Utc>,
    /// The recommendation the choice was made from, if any.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub request_id: Option<RequestId>,
}

/// `POST /api/v1/assignments/{id}/move`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoveRequest {
    /// Who takes the job now (the same contractor for a new time).
    pub contractor_id: ContractorId,
    /// The new on-site start.
    pub start_utc: DateTime<Utc>,
    /// The new on-site end.
    pub end_utc: DateTime<Utc>,
}

/// Assigns a job by hand, re-validated against the hard constraints; `JobAssigned` follows.
///
/// Without `requestId` the decision still gets an audit record, so `auditId` always resolves.
///
/// Roles: `admin`, a `dispatcher` of the job's region.
#[utoipa::path(post, path = "/api/v1/assignments", tag = "assignments", operation_id = "createAssignment",
    security(("bearer" = ["admin", "dispatcher"])), params(IdempotencyKey),
    request_body(content = AssignmentRequest, description = "Who takes which job when; `requestId` names the recommendation the choice was made from",
        example = json!({"jobId": "0b7e3f1c-5a2d-4c1e-9f3b-2d6a8c4e1f70", "contractorId": "5c1d9a3e-7b2f-4e6a-8d0c-1f3e5a7b9c2d",
            "startUtc": "2026-12-01T16:30:00Z", "endUtc": "2026-12-01T18:00:00Z", "requestId": null})),
    responses((status = 201, description = "The assignment, made; `JobAssigned` follows on the region's and the contractor's channels", body = Assignment),
        (status = 409, description = "The contractor is booked then (`contractor-busy`), the job is assigned already (`job-already-assigned`) or not open (`job-not-open`), a hard rule fails (`assignment-infeasible`), or a request with this Idempotency-Key is still running (`idempotency-in-progress`)",
            body = Problem, content_type = "application/problem+json"),
        NotFound, BodyProblems, Unauthenticated, Forbidden, Unavailable))]
async fn assign(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(request): ApiJson<AssignmentRequest>,
) -> Result<Response, ApiError> {
    require_dispatcher(&identity)?;
    check_slot(request.start_utc, request.end_utc)?;
    let job = dispatchable_job(&state, &identity, request.job_id).await?;
    let contractor = dispatchable_contractor(&state, &identity, request.contractor_id).await?;
    let basis = match request.request_id {
        Some(request_id) => {
            let record = state
                .store
                .recommendation(request_id)
                .await?
                .filter(|record| record.job_id == job.id)
                .ok_or_else(|| {
                    ApiError::validation("requestId", "no recommendation with that id for this job")
                })?;
            let audit_id = record
                .audit_id
                .filter(|_| record.status == RecommendationStatus::Ready)
                .ok_or_else(|| {
                    ApiError::validation("requestId", "that recommendation is not ready")
                })?;
            let rank = record
                .candidates
                .iter()
                .find(|candidate| candidate.contractor_id == contractor.id)
                .map(|candidate| candidate.rank);
            Basis::Ranking { audit_id, rank }
        }
        None => Basis::DecisionAlone,
    };
    let proposal = Proposal {
        job: &job,
        contractor_id: contractor.id,
        start_utc: request.start_utc,
        end_utc: request.end_utc,
        source: AssignmentSource::Manual,
        decided_by: &identity.sub,
        basis,
        replaces: None,
    };
    Ok(created(&book(&state, &proposal).await?))
}

/// Moves a booking to another time or contractor, in one step: the new slot is re-validated
/// like a new assignment, then the old booking ends and the new one is made in one
/// transaction; on any refusal the old booking stays exactly as it was. `JobAssigned` follows
/// for the new booking (`source: "manual"`, an audit record of the decision).
///
/// Roles: `admin`, a `dispatcher` of the job's region.
#[utoipa::path(post, path = "/api/v1/assignments/{id}/move", tag = "assignments", operation_id = "moveAssignment",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("id" = uuid::Uuid, Path, description = "The live assignment to move")),
    request_body(content = MoveRequest, description = "The new contractor and slot",
        example = json!({"contractorId": "5c1d9a3e-7b2f-4e6a-8d0c-1f3e5a7b9c2d",
            "startUtc": "2026-12-01T18:00:00Z", "endUtc": "2026-12-01T19:30:00Z"})),
    responses((status = 200, description = "The new assignment; the old one has ended", body = Assignment),
        (status = 409, description = "The contractor is booked then (`contractor-busy`), a hard rule fails (`assignment-infeasible`), or the booking was moved or unassigned meanwhile (`assignment-moved`); the old booking is unchanged",
            body = Problem, content_type = "application/problem+json"),
        NotFound, BodyProblems, Unauthenticated, Forbidden, Unavailable))]
async fn move_booking(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<MoveRequest>,
) -> Result<Json<Assignment>, ApiError> {
    require_dispatcher(&identity)?;
    check_slot(request.start_utc, request.end_utc)?;
    let old = visible_assignment(&state, &identity, &id).await?;
    let job = dispatchable_job(&state, &identity, old.job_id).await?;
    let contractor = dispatchable_contractor(&state, &identity, request.contractor_id).await?;
    let proposal = Proposal {
        job: &job,
        contractor_id: contractor.id,
        start_utc: request.start_utc,
        end_utc: request.end_utc,
        source: AssignmentSource::Manual,
        decided_by: &identity.sub,
        basis: Basis::DecisionAlone,
        replaces: Some(old.id),
    };
    Ok(Json(book(&state, &proposal).await?))
}

/// A slot must end after it starts.
fn check_slot(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), ApiError> {
    if end <= start {
        return Err(ApiError::validation(
            "endUtc",
            "endUtc must be after startUtc",
        ));
    }
    Ok(())
}

/// The contractor, if the caller dispatches its region (else it looks missing).
async fn dispatchable_contractor(
    state: &AppState,
    identity: &Identity,
    id: ContractorId,
) -> Result<Contractor, ApiError> {
    state
        .store
        .contractor(id)
        .await?
        .filter(|contractor| identity.can_dispatch(&contractor.region))
        .ok_or(ApiError::NotFound("contractor"))
}

/// A dispatcher's booking: validated against the job's region as it is now, then made
/// through the one assignment step.
async fn book(state: &AppState, proposal: &Proposal<'_>) -> Result<Assignment, ApiError> {
    let job = proposal.job;
    let region = state
        .store
        .region(&job.region)
        .await?
        .ok_or(ApiError::NotFound("region"))?;
    let config = state.store.current_config().await?;
    let now = Utc::now();
    let index = region_view(&state.regions, &state.store, region, job, &config, now).await?;
    Ok(assign_step(state, &index, &config, proposal, now).await?)
}

/// The live assignment, if the caller may see it (its job's dispatchers, its contractor).
async fn visible_assignment(
    state: &AppState,
    identity: &Identity,
    id: &str,
) -> Result<Assignment, ApiError> {
    let id: AssignmentId = id.parse().map_err(|_| ApiError::NotFound("assignment"))?;
    let assignment = state
        .store
        .assignment(id)
        .await?
        .ok_or(ApiError::NotFound("assignment"))?;
    if identity.is_contractor_or_admin(assignment.contractor_id) {
        return Ok(assignment);
    }
    let job = state.store.job(assignment.job_id).await?;
    if job.is_some_and(|job| identity.can_dispatch(&job.region)) {
        Ok(assignment)
    } else {
        Err(ApiError::NotFound("assignment"))
    }
}

/// One live assignment.
///
/// Roles: `admin`, a `dispatcher` of its job's region, its `contractor`.
#[utoipa::path(get, path = "/api/v1/assignments/{id}", tag = "assignments", operation_id = "getAssignment",
    security(("bearer" = ["admin", "dispatcher", "contractor"])),
    params(("id" = uuid::Uuid, Path, description = "Assignment id")),
    responses((status = 200, description = "The live assignment", body = Assignment),
        NotFound, Unauthenticated, Unavailable))]
async fn read(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Assignment>, ApiError> {
    visible_assignment(&state, &identity, &id).await.map(Json)
}

/// Unassigns: the job returns to `open`.
///
/// Roles: `admin`, a `dispatcher` of its job's region.
#[utoipa::path(delete, path = "/api/v1/assignments/{id}", tag = "assignments", operation_id = "deleteAssignment",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("id" = uuid::Uuid, Path, description = "Assignment id")),
    responses((status = 204, description = "Unassigned: the job is `open` again (no event is sent)"),
        NotFound, Unauthenticated, Forbidden, Unavailable))]
async fn unassign(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // Contractors may read their assignments but not drop them.
    require_dispatcher(&identity)?;
    let assignment = visible_assignment(&state, &identity, &id).await?;
    dispatchable_job(&state, &identity, assignment.job_id).await?;
    match state.store.delete_assignment(assignment.id, &[]).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(ApiError::NotFound("assignment")),
    }
}
