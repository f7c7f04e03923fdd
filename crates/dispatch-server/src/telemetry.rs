//! Prometheus metrics (`/metrics`): the process-wide recorder, with explicit histogram buckets
//! so that every latency is exported as a histogram (summable across nodes with
//! `sum by (le) (rate(…_bucket[5m]))`), never as a summary of pre-computed quantiles; the names
//! and help texts of every metric the service records; and the few helpers callers share.
//!
//! `docs/operations.md` lists each metric with what to alert on. Lags between nodes are
//! measured with wall clocks (the outbox row's `created_at`, written in the change's
//! transaction, against the clock of the node that sends or delivers), so they assume clocks
//! kept in step (NTP); a negative difference counts as zero.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `method`, `route` (the matched route template) and `status`.
pub const HTTP_REQUESTS: &str = "dispatch_http_requests_total";
/// Request latency, by `method` and `route`.
pub const HTTP_REQUEST_SECONDS: &str = "dispatch_http_request_seconds";
/// Recommendations computed, by `outcome` (`ready`, `failed`).
pub const RECOMMENDATIONS: &str = "dispatch_recommendations_total";
/// From `POST /api/v1/recommendations` accepting a request to a worker starting on it.
pub const RECOMMENDATION_QUEUE_SECONDS: &str = "dispatch_recommendation_queue_seconds";
/// From a worker starting on a request to its result (and event) committed.
pub const RECOMMENDATION_SECONDS: &str = "dispatch_recommendation_seconds";
/// Plans ended, by `outcome` (`ready`, `failed`, `cancelled`).
pub const PLANS: &str = "dispatch_plans_total";
/// From a plan being handed to the planner to its end stored (waiting for a worker included).
pub const PLAN_SECONDS: &str = "dispatch_plan_seconds";
/// Assignments made, by `source` (`manual`, `auto`).
pub const ASSIGNMENTS: &str = "dispatch_assignments_total";
/// Conflicts, by `kind` (the problem type's slug) and `origin` (`http`, `auto-assign`,
/// `plan-apply`).
pub const CONFLICTS: &str = "dispatch_conflicts_total";
/// Events the relay published on the backplane.
pub const EVENTS_SENT: &str = "dispatch_events_sent_total";
/// Events this node handed to its hub connections.
pub const EVENTS_DELIVERED: &str = "dispatch_events_delivered_total";
/// From an event's commit to the relay publishing it.
pub const EVENT_SENT_LAG_SECONDS: &str = "dispatch_event_sent_lag_seconds";
/// From an event's commit to this node handing it to its hub connections, by `path`.
pub const EVENT_DELIVERED_LAG_SECONDS: &str = "dispatch_event_delivered_lag_seconds";
/// Hub connections opened, by `transport` and `protocol`.
pub const HUB_CONNECTIONS_OPENED: &str = "dispatch_hub_connections_total";
/// Hub connections open now, by `transport` and `protocol`.
pub const HUB_CONNECTIONS_OPEN: &str = "dispatch_hub_connections_open";
/// Hub connections open now, all together (set when scraped).
pub const HUB_CONNECTIONS: &str = "dispatch_hub_connections";
/// The backplane subscription came back after being lost.
pub const BACKPLANE_RECONNECTS: &str = "dispatch_backplane_reconnects_total";
/// Publishes to the backplane that failed (the events wait in the outbox).
pub const BACKPLANE_PUBLISH_FAILURES: &str = "dispatch_backplane_publish_failures_total";
/// 1 while the backplane works, 0 while it does not (set when scraped).
pub const BACKPLANE_UP: &str = "dispatch_backplane_up";
/// Outbox shards this node relays now (`/readyz` says which).
pub const RELAY_SHARDS_HELD: &str = "dispatch_relay_shards_held";
/// API requests under way (a graceful shutdown waits for them).
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "dispatch_http_requests_in_flight";
/// TCP connections open now (API, hub and pages; upgraded WebSockets included).
pub const HTTP_CONNECTIONS_OPEN: &str = "dispatch_http_connections_open";
/// Connections closed by a clock, by `phase` (`header`, `body`, `idle`).
pub const HTTP_TIMEOUTS: &str = "dispatch_http_timeouts_total";
/// Work refused to protect the node or other callers, by `reason`: `connections-node`,
/// `connections-address`, `rate-recommendations`, `rate-plans`, `plan-share`, `queue-share`, `queue-full`,
/// `shutting-down`, `hub-negotiations`, `hub-connections`, `accept-failed`.
pub const REFUSALS: &str = "dispatch_refusals_total";
/// Histogram: seconds to build a region's in-memory index from the store.
pub const REGION_BUILD_SECONDS: &str = "dispatch_region_build_seconds";
/// Gauge, by region: change records the store has that this node had not applied after its
/// last catch-up (0 when current).
pub const REGION_APPLY_LAG: &str = "dispatch_region_apply_lag";
/// Counter: consistency checks of region state against the store.
pub const REGION_CHECKS: &str = "dispatch_region_checks_total";
/// Counter: checks that found drift and rebuilt the region's state.
pub const REGION_REPAIRS: &str = "dispatch_region_repairs_total";
/// Counter: contractors found drifted by consistency checks.
pub const REGION_DRIFTED_CONTRACTORS: &str = "dispatch_region_drifted_contractors_total";

