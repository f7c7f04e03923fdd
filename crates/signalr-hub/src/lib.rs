//! An ASP.NET Core SignalR hub server on tokio and axum, for the official clients unchanged.
//!
//! # Layout
//!
//! * [`HubBuilder`] / [`Hub`] — register methods (by name, typed arguments), hooks and the
//!   authentication hook, then mount [`Hub::router`] in an axum application.
//! * [`HubHandle`] — push to connections, groups, users or everyone from anywhere.
//! * `http` — negotiate (versions 0 and 1) and the transport requests.
//! * `http_transport` — Server-Sent Events and Long Polling behind a channel-backed socket.
//! * `connection` — one task per connection: handshake, keep-alive, client timeout, dispatch
//!   of invocations, coalesced writes.
//! * `registry` — live connections with their groups and users, indexed both ways.
//! * `stateful` — replay buffer and sequence tracking for stateful reconnect.
//! * `token` — signed connection tokens ([`HubOptions::connection_token_key`]), so that a
//!   WebSocket may open on another node than the one that answered negotiate.
//!
//! The wire format lives in the pure `signalr-protocol` crate; this crate does the I/O and
//! knows nothing of any application. Defaults follow ASP.NET Core ([`HubOptions`]).
//!
//! Behind a load balancer with several nodes, give every node the same
//! [`ConnectionTokenKey`] in [`HubOptions::connection_token_key`]: WebSocket clients then need
//! no sticky sessions (Server-Sent Events and Long Polling still do).
//!
//! ```no_run
//! use signalr_hub::{Caller, Hub, HubError};
//!
//! # async fn serve() -> std::io::Result<()> {
//! let hub = Hub::builder()
//!     .method("Echo", |_caller: Caller, (text,): (String,)| async move { Ok::<_, HubError>(text) })
//!     .build();
//! let app = hub.router("/hub");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

mod auth;
mod connection;
mod handle;
mod http;
mod http_transport;
mod hub;
mod ids;
mod method;
mod negotiation;
mod options;
mod outbound;
mod registry;
mod stateful;
mod token;

pub use auth::{AuthError, AuthRequest, Principal};
pub use handle::HubHandle;
pub use hub::{Hub, HubBuilder};
pub use ids::{ConnectionId, UserId};
pub use method::{BindError, Caller, FromArguments, HubError};
pub use options::{HubOptions, Transports};
pub use signalr_protocol::Payload;
pub use token::ConnectionTokenKey;
