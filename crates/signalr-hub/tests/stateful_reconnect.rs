//! Stateful reconnect over real sockets: the socket is cut mid-stream and the same logical
//! connection resumes on a new one, with every message delivered once, in order.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use signalr_hub::{Caller, HubError, HubOptions, Payload};

fn options() -> HubOptions {
    HubOptions {
        keep_alive_interval: Duration::from_secs(60),
        client_timeout: Duration::from_secs(60),
        disconnect_timeout: Duration::from_secs(2),
        stateful_reconnect_ack_interval: Duration::from_millis(100),
        ..HubOptions::default()
    }
}

/// A client-side view of the numbering: how many trackable messages it has taken in.
struct Receiver {
    processed: u64,
    /// The id the next trackable message has (reset by Sequence).
    next: u64,
}

fn trackable(message: &Value) -> bool {
    matches!(message["type"].as_u64(), Some(1..=5))
}

impl Receiver {
    /// Returns the message if it is new, `None` for a duplicate or a non-trackable one.
    fn take(&mut self, message: Value) -> Option<Value> {
        if message["type"] == 9 {
            self.next = message["sequenceId"].as_u64().expect("sequence id");
            assert!(
                self.next <= self.processed + 1,
                "the server skipped messages"
            );
            return None;
        }
        if !trackable(&message) {
            return None;
        }
        let id = self.next;
        self.next += 1;
        if id <= self.processed {
            return None;
        }
        self.processed = id;
        Some(message)
    }
}

async fn stateful_token(server: &Server) -> String {
    let body = negotiate(server.addr, "?negotiateVersion=1&useStatefulReconnect=true").await;
    assert_eq!(body["useStatefulReconnect"], true);
    body["connectionToken"].as_str().expect("token").to_owned()
}

async fn handshake_v2(addr: std::net::SocketAddr, token: &str) -> Client {
    let mut client = open(addr, &format!("?id={token}")).await.expect("ws");
    client
        .send_raw(&format!("{{\"protocol\":\"json\",\"version\":2}}{RS}"))
        .await;
    assert_eq!(client.next().await, Some(json!({})));
    client
}

#[tokio::test]
async fn stateful_reconnect_is_only_offered_when_asked() {
    let server = start(test_hub(options()).build()).await;
    let plain = negotiate(server.addr, "?negotiateVersion=1").await;
    assert!(plain.get("useStatefulReconnect").is_none());
    let server = start(
        test_hub(HubOptions {
            allow_stateful_reconnect: false,
            ..options()
        })
        .build(),
    )
    .await;
    let refused = negotiate(server.addr, "?negotiateVersion=1&useStatefulReconnect=true").await;
    assert!(refused.get("useStatefulReconnect").is_none());
}

#[tokio::test]
async fn a_cut_socket_resumes_and_every_message_arrives_once_in_order() {
    let server = start(test_hub(options()).build()).await;
    let token = stateful_token(&server).await;
    let mut client = handshake_v2(server.addr, &token).await;
    let mut receiver = Receiver {
        processed: 0,
        next: 1,
    };
    client
        .send(json!({"type": 1, "invocationId": "j", "target": "Join", "arguments": ["feed"]}))
        .await;
    // The server's Ack of the invocation may come before or after its Completion.
    loop {
        let message = client.next().await.expect("join completion");
        if message["type"] == 3 {
            assert!(receiver.take(message).is_some());
            break;
        }
        assert!(!trackable(&message), "unexpected {message}");
    }

    const TOTAL: u64 = 300;
    let handle = server.handle.clone();
    let producer = tokio::spawn(async move {
        for i in 0..TOTAL {
            handle.send_to_group(
                "feed",
                "Numbered",
                vec![Payload::from_serialize(&i).expect("payload")],
            );
            if i % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });

    let mut seen = Vec::new();
    // Take some, acknowledge part of them, then cut the socket without a close handshake.
    while seen.len() < 60 {
        let message = client.next().await.expect("message");
        if message["type"] == 8 {
            continue;
        }
        if let Some(message) = receiver.take(message) {
            seen.push(message["arguments"][0].as_u64().expect("number"));
        }
    }
    client.send(json!({"type": 8, "sequenceId": 20})).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(client);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.handle.connection_count(),
        1,
        "the logical connection survives"
    );

    // Same URL, no negotiate, no handshake: the server opens with Sequence, then the replay.
    let mut client = open(server.addr, &format!("?id={token}"))
        .await
        .expect("resume");
    client.send(json!({"type": 9, "sequenceId": 1})).await;
    let first = client.next().await.expect("sequence");
    assert_eq!(first["type"], 9, "Sequence comes first: {first}");
    let announced = first["sequenceId"].as_u64().expect("id");
    assert!(
        announced <= 21,
        "unacknowledged messages are replayed from {announced}"
    );
    receiver.take(first);
    while seen.len() < TOTAL as usize {
        let message = client.next().await.expect("message");
        if let Some(message) = receiver.take(message) {
            seen.push(message["arguments"][0].as_u64().expect("number"));
        }
    }
    producer.await.expect("producer");
    assert_eq!(seen, (0..TOTAL).collect::<Vec<_>>());
}

