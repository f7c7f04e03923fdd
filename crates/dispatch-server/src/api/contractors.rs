//! Contractors: create, update and time off (admin); read (admin, dispatchers of the region,
//! the contractor itself); their assignments in a time range.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use dispatch_core::{Assignment, Contractor, ContractorId, NewContractor, RegionId, TimeOff};
use dispatch_store::Page;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{Paging, created};
use crate::auth::{Identity, Role, require_admin};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi::{
    BodyProblems, Forbidden, IdempotencyKey, InvalidQuery, NotFound, Unauthenticated, Unavailable,
};
use crate::state::AppState;

/// The contractor routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update))
        .routes(routes!(add_time_off))
        .routes(routes!(assignments))
}

fn parse_id(id: &str) -> Result<ContractorId, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound("contractor"))
}

/// Whether the caller may read this contractor.
fn may_read(identity: &Identity, contractor: &Contractor) -> bool {
    identity.can_dispatch(&contractor.region) || identity.is_contractor_or_admin(contractor.id)
}

/// The contractor, if it exists and the caller may read it; otherwise 404 either way.
pub async fn visible_contractor(
    state: &AppState,
    identity: &Identity,
    id: ContractorId,
) -> Result<Contractor, ApiError> {
    state
        .store
        .contractor(id)
        .await?
        .filter(|contractor| may_read(identity, contractor))
        .ok_or(ApiError::NotFound("contractor"))
}

async fn ensure_region(state: &AppState, region: &RegionId) -> Result<(), ApiError> {
    match state.store.region(region).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::validation(
            "region",
            format!("region '{region}' does not exist"),
        )),
    }
}

/// Creates a contractor.
///
/// Roles: `admin`.
#[utoipa::path(post, path = "/api/v1/contractors", tag = "contractors", operation_id = "createContractor",
    security(("bearer" = ["admin"])), params(IdempotencyKey),
    request_body(content = NewContractor, description = "The contractor (the service assigns its id)",
        example = json!({"name": "Ana Ruiz", "region": "west",
            "skills": [{"name": "plumbing", "level": 4}], "location": {"lat": 37.77, "lon": -122.42},
            "workingHours": [{"day": "mon", "start": "08:00", "end": "17:00"}],
            "rating": 4.6, "maxJobsPerDay": 6, "active": true})),
    responses((status = 201, description = "The contractor, created, with its id", body = Contractor),
        (status = 409, description = "A request with this Idempotency-Key is still running (`idempotency-in-progress`)",
            body = Problem, content_type = "application/problem+json"),
        BodyProblems, Unauthenticated, Forbidden, Unavailable))]
async fn create(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(new): ApiJson<NewContractor>,
) -> Result<Response, ApiError> {
    require_admin(&identity)?;
    new.validate()?;
    ensure_region(&state, &new.region).await?;
    let contractor = new.into_contractor(ContractorId::from(Uuid::new_v4()));
    state.store.create_contractor(&contractor).await?;
    Ok(created(&contractor))
}

/// Replaces a contractor's profile.
///
/// Roles: `admin`.
#[utoipa::path(put, path = "/api/v1/contractors/{id}", tag = "contractors", operation_id = "replaceContractor",
    security(("bearer" = ["admin"])),
    params(("id" = uuid::Uuid, Path, description = "Contractor id")),
    request_body(content = NewContractor, description = "The whole new profile",
        example = json!({"name": "Ana Ruiz", "region": "west",
            "skills": [{"name": "plumbing", "level": 4}], "location": {"lat": 37.77, "lon": -122.42},
            "workingHours": [{"day": "mon", "start": "08:00", "end": "17:00"}],
            "rating": 4.6, "maxJobsPerDay": 6, "active": true})),
    responses((status = 200, description = "The contractor as it is now", body = Contractor),
        NotFound, BodyProblems, Unauthenticated, Forbidden, Unavailable))]
async fn update(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewContractor>,
) -> Result<Json<Contractor>, ApiError> {
    require_admin(&identity)?;
    let id = parse_id(&id)?;
    new.validate()?;
    ensure_region(&state, &new.region).await?;
    let contractor = new.into_contractor(id);
    if state.store.update_contractor(&contractor).await? {
        Ok(Json(contractor))
    } else {
        Err(ApiError::NotFound("contractor"))
    }
}

/// One contractor.
///
/// Roles: `admin`, a `dispatcher` of its region, the `contractor` itself.
#[utoipa::path(get, path = "/api/v1/contractors/{id}", tag = "contractors", operation_id = "getContractor",
    security(("bearer" = ["admin", "dispatcher", "contractor"])),
    params(("id" = uuid::Uuid, Path, description = "Contractor id")),
    responses((status = 200, description = "The contractor", body = Contractor),
        NotFound, Unauthenticated, Unavailable))]
