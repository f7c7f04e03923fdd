//! Test fixture: the real service on a port-0 listener with a real SQLite file, an HTTP client
//! over real TCP, token minting, and a raw SignalR JSON client for the hub.

#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request};
use chrono::{DateTime, Duration as Span, Utc};
use dispatch_core::{ContractorId, RegionId};
use dispatch_server::Service;
use dispatch_server::auth::{JwtKeys, Role};
use dispatch_store::Store;
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use signalr_hub::HubOptions;
use tokio_tungstenite::tungstenite::Message;

pub const SECRET: &[u8] = b"test-secret";
const RS: char = '\u{1e}';

/// A running in-process service.
pub struct TestServer {
    pub api: Api,
    pub store: Store,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::ops::Deref for TestServer {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A client of a service at `addr`: HTTP over real TCP, tokens, the hub.
pub struct Api {
    pub addr: SocketAddr,
    pub keys: JwtKeys,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        Api::bound(addr, None)
    }

    /// A client whose connections come from the loopback address `local` (127.0.0.x), so
    /// that per-address caps see it apart from others.
    pub fn bound(addr: SocketAddr, local: Option<std::net::IpAddr>) -> Api {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_local_address(local);
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(64)
            .build(connector);
        Api {
            addr,
            keys: JwtKeys::new(SECRET),
            http,
        }
    }
}

impl TestServer {
    /// Stops the service and hands back its folder (and database) for a restart.
    pub async fn into_dir(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.store.close().await;
        // Let the stopped service release the database.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let dir = tempfile::tempdir().expect("placeholder");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    start_in(dir).await
}

pub async fn start_in(dir: tempfile::TempDir) -> TestServer {
    start_with(
        dir,
        dispatch_server::RunOptions::default(),
        HubOptions::default(),
        dispatch_server::fairness::ApiLimits::UNLIMITED,
    )
    .await
}

/// A service with these run options (HTTP limits), hub options and per-subject limits.
pub async fn start_with(
    dir: tempfile::TempDir,
    options: dispatch_server::RunOptions,
    hub_options: HubOptions,
    limits: dispatch_server::fairness::ApiLimits,
) -> TestServer {
    let url = format!("sqlite://{}", dir.path().join("dispatch.db").display());
    start_on_with(dir, &url, options, hub_options, limits).await
}

/// The service on the database `url` (SQLite or PostgreSQL); `dir` is kept with the server.
pub async fn start_on(dir: tempfile::TempDir, url: &str) -> TestServer {
    start_on_with(
        dir,
        url,
        dispatch_server::RunOptions::default(),
        HubOptions::default(),
        dispatch_server::fairness::ApiLimits::UNLIMITED,
    )
    .await
}

/// [`start_on`] with these run options, hub options and per-subject limits.
pub async fn start_on_with(
    dir: tempfile::TempDir,
    url: &str,
    options: dispatch_server::RunOptions,
    hub_options: HubOptions,
    limits: dispatch_server::fairness::ApiLimits,
) -> TestServer {
    let store = Store::connect(url).await.expect("store");
    let (backplane, subscription) = dispatch_backplane::Backplane::in_process();
    let service = Service::with_limits(
        store.clone(),
        JwtKeys::new(SECRET),
        false,
        hub_options,
        (backplane, subscription),
        limits,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = service
            .run(listener, options, async {
                let _ = stopped.await;
            })
            .await;
    });
    TestServer {
        api: Api::new(addr),
        store,
        dir,
        stop: Some(stop),
    }
}

/// A free port on 127.0.0.1 (bound, then released for the process under test to take).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// A real `dispatch serve` process; killed (SIGKILL) when dropped.
pub struct Node(pub std::process::Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `dispatch` binary serving `addr` on the SQLite file `dir/dispatch.db`, with the
/// test secret and `env` on top, and waits until `/healthz` answers.
/// `bin serve` on `addr` with the database in `dir` and the test secret, logging warnings.
pub fn serve_command(bin: &str, dir: &std::path::Path, addr: SocketAddr) -> std::process::Command {
    let mut command = std::process::Command::new(bin);
    command
        .arg("serve")
        .env("DISPATCH_ADDR", addr.to_string())
        .env(
            "DISPATCH_DATABASE_URL",
            format!("sqlite://{}", dir.join("dispatch.db").display()),
        )
        .env(
            "DISPATCH_JWT_SECRET",
            std::str::from_utf8(SECRET).expect("utf-8"),
        )
        .env("RUST_LOG", "warn");
    command
}

pub async fn spawn_node(dir: &std::path::Path, addr: SocketAddr, env: &[(&str, &str)]) -> Node {
    let child = serve_command(env!("CARGO_BIN_EXE_dispatch"), dir, addr)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn dispatch");
    let node = Node(child);
    let api = Api::new(addr);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok()
            && api.call("GET", "/healthz", None, None).await.status == 200
        {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("dispatch did not start on {addr}");
}

/// An answer: status, headers and the body as JSON (or `Value::String` if it is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Api {
    pub fn admin(&self) -> String {
        self.keys
            .mint_for("admin", Role::Admin, vec![], None, 1)
            .expect("token")
    }

    pub fn dispatcher(&self, region: &str) -> String {
        self.keys
            .mint_for(
                &format!("dispatcher-{region}"),
                Role::Dispatcher,
                vec![RegionId::new(region)],
                None,
                1,
            )
            .expect("token")
    }

    pub fn contractor(&self, id: &str) -> String {
        let id: ContractorId = id.parse().expect("contractor id");
        self.keys
            .mint_for(
                &format!("contractor-{id}"),
                Role::Contractor,
                vec![],
                Some(id),
                1,
            )
            .expect("token")
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        self.try_call(method, path, token, body)
            .await
            .expect("http")
    }

    /// [`Api::call`], with a connection error (refused, reset, closed) as `Err` instead of a
    /// failed test.
    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let bytes = body
            .map(|body| Bytes::from(body.to_string()))
            .unwrap_or_default();
        self.try_raw(
            method,
            path,
            token,
            &[("content-type", "application/json")],
            bytes,
        )
        .await
    }

    /// Sends raw bytes with the given headers.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Answer {
        self.try_raw(method, path, token, headers, body)
            .await
            .expect("http")
    }

