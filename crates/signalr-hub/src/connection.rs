//! One connection's task, top-down: `run` = `handshake` → `open` → `close`.
//!
//! * **handshake**: read the client's handshake request (after any bytes it POSTed before the
//!   transport opened), then accept it or refuse it with an error response.
//! * **open**: register the connection (from then on hub code can reach it), run the
//!   connected hook, then the message loop until the client leaves, the server closes the
//!   connection, or it is aborted ([`End`]).
//! * **close**: leave the registry, forget the token, then give the client what [`End`] still
//!   owes it while the disconnected hook runs.
//!
//! The task is the only writer of its socket. Everything else — group sends, completions of
//! invocations running on other tasks, a server-side close — reaches it through the bounded
//! queue in the registry. The loop reads client frames into a byte buffer (the WebSocket is a
//! byte stream: message boundaries and opcodes carry no meaning), dispatches every whole hub
//! message it finds, drains the queue into as few frames as possible, pings when it has been
//! quiet for the keep-alive interval, and closes a client that has been silent too long. A
//! stateful connection that loses its socket waits for the client's next one and replays.
//!
//! The loop is written against `Stream`/`Sink` of WebSocket messages, not a concrete socket,
//! so tests and other transports can drive it with channels.

use std::fmt::Display;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, close_code};
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt as _, Sink, SinkExt as _, Stream, StreamExt as _};
use signalr_protocol::{
    Close, Completion, CompletionResult, Decoded, HandshakeError, HubMessage, HubProtocol,
    Invocation, StreamInvocation, TransferFormat, decode_handshake_request,
    encode_handshake_response,
};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, sleep_until, timeout};

use crate::auth::Principal;
use crate::handle::HubHandle;
use crate::ids::ConnectionId;
use crate::limits::UserSlot;
use crate::method::{Caller, InvocationError};
use crate::negotiation::{ResumeSlot, TokenGuard};
use crate::options::{HubOptions, TransportKind};
use crate::outbound::{ConnectionSender, Outbound, SharedMessage};
use crate::registry::ConnectionGuard;
use crate::shared::HubShared;
use crate::stateful::{ReceiveTracker, ReplayBuffer, is_trackable};

/// What the HTTP layer knows about a connection when its transport opens.
pub(crate) struct ConnectionStart<S> {
    pub(crate) transport: TransportKind,
    pub(crate) connection_id: ConnectionId,
    pub(crate) token: TokenGuard,
    pub(crate) principal: Principal,
    /// Where replacement sockets arrive, when the client negotiated stateful reconnect.
    pub(crate) resume: Option<(Arc<ResumeSlot<S>>, mpsc::Receiver<S>)>,
    /// Bytes the client POSTed before the transport opened; read before the socket's.
    pub(crate) early_input: Vec<u8>,
    /// Counts this connection against its user's cap until the connection ends.
    pub(crate) user_slot: Option<UserSlot>,
}

/// What a connection runs on: an axum WebSocket, or an HTTP transport's channel socket.
pub(crate) trait Socket:
    Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error: Display> + Unpin + Send
{
}

impl<S> Socket for S where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error: Display> + Unpin + Send
{
}

/// How a connection's loop ended, and so what it still owes the client.
#[derive(Debug)]
enum End {
    /// The client closed the socket, sent a Close message, or the socket failed.
    ClientGone,
    /// The server ends the connection and tells the client why with a Close message.
    Close(Close),
    /// The client is too slow or the socket is stuck: drop it without ceremony.
    Abort,
}

const CONNECTION_ERROR: &str = "Connection closed with an error.";

/// Runs a connection from the open transport to cleanup.
pub(crate) async fn run<S: Socket>(
    hub: Arc<HubShared>,
    mut start: ConnectionStart<S>,
    mut socket: S,
) {
    // A connection that ends in its handshake was never reachable: dropping `start` forgets
    // its token.
    let Some(accepted) = handshake(&hub.options, &mut start, &mut socket).await else {
        return;
    };
    let (connection, end) = open(hub, start, socket, accepted).await;
    close(connection, end).await;
}

