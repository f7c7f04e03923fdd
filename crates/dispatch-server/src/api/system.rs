//! Operational endpoints: liveness, readiness, Prometheus metrics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

/// Liveness, readiness and metrics routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: the database answers. A backplane that is down makes the node
/// `degraded`, not unready: writes keep working and their events wait in the outbox, so a load
/// balancer should keep sending traffic here.
async fn readyz(State(state): State<AppState>) -> Response {
    let backplane = state.backplane.health();
    let relay = state.outbox.role();
    match state.store.ping().await {
        Ok(()) => Json(json!({
            "status": if backplane.up { "ready" } else { "degraded" },
            "database": state.store.backend_name(),
            "backplane": backplane,
            "relay": relay,
        }))
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "database not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "database": "unreachable",
                    "backplane": backplane,
                    "relay": relay,
                })),
            )
                .into_response()
        }
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    metrics::gauge!("dispatch_hub_connections").set(state.hub.connection_count() as f64);
    metrics::gauge!("dispatch_backplane_up").set(f64::from(u8::from(state.backplane.health().up)));
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
