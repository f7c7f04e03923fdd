//! The HTTP edge of a hub: negotiate, the WebSocket upgrade, and the plain-text answers the
//! official clients expect for everything else.
//!
//! Status codes and texts follow ASP.NET Core's `HttpConnectionDispatcher`: negotiate errors
//! that concern the protocol version are HTTP 200 with `{"error": …}` (the JS client reads
//! them), while unknown connections are 404, a missing id 400, and so on, as `text/plain`.
//!
//! Which tokens exist and which transport holds each is the `negotiation` module's table. With
//! a signing key, a transport request whose token this node's table does not know first offers
//! it to [`TokenTable::adopt`](crate::negotiation::TokenTable::adopt): a token signed by
//! another node of the cluster then counts as negotiated here (the `token` module).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::header::{
    ACCEPT, ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_HEADERS,
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, EXPIRES, ORIGIN, PRAGMA, RETRY_AFTER, VARY,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::Serialize;

use crate::auth::{AuthRequest, Principal, bearer_token};
use crate::connection::{self, ConnectionStart};
use crate::http_transport::{CloseOnDrop, HttpChannel, SendRefusal, frame_bytes, sse_event};
use crate::ids::{ConnectionId, ConnectionToken};
use crate::limits::UserSlot;
use crate::negotiation::{ClaimError, EarlyInput, NegotiateRefusal, ResumeSlot, TokenState};
use crate::options::{HubOptions, TransportKind};
use crate::shared::HubShared;

/// The newest negotiate protocol version this server speaks.
const MAX_NEGOTIATE_VERSION: i64 = 1;

pub(crate) fn router(hub: Arc<HubShared>, path: &str) -> Router {
    let body_limit = frame_limit(&hub.options);
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
        .layer(DefaultBodyLimit::max(body_limit))
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

/// A refusal for now, with `Retry-After` (seconds): a cap is reached, not an error.
fn busy(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/plain"), (RETRY_AFTER, "1")],
        text,
    )
        .into_response()
}

fn negotiate_refused(refusal: NegotiateRefusal) -> Response {
    match refusal {
        NegotiateRefusal::UserBusy => busy(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many negotiations waiting for their transport",
        ),
        NegotiateRefusal::Full => busy(StatusCode::SERVICE_UNAVAILABLE, "Server busy"),
    }
}

/// Counts the new connection against its user's cap; `None` when the user is at it.
fn user_slot(hub: &HubShared, principal: &Principal) -> Option<Option<UserSlot>> {
    let slot = hub.user_connections.acquire(principal.user_id.as_ref());
    if slot.is_none() {
        tracing::debug!(user = ?principal.user_id, "connection refused: user at its cap");
    }
    slot
}

/// The answer to a connection over its user's cap.
fn too_many_connections() -> Response {
    busy(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many connections for this user",
    )
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

/// A refused request and the CORS origin its answer still carries.
struct Refused {
    refusal: Refusal,
    origin: Option<HeaderValue>,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        with_cors(self.refusal.into_response(), self.origin)
    }
}

