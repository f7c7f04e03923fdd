//! The scoring configuration: read (admin, dispatchers), replace with `If-Match` (admin).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use dispatch_core::{NewScoringConfig, ScoringConfig};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Identity, Role, require_admin};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::openapi::{BodyProblems, Forbidden, NotFound, Unauthenticated, Unavailable};
use crate::state::AppState;

/// The configuration routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current, replace))
        .routes(routes!(version))
}

fn may_read(identity: &Identity) -> Result<(), ApiError> {
    match identity.role {
        Role::Admin | Role::Dispatcher => Ok(()),
        Role::Contractor => Err(ApiError::Forbidden(
            "contractors cannot read the scoring configuration".to_owned(),
        )),
    }
}

fn with_etag(config: ScoringConfig) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", config.version)).ok();
    let mut response = Json(config).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

/// The current scoring configuration, with its version as ETag.
///
/// Roles: `admin`, `dispatcher`.
#[utoipa::path(get, path = "/api/v1/config", tag = "config", operation_id = "getConfig",
    security(("bearer" = ["admin", "dispatcher"])),
    responses((status = 200, description = "The current configuration", body = ScoringConfig,
            headers(("ETag" = String, description = "The version, quoted: send it back as `If-Match` to replace"))),
        Unauthenticated, Forbidden, Unavailable))]
async fn current(State(state): State<AppState>, identity: Identity) -> Result<Response, ApiError> {
    may_read(&identity)?;
    Ok(with_etag(state.store.current_config().await?))
}

/// An older version of the scoring configuration, as it was.
///
/// Roles: `admin`, `dispatcher`.
#[utoipa::path(get, path = "/api/v1/config/{version}", tag = "config", operation_id = "getConfigVersion",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("version" = u32, Path, description = "Configuration version", example = 1)),
    responses((status = 200, description = "That version, as it was", body = ScoringConfig,
            headers(("ETag" = String, description = "The version, quoted"))),
        NotFound, Unauthenticated, Forbidden, Unavailable))]
async fn version(
    State(state): State<AppState>,
    identity: Identity,
    Path(version): Path<String>,
) -> Result<Response, ApiError> {
    may_read(&identity)?;
    let version: u32 = version
        .parse()
        .map_err(|_| ApiError::NotFound("configuration version"))?;
    let config = state
        .store
        .config_version(version)
        .await?
        .ok_or(ApiError::NotFound("configuration version"))?;
    Ok(with_etag(config))
}

/// The version an `If-Match` names: `"3"`, `3` or `W/"3"`.
fn if_match(headers: &HeaderMap) -> Result<u32, ApiError> {
    let value = headers
        .get(IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?
        .to_str()
        .map_err(|_| {
            ApiError::validation("If-Match", "If-Match must be a version such as \"3\"")
        })?;
    value
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map_err(|_| ApiError::validation("If-Match", "If-Match must be a version such as \"3\""))
}

/// Replaces the scoring configuration; `If-Match` must name the current version.
///
/// Roles: `admin`.
#[utoipa::path(put, path = "/api/v1/config", tag = "config", operation_id = "replaceConfig",
    security(("bearer" = ["admin"])),
    params(("If-Match" = String, Header, description = "The current version as its ETag gives it, e.g. `\"3\"`", example = "\"1\"")),
    request_body(content = NewScoringConfig, description = "The new weights and limits (the service assigns the version)",
        example = json!({"weights": {"travelTime": 0.35, "earliestStart": 0.3, "skillFit": 0.1, "rating": 0.1, "workload": 0.15},
            "limits": {"maxTravelKm": 40.0, "roadFactor": 1.3, "averageSpeedKmh": 40.0, "horizonHours": 168,
                "travelWorstMinutes": 120, "slotStepMinutes": 5, "maxCandidates": 200}})),
    responses((status = 200, description = "The new configuration, its version one more", body = ScoringConfig,
            headers(("ETag" = String, description = "The new version, quoted"))),
        (status = 409, description = "`If-Match` names an older version (`stale-version`): read the current one and retry", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`If-Match` is missing (`precondition-required`)", body = Problem, content_type = "application/problem+json"),
        BodyProblems, Unauthenticated, Forbidden, Unavailable))]
async fn replace(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewScoringConfig>,
) -> Result<Response, ApiError> {
    require_admin(&identity)?;
    let expected = if_match(&headers)?;
    new.validate()?;
    Ok(with_etag(state.store.replace_config(expected, &new).await?))
}
