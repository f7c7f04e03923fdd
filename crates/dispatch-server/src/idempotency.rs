//! `Idempotency-Key` on POSTs that create things: the same key and body replays the first
//! answer, the same key with another body is 422, and a retry while the first is still running
//! is 409. Keys are scoped to the caller (token subject) and the path.
//!
//! The claim on a key is a row in the store, so it holds across restarts and across nodes.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dispatch_store::IdempotencyBegin;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::state::AppState;

/// The header clients send.
pub const HEADER: &str = "idempotency-key";

/// Longest key accepted.
const MAX_KEY_LEN: usize = 255;

/// Middleware for the creating POST routes.
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN => key.to_owned(),
        _ => {
            return ApiError::validation(
                "Idempotency-Key",
                format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )
            .into_response();
        }
    };
    // Without a valid token the handler answers 401; nothing to remember.
    let Some(subject) = crate::auth::bearer_of(request.headers())
        .and_then(|token| state.keys.verify(token).ok())
        .map(|claims| claims.sub)
    else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::PayloadTooLarge(MAX_BODY_BYTES).into_response(),
    };
    let scope = format!("{subject} {}", parts.uri.path());
    let hash = hex::encode(Sha256::digest(&bytes));
    match state.store.idempotency_begin(&scope, &key, &hash).await {
        Ok(IdempotencyBegin::Started) => {}
        Ok(IdempotencyBegin::Replay { status, body }) => return replay(status, body),
        Ok(IdempotencyBegin::Mismatch) => {
            return ApiError::validation(
                "Idempotency-Key",
                "this Idempotency-Key was used with a different body",
            )
            .into_response();
        }
        Ok(IdempotencyBegin::InProgress) => {
            return ApiError::conflict(
                "idempotency-in-progress",
                "a request with this Idempotency-Key is still being processed; retry later",
            )
            .into_response();
        }
        Err(error) => return ApiError::from(error).into_response(),
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    // Server-side failures are not answers worth replaying: let the client retry for real.
    if status.is_server_error() {
        if let Err(error) = state.store.idempotency_abandon(&scope, &key).await {
            tracing::warn!(%error, "could not release an idempotency key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => return ApiError::internal(error).into_response(),
    };
    if let Err(error) = state
        .store
        .idempotency_finish(&scope, &key, status.as_u16(), &body)
        .await
    {
        tracing::warn!(%error, "could not record an idempotent answer");
    }
    Response::from_parts(parts, Body::from(body))
}

fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let content_type = if status.is_client_error() {
        "application/problem+json"
    } else {
        "application/json"
    };
    let mut response = (status, [(CONTENT_TYPE, content_type)], body).into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
