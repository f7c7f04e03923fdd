//! Tunables of a hub, with ASP.NET Core's defaults, and the names of the transports.

use std::time::Duration;

use crate::token::ConnectionTokenKey;

/// Timeouts, limits and buffer sizes of one hub.
///
/// The defaults match ASP.NET Core SignalR's (`HubOptions`, `HttpConnectionDispatcherOptions`),
/// so the official clients' own defaults (30 s server timeout, 15 s keep-alive) fit.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// The server pings when it has sent nothing for this long.
    pub keep_alive_interval: Duration,
    /// A connection whose client has sent nothing for this long is closed.
    pub client_timeout: Duration,
    /// How long a new connection may take to complete the handshake.
    pub handshake_timeout: Duration,
    /// Largest hub message accepted from a client, in bytes (framing included).
    pub max_message_size: usize,
    /// How many outgoing messages may wait for one connection before it counts as too slow and
    /// is closed. This bounds the memory a slow client can make the server hold.
    pub max_pending_messages: usize,
    /// Longest time one write to a socket may take before the connection is closed.
    pub send_timeout: Duration,
    /// How long a negotiated connection may wait for its transport before its token expires
    /// (with a [`connection_token_key`](Self::connection_token_key):
    /// [`connection_token_lifetime`](Self::connection_token_lifetime) instead); also how long a long-polling client may go without polling, and how long a stateful
    /// connection waits for its client to reconnect.
    pub disconnect_timeout: Duration,
    /// How many invocations of one connection may run at once (.NET: 1).
    pub max_parallel_invocations: usize,
    /// Outgoing messages waiting together are written as one frame up to this many bytes.
    pub max_coalesced_bytes: usize,
    /// Origins allowed to connect (the `Origin` header); `None` allows every origin.
    pub allowed_origins: Option<Vec<String>>,
    /// Add the cause to the error text of Close messages (like .NET's `EnableDetailedErrors`).
    pub detailed_errors: bool,
    /// Which transports clients may use.
    pub transports: Transports,
    /// How long a long poll waits for data before answering empty (the client polls again).
    pub long_poll_timeout: Duration,
    /// Offer stateful reconnect to clients that ask for it at negotiate (WebSockets only).
    pub allow_stateful_reconnect: bool,
    /// Unacknowledged bytes one stateful connection keeps for replay; beyond it, sending
    /// waits for the client's acknowledgements.
    pub stateful_reconnect_buffer_size: usize,
    /// How often a stateful connection acknowledges what it received.
    pub stateful_reconnect_ack_interval: Duration,
    /// Replay bytes all connections of the hub may hold together; a connection that loses its
    /// socket while the hub is over this cap is closed instead of waiting for the client.
    pub max_total_replay_bytes: usize,
    /// Secret shared by every node of a cluster. `None` (the default): connection tokens are
    /// random and known only to the node that issued them, so the load balancer must send a
    /// client's requests back to the node it negotiated with. `Some`: tokens are signed
    /// (HMAC-SHA256) and any node with the same key opens the WebSocket of a connection
    /// negotiated elsewhere; Server-Sent Events and Long Polling still need sticky sessions.
    /// Details in the `token` module docs.
    pub connection_token_key: Option<ConnectionTokenKey>,
    /// With a [`connection_token_key`](Self::connection_token_key): how long after negotiate a
    /// token may open its first transport, on this node or another (default 30 s: twice the
    /// default `disconnect_timeout`, with room for clock skew between nodes). A running
    /// or resumable connection is not affected. Also how long a node remembers a used token to
    /// refuse replays, so it bounds that memory.
    pub connection_token_lifetime: Duration,
    /// Connections one user ([`Principal::user_id`](crate::Principal)) may hold at once on
    /// this node; the next transport request is answered 429. `None` (the default, as in
    /// ASP.NET Core): no cap. Anonymous connections are not counted.
    pub max_connections_per_user: Option<usize>,
    /// Negotiations waiting for their first transport, all users together; beyond it negotiate
    /// answers 503. Each waits at most `disconnect_timeout` (or the token lifetime), so this
    /// and that bound the memory negotiations hold however fast clients negotiate.
    pub max_pending_negotiations: usize,
    /// Negotiations one user may have waiting for their first transport; beyond it negotiate
    /// answers 429 until some are claimed or expire. Anonymous negotiations count only in
    /// [`max_pending_negotiations`](Self::max_pending_negotiations).
    pub max_pending_negotiations_per_user: usize,
}

/// The transports a hub offers, listed in negotiate in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transports {
    /// WebSockets (text and binary).
    pub web_sockets: bool,
    /// Server-Sent Events (text only).
    pub server_sent_events: bool,
    /// Long Polling (text and binary).
    pub long_polling: bool,
}

/// Which transport a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransportKind {
    /// One WebSocket both ways.
    WebSockets,
    /// An event stream down, POSTs up.
    ServerSentEvents,
    /// Polls down, POSTs up.
    LongPolling,
}

impl TransportKind {
    /// The name used in negotiate and error texts.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::WebSockets => "WebSockets",
            Self::ServerSentEvents => "ServerSentEvents",
            Self::LongPolling => "LongPolling",
        }
    }

    /// Whether the transport can carry binary (MessagePack) frames.
    pub(crate) fn supports_binary(self) -> bool {
        self != Self::ServerSentEvents
    }

    /// Long polling has its own liveness signal (the polls): no pings, no client timeout.
    pub(crate) fn has_inherent_keep_alive(self) -> bool {
        self == Self::LongPolling
    }
}

impl Transports {
    /// Whether this hub offers `kind`.
    pub(crate) fn offers(self, kind: TransportKind) -> bool {
        match kind {
            TransportKind::WebSockets => self.web_sockets,
            TransportKind::ServerSentEvents => self.server_sent_events,
            TransportKind::LongPolling => self.long_polling,
        }
    }
}

impl Default for Transports {
    fn default() -> Self {
        Self {
            web_sockets: true,
            server_sent_events: true,
            long_polling: true,
        }
    }
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            keep_alive_interval: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(15),
            max_message_size: 32 * 1024,
            max_pending_messages: 1024,
            send_timeout: Duration::from_secs(10),
            disconnect_timeout: Duration::from_secs(15),
            max_parallel_invocations: 1,
            max_coalesced_bytes: 16 * 1024,
            allowed_origins: None,
            detailed_errors: false,
            transports: Transports::default(),
            long_poll_timeout: Duration::from_secs(90),
            allow_stateful_reconnect: true,
            stateful_reconnect_buffer_size: 100_000,
            stateful_reconnect_ack_interval: Duration::from_secs(1),
            max_total_replay_bytes: 64 * 1024 * 1024,
            connection_token_key: None,
            connection_token_lifetime: Duration::from_secs(30),
            max_connections_per_user: None,
            max_pending_negotiations: 10_000,
            max_pending_negotiations_per_user: 32,
        }
    }
}
