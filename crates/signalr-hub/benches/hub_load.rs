//! Load benchmark of the hub over real sockets (not a test: it prints figures).
//!
//! ```text
//! cargo bench -p signalr-hub --bench hub_load [-- --connections 10000 --group 1000 --messages 200
//!                                                --transports ws,sse,lp]
//! ```
//!
//! The binary re-executes itself with `--serve` so that the server runs in its own process and
//! its memory can be read from `/proc/<pid>/status` without the clients' share. It measures:
//!
//! 1. **Idle memory**: resident memory of the server before and after `--connections` idle
//!    WebSocket connections completed their handshake, divided per connection.
//! 2. **Fan-out throughput**: one invocation makes the server send `--messages` messages back to
//!    back to a group of `--group` connections; deliveries per second until the last arrives.
//! 3. **Fan-out latency**: the same group, messages paced 5 ms apart; each carries its send
//!    time, and p50/p99 of receive − send are reported over every delivery.
//!
//! Steps 2 and 3 run once per transport: WebSockets, Server-Sent Events (events down, POSTs up)
//! and Long Polling (where the figure of interest is also how many messages one poll carries).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use signalr_hub::{Caller, Hub, HubError, HubOptions, Payload};
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const RS: char = '\u{1e}';

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

async fn serve() {
    let hub = Hub::builder()
        .options(HubOptions {
            max_pending_messages: 4096,
            ..HubOptions::default()
        })
        .method("Join", |caller: Caller, (group,): (String,)| async move {
            caller.join_group(&group);
            Ok::<_, HubError>(())
        })
        .method(
            "Fanout",
            |caller: Caller, (group, count, interval_ms): (String, u64, u64)| async move {
                let hub = caller.hub().clone();
                tokio::spawn(async move {
                    for seq in 0..count {
                        let arguments = vec![
                            Payload::from_serialize(&seq).unwrap_or_else(|_| Payload::null()),
                            Payload::from_serialize(&now_nanos())
                                .unwrap_or_else(|_| Payload::null()),
                        ];
                        hub.send_to_group(&group, "Tick", arguments);
                        if interval_ms > 0 {
                            tokio::time::sleep(Duration::from_millis(interval_ms)).await;
                        }
                    }
                });
                Ok::<_, HubError>(())
            },
        )
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!("listening on {}", listener.local_addr().expect("addr"));
    axum::serve(listener, hub.router("/hub"))
        .await
        .expect("serve");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The transports a listener can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    WebSockets,
    ServerSentEvents,
    LongPolling,
}

impl Transport {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "ws" => Some(Self::WebSockets),
            "sse" => Some(Self::ServerSentEvents),
            "lp" => Some(Self::LongPolling),
            _ => None,
        }
    }
}

/// What a listener received: a transport message's hub records and when it arrived.
struct Received {
    at: u64,
    text: String,
}

type Http = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
>;

fn http_client() -> Http {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new())
}

async fn try_request(
    http: &Http,
    method: &str,
    url: &str,
    body: &str,
    accept: Option<&str>,
) -> Option<hyper::Response<hyper::body::Incoming>> {
    let mut request = hyper::Request::builder().method(method).uri(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_owned(),
        )))
        .expect("request");
    http.request(request).await.ok()
}

async fn http_request(
    http: &Http,
    method: &str,
    url: &str,
    body: &str,
    accept: Option<&str>,
) -> hyper::Response<hyper::body::Incoming> {
    try_request(http, method, url, body, accept)
        .await
        .expect("http request")
}

