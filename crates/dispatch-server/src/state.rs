//! The state every handler shares.

use std::sync::Arc;

use dispatch_store::{RequestId, Store};
use metrics_exporter_prometheus::PrometheusHandle;
use signalr_hub::HubHandle;
use tokio::sync::{Notify, mpsc};

use crate::auth::JwtKeys;

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Push to SignalR clients.
    pub hub: HubHandle,
    /// Token keys.
    pub keys: Arc<JwtKeys>,
    /// Recommendation requests waiting for the worker (bounded).
    pub work: mpsc::Sender<RequestId>,
    /// Rings the outbox relay after a commit that wrote events.
    pub relay: Arc<Notify>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// No secret configured: the sign-in page may mint demo tokens.
    pub dev_mode: bool,
}
