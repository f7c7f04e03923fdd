//! Audit records: read by an admin or a dispatcher of the record's region.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use dispatch_core::AuditId;
use dispatch_store::AuditRecord;

use crate::auth::Identity;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/audit/{id}", get(read))
}

async fn read(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<AuditRecord>, ApiError> {
    let id: AuditId = id.parse().map_err(|_| ApiError::NotFound("audit record"))?;
    let record = state
        .store
        .audit(id)
        .await?
        .filter(|record| identity.can_dispatch(&record.region))
        .ok_or(ApiError::NotFound("audit record"))?;
    Ok(Json(record))
}
