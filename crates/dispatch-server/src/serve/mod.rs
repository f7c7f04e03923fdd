//! The accept loop: hyper's HTTP/1 server under our own timeouts and caps, so that no client
//! can hold what others need.
//!
//! * Every phase of a connection has a clock (`conn`): headers, body, idle keep-alive.
//! * At most `max_connections` connections per node and `max_connections_per_address` per
//!   client address; beyond either a new connection gets a canned `503` / `429` problem
//!   answer at once and is closed (never left hanging). Connections from a trusted proxy are
//!   not capped per address; their requests are, by the client address the proxy forwarded
//!   (`address`).
//! * A connection hyper closes with input unread (a `413` to a body still being sent) lingers
//!   briefly, reading and discarding, so the client reads its answer instead of a reset.
//! * [`raise_open_files_limit`] lifts the soft `RLIMIT_NOFILE` to the hard one at start.
//!
//! A graceful stop ([`serve`]'s `stop`) stops accepting, lets every connection finish the
//! request under way (hyper's graceful shutdown) and returns once they are closed; upgraded
//! connections (WebSockets) are the hub's to close.

pub mod address;
pub(crate) mod conn;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tower::ServiceExt as _;

pub use address::{ClientAddress, TrustedProxies};
pub use conn::BodyTimeout;

use address::AddressCounts;
use conn::{Clocks, ConnState, GuardedBody, Held, OpenGauge, Peer, TimedBody, Tracked};

use crate::telemetry;

/// File descriptors kept free of connections (database, logs, the backplane, accept itself).
const RESERVED_FILES: u64 = 256;
/// Refused connections being answered at once; beyond, refused ones are closed unanswered.
const REFUSING_AT_ONCE: usize = 128;

/// The HTTP server's limits.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// A request's headers must be complete within this of the connection opening (or of
    /// the request's first byte, on a kept-alive connection).
    pub header_timeout: Duration,
    /// A request's body must be complete within this of its headers.
    pub body_timeout: Duration,
    /// A kept-alive connection may wait this long for its next request.
    pub idle_timeout: Duration,
    /// Connections open at once on this node (lowered to fit the open-files limit).
    pub max_connections: usize,
    /// Connections open at once from one client address (or proxied requests of one client).
    pub max_connections_per_address: usize,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            max_connections_per_address: 256,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// The open-files limit before and after [`raise_open_files_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit found at start.
    pub soft_before: Option<u64>,
    /// The soft limit now.
    pub soft: Option<u64>,
    /// The hard limit.
    pub hard: Option<u64>,
}

