//! The two HTTP transports, Server-Sent Events and Long Polling.
//!
//! Both carry client-to-server data in `POST {hub}?id=` bodies; they differ in how the server
//! talks back. SSE keeps one `GET` open and writes each frame as an event; Long Polling answers
//! each `GET` with whatever frames are waiting (or nothing after the poll timeout).
//!
//! The connection task does not know which transport it runs on: it gets a [`ChannelSocket`],
//! a `Stream`/`Sink` of WebSocket-shaped messages backed by two bounded channels, the same
//! interface the WebSocket transport gives it. A POST pushes its body into the incoming
//! channel; the SSE body or the polls drain the outgoing one. Closing the incoming channel
//! (DELETE, SSE request gone, Long Polling client gone) ends the connection.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::Message;
use bytes::{Bytes, BytesMut};
use futures_channel::mpsc;
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::options::TransportKind;

/// How many frames may wait in each direction of an HTTP transport before senders wait.
const CHANNEL_FRAMES: usize = 8;

/// The connection task's view of an HTTP transport: frames in, frames out.
pub(crate) struct ChannelSocket {
    incoming: mpsc::Receiver<Message>,
    outgoing: mpsc::Sender<Message>,
}

impl Stream for ChannelSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_next_unpin(cx).map(|frame| frame.map(Ok))
    }
}

impl Sink<Message> for ChannelSocket {
    type Error = mpsc::SendError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.poll_ready_unpin(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Message) -> Result<(), Self::Error> {
        // Close frames are a WebSocket notion; over HTTP the response ends instead.
        if matches!(frame, Message::Close(_)) {
            self.outgoing.close_channel();
            return Ok(());
        }
        self.outgoing.start_send_unpin(frame)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.poll_flush_unpin(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.poll_close_unpin(cx)
    }
}

/// Why a POST could not deliver its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendRefusal {
    /// Another POST for this connection is still being delivered.
    Busy,
    /// The connection has ended.
    Gone,
}

/// Long-polling bookkeeping: the poll in progress and when the last one ended.
#[derive(Debug)]
struct Polls {
    /// Ends the poll in progress (it answers 204) when a newer poll arrives.
    current: Option<oneshot::Sender<()>>,
    active: usize,
    last_ended: Instant,
}

/// The server side of an HTTP transport, kept with the connection's token.
#[derive(Debug)]
pub(crate) struct HttpChannel {
    pub(crate) kind: TransportKind,
    incoming_tx: Mutex<Option<mpsc::Sender<Message>>>,
    sending: AtomicBool,
    /// Long polling only: the frames waiting for the next poll.
    outgoing_rx: tokio::sync::Mutex<Option<mpsc::Receiver<Message>>>,
    polls: Mutex<Polls>,
    /// Long polling: the client has been told the connection is over (a poll found the
    /// outgoing frames finished, or it sent DELETE), so its token can go.
    ended: AtomicBool,
}

impl HttpChannel {
    /// Makes the channel pair; the socket goes to the connection task.
    pub(crate) fn new(kind: TransportKind) -> (Self, ChannelSocket, mpsc::Receiver<Message>) {
        let (incoming_tx, incoming) = mpsc::channel(CHANNEL_FRAMES);
        let (outgoing, outgoing_rx) = mpsc::channel(CHANNEL_FRAMES);
        let channel = Self {
            kind,
            incoming_tx: Mutex::new(Some(incoming_tx)),
            sending: AtomicBool::new(false),
            outgoing_rx: tokio::sync::Mutex::new(None),
            polls: Mutex::new(Polls {
                current: None,
                active: 0,
                last_ended: Instant::now(),
            }),
            ended: AtomicBool::new(false),
        };
        (channel, ChannelSocket { incoming, outgoing }, outgoing_rx)
    }

    /// Hands the outgoing frames to the polls (long polling).
    pub(crate) async fn keep_for_polls(&self, outgoing_rx: mpsc::Receiver<Message>) {
        *self.outgoing_rx.lock().await = Some(outgoing_rx);
    }