/// Reads the client's handshake request, early input first, and answers it. `None` ends the
/// connection: the client left, or was refused and told why.
async fn handshake<S: Socket>(
    options: &HubOptions,
    start: &mut ConnectionStart<S>,
    socket: &mut S,
) -> Option<Accepted> {
    let early_input = std::mem::take(&mut start.early_input);
    let request = read_handshake(
        socket,
        early_input,
        options.max_message_size,
        start.transport,
    );
    let outcome = timeout(options.handshake_timeout, request)
        .await
        .unwrap_or_else(|_| Handshake::Rejected("Handshake was canceled.".to_owned()));
    match outcome {
        Handshake::Accepted(accepted) => {
            let mut response = Vec::new();
            encode_handshake_response(None, &mut response);
            let frame = frame_for(accepted.protocol, Bytes::from(response));
            socket.send(frame).await.ok()?;
            Some(accepted)
        }
        Handshake::Rejected(error) => {
            refuse_handshake(options, socket, &error).await;
            None
        }
        Handshake::Gone => None,
    }
}

/// Registers the connection and runs the connected hook, then the message loop until the
/// connection ends; returns it, still registered, with how it ended.
async fn open<S: Socket>(
    hub: Arc<HubShared>,
    start: ConnectionStart<S>,
    socket: S,
    accepted: Accepted,
) -> (Connection<S>, End) {
    let mut connection = Connection::register(hub, start, socket, accepted);
    let end = match connected_hook(&connection.hub, &connection.caller).await {
        Some(refusal) => End::Close(refusal),
        None => connection.message_loop().await,
    };
    (connection, end)
}

/// Leaves the registry and forgets the token, then gives the client what `end` still owes it
/// while the disconnected hook runs.
async fn close<S: Socket>(connection: Connection<S>, end: End) {
    let Connection {
        registration,
        hub,
        caller,
        protocol,
        mut socket,
        ..
    } = connection;
    // Leave the registry first: nobody should queue for a connection that is on its way out,
    // and the close handshake below may take a while with a client that stopped reading.
    // Then the token: from here on a request with it finds no connection (404).
    drop(registration);
    tracing::debug!(connection_id = %caller.connection_id, "disconnected");
    let farewell = farewell(&hub.options, protocol, &mut socket, end);
    let hook = async {
        if let Some(hook) = &hub.on_disconnected {
            let _ = AssertUnwindSafe(hook(caller)).catch_unwind().await;
        }
    };
    tokio::join!(farewell, hook);
}

// Handshake.

/// A handshake request the server accepts.
struct Accepted {
    protocol: HubProtocol,
    version: u32,
    /// What the client sent after the handshake request: the start of its hub messages.
    input: Vec<u8>,
}

enum Handshake {
    Accepted(Accepted),
    Rejected(String),
    Gone,
}

async fn read_handshake<S: Socket>(
    socket: &mut S,
    mut input: Vec<u8>,
    max_size: usize,
    transport: TransportKind,
) -> Handshake {
    loop {
        match decode_handshake_request(&input, max_size) {
            Ok(Some((request, used))) => {
                let Some(protocol) = HubProtocol::from_name(&request.protocol) else {
                    return Handshake::Rejected(format!(
                        "The protocol '{}' is not supported.",
                        request.protocol
                    ));
                };
                if protocol.transfer_format() == TransferFormat::Binary
                    && !transport.supports_binary()
                {
                    return Handshake::Rejected(format!(
                        "Cannot use the '{}' protocol on the current transport. The transport does not support 'Binary' transfer format.",
                        request.protocol
                    ));
                }
                if !protocol.is_version_supported(request.version) {
                    return Handshake::Rejected(format!(
                        "The server does not support version {} of the '{}' protocol.",
                        request.version, request.protocol
                    ));
                }
                input.drain(..used);
                return Handshake::Accepted(Accepted {
                    protocol,
                    version: request.version,
                    input,
                });
            }
            Ok(None) => {}
            Err(HandshakeError::TooLarge { .. }) => {
                return Handshake::Rejected("Handshake was canceled.".to_owned());
            }
            Err(error) => {
                tracing::debug!(%error, "malformed handshake");
                return Handshake::Rejected(
                    "An unexpected error occurred during connection handshake.".to_owned(),
                );
            }
        }
        match socket.next().await {
            Some(Ok(Message::Text(text))) => input.extend_from_slice(text.as_bytes()),
            Some(Ok(Message::Binary(data))) => input.extend_from_slice(&data),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_)) | Err(_)) | None => return Handshake::Gone,
        }
    }
}

