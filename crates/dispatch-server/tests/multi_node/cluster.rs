//! The pieces of a cluster under test: a PostgreSQL database of its own, the Redis server the
//! environment names (both through `test_support`), and real `dispatch serve` processes
//! sharing them.

use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use test_support::{TestDatabase, shout};

use crate::common::{Api, SECRET};

/// The variable naming the PostgreSQL server (its user must be allowed to create databases).
pub const POSTGRES_VAR: &str = "DISPATCH_TEST_POSTGRES_URL";
/// The variable naming the Redis server.
pub const REDIS_VAR: &str = "DISPATCH_TEST_REDIS_URL";
/// How long a node may take to start (migrations included) on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What the skip banners call these tests.
const PURPOSE: &str = "multi-node test";

/// A fresh PostgreSQL database named by [`POSTGRES_VAR`] for one test, dropped (with `FORCE`)
/// when it ends, even by a panic; `None` when the test is skipped (variable not set, or the
/// server unreachable outside CI). Panics when it must run and cannot.
pub async fn database() -> Option<TestDatabase> {
    TestDatabase::create(POSTGRES_VAR, "dispatch_multinode", PURPOSE).await
}

/// The Redis server named by [`REDIS_VAR`]: its URL and `host:port`; `None` when the test is
/// skipped (same rules as [`database`]).
pub async fn redis() -> Option<Redis> {
    let url = test_support::service_url(REDIS_VAR, "multi-node Redis test").await?;
    let host_port = test_support::host_port(&url);
    Some(Redis { url, host_port })
}

/// A reachable Redis server.
pub struct Redis {
    /// The URL as given.
    pub url: String,
    /// Where it listens.
    pub host_port: String,
}

impl Redis {
    /// The URL with its `host:port` replaced by `addr` (credentials and database kept): how
    /// nodes reach Redis through a proxy.
    pub fn via(&self, addr: SocketAddr) -> String {
        self.url.replacen(&self.host_port, &addr.to_string(), 1)
    }
}

/// How a node is configured.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// `DISPATCH_DATABASE_URL`.
    pub database_url: String,
    /// `DISPATCH_BACKPLANE_URL`.
    pub backplane_url: String,
    /// `DISPATCH_HOLD_EVENTS`.
    pub hold_events: bool,
}

/// A `dispatch serve` process, killed (SIGKILL) when dropped. Its output goes to a log file,
/// printed when the test fails.
pub struct Node {
    /// Its name in messages ("A", "B").
    pub name: &'static str,
    /// A client of it.
    pub api: Api,
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Node {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Node {
    /// Starts a node and waits until `/readyz` answers 200.
    pub async fn start(name: &'static str, config: &NodeConfig) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join(format!("node-{name}.log"));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let addr = free_addr();
        let child = Command::new(env!("CARGO_BIN_EXE_dispatch"))
            .arg("serve")
            .current_dir(dir.path())
            .env("DISPATCH_ADDR", addr.to_string())
            .env("DISPATCH_DATABASE_URL", &config.database_url)
            .env("DISPATCH_BACKPLANE_URL", &config.backplane_url)
            .env(
                "DISPATCH_JWT_SECRET",
                std::str::from_utf8(SECRET).expect("utf-8"),
            )
            .env("DISPATCH_HOLD_EVENTS", config.hold_events.to_string())
            .env("RUST_LOG", "info,sqlx=warn")
            // Each cluster on its own channel: the default, from the database's deployment id.
            .env_remove("DISPATCH_BACKPLANE_CHANNEL")
            .env_remove("DISPATCH_DEMO")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn dispatch");
        let mut node = Node {
            name,
            api: Api::new(addr),
            child: Some(child),
            log,
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = node
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                panic!(
                    "node {name} exited at start ({status}):\n{}",
                    node.log_text()
                );
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok()
                && node.api.call("GET", "/readyz", None, None).await.status == 200
            {
                return node;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {name} did not get ready on {addr} within {START_TIMEOUT:?}:\n{}",
                node.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /readyz`: status and body.
    pub async fn readyz(&self) -> (u16, Value) {
        let answer = self.api.call("GET", "/readyz", None, None).await;
        (answer.status, answer.body)
    }

    /// Polls `/readyz` until `accept` holds for its body, for up to `wait`; returns that body.
    pub async fn wait_readyz(
        &self,
        what: &str,
        wait: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (status, body) = self.readyz().await;
            if status == 200 && accept(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {}: /readyz did not say {what} within {wait:?}; last: {status} {body}\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls `/readyz` until its `relay` is `role`.
    pub async fn wait_relay(&self, role: &str, wait: Duration) -> Value {
        self.wait_readyz(&format!("relay {role}"), wait, |body| body["relay"] == role)
            .await
    }

    /// Polls `/readyz` until the node relays exactly `count` outbox shards (`relayShards`);
    /// returns them.
    pub async fn wait_shards(&self, count: usize, wait: Duration) -> Vec<u16> {
        let body = self
            .wait_readyz(&format!("{count} relay shards"), wait, |body| {
                body["relayShards"].as_array().map(Vec::len) == Some(count)
            })
            .await;
        shards_of(&body)
    }

    /// Kills the process at once (SIGKILL): no shutdown, no flush, nothing more is sent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("reaped");
        }
    }

    /// What the node has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_quietly();
        if std::thread::panicking() {
            let log = self.log_text();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(80)..].join("\n");
            shout(&format!(
                "node {} log (last 80 lines, RUST_LOG=info):\n{tail}",
                self.name
            ));
        }
    }
}

impl Node {
    /// Kills the process if it still runs, ignoring errors (for `Drop`).
    fn kill_quietly(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `relayShards` of a `/readyz` body.
pub fn shards_of(body: &Value) -> Vec<u16> {
    body["relayShards"]
        .as_array()
        .map(|shards| {
            shards
                .iter()
                .filter_map(|s| s.as_u64().and_then(|s| u16::try_from(s).ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// A free local port (bound, then released for the node to take).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}
