//! The hub over real sockets: negotiate, WebSocket transport, handshake, invocations, groups,
//! keep-alive, timeouts, limits, authentication and slow clients.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use serde_json::json;
use signalr_hub::{AuthError, Caller, HubOptions, Payload, Principal};

fn fast_options() -> HubOptions {
    HubOptions {
        keep_alive_interval: Duration::from_secs(60),
        client_timeout: Duration::from_secs(60),
        ..HubOptions::default()
    }
}

async fn default_server() -> Server {
    start(test_hub(fast_options()).build()).await
}

#[tokio::test]
async fn negotiate_v1_returns_a_public_id_and_a_different_secret_token() {
    let server = default_server().await;
    let body = negotiate(server.addr, "?negotiateVersion=1").await;
    assert_eq!(body["negotiateVersion"], 1);
    let id = body["connectionId"].as_str().expect("id");
    let token = body["connectionToken"].as_str().expect("token");
    assert_ne!(id, token);
    assert_eq!(token.len(), 22);
    assert_eq!(
        body["availableTransports"],
        json!([
            {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]},
            {"transport": "ServerSentEvents", "transferFormats": ["Text"]},
            {"transport": "LongPolling", "transferFormats": ["Text", "Binary"]},
        ])
    );
    assert!(body.get("useStatefulReconnect").is_none());
    assert!(body.get("ProtocolVersion").is_none());
}

#[tokio::test]
async fn negotiate_without_version_is_v0_and_the_id_is_the_token() {
    let server = default_server().await;
    let body = negotiate(server.addr, "").await;
    assert_eq!(body["negotiateVersion"], 0);
    assert!(body.get("connectionToken").is_none());
    let id = body["connectionId"].as_str().expect("id").to_owned();
    let mut client = open(server.addr, &format!("?id={id}")).await.expect("ws");
    client.handshake().await;
    let whoami = client.invoke("1", "Whoami", json!([])).await;
    assert_eq!(whoami["result"]["connectionId"], id.as_str());
}

#[tokio::test]
async fn negotiate_version_errors_are_200_with_an_error_body() {
    let server = default_server().await;
    let body = negotiate(server.addr, "?negotiateVersion=abc").await;
    assert_eq!(
        body,
        json!({"error": "The client requested a non-integer protocol version."})
    );
    let body = negotiate(server.addr, "?negotiateVersion=-1").await;
    assert_eq!(
        body,
        json!({"error": "The client requested version '-1', but the server does not support this version."})
    );
    let body = negotiate(server.addr, "?NEGOTIATEVERSION=7&extra=1").await;
    assert_eq!(body["negotiateVersion"], 1);
}

#[tokio::test]
async fn routes_answer_the_plain_texts_clients_expect() {
    let server = default_server().await;
    let addr = server.addr;
    assert_eq!(http(addr, "GET", "/hub/negotiate", &[]).await.status, 405);
    let missing = http(addr, "GET", "/hub", &[]).await;
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (400, "Connection ID required")
    );
    let unknown = http(addr, "GET", "/hub?id=nope", &[]).await;
    assert_eq!(
        (unknown.status, unknown.body.as_str()),
        (404, "No Connection with that ID")
    );
    assert_eq!(unknown.header("content-type"), Some("text/plain"));
    let token = negotiate(addr, "?negotiateVersion=1").await["connectionToken"]
        .as_str()
        .expect("token")
        .to_owned();
    // Before any transport a POST is accepted and its body kept for the transport, as in
    // ASP.NET Core (see http_transports.rs, a_post_before_the_first_poll_waits_for_the_transport).
    assert_eq!(
        http(addr, "POST", &format!("/hub?id={token}"), &[])
            .await
            .status,
        200
    );
    let mut client = open(addr, &format!("?id={token}")).await.expect("ws");
    client.handshake().await;
    let post = http(addr, "POST", &format!("/hub?id={token}"), &[]).await;
    assert_eq!(post.status, 405);
    assert_eq!(
        post.body,
        "POST requests are not allowed for WebSocket connections."
    );
    let switch = http(addr, "GET", &format!("/hub?id={token}"), &[]).await;
    assert_eq!(switch.status, 400);
    assert_eq!(http(addr, "POST", "/hub?id=nope", &[]).await.status, 404);
    assert_eq!(
        http(addr, "DELETE", &format!("/hub?id={token}"), &[])
            .await
            .status,
        400
    );
    assert_eq!(http(addr, "DELETE", "/hub?id=nope", &[]).await.status, 404);
    assert_eq!(http(addr, "PUT", "/hub", &[]).await.status, 405);
}