/// Tells the client why its handshake failed, then closes the socket.
async fn refuse_handshake<S: Socket>(options: &HubOptions, socket: &mut S, error: &str) {
    tracing::debug!(%error, "handshake rejected");
    let mut response = Vec::new();
    encode_handshake_response(Some(error), &mut response);
    let frame = text_frame(Bytes::from(response));
    let _ = timeout(options.send_timeout, socket.send(frame)).await;
    close_socket(socket).await;
}

// Open: the message loop.

/// Runs the connected hook, if any; `Some` is the Close message for a hook that refused.
async fn connected_hook(hub: &HubShared, caller: &Caller) -> Option<Close> {
    let hook = hub.on_connected.as_ref()?;
    let error = match AssertUnwindSafe(hook(caller.clone())).catch_unwind().await {
        Ok(Ok(())) => return None,
        Ok(Err(error)) => error.message().to_owned(),
        Err(_) => CONNECTION_ERROR.to_owned(),
    };
    Some(Close {
        error: Some(error),
        allow_reconnect: false,
    })
}

/// What keeps an open connection reachable. Its fields drop in this order: the registry
/// entry first, then the token.
struct Registration {
    _entry: ConnectionGuard,
    _token: TokenGuard,
    _user_slot: Option<UserSlot>,
}

/// The stateful-reconnect state of a connection that negotiated it.
struct Stateful<S> {
    replay: ReplayBuffer,
    received: ReceiveTracker,
    /// New WebSockets of the same logical connection.
    sockets: mpsc::Receiver<S>,
}

/// An encoded message ready to write, and whether it gets a sequence id.
struct Outgoing {
    bytes: Bytes,
    trackable: bool,
}

/// An open connection: what the message loop works with, and what `close` takes apart.
struct Connection<S> {
    /// Keeps the connection reachable until `close` drops it.
    registration: Registration,
    hub: Arc<HubShared>,
    caller: Caller,
    protocol: HubProtocol,
    /// Long polling: the polls themselves show liveness, so no pings and no client timeout.
    inherent_keep_alive: bool,
    socket: S,
    /// Received bytes not yet parsed into whole messages.
    input: Vec<u8>,
    queue_tx: mpsc::Sender<Outbound>,
    queue_rx: mpsc::Receiver<Outbound>,
    abort: Arc<Notify>,
    /// Invocations of this connection that may run at once.
    invocations: Arc<Semaphore>,
    /// An invocation parsed but waiting for a free slot; reading pauses meanwhile.
    blocked: Option<Invocation>,
    /// Replies the loop itself produced (errors for unknown methods), written before the queue.
    direct: Vec<HubMessage>,
    stateful: Option<Stateful<S>>,
}