async fn body_text(response: hyper::Response<hyper::body::Incoming>) -> String {
    use http_body_util::BodyExt as _;
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A connected, joined listener: records arrive on `received`.
struct Listener {
    received: mpsc::UnboundedReceiver<Received>,
    /// Long polling: how many hub messages each poll carried.
    batches: Option<Arc<std::sync::Mutex<Vec<usize>>>>,
}

async fn negotiate(http: &Http, addr: &str) -> String {
    let response = http_request(
        http,
        "POST",
        &format!("http://{addr}/hub/negotiate?negotiateVersion=1"),
        "",
        None,
    )
    .await;
    let body: Value = serde_json::from_str(&body_text(response).await).expect("negotiate");
    body["connectionToken"].as_str().expect("token").to_owned()
}

/// Waits for the next record containing `needle` on a listener's stream.
async fn wait_for(received: &mut mpsc::UnboundedReceiver<Received>, needle: &str) {
    while let Some(message) = received.recv().await {
        if message.text.contains(needle) {
            return;
        }
    }
    panic!("stream ended before {needle}");
}

async fn listen(addr: &str, http: &Http, transport: Transport, group: &str) -> Listener {
    let (tx, mut received) = mpsc::unbounded_channel();
    let handshake = format!("{{\"protocol\":\"json\",\"version\":1}}{RS}");
    let join = format!(
        "{}{RS}",
        json!({"type": 1, "invocationId": "join", "target": "Join", "arguments": [group]})
    );
    let mut batches = None;
    match transport {
        Transport::WebSockets => {
            let mut ws = open(addr).await;
            invoke(&mut ws, "join", "Join", json!([group])).await;
            tokio::spawn(async move {
                while let Some(Ok(frame)) = ws.next().await {
                    if let Message::Text(text) = frame {
                        let _ = tx.send(Received {
                            at: now_nanos(),
                            text: text.to_string(),
                        });
                    }
                }
            });
            return Listener { received, batches };
        }
        Transport::ServerSentEvents => {
            use http_body_util::BodyExt as _;
            let token = negotiate(http, addr).await;
            let url = format!("http://{addr}/hub?id={token}");
            let response = http_request(http, "GET", &url, "", Some("text/event-stream")).await;
            let mut body = response.into_body();
            tokio::spawn(async move {
                let mut buffer = String::new();
                while let Some(Ok(frame)) = body.frame().await {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    buffer.push_str(&String::from_utf8_lossy(&data));
                    while let Some(end) = buffer.find("\r\n\r\n") {
                        let event: String = buffer.drain(..end + 4).collect();
                        let text: Vec<&str> = event
                            .split("\r\n")
                            .filter_map(|l| l.strip_prefix("data: "))
                            .collect();
                        if !text.is_empty() {
                            let _ = tx.send(Received {
                                at: now_nanos(),
                                text: text.join("\n"),
                            });
                        }
                    }
                }
            });
            http_request(http, "POST", &url, &handshake, None).await;
            wait_for(&mut received, "{}").await;
            http_request(http, "POST", &url, &join, None).await;
            wait_for(&mut received, "\"join\"").await;
        }
        Transport::LongPolling => {
            let token = negotiate(http, addr).await;
            let url = format!("http://{addr}/hub?id={token}");
            body_text(http_request(http, "GET", &url, "", None).await).await;
            let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
            batches = Some(Arc::clone(&sizes));
            let poller = http.clone();
            let poll_url = url.clone();
            tokio::spawn(async move {
                loop {
                    // The server goes away at the end of the run: stop quietly.
                    let Some(response) = try_request(&poller, "GET", &poll_url, "", None).await
                    else {
                        return;
                    };
                    if response.status() != 200 {
                        return;
                    }
                    let text = body_text(response).await;
                    if text.is_empty() {
                        continue;
                    }
                    let records = text.matches(RS).count();
                    if let Ok(mut sizes) = sizes.lock() {
                        sizes.push(records);
                    }
                    if tx
                        .send(Received {
                            at: now_nanos(),
                            text,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            });
            http_request(http, "POST", &url, &handshake, None).await;
            wait_for(&mut received, "{}").await;
            http_request(http, "POST", &url, &join, None).await;
            wait_for(&mut received, "\"join\"").await;
        }
    }
    Listener { received, batches }
}

async fn open(addr: &str) -> Socket {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/hub"))
        .await
        .expect("connect");
    ws.send(Message::Text(
        format!("{{\"protocol\":\"json\",\"version\":1}}{RS}").into(),
    ))
    .await
    .expect("handshake");
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.starts_with("{}") => ws,
        other => panic!("bad handshake answer {other:?}"),
    }
}

async fn invoke(ws: &mut Socket, id: &str, target: &str, arguments: Value) {
    let message = json!({"type": 1, "invocationId": id, "target": target, "arguments": arguments});
    ws.send(Message::Text(format!("{message}{RS}").into()))
        .await
        .expect("invoke");
    while let Some(Ok(frame)) = ws.next().await {
        if let Message::Text(text) = frame
            && text.contains("\"type\":3")
        {
            return;
        }
    }
    panic!("no completion");
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1e6
}

struct Args {
    connections: usize,
    group: usize,
    messages: u64,
    transports: Vec<Transport>,
}

fn parse_args() -> Args {
    let mut args = Args {
        connections: 10_000,
        group: 1_000,
        messages: 200,
        transports: vec![
            Transport::WebSockets,
            Transport::ServerSentEvents,
            Transport::LongPolling,
        ],
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().unwrap_or_default();
        match flag.as_str() {
            "--connections" => args.connections = value().parse().unwrap_or(10_000),
            "--group" => args.group = value().parse().unwrap_or(1_000),
            "--messages" => args.messages = value().parse().unwrap_or(200),
            "--transports" => {
                args.transports = value().split(',').filter_map(Transport::parse).collect();
            }
            _ => {}
        }
    }
    args.group = args.group.min(args.connections.max(1));
    args
}

/// Makes the server send `messages` to the group and collects every delivery's latency (ns).
async fn fan_out(
    listeners: Vec<Listener>,
    driver: &mut Socket,
    group: &str,
    messages: u64,
    interval_ms: u64,
) -> (Vec<Listener>, Vec<u64>, Duration) {
    let expected = messages as usize;
    let mut tasks = Vec::new();
    for mut listener in listeners {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(expected);
            while latencies.len() < expected {
                let Some(message) = listener.received.recv().await else {
                    break;
                };
                for record in message.text.split_terminator(RS) {
                    if !record.contains("\"Tick\"") {
                        continue;
                    }
                    let value: Value = serde_json::from_str(record).expect("json");
                    let sent = value["arguments"][1].as_u64().unwrap_or(message.at);
                    latencies.push(message.at.saturating_sub(sent));
                }
            }
            (listener, latencies)
        }));
    }
    let started = Instant::now();
    invoke(
        driver,
        "fan",
        "Fanout",
        json!([group, messages, interval_ms]),
    )
    .await;
    let mut listeners = Vec::new();
    let mut all = Vec::new();
    for task in tasks {
        let (listener, latencies) = task.await.expect("listener");
        listeners.push(listener);
        all.extend(latencies);
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    (listeners, all, elapsed)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|arg| arg == "--serve") {
        serve().await;
        return;
    }
    if std::env::args().any(|arg| arg == "--bench") && std::env::args().count() == 2 {
        // `cargo bench` passes `--bench`; fall through with defaults.
    }
    let args = parse_args();
    let exe = std::env::current_exe().expect("current exe");
    let mut child = tokio::process::Command::new(exe)
        .arg("--serve")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn server");
    let pid = child.id().expect("pid");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = lines
        .next_line()
        .await
        .expect("read")
        .expect("listening line");
    let addr = line.trim_start_matches("listening on ").to_owned();

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("hub_load: {cores} cores, server pid {pid} at {addr}");

    let mut driver = open(&addr).await;
    invoke(&mut driver, "warm", "Join", json!(["warm"])).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid);

    let started = Instant::now();
    let mut sockets = Vec::with_capacity(args.connections);
    let mut pending = futures_util::stream::iter((0..args.connections).map(|_| open(&addr)))
        .buffer_unordered(200);
    while let Some(ws) = pending.next().await {
        sockets.push(ws);
    }
    drop(pending);
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid);
    let per_connection = (after.saturating_sub(before) as f64 * 1024.0) / args.connections as f64;
    println!(
        "idle connections: {} opened in {:.2?}; server RSS {} KiB -> {} KiB; {:.0} bytes per connection",
        args.connections, connect_time, before, after, per_connection
    );

    // The idle connections stay open (and counted) while the fan-out runs.
    let http = http_client();
    for transport in args.transports.clone() {
        let group = format!("bench-{transport:?}");
        let mut listeners = Vec::with_capacity(args.group);
        let mut pending = futures_util::stream::iter(
            (0..args.group).map(|_| listen(&addr, &http, transport, &group)),
        )
        .buffer_unordered(100);
        while let Some(listener) = pending.next().await {
            listeners.push(listener);
        }
        drop(pending);
        let (listeners, latencies, elapsed) =
            fan_out(listeners, &mut driver, &group, args.messages, 0).await;
        let deliveries = latencies.len();
        println!(
            "{transport:?} fan-out burst: {} messages x {} members = {} deliveries in {:.2?}: {:.0} deliveries/s; latency p50 {:.2} ms, p99 {:.2} ms",
            args.messages,
            args.group,
            deliveries,
            elapsed,
            deliveries as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
        );
        let paced = args.messages.min(200);
        let (listeners, latencies, elapsed) =
            fan_out(listeners, &mut driver, &group, paced, 5).await;
        println!(
            "{transport:?} fan-out paced (5 ms apart): {} messages x {} members in {:.2?}; latency p50 {:.2} ms, p99 {:.2} ms",
            paced,
            args.group,
            elapsed,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
        );
        let sizes: Vec<usize> = listeners
            .iter()
            .filter_map(|listener| listener.batches.as_ref())
            .filter_map(|sizes| sizes.lock().ok().map(|sizes| sizes.clone()))
            .flatten()
            .collect();
        if !sizes.is_empty() {
            let mut sorted = sizes.clone();
            sorted.sort_unstable();
            let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
            println!(
                "{transport:?} messages per poll response: mean {mean:.1}, p50 {}, max {}",
                sorted[sorted.len() / 2],
                sorted[sorted.len() - 1]
            );
        }
    }
    drop(sockets);
    let _ = child.kill().await;
}
