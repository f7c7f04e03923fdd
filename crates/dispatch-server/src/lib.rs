//! The Dispatch service: HTTP API, SignalR hub, recommendation worker and outbox relay.
//!
//! # Layout
//!
//! * [`config`] — the command line and `DISPATCH_*` environment (SPEC §7).
//! * [`auth`] — bearer tokens and roles (SPEC §3); [`hub`] — the `/hub/v1` SignalR hub with
//!   `Subscribe`/`Unsubscribe`.
//! * [`api`] — the `/api/v1` routes, one module per resource; [`extract`] and [`error`] turn
//!   bad input into problem documents in one place; [`idempotency`] replays creating POSTs;
//!   [`openapi`] — the frame of the OpenAPI document the handlers' annotations fill.
//! * [`serve`] — the accept loop: hyper under our timeouts (headers, body, idle), connection
//!   caps per node and per client address, lingering close; [`fairness`] — per-subject rate
//!   limits and the fair recommendation queue.
//! * [`worker`] — computes recommendations in the background; [`plans`] — plans a region's
//!   backlog on threads of its own and applies plans; [`region_state`] keeps each region's
//!   index in memory, current with the store's change log (read-your-writes across nodes,
//!   consistency checks); [`planning`] hands the engine that index (or a fresh load);
//!   [`assignment`] — the one step every assignment goes through (manual, auto-assign, an
//!   applied plan), validated and written with its audit decision and event.
//! * [`events`], [`relay`] and [`delivery`] — the hub's channels and the two events, written
//!   to the outbox with their change; after commit the relay (one node at a time) publishes
//!   them on the backplane and every node delivers them to its own clients
//!   (`dispatch-backplane`). Writers wake the relay through [`relay::Outbox`].
//! * [`telemetry`] — the Prometheus recorder (histograms with explicit buckets) and the name
//!   of every metric (`docs/operations.md` says what each means and what to alert on).
//! * [`commands`] — what `dispatch serve|demo|token` do (the binary only parses and calls);
//!   [`shutdown`] — SIGTERM / Ctrl-C and the in-flight count a graceful stop waits for.
//! * `typescript` (feature `ts`) — the web pages' TypeScript types, generated from these types.
//! * [`demo`] — demo data from the engine's generator; [`dev`] — development sign-in for the
//!   web pages (development mode only).
//! * The web pages themselves (dispatcher console, contractor view) come from `dispatch-web`,
//!   merged at `/` by [`app`].
//!
//! The domain (`dispatch-core`), the store (`dispatch-store`) and the SignalR engine
//! (`signalr-hub`) never meet except here.

pub mod api;
pub mod assignment;
pub mod auth;
pub mod commands;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod dev;
pub mod error;
pub mod events;
pub mod extract;
pub mod fairness;
pub mod hub;
pub mod idempotency;
pub mod openapi;
pub mod planning;
pub mod plans;
pub mod region_state;
pub mod relay;
pub mod serve;
pub mod shutdown;
pub mod state;
pub mod telemetry;
#[cfg(feature = "ts")]
pub mod typescript;
pub mod worker;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use dispatch_backplane::{Backplane, Subscription};
use dispatch_store::Store;
use signalr_hub::{Hub, HubOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::JwtKeys;
use crate::error::ApiError;
use crate::fairness::{ApiLimits, FairQueue, Limiters};
use crate::shutdown::InFlight;
use crate::state::AppState;

/// Counts requests and their latency by route and status.
async fn observe(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    if route.starts_with(hub::HUB_PATH)
        && matches!(
            status,
            axum::http::StatusCode::TOO_MANY_REQUESTS | axum::http::StatusCode::SERVICE_UNAVAILABLE
        )
    {
        let reason = if route.ends_with("/negotiate") {
            "hub-negotiations"
        } else {
            "hub-connections"
        };
        metrics::counter!(telemetry::REFUSALS, "reason" => reason).increment(1);
    }
    let status = status.as_u16().to_string();
    metrics::counter!(telemetry::HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(telemetry::HTTP_REQUEST_SECONDS, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

async fn not_found() -> Response {
    ApiError::NotFound("route").into_response()
}

/// The route exists but not with this method (axum keeps the `Allow` header).
async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

/// The whole HTTP application: API, its OpenAPI document, operational endpoints, the hub and
/// the web pages. The requests outside the hub are counted in `in_flight`, which a graceful
/// shutdown waits on (hub connections are closed at its end instead).
pub fn app(state: AppState, hub: &Hub, in_flight: Arc<InFlight>) -> Router {
    use utoipa::OpenApi as _;
    let (api, mut document) =
        utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
            .merge(api::router())
            .split_for_parts();
    let (system, system_document) = api::system::router().split_for_parts();
    document.merge(system_document);
    let document = Arc::new(document);
    let api = api
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(openapi::document).layer(axum::Extension(document)),
        )
        // The API reference page and its files, embedded (dispatch-web).
        .route("/api/v1/docs", axum::routing::get(openapi::docs_page))
        .merge(dispatch_web::api_docs::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotency,
        ))
        .merge(system)
        .merge(dev::router())
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn_with_state(in_flight, shutdown::track));
    api.merge(hub.router(hub::HUB_PATH))
        // The pages at `/` (explicit routes only, so nothing above is shadowed).
        .merge(dispatch_web::router())
        .layer(middleware::from_fn(observe))
}

/// How the background tasks run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Recommendations computed at once.
    pub workers: usize,
    /// Plans searched at once (each on a thread of its own).
    pub plan_workers: usize,
    /// Keep committed events in the outbox instead of sending them.
    pub hold_events: bool,
    /// How long sent events stay in the outbox; zero keeps them.
    pub outbox_retention: std::time::Duration,
    /// The HTTP server's timeouts and connection caps.
    pub http: serve::HttpLimits,
    /// How region state is checked, evicted and its change log pruned.
    pub region_state: region_state::RegionStateOptions,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            workers: 2,
            plan_workers: 1,
            hold_events: false,
            outbox_retention: std::time::Duration::from_secs(7 * 24 * 3600),
            http: serve::HttpLimits::default(),
            region_state: region_state::RegionStateOptions::default(),
        }
    }
}