impl<S: Socket> Connection<S> {
    /// Makes the connection reachable (in the registry under its id, with its queue) and sets
    /// up what the message loop needs.
    fn register(
        hub: Arc<HubShared>,
        start: ConnectionStart<S>,
        socket: S,
        accepted: Accepted,
    ) -> Self {
        let options = &hub.options;
        let Accepted {
            protocol,
            version,
            input,
        } = accepted;
        let ConnectionStart {
            transport,
            connection_id,
            token,
            principal,
            resume,
            early_input: _,
            user_slot,
        } = start;
        let (queue_tx, queue_rx) = mpsc::channel(options.max_pending_messages.max(1));
        let abort = Arc::new(Notify::new());
        // Stateful reconnect needs the client to have asked at negotiate *and* to speak hub
        // protocol version 2; a version-1 client would not understand Ack and Sequence.
        let stateful = resume
            .filter(|_| version >= 2 && transport == TransportKind::WebSockets)
            .map(|(slot, sockets)| {
                slot.enabled.store(true, Ordering::Release);
                Stateful {
                    replay: ReplayBuffer::new(
                        options.stateful_reconnect_buffer_size,
                        Arc::clone(&hub.replay_bytes),
                    ),
                    received: ReceiveTracker::new(),
                    sockets,
                }
            });
        let entry = hub.registry.register(
            connection_id.clone(),
            principal.user_id.clone(),
            ConnectionSender {
                queue_tx: queue_tx.clone(),
                abort: Arc::clone(&abort),
            },
        );
        let caller = Caller {
            connection_id,
            principal: Arc::new(principal),
            hub: HubHandle {
                registry: Arc::clone(&hub.registry),
            },
            transport: transport.name(),
            protocol: protocol.name(),
        };
        tracing::debug!(
            connection_id = %caller.connection_id,
            protocol = protocol.name(),
            transport = transport.name(),
            stateful = stateful.is_some(),
            "connected"
        );
        let invocations = Arc::new(Semaphore::new(options.max_parallel_invocations.max(1)));
        Self {
            registration: Registration {
                _entry: entry,
                _token: token,
                _user_slot: user_slot,
            },
            caller,
            protocol,
            inherent_keep_alive: transport.has_inherent_keep_alive(),
            socket,
            input,
            queue_tx,
            queue_rx,
            abort,
            invocations,
            blocked: None,
            direct: Vec::new(),
            stateful,
            hub,
        }
    }

