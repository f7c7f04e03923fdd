//! The state every handler shares.

use std::sync::Arc;

use dispatch_backplane::Backplane;
use dispatch_store::{RequestId, Store};
use metrics_exporter_prometheus::PrometheusHandle;
use signalr_hub::HubHandle;
use tokio::sync::{Notify, mpsc};

use crate::auth::JwtKeys;
use crate::relay::{RelayRole, RelayStatus};

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
    /// Rings this node's outbox relay (see [`AppState::events_committed`]).
    pub relay: Arc<Notify>,
    /// What the relay is doing on this node (for `/readyz`).
    pub relay_status: Arc<RelayStatus>,
    /// Carries events between nodes (for `/readyz`; the relay publishes on it).
    pub backplane: Backplane,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// No secret configured: the sign-in page may mint demo tokens.
    pub dev_mode: bool,
}

impl AppState {
    /// Call after every commit that wrote events: rings the relay, here if this node leads,
    /// else on the leader's node through the backplane (its once-a-second poll is the fallback
    /// if that ring is lost).
    pub fn events_committed(&self) {
        self.relay.notify_one();
        if self.relay_status.role() != RelayRole::Leader {
            let backplane = self.backplane.clone();
            tokio::spawn(async move {
                if let Err(error) = backplane.ring().await {
                    tracing::debug!(%error, "cannot ring the relay through the backplane");
                }
            });
        }
    }
}
