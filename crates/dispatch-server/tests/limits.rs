//! Each limit of issue 17 on its own, and the shape of each refusal: the connection clocks
//! (headers, body, idle), the connection caps per node and per address (with a trusted
//! proxy's `X-Forwarded-For`), the 413 a client still sending its body gets to read, the
//! per-subject rate limit, and the hub's per-subject caps. Attackers bind their own loopback
//! addresses (127.0.0.x) so that the per-address caps see them apart.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use common::*;
use dispatch_server::RunOptions;
use dispatch_server::auth::Role;
use dispatch_server::fairness::{ApiLimits, Rate};
use dispatch_server::serve::HttpLimits;
use serde_json::{Value, json};
use signalr_hub::HubOptions;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Bounds every wait, so a regression fails instead of hanging.
const BOUND: Duration = Duration::from_secs(20);

async fn server(http: HttpLimits, hub: HubOptions, limits: ApiLimits) -> TestServer {
    let options = RunOptions {
        http,
        ..RunOptions::default()
    };
    start_with(tempfile::tempdir().expect("dir"), options, hub, limits).await
}

/// A TCP connection to `addr` from the loopback address `local`.
async fn connect_from(local: &str, addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{local}:0").parse().expect("address"))
        .expect("bind");
    socket.connect(addr).await.expect("connect")
}

/// Everything the server sends until it closes (or an error), within [`BOUND`].
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    let read = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(BOUND, read)
        .await
        .expect("the server closes in time");
    answer
}