    fn polls(&self) -> std::sync::MutexGuard<'_, Polls> {
        self.polls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the connection from the client side (DELETE, request gone, poll gap too long).
    pub(crate) fn close(&self) {
        self.incoming_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Whether the connection has been ended from the client side.
    #[cfg(test)]
    pub(crate) fn is_closed(&self) -> bool {
        self.incoming_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_none_or(mpsc::Sender::is_closed)
    }

    /// Delivers a POST body to the connection, waiting while it is busy.
    pub(crate) async fn send(&self, body: Bytes) -> Result<(), SendRefusal> {
        if self.sending.swap(true, Ordering::AcqRel) {
            return Err(SendRefusal::Busy);
        }
        let sender = self
            .incoming_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let result = match sender {
            Some(mut sender) if !body.is_empty() => sender
                .send(Message::Binary(body))
                .await
                .map_err(|_| SendRefusal::Gone),
            Some(_) => Ok(()),
            None => Err(SendRefusal::Gone),
        };
        self.sending.store(false, Ordering::Release);
        result
    }

    /// Answers one long poll: the waiting frames, nothing after `timeout`, or `None` when the
    /// connection is over (or a newer poll took over), which the client reads as 204.
    pub(crate) async fn poll(&self, timeout: Duration) -> Option<Bytes> {
        let (cancel_tx, cancel_rx) = oneshot::channel();
        {
            let mut polls = self.polls();
            if let Some(previous) = polls.current.replace(cancel_tx) {
                let _ = previous.send(());
            }
            polls.active += 1;
        }
        let answer = tokio::select! {
            answer = self.take_frames(timeout) => answer,
            _ = cancel_rx => None,
        };
        let mut polls = self.polls();
        polls.active -= 1;
        polls.last_ended = Instant::now();
        answer
    }

    async fn take_frames(&self, timeout: Duration) -> Option<Bytes> {
        let mut guard = self.outgoing_rx.lock().await;
        let outgoing = guard.as_mut()?;
        let first = match tokio::time::timeout(timeout, outgoing.next()).await {
            Err(_) => return Some(Bytes::new()),
            Ok(None) => {
                // Every frame, the Close message included, went out in earlier polls.
                self.ended.store(true, Ordering::Release);
                return None;
            }
            Ok(Some(frame)) => frame,
        };
        let mut body = BytesMut::new();
        body.extend_from_slice(&frame_bytes(first));
        while let Ok(frame) = outgoing.try_recv() {
            body.extend_from_slice(&frame_bytes(frame));
        }
        Some(body.freeze())
    }

    /// The client ended the connection itself (DELETE): it will not poll again.
    pub(crate) fn end_polls(&self) {
        self.close();
        self.ended.store(true, Ordering::Release);
    }

    /// Whether the client knows the connection is over (it got 204, or sent DELETE).
    pub(crate) fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Whether no poll is running and the last one ended more than `gap` ago.
    pub(crate) fn poll_gap_exceeded(&self, gap: Duration) -> bool {
        let polls = self.polls();
        polls.active == 0 && polls.last_ended.elapsed() >= gap
    }
}

/// The payload of a frame the connection task wrote.
pub(crate) fn frame_bytes(frame: Message) -> Bytes {
    match frame {
        Message::Text(text) => Bytes::from(text.as_str().to_owned()),
        Message::Binary(data) => data,
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => Bytes::new(),
    }
}

/// Formats one frame as a Server-Sent Event: a `data:` line per line of the payload.
pub(crate) fn sse_event(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 16);
    if payload.is_empty() {
        out.extend_from_slice(b"\r\n");
        return out.freeze();
    }
    for line in payload.split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

/// Ends the connection when the SSE response body is dropped (the client went away).
pub(crate) struct CloseOnDrop(pub(crate) std::sync::Arc<HttpChannel>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_match_the_reference_vectors() {
        assert_eq!(
            &sse_event(b"Hello, World")[..],
            b"data: Hello, World\r\n\r\n"
        );
        assert_eq!(
            &sse_event(b"Hello\nWorld")[..],
            b"data: Hello\r\ndata: World\r\n\r\n"
        );
        assert_eq!(
            &sse_event(b"Hello\r\nWorld")[..],
            b"data: Hello\r\ndata: World\r\n\r\n"
        );
        assert_eq!(&sse_event(b"Hello\n")[..], b"data: Hello\r\ndata: \r\n\r\n");
        assert_eq!(&sse_event(b"")[..], b"\r\n");
    }

    #[tokio::test]
    async fn a_newer_poll_ends_the_older_one() {
        let (channel, _socket, outgoing_rx) = HttpChannel::new(TransportKind::LongPolling);
        let channel = std::sync::Arc::new(channel);
        channel.keep_for_polls(outgoing_rx).await;
        let first = tokio::spawn({
            let channel = std::sync::Arc::clone(&channel);
            async move { channel.poll(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = tokio::spawn({
            let channel = std::sync::Arc::clone(&channel);
            async move { channel.poll(Duration::from_millis(100)).await }
        });
        assert_eq!(first.await.expect("first"), None);
        assert_eq!(second.await.expect("second"), Some(Bytes::new()));
    }

    #[tokio::test]
    async fn waiting_frames_are_batched_into_one_poll() {
        let (channel, mut socket, outgoing_rx) = HttpChannel::new(TransportKind::LongPolling);
        channel.keep_for_polls(outgoing_rx).await;
        socket
            .send(Message::Binary(Bytes::from_static(b"a")))
            .await
            .expect("send");
        socket
            .send(Message::Binary(Bytes::from_static(b"b")))
            .await
            .expect("send");
        assert_eq!(
            channel.poll(Duration::from_secs(1)).await,
            Some(Bytes::from_static(b"ab"))
        );
    }

    #[tokio::test]
    async fn concurrent_posts_are_refused_and_closed_channels_gone() {
        let (channel, mut socket, _outgoing_rx) = HttpChannel::new(TransportKind::ServerSentEvents);
        assert_eq!(channel.send(Bytes::from_static(b"x")).await, Ok(()));
        assert!(matches!(socket.next().await, Some(Ok(Message::Binary(_)))));
        channel.sending.store(true, Ordering::Release);
        assert_eq!(
            channel.send(Bytes::from_static(b"x")).await,
            Err(SendRefusal::Busy)
        );
        channel.sending.store(false, Ordering::Release);
        channel.close();
        assert!(channel.is_closed());
        assert_eq!(
            channel.send(Bytes::from_static(b"x")).await,
            Err(SendRefusal::Gone)
        );
        assert!(socket.next().await.is_none());
    }
}
