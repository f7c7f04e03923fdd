//! Several nodes behind a load balancer, without sticky sessions: a connection token signed
//! with a shared key (`HubOptions::connection_token_key`) is negotiated on one server and opens
//! its WebSocket on another. Each "node" here is its own hub on its own port.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use signalr_hub::{ConnectionId, ConnectionTokenKey, HubOptions, Payload};

const SECRET: &str = "the cluster's shared secret, 32 bytes or more";

fn options(key: Option<&str>) -> HubOptions {
    HubOptions {
        keep_alive_interval: Duration::from_secs(60),
        client_timeout: Duration::from_secs(60),
        disconnect_timeout: Duration::from_secs(2),
        stateful_reconnect_ack_interval: Duration::from_millis(100),
        connection_token_key: key.map(ConnectionTokenKey::new),
        ..HubOptions::default()
    }
}

async fn node(key: Option<&str>) -> Server {
    start(test_hub(options(key)).build()).await
}

/// Negotiates (v1) on `server`: the public id and the token.
async fn negotiated(server: &Server, query: &str) -> (String, String) {
    let body = negotiate(server.addr, &format!("?negotiateVersion=1{query}")).await;
    let id = body["connectionId"].as_str().expect("id").to_owned();
    let token = body["connectionToken"].as_str().expect("token").to_owned();
    (id, token)
}

async fn refused_status(server: &Server, token: &str) -> Option<u16> {
    let error = open(server.addr, &format!("?id={token}"))
        .await
        .err()
        .expect("the WebSocket is refused");
    http_status(&error)
}

async fn wait_for_no_connections(server: &Server) {
    for _ in 0..100 {
        if server.handle.connection_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the connection did not end");
}

#[tokio::test]
async fn a_websocket_opens_on_another_node_under_the_negotiated_id() {
    let a = node(Some(SECRET)).await;
    let b = node(Some(SECRET)).await;
    let (id, token) = negotiated(&a, "").await;
    assert_ne!(id, token);
    assert!(token.contains('.'), "a signed token: {token}");
    assert!(
        token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)),
        "URL-safe: {token}"
    );

    let mut client = open(b.addr, &format!("?id={token}"))
        .await
        .expect("ws on b");
    client.handshake().await;
    let whoami = client.invoke("1", "Whoami", json!([])).await;
    assert_eq!(whoami["result"]["connectionId"], id.as_str());
    let echo = client.invoke("2", "Echo", json!(["across"])).await;
    assert_eq!(echo["result"], "across");

    client.invoke("3", "Join", json!(["crew"])).await;
    assert_eq!(
        b.handle.groups_of(&ConnectionId::from(id.as_str())),
        ["crew"]
    );
    let note = vec![Payload::from_serialize("on b").expect("payload")];
    assert_eq!(a.handle.send_to_group("crew", "Note", note.clone()), 0);
    assert_eq!(b.handle.send_to_group("crew", "Note", note), 1);
    assert_eq!(
        client.next_non_ping().await,
        Some(json!({"type": 1, "target": "Note", "arguments": ["on b"]}))
    );
    let direct = vec![Payload::from_serialize("direct").expect("payload")];
    assert!(
        b.handle
            .send_to_connection(&ConnectionId::from(id.as_str()), "Note", direct)
    );
    assert_eq!(
        client.next_non_ping().await,
        Some(json!({"type": 1, "target": "Note", "arguments": ["direct"]}))
    );

    // Known to b now: b's token-table rules apply, one WebSocket per token.
    assert_eq!(refused_status(&b, &token).await, Some(409));

    // Once the connection is over, a replay of its token is refused on b.
    client.ws.close(None).await.expect("close");
    drop(client);
    wait_for_no_connections(&b).await;
    assert_eq!(refused_status(&b, &token).await, Some(404));
}

#[tokio::test]
async fn foreign_tampered_expired_and_random_tokens_are_404() {
    let a = node(Some(SECRET)).await;
    let b = node(Some(SECRET)).await;
    let other = node(Some("another cluster's secret")).await;
    let keyless = node(None).await;

    let (_, foreign) = negotiated(&other, "").await;
    assert_eq!(refused_status(&b, &foreign).await, Some(404));
    let plain_get = http(b.addr, "GET", &format!("/hub?id={foreign}"), &[]).await;
    assert_eq!(
        (plain_get.status, plain_get.body.as_str()),
        (404, "No Connection with that ID")
    );

    let (_, token) = negotiated(&a, "").await;
    // Change one character in the payload and one in the tag.
    for at in [3, token.len() - 3] {
        let mut bytes = token.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("ascii");
        assert_eq!(refused_status(&b, &tampered).await, Some(404), "{tampered}");
    }

    let (_, random) = negotiated(&keyless, "").await;
    assert_eq!(random.len(), 22, "no key: random tokens as before");
    assert_eq!(refused_status(&b, &random).await, Some(404));
    for garbage in ["a.b", ".", "x", &"A".repeat(5000)] {
        assert_eq!(refused_status(&b, garbage).await, Some(404), "{garbage}");
    }

    let short_lived = start(
        test_hub(HubOptions {
            connection_token_lifetime: Duration::from_millis(300),
            ..options(Some(SECRET))
        })
        .build(),
    )
    .await;
    let (_, expiring) = negotiated(&short_lived, "").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(refused_status(&b, &expiring).await, Some(404));
    assert_eq!(refused_status(&short_lived, &expiring).await, Some(404));

    // The valid token is still good after all that.
    let mut client = open(b.addr, &format!("?id={token}")).await.expect("ws");
    client.handshake().await;
}

