//! Load benchmark of the hub over real sockets (not a test: it prints figures).
//!
//! ```text
//! cargo bench -p signalr-hub --bench hub_load [-- --connections 10000 --group 1000 --messages 200]
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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
}

fn parse_args() -> Args {
    let mut args = Args {
        connections: 10_000,
        group: 1_000,
        messages: 200,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().and_then(|v| v.parse::<u64>().ok());
        match flag.as_str() {
            "--connections" => args.connections = value().unwrap_or(10_000) as usize,
            "--group" => args.group = value().unwrap_or(1_000) as usize,
            "--messages" => args.messages = value().unwrap_or(200),
            _ => {}
        }
    }
    args.group = args.group.min(args.connections);
    args
}

/// Runs `group` listeners, returning per-delivery latencies (ns) once `expected` arrived.
async fn fan_out(
    sockets: Vec<Socket>,
    driver: &mut Socket,
    messages: u64,
    interval_ms: u64,
) -> (Vec<Socket>, Vec<u64>, Duration) {
    let expected = messages as usize;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let finished = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for mut ws in sockets {
        let done_tx = done_tx.clone();
        let finished = Arc::clone(&finished);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(expected);
            while latencies.len() < expected {
                let Some(Ok(frame)) = ws.next().await else {
                    break;
                };
                let Message::Text(text) = frame else { continue };
                let received = now_nanos();
                for record in text.split_terminator(RS) {
                    if !record.contains("\"Tick\"") {
                        continue;
                    }
                    let value: Value = serde_json::from_str(record).expect("json");
                    let sent = value["arguments"][1].as_u64().unwrap_or(received);
                    latencies.push(received.saturating_sub(sent));
                }
            }
            finished.fetch_add(1, Ordering::SeqCst);
            let _ = done_tx.send(());
            (ws, latencies)
        }));
    }
    drop(done_tx);
    let started = Instant::now();
    invoke(
        driver,
        "fan",
        "Fanout",
        json!(["bench", messages, interval_ms]),
    )
    .await;
    while done_rx.recv().await.is_some() {}
    let elapsed = started.elapsed();
    let mut sockets = Vec::new();
    let mut all = Vec::new();
    for task in tasks {
        let (ws, latencies) = task.await.expect("listener");
        sockets.push(ws);
        all.extend(latencies);
    }
    all.sort_unstable();
    (sockets, all, elapsed)
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

    let mut group: Vec<Socket> = sockets.drain(..args.group).collect();
    for (i, ws) in group.iter_mut().enumerate() {
        invoke(ws, &i.to_string(), "Join", json!(["bench"])).await;
    }

    let (group, latencies, elapsed) = fan_out(group, &mut driver, args.messages, 0).await;
    let deliveries = latencies.len();
    println!(
        "fan-out burst: {} messages x {} members = {} deliveries in {:.2?}: {:.0} deliveries/s; latency p50 {:.2} ms, p99 {:.2} ms",
        args.messages,
        args.group,
        deliveries,
        elapsed,
        deliveries as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );

    let paced = args.messages.min(200);
    let (_group, latencies, elapsed) = fan_out(group, &mut driver, paced, 5).await;
    println!(
        "fan-out paced (5 ms apart): {} messages x {} members in {:.2?}; latency p50 {:.2} ms, p99 {:.2} ms",
        paced,
        args.group,
        elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
    let _ = child.kill().await;
}
