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
use crate::state::AppState;

/// The region routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read))
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