#[tokio::test]
async fn without_a_key_a_token_is_only_known_to_its_node() {
    let a = node(None).await;
    let b = node(None).await;
    let (_, token) = negotiated(&a, "").await;
    assert_eq!(refused_status(&b, &token).await, Some(404));
    let mut client = open(a.addr, &format!("?id={token}")).await.expect("ws");
    client.handshake().await;
}

#[tokio::test]
async fn negotiate_version_0_ids_open_on_every_node() {
    let a = node(Some(SECRET)).await;
    let b = node(Some(SECRET)).await;
    let body = negotiate(a.addr, "").await;
    assert_eq!(body["negotiateVersion"], 0);
    let id = body["connectionId"].as_str().expect("id").to_owned();
    let mut client = open(b.addr, &format!("?id={id}")).await.expect("ws");
    client.handshake().await;
    let whoami = client.invoke("1", "Whoami", json!([])).await;
    assert_eq!(whoami["result"]["connectionId"], id.as_str());
}

#[tokio::test]
async fn a_stateful_resume_elsewhere_fails_fast_and_the_holding_node_still_resumes() {
    let a = node(Some(SECRET)).await;
    let b = node(Some(SECRET)).await;
    let c = node(Some(SECRET)).await;
    let (id, token) = negotiated(&a, "&useStatefulReconnect=true").await;
    let mut client = open(b.addr, &format!("?id={token}")).await.expect("ws");
    client
        .send_raw(&format!("{{\"protocol\":\"json\",\"version\":2}}{RS}"))
        .await;
    assert_eq!(client.next().await, Some(json!({})));
    let whoami = client.invoke("1", "Whoami", json!([])).await;
    assert_eq!(whoami["result"]["connectionId"], id.as_str());
    // Cut without a close handshake: b keeps the logical connection for a resume.
    drop(client);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.handle.connection_count(), 1);

    // The client resumes as the official one does, with Sequence, but on a node that does not
    // hold the connection (c never saw the token; a negotiated it): a new connection there
    // wants a handshake, so the client is told so and closed at once.
    for elsewhere in [&c, &a] {
        let mut resumed = open(elsewhere.addr, &format!("?id={token}"))
            .await
            .expect("ws");
        resumed.send(json!({"type": 9, "sequenceId": 1})).await;
        let answer = resumed.next().await.expect("handshake answer");
        assert!(answer["error"].is_string(), "{answer}");
        assert_eq!(resumed.next().await, None, "closed");
        wait_for_no_connections(elsewhere).await;
    }

    // On the node that holds it, the resume works as without a key. The client sent one
    // message (Whoami), so what it sends next is number 2.
    let mut resumed = open(b.addr, &format!("?id={token}")).await.expect("ws");
    resumed.send(json!({"type": 9, "sequenceId": 2})).await;
    let first = resumed.next().await.expect("sequence");
    assert_eq!(first["type"], 9, "{first}");
    let echo = resumed.invoke("2", "Echo", json!(["still here"])).await;
    assert_eq!(echo["result"], "still here");
}

#[tokio::test]
async fn server_sent_events_take_a_foreign_token_on_their_first_request() {
    let a = node(Some(SECRET)).await;
    let b = node(Some(SECRET)).await;
    let (id, token) = negotiated(&a, "").await;
    let mut events = open_event_stream(b.addr, &format!("/hub?id={token}")).await;
    assert_eq!(events.status, 200);
    let post = |body: String| {
        let token = token.clone();
        let addr = b.addr;
        async move {
            request(
                addr,
                "POST",
                &format!("/hub?id={token}"),
                &[],
                body.as_bytes(),
            )
            .await
            .status
        }
    };
    assert_eq!(
        post(format!("{{\"protocol\":\"json\",\"version\":1}}{RS}")).await,
        200
    );
    let mut pending = Vec::new();
    assert_eq!(events.next_record(&mut pending).await, Some(json!({})));
    let whoami = json!({"type": 1, "invocationId": "1", "target": "Whoami", "arguments": []});
    assert_eq!(post(format!("{whoami}{RS}")).await, 200);
    let reply = events.next_record(&mut pending).await.expect("completion");
    assert_eq!(reply["result"]["connectionId"], id.as_str());
    // A second event stream for the same token is refused, as on one node.
    let second = open_event_stream(b.addr, &format!("/hub?id={token}")).await;
    assert_eq!(second.status, 409);
}

#[tokio::test]
async fn long_polling_works_on_one_node_with_signed_tokens() {
    let a = node(Some(SECRET)).await;
    let (_, token) = negotiated(&a, "").await;
    let path = format!("/hub?id={token}");
    assert_eq!(http(a.addr, "GET", &path, &[]).await.status, 200);
    let handshake = format!("{{\"protocol\":\"json\",\"version\":1}}{RS}");
    let posted = request(a.addr, "POST", &path, &[], handshake.as_bytes()).await;
    assert_eq!(posted.status, 200);
    let poll = http(a.addr, "GET", &path, &[]).await;
    assert_eq!(
        (poll.status, poll.body.as_str()),
        (200, &*format!("{{}}{RS}"))
    );
    assert_eq!(http(a.addr, "DELETE", &path, &[]).await.status, 202);
}
