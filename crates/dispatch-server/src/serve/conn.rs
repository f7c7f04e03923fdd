//! One connection's phases and their clocks, the socket wrapper that reports them, the request
//! body with a deadline, and the lingering close that lets a client read its answer.
//!
//! A connection is always in one phase:
//!
//! * **head** — from accept, or from the first byte of a later request, until its headers are
//!   complete: `header_timeout` (the first request's clock starts at accept, so trickling
//!   bytes buys nothing);
//! * **busy** — a request is being answered (its body has its own deadline, the
//!   [`TimedBody`]); no connection clock runs, so long polls and event streams are untouched;
//! * **idle** — between a response and the next request's first byte: `idle_timeout`.
//!
//! A clock that runs out closes the socket at once (no lingering: the client is the slow
//! one). Upgraded connections (WebSockets) leave these clocks; the hub's own handshake and
//! client timeouts apply to them.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use super::address::AddressSlot;
use crate::telemetry;

/// How long, and how much, a closed connection's unread input is read and discarded so the
/// client sees the answer rather than a reset (nginx's lingering close).
pub(crate) const LINGER_TIME: Duration = Duration::from_secs(3);
/// See [`LINGER_TIME`]: enough for a client that sends a 20 MB body before reading.
pub(crate) const LINGER_BYTES: usize = 32 * 1024 * 1024;

/// Not started (for the head clock).
const NEVER: u64 = u64::MAX;

/// The connection clocks' settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clocks {
    pub(crate) header: Duration,
    pub(crate) idle: Duration,
}

/// Which clock closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Headers did not arrive in time.
    Header,
    /// Nothing came between requests.
    Idle,
}

impl Phase {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Idle => "idle",
        }
    }
}

/// What the socket, the service and the connection task share about one connection.
#[derive(Debug)]
pub(crate) struct ConnState {
    born: Instant,
    /// Requests being answered (0 or 1 on HTTP/1).
    busy: AtomicUsize,
    /// At least one response was sent: the idle clock applies between requests.
    served: AtomicBool,
    /// Milliseconds after `born` when the current request's first byte came ([`NEVER`]).
    head_started: AtomicU64,
    /// Milliseconds after `born` when the last response ended.
    idle_since: AtomicU64,
    /// Wakes the connection task when its deadline may have moved earlier.
    pub(crate) wake: Notify,
}

impl ConnState {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            born: Instant::now(),
            busy: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            head_started: AtomicU64::new(NEVER),
            idle_since: AtomicU64::new(0),
            wake: Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.born + Duration::from_millis(ms)
    }

    /// When the running clock runs out, and which; `None` while a request is answered.
    pub(crate) fn deadline(&self, clocks: Clocks) -> Option<(Instant, Phase)> {
        if self.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        if !self.served.load(Ordering::Acquire) {
            return Some((self.born + clocks.header, Phase::Header));
        }
        let head = self.head_started.load(Ordering::Acquire);
        if head != NEVER {
            return Some((self.at(head) + clocks.header, Phase::Header));
        }
        let idle = self.idle_since.load(Ordering::Acquire);
        Some((self.at(idle) + clocks.idle, Phase::Idle))
    }

    /// Bytes arrived: the first of a request after an idle spell starts its head clock.
    fn bytes_read(&self) {
        if self.busy.load(Ordering::Acquire) == 0
            && self.served.load(Ordering::Acquire)
            && self.head_started.load(Ordering::Acquire) == NEVER
        {
            self.head_started.store(self.now_ms(), Ordering::Release);
            self.wake.notify_one();
        }
    }

    /// A request's headers are in: no connection clock until its response ends.
    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NEVER, Ordering::Release);
        Busy(Arc::clone(self))
    }
}

/// Held while a request is answered (dropped with its response body).
#[derive(Debug)]
pub(crate) struct Busy(Arc<ConnState>);

impl Drop for Busy {
    fn drop(&mut self) {
        let state = &self.0;
        state.idle_since.store(state.now_ms(), Ordering::Release);
        state.served.store(true, Ordering::Release);
        if state.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            state.wake.notify_one();
        }
    }
}

/// What a connection holds against the caps (dropped with its socket, however it ends).
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) _node: tokio::sync::OwnedSemaphorePermit,
    pub(crate) _address: Option<AddressSlot>,
    pub(crate) _gauge: OpenGauge,
}

/// Counts an open connection in `/metrics` while alive.
#[derive(Debug)]
pub(crate) struct OpenGauge;

impl OpenGauge {
    pub(crate) fn new() -> Self {
        metrics::gauge!(telemetry::HTTP_CONNECTIONS_OPEN).increment(1.0);
        Self
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        metrics::gauge!(telemetry::HTTP_CONNECTIONS_OPEN).decrement(1.0);
    }
}

