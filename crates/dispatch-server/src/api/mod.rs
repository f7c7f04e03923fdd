//! The HTTP API under `/api/v1` (SPEC §6), one module per resource, merged here.
//!
//! Every handler authenticates with [`Identity`](crate::auth::Identity) and checks the role
//! itself (SPEC §3): a role without the right answers 403 before any object is looked up, and
//! an object of a region or contractor the caller may not see answers 404, exactly like a
//! missing one.

mod assignments;
mod audit;
mod bulk;
mod config;
mod contractors;
mod jobs;
mod plans;
mod recommendations;
mod regions;
mod schedule;
pub mod system;

#[cfg(feature = "ts")]
pub(crate) use assignments::{AssignmentRequest, MoveRequest};
#[cfg(feature = "ts")]
pub(crate) use plans::{PlanAccepted, PlanRequest};
#[cfg(feature = "ts")]
pub(crate) use recommendations::{RecommendationAccepted, RecommendationRequest};
#[cfg(feature = "ts")]
pub(crate) use schedule::Schedule;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dispatch_store::PageRequest;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

/// Every `/api/v1` route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(regions::router())
        .merge(schedule::router())
        .merge(contractors::router())
        .merge(bulk::router())
        .merge(jobs::router())
        .merge(recommendations::router())
        .merge(assignments::router())
        .merge(plans::router())
        .merge(audit::router())
        .merge(config::router())
}

/// `201 Created` with the whole resource.
pub fn created<T: Serialize>(value: &T) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

/// `?limit=&cursor=` of list endpoints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Paging {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Default page size.
const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
const MAX_LIMIT: u32 = 200;

impl Paging {
    /// The store's page request, with the limit checked.
    pub fn into_request(self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation(
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok(PageRequest {
            limit,
            cursor: self.cursor,
        })
    }
}
