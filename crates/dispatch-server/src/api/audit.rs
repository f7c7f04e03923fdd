//! Audit records: read by an admin or a dispatcher of the record's region.

use axum::Json;
use axum::extract::{Path, State};
use dispatch_core::AuditId;
use dispatch_store::AuditRecord;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Identity, require_dispatcher};
use crate::error::ApiError;
use crate::openapi::{Forbidden, NotFound, Unauthenticated, Unavailable};
use crate::state::AppState;

/// The audit route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(read))
}

/// An audit record: why each contractor was (or was not) recommended, and the decision.
///
/// Roles: `admin`, a `dispatcher` of the record's region.
#[utoipa::path(get, path = "/api/v1/audit/{id}", tag = "audit", operation_id = "getAuditRecord",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("id" = uuid::Uuid, Path, description = "Audit id (`auditId` of a recommendation or an assignment)")),
    responses((status = 200, description = "The audit record", body = AuditRecord),
        NotFound, Unauthenticated, Forbidden, Unavailable))]
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