/// The checks every hub request passes first: an allowed origin, then authentication. Returns
/// the CORS origin to echo and the caller.
fn admit(
    hub: &HubShared,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<(Option<HeaderValue>, Principal), Refused> {
    let origin = check_origin(hub, headers).map_err(|refusal| Refused {
        refusal,
        origin: None,
    })?;
    match authenticate(hub, headers, params) {
        Ok(principal) => Ok((origin, principal)),
        Err(refusal) => Err(Refused { refusal, origin }),
    }
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
    /// First, as .NET writes it; only when the client asked and the hub allows it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    use_stateful_reconnect: bool,
    negotiate_version: i64,
    connection_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_token: Option<&'a str>,
    available_transports: Vec<AvailableTransport>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AvailableTransport {
    transport: &'static str,
    transfer_formats: &'static [&'static str],
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
    let (origin, principal) = match admit(&hub, &headers, &params) {
        Ok(admitted) => admitted,
        Err(refused) => return refused.into_response(),
    };
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
    let stateful = hub.options.allow_stateful_reconnect
        && param(&params, "useStatefulReconnect")
            .is_some_and(|flag| flag.eq_ignore_ascii_case("true"));
    let (connection_id, token) =
        match hub
            .tokens
            .negotiate(version >= 1, stateful, principal.user_id.as_ref())
        {
            Ok(issued) => issued,
            Err(refusal) => {
                tracing::debug!(?refusal, user = ?principal.user_id, "negotiate refused");
                return with_cors(negotiate_refused(refusal), origin);
            }
        };
    let transports = hub.options.transports;
    let available_transports = [
        TransportKind::WebSockets,
        TransportKind::ServerSentEvents,
        TransportKind::LongPolling,
    ]
    .into_iter()
    .filter(|kind| transports.offers(*kind))
    .map(|kind| AvailableTransport {
        transport: kind.name(),
        transfer_formats: if kind.supports_binary() {
            &["Text", "Binary"]
        } else {
            &["Text"]
        },
    })
    .collect();
    let body = NegotiateResponse {
        use_stateful_reconnect: stateful,
        negotiate_version: version,
        connection_id: connection_id.as_str(),
        connection_token: (version >= 1).then(|| token.as_str()),
        available_transports,
    };
    with_cors(axum::Json(body).into_response(), origin)
}

fn transport_enabled(hub: &HubShared, kind: TransportKind) -> bool {
    hub.options.transports.offers(kind)
}

fn not_supported(kind: TransportKind) -> Response {
    let text = match kind {
        TransportKind::WebSockets => "WebSockets transport not supported by this end point type",
        TransportKind::ServerSentEvents => {
            "ServerSentEvents transport not supported by this end point type"
        }
        TransportKind::LongPolling => "LongPolling transport not supported by this end point type",
    };
    plain(StatusCode::NOT_FOUND, text)
}

fn claim_refused(error: ClaimError) -> Response {
    match error {
        ClaimError::Unknown => plain(StatusCode::NOT_FOUND, "No Connection with that ID"),
        ClaimError::AlreadyActive => plain(
            StatusCode::CONFLICT,
            "Connection already has an active transport",
        ),
    }
}

/// Headers that keep proxies and browsers from caching transport responses.
const NO_CACHE: [(HeaderName, &str); 3] = [
    (CACHE_CONTROL, "no-cache, no-store"),
    (PRAGMA, "no-cache"),
    (EXPIRES, "Thu, 01 Jan 1970 00:00:00 GMT"),
];

async fn connect(
    State(hub): State<Arc<HubShared>>,
    headers: HeaderMap,
    Query(params): Params,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let (origin, principal) = match admit(&hub, &headers, &params) {
        Ok(admitted) => admitted,
        Err(refused) => return refused.into_response(),
    };
    let token = param(&params, "id").map(ConnectionToken::from);
    let response = match upgrade {
        Ok(upgrade) => websocket(&hub, token, principal, upgrade),
        Err(_) => {
            let kind = if accepts_event_stream(&headers) {
                TransportKind::ServerSentEvents
            } else {
                TransportKind::LongPolling
            };
            match token {
                None => plain(StatusCode::BAD_REQUEST, "Connection ID required"),
                Some(_) if !transport_enabled(&hub, kind) => not_supported(kind),
                Some(token) => http_transport(&hub, token, principal, kind).await,
            }
        }
    };
    with_cors(response, origin)
}

fn websocket(
    hub: &Arc<HubShared>,
    token: Option<ConnectionToken>,
    principal: Principal,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !transport_enabled(hub, TransportKind::WebSockets) {
        return not_supported(TransportKind::WebSockets);
    }
    // Small socket buffers keep an idle connection cheap; a frame may carry several hub
    // messages, so the frame limit is a multiple of the message limit, which the hub
    // protocol parser enforces per message.
    let frame_limit = frame_limit(&hub.options);
    let upgrade = upgrade
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_message_size(frame_limit)
        .max_frame_size(frame_limit);
    let mut resume = None;
    let (connection_id, token, early_input, user_slot) = match token {
        // skipNegotiation: the WebSocket opens a brand-new connection on the spot.
        None => match user_slot(hub, &principal) {
            Some(slot) => (ConnectionId::random(), None, Vec::new(), slot),
            None => return too_many_connections(),
        },
        Some(token) => {
            hub.tokens
                .adopt(&token, hub.options.allow_stateful_reconnect);
            // Stateful reconnect: the same token again, within the window, resumes the
            // logical connection on this new socket.
            if let Some(TokenState::WebSocket(Some(slot))) = hub.tokens.token_state(&token)
                && slot.enabled.load(Ordering::Acquire)
            {
                return upgrade.on_upgrade(move |socket| async move {
                    let _ = slot.sockets.send(socket).await;
                });
            }
            // A new logical connection from here on: it counts against its user's cap.
            let Some(user_slot) = user_slot(hub, &principal) else {
                return too_many_connections();
            };
            if hub.tokens.negotiated_stateful(&token) {
                resume = Some(ResumeSlot::new());
            }
            let slot = resume.as_ref().map(|(slot, _)| Arc::clone(slot));
            match hub.tokens.claim(&token, TokenState::WebSocket(slot)) {
                Ok((connection_id, early_input)) => {
                    (connection_id, Some(token), early_input, user_slot)
                }
                Err(error) => return claim_refused(error),
            }
        }
    };
    let start = ConnectionStart {
        transport: TransportKind::WebSockets,
        connection_id,
        token: hub.tokens.guard(token),
        principal,
        resume,
        early_input,
        user_slot,
    };
    let hub = Arc::clone(hub);
    upgrade.on_upgrade(move |socket| connection::run(hub, start, socket))
}
/// The largest frame or POST body accepted: several messages may travel together.
fn frame_limit(options: &HubOptions) -> usize {
    options.max_message_size.saturating_mul(4).max(64 * 1024)
}

/// A `GET` without upgrade: opens Server-Sent Events or Long Polling, or is a later poll.
async fn http_transport(
    hub: &Arc<HubShared>,
    token: ConnectionToken,
    principal: Principal,
    kind: TransportKind,
) -> Response {
    // A signed token of another node opens the connection here, but its later polls and POSTs
    // must come here too: these transports need sticky sessions (see the `token` module).
    hub.tokens
        .adopt(&token, hub.options.allow_stateful_reconnect);
    match hub.tokens.token_state(&token) {
        None => plain(StatusCode::NOT_FOUND, "No Connection with that ID"),
        Some(TokenState::Negotiated) => start_http_transport(hub, token, principal, kind).await,
        Some(TokenState::Http(channel))
            if channel.kind == TransportKind::LongPolling && kind == TransportKind::LongPolling =>
        {
            match channel.poll(hub.options.long_poll_timeout).await {
                Some(body) => (
                    StatusCode::OK,
                    NO_CACHE,
                    [(CONTENT_TYPE, "application/octet-stream")],
                    body,
                )
                    .into_response(),
                None => (StatusCode::NO_CONTENT, NO_CACHE).into_response(),
            }
        }
        Some(TokenState::Http(channel)) if channel.kind == kind => plain(
            StatusCode::CONFLICT,
            "Connection already has an active transport",
        ),
        Some(_) => plain(
            StatusCode::BAD_REQUEST,
            "Cannot change transports mid-connection",
        ),
    }
}

async fn start_http_transport(
    hub: &Arc<HubShared>,
    token: ConnectionToken,
    principal: Principal,
    kind: TransportKind,
) -> Response {
    let Some(user_slot) = user_slot(hub, &principal) else {
        return too_many_connections();
    };
    let (channel, socket, outgoing_rx) = HttpChannel::new(kind);
    let channel = Arc::new(channel);
    let (connection_id, early_input) = match hub
        .tokens
        .claim(&token, TokenState::Http(Arc::clone(&channel)))
    {
        Ok(claimed) => claimed,
        Err(error) => return claim_refused(error),
    };
    let token = hub.tokens.guard(Some(token));
    // Long polling: the token outlives the connection task until the client has polled what
    // is left (the Close message above all) and been told the connection is over, so the
    // poll watcher below holds it. SSE delivers the rest on its open response.
    let (token, poll_token) = match kind {
        TransportKind::LongPolling => (hub.tokens.guard(None), Some(token)),
        _ => (token, None),
    };
    let start = ConnectionStart {
        transport: kind,
        connection_id,
        token,
        principal,
        resume: None,
        early_input,
        user_slot,
    };
    tokio::spawn(connection::run(Arc::clone(hub), start, socket));
    match kind {
        TransportKind::ServerSentEvents => {
            let guard = CloseOnDrop(Arc::clone(&channel));
            // The comment line goes out at once so the browser's EventSource opens.
            let opening = futures_util::stream::once(async { Bytes::from_static(b":\r\n") });
            let events = outgoing_rx.map(move |frame| {
                let _keep_until_the_body_is_dropped = &guard;
                sse_event(&frame_bytes(frame))
            });
            let body = Body::from_stream(opening.chain(events).map(Ok::<_, Infallible>));
            (
                StatusCode::OK,
                [
                    (CONTENT_TYPE, "text/event-stream"),
                    (CACHE_CONTROL, "no-cache,no-store"),
                    (PRAGMA, "no-cache"),
                    (CONTENT_ENCODING, "identity"),
                ],
                body,
            )
                .into_response()
        }
        _ => {
            channel.keep_for_polls(outgoing_rx).await;
            let gap = hub.options.disconnect_timeout;
            tokio::spawn(async move {
                // Dropped when this watcher ends: the token is forgotten (404 from then on).
                let _token = poll_token;
                // Long-polling clients that stop polling are gone; .NET scans once a second.
                // A connection the server ended stays reachable until the client has been told
                // (204 or its DELETE), or has not polled for the disconnect timeout.
                let mut scan = tokio::time::interval(Duration::from_secs(1));
                loop {
                    scan.tick().await;
                    if channel.has_ended() {
                        break;
                    }
                    if channel.poll_gap_exceeded(gap) {
                        channel.close();
                        break;
                    }
                }
            });
            // The first poll answers at once: it only starts the connection.
            (StatusCode::OK, NO_CACHE).into_response()
        }
    }
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// Client-to-server data for Server-Sent Events and Long Polling.
async fn send(
    State(hub): State<Arc<HubShared>>,
    headers: HeaderMap,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let origin = match admit(&hub, &headers, &params) {
        Ok((origin, _)) => origin,
        Err(refused) => return refused.into_response(),
    };
    let limit = frame_limit(&hub.options);
    let token = param(&params, "id").map(ConnectionToken::from);
    // A signed token of another node counts as negotiated here.
    if let Some(token) = &token {
        hub.tokens
            .adopt(token, hub.options.allow_stateful_reconnect);
    }
    let response = match token {
        None => plain(StatusCode::BAD_REQUEST, "Connection ID required"),
        // Before any transport: kept for the one that comes (.NET's pipe exists from
        // negotiate on, so such a POST succeeds there too).
        Some(token) => match hub.tokens.keep_early_input(&token, &body, limit) {
            EarlyInput::Kept => StatusCode::OK.into_response(),
            EarlyInput::TooLarge => plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too much data sent before the transport started",
            ),
            EarlyInput::NotWaiting(None | Some(TokenState::Negotiated)) => {
                plain(StatusCode::NOT_FOUND, "No Connection with that ID")
            }
            EarlyInput::NotWaiting(Some(TokenState::WebSocket(_))) => plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "POST requests are not allowed for WebSocket connections.",
            ),
            EarlyInput::NotWaiting(Some(TokenState::Http(channel))) => {
                match channel.send(body).await {
                    Ok(()) => StatusCode::OK.into_response(),
                    Err(SendRefusal::Busy) => plain(
                        StatusCode::CONFLICT,
                        "Another send is already in progress for this connection",
                    ),
                    Err(SendRefusal::Gone) => {
                        plain(StatusCode::NOT_FOUND, "No Connection with that ID")
                    }
                }
            }
        },
    };
    with_cors(response, origin)
}

/// DELETE ends Long Polling connections; the others end by closing their request or socket.
async fn delete(
    State(hub): State<Arc<HubShared>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let origin = match admit(&hub, &headers, &params) {
        Ok((origin, _)) => origin,
        Err(refused) => return refused.into_response(),
    };
    let response = match param(&params, "id").map(ConnectionToken::from) {
        None => plain(StatusCode::BAD_REQUEST, "Connection ID required"),
        Some(token) => match hub.tokens.token_state(&token) {
            None => plain(StatusCode::NOT_FOUND, "No Connection with that ID"),
            Some(TokenState::Http(channel)) if channel.kind == TransportKind::LongPolling => {
                channel.end_polls();
                StatusCode::ACCEPTED.into_response()
            }
            Some(_) => plain(
                StatusCode::BAD_REQUEST,
                "Cannot terminate this connection using the DELETE endpoint.",
            ),
        },
    };
    with_cors(response, origin)
}