    /// Serves the open connection until the client leaves, the server closes it, or it is
    /// aborted; says which, so that `close` knows what the client is still owed.
    async fn message_loop(&mut self) -> End {
        // Copies of the two intervals, not of the whole options: this future lives as long as
        // the connection, and every byte of it is paid per idle connection.
        let keep_alive_every = self.hub.options.keep_alive_interval;
        let client_timeout_after = self.hub.options.client_timeout;
        let keep_alive = sleep_until(Instant::now() + keep_alive_every);
        let client_timeout = sleep_until(Instant::now() + client_timeout_after);
        let mut ack_timer = self.stateful.is_some().then(|| {
            let mut timer = tokio::time::interval(self.hub.options.stateful_reconnect_ack_interval);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer
        });
        tokio::pin!(keep_alive, client_timeout);
        loop {
            if self.blocked.is_none()
                && let Err(end) = self.dispatch_input()
            {
                return end;
            }
            if !self.direct.is_empty() {
                let messages = std::mem::take(&mut self.direct);
                let outgoing: Vec<Outgoing> = messages
                    .iter()
                    .filter_map(|message| self.encode(message))
                    .collect();
                if let Err(end) = self.write(outgoing).await {
                    return end;
                }
                keep_alive.as_mut().reset(Instant::now() + keep_alive_every);
            }
            let stateful = self.stateful.is_some();
            let replay_full = self
                .stateful
                .as_ref()
                .is_some_and(|state| state.replay.is_full());
            tokio::select! {
                permit = Arc::clone(&self.invocations).acquire_owned(), if self.blocked.is_some() => {
                    if let (Ok(permit), Some(invocation)) = (permit, self.blocked.take()) {
                        self.start_invocation(invocation, permit);
                    }
                    client_timeout.as_mut().reset(Instant::now() + client_timeout_after);
                }
                frame = self.socket.next(), if self.blocked.is_none() => {
                    match frame {
                        Some(Ok(Message::Text(text))) => self.input.extend_from_slice(text.as_bytes()),
                        Some(Ok(Message::Binary(data))) => self.input.extend_from_slice(&data),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_))) | None => {
                            if let Err(end) = self.resume_after_loss().await {
                                return end;
                            }
                        }
                        Some(Err(error)) => {
                            tracing::debug!(%error, "transport error");
                            if let Err(end) = self.resume_after_loss().await {
                                return end;
                            }
                        }
                    }
                    client_timeout.as_mut().reset(Instant::now() + client_timeout_after);
                }
                item = self.queue_rx.recv(), if !replay_full => {
                    let Some(item) = item else { return End::Abort };
                    if let Err(end) = self.write_queued(item).await {
                        return end;
                    }
                    keep_alive.as_mut().reset(Instant::now() + keep_alive_every);
                }
                socket = recv_socket(self.stateful.as_mut()), if stateful => {
                    if let Some(socket) = socket {
                        tracing::debug!(connection_id = %self.caller.connection_id, "resumed on a new socket");
                        self.socket = socket;
                        if let Err(end) = self.resend().await {
                            return end;
                        }
                        client_timeout.as_mut().reset(Instant::now() + client_timeout_after);
                    }
                }
                _ = tick(ack_timer.as_mut()), if stateful => {
                    let due = self.stateful.as_mut().and_then(|state| state.received.ack_due());
                    if let Some(sequence_id) = due {
                        let ack = self.encode(&HubMessage::Ack { sequence_id });
                        if let Err(end) = self.write(ack.into_iter().collect()).await {
                            return end;
                        }
                    }
                }
                () = &mut keep_alive, if !self.inherent_keep_alive => {
                    let ping = self.encode(&HubMessage::Ping);
                    if let Err(end) = self.write(ping.into_iter().collect()).await {
                        return end;
                    }
                    keep_alive.as_mut().reset(Instant::now() + keep_alive_every);
                }
                () = &mut client_timeout, if self.blocked.is_none() && !self.inherent_keep_alive => {
                    tracing::debug!(connection_id = %self.caller.connection_id, "client timeout");
                    return End::Close(self.error_close(
                        "Client hasn't sent a message/ping within the configured client timeout.",
                    ));
                }
                () = self.abort.notified() => {
                    tracing::debug!(connection_id = %self.caller.connection_id, "aborted: client too slow");
                    return End::Abort;
                }
            }
        }
    }

    fn error_close(&self, detail: &str) -> Close {
        let error = if self.hub.options.detailed_errors {
            format!("{CONNECTION_ERROR} {detail}")
        } else {
            CONNECTION_ERROR.to_owned()
        };
        Close {
            error: Some(error),
            allow_reconnect: true,
        }
    }

    fn encode(&self, message: &HubMessage) -> Option<Outgoing> {
        let mut out = Vec::new();
        match self.protocol.encode(message, &mut out) {
            Ok(()) => Some(Outgoing {
                bytes: Bytes::from(out),
                trackable: is_trackable(message),
            }),
            Err(error) => {
                tracing::warn!(%error, "cannot encode reply");
                None
            }
        }
    }

    /// The socket is gone. A stateful connection waits for the client to come back on a new
    /// one; any other connection is over.
    async fn resume_after_loss(&mut self) -> Result<(), End> {
        let Some(state) = self.stateful.as_mut() else {
            return Err(End::ClientGone);
        };
        let options = &self.hub.options;
        // Every waiting session holds its replay buffer; past the hub-wide cap, new losses are
        // not kept waiting.
        if self.hub.replay_bytes.load(Ordering::Relaxed) > options.max_total_replay_bytes {
            tracing::debug!(connection_id = %self.caller.connection_id, "replay memory cap reached");
            return Err(End::Abort);
        }
        tracing::debug!(connection_id = %self.caller.connection_id, "socket lost; waiting for reconnect");
        match timeout(options.disconnect_timeout, state.sockets.recv()).await {
            Ok(Some(socket)) => {
                self.socket = socket;
                self.resend().await
            }
            _ => Err(End::Abort),
        }
    }

    /// On a new socket: announce where the replay starts, then replay what was not acknowledged.
    async fn resend(&mut self) -> Result<(), End> {
        let Some(state) = self.stateful.as_ref() else {
            return Ok(());
        };
        let (first, replay) = state.replay.replay();
        let mut out = Vec::new();
        if self
            .protocol
            .encode(&HubMessage::Sequence { sequence_id: first }, &mut out)
            .is_err()
        {
            return Err(End::Abort);
        }
        for encoded in replay {
            out.extend_from_slice(encoded);
        }
        self.send_frame(Bytes::from(out)).await
    }

    /// Parses and dispatches every whole message in the input buffer.
    fn dispatch_input(&mut self) -> Result<(), End> {
        let mut offset = 0;
        let result = loop {
            let decoded = self
                .protocol
                .decode_next(&self.input[offset..], self.hub.options.max_message_size);
            match decoded {
                Ok(Some((decoded, used))) => {
                    offset += used;
                    let Decoded::Message(message) = decoded else {
                        continue;
                    };
                    match self.dispatch(message) {
                        Ok(true) => {}
                        Ok(false) => break Ok(()),
                        Err(end) => break Err(end),
                    }
                }
                Ok(None) => break Ok(()),
                Err(error) => {
                    tracing::debug!(%error, connection_id = %self.caller.connection_id, "protocol error");
                    break Err(End::Close(self.error_close(&error.to_string())));
                }
            }
        };
        self.input.drain(..offset);
        // A burst of large frames should not pin a large buffer on an idle connection.
        if self.input.is_empty() && self.input.capacity() > 4096 {
            self.input = Vec::new();
        }
        result
    }

    /// Handles one message; `Ok(false)` means stop parsing until an invocation slot frees up.
    fn dispatch(&mut self, message: HubMessage) -> Result<bool, End> {
        if let Some(state) = self.stateful.as_mut() {
            match &message {
                HubMessage::Ack { sequence_id } => {
                    state.replay.acknowledge(*sequence_id);
                    return Ok(true);
                }
                HubMessage::Sequence { sequence_id } => {
                    if let Err(gap) = state.received.restart_at(*sequence_id) {
                        return Err(End::Close(self.error_close(&gap.to_string())));
                    }
                    return Ok(true);
                }
                // A replayed message we already processed before the socket was lost.
                message if is_trackable(message) && !state.received.accept() => return Ok(true),
                _ => {}
            }
        }
        match message {
            HubMessage::Invocation(invocation) => {
                if let Some(error) =
                    self.reject_invocation(&invocation.target, &invocation.stream_ids, false)
                {
                    if let Some(id) = invocation.invocation_id.filter(|id| !id.is_empty()) {
                        self.direct.push(error_completion(id, error));
                    }
                    return Ok(true);
                }
                match Arc::clone(&self.invocations).try_acquire_owned() {
                    Ok(permit) => {
                        self.start_invocation(invocation, permit);
                        Ok(true)
                    }
                    Err(_) => {
                        self.blocked = Some(invocation);
                        Ok(false)
                    }
                }
            }
            HubMessage::StreamInvocation(StreamInvocation {
                invocation_id,
                target,
                stream_ids,
                ..
            }) => {
                let error = self
                    .reject_invocation(&target, &stream_ids, true)
                    .unwrap_or_else(|| {
                        format!(
                            "The client attempted to invoke the non-streaming '{target}' method with a streaming invocation."
                        )
                    });
                self.direct.push(error_completion(invocation_id, error));
                Ok(true)
            }
            HubMessage::Close(_) => Err(End::ClientGone),
            // Pings only reset the client timeout, done on receipt. Completions, stream items
            // and cancellations refer to features this hub does not offer (client results,
            // upload streams, server streams); like .NET, unknown ids are ignored. Ack and
            // Sequence mean nothing without stateful reconnect.
            HubMessage::Ping
            | HubMessage::Completion(_)
            | HubMessage::StreamItem(_)
            | HubMessage::CancelInvocation(_)
            | HubMessage::Ack { .. }
            | HubMessage::Sequence { .. } => Ok(true),
        }
    }

    /// The error text for an invocation that cannot run at all, if any.
    fn reject_invocation(
        &self,
        target: &str,
        stream_ids: &[String],
        streaming: bool,
    ) -> Option<String> {
        if self.hub.methods.get(target).is_none() {
            return Some(format!("Unknown hub method '{target}'"));
        }
        if !stream_ids.is_empty() && !streaming {
            return Some(format!(
                "Failed to invoke '{target}' due to an error on the server. HubException: Client sent {} stream(s), Hub method expects 0.",
                stream_ids.len()
            ));
        }
        None
    }

    fn start_invocation(&self, invocation: Invocation, permit: OwnedSemaphorePermit) {
        let Some(method) = self.hub.methods.get(&invocation.target) else {
            return;
        };
        let future = method(self.caller.clone(), &invocation.arguments);
        let target = invocation.target;
        let invocation_id = invocation.invocation_id.filter(|id| !id.is_empty());
        let queue_tx = self.queue_tx.clone();
        tokio::spawn(async move {
            let outcome = AssertUnwindSafe(future).catch_unwind().await;
            if let Some(invocation_id) = invocation_id {
                let result = match outcome {
                    Ok(Ok(value)) => CompletionResult::Value(value),
                    Ok(Err(InvocationError::Hub(error))) => {
                        CompletionResult::Error(error.message().to_owned())
                    }
                    Ok(Err(InvocationError::Bind(error))) => CompletionResult::Error(format!(
                        "Failed to invoke '{target}' due to an error on the server. InvalidDataException: {error}"
                    )),
                    Ok(Err(InvocationError::Result(reason))) => {
                        tracing::warn!(%reason, %target, "hub method result not serializable");
                        CompletionResult::Error(unexpected_error(&target))
                    }
                    Err(_) => {
                        tracing::error!(%target, "hub method panicked");
                        CompletionResult::Error(unexpected_error(&target))
                    }
                };
                let completion = HubMessage::Completion(Completion {
                    invocation_id,
                    result,
                    headers: Default::default(),
                });
                // Awaiting here (not try_send) makes a busy connection slow its own invocations
                // down instead of being closed for its own replies.
                let _ = queue_tx
                    .send(Outbound::Message(SharedMessage::new(completion)))
                    .await;
            }
            drop(permit);
        });
    }

    /// Writes a queued item plus whatever else is already waiting, as one frame.
    async fn write_queued(&mut self, first: Outbound) -> Result<(), End> {
        let limit = self.hub.options.max_coalesced_bytes;
        let mut batch = Vec::new();
        let mut size = 0;
        let mut close = None;
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Outbound::Message(message) => {
                    if let Some(bytes) = message.encoded(self.protocol) {
                        size += bytes.len();
                        batch.push(Outgoing {
                            bytes: bytes.clone(),
                            trackable: is_trackable(message.message()),
                        });
                    }
                }
                Outbound::Close(message) => {
                    close = Some(*message);
                    break;
                }
            }
            if size < limit {
                next = self.queue_rx.try_recv().ok();
            }
        }
        self.write(batch).await?;
        match close {
            Some(close) => Err(End::Close(close)),
            None => Ok(()),
        }
    }

    /// Sends whole encoded messages as one frame; trackable ones are kept for replay first,
    /// so a lost socket can be made good on the next one.
    async fn write(&mut self, parts: Vec<Outgoing>) -> Result<(), End> {
        if let Some(state) = self.stateful.as_mut() {
            for part in parts.iter().filter(|part| part.trackable) {
                state.replay.record(part.bytes.clone());
            }
        }
        let bytes = match parts.len() {
            0 => return Ok(()),
            1 => parts
                .into_iter()
                .next()
                .map(|part| part.bytes)
                .unwrap_or_default(),
            _ => {
                let mut joined =
                    BytesMut::with_capacity(parts.iter().map(|part| part.bytes.len()).sum());
                for part in &parts {
                    joined.extend_from_slice(&part.bytes);
                }
                joined.freeze()
            }
        };
        self.send_frame(bytes).await
    }

    /// Sends one frame, giving up after the send timeout; a stateful connection whose socket
    /// fails waits for the client to come back instead.
    async fn send_frame(&mut self, bytes: Bytes) -> Result<(), End> {
        let frame = frame_for(self.protocol, bytes);
        let send_timeout = self.hub.options.send_timeout;
        let sent = tokio::select! {
            sent = timeout(send_timeout, self.socket.send(frame)) => sent,
            () = self.abort.notified() => return Err(End::Abort),
        };
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                tracing::debug!(%error, "send failed");
                // What was just written is in the replay buffer; resuming replays it.
                Box::pin(self.resume_after_loss()).await
            }
            Err(_) => {
                tracing::debug!(connection_id = %self.caller.connection_id, "send timed out");
                Err(End::Abort)
            }
        }
    }
}

