//! The scoring configuration: read (admin, dispatchers), replace with `If-Match` (admin).

use axum::extract::{Path, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dispatch_core::{NewScoringConfig, ScoringConfig};

use crate::auth::{Identity, Role, require_admin};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/config", get(current).put(replace))
        .route("/api/v1/config/{version}", get(version))
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

async fn current(State(state): State<AppState>, identity: Identity) -> Result<Response, ApiError> {
    may_read(&identity)?;
    Ok(with_etag(state.store.current_config().await?))
}

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
