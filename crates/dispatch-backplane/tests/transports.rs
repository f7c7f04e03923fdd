//! The backplane over the real servers: Redis pub/sub and PostgreSQL `LISTEN/NOTIFY`.
//!
//! The servers are named by `DISPATCH_TEST_REDIS_URL` and `DISPATCH_TEST_POSTGRES_URL`
//! (CI: `redis://127.0.0.1:6379`, `postgres://postgres@127.0.0.1:5432/test`). Not set: the test
//! prints `SKIPPED` and passes. Set but unreachable: it fails when `CI=true`, skips otherwise.
//! Every test uses a channel of its own, so tests running at once do not hear each other.

use std::time::Duration;

use dispatch_backplane::{Backplane, BackplaneKind, Delivery, Sequenced, Subscription};
use serde_json::json;

/// The server URL in `variable`, or `None` (after saying so loudly) when the test must skip.
async fn server(variable: &str) -> Option<String> {
    test_support::service_url(variable, "backplane transport test").await
}

/// A channel no other test uses.
fn channel(name: &str) -> String {
    format!("test-{name}-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher as _, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The next delivery, failing the test after 10 s.
async fn next(subscription: &mut Subscription) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), subscription.recv())
        .await
        .expect("a delivery within 10 s")
        .expect("the subscription is open")
}

async fn connected(subscription: &mut Subscription) {
    assert_eq!(next(subscription).await, Delivery::Connected);
}

fn raw(value: serde_json::Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(&value).expect("json")
}

fn message(sequence: i64) -> Sequenced {
    Sequenced {
        shard: 2,
        sequence,
        previous: sequence - 1,
        event: Some(raw(json!({"sequence": sequence, "target": "JobAssigned"}))),
    }
}

/// Two nodes on one channel: what either publishes reaches both, in order; another channel
/// hears nothing.
async fn both_nodes_hear_everything_in_order(url: &str, kind: BackplaneKind) {
    let name = channel("order");
    let (first, mut first_hears) = Backplane::connect(url, &name).expect("first");
    let (second, mut second_hears) = Backplane::connect(url, &name).expect("second");
    let (_other, mut other_hears) = Backplane::connect(url, &channel("other")).expect("other");
    connected(&mut first_hears).await;
    connected(&mut second_hears).await;
    connected(&mut other_hears).await;
    assert_eq!(first.health().kind, kind);
    for sequence in 1..=50 {
        let publisher = if sequence % 2 == 0 { &first } else { &second };
        publisher
            .publish(&message(sequence))
            .await
            .expect("publish");
    }
    for hears in [&mut first_hears, &mut second_hears] {
        for sequence in 1..=50 {
            assert_eq!(next(hears).await, Delivery::Message(message(sequence)));
        }
    }
    assert!(first.health().up && second.health().up);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), other_hears.recv())
            .await
            .is_err(),
        "another channel hears nothing"
    );
}

#[tokio::test]
async fn redis_carries_every_message_to_every_node_in_order() {
    let Some(url) = server("DISPATCH_TEST_REDIS_URL").await else {
        return;
    };
    both_nodes_hear_everything_in_order(&url, BackplaneKind::Redis).await;
}

#[tokio::test]
async fn postgres_carries_every_message_to_every_node_in_order() {
    let Some(url) = server("DISPATCH_TEST_POSTGRES_URL").await else {
        return;
    };
    both_nodes_hear_everything_in_order(&url, BackplaneKind::Postgres).await;
}

#[tokio::test]
async fn postgres_sends_an_event_too_large_for_notify_as_its_sequence() {
    let Some(url) = server("DISPATCH_TEST_POSTGRES_URL").await else {
        return;
    };
    let name = channel("large");
    let (backplane, mut hears) = Backplane::connect(&url, &name).expect("connect");
    connected(&mut hears).await;
    let large = Sequenced {
        shard: 2,
        sequence: 9,
        previous: 8,
        event: Some(raw(json!({"payload": "x".repeat(10_000)}))),
    };
    backplane.publish(&large).await.expect("publish");
    assert_eq!(
        next(&mut hears).await,
        Delivery::Message(Sequenced {
            event: None,
            ..large
        })
    );
}