// Close.

/// What `end` still owes the client: a Close message and the close handshake, only the
/// close handshake, or nothing.
async fn farewell<S: Socket>(
    options: &HubOptions,
    protocol: HubProtocol,
    socket: &mut S,
    end: End,
) {
    match end {
        End::Close(message) => {
            let mut out = Vec::new();
            if protocol
                .encode(&HubMessage::Close(message), &mut out)
                .is_ok()
            {
                let frame = frame_for(protocol, Bytes::from(out));
                let _ = timeout(options.send_timeout, socket.send(frame)).await;
            }
            close_socket(socket).await;
        }
        End::ClientGone => close_socket(socket).await,
        End::Abort => {}
    }
}

/// How long to wait for the client's close frame after ours (ASP.NET Core's `CloseTimeout`).
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends a normal close frame and waits briefly for the client's, so it sees a clean close.
async fn close_socket<S: Socket>(socket: &mut S) {
    let frame = Message::Close(Some(CloseFrame {
        code: close_code::NORMAL,
        reason: Utf8Bytes::default(),
    }));
    let _ = timeout(CLOSE_TIMEOUT, async {
        if socket.send(frame).await.is_ok() {
            while let Some(Ok(message)) = socket.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        }
    })
    .await;
}

// Helpers.

fn text_frame(bytes: Bytes) -> Message {
    match Utf8Bytes::try_from(bytes) {
        Ok(text) => Message::Text(text),
        // Our JSON encoder only writes UTF-8; should that ever break, a binary frame still
        // carries the bytes rather than dropping them.
        Err(error) => {
            tracing::error!(%error, "encoded JSON is not UTF-8");
            Message::Binary(Bytes::new())
        }
    }
}

/// JSON travels in Text frames and MessagePack in Binary ones: the JS client rejects the other.
fn frame_for(protocol: HubProtocol, bytes: Bytes) -> Message {
    match protocol.transfer_format() {
        TransferFormat::Text => text_frame(bytes),
        TransferFormat::Binary => Message::Binary(bytes),
    }
}

/// The next tick of a timer that may not exist (then never).
async fn tick(timer: Option<&mut tokio::time::Interval>) {
    match timer {
        Some(timer) => {
            timer.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The next replacement socket, or never when the connection is not stateful.
async fn recv_socket<S>(state: Option<&mut Stateful<S>>) -> Option<S> {
    match state {
        Some(state) => state.sockets.recv().await,
        None => std::future::pending().await,
    }
}

fn unexpected_error(target: &str) -> String {
    format!("An unexpected error occurred invoking '{target}' on the server.")
}

fn error_completion(invocation_id: String, error: String) -> HubMessage {
    HubMessage::Completion(Completion {
        invocation_id,
        result: CompletionResult::Error(error),
        headers: Default::default(),
    })
}
