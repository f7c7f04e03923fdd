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
use crate::state::AppState;

/// The region routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read))
}

/// Creates a region (admin).
#[utoipa::path(post, path = "/api/v1/regions", tag = "regions", request_body = Region,
    responses((status = 201, body = Region), (status = 409, body = Problem), (status = 422, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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
#[utoipa::path(get, path = "/api/v1/regions", tag = "regions",
    responses((status = 200, body = Vec<Region>), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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
#[utoipa::path(get, path = "/api/v1/regions/{id}", tag = "regions", params(("id" = String, Path, description = "Region slug")),
    responses((status = 200, body = Region), (status = 404, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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