#[tokio::test]
async fn replayed_client_messages_are_processed_once() {
    let counter = Arc::new(AtomicU64::new(0));
    let hub = test_hub(options())
        .method("Count", {
            let counter = Arc::clone(&counter);
            move |_: Caller, (): ()| {
                let counter = Arc::clone(&counter);
                async move { Ok::<_, HubError>(counter.fetch_add(1, Ordering::SeqCst) + 1) }
            }
        })
        .build();
    let server = start(hub).await;
    let token = stateful_token(&server).await;
    let mut client = handshake_v2(server.addr, &token).await;
    let count = |id: u64| json!({"type": 1, "target": "Count", "arguments": [], "invocationId": id.to_string()});
    for id in 1..=5 {
        client.send(count(id)).await;
    }
    // The server acknowledges what it processed, about every 100 ms here.
    let mut acked = 0;
    while acked < 5 {
        let message = client.next().await.expect("message");
        if message["type"] == 8 {
            acked = message["sequenceId"].as_u64().expect("ack");
        }
    }
    drop(client);
    let mut client = open(server.addr, &format!("?id={token}"))
        .await
        .expect("resume");
    // The client pretends it never saw the Ack and replays everything, plus one new call.
    client.send(json!({"type": 9, "sequenceId": 1})).await;
    for id in 1..=6 {
        client.send(count(id)).await;
    }
    let mut results = Vec::new();
    while results.len() < 6 {
        let message = client.next().await.expect("message");
        if message["type"] == 3 {
            results.push(message);
        }
    }
    assert_eq!(
        counter.load(Ordering::SeqCst),
        6,
        "five replays ignored, one new call run"
    );
}

#[tokio::test]
async fn a_sequence_beyond_what_was_received_is_a_protocol_error() {
    let server = start(test_hub(options()).build()).await;
    let token = stateful_token(&server).await;
    let mut client = handshake_v2(server.addr, &token).await;
    client.send(json!({"type": 9, "sequenceId": 5})).await;
    let close = client.next_non_ping().await.expect("close");
    assert_eq!(close["type"], 7);
}

#[tokio::test]
async fn an_abandoned_session_expires_and_its_token_with_it() {
    let server = start(test_hub(options()).build()).await;
    let token = stateful_token(&server).await;
    let client = handshake_v2(server.addr, &token).await;
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.handle.connection_count(), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.handle.connection_count(), 0);
    let error = open(server.addr, &format!("?id={token}"))
        .await
        .err()
        .expect("expired");
    assert_eq!(http_status(&error), Some(404));
}

#[tokio::test]
async fn version_one_handshakes_do_not_get_stateful_reconnect() {
    let server = start(test_hub(options()).build()).await;
    let token = stateful_token(&server).await;
    let mut client = open(server.addr, &format!("?id={token}"))
        .await
        .expect("ws");
    client.handshake().await;
    client.invoke("1", "Echo", json!(["x"])).await;
    assert!(
        !client.frames.iter().any(|f| f.contains("\"type\":8")),
        "no Ack to a v1 client"
    );
    let error = open(server.addr, &format!("?id={token}"))
        .await
        .err()
        .expect("refused");
    assert_eq!(http_status(&error), Some(409));
}
