//! Recommendations: ask (202 at once; the worker computes) and read the result.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use dispatch_core::{DEFAULT_LIMIT, JobId, JobStatus};
use dispatch_store::{RecommendationRecord, RecommendationStatus, RequestId, excluded_counts};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::jobs::dispatchable_job;
use crate::auth::{Identity, require_dispatcher};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::fairness::QueueRefusal;
use crate::openapi::{
    BodyProblems, Forbidden, IdempotencyKey, InvalidQuery, NotFound, RateLimited, Unauthenticated,
    Unavailable,
};
use crate::state::AppState;
use crate::telemetry;

/// The recommendation routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ask))
        .routes(routes!(read))
}

/// `POST /api/v1/recommendations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecommendationRequest {
    /// The job to recommend contractors for.
    pub job_id: JobId,
    /// How many candidates (default 5, at most 200).
    #[cfg_attr(feature = "ts", ts(optional))]
    pub limit: Option<u32>,
    /// Book the top candidate once computed.
    #[serde(default)]
    pub auto_assign: bool,
}

/// The 202 answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RecommendationAccepted {
    /// Correlates with `RecommendationReady`.
    pub request_id: RequestId,
    /// The job.
    pub job_id: JobId,
    /// Always `pending`.
    pub status: RecommendationStatus,
}

/// Most candidates one request may ask for.
const MAX_LIMIT: u32 = 200;

/// Asks for recommendations for an open job: 202 at once, `RecommendationReady` when done.
///
/// With `autoAssign` the best candidate still free is then booked (`source: "auto"`) and
/// `JobAssigned` follows.
///
/// Roles: `admin`, a `dispatcher` of the job's region.
#[utoipa::path(post, path = "/api/v1/recommendations", tag = "recommendations", operation_id = "askRecommendation",
    security(("bearer" = ["admin", "dispatcher"])), params(IdempotencyKey),
    request_body(content = RecommendationRequest, description = "The job, how many candidates, and whether to book the best",
        example = json!({"jobId": "0b7e3f1c-5a2d-4c1e-9f3b-2d6a8c4e1f70", "limit": 10, "autoAssign": false})),
    responses((status = 202, description = "Accepted: computed in the background; `RecommendationReady` on `/dispatch/{region}` says when, then read it with `getRecommendation`",
            body = RecommendationAccepted),
        (status = 409, description = "The job is not open (`job-not-open`), or a request with this Idempotency-Key is still running (`idempotency-in-progress`)",
            body = Problem, content_type = "application/problem+json"),
        NotFound, BodyProblems, Unauthenticated, Forbidden, RateLimited, Unavailable))]
async fn ask(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(request): ApiJson<RecommendationRequest>,
) -> Result<Response, ApiError> {
    require_dispatcher(&identity)?;
    // Before any work: a caller over its rate costs a map lookup, nothing more.
    if let Err(retry_after) = state.limiters.recommendations.check(&identity.sub) {
        metrics::counter!(telemetry::REFUSALS, "reason" => "rate-recommendations").increment(1);
        return Err(ApiError::TooManyRequests {
            detail: "too many recommendation requests from this caller; retry after the time in Retry-After".to_owned(),
            retry_after,
        });
    }
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT as u32);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let job = dispatchable_job(&state, &identity, request.job_id).await?;
    if job.status != JobStatus::Open {
        return Err(ApiError::conflict(
            "job-not-open",
            "recommendations are for open jobs only",
        ));
    }
    // Reserve the queue slot before storing, so a full queue leaves nothing behind.
    let permit = state.work.try_reserve(&identity.sub).map_err(|refusal| {
        let reason = match refusal {
            QueueRefusal::Share => "queue-share",
            QueueRefusal::Full => "queue-full",
            QueueRefusal::Closed => "shutting-down",
        };
        metrics::counter!(telemetry::REFUSALS, "reason" => reason).increment(1);
        match refusal {
            QueueRefusal::Share => ApiError::TooManyRequests {
                detail: refusal.to_string(),
                retry_after: std::time::Duration::from_secs(1),
            },
            QueueRefusal::Full | QueueRefusal::Closed => ApiError::Unavailable(refusal.to_string()),
        }
    })?;
    let record = RecommendationRecord {
        request_id: RequestId::from(Uuid::new_v4()),
        job_id: job.id,
        region: job.region.clone(),
        status: RecommendationStatus::Pending,
        limit,
        auto_assign: request.auto_assign,
        requested_by: identity.sub.clone(),
        requested_at: Utc::now(),
        config_version: None,
        generated_at: None,
        audit_id: None,
        candidates: Vec::new(),
        excluded: Vec::new(),
        excluded_counts: Default::default(),
        error: None,
    };
    state.store.create_recommendation(&record).await?;
    permit.send(record.request_id);
    let accepted = RecommendationAccepted {
        request_id: record.request_id,
        job_id: record.job_id,
        status: RecommendationStatus::Pending,
    };
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// How much of a result's exclusions `getRecommendation` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExcludedView {
    /// Every excluded contractor with its reason (the default).
    #[default]
    All,
    /// Only `excludedCounts`; `excluded` is left empty.
    Summary,
}

/// `GET /api/v1/recommendations/{id}` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReadQuery {
    /// `all` (default): every excluded contractor with its reason; `summary`: `excluded` left
    /// empty and only `excludedCounts` given — on a 10,000-contractor region about 2 MB less
    /// to send and parse. The audit record (`getAuditRecord`) always lists them all.
    #[param(inline)]
    excluded: Option<ExcludedView>,
}

/// The result: candidates in rank order and the excluded contractors with reasons.
///
/// `excludedCounts` counts the excluded per reason code; `?excluded=summary` leaves out the
/// list itself (a region of thousands excludes thousands), the audit record keeps it.
///
/// Roles: `admin`, a `dispatcher` of the job's region.
#[utoipa::path(get, path = "/api/v1/recommendations/{id}", tag = "recommendations", operation_id = "getRecommendation",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("id" = uuid::Uuid, Path, description = "The `requestId` of `askRecommendation`"), ReadQuery),
    responses((status = 200, description = "The request: `pending`, `ready` (candidates in rank order, the excluded with reasons and their counts per reason) or `failed` (with `error`)",
            body = RecommendationRecord),
        NotFound, InvalidQuery, Unauthenticated, Forbidden, Unavailable))]
async fn read(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<RecommendationRecord>, ApiError> {
    require_dispatcher(&identity)?;
    let id: RequestId = id
        .parse()
        .map_err(|_| ApiError::NotFound("recommendation"))?;
    let summary = query.excluded.unwrap_or_default() == ExcludedView::Summary;
    let record = if summary {
        state.store.recommendation_summary(id).await?
    } else {
        state.store.recommendation(id).await?
    };
    let mut record = record
        .filter(|record| identity.can_dispatch(&record.region))
        .ok_or(ApiError::NotFound("recommendation"))?;
    // Results stored before their counts were come with their list only.
    if record.excluded_counts.is_empty() && !record.excluded.is_empty() {
        record.excluded_counts = excluded_counts(&record.excluded);
    }
    if summary {
        record.excluded = Vec::new();
    }
    Ok(Json(record))
}
