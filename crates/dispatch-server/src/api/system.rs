//! Operational endpoints: liveness, readiness, Prometheus metrics (no token needed).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use dispatch_backplane::{BackplaneHealth, BackplaneKind};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::relay::RelayRole;
use crate::state::AppState;
use crate::telemetry;

/// Liveness, readiness and metrics routes, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}

/// `/healthz`: always `ok` while the process serves.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Whether the node can serve.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReadinessStatus {
    /// Database and backplane answer.
    Ready,
    /// The database answers, the backplane does not: writes work, their events wait.
    Degraded,
    /// The database does not answer (503).
    Unavailable,
}

/// The backplane as `/readyz` reports it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackplaneStatus {
    /// `in-process`, `redis` or `postgres`.
    #[schema(value_type = String, example = "redis")]
    pub kind: BackplaneKind,
    /// Subscribed, and the last publish (if any) succeeded.
    pub up: bool,
}

impl From<BackplaneHealth> for BackplaneStatus {
    fn from(health: BackplaneHealth) -> Self {
        Self {
            kind: health.kind,
            up: health.up,
        }
    }
}

/// `/readyz`: the database, the backplane and this node's relay role.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`, `degraded` (backplane down) or `unavailable` (database down, with 503).
    pub status: ReadinessStatus,
    /// `sqlite` or `postgres`; `unreachable` when the database does not answer.
    #[schema(example = "sqlite")]
    pub database: &'static str,
    /// The event backplane between nodes.
    pub backplane: BackplaneStatus,
    /// Whether this node relays the outbox.
    pub relay: RelayRole,
    /// The outbox shards (0–7) this node relays now, ascending.
    #[serde(rename = "relayShards")]
    #[schema(example = json!([0, 3, 5]))]
    pub relay_shards: Vec<u16>,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "system", operation_id = "getHealth", security(()),
    responses((status = 200, description = "The process serves", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers. A backplane that is down makes the node `degraded`, not
/// unready: writes keep working and their events wait in the outbox, so a load balancer should
/// keep sending traffic here.
#[utoipa::path(get, path = "/readyz", tag = "system", operation_id = "getReadiness", security(()),
    responses((status = 200, description = "The node serves (`ready`, or `degraded` while the backplane is down)", body = Readiness),
        (status = 503, description = "The database does not answer (`unavailable`)", body = Readiness)))]
async fn readyz(State(state): State<AppState>) -> Response {
    let backplane = state.backplane.health();
    let relay = state.outbox.role();
    let relay_shards = state.outbox.shards();
    match state.store.ping().await {
        Ok(()) => Json(Readiness {
            status: if backplane.up {
                ReadinessStatus::Ready
            } else {
                ReadinessStatus::Degraded
            },
            database: state.store.backend_name(),
            backplane: backplane.into(),
            relay,
            relay_shards,
        })
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "database not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness {
                    status: ReadinessStatus::Unavailable,
                    database: "unreachable",
                    backplane: backplane.into(),
                    relay,
                    relay_shards,
                }),
            )
                .into_response()
        }
    }
}

/// Prometheus metrics of this node, in the text exposition format (`docs/operations.md` lists
/// them and what to alert on).
#[utoipa::path(get, path = "/metrics", tag = "system", operation_id = "getMetrics", security(()),
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain", body = String)))]
async fn metrics_text(State(state): State<AppState>) -> Response {
    metrics::gauge!(telemetry::HUB_CONNECTIONS).set(state.hub.connection_count() as f64);
    metrics::gauge!(telemetry::BACKPLANE_UP).set(f64::from(u8::from(state.backplane.health().up)));
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