/// Request and compute latencies: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Waiting in the recommendation queue: 1 ms to a minute (a full queue of 1,024 drains in
/// seconds to minutes).
const QUEUE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Plans: 100 ms to 10 min (a search is given up to 300 s, and may wait for a worker).
const PLAN_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// Event lags: 1 ms to 5 min (events wait in the outbox while the backplane is down).
const LAG_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Where a conflict was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Answered to a client as 409.
    Http,
    /// Met by auto-assign, which then tries the next candidate or stops.
    AutoAssign,
    /// Met by a plan's apply, which reports it and goes on with the next visit.
    PlanApply,
}

impl Origin {
    fn label(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::AutoAssign => "auto-assign",
            Self::PlanApply => "plan-apply",
        }
    }
}

/// How an event reached this node's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryPath {
    /// Heard on the backplane (the fast path).
    Backplane,
    /// Read from the outbox (a gap after a lost message or a reconnection, or the sweep).
    Outbox,
}

impl DeliveryPath {
    fn label(self) -> &'static str {
        match self {
            Self::Backplane => "backplane",
            Self::Outbox => "outbox",
        }
    }
}

/// The process-wide recorder (the `metrics` facade allows one per process), installed on
/// first use, with the buckets above and every metric's help text.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

fn install() -> PrometheusHandle {
    let builder = buckets(PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    // Fails only if another recorder is installed already (then ours stays silent).
    if metrics::set_global_recorder(recorder).is_ok() {
        describe();
    }
    handle
}

/// Every histogram gets buckets (a histogram without them would render as a summary).
fn buckets(builder: PrometheusBuilder) -> PrometheusBuilder {
    let for_metric = |builder: PrometheusBuilder, name: &str, buckets: &[f64]| {
        // Fails only for an empty bucket list, which these constants are not.
        match builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets) {
            Ok(builder) => builder,
            Err(error) => unreachable!("non-empty buckets: {error}"),
        }
    };
    let builder = match builder.set_buckets(LATENCY_BUCKETS) {
        Ok(builder) => builder,
        Err(error) => unreachable!("non-empty buckets: {error}"),
    };
    let builder = for_metric(builder, RECOMMENDATION_QUEUE_SECONDS, QUEUE_BUCKETS);
    let builder = for_metric(builder, PLAN_SECONDS, PLAN_BUCKETS);
    let builder = for_metric(builder, EVENT_SENT_LAG_SECONDS, LAG_BUCKETS);
    for_metric(builder, EVENT_DELIVERED_LAG_SECONDS, LAG_BUCKETS)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "HTTP request latency, by method and route template"
    );
    describe_gauge!(
        HTTP_REQUESTS_IN_FLIGHT,
        "API requests under way on this node"
    );
    describe_gauge!(
        HTTP_CONNECTIONS_OPEN,
        "TCP connections open on this node (upgraded WebSockets included)"
    );
    describe_counter!(
        HTTP_TIMEOUTS,
        "Connections closed (or request bodies failed) by a clock, by phase (header, body, idle)"
    );
    describe_counter!(
        REFUSALS,
        "Work refused to protect the node or other callers, by reason (connections-node, connections-address, rate-recommendations, rate-plans, queue-share, queue-full, hub-negotiations, hub-connections, ...)"
    );
    describe_counter!(
        RECOMMENDATIONS,
        "Recommendations computed, by outcome (ready, failed)"
    );
    describe_histogram!(
        RECOMMENDATION_QUEUE_SECONDS,
        Unit::Seconds,
        "Recommendation requests: from accepted (202) to a worker starting on them"
    );
    describe_histogram!(
        RECOMMENDATION_SECONDS,
        Unit::Seconds,
        "Recommendation compute: from a worker starting to the result and its event committed"
    );
    describe_counter!(PLANS, "Plans ended, by outcome (ready, failed, cancelled)");
    describe_histogram!(
        PLAN_SECONDS,
        Unit::Seconds,
        "Plans: from handed to the planner to the end stored (waiting for a worker included)"
    );
    describe_counter!(ASSIGNMENTS, "Assignments made, by source (manual, auto)");
    describe_counter!(
        CONFLICTS,
        "Conflicts, by kind (problem slug) and origin (http: answered 409; auto-assign; plan-apply)"
    );
    describe_counter!(EVENTS_SENT, "Events the relay published on the backplane");
    describe_counter!(
        EVENTS_DELIVERED,
        "Events this node handed to its hub connections"
    );
    describe_histogram!(
        EVENT_SENT_LAG_SECONDS,
        Unit::Seconds,
        "Event lag from commit to published on the backplane (relay node)"
    );
    describe_histogram!(
        EVENT_DELIVERED_LAG_SECONDS,
        Unit::Seconds,
        "Event lag from commit to handed to this node's hub connections, by path (backplane, outbox)"
    );
    describe_counter!(
        HUB_CONNECTIONS_OPENED,
        "Hub connections opened (after the handshake), by transport and protocol"
    );
    describe_gauge!(
        HUB_CONNECTIONS_OPEN,
        "Hub connections open now, by transport and protocol"
    );
    describe_gauge!(HUB_CONNECTIONS, "Hub connections open now");
    describe_counter!(
        BACKPLANE_RECONNECTS,
        "Times the backplane subscription came back after being lost"
    );
    describe_counter!(
        BACKPLANE_PUBLISH_FAILURES,
        "Backplane publishes that failed (their events wait in the outbox)"
    );
    describe_histogram!(
        REGION_BUILD_SECONDS,
        Unit::Seconds,
        "Building a region's in-memory index from the store (first use, eviction, bulk load)"
    );
    describe_gauge!(
        REGION_APPLY_LAG,
        "Change records of the region this node had not applied after its last catch-up"
    );
    describe_counter!(
        REGION_CHECKS,
        "Consistency checks of a region's in-memory state against the store"
    );
    describe_counter!(
        REGION_REPAIRS,
        "Consistency checks that found drift (then logged and rebuilt)"
    );
    describe_counter!(
        REGION_DRIFTED_CONTRACTORS,
        "Contractors whose in-memory state differed from the store at a check"
    );
    describe_gauge!(
        BACKPLANE_UP,
        "1 while the backplane is subscribed and publishing works, else 0"
    );
    describe_gauge!(
        RELAY_SHARDS_HELD,
        "Outbox shards this node relays now (of 8; /readyz relayShards lists them)"
    );
}

