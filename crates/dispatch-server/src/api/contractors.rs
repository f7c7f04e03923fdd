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

/// Creates a contractor (admin).
#[utoipa::path(post, path = "/api/v1/contractors", tag = "contractors", request_body = NewContractor,
    responses((status = 201, body = Contractor), (status = 422, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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

/// Replaces a contractor's profile (admin).
#[utoipa::path(put, path = "/api/v1/contractors/{id}", tag = "contractors", request_body = NewContractor, params(("id" = String, Path)),
    responses((status = 200, body = Contractor), (status = 404, body = Problem), (status = 422, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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

/// One contractor (admin, its region's dispatchers, itself).
#[utoipa::path(get, path = "/api/v1/contractors/{id}", tag = "contractors", params(("id" = String, Path)),
    responses((status = 200, body = Contractor), (status = 404, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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
    region: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A page of contractors (admin: any or all regions; dispatchers: one of theirs).
#[utoipa::path(get, path = "/api/v1/contractors", tag = "contractors", params(ListQuery),
    responses((status = 200, body = Page<Contractor>), (status = 422, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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

/// Adds time off (admin).
#[utoipa::path(post, path = "/api/v1/contractors/{id}/time-off", tag = "contractors", request_body = TimeOff, params(("id" = String, Path)),
    responses((status = 201, body = TimeOff), (status = 404, body = Problem), (status = 422, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// Longest range one request may ask for.
const MAX_RANGE_DAYS: i64 = 92;

/// A contractor's live assignments overlapping [from, to).
#[utoipa::path(get, path = "/api/v1/contractors/{id}/assignments", tag = "contractors", params(("id" = String, Path), RangeQuery),
    responses((status = 200, body = Vec<Assignment>), (status = 404, body = Problem), (status = 422, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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
