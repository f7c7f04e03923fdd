//! [`HubShared`]: what the HTTP handlers and the connection tasks of one hub share.
//!
//! It lives apart from the builder in `hub.rs` because the builder mounts the HTTP layer,
//! while the HTTP layer and the connection tasks need this state: kept in `hub.rs`, the two
//! would import each other.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use futures_util::future::BoxFuture;

use crate::auth::{AuthError, AuthRequest, Authenticator, Principal};
use crate::limits::UserConnections;
use crate::method::{Caller, HubError, MethodTable};
use crate::negotiation::TokenTable;
use crate::options::HubOptions;
use crate::registry::Registry;

/// Runs after the handshake; an error closes the connection with its message.
pub(crate) type ConnectedHook =
    Arc<dyn Fn(Caller) -> BoxFuture<'static, Result<(), HubError>> + Send + Sync>;
/// Runs once the connection has left the registry.
pub(crate) type DisconnectedHook = Arc<dyn Fn(Caller) -> BoxFuture<'static, ()> + Send + Sync>;

/// Everything the HTTP handlers and connection tasks of one hub share.
pub(crate) struct HubShared {
    pub(crate) options: HubOptions,
    pub(crate) methods: MethodTable,
    pub(crate) on_connected: Option<ConnectedHook>,
    pub(crate) on_disconnected: Option<DisconnectedHook>,
    pub(crate) authenticator: Option<Authenticator>,
    pub(crate) registry: Arc<Registry>,
    /// The negotiated connection tokens and the transports holding them.
    pub(crate) tokens: Arc<TokenTable>,
    /// Replay bytes held by all stateful connections, for the hub-wide cap.
    pub(crate) replay_bytes: Arc<AtomicUsize>,
    /// Live connections per user, for `max_connections_per_user`.
    pub(crate) user_connections: Arc<UserConnections>,
}

impl HubShared {
    /// Runs the authentication hook; anonymous when the hub has none.
    pub(crate) fn authenticate(&self, request: &AuthRequest<'_>) -> Result<Principal, AuthError> {
        match &self.authenticator {
            Some(authenticate) => authenticate(request),
            None => Ok(Principal::anonymous()),
        }
    }
}
