//! The HTTP edge of a hub: negotiate, the WebSocket upgrade, and the plain-text answers the
//! official clients expect for everything else.
//!
//! Status codes and texts follow ASP.NET Core's `HttpConnectionDispatcher`: negotiate errors
//! that concern the protocol version are HTTP 200 with `{"error": …}` (the JS client reads
//! them), while unknown connections are 404, a missing id 400, and so on, as `text/plain`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::http::header::{
    ACCEPT, ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_HEADERS,
    CONTENT_TYPE, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;

use crate::auth::{AuthRequest, Principal, bearer_token};
use crate::connection::{self, ConnectionStart};
use crate::hub::HubShared;
use crate::ids::{ConnectionId, ConnectionToken};
use crate::registry::{ClaimError, TokenGuard, TokenState};

/// The newest negotiate protocol version this server speaks.
const MAX_NEGOTIATE_VERSION: i64 = 1;

pub(crate) fn router(hub: Arc<HubShared>, path: &str) -> Router {
    let path = path.trim_end_matches('/');
    let negotiate_path = format!("{path}/negotiate");
    let hub_path = if path.is_empty() { "/" } else { path };
    Router::new()
        .route(&negotiate_path, post(negotiate).options(preflight))
        .route(
            hub_path,
            axum::routing::get(connect)
                .post(send)
                .delete(delete)
                .options(preflight),
        )
        .with_state(hub)
}

type Params = Query<HashMap<String, String>>;

/// Query keys are matched case-insensitively, as ASP.NET Core does.
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(CONTENT_TYPE, "text/plain")], text).into_response()
}

/// Why a request is refused before it reaches the hub.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// The browser origin is not on the allowed list: 403.
    Origin,
    /// The authentication hook said no: 401.
    Unauthorized,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Origin => plain(StatusCode::FORBIDDEN, "Origin not allowed"),
            Self::Unauthorized => plain(StatusCode::UNAUTHORIZED, "Unauthorized"),
        }
    }
}

/// Refuses a browser origin that is not on the allowed list; otherwise says which CORS headers
/// the response needs (none when no list is configured: same-origin only).
fn check_origin(hub: &HubShared, headers: &HeaderMap) -> Result<Option<HeaderValue>, Refusal> {
    let (Some(allowed), Some(origin)) = (&hub.options.allowed_origins, headers.get(ORIGIN)) else {
        return Ok(None);
    };
    let matches = origin
        .to_str()
        .is_ok_and(|origin| allowed.iter().any(|allowed| allowed == origin));
    if matches {
        Ok(Some(origin.clone()))
    } else {
        Err(Refusal::Origin)
    }
}

fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn authenticate(
    hub: &HubShared,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Principal, Refusal> {
    let token = bearer_token(headers, param(params, "access_token"));
    hub.authenticate(&AuthRequest { token, headers })
        .map_err(|error| {
            tracing::debug!(reason = %error.reason, "authentication refused");
            Refusal::Unauthorized
        })
}

async fn preflight(State(hub): State<Arc<HubShared>>, headers: HeaderMap) -> Response {
    let origin = match check_origin(&hub, &headers) {
        Ok(origin) => origin,
        Err(refusal) => return refusal.into_response(),
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    if origin.is_some() {
        let response_headers = response.headers_mut();
        response_headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        if let Some(requested) = headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
            response_headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        }
    }
    with_cors(response, origin)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NegotiateResponse<'a> {
    negotiate_version: i64,
    connection_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_token: Option<&'a str>,
    available_transports: [AvailableTransport; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AvailableTransport {
    transport: &'static str,
    transfer_formats: [&'static str; 2],
}

#[derive(Serialize)]
struct NegotiateError {
    error: String,
}

async fn negotiate(
    State(hub): State<Arc<HubShared>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let origin = match check_origin(&hub, &headers) {
        Ok(origin) => origin,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = authenticate(&hub, &headers, &params) {
        return with_cors(refusal.into_response(), origin);
    }
    // Clients that send no version (the Python ones) get version 0, where the connection id
    // doubles as the token; asking for a newer version than ours gets ours.
    let version = match param(&params, "negotiateVersion") {
        None => 0,
        Some(text) => match text.parse::<i64>() {
            Ok(version) if version < 0 => {
                let error = format!(
                    "The client requested version '{version}', but the server does not support this version."
                );
                return with_cors(axum::Json(NegotiateError { error }).into_response(), origin);
            }
            Ok(version) => version.min(MAX_NEGOTIATE_VERSION),
            Err(_) => {
                let error = "The client requested a non-integer protocol version.".to_owned();
                return with_cors(axum::Json(NegotiateError { error }).into_response(), origin);
            }
        },
    };
    let (connection_id, token) = hub.registry.negotiate(version >= 1);
    let body = NegotiateResponse {
        negotiate_version: version,
        connection_id: connection_id.as_str(),
        connection_token: (version >= 1).then(|| token.as_str()),
        available_transports: [AvailableTransport {
            transport: "WebSockets",
            transfer_formats: ["Text", "Binary"],
        }],
    };
    with_cors(axum::Json(body).into_response(), origin)
}

async fn connect(
    State(hub): State<Arc<HubShared>>,
    headers: HeaderMap,
    Query(params): Params,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let origin = match check_origin(&hub, &headers) {
        Ok(origin) => origin,
        Err(refusal) => return refusal.into_response(),
    };
    let principal = match authenticate(&hub, &headers, &params) {
        Ok(principal) => principal,
        Err(refusal) => return with_cors(refusal.into_response(), origin),
    };
    let token = param(&params, "id").map(ConnectionToken::from);
    let Ok(upgrade) = upgrade else {
        let response = match token {
            None => plain(StatusCode::BAD_REQUEST, "Connection ID required"),
            Some(token) if hub.registry.token_state(&token).is_none() => {
                plain(StatusCode::NOT_FOUND, "No Connection with that ID")
            }
            Some(_) if accepts_event_stream(&headers) => plain(
                StatusCode::NOT_FOUND,
                "ServerSentEvents transport not supported by this end point type",
            ),
            Some(_) => plain(
                StatusCode::NOT_FOUND,
                "LongPolling transport not supported by this end point type",
            ),
        };
        return with_cors(response, origin);
    };
    let (connection_id, token) = match token {
        // skipNegotiation: the WebSocket opens a brand-new connection on the spot.
        None => (ConnectionId::random(), None),
        Some(token) => match hub.registry.claim(&token) {
            Ok(connection_id) => (connection_id, Some(token)),
            Err(ClaimError::Unknown) => {
                return with_cors(
                    plain(StatusCode::NOT_FOUND, "No Connection with that ID"),
                    origin,
                );
            }
            Err(ClaimError::AlreadyActive) => {
                return with_cors(
                    plain(
                        StatusCode::CONFLICT,
                        "Connection already has an active transport",
                    ),
                    origin,
                );
            }
        },
    };
    let start = ConnectionStart {
        connection_id,
        token: TokenGuard {
            registry: Arc::clone(&hub.registry),
            token,
        },
        principal,
    };
    let options = &hub.options;
    // Small socket buffers keep an idle connection cheap; a frame may carry several hub
    // messages, so the frame limit is a multiple of the message limit, which the hub
    // protocol parser enforces per message.
    let frame_limit = options.max_message_size.saturating_mul(4).max(64 * 1024);
    let upgrade = upgrade
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_message_size(frame_limit)
        .max_frame_size(frame_limit);
    let hub = Arc::clone(&hub);
    upgrade.on_upgrade(move |socket| connection::run(hub, start, socket))
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// Client-to-server sends by POST exist for Server-Sent Events and Long Polling only.
async fn send(
    State(hub): State<Arc<HubShared>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let origin = match check_origin(&hub, &headers) {
        Ok(origin) => origin,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = authenticate(&hub, &headers, &params) {
        return with_cors(refusal.into_response(), origin);
    }
    let response = match param(&params, "id").map(ConnectionToken::from) {
        None => plain(StatusCode::BAD_REQUEST, "Connection ID required"),
        Some(token) => match hub.registry.token_state(&token) {
            None => plain(StatusCode::NOT_FOUND, "No Connection with that ID"),
            Some(TokenState::Active | TokenState::Negotiated) => plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "POST requests are not allowed for WebSocket connections.",
            ),
        },
    };
    with_cors(response, origin)
}

/// DELETE ends Long Polling connections only; WebSocket ones end by closing the socket.
async fn delete(
    State(hub): State<Arc<HubShared>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let origin = match check_origin(&hub, &headers) {
        Ok(origin) => origin,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = authenticate(&hub, &headers, &params) {
        return with_cors(refusal.into_response(), origin);
    }
    let response = match param(&params, "id").map(ConnectionToken::from) {
        None => plain(StatusCode::BAD_REQUEST, "Connection ID required"),
        Some(token) if hub.registry.token_state(&token).is_none() => {
            plain(StatusCode::NOT_FOUND, "No Connection with that ID")
        }
        Some(_) => plain(
            StatusCode::BAD_REQUEST,
            "Cannot terminate this connection using the DELETE endpoint.",
        ),
    };
    with_cors(response, origin)
}
