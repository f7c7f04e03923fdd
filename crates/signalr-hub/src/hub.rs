//! [`HubBuilder`] and [`Hub`]: registering methods and hooks, then serving the hub.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use axum::Router;
use serde::Serialize;

use crate::auth::{AuthError, AuthRequest, Authenticator, Principal};
use crate::handle::HubHandle;
use crate::limits::UserConnections;
use crate::method::{Caller, FromArguments, HubError, MethodTable};
use crate::negotiation::TokenTable;
use crate::options::HubOptions;
use crate::registry::Registry;
use crate::shared::{ConnectedHook, DisconnectedHook, HubShared};
use crate::token::TokenSigner;

/// Builds a [`Hub`]: its options, methods, hooks and authentication.
#[derive(Default)]
pub struct HubBuilder {
    options: HubOptions,
    methods: MethodTable,
    on_connected: Option<ConnectedHook>,
    on_disconnected: Option<DisconnectedHook>,
    authenticator: Option<Authenticator>,
}

impl HubBuilder {
    /// A hub with ASP.NET Core's default options and no methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the options.
    pub fn options(mut self, options: HubOptions) -> Self {
        self.options = options;
        self
    }

    /// Registers a method clients can invoke by `name` (matched case-insensitively).
    ///
    /// `Args` is a tuple of deserializable parameters; the result is serialized into the
    /// Completion; a [`HubError`] is sent to the caller as the Completion's error.
    pub fn method<Args, Res, Fut, F>(mut self, name: &str, handler: F) -> Self
    where
        Args: FromArguments,
        Res: Serialize,
        Fut: Future<Output = Result<Res, HubError>> + Send + 'static,
        F: Fn(Caller, Args) -> Fut + Send + Sync + 'static,
    {
        self.methods.insert(name, handler);
        self
    }

    /// Runs after a connection's handshake; an error closes it with that message.
    pub fn on_connected<Fut, F>(mut self, hook: F) -> Self
    where
        Fut: Future<Output = Result<(), HubError>> + Send + 'static,
        F: Fn(Caller) -> Fut + Send + Sync + 'static,
    {
        self.on_connected = Some(Arc::new(move |caller| Box::pin(hook(caller))));
        self
    }

    /// Runs after a connection ended and left all its groups.
    pub fn on_disconnected<Fut, F>(mut self, hook: F) -> Self
    where
        Fut: Future<Output = ()> + Send + 'static,
        F: Fn(Caller) -> Fut + Send + Sync + 'static,
    {
        self.on_disconnected = Some(Arc::new(move |caller| Box::pin(hook(caller))));
        self
    }

    /// Authenticates negotiate and transport requests; a refusal answers 401.
    pub fn authenticate<F>(mut self, hook: F) -> Self
    where
        F: Fn(&AuthRequest<'_>) -> Result<Principal, AuthError> + Send + Sync + 'static,
    {
        self.authenticator = Some(Arc::new(hook));
        self
    }

    /// Finishes the hub.
    pub fn build(self) -> Hub {
        let signer = self
            .options
            .connection_token_key
            .clone()
            .map(|key| TokenSigner {
                key,
                lifetime: self.options.connection_token_lifetime,
            });
        let tokens = Arc::new(
            TokenTable::new(self.options.disconnect_timeout, signer).with_pending_caps(
                self.options.max_pending_negotiations,
                self.options.max_pending_negotiations_per_user,
            ),
        );
        let user_connections = UserConnections::new(self.options.max_connections_per_user);
        Hub {
            shared: Arc::new(HubShared {
                options: self.options,
                methods: self.methods,
                on_connected: self.on_connected,
                on_disconnected: self.on_disconnected,
                authenticator: self.authenticator,
                registry: Arc::new(Registry::default()),
                tokens,
                replay_bytes: Arc::new(AtomicUsize::new(0)),
                user_connections,
            }),
        }
    }
}

/// A built hub: serve it with [`Hub::router`], push to it with [`Hub::handle`].
#[derive(Clone)]
pub struct Hub {
    pub(crate) shared: Arc<HubShared>,
}

impl Hub {
    /// Starts building a hub.
    pub fn builder() -> HubBuilder {
        HubBuilder::new()
    }

    /// A handle for sending to clients from anywhere in the application.
    pub fn handle(&self) -> HubHandle {
        HubHandle {
            registry: Arc::clone(&self.shared.registry),
        }
    }

    /// The hub's options.
    pub fn options(&self) -> &HubOptions {
        &self.shared.options
    }

    /// The routes of this hub mounted at `path` (e.g. `/hub/v1`): `POST {path}/negotiate` and
    /// `GET|POST|DELETE {path}`. Merge the result into the application's router.
    pub fn router(&self, path: &str) -> Router {
        crate::http::router(Arc::clone(&self.shared), path)
    }
}