impl OpenFiles {
    /// The connection cap that leaves room for the process's other files.
    pub fn connection_cap(&self, wanted: usize) -> usize {
        match self.soft {
            Some(soft) => {
                let room =
                    usize::try_from(soft.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
                wanted.min(room.max(1))
            }
            None => wanted,
        }
    }
}

/// Raises this process's soft open-files limit to its hard limit (each connection is a file).
pub fn raise_open_files_limit() -> OpenFiles {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    let mut after = before;
    if let Some(hard) = before.maximum
        && before.current.is_none_or(|soft| soft < hard)
    {
        after.current = Some(hard);
        if let Err(error) = setrlimit(Resource::Nofile, after) {
            tracing::warn!(%error, "cannot raise the open-files limit");
            after = getrlimit(Resource::Nofile);
        }
    }
    OpenFiles {
        soft_before: before.current,
        soft: after.current,
        hard: after.maximum,
    }
}

/// Connections the kernel may hold completed for us before we accept them (Linux caps it
/// at `net.core.somaxconn`, 4096 by default): a burst of connections (an attack opening
/// hundreds at once, the refused ones reconnecting) must not overflow the queue, or the
/// kernel drops handshakes and everyone's new connection waits a second for its retry.
pub const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` with the [`LISTEN_BACKLOG`] (tokio's `bind` takes 1,024).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// What every connection task shares.
struct Shared {
    router: Router,
    limits: HttpLimits,
    clocks: Clocks,
    nodes: Arc<Semaphore>,
    addresses: Arc<AddressCounts>,
    refusing: Arc<Semaphore>,
}

/// Serves `router` on `listener` until `stop` resolves, then stops gracefully (see the module
/// docs) and returns once the connections it was serving are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        router,
        clocks: Clocks {
            header: limits.header_timeout,
            idle: limits.idle_timeout,
        },
        nodes: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        addresses: AddressCounts::new(limits.max_connections_per_address.max(1)),
        refusing: Arc::new(Semaphore::new(REFUSING_AT_ONCE)),
        limits,
    });
    let (stop_connections, connections_stop) = watch::channel(false);
    // Every connection task holds a sender; `recv` answers `None` once all are gone.
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                accept_failed(&error).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let held = match admit(&shared, peer) {
            Ok(held) => held,
            Err(refusal) => {
                metrics::counter!(telemetry::REFUSALS, "reason" => refusal.reason()).increment(1);
                if let Ok(permit) = Arc::clone(&shared.refusing).try_acquire_owned() {
                    tokio::spawn(answer_refusal(stream, refusal, permit));
                }
                continue;
            }
        };
        let task = connection(
            Arc::clone(&shared),
            stream,
            peer,
            held,
            connections_stop.clone(),
            alive.clone(),
        );
        tokio::spawn(task);
    }
    drop(listener);
    let _ = stop_connections.send(true);
    drop(alive);
    let _ = all_closed.recv().await;
    Ok(())
}

/// An accept error: per-connection ones (the client left) are ignored; running out of files
/// or memory waits a little so the loop does not spin (the caps should prevent it).
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) {
        return;
    }
    metrics::counter!(telemetry::REFUSALS, "reason" => "accept-failed").increment(1);
    tracing::warn!(%error, "accept failed; pausing accepts briefly");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Counts a new connection against the caps, or says which one it is over.
fn admit(shared: &Arc<Shared>, peer: SocketAddr) -> Result<Held, Refusal> {
    let capped = !shared.limits.trusted_proxies.contains(peer.ip());
    let address = if capped {
        Some(
            shared
                .addresses
                .acquire(peer.ip())
                .ok_or(Refusal::Address)?,
        )
    } else {
        None
    };
    let node = Arc::clone(&shared.nodes)
        .try_acquire_owned()
        .map_err(|_| Refusal::Node)?;
    Ok(Held {
        _node: node,
        _address: address,
        _gauge: OpenGauge::new(),
    })
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// The node's cap.
    Node,
    /// The client address's cap.
    Address,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Self::Node => "connections-node",
            Self::Address => "connections-address",
        }
    }

    /// The whole answer, written before the request is read.
    fn answer(self) -> Vec<u8> {
        let (status, title, detail) = match self {
            Self::Node => (
                503,
                "Service Unavailable",
                "this node has all the connections it serves; retry shortly",
            ),
            Self::Address => (
                429,
                "Too Many Requests",
                "too many connections from this address; reuse or close some",
            ),
        };
        let body = serde_json::json!({
            "type": "urn:dispatch:problem:too-many-connections",
            "title": title,
            "status": status,
            "detail": detail,
        })
        .to_string();
        format!(
            "HTTP/1.1 {status} {title}\r\ncontent-type: application/problem+json\r\n\
             content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

/// Writes the canned answer, closes the write side and discards what the client sends for a
/// moment (so the answer is read, not reset); refused connections answered at once are
/// bounded, the others are closed unanswered.
async fn answer_refusal(
    mut stream: TcpStream,
    refusal: Refusal,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let answer = refusal.answer();
    let wrote = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&answer).await?;
        stream.shutdown().await
    })
    .await;
    if matches!(wrote, Ok(Ok(()))) {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let mut buffer = [0u8; 4096];
            let mut discarded = 0usize;
            while discarded < 64 * 1024 {
                match tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => discarded += read,
                }
            }
        })
        .await;
    }
    drop(permit);
}

/// One connection, from accept to close.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    held: Held,
    mut stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    let state = ConnState::new();
    let io = Tracked::new(stream, Arc::clone(&state), held);
    let abort = Arc::clone(&io.abort);
    let peer = Peer {
        addr: peer,
        state: Arc::clone(&state),
    };
    let service = {
        let shared = Arc::clone(&shared);
        hyper::service::service_fn(move |request| {
            respond(Arc::clone(&shared), peer.clone(), request)
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Our clocks, not hyper's (its header timer would also cut idle keep-alives short).
    builder.header_read_timeout(None);
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let mut stopping = false;
    if *stop.borrow() {
        connection.as_mut().graceful_shutdown();
        stopping = true;
    }
    loop {
        let deadline = state.deadline(shared.clocks);
        let clock = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            outcome = connection.as_mut() => {
                if let Err(error) = outcome {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = clock => {
                if let Some((at, phase)) = state.deadline(shared.clocks)
                    && at <= tokio::time::Instant::now()
                {
                    metrics::counter!(telemetry::HTTP_TIMEOUTS, "phase" => phase.label()).increment(1);
                    tracing::debug!(phase = phase.label(), "connection closed by its clock");
                    abort.store(true, Ordering::Release);
                    return;
                }
            }
            () = state.wake.notified() => {}
            changed = stop.changed(), if !stopping => {
                let _ = changed;
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// One request: its client address, its body's clock, the per-client cap of proxied
/// requests, then the router.
async fn respond(
    shared: Arc<Shared>,
    peer: Peer,
    request: hyper::Request<Incoming>,
) -> Result<axum::response::Response, Infallible> {
    let busy = peer.state.begin();
    let client = shared
        .limits
        .trusted_proxies
        .client_address(peer.addr.ip(), request.headers());
    // Behind a trusted proxy connections are shared; the forwarded client's requests count.
    let slot = if client != peer.addr.ip() {
        match shared.addresses.acquire(client) {
            Some(slot) => Some(slot),
            None => {
                metrics::counter!(telemetry::REFUSALS, "reason" => "connections-address")
                    .increment(1);
                let response = crate::error::ApiError::TooManyRequests {
                    detail: "too many requests under way from this address".to_owned(),
                    retry_after: Duration::from_secs(1),
                };
                let response = axum::response::IntoResponse::into_response(response);
                return Ok(response.map(|inner| {
                    Body::new(GuardedBody {
                        inner,
                        _busy: busy,
                        _slot: None,
                    })
                }));
            }
        }
    } else {
        None
    };
    let mut request =
        request.map(|body| Body::new(TimedBody::new(body, shared.limits.body_timeout)));
    request.extensions_mut().insert(ClientAddress(client));
    request.extensions_mut().insert(ConnectInfo(peer.addr));
    let response = match shared.router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    Ok(response.map(|inner| {
        Body::new(GuardedBody {
            inner,
            _busy: busy,
            _slot: slot,
        })
    }))
}