/// Seconds from `then` to now, never negative (clocks of different nodes may disagree).
pub fn seconds_since(then: DateTime<Utc>) -> f64 {
    (Utc::now() - then)
        .to_std()
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// Counts a conflict of `kind` (the problem type's slug).
pub fn conflict(kind: &'static str, origin: Origin) {
    metrics::counter!(CONFLICTS, "kind" => kind, "origin" => origin.label()).increment(1);
}

/// Records an event handed to this node's hub connections.
pub fn event_delivered(created_at: DateTime<Utc>, path: DeliveryPath) {
    metrics::counter!(EVENTS_DELIVERED).increment(1);
    metrics::histogram!(EVENT_DELIVERED_LAG_SECONDS, "path" => path.label())
        .record(seconds_since(created_at));
}

/// Records a hub connection opened.
pub fn hub_connected(transport: &'static str, protocol: &'static str) {
    metrics::counter!(HUB_CONNECTIONS_OPENED, "transport" => transport, "protocol" => protocol)
        .increment(1);
    metrics::gauge!(HUB_CONNECTIONS_OPEN, "transport" => transport, "protocol" => protocol)
        .increment(1.0);
}

/// Records a hub connection closed.
pub fn hub_disconnected(transport: &'static str, protocol: &'static str) {
    metrics::gauge!(HUB_CONNECTIONS_OPEN, "transport" => transport, "protocol" => protocol)
        .decrement(1.0);
}
