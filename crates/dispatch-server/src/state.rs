//! The state every handler shares.

use std::sync::Arc;

use axum::extract::FromRef;
use dispatch_backplane::Backplane;
use dispatch_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use signalr_hub::HubHandle;

use crate::auth::JwtKeys;
use crate::fairness::{FairQueue, Limiters};
use crate::plans::Planner;
use crate::region_state::RegionStates;
use crate::relay::Outbox;

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// This node's live region indexes.
    pub regions: Arc<RegionStates>,
    /// Push to SignalR clients.
    pub hub: HubHandle,
    /// Token keys.
    pub keys: Arc<JwtKeys>,
    /// Recommendation requests waiting for the worker (bounded, shared fairly by subject).
    pub work: Arc<FairQueue>,
    /// Per-subject rate limits of the expensive calls.
    pub limiters: Arc<Limiters>,
    /// Runs plans in the background.
    pub plans: Arc<Planner>,
    /// Call [`Outbox::committed`] after every commit that wrote events.
    pub outbox: Arc<Outbox>,
    /// Carries events between nodes (for `/readyz`; the relay publishes on it).
    pub backplane: Backplane,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// No secret configured: the sign-in page may mint demo tokens.
    pub dev_mode: bool,
}

impl FromRef<AppState> for Arc<JwtKeys> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.keys)
    }
}
