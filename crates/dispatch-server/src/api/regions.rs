//! Regions: create (admin), list and read (what the caller serves).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use dispatch_core::{Region, RegionId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::created;
use crate::auth::{Identity, Role, require_admin};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::openapi::{
    BodyProblems, Forbidden, IdempotencyKey, NotFound, Unauthenticated, Unavailable,
};
use crate::region_state::{CheckReport, StateReport};
use crate::state::AppState;

/// The region routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read))
        .routes(routes!(state_report))
        .routes(routes!(state_check))
}

/// The region, for an admin (404 when missing).
async fn admin_region(
    state: &AppState,
    identity: &Identity,
    id: String,
) -> Result<Region, ApiError> {
    require_admin(identity)?;
    state
        .store
        .region(&RegionId::new(id))
        .await?
        .ok_or(ApiError::NotFound("region"))
}

/// What this node holds of a region's live state: whether it is loaded, the change sequence
/// applied against the store's latest, contractors and bookings held, memory, build time.
///
/// Roles: `admin`. Each node answers for itself.
#[utoipa::path(get, path = "/api/v1/regions/{id}/state", tag = "regions",
    operation_id = "getRegionState", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Region slug", example = "west")),
    responses((status = 200, description = "This node's state of the region", body = StateReport),
        NotFound, Unauthenticated, Forbidden, Unavailable))]
async fn state_report(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<StateReport>, ApiError> {
    let region = admin_region(&state, &identity, id).await?;
    Ok(Json(state.regions.report(&region).await?))
}

/// Checks this node's live state of a region against the store now: catches up, compares with
/// a fresh build at the same change sequence, and on drift counts it
/// (`dispatch_region_repairs_total`), logs it and rebuilds. Loads the region if not loaded.
///
/// Roles: `admin`. Each node checks its own state.
#[utoipa::path(post, path = "/api/v1/regions/{id}/state/check", tag = "regions",
    operation_id = "checkRegionState", security(("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Region slug", example = "west")),
    responses((status = 200, description = "What the check found", body = CheckReport),
        NotFound, Unauthenticated, Forbidden, Unavailable))]
async fn state_check(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<CheckReport>, ApiError> {
    let region = admin_region(&state, &identity, id).await?;
    Ok(Json(state.regions.check(&region).await?))
}

/// Creates a region.
///
/// Roles: `admin`.
#[utoipa::path(post, path = "/api/v1/regions", tag = "regions", operation_id = "createRegion",
    security(("bearer" = ["admin"])), params(IdempotencyKey),
    request_body(content = Region, description = "The region: a slug id, a name, an IANA time zone",
        example = json!({"id": "west", "name": "West", "timeZone": "America/Los_Angeles"})),
    responses((status = 201, description = "The region, created", body = Region),
        (status = 409, description = "A region with this id exists already (`conflict`), or a request with this Idempotency-Key is still running (`idempotency-in-progress`)",
            body = Problem, content_type = "application/problem+json"),
        BodyProblems, Unauthenticated, Forbidden, Unavailable))]
async fn create(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(region): ApiJson<Region>,
) -> Result<Response, ApiError> {
    require_admin(&identity)?;
    region.validate()?;
    state.store.create_region(&region).await?;
    Ok(created(&region))
}

/// Whether the caller may see a region at all.
async fn may_see(
    state: &AppState,
    identity: &Identity,
    region: &RegionId,
) -> Result<bool, ApiError> {
    Ok(match identity.role {
        Role::Admin => true,
        Role::Dispatcher => identity.regions.contains(region),
        Role::Contractor => match identity.contractor_id {
            Some(id) => state
                .store
                .contractor(id)
                .await?
                .is_some_and(|contractor| &contractor.region == region),
            None => false,
        },
    })
}

/// The regions the caller may see.
///
/// Roles: `admin` (every region), `dispatcher` (its regions), `contractor` (its own region).
#[utoipa::path(get, path = "/api/v1/regions", tag = "regions", operation_id = "listRegions",
    security(("bearer" = ["admin", "dispatcher", "contractor"])),
    responses((status = 200, description = "The regions the caller may see", body = Vec<Region>),
        Unauthenticated, Unavailable))]
async fn list(
    State(state): State<AppState>,
    identity: Identity,
) -> Result<Json<Vec<Region>>, ApiError> {
    let mut visible = Vec::new();
    for region in state.store.regions().await? {
        if may_see(&state, &identity, &region.id).await? {
            visible.push(region);
        }
    }
    Ok(Json(visible))
}

/// One region.
///
/// Roles: `admin`, a `dispatcher` of the region, a `contractor` of the region.
#[utoipa::path(get, path = "/api/v1/regions/{id}", tag = "regions", operation_id = "getRegion",
    security(("bearer" = ["admin", "dispatcher", "contractor"])),
    params(("id" = String, Path, description = "Region slug", example = "west")),
    responses((status = 200, description = "The region", body = Region),
        NotFound, Unauthenticated, Unavailable))]
async fn read(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Region>, ApiError> {
    let id = RegionId::new(id);
    if !may_see(&state, &identity, &id).await? {
        return Err(ApiError::NotFound("region"));
    }
    state
        .store
        .region(&id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("region"))
}