#[tokio::test]
async fn unknown_token_is_404_and_a_second_socket_is_409() {
    let server = default_server().await;
    let error = open(server.addr, "?id=unknown")
        .await
        .err()
        .expect("refused");
    assert_eq!(http_status(&error), Some(404));
    let token = negotiate(server.addr, "?negotiateVersion=1").await["connectionToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let mut first = open(server.addr, &format!("?id={token}"))
        .await
        .expect("first");
    first.handshake().await;
    let error = open(server.addr, &format!("?id={token}"))
        .await
        .err()
        .expect("refused");
    assert_eq!(http_status(&error), Some(409));
    assert_eq!(
        first.invoke("1", "Echo", json!(["still here"])).await["result"],
        "still here"
    );
}

#[tokio::test]
async fn skip_negotiation_opens_a_new_connection() {
    let server = default_server().await;
    let mut client = open(server.addr, "").await.expect("ws");
    client.handshake().await;
    let reply = client.invoke("0", "Echo", json!(["hi"])).await;
    assert_eq!(
        reply,
        json!({"type": 3, "invocationId": "0", "result": "hi"})
    );
    assert_eq!(server.handle.connection_count(), 1);
}

#[tokio::test]
async fn records_split_across_frames_and_batched_in_one_frame_are_both_understood() {
    let server = default_server().await;
    let mut client = open(server.addr, "").await.expect("ws");
    // Handshake and first invocation in one frame, the second invocation cut in two frames.
    client
        .send_raw(&format!(
            "{{\"protocol\":\"json\",\"version\":1}}{RS}{{\"type\":1,\"invocationId\":\"a\",\"target\":\"Echo\",\"arguments\":[\"one\"]}}{RS}{{\"type\":1,\"invocationId\":\"b\",\"tar"
        ))
        .await;
    client
        .send_raw(&format!("get\":\"echo\",\"arguments\":[\"two\"]}}{RS}"))
        .await;
    assert_eq!(client.next().await, Some(json!({})));
    let first = client.next_non_ping().await.expect("first");
    let second = client.next_non_ping().await.expect("second");
    assert_eq!(first["result"], "one");
    assert_eq!(second["result"], "two");
}

#[tokio::test]
async fn results_errors_and_bad_calls_keep_the_connection_open() {
    let server = default_server().await;
    let mut client = connect(server.addr).await;
    assert_eq!(
        client.invoke("1", "add", json!([2, 40])).await["result"],
        42
    );
    let thrown = client.invoke("2", "Throw", json!(["nope"])).await;
    assert_eq!(
        thrown,
        json!({"type": 3, "invocationId": "2", "error": "nope"})
    );
    let unknown = client.invoke("3", "Missing", json!([])).await;
    assert_eq!(unknown["error"], "Unknown hub method 'Missing'");
    let count = client.invoke("4", "Add", json!([1])).await;
    assert_eq!(
        count["error"],
        "Failed to invoke 'Add' due to an error on the server. InvalidDataException: Invocation provides 1 argument(s) but target expects 2."
    );
    let types = client.invoke("5", "Add", json!(["x", 1])).await;
    assert!(
        types["error"]
            .as_str()
            .expect("error")
            .starts_with("Failed to invoke 'Add' due to an error on the server."),
        "{types}"
    );
    let panicked = client.invoke("6", "Panic", json!([])).await;
    assert_eq!(
        panicked["error"],
        "An unexpected error occurred invoking 'Panic' on the server."
    );
    let streaming = json!({"type": 4, "invocationId": "7", "target": "Echo", "arguments": ["x"]});
    client.send(streaming).await;
    let reply = client.next_non_ping().await.expect("reply");
    assert_eq!(
        reply["error"],
        "The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation."
    );
    let void = client.invoke("8", "Join", json!(["g"])).await;
    assert_eq!(
        void,
        json!({"type": 3, "invocationId": "8", "result": null})
    );
    assert_eq!(
        client.invoke("9", "Echo", json!(["alive"])).await["result"],
        "alive"
    );
}

#[tokio::test]
async fn non_blocking_invocations_get_no_reply_even_on_error() {
    let server = default_server().await;
    let mut client = connect(server.addr).await;
    client
        .send(json!({"type": 1, "target": "Missing", "arguments": []}))
        .await;
    client
        .send(json!({"type": 1, "target": "Throw", "arguments": ["x"]}))
        .await;
    let reply = client.invoke("only", "Echo", json!(["x"])).await;
    assert_eq!(reply["invocationId"], "only");
    assert_eq!(
        client
            .frames
            .iter()
            .filter(|f| f.contains("\"type\":3"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_hundred_invocations_in_one_frame_all_complete_in_order() {
    let server = default_server().await;
    let mut client = connect(server.addr).await;
    let batch: String = (0..100)
        .map(|i| format!("{}{RS}", json!({"type": 1, "invocationId": i.to_string(), "target": "Echo", "arguments": [format!("m{i}")]})))
        .collect();
    client.send_raw(&batch).await;
    for i in 0..100 {
        let reply = client.next_non_ping().await.expect("reply");
        assert_eq!(reply["invocationId"], i.to_string());
        assert_eq!(reply["result"], format!("m{i}"));
    }
}

#[tokio::test]
async fn server_pings_when_quiet() {
    let options = HubOptions {
        keep_alive_interval: Duration::from_millis(100),
        ..fast_options()
    };
    let server = start(test_hub(options).build()).await;
    let mut client = connect(server.addr).await;
    let started = tokio::time::Instant::now();
    assert_eq!(client.next().await, Some(json!({"type": 6})));
    assert_eq!(client.next().await, Some(json!({"type": 6})));
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn silent_clients_are_closed_with_an_error_and_a_reconnect_hint() {
    let options = HubOptions {
        client_timeout: Duration::from_millis(300),
        ..fast_options()
    };
    let server = start(test_hub(options).build()).await;
    let mut client = connect(server.addr).await;
    let close = client.next().await.expect("close message");
    assert_eq!(
        close,
        json!({"type": 7, "error": "Connection closed with an error.", "allowReconnect": true})
    );
    assert_eq!(client.next().await, None);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.handle.connection_count(), 0);
}

#[tokio::test]
async fn pings_from_the_client_keep_it_alive() {
    let options = HubOptions {
        client_timeout: Duration::from_millis(400),
        ..fast_options()
    };
    let server = start(test_hub(options).build()).await;
    let mut client = connect(server.addr).await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        client.send(json!({"type": 6})).await;
    }
    assert_eq!(
        client.invoke("1", "Echo", json!(["ok"])).await["result"],
        "ok"
    );
}

#[tokio::test]
async fn handshake_errors_are_answered_then_closed() {
    let options = HubOptions {
        handshake_timeout: Duration::from_millis(200),
        ..fast_options()
    };
    let server = start(test_hub(options).build()).await;
    let cases = [
        (
            format!("{{\"protocol\":\"xml\",\"version\":1}}{RS}"),
            "The protocol 'xml' is not supported.",
        ),
        (
            format!("{{\"protocol\":\"json\",\"version\":3}}{RS}"),
            "The server does not support version 3 of the 'json' protocol.",
        ),
        (
            format!("[1,2]{RS}"),
            "An unexpected error occurred during connection handshake.",
        ),
        (String::new(), "Handshake was canceled."),
    ];
    for (request, error) in cases {
        let mut client = open(server.addr, "").await.expect("ws");
        if !request.is_empty() {
            client.send_raw(&request).await;
        }
        assert_eq!(
            client.next().await,
            Some(json!({"error": error})),
            "{request}"
        );
        assert_eq!(client.next().await, None);
    }
    assert_eq!(server.handle.connection_count(), 0);
}

#[tokio::test]
async fn older_and_newer_handshake_versions_are_accepted() {
    let server = default_server().await;
    for version in [0, 1, 2] {
        let mut client = open(server.addr, "").await.expect("ws");
        client
            .send_raw(&format!(
                "{{\"protocol\":\"json\",\"version\":{version}}}{RS}"
            ))
            .await;
        assert_eq!(client.next().await, Some(json!({})));
    }
}

#[tokio::test]
async fn an_oversized_message_closes_only_that_connection() {
    let options = HubOptions {
        max_message_size: 1024,
        ..fast_options()
    };
    let server = start(test_hub(options).build()).await;
    let mut bystander = connect(server.addr).await;
    let mut offender = connect(server.addr).await;
    let big = "x".repeat(2000);
    offender
        .send(json!({"type": 1, "invocationId": "1", "target": "Echo", "arguments": [big]}))
        .await;
    let close = offender.next_non_ping().await.expect("close");
    assert_eq!(close["type"], 7);
    assert_eq!(close["error"], "Connection closed with an error.");
    assert_eq!(offender.next().await, None);
    assert_eq!(
        bystander.invoke("1", "Echo", json!(["fine"])).await["result"],
        "fine"
    );
}

#[tokio::test]
async fn malformed_messages_close_with_an_error() {
    let server = default_server().await;
    for bad in [
        "{\"type\":1}",
        "not json",
        "{\"type\":3,\"invocationId\":\"1\",\"result\":1,\"error\":\"x\"}",
    ] {
        let mut client = connect(server.addr).await;
        client.send_raw(&format!("{bad}{RS}")).await;
        let close = client.next_non_ping().await.expect("close");
        assert_eq!(close["type"], 7, "{bad}");
        assert_eq!(client.next().await, None);
    }
}

#[tokio::test]
async fn group_sends_reach_members_only_and_stop_after_leaving() {
    let server = default_server().await;
    let mut member = connect(server.addr).await;
    let mut other = connect(server.addr).await;
    member.invoke("1", "Join", json!(["Blue"])).await;
    let args = vec![Payload::from_serialize("hello").expect("payload")];
    assert_eq!(
        server.handle.send_to_group("blue", "Note", args.clone()),
        0,
        "names are case-sensitive"
    );
    assert_eq!(server.handle.send_to_group("Blue", "Note", args.clone()), 1);
    assert_eq!(
        member.next_non_ping().await,
        Some(json!({"type": 1, "target": "Note", "arguments": ["hello"]}))
    );
    member.invoke("2", "Leave", json!(["Blue"])).await;
    assert_eq!(server.handle.send_to_group("Blue", "Note", args.clone()), 0);
    assert_eq!(server.handle.send_to_all("All", args), 2);
    assert_eq!(other.next_non_ping().await.expect("all")["target"], "All");
    assert_eq!(member.next_non_ping().await.expect("all")["target"], "All");
}

#[tokio::test]
async fn disconnect_removes_the_connection_from_all_its_groups() {
    let server = default_server().await;
    let mut client = connect(server.addr).await;
    for i in 0..50 {
        client
            .invoke(&i.to_string(), "Join", json!([format!("g{i}")]))
            .await;
    }
    assert_eq!(server.handle.group_count(), 50);
    client.ws.close(None).await.expect("close");
    drop(client);
    for _ in 0..50 {
        if server.handle.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.handle.connection_count(), 0);
    assert_eq!(server.handle.group_count(), 0);
}

fn authenticated_hub() -> signalr_hub::Hub {
    test_hub(fast_options())
        .authenticate(|request| match request.token {
            Some(token) => token
                .strip_prefix("user:")
                .map(Principal::user)
                .ok_or_else(|| AuthError::new("bad token")),
            None => Err(AuthError::new("no token")),
        })
        .build()
}

#[tokio::test]
async fn authentication_is_required_at_negotiate_and_transport() {
    let server = start(authenticated_hub()).await;
    let refused = http(
        server.addr,
        "POST",
        "/hub/negotiate?negotiateVersion=1",
        &[],
    )
    .await;
    assert_eq!(refused.status, 401);
    let wrong = http(
        server.addr,
        "POST",
        "/hub/negotiate?negotiateVersion=1",
        &[("Authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(wrong.status, 401);
    let ok = http(
        server.addr,
        "POST",
        "/hub/negotiate?negotiateVersion=1",
        &[("Authorization", "Bearer user:ana")],
    )
    .await;
    assert_eq!(ok.status, 200);
    let token = ok.json()["connectionToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let error = open(server.addr, &format!("?id={token}"))
        .await
        .err()
        .expect("refused");
    assert_eq!(http_status(&error), Some(401));
    // Browsers cannot set headers on a WebSocket: the token comes as access_token.
    let mut client = open(server.addr, &format!("?id={token}&access_token=user%3Aana"))
        .await
        .expect("ws");
    client.handshake().await;
    assert_eq!(
        client.invoke("1", "Whoami", json!([])).await["result"]["user"],
        "ana"
    );
    let mut by_header = open_with(server.addr, "", &[("Authorization", "Bearer user:bo")])
        .await
        .expect("ws");
    by_header.handshake().await;
    assert_eq!(
        by_header.invoke("1", "Whoami", json!([])).await["result"]["user"],
        "bo"
    );
}

#[tokio::test]
async fn send_to_user_reaches_every_connection_of_that_user() {
    let server = start(authenticated_hub()).await;
    let mut first = open_with(server.addr, "", &[("Authorization", "Bearer user:ana")])
        .await
        .expect("ws");
    first.handshake().await;
    let mut second = open(server.addr, "?access_token=user:ana")
        .await
        .expect("ws");
    second.handshake().await;
    let mut other = open(server.addr, "?access_token=user:bo")
        .await
        .expect("ws");
    other.handshake().await;
    let args = vec![Payload::from_serialize(&json!({"n": 1})).expect("payload")];
    assert_eq!(server.handle.send_to_user("ana", "Hi", args), 2);
    assert_eq!(
        first.next_non_ping().await.expect("first")["arguments"],
        json!([{"n": 1}])
    );
    assert_eq!(
        second.next_non_ping().await.expect("second")["target"],
        "Hi"
    );
    other.send(json!({"type": 6})).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), other.next_non_ping())
            .await
            .is_err(),
        "other users receive nothing"
    );
}

#[tokio::test]
async fn disallowed_origins_are_refused() {
    let options = HubOptions {
        allowed_origins: Some(vec!["https://dispatch.example".to_owned()]),
        ..fast_options()
    };
    let server = start(test_hub(options).build()).await;
    let refused = http(
        server.addr,
        "POST",
        "/hub/negotiate?negotiateVersion=1",
        &[("Origin", "https://evil.example")],
    )
    .await;
    assert_eq!(refused.status, 403);
    let allowed = http(
        server.addr,
        "POST",
        "/hub/negotiate?negotiateVersion=1",
        &[("Origin", "https://dispatch.example")],
    )
    .await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://dispatch.example")
    );
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    let preflight = http(
        server.addr,
        "OPTIONS",
        "/hub/negotiate",
        &[
            ("Origin", "https://dispatch.example"),
            ("Access-Control-Request-Headers", "x-requested-with"),
        ],
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("x-requested-with")
    );
    let error = open_with(server.addr, "", &[("Origin", "https://evil.example")])
        .await
        .err()
        .expect("refused");
    assert_eq!(http_status(&error), Some(403));
    // Non-browser clients send no Origin and are not affected.
    let mut client = open(server.addr, "").await.expect("ws");
    client.handshake().await;
}

#[tokio::test]
async fn the_server_can_close_a_connection_with_an_error() {
    let server = default_server().await;
    let mut client = connect(server.addr).await;
    let id = client.invoke("1", "Whoami", json!([])).await["result"]["connectionId"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(
        server
            .handle
            .close_connection(&id.as_str().into(), Some("Kicked".to_owned()))
    );
    assert_eq!(
        client.next_non_ping().await,
        Some(json!({"type": 7, "error": "Kicked"}))
    );
    assert_eq!(client.next().await, None);
}

#[tokio::test]
async fn the_server_can_ask_every_client_to_reconnect_elsewhere() {
    let server = default_server().await;
    let mut first = connect(server.addr).await;
    let mut second = connect(server.addr).await;
    assert_eq!(
        server.handle.close_all(Some("Restarting".to_owned()), true),
        2
    );
    for client in [&mut first, &mut second] {
        assert_eq!(
            client.next_non_ping().await,
            Some(json!({"type": 7, "error": "Restarting", "allowReconnect": true}))
        );
        assert_eq!(client.next().await, None);
    }
}

#[tokio::test]
async fn a_close_message_from_the_client_ends_the_connection() {
    let server = default_server().await;
    let mut client = connect(server.addr).await;
    client.send(json!({"type": 7})).await;
    assert_eq!(client.next().await, None);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.handle.connection_count(), 0);
}

#[tokio::test]
async fn hooks_run_on_connect_and_disconnect() {
    let connected = Arc::new(AtomicUsize::new(0));
    let disconnected = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, d, s) = (
        Arc::clone(&connected),
        Arc::clone(&disconnected),
        Arc::clone(&seen),
    );
    let hub = test_hub(fast_options())
        .on_connected(move |caller: Caller| {
            let c = Arc::clone(&c);
            s.lock()
                .expect("lock")
                .push((caller.transport(), caller.protocol()));
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                caller.join_group("everyone");
                Ok(())
            }
        })
        .on_disconnected(move |_caller: Caller| {
            let d = Arc::clone(&d);
            async move {
                d.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build();
    let server = start(hub).await;
    let mut client = connect(server.addr).await;
    client.invoke("1", "Echo", json!(["x"])).await;
    assert_eq!(connected.load(Ordering::SeqCst), 1);
    // The hook knows how the client connected (for metrics by transport and protocol).
    assert_eq!(*seen.lock().expect("lock"), [("WebSockets", "json")]);
    assert_eq!(server.handle.send_to_group("everyone", "Hi", vec![]), 1);
    client.send(json!({"type": 7})).await;
    for _ in 0..50 {
        if disconnected.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(disconnected.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_on_connected_hook_closes_without_reconnect() {
    let hub = test_hub(fast_options())
        .on_connected(|_caller: Caller| async { Err(signalr_hub::HubError::new("not today")) })
        .build();
    let server = start(hub).await;
    let mut client = connect(server.addr).await;
    assert_eq!(
        client.next().await,
        Some(json!({"type": 7, "error": "not today"}))
    );
}

#[tokio::test]
async fn a_client_that_does_not_read_is_closed_and_nobody_else_notices() {
    let options = HubOptions {
        max_pending_messages: 8,
        send_timeout: Duration::from_secs(2),
        ..fast_options()
    };
    let server = start(test_hub(options).build()).await;
    let mut healthy = connect(server.addr).await;
    let stalled = connect(server.addr).await;
    healthy.invoke("1", "Join", json!(["room"])).await;
    let mut stalled = stalled;
    stalled.invoke("1", "Join", json!(["room"])).await;
    let chunk = Payload::from_serialize(&"y".repeat(16 * 1024)).expect("payload");
    // The stalled client never reads: its socket buffers fill, then its queue, then it is cut.
    let mut delivered_to_healthy = 0;
    for _ in 0..2000 {
        server
            .handle
            .send_to_group("room", "Chunk", vec![chunk.clone()]);
        if healthy.next_non_ping().await.is_some() {
            delivered_to_healthy += 1;
        }
        if server.handle.connection_count() == 1 {
            break;
        }
    }
    assert_eq!(
        server.handle.connection_count(),
        1,
        "the stalled client was closed"
    );
    assert!(delivered_to_healthy > 0);
    assert_eq!(
        healthy.invoke("2", "Echo", json!(["ok"])).await["result"],
        "ok"
    );
    drop(stalled);
}

#[tokio::test]
async fn messages_waiting_together_share_one_frame() {
    let server = default_server().await;
    let mut client = connect(server.addr).await;
    let id = client.invoke("1", "Whoami", json!([])).await["result"]["connectionId"]
        .as_str()
        .expect("id")
        .to_owned();
    let frames_before = client.frames.len();
    for i in 0..200 {
        server.handle.send_to_connection(
            &id.as_str().into(),
            "N",
            vec![Payload::from_serialize(&i).expect("payload")],
        );
    }
    for i in 0..200 {
        assert_eq!(
            client.next_non_ping().await.expect("n")["arguments"],
            json!([i])
        );
    }
    let frames = client.frames.len() - frames_before;
    assert!(
        frames < 200,
        "200 queued messages went out in {frames} frames"
    );
}