    /// [`Api::raw`], with a connection error as `Err`.
    pub async fn try_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Answer, String> {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body)).expect("request");
        let response = tokio::time::timeout(Duration::from_secs(30), self.http.request(request))
            .await
            .expect("answer in time")
            .map_err(|error| format!("{error:?}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|error| format!("{error:?}"))?
            .to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).to_string()));
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Creates a region (as admin).
    pub async fn region(&self, id: &str, time_zone: &str) {
        let answer = self
            .call(
                "POST",
                "/api/v1/regions",
                Some(&self.admin()),
                Some(&json!({"id": id, "name": id.to_uppercase(), "timeZone": time_zone})),
            )
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
    }

    /// Creates a contractor working around the clock (as admin); returns its id.
    pub async fn contractor_at(
        &self,
        region: &str,
        name: &str,
        lat: f64,
        lon: f64,
        level: u8,
    ) -> String {
        let hours = around_the_clock();
        let body = json!({
            "name": name, "region": region,
            "skills": [{"name": "plumbing", "level": level}],
            "location": {"lat": lat, "lon": lon},
            "workingHours": hours,
            "rating": 4.5, "maxJobsPerDay": 50, "active": true
        });
        let answer = self
            .call(
                "POST",
                "/api/v1/contractors",
                Some(&self.admin()),
                Some(&body),
            )
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        answer.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates an open job whose window starts `hours_ahead` from now (as the region's dispatcher).
    pub async fn job(
        &self,
        region: &str,
        lat: f64,
        lon: f64,
        hours_ahead: i64,
        window_hours: i64,
    ) -> Value {
        let start = Utc::now() + Span::hours(hours_ahead);
        let body = job_body(region, lat, lon, start, start + Span::hours(window_hours));
        let answer = self
            .call(
                "POST",
                "/api/v1/jobs",
                Some(&self.dispatcher(region)),
                Some(&body),
            )
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        answer.body
    }

    pub async fn hub(&self, token: &str) -> HubClient {
        HubClient::connect(self.addr, token).await
    }
}

/// A timestamp as the API writes it (seconds, `Z`).
pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Working hours around the clock: two touching shifts a day, so no slot of any length falls
/// into a gap at midnight (whatever the time a test runs).
pub fn around_the_clock() -> Vec<Value> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .flat_map(|day| {
            [
                json!({"day": day, "start": "00:00", "end": "12:00"}),
                json!({"day": day, "start": "12:00", "end": "00:00"}),
            ]
        })
        .collect()
}

/// A contractor body in `west` at 37.77,-122.42, working around the clock (two touching
/// shifts a day), plumbing level 4.
pub fn contractor_body(name: &str) -> Value {
    let hours = around_the_clock();
    json!({
        "name": name, "region": "west",
        "skills": [{"name": "plumbing", "level": 4}],
        "location": {"lat": 37.77, "lon": -122.42},
        "workingHours": hours,
        "rating": 4.5, "maxJobsPerDay": 50, "active": true
    })
}

