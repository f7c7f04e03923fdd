//! Audit records: read by an admin or a dispatcher of the record's region.

use axum::Json;
use axum::extract::{Path, State};
use dispatch_core::AuditId;
use dispatch_store::AuditRecord;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Identity, require_dispatcher};
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// The audit route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(read))
}

/// An audit record: why each contractor was (or was not) recommended, and the decision.
#[utoipa::path(get, path = "/api/v1/audit/{id}", tag = "audit", params(("id" = String, Path, description = "Audit id")),
    responses((status = 200, body = AuditRecord), (status = 404, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
async fn read(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<AuditRecord>, ApiError> {
    require_dispatcher(&identity)?;
    let id: AuditId = id.parse().map_err(|_| ApiError::NotFound("audit record"))?;
    let record = state
        .store
        .audit(id)
        .await?
        .filter(|record| identity.can_dispatch(&record.region))
        .ok_or(ApiError::NotFound("audit record"))?;
    Ok(Json(record))
}
