//! A real `dispatch serve` stopped with SIGTERM while assignments are in flight: every request
//! it had accepted gets its answer (no reset, no 5xx), the process exits 0 in bounded time, its
//! hub clients hear every committed event and then a Close that allows reconnecting, and nothing
//! committed is left unsent in the outbox.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Requests held open across the signal: headers and half the body sent before it.
const HELD: usize = 4;
/// Requests fired at the same moment as the signal.
const RACING: usize = 24;

/// The in-flight gauge from `/metrics`.
async fn in_flight(api: &Api) -> f64 {
    let metrics = api.call("GET", "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    text.lines()
        .find_map(|line| line.strip_prefix("dispatch_http_requests_in_flight "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// One request written by hand over its own connection, its body cut in two.
struct HeldRequest {
    stream: tokio::net::TcpStream,
    rest: Vec<u8>,
}

impl HeldRequest {
    async fn start(api: &Api, token: &str, body: &Value) -> HeldRequest {
        let body = body.to_string().into_bytes();
        let head = format!(
            "POST /api/v1/assignments HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            api.addr,
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(api.addr)
            .await
            .expect("connect");
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(first).await.expect("half the body");
        HeldRequest {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest of the body; the status line and body of the answer.
    async fn finish(mut self) -> (u16, Value) {
        self.stream.write_all(&self.rest).await.expect("the rest");
        let mut answer = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            self.stream.read_to_end(&mut answer),
        )
        .await
        .expect("an answer within 30 s")
        .expect("an answer, not a reset");
        let text = String::from_utf8_lossy(&answer);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or(Value::Null);
        (status, body)
    }
}

#[tokio::test]
async fn sigterm_answers_what_it_accepted_sends_what_it_committed_and_exits_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let addr = free_addr();
    let mut node = spawn_node(dir.path(), addr, &[]).await;
    let api = Api::new(addr);
    api.region("west", "America/Los_Angeles").await;
    let mut bookings = Vec::new();
    for i in 0..HELD + RACING {
        let contractor = api
            .contractor_at("west", &format!("C{i}"), 37.77, -122.42, 4)
            .await;
        let job = api.job("west", 37.77, -122.42, 2, 6).await;
        let start = job["windowStartUtc"].as_str().expect("start").to_owned();
        let end = chrono::DateTime::parse_from_rfc3339(&start).expect("time")
            + chrono::Duration::minutes(60);
        bookings.push(json!({"jobId": job["id"], "contractorId": contractor,
            "startUtc": start, "endUtc": end.to_rfc3339()}));
    }
    let dispatcher = api.dispatcher("west");
    let mut west = api.hub(&dispatcher).await;
    west.subscribe("/dispatch/west").await;

    // Held requests: the server has their headers (they count as in flight) but not their bodies.
    let mut held = Vec::new();
    for body in &bookings[..HELD] {
        held.push(HeldRequest::start(&api, &dispatcher, body).await);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    // The /metrics request counts itself.
    while in_flight(&api).await < (HELD + 1) as f64 {
        assert!(Instant::now() < deadline, "the held requests never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let racing: Vec<_> = bookings[HELD..]
        .iter()
        .map(|body| {
            let api = Api::new(addr);
            let (token, body) = (dispatcher.clone(), body.clone());
            tokio::spawn(async move {
                api.try_call("POST", "/api/v1/assignments", Some(&token), Some(&body))
                    .await
            })
        })
        .collect();
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &node.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(terminated.success());

    // Accepted before the signal: answered after it, not reset.
    let mut booked = HashSet::new();
    for request in held {
        let (status, body) = request.finish().await;
        assert_eq!(status, 201, "a held request: {body}");
        booked.insert(body["id"].as_str().expect("id").to_owned());
    }
    let mut refused_jobs = Vec::new();
    for (task, body) in racing.into_iter().zip(&bookings[HELD..]) {
        match task.await.expect("task") {
            Ok(answer) => {
                assert!(answer.status < 500, "no 5xx: {answer:?}");
                assert_eq!(answer.status, 201, "{answer:?}");
                booked.insert(answer.body["id"].as_str().expect("id").to_owned());
            }
            // Never accepted (the listener had closed): it must not have been applied.
            Err(_) => refused_jobs.push(body["jobId"].as_str().expect("job").to_owned()),
        }
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = node.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 30 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");

    // The hub client heard every committed assignment once, then a Close inviting a reconnect.
    let records = west.until_closed(Duration::from_secs(10)).await;
    let close = records.last().expect("a Close message");
    assert_eq!(close["type"], 7, "{records:?}");
    assert_eq!(close["allowReconnect"], true, "{close}");
    let heard: Vec<String> = records
        .iter()
        .filter(|record| record["type"] == 1 && record["target"] == "JobAssigned")
        .map(|record| {
            record["arguments"][0]["assignmentId"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert_eq!(heard.len(), booked.len(), "each once: {heard:?}");
    assert_eq!(heard.into_iter().collect::<HashSet<_>>(), booked);

    // Nothing committed waits in the outbox, and nothing unanswered was applied.
    let store = dispatch_store::Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("dispatch.db").display()
    ))
    .await
    .expect("store");
    assert!(store.pending_events(10).await.expect("outbox").is_empty());
    for job in refused_jobs {
        let job = job.parse().expect("job id");
        assert!(
            store.job_assignment(job).await.expect("read").is_none(),
            "a request that got no answer was applied"
        );
    }
    store.close().await;
}