async fn read(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Contractor>, ApiError> {
    let id = parse_id(&id)?;
    visible_contractor(&state, &identity, id).await.map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this region's contractors (required for dispatchers).
    #[param(example = "west")]
    region: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// A page of contractors.
///
/// Roles: `admin` (one region or all), a `dispatcher` (one of its regions: `region` is required).
#[utoipa::path(get, path = "/api/v1/contractors", tag = "contractors", operation_id = "listContractors",
    security(("bearer" = ["admin", "dispatcher"])), params(ListQuery),
    responses((status = 200, description = "One page of contractors, by name", body = Page<Contractor>),
        InvalidQuery, Unauthenticated, Forbidden, Unavailable))]
async fn list(
    State(state): State<AppState>,
    identity: Identity,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<Contractor>>, ApiError> {
    let region = query.region.map(RegionId::new);
    match (&region, identity.role) {
        (_, Role::Admin) => {}
        (Some(region), Role::Dispatcher) if identity.can_dispatch(region) => {}
        (None, Role::Dispatcher) => {
            return Err(ApiError::validation(
                "region",
                "dispatchers list one region at a time: add ?region=",
            ));
        }
        _ => {
            return Err(ApiError::Forbidden(
                "you may not list these contractors".to_owned(),
            ));
        }
    }
    let page = Paging {
        limit: query.limit,
        cursor: query.cursor,
    }
    .into_request()?;
    Ok(Json(
        state.store.list_contractors(region.as_ref(), page).await?,
    ))
}

/// Adds time off to a contractor.
///
/// Roles: `admin`.
#[utoipa::path(post, path = "/api/v1/contractors/{id}/time-off", tag = "contractors", operation_id = "addTimeOff",
    security(("bearer" = ["admin"])),
    params(("id" = uuid::Uuid, Path, description = "Contractor id"), IdempotencyKey),
    request_body(content = TimeOff, description = "The period, end exclusive",
        example = json!({"startUtc": "2026-12-24T00:00:00Z", "endUtc": "2026-12-27T00:00:00Z", "reason": "vacation"})),
    responses((status = 201, description = "The time off, recorded", body = TimeOff),
        (status = 409, description = "A request with this Idempotency-Key is still running (`idempotency-in-progress`)",
            body = Problem, content_type = "application/problem+json"),
        NotFound, BodyProblems, Unauthenticated, Forbidden, Unavailable))]
async fn add_time_off(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(time_off): ApiJson<TimeOff>,
) -> Result<Response, ApiError> {
    require_admin(&identity)?;
    let id = parse_id(&id)?;
    time_off.validate()?;
    match state.store.add_time_off(id, &time_off).await? {
        Some(_) => Ok(created(&time_off)),
        None => Err(ApiError::NotFound("contractor")),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RangeQuery {
    /// Start of the range (UTC), inclusive.
    #[param(example = "2026-12-01T00:00:00Z")]
    from: DateTime<Utc>,
    /// End of the range (UTC), exclusive; at most 92 days after `from`.
    #[param(example = "2026-12-08T00:00:00Z")]
    to: DateTime<Utc>,
}

/// Longest range one request may ask for.
const MAX_RANGE_DAYS: i64 = 92;

/// A contractor's live assignments overlapping [from, to), at most 92 days.
///
/// Roles: `admin`, a `dispatcher` of its region, the `contractor` itself.
#[utoipa::path(get, path = "/api/v1/contractors/{id}/assignments", tag = "contractors", operation_id = "listContractorAssignments",
    security(("bearer" = ["admin", "dispatcher", "contractor"])),
    params(("id" = uuid::Uuid, Path, description = "Contractor id"), RangeQuery),
    responses((status = 200, description = "The live assignments overlapping the range, by start", body = Vec<Assignment>),
        NotFound, InvalidQuery, Unauthenticated, Unavailable))]
async fn assignments(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiQuery(range): ApiQuery<RangeQuery>,
) -> Result<Json<Vec<Assignment>>, ApiError> {
    let id = parse_id(&id)?;
    visible_contractor(&state, &identity, id).await?;
    if range.to <= range.from {
        return Err(ApiError::validation("to", "to must be after from"));
    }
    if range.to - range.from > chrono::Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::validation(
            "to",
            format!("ask for at most {MAX_RANGE_DAYS} days at a time"),
        ));
    }
    Ok(Json(
        state
            .store
            .contractor_assignments(id, range.from, range.to)
            .await?,
    ))
}