/// How long a graceful shutdown waits for the API requests under way.
const REQUEST_DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);
/// How long it waits for the hub's clients to go once told to reconnect elsewhere.
const CONNECTION_DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A running service's parts that background tasks need.
pub struct Service {
    /// The router to serve.
    pub router: Router,
    /// Shared state (tests use its store and hub).
    pub state: AppState,
    in_flight: Arc<InFlight>,
    subscription: Subscription,
}

impl Service {
    /// Wires store, keys and hub together, with events carried inside this process only.
    pub fn new(store: Store, keys: JwtKeys, dev_mode: bool, hub_options: HubOptions) -> Self {
        let (backplane, subscription) = Backplane::in_process();
        Self::with_backplane(store, keys, dev_mode, hub_options, backplane, subscription)
    }

    /// Wires store, keys and hub together, with events carried between nodes by `backplane`,
    /// without per-subject limits (tests, benches; `dispatch serve` uses
    /// [`Service::with_limits`]).
    pub fn with_backplane(
        store: Store,
        keys: JwtKeys,
        dev_mode: bool,
        hub_options: HubOptions,
        backplane: Backplane,
        subscription: Subscription,
    ) -> Self {
        Self::with_limits(
            store,
            keys,
            dev_mode,
            hub_options,
            (backplane, subscription),
            ApiLimits::UNLIMITED,
        )
    }

    /// [`Service::with_backplane`], with per-subject rate limits and queue share `limits`.
    pub fn with_limits(
        store: Store,
        keys: JwtKeys,
        dev_mode: bool,
        hub_options: HubOptions,
        (backplane, subscription): (Backplane, Subscription),
        limits: ApiLimits,
    ) -> Self {
        let keys = Arc::new(keys);
        let hub = hub::dispatch_hub(Arc::clone(&keys), hub_options);
        let work = Arc::new(FairQueue::new(worker::QUEUE_CAPACITY, limits.queue_share));
        let regions = Arc::new(region_state::RegionStates::new(
            store.clone(),
            region_state::RegionStateOptions::default(),
        ));
        let state = AppState {
            regions,
            store,
            hub: hub.handle(),
            keys,
            work,
            plans: Arc::default(),
            limiters: Arc::new(Limiters::new(&limits)),
            outbox: Arc::default(),
            backplane,
            metrics: telemetry::handle(),
            dev_mode,
        };
        let in_flight = Arc::new(InFlight::default());
        let router = app(state.clone(), &hub, Arc::clone(&in_flight));
        Self {
            router,
            state,
            in_flight,
            subscription,
        }
    }

