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
#[utoipa::path(get, path = "/api/v1/config", tag = "config",
    responses((status = 200, body = ScoringConfig), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
async fn current(State(state): State<AppState>, identity: Identity) -> Result<Response, ApiError> {
    may_read(&identity)?;
    Ok(with_etag(state.store.current_config().await?))
}

/// An older version, as it was.
#[utoipa::path(get, path = "/api/v1/config/{version}", tag = "config", params(("version" = u32, Path, description = "Configuration version")),
    responses((status = 200, body = ScoringConfig), (status = 404, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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

/// Replaces the configuration (admin); `If-Match` must name the current version.
#[utoipa::path(put, path = "/api/v1/config", tag = "config", request_body = NewScoringConfig,
    params(("If-Match" = String, Header, description = "The current version, e.g. \"3\"")),
    responses((status = 200, body = ScoringConfig), (status = 409, description = "Stale version", body = Problem),
        (status = 428, description = "If-Match missing", body = Problem), (status = 422, body = Problem), (status = 401, description = "No valid bearer token", body = Problem), (status = 403, description = "The token lacks the right", body = Problem)))]
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