pub fn job_body(
    region: &str,
    lat: f64,
    lon: f64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Value {
    json!({
        "region": region, "title": "Leaking pipe under sink",
        "location": {"lat": lat, "lon": lon},
        "requiredSkills": [{"name": "plumbing", "minLevel": 2}],
        "priority": "high",
        "windowStartUtc": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "windowEndUtc": end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "durationMinutes": 60
    })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw SignalR JSON client of `/hub/v1`.
pub struct HubClient {
    ws: Socket,
    pending: Vec<Value>,
    next_id: u64,
}

impl HubClient {
    pub async fn connect(addr: SocketAddr, token: &str) -> HubClient {
        let url = format!("ws://{addr}/hub/v1?access_token={token}");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("hub connect");
        HubClient::handshake(ws).await
    }

    /// Does the JSON handshake on an open hub WebSocket.
    async fn handshake(ws: Socket) -> HubClient {
        let mut client = HubClient {
            ws,
            pending: Vec::new(),
            next_id: 0,
        };
        client
            .send(&format!("{{\"protocol\":\"json\",\"version\":1}}{RS}"))
            .await;
        assert_eq!(client.next(Duration::from_secs(5)).await, Some(json!({})));
        client
    }

    async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// The next record, or None when nothing arrives within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Value> {
        loop {
            if !self.pending.is_empty() {
                return Some(self.pending.remove(0));
            }
            let frame = tokio::time::timeout(wait, self.ws.next()).await.ok()??;
            if let Ok(Message::Text(text)) = frame {
                for record in text.split_terminator(RS) {
                    self.pending
                        .push(serde_json::from_str(record).expect("json"));
                }
            }
        }
    }

    /// Invokes a hub method; returns its Completion.
    pub async fn invoke(&mut self, target: &str, args: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let message = json!({"type": 1, "invocationId": id, "target": target, "arguments": args});
        self.send(&format!("{message}{RS}")).await;
        let mut others = Vec::new();
        loop {
            let record = self.next(Duration::from_secs(5)).await.expect("completion");
            if record["type"] == 3 && record["invocationId"] == id.as_str() {
                others.append(&mut self.pending);
                self.pending = others;
                return record;
            }
            others.push(record);
        }
    }

    /// Subscribes and asserts success.
    pub async fn subscribe(&mut self, channel: &str) {
        let completion = self.invoke("Subscribe", json!([channel])).await;
        assert!(completion.get("error").is_none(), "{completion}");
    }

    /// The events (invocations) that arrive within `wait`, pings skipped.
    pub async fn events(&mut self, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return events;
            }
            match self.next(left).await {
                Some(record) if record["type"] == 1 => events.push(record),
                Some(_) => {}
                None => return events,
            }
        }
    }

    /// Every record until the server closes the connection (or `wait` passes), pings skipped;
    /// the last is the server's Close message if it sent one.
    pub async fn until_closed(&mut self, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut records = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(record) if record["type"] == 6 => {}
                Some(record) => {
                    let closed = record["type"] == 7;
                    records.push(record);
                    if closed {
                        return records;
                    }
                }
                None => return records,
            }
        }
    }

    /// Waits for the first event with this target.
    pub async fn event(&mut self, target: &str, wait: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let record = self
                .next(left)
                .await
                .unwrap_or_else(|| panic!("no {target} within {wait:?}"));
            if record["type"] == 1 && record["target"] == target {
                return record["arguments"][0].clone();
            }
        }
    }
}

// Additive helpers for tests/multi_node.rs (a connection token negotiated on another node).

impl HubClient {
    /// Opens the hub WebSocket at a full `url` (e.g. `ws://…/hub/v1?id=<connectionToken>&access_token=…`)
    /// and does the JSON handshake; the transport's error if the server refuses the upgrade.
    pub async fn connect_url(
        url: &str,
    ) -> Result<HubClient, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        let mut client = HubClient {
            ws,
            pending: Vec::new(),
            next_id: 0,
        };
        client
            .send(&format!("{{\"protocol\":\"json\",\"version\":1}}{RS}"))
            .await;
        assert_eq!(client.next(Duration::from_secs(5)).await, Some(json!({})));
        Ok(client)
    }
}

// Benchmark helpers (benches include this module too).

/// The number after `name` on the command line, else `default`.
pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0…1) of `sorted`, nearest rank; 0 for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

impl HubClient {
    /// Sends a Ping, as the official clients do every 15 s: the server closes a connection
    /// whose client stays silent for its client timeout (30 s).
    pub async fn ping(&mut self) {
        self.send(&format!("{{\"type\":6}}{RS}")).await;
    }

    /// [`HubClient::connect`] over a connection from the loopback address `local`.
    pub async fn connect_from(local: std::net::IpAddr, addr: SocketAddr, token: &str) -> HubClient {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(local, 0)).expect("bind");
        let stream = socket.connect(addr).await.expect("connect");
        let url = format!("ws://{addr}/hub/v1?access_token={token}");
        let (ws, _) =
            tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
                .await
                .expect("hub connect");
        HubClient::handshake(ws).await
    }
}

/// The value of a metric line (`name{labels}` exactly) in the node's `/metrics`; 0 when absent.
pub async fn metric(api: &Api, line: &str) -> f64 {
    let metrics = api.call("GET", "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(line)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}