    /// Serves on `listener` until `shutdown` resolves, with the worker and the relay running,
    /// then stops gracefully, in this order: stop accepting connections; answer the API requests
    /// under way; let the recommendations being computed commit; let the relay send what is
    /// committed and give up its lease; deliver it to this node's clients; close their hub
    /// connections with a Close that allows reconnecting, so they move to another node. Each
    /// wait is bounded; what is left (queued recommendations, unsent events) stays in the store
    /// for the next node or the restart.
    pub async fn run(
        self,
        listener: TcpListener,
        options: RunOptions,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Service {
            router,
            state,
            in_flight,
            subscription,
        } = self;
        // One stop signal per stage, sent in the order above.
        let (http_stop, http_stopped) = watch::channel(false);
        let (work_stop, work_stopped) = watch::channel(false);
        let (relay_stop, relay_stopped) = watch::channel(false);
        let (delivery_stop, delivery_stopped) = watch::channel(false);
        // Requests a previous run accepted (202) but never computed are computed now.
        match state
            .store
            .pending_recommendations(worker::QUEUE_CAPACITY as u32)
            .await
        {
            Ok(pending) if !pending.is_empty() => {
                tracing::info!(count = pending.len(), "resuming pending recommendations");
                for request_id in pending {
                    if !state.work.resume(worker::RESUMED, request_id) {
                        break;
                    }
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot read pending recommendations"),
        }
        state.plans.start_workers(options.plan_workers);
        let sweeper = tokio::spawn(plans::sweep(state.clone(), stopped(work_stopped.clone())));
        state.regions.configure(options.region_state.clone());
        let regions =
            tokio::spawn(Arc::clone(&state.regions).maintain(stopped(work_stopped.clone())));
        let worker = tokio::spawn(worker::run(
            state.clone(),
            Arc::clone(&state.work),
            options.workers,
            stopped(work_stopped),
        ));
        let delivery = tokio::spawn(delivery::run(
            state.store.clone(),
            state.hub.clone(),
            subscription,
            stopped(delivery_stopped),
        ));
        let relay = relay::Relay {
            store: state.store.clone(),
            backplane: state.backplane.clone(),
            outbox: Arc::clone(&state.outbox),
            hold: options.hold_events,
            retention: options.outbox_retention,
        };
        let relay = tokio::spawn(relay.run(stopped(relay_stopped.clone())));
        let ringer = tokio::spawn(relay::ring_other_nodes(
            Arc::clone(&state.outbox),
            state.backplane.clone(),
            stopped(relay_stopped),
        ));
        let mut server = tokio::spawn(serve::serve(
            listener,
            router,
            options.http.clone(),
            stopped(http_stopped),
        ));
        tokio::select! {
            () = shutdown => {}
            // The server stopped by itself: nothing to drain in order.
            outcome = &mut server => {
                outcome.context("HTTP server task failed")?.context("HTTP server failed")?;
                return Ok(());
            }
        }

        tracing::info!(
            in_flight = in_flight.count(),
            "stopping: no new connections, answering the requests under way"
        );
        let _ = http_stop.send(true);
        if tokio::time::timeout(REQUEST_DRAIN_LIMIT, in_flight.idle())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = in_flight.count(),
                "stopping with requests unanswered"
            );
        }
        let _ = work_stop.send(true);
        let _ = worker.await;
        // Searches under way store themselves failed: a restarted node does not resume them.
        state.plans.stop_all().await;
        let _ = sweeper.await;
        let _ = regions.await;
        // The relay sends what is committed, then gives its shards up: other nodes take them
        // over at their next look (100 ms).
        let _ = relay_stop.send(true);
        let _ = relay.await;
        let _ = ringer.await;
        let _ = delivery_stop.send(true);
        let _ = delivery.await;
        let closed = state.hub.close_all(
            Some("the server is shutting down; reconnect to continue".to_owned()),
            true,
        );
        tracing::info!(closed, "hub connections asked to reconnect elsewhere");
        // Upgraded WebSockets are not the HTTP server's to wait for: the hub's count is.
        let drained = async {
            let mut poll = tokio::time::interval(std::time::Duration::from_millis(10));
            while state.hub.connection_count() > 0 {
                poll.tick().await;
            }
            server.await
        };
        match tokio::time::timeout(CONNECTION_DRAIN_LIMIT, drained).await {
            Ok(outcome) => {
                outcome
                    .context("HTTP server task failed")?
                    .context("HTTP server failed")?;
            }
            Err(_) => tracing::warn!("stopping with connections still open"),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves once `stop` says `true` (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}
