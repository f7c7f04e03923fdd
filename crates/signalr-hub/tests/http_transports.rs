//! Server-Sent Events and Long Polling over raw HTTP: the status codes, headers and framing
//! the official clients rely on.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use signalr_hub::{HubOptions, Payload, Transports};

fn options() -> HubOptions {
    HubOptions {
        keep_alive_interval: Duration::from_secs(60),
        client_timeout: Duration::from_secs(60),
        long_poll_timeout: Duration::from_millis(300),
        disconnect_timeout: Duration::from_millis(500),
        ..HubOptions::default()
    }
}

async fn token(server: &Server) -> String {
    negotiate(server.addr, "?negotiateVersion=1").await["connectionToken"]
        .as_str()
        .expect("token")
        .to_owned()
}

fn records(body: &str) -> Vec<Value> {
    body.split_terminator(RS)
        .map(|record| serde_json::from_str(record).expect("record"))
        .collect()
}

async fn post(server: &Server, token: &str, body: &str) -> HttpResponse {
    request(
        server.addr,
        "POST",
        &format!("/hub?id={token}"),
        &[],
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn server_sent_events_carry_the_conversation() {
    let server = start(test_hub(options()).build()).await;
    let token = token(&server).await;
    let mut events = open_event_stream(server.addr, &format!("/hub?id={token}")).await;
    assert_eq!(events.status, 200);
    let head = events.head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("cache-control: no-cache,no-store"), "{head}");
    // The comment line arrives before anything else so EventSource reports "open".
    events.read_at_least(3).await;
    assert_eq!(&events.raw()[..3], b":\r\n");

    let handshake = format!("{{\"protocol\":\"json\",\"version\":1}}{RS}");
    assert_eq!(post(&server, &token, &handshake).await.status, 200);
    let mut pending = Vec::new();
    assert_eq!(events.next_record(&mut pending).await, Some(json!({})));

    let invocation =
        json!({"type": 1, "invocationId": "1", "target": "Echo", "arguments": ["line1\nline2"]});
    assert_eq!(
        post(&server, &token, &format!("{invocation}{RS}"))
            .await
            .status,
        200
    );
    let reply = events.next_record(&mut pending).await.expect("completion");
    assert_eq!(reply["result"], "line1\nline2");

    post(
        &server,
        &token,
        &format!(
            "{}{RS}",
            json!({"type": 1, "invocationId": "2", "target": "Join", "arguments": ["g"]})
        ),
    )
    .await;
    events.next_record(&mut pending).await.expect("join");
    server.handle.send_to_group(
        "g",
        "Note",
        vec![Payload::from_serialize("hi").expect("payload")],
    );
    assert_eq!(
        events.next_record(&mut pending).await,
        Some(json!({"type": 1, "target": "Note", "arguments": ["hi"]}))
    );

    // A second event stream for the same connection is refused; so is DELETE.
    let second = open_event_stream(server.addr, &format!("/hub?id={token}")).await;
    assert_eq!(second.status, 409);
    assert_eq!(
        http(server.addr, "DELETE", &format!("/hub?id={token}"), &[])
            .await
            .status,
        400
    );

    // Dropping the event stream ends the connection.
    drop(events);
    for _ in 0..50 {
        if server.handle.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.handle.connection_count(), 0);
    assert_eq!(post(&server, &token, "x").await.status, 404);
}

#[tokio::test]
async fn server_sent_events_refuse_message_pack() {
    let server = start(test_hub(options()).build()).await;
    let token = token(&server).await;
    let mut events = open_event_stream(server.addr, &format!("/hub?id={token}")).await;
    post(
        &server,
        &token,
        &format!("{{\"protocol\":\"messagepack\",\"version\":1}}{RS}"),
    )
    .await;
    let mut pending = Vec::new();
    assert_eq!(
        events.next_record(&mut pending).await,
        Some(
            json!({"error": "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format."})
        )
    );
}

#[tokio::test]
async fn long_polling_follows_the_reference_status_codes() {
    let server = start(test_hub(options()).build()).await;
    let token = token(&server).await;
    let path = format!("/hub?id={token}&_=1");
    // The first poll answers at once with nothing: it starts the connection.
    let first = http(server.addr, "GET", &path, &[]).await;
    assert_eq!((first.status, first.body.as_str()), (200, ""));
    assert_eq!(first.header("cache-control"), Some("no-cache, no-store"));
    assert_eq!(
        first.header("expires"),
        Some("Thu, 01 Jan 1970 00:00:00 GMT")
    );

    let handshake = format!("{{\"protocol\":\"json\",\"version\":1}}{RS}");
    let invocation =
        json!({"type": 1, "invocationId": "1", "target": "Echo", "arguments": ["polled"]});
    // Handshake and an invocation in one POST; both answers wait for the next poll together.
    let posted = post(&server, &token, &format!("{handshake}{invocation}{RS}")).await;
    assert_eq!(posted.status, 200);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let poll = http(server.addr, "GET", &path, &[]).await;
    assert_eq!(poll.status, 200);
    assert_eq!(
        poll.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        records(&poll.body),
        vec![
            json!({}),
            json!({"type": 3, "invocationId": "1", "result": "polled"})
        ]
    );

    // Nothing to say: the poll times out with an empty 200 (never 204), and no pings are sent.
    let idle = http(server.addr, "GET", &path, &[]).await;
    assert_eq!((idle.status, idle.body.as_str()), (200, ""));

    // DELETE ends the connection (202); the next poll is told it is over.
    assert_eq!(http(server.addr, "DELETE", &path, &[]).await.status, 202);
    let after = http(server.addr, "GET", &path, &[]).await;
    assert!(matches!(after.status, 204 | 404), "{after:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.handle.connection_count(), 0);
}

/// signalrcore 1.0.2's long polling POSTs its handshake before its first poll (and its
/// negotiate is version 0, so the token is the connection id). ASP.NET Core accepts that: the
/// connection's pipe exists from negotiate on, so the body waits there for the transport.
#[tokio::test]
async fn a_post_before_the_first_poll_waits_for_the_transport() {
    let server = start(test_hub(options()).build()).await;
    let id = negotiate(server.addr, "").await["connectionId"]
        .as_str()
        .expect("id")
        .to_owned();
    let handshake = format!("{{\"protocol\":\"json\",\"version\":0}}{RS}");
    let invocation =
        json!({"type": 1, "invocationId": "1", "target": "Echo", "arguments": ["early"]});
    assert_eq!(post(&server, &id, &handshake).await.status, 200);
    assert_eq!(
        post(&server, &id, &format!("{invocation}{RS}"))
            .await
            .status,
        200
    );
    assert_eq!(server.handle.connection_count(), 0, "no transport yet");

    let path = format!("/hub?id={id}");
    let first = http(server.addr, "GET", &path, &[]).await;
    assert_eq!((first.status, first.body.as_str()), (200, ""));
    let poll = http(server.addr, "GET", &path, &[]).await;
    assert_eq!(
        (poll.status, records(&poll.body)),
        (
            200,
            vec![
                json!({}),
                json!({"type": 3, "invocationId": "1", "result": "early"})
            ]
        )
    );
    assert_eq!(server.handle.connection_count(), 1);

    // What waits for the transport is bounded (by the POST body limit, 128 KiB here).
    let other = negotiate(server.addr, "").await["connectionId"]
        .as_str()
        .expect("id")
        .to_owned();
    let chunk = "x".repeat(100 * 1024);
    assert_eq!(post(&server, &other, &chunk).await.status, 200);
    assert_eq!(post(&server, &other, &chunk).await.status, 413);
    // Unknown tokens are still 404.
    assert_eq!(post(&server, "no-such-token", "x").await.status, 404);

    // The same holds whichever transport comes: here a WebSocket reads the POSTed handshake.
    let ws_token = token(&server).await;
    let handshake = format!("{{\"protocol\":\"json\",\"version\":1}}{RS}");
    assert_eq!(post(&server, &ws_token, &handshake).await.status, 200);
    let mut client = open(server.addr, &format!("?id={ws_token}"))
        .await
        .expect("ws");
    assert_eq!(client.next().await, Some(json!({})));
    let completion = client.invoke("2", "Echo", json!(["over the socket"])).await;
    assert_eq!(completion["result"], "over the socket");
}

/// When the server ends a long-polling connection (a kick, an error), its Close message waits
/// for the next poll, however late that poll comes (within the disconnect timeout); only then
/// is the connection over (204) and its token forgotten (404). The official client relies on
/// the Close message: without it a kick looks like a network failure and its automatic
/// reconnect starts.
#[tokio::test]
async fn a_close_by_the_server_reaches_a_poll_that_comes_after_it() {
    let server = start(
        test_hub(HubOptions {
            disconnect_timeout: Duration::from_secs(3),
            ..options()
        })
        .build(),
    )
    .await;
    let body = negotiate(server.addr, "?negotiateVersion=1").await;
    let token = body["connectionToken"].as_str().expect("token").to_owned();
    let id = body["connectionId"].as_str().expect("id").to_owned();
    let path = format!("/hub?id={token}");
    http(server.addr, "GET", &path, &[]).await;
    post(
        &server,
        &token,
        &format!("{{\"protocol\":\"json\",\"version\":1}}{RS}"),
    )
    .await;
    let poll = http(server.addr, "GET", &path, &[]).await;
    assert_eq!(records(&poll.body), vec![json!({})]);

    // Closed while no poll is waiting; the connection ends on the server at once.
    assert!(
        server
            .handle
            .close_connection(&id.as_str().into(), Some("bye".to_owned()))
    );
    for _ in 0..50 {
        if server.handle.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.handle.connection_count(), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let late = http(server.addr, "GET", &path, &[]).await;
    assert_eq!(
        (late.status, records(&late.body)),
        (200, vec![json!({"type": 7, "error": "bye"})])
    );
    let over = http(server.addr, "GET", &path, &[]).await;
    assert_eq!(over.status, 204);
    // Once the client was told, the token goes (the scan runs every second).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(http(server.addr, "GET", &path, &[]).await.status, 404);
}

/// A client that never polls again does not keep a closed connection's token forever.
#[tokio::test]
async fn a_closed_long_polling_connection_is_forgotten_without_a_poll() {
    let server = start(test_hub(options()).build()).await;
    let body = negotiate(server.addr, "?negotiateVersion=1").await;
    let token = body["connectionToken"].as_str().expect("token").to_owned();
    let id = body["connectionId"].as_str().expect("id").to_owned();
    let path = format!("/hub?id={token}");
    http(server.addr, "GET", &path, &[]).await;
    post(
        &server,
        &token,
        &format!("{{\"protocol\":\"json\",\"version\":1}}{RS}"),
    )
    .await;
    http(server.addr, "GET", &path, &[]).await;
    server.handle.close_connection(&id.as_str().into(), None);
    // Disconnect timeout 500 ms after the last poll; the scan runs every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(http(server.addr, "GET", &path, &[]).await.status, 404);
}

#[tokio::test]
async fn a_newer_poll_ends_the_older_one_with_204() {
    let server = start(
        test_hub(HubOptions {
            long_poll_timeout: Duration::from_secs(5),
            ..options()
        })
        .build(),
    )
    .await;
    let token = token(&server).await;
    let path = format!("/hub?id={token}");
    http(server.addr, "GET", &path, &[]).await;
    let addr = server.addr;
    let older = tokio::spawn({
        let path = path.clone();
        async move { http(addr, "GET", &path, &[]).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let newer = tokio::spawn({
        let path = path.clone();
        async move { http(addr, "GET", &path, &[]).await }
    });
    assert_eq!(older.await.expect("older").status, 204);
    post(
        &server,
        &token,
        &format!("{{\"protocol\":\"json\",\"version\":1}}{RS}"),
    )
    .await;
    let newer = newer.await.expect("newer");
    assert_eq!((newer.status, records(&newer.body)), (200, vec![json!({})]));
}

#[tokio::test]
async fn abandoned_long_polling_connections_are_dropped() {
    let server = start(test_hub(options()).build()).await;
    let token = token(&server).await;
    let path = format!("/hub?id={token}");
    http(server.addr, "GET", &path, &[]).await;
    post(
        &server,
        &token,
        &format!("{{\"protocol\":\"json\",\"version\":1}}{RS}"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.handle.connection_count(), 1);
    // No poll for longer than the disconnect timeout (500 ms here; the scan runs every second).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.handle.connection_count(), 0);
    assert_eq!(post(&server, &token, "x").await.status, 404);
}

#[tokio::test]
async fn long_polling_carries_message_pack_in_binary() {
    let server = start(test_hub(options()).build()).await;
    let token = token(&server).await;
    let path = format!("/hub?id={token}");
    http(server.addr, "GET", &path, &[]).await;
    post(
        &server,
        &token,
        &format!("{{\"protocol\":\"messagepack\",\"version\":1}}{RS}"),
    )
    .await;
    // Invocation [1, {}, "1", "Echo", ["hi"]] with its VarInt length prefix.
    let mut invocation = vec![0x95, 0x01, 0x80, 0xa1, b'1', 0xa4];
    invocation.extend_from_slice(b"Echo");
    invocation.extend_from_slice(&[0x91, 0xa2, b'h', b'i']);
    let mut body = vec![u8::try_from(invocation.len()).expect("short")];
    body.extend_from_slice(&invocation);
    let posted = request(server.addr, "POST", &path, &[], &body).await;
    assert_eq!(posted.status, 200);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let poll = http(server.addr, "GET", &path, &[]).await;
    let bytes = &poll.bytes;
    assert!(bytes.starts_with(&[b'{', b'}', 0x1e]), "{bytes:?}");
    // Completion [3, {}, "1", 3, "hi"].
    assert_eq!(
        &bytes[3..],
        &[0x09, 0x95, 0x03, 0x80, 0xa1, b'1', 0x03, 0xa2, b'h', b'i']
    );
}

#[tokio::test]
async fn disabled_transports_are_not_offered_or_served() {
    let server = start(
        test_hub(HubOptions {
            transports: Transports {
                web_sockets: false,
                server_sent_events: true,
                long_polling: false,
            },
            ..options()
        })
        .build(),
    )
    .await;
    let body = negotiate(server.addr, "?negotiateVersion=1").await;
    assert_eq!(
        body["availableTransports"],
        json!([{"transport": "ServerSentEvents", "transferFormats": ["Text"]}])
    );
    let token = body["connectionToken"].as_str().expect("token").to_owned();
    let poll = http(server.addr, "GET", &format!("/hub?id={token}"), &[]).await;
    assert_eq!(
        (poll.status, poll.body.as_str()),
        (
            404,
            "LongPolling transport not supported by this end point type"
        )
    );
    let error = open(server.addr, &format!("?id={token}"))
        .await
        .err()
        .expect("refused");
    assert_eq!(http_status(&error), Some(404));
}