/// The status of a raw HTTP answer, and its body as JSON.
fn parse(answer: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn half_open_connections_and_idle_keep_alives_are_closed_by_their_clocks() {
    let http = HttpLimits {
        header_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    };
    let server = server(http, HubOptions::default(), ApiLimits::UNLIMITED).await;
    // One header line and never the end of the headers: closed, nothing answered.
    let mut half_open = connect_from("127.0.0.2", server.addr).await;
    half_open
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: dispatch\r\n")
        .await
        .expect("write");
    assert!(read_to_close(&mut half_open).await.is_empty());
    // Nothing at all: closed too.
    let mut silent = connect_from("127.0.0.2", server.addr).await;
    assert!(read_to_close(&mut silent).await.is_empty());
    // A whole request is answered; the kept-alive connection is closed once idle.
    let mut kept = connect_from("127.0.0.3", server.addr).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: dispatch\r\n\r\n")
        .await
        .expect("write");
    let answer = read_to_close(&mut kept).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    assert!(metric(&server, "dispatch_http_timeouts_total{phase=\"header\"}").await >= 2.0);
    assert!(metric(&server, "dispatch_http_timeouts_total{phase=\"idle\"}").await >= 1.0);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let http = HttpLimits {
        body_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    };
    let server = server(http, HubOptions::default(), ApiLimits::UNLIMITED).await;
    let mut stream = connect_from("127.0.0.2", server.addr).await;
    let head = format!(
        "POST /api/v1/regions HTTP/1.1\r\nhost: dispatch\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"id\":",
        server.admin()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let (status, body) = parse(&read_to_close(&mut stream).await);
    assert_eq!(status, 408);
    assert_eq!(body["type"], "urn:dispatch:problem:request-timeout");
    assert!(metric(&server, "dispatch_http_timeouts_total{phase=\"body\"}").await >= 1.0);
}

#[tokio::test]
async fn connections_over_the_address_cap_get_429_at_once_and_others_are_served() {
    let http = HttpLimits {
        max_connections_per_address: 4,
        ..HttpLimits::default()
    };
    let server = server(http, HubOptions::default(), ApiLimits::UNLIMITED).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.2", server.addr).await);
    }
    let mut over = connect_from("127.0.0.2", server.addr).await;
    let (status, body) = parse(&read_to_close(&mut over).await);
    assert_eq!(status, 429);
    assert_eq!(body["type"], "urn:dispatch:problem:too-many-connections");
    // Another address is not affected.
    let mut other = connect_from("127.0.0.3", server.addr).await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: dispatch\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let (status, _) = parse(&read_to_close(&mut other).await);
    assert_eq!(status, 200);
    assert!(
        metric(
            &server,
            "dispatch_refusals_total{reason=\"connections-address\"}"
        )
        .await
            >= 1.0
    );
    drop(held);
}

#[tokio::test]
async fn connections_over_the_node_cap_get_503_at_once() {
    let http = HttpLimits {
        max_connections: 3,
        ..HttpLimits::default()
    };
    let server = server(http, HubOptions::default(), ApiLimits::UNLIMITED).await;
    let mut held = Vec::new();
    for n in 0..3 {
        held.push(connect_from(&format!("127.0.0.{}", 10 + n), server.addr).await);
    }
    let mut over = connect_from("127.0.0.20", server.addr).await;
    let (status, body) = parse(&read_to_close(&mut over).await);
    assert_eq!(status, 503);
    assert_eq!(body["status"], 503);
    // Freed places are taken again.
    drop(held);
    let healthy = async {
        loop {
            if let Ok(answer) = server.try_call("GET", "/healthz", None, None).await
                && answer.status == 200
            {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(BOUND, healthy)
        .await
        .expect("served again once the held connections close");
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let http = HttpLimits {
        max_connections_per_address: 1,
        trusted_proxies: "127.0.0.6".parse().expect("proxies"),
        ..HttpLimits::default()
    };
    let server = server(http, HubOptions::default(), ApiLimits::UNLIMITED).await;
    // A request of client 9.9.9.9 through the proxy, held open mid-body.
    let head = |client: &str| {
        format!(
            "POST /api/v1/regions HTTP/1.1\r\nhost: dispatch\r\nx-forwarded-for: {client}\r\n\
             authorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n",
            server.admin()
        )
    };
    let mut held = connect_from("127.0.0.6", server.addr).await;
    held.write_all(head("9.9.9.9").as_bytes())
        .await
        .expect("write");
    // The proxy's connections are not capped per address; the forwarded client is. Its first
    // request is under way once the server reads its headers: retry until the cap shows.
    let refused = async {
        loop {
            let mut second = connect_from("127.0.0.6", server.addr).await;
            second
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: dispatch\r\nx-forwarded-for: 9.9.9.9\r\nconnection: close\r\n\r\n")
                .await
                .expect("write");
            let (status, body) = parse(&read_to_close(&mut second).await);
            if status == 429 {
                return body;
            }
            assert_eq!(status, 200);
            tokio::task::yield_now().await;
        }
    };
    let body = tokio::time::timeout(BOUND, refused)
        .await
        .expect("the forwarded client is capped");
    assert_eq!(body["type"], "urn:dispatch:problem:rate-limited");
    // Another forwarded client is served through the same proxy.
    let mut other = connect_from("127.0.0.6", server.addr).await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: dispatch\r\nx-forwarded-for: 8.8.8.8\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(parse(&read_to_close(&mut other).await).0, 200);
    // From an untrusted peer the header is ignored: the peer itself is the client.
    let mut direct = connect_from("127.0.0.7", server.addr).await;
    direct
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: dispatch\r\nx-forwarded-for: 9.9.9.9\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(parse(&read_to_close(&mut direct).await).0, 200);
    drop(held);
}

/// Bytes of the oversized bodies (the 20 MB).
const HUGE: usize = 20 * 1024 * 1024;

#[tokio::test]
async fn an_oversized_body_gets_its_413_not_a_reset() {
    let server = server(
        HttpLimits::default(),
        HubOptions::default(),
        ApiLimits::UNLIMITED,
    )
    .await;
    let token = server.admin();
    let body = vec![b' '; HUGE];
    // A raw socket that sends the whole body before reading anything: no broken pipe, and
    // the 413 problem is there to read.
    for attempt in 0..5 {
        let mut stream = connect_from("127.0.0.2", server.addr).await;
        let head = format!(
            "POST /api/v1/regions HTTP/1.1\r\nhost: dispatch\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {HUGE}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        tokio::time::timeout(BOUND, stream.write_all(&body))
            .await
            .expect("the body is taken in time")
            .unwrap_or_else(|error| panic!("attempt {attempt}: sending the body: {error}"));
        let (status, problem) = parse(&read_to_close(&mut stream).await);
        assert_eq!(status, 413, "attempt {attempt}");
        assert_eq!(problem["type"], "urn:dispatch:problem:payload-too-large");
    }
    // A real HTTP client (hyper's), which reads the answer while it is still sending.
    let body = Bytes::from(body);
    for attempt in 0..10 {
        let answer = server
            .try_raw(
                "POST",
                "/api/v1/regions",
                Some(&token),
                &[("content-type", "application/json")],
                body.clone(),
            )
            .await
            .unwrap_or_else(|error| panic!("attempt {attempt}: {error}"));
        assert_eq!(answer.status, 413, "attempt {attempt}: {answer:?}");
        assert_eq!(
            answer.body["type"],
            "urn:dispatch:problem:payload-too-large"
        );
    }
}

/// A region with one contractor and `jobs` open jobs; their ids.
async fn world(server: &TestServer, jobs: usize) -> Vec<String> {
    server.region("west", "America/Los_Angeles").await;
    server
        .contractor_at("west", "Ana Ruiz", 37.77, -122.42, 4)
        .await;
    let mut ids = Vec::new();
    for _ in 0..jobs {
        let job = server.job("west", 37.76, -122.41, 2, 6).await;
        ids.push(job["id"].as_str().expect("id").to_owned());
    }
    ids
}

#[tokio::test]
async fn recommendations_are_rate_limited_per_subject_with_retry_after() {
    let limits = ApiLimits {
        recommendations: Rate {
            per_minute: 1,
            burst: 2,
        },
        ..ApiLimits::default()
    };
    let server = server(HttpLimits::default(), HubOptions::default(), limits).await;
    let jobs = world(&server, 1).await;
    let noisy = server.dispatcher("west");
    let ask = |token: String| {
        let body = json!({"jobId": jobs[0], "limit": 3});
        let server = &server;
        async move {
            server
                .call("POST", "/api/v1/recommendations", Some(&token), Some(&body))
                .await
        }
    };
    assert_eq!(ask(noisy.clone()).await.status, 202);
    assert_eq!(ask(noisy.clone()).await.status, 202);
    let refused = ask(noisy.clone()).await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(refused.body["type"], "urn:dispatch:problem:rate-limited");
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Another dispatcher of the same region has its own allowance.
    let quiet = server
        .keys
        .mint_for(
            "quiet-west",
            Role::Dispatcher,
            vec![dispatch_core::RegionId::new("west")],
            None,
            1,
        )
        .expect("token");
    assert_eq!(ask(quiet).await.status, 202);
    assert!(
        metric(
            &server,
            "dispatch_refusals_total{reason=\"rate-recommendations\"}"
        )
        .await
            >= 1.0
    );
}

#[tokio::test]
async fn the_hub_caps_connections_and_pending_negotiations_per_subject() {
    let hub = HubOptions {
        max_connections_per_user: Some(2),
        max_pending_negotiations_per_user: 2,
        ..HubOptions::default()
    };
    let server = server(HttpLimits::default(), hub, ApiLimits::UNLIMITED).await;
    world(&server, 0).await;
    let token = server.dispatcher("west");
    let first = server.hub(&token).await;
    let _second = server.hub(&token).await;
    let url = format!("ws://{}/hub/v1?access_token={token}", server.addr);
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!(
            "a third connection should be refused: {:?}",
            other.map(|_| ())
        ),
    }
    // Another subject is not affected; a closed connection frees its place.
    let _other = server.hub(&server.admin()).await;
    drop(first);
    let reopened = async {
        loop {
            if tokio_tungstenite::connect_async(&url).await.is_ok() {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(BOUND, reopened)
        .await
        .expect("a place again once a connection closed");

    // Negotiations that never open a transport: two wait, the third is refused.
    let admin = server.admin();
    let negotiate = || {
        server.call(
            "POST",
            "/hub/v1/negotiate?negotiateVersion=1",
            Some(&admin),
            None,
        )
    };
    assert_eq!(negotiate().await.status, 200);
    assert_eq!(negotiate().await.status, 200);
    let refused = negotiate().await;
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
    // Others still negotiate.
    let other = server
        .call(
            "POST",
            "/hub/v1/negotiate?negotiateVersion=1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(other.status, 200);
    assert!(
        metric(
            &server,
            "dispatch_refusals_total{reason=\"hub-negotiations\"}"
        )
        .await
            >= 1.0
    );
    assert!(
        metric(
            &server,
            "dispatch_refusals_total{reason=\"hub-connections\"}"
        )
        .await
            >= 1.0
    );
}

#[tokio::test]
async fn plans_are_rate_limited_per_subject_too() {
    let limits = ApiLimits {
        plans: Rate {
            per_minute: 1,
            burst: 1,
        },
        ..ApiLimits::default()
    };
    let server = server(HttpLimits::default(), HubOptions::default(), limits).await;
    world(&server, 1).await;
    let now = chrono::Utc::now();
    let body = json!({
        "region": "west",
        "from": iso(now),
        "to": iso(now + chrono::Duration::days(2)),
        "timeLimitSeconds": 1,
        "seed": 1
    });
    let token = server.dispatcher("west");
    let first = server
        .call("POST", "/api/v1/plans", Some(&token), Some(&body))
        .await;
    assert_eq!(first.status, 202, "{first:?}");
    let second = server
        .call("POST", "/api/v1/plans", Some(&token), Some(&body))
        .await;
    assert_eq!(second.status, 429, "{second:?}");
    assert_eq!(second.body["type"], "urn:dispatch:problem:rate-limited");
    assert!(second.header("retry-after").is_some());
}