/// The accepted socket as hyper sees it: reports bytes read to the clocks, and when dropped
/// after hyper closed it with unread input pending, lingers (see [`LINGER_TIME`]).
#[derive(Debug)]
pub(crate) struct Tracked {
    stream: Option<TcpStream>,
    state: Arc<ConnState>,
    held: Option<Held>,
    /// hyper shut the write side down: it ended the exchange itself.
    shut_down: bool,
    /// The client's end is closed (a read returned 0).
    read_eof: bool,
    /// Closed by a clock: no lingering.
    pub(crate) abort: Arc<AtomicBool>,
}

impl Tracked {
    pub(crate) fn new(stream: TcpStream, state: Arc<ConnState>, held: Held) -> Self {
        Self {
            stream: Some(stream),
            state,
            held: Some(held),
            shut_down: false,
            read_eof: false,
            abort: Arc::new(AtomicBool::new(false)),
        }
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let want = buf.remaining();
        let stream = match self.stream() {
            Ok(stream) => stream,
            Err(error) => return Poll::Ready(Err(error)),
        };
        ready!(Pin::new(stream).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        if read > 0 {
            self.state.bytes_read();
        } else if want > 0 {
            self.read_eof = true;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(stream) => Pin::new(stream).poll_write(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(stream) => Pin::new(stream).poll_flush(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shut_down = true;
        match self.stream() {
            Ok(stream) => Pin::new(stream).poll_shutdown(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let (Some(stream), Some(held)) = (self.stream.take(), self.held.take()) else {
            return;
        };
        if !self.shut_down || self.read_eof || self.abort.load(Ordering::Acquire) {
            return;
        }
        // Input already waiting (or still coming): a close now would reset the connection and
        // the client could lose the answer it has not read yet.
        let mut scratch = [0u8; 4096];
        match stream.try_read(&mut scratch) {
            Ok(0) => return,
            Err(error) if error.kind() != io::ErrorKind::WouldBlock => return,
            _ => {}
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(stream, held));
        }
    }
}

/// Reads and discards until the client closes, [`LINGER_BYTES`] or [`LINGER_TIME`], whichever
/// comes first, holding the connection's place under the caps meanwhile.
pub(crate) async fn linger(mut stream: TcpStream, held: Held) {
    let deadline = Instant::now() + LINGER_TIME;
    let mut buffer = vec![0u8; 16 * 1024];
    let mut discarded = 0usize;
    while discarded < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => discarded += read,
        }
    }
    drop(stream);
    drop(held);
}

/// The request body did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// A request body that fails with [`BodyTimeout`] once its deadline passes.
pub(crate) struct TimedBody {
    inner: hyper::body::Incoming,
    limit: Duration,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl TimedBody {
    pub(crate) fn new(inner: hyper::body::Incoming, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: Instant::now() + limit,
            sleep: None,
            expired: false,
        }
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let deadline = self.deadline;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        self.expired = true;
        metrics::counter!(telemetry::HTTP_TIMEOUTS, "phase" => "body").increment(1);
        Poll::Ready(Some(Err(Box::new(BodyTimeout(self.limit)))))
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request counted as under way until it is sent (or dropped),
/// with whatever else must live as long (a proxied client's place under its address cap).
pub(crate) struct GuardedBody {
    pub(crate) inner: axum::body::Body,
    pub(crate) _busy: Busy,
    pub(crate) _slot: Option<AddressSlot>,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The peer and the connection's state, for the service of one connection.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    pub(crate) state: Arc<ConnState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOCKS: Clocks = Clocks {
        header: Duration::from_secs(5),
        idle: Duration::from_secs(30),
    };

    #[test]
    fn the_clocks_follow_the_phases() {
        let state = ConnState::new();
        // Accepted: headers within the header timeout of accept.
        assert_eq!(
            state.deadline(CLOCKS),
            Some((state.born + CLOCKS.header, Phase::Header))
        );
        let busy = state.begin();
        assert_eq!(state.deadline(CLOCKS), None, "no clock while answering");
        drop(busy);
        let idle = state.deadline(CLOCKS).expect("idle clock");
        assert_eq!(idle.1, Phase::Idle);
        assert!(idle.0 >= state.born + CLOCKS.idle);
        // The next request's first byte starts its head clock, earlier than the idle one.
        state.bytes_read();
        let head = state.deadline(CLOCKS).expect("head clock");
        assert_eq!(head.1, Phase::Header);
        assert!(head.0 < idle.0);
        // Later bytes of the same head do not move it.
        state.bytes_read();
        assert_eq!(state.deadline(CLOCKS), Some(head));
    }
}