#[tokio::test]
async fn a_lost_postgres_listener_reconnects_and_says_so() {
    let Some(url) = server("DISPATCH_TEST_POSTGRES_URL").await else {
        return;
    };
    let name = channel("lost");
    let (backplane, mut hears) = Backplane::connect(&url, &name).expect("connect");
    connected(&mut hears).await;
    let admin = sqlx::PgPool::connect(&url).await.expect("admin connection");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN%' AND query LIKE '%' || $1 || '%'",
    )
    .bind(&name)
    .fetch_all(&admin)
    .await
    .expect("terminate the listener");
    assert_eq!(killed, [true], "exactly our listener");
    assert_eq!(next(&mut hears).await, Delivery::Disconnected);
    connected(&mut hears).await;
    assert!(backplane.health().up);
    backplane.publish(&message(1)).await.expect("publish");
    assert_eq!(next(&mut hears).await, Delivery::Message(message(1)));
}

#[tokio::test]
async fn an_unreachable_redis_is_down_not_fatal() {
    // Nothing listens on port 1: the node starts, reports the backplane down, and publishing
    // fails (so the relay keeps its events) instead of hanging.
    let (backplane, _hears) =
        Backplane::connect("redis://127.0.0.1:1", &channel("down")).expect("the URL is valid");
    assert!(!backplane.health().up);
    let started = std::time::Instant::now();
    assert!(backplane.publish(&message(1)).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!backplane.health().up);
}

#[tokio::test]
async fn an_idle_redis_subscription_survives_its_liveness_probe() {
    let Some(url) = server("DISPATCH_TEST_REDIS_URL").await else {
        return;
    };
    let (backplane, mut hears) = Backplane::connect(&url, &channel("idle")).expect("connect");
    connected(&mut hears).await;
    // The probe runs every 5 s on an idle subscription; it must not take the answer for a
    // failure (RESP2 answers PING in subscribed mode with an array).
    let quiet = tokio::time::timeout(Duration::from_secs(7), hears.recv()).await;
    assert!(quiet.is_err(), "nothing to hear, not {quiet:?}");
    assert!(backplane.health().up);
    backplane.publish(&message(1)).await.expect("publish");
    assert_eq!(next(&mut hears).await, Delivery::Message(message(1)));
}

/// A ring from one node wakes `rung` on every node, with its shards, and never reaches a
/// subscription.
async fn rings_reach_every_node_outside_the_subscription(url: &str) {
    let name = channel("ring");
    let (a, mut a_hears) = Backplane::connect(url, &name).expect("connect a");
    let (b, mut b_hears) = Backplane::connect(url, &name).expect("connect b");
    connected(&mut a_hears).await;
    connected(&mut b_hears).await;
    a.ring(0b1010).await.expect("ring");
    for node in [&a, &b] {
        let shards = tokio::time::timeout(Duration::from_secs(10), node.rung())
            .await
            .expect("the ring within 10 s");
        assert_eq!(shards, 0b1010, "the shards rung");
    }
    // The next thing the subscription hears is the next event, not the ring.
    a.publish(&message(1)).await.expect("publish");
    assert_eq!(next(&mut b_hears).await, Delivery::Message(message(1)));
}

#[tokio::test]
async fn redis_rings_wake_the_relay_of_every_node() {
    let Some(url) = server("DISPATCH_TEST_REDIS_URL").await else {
        return;
    };
    rings_reach_every_node_outside_the_subscription(&url).await;
}

#[tokio::test]
async fn postgres_rings_wake_the_relay_of_every_node() {
    let Some(url) = server("DISPATCH_TEST_POSTGRES_URL").await else {
        return;
    };
    rings_reach_every_node_outside_the_subscription(&url).await;
}

#[tokio::test]
async fn in_process_rings_wake_this_node_only_once_for_many() {
    let (backplane, mut hears) = Backplane::in_process();
    connected(&mut hears).await;
    for shard in 0..5 {
        backplane.ring(1 << shard).await.expect("ring");
    }
    let shards = tokio::time::timeout(Duration::from_secs(10), backplane.rung())
        .await
        .expect("rung");
    // Five rings coalesced into that one, with all their shards.
    assert_eq!(shards, 0b1_1111);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), backplane.rung())
            .await
            .is_err()
    );
}
