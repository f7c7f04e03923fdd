//! Regions: create (admin), list and read (what the caller serves).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use dispatch_core::{Region, RegionId};

use crate::api::created;
use crate::auth::{Identity, Role, require_admin};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/regions", get(list).post(create))
        .route("/api/v1/regions/{id}", get(read))
}

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
