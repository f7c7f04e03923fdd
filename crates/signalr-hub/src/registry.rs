//! The registry of live connections, their groups and users (the "lifetime manager").
//!
//! One `std` lock guards three maps that index each other both ways: connection → its entry
//! (queue, user, groups), group → members, user → connections. A disconnect walks only the
//! connection's own groups, so it costs the same whether the hub has 10 groups or 100,000.
//! No `.await` happens under the lock: deliveries use `try_send` on each connection's bounded
//! queue, and a queue that is full marks its connection as too slow and wakes it to close.
//!
//! A second `std` lock guards the connection tokens: the ones issued at negotiate, and, with a
//! signing key, the ones other nodes issued that a transport request brought here
//! ([`Registry::adopt`]), plus the signed tokens already used here, so that they cannot be
//! replayed before they expire (see the `token` module).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocket;

use crate::connection::ResumeSlot;
use crate::http_transport::HttpChannel;
use crate::ids::{ConnectionId, ConnectionToken, UserId};
use crate::outbound::{ConnectionSender, Outbound, SharedMessage};
use crate::token::{TokenSigner, unix_now_ms};

#[derive(Debug)]
struct Entry {
    sender: ConnectionSender,
    user: Option<UserId>,
    groups: HashSet<Arc<str>>,
}

#[derive(Debug, Default)]
struct Index {
    connections: HashMap<ConnectionId, Entry>,
    groups: HashMap<Arc<str>, HashSet<ConnectionId>>,
    users: HashMap<UserId, HashSet<ConnectionId>>,
}

/// Where a connection token stands: which transport, if any, serves it.
#[derive(Clone, Debug)]
pub(crate) enum TokenState {
    /// Negotiated, no transport yet.
    Negotiated,
    /// A WebSocket serves it; with a slot when the client may resume on a new one.
    WebSocket(Option<Arc<ResumeSlot<WebSocket>>>),
    /// Server-Sent Events or Long Polling serve it, through this channel.
    Http(Arc<HttpChannel>),
}

#[derive(Debug)]
struct TokenEntry {
    connection_id: ConnectionId,
    /// The client asked for stateful reconnect at negotiate, and the hub allows it.
    stateful: bool,
    state: TokenState,
    issued: Instant,
    /// How long after `issued` the token may still be claimed by a first transport.
    window: Duration,
    /// A signed token's expiry (Unix ms): once released, it is remembered as spent until then.
    signed_expiry: Option<u64>,
    /// Bytes POSTed before any transport claimed the token (signalrcore's long polling sends
    /// its handshake before its first poll); the transport's connection reads them first.
    early_input: Vec<u8>,
}

#[derive(Debug)]
struct Tokens {
    by_token: HashMap<ConnectionToken, TokenEntry>,
    /// Signed tokens whose connection was here and is gone, with their expiry (Unix ms): a
    /// replay must not re-create the connection. Expired ones are swept, so the lifetime
    /// bounds this map.
    spent: HashMap<ConnectionToken, u64>,
    last_sweep: Instant,
}

impl Tokens {
    /// Drops abandoned negotiations and spent tokens that have expired anyway. They hold only
    /// map entries; sweeping at most once a second on the token paths bounds them without a
    /// background task.
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) < Duration::from_secs(1) {
            return;
        }
        self.by_token.retain(|_, entry| {
            !matches!(entry.state, TokenState::Negotiated)
                || now.duration_since(entry.issued) < entry.window
        });
        if !self.spent.is_empty() {
            let now_ms = unix_now_ms();
            self.spent.retain(|_, expiry| *expiry > now_ms);
        }
        self.last_sweep = now;
    }
}

/// What became of a POST body for a token that has no transport yet.
#[derive(Debug)]
pub(crate) enum EarlyInput {
    /// Kept for the transport that will claim the token.
    Kept,
    /// Keeping it would exceed the limit.
    TooLarge,
    /// The token is not waiting for a transport: here is where it stands (`None`: unknown).
    NotWaiting(Option<TokenState>),
}

/// Why a transport request's token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimError {
    /// Never issued, expired, or already gone.
    Unknown,
    /// Another transport already serves this connection.
    AlreadyActive,
}

/// Every live connection of one hub, indexed by id, group and user; and the issued tokens.
#[derive(Debug)]
pub(crate) struct Registry {
    index: RwLock<Index>,
    tokens: Mutex<Tokens>,
    disconnect_timeout: Duration,
    /// With a key, negotiate signs its tokens and other nodes' tokens are accepted.
    signer: Option<TokenSigner>,
}

impl Registry {
    /// A registry whose negotiated tokens wait `disconnect_timeout` for their transport, or,
    /// with a `signer`, the signer's lifetime.
    pub(crate) fn new(disconnect_timeout: Duration, signer: Option<TokenSigner>) -> Self {
        Self {
            index: RwLock::default(),
            tokens: Mutex::new(Tokens {
                by_token: HashMap::new(),
                spent: HashMap::new(),
                last_sweep: Instant::now(),
            }),
            disconnect_timeout,
            signer,
        }
    }

    // A panic while holding a lock leaves the maps consistent (every mutation is a single
    // insert/remove), so a poisoned lock is still safe to use.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issues a connection id and token for a negotiate request. Negotiate version 0 has no
    /// separate token: the connection id is the token. With a signing key the token is signed
    /// (see the `token` module); otherwise it is random.
    pub(crate) fn negotiate(
        &self,
        separate_token: bool,
        stateful: bool,
    ) -> (ConnectionId, ConnectionToken) {
        // Signing happens before taking the lock.
        let (connection_id, token, window, signed_expiry) = match &self.signer {
            None => {
                let connection_id = ConnectionId::random();
                let token = if separate_token {
                    ConnectionToken::random()
                } else {
                    ConnectionToken::from(connection_id.as_str())
                };
                (connection_id, token, self.disconnect_timeout, None)
            }
            Some(signer) => {
                let issued = signer.issue(stateful, !separate_token);
                (
                    issued.connection_id,
                    issued.token,
                    signer.lifetime,
                    Some(issued.expires_at_ms),
                )
            }
        };
        let now = Instant::now();
        let mut tokens = self.tokens();
        tokens.sweep(now);
        tokens.by_token.insert(
            token.clone(),
            TokenEntry {
                connection_id: connection_id.clone(),
                stateful,
                state: TokenState::Negotiated,
                issued: now,
                window,
                signed_expiry,
                early_input: Vec::new(),
            },
        );
        (connection_id, token)
    }

    /// A transport request brought `token`. If the registry does not know it, but it is signed
    /// with this hub's key, unexpired and not spent here, it becomes known as if negotiated
    /// here: with the connection id and stateful flag it carries (stateful only if this hub
    /// `allow_stateful`), waiting for a transport until the token expires. Otherwise nothing
    /// changes, and the request goes on to find the token known or unknown as usual.
    pub(crate) fn adopt(&self, token: &ConnectionToken, allow_stateful: bool) {
        let Some(signer) = &self.signer else {
            return;
        };
        if self.tokens().by_token.contains_key(token) {
            return;
        }
        // Checking the tag (client input) happens outside the lock.
        let now_ms = unix_now_ms();
        let claims = match signer.verify(token, now_ms) {
            Ok(claims) => claims,
            Err(error) => {
                tracing::debug!(%error, "connection token refused");
                return;
            }
        };
        let connection_id = if claims.id_is_token {
            ConnectionId::from(token.as_str())
        } else {
            claims.id
        };
        let now = Instant::now();
        let mut tokens = self.tokens();
        tokens.sweep(now);
        if tokens
            .spent
            .get(token)
            .is_some_and(|expiry| *expiry > now_ms)
        {
            tracing::debug!(%connection_id, "connection token already used on this node");
            return;
        }
        tokens.by_token.entry(token.clone()).or_insert_with(|| {
            tracing::debug!(%connection_id, "signed connection token taken in");
            TokenEntry {
                connection_id,
                stateful: claims.stateful && allow_stateful,
                state: TokenState::Negotiated,
                issued: now,
                window: Duration::from_millis(claims.expires_at_ms.saturating_sub(now_ms)),
                signed_expiry: Some(claims.expires_at_ms),
                early_input: Vec::new(),
            }
        });
    }

    /// Marks a negotiated token as served by a transport and returns its connection id, with
    /// the bytes POSTed for it before (see [`Registry::keep_early_input`]).
    pub(crate) fn claim(
        &self,
        token: &ConnectionToken,
        transport: TokenState,
    ) -> Result<(ConnectionId, Vec<u8>), ClaimError> {
        let mut tokens = self.tokens();
        let Some(entry) = tokens.by_token.get_mut(token) else {
            return Err(ClaimError::Unknown);
        };
        match entry.state {
            TokenState::WebSocket(_) | TokenState::Http(_) => Err(ClaimError::AlreadyActive),
            TokenState::Negotiated if entry.issued.elapsed() >= entry.window => {
                tokens.by_token.remove(token);
                Err(ClaimError::Unknown)
            }
            TokenState::Negotiated => {
                entry.state = transport;
                Ok((
                    entry.connection_id.clone(),
                    std::mem::take(&mut entry.early_input),
                ))
            }
        }
    }

    /// A POST arrived for `token`. While no transport serves it yet, its body is kept (up to
    /// `limit` bytes in all) for the transport that claims it, as ASP.NET Core writes such a
    /// body into the connection's pipe, which exists from negotiate on. Otherwise says where
    /// the token stands.
    pub(crate) fn keep_early_input(
        &self,
        token: &ConnectionToken,
        body: &[u8],
        limit: usize,
    ) -> EarlyInput {
        let mut tokens = self.tokens();
        let Some(entry) = tokens.by_token.get_mut(token) else {
            return EarlyInput::NotWaiting(None);
        };
        match entry.state {
            TokenState::Negotiated if entry.issued.elapsed() >= entry.window => {
                tokens.by_token.remove(token);
                EarlyInput::NotWaiting(None)
            }
            TokenState::Negotiated if entry.early_input.len() + body.len() > limit => {
                EarlyInput::TooLarge
            }
            TokenState::Negotiated => {
                entry.early_input.extend_from_slice(body);
                EarlyInput::Kept
            }
            ref state => EarlyInput::NotWaiting(Some(state.clone())),
        }
    }

    /// Whether the connection of `token` negotiated stateful reconnect.
    pub(crate) fn negotiated_stateful(&self, token: &ConnectionToken) -> bool {
        self.tokens()
            .by_token
            .get(token)
            .is_some_and(|entry| entry.stateful)
    }

    /// Where `token` stands, if it is known.
    pub(crate) fn token_state(&self, token: &ConnectionToken) -> Option<TokenState> {
        self.tokens()
            .by_token
            .get(token)
            .map(|entry| entry.state.clone())
    }

    /// Adds a connection whose handshake succeeded. Dropping the guard removes it again.
    pub(crate) fn register(
        self: &Arc<Self>,
        connection_id: ConnectionId,
        token: Option<ConnectionToken>,
        user: Option<UserId>,
        sender: ConnectionSender,
    ) -> ConnectionGuard {
        let mut index = self.write();
        if let Some(user) = &user {
            index
                .users
                .entry(user.clone())
                .or_default()
                .insert(connection_id.clone());
        }
        index.connections.insert(
            connection_id.clone(),
            Entry {
                sender,
                user,
                groups: HashSet::new(),
            },
        );
        ConnectionGuard {
            registry: Arc::clone(self),
            connection_id,
            token,
        }
    }

    fn unregister(&self, connection_id: &ConnectionId) {
        let mut index = self.write();
        let Some(entry) = index.connections.remove(connection_id) else {
            return;
        };
        for group in entry.groups {
            if let Some(members) = index.groups.get_mut(&group) {
                members.remove(connection_id);
                if members.is_empty() {
                    index.groups.remove(&group);
                }
            }
        }
        if let Some(user) = entry.user
            && let Some(connections) = index.users.get_mut(&user)
        {
            connections.remove(connection_id);
            if connections.is_empty() {
                index.users.remove(&user);
            }
        }
    }

    /// Forgets a token whose connection is over. A signed one is remembered as spent until
    /// it expires, so a replay cannot re-create its connection here.
    fn release_token(&self, token: &ConnectionToken) {
        let mut tokens = self.tokens();
        if let Some(TokenEntry {
            signed_expiry: Some(expiry),
            ..
        }) = tokens.by_token.remove(token)
        {
            tokens.sweep(Instant::now());
            tokens.spent.insert(token.clone(), expiry);
        }
    }

    /// Adds a connection to a group; `false` if the connection is unknown.
    pub(crate) fn add_to_group(&self, connection_id: &ConnectionId, group: &str) -> bool {
        let mut index = self.write();
        let Index {
            connections,
            groups,
            ..
        } = &mut *index;
        let Some(entry) = connections.get_mut(connection_id) else {
            return false;
        };
        let name: Arc<str> = match groups.get_key_value(group) {
            Some((name, _)) => Arc::clone(name),
            None => group.into(),
        };
        entry.groups.insert(Arc::clone(&name));
        groups
            .entry(name)
            .or_default()
            .insert(connection_id.clone());
        true
    }

    /// Removes a connection from a group; a no-op when it was not a member.
    pub(crate) fn remove_from_group(&self, connection_id: &ConnectionId, group: &str) {
        let mut index = self.write();
        if let Some(entry) = index.connections.get_mut(connection_id) {
            entry.groups.remove(group);
        }
        if let Some(members) = index.groups.get_mut(group) {
            members.remove(connection_id);
            if members.is_empty() {
                index.groups.remove(group);
            }
        }
    }

    /// Queues `item` for one connection; `true` if it was queued.
    pub(crate) fn send_to_connection(&self, connection_id: &ConnectionId, item: Outbound) -> bool {
        let index = self.read();
        index
            .connections
            .get(connection_id)
            .is_some_and(|entry| entry.sender.deliver(item))
    }

    /// Queues a message for every member of `group`; returns how many queued it.
    pub(crate) fn send_to_group(&self, group: &str, message: &Arc<SharedMessage>) -> usize {
        let index = self.read();
        index
            .groups
            .get(group)
            .map_or(0, |members| deliver_all(&index, members, message))
    }

    /// Queues a message for every connection of `user`; returns how many queued it.
    pub(crate) fn send_to_user(&self, user: &str, message: &Arc<SharedMessage>) -> usize {
        let index = self.read();
        index
            .users
            .get(user)
            .map_or(0, |connections| deliver_all(&index, connections, message))
    }

    /// Queues a message for every connection; returns how many queued it.
    pub(crate) fn send_to_all(&self, message: &Arc<SharedMessage>) -> usize {
        let index = self.read();
        index
            .connections
            .values()
            .filter(|entry| entry.sender.deliver(Outbound::Message(Arc::clone(message))))
            .count()
    }

    /// How many connections are live.
    pub(crate) fn connection_count(&self) -> usize {
        self.read().connections.len()
    }

    /// How many groups have at least one member.
    pub(crate) fn group_count(&self) -> usize {
        self.read().groups.len()
    }

    /// The groups a connection is in (for tests and diagnostics).
    pub(crate) fn groups_of(&self, connection_id: &ConnectionId) -> Vec<String> {
        let index = self.read();
        let mut groups: Vec<String> = index
            .connections
            .get(connection_id)
            .map(|entry| entry.groups.iter().map(|g| g.to_string()).collect())
            .unwrap_or_default();
        groups.sort();
        groups
    }
}

fn deliver_all(
    index: &Index,
    members: &HashSet<ConnectionId>,
    message: &Arc<SharedMessage>,
) -> usize {
    members
        .iter()
        .filter_map(|id| index.connections.get(id))
        .filter(|entry| entry.sender.deliver(Outbound::Message(Arc::clone(message))))
        .count()
}

/// Keeps a connection registered; dropping it removes the connection, its group memberships
/// and its token, whatever way the connection ended.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    registry: Arc<Registry>,
    connection_id: ConnectionId,
    token: Option<ConnectionToken>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.registry.unregister(&self.connection_id);
        if let Some(token) = &self.token {
            self.registry.release_token(token);
        }
    }
}

/// Releases a claimed token if the connection ends before it is registered.
#[derive(Debug)]
pub(crate) struct TokenGuard {
    pub(crate) registry: Arc<Registry>,
    pub(crate) token: Option<ConnectionToken>,
}

impl TokenGuard {
    /// Hands the token over to the connection guard.
    pub(crate) fn take(mut self) -> Option<ConnectionToken> {
        self.token.take()
    }
}

impl Drop for TokenGuard {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            self.registry.release_token(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use signalr_protocol::HubMessage;
    use tokio::sync::{Notify, mpsc};

    use super::*;

    fn sender(capacity: usize) -> (ConnectionSender, mpsc::Receiver<Outbound>) {
        let (queue_tx, queue_rx) = mpsc::channel(capacity);
        (
            ConnectionSender {
                queue_tx,
                abort: Arc::new(Notify::new()),
            },
            queue_rx,
        )
    }

    fn ping() -> Arc<SharedMessage> {
        SharedMessage::new(HubMessage::Ping)
    }

    #[test]
    fn group_membership_is_indexed_both_ways_and_dropped_on_disconnect() {
        let registry = Arc::new(Registry::new(Duration::from_secs(15), None));
        let (tx, mut rx) = sender(8);
        let id = ConnectionId::from("a");
        let guard = registry.register(id.clone(), None, Some(UserId::from("ana")), tx);
        assert!(registry.add_to_group(&id, "g1"));
        assert!(registry.add_to_group(&id, "g1"));
        assert!(registry.add_to_group(&id, "G1"));
        assert_eq!(registry.groups_of(&id), ["G1", "g1"]);
        assert_eq!(registry.send_to_group("g1", &ping()), 1);
        assert_eq!(registry.send_to_user("ana", &ping()), 1);
        assert!(rx.try_recv().is_ok());
        drop(guard);
        assert_eq!(registry.connection_count(), 0);
        assert_eq!(registry.group_count(), 0);
        assert_eq!(registry.send_to_group("g1", &ping()), 0);
        assert_eq!(registry.send_to_user("ana", &ping()), 0);
    }

    #[test]
    fn remove_from_group_is_idempotent() {
        let registry = Arc::new(Registry::new(Duration::from_secs(15), None));
        let (tx, _rx) = sender(8);
        let id = ConnectionId::from("a");
        let _guard = registry.register(id.clone(), None, None, tx);
        registry.remove_from_group(&id, "never");
        registry.add_to_group(&id, "g");
        registry.remove_from_group(&id, "g");
        registry.remove_from_group(&id, "g");
        assert_eq!(registry.group_count(), 0);
        assert!(!registry.add_to_group(&ConnectionId::from("ghost"), "g"));
    }

    #[test]
    fn full_queue_rings_the_abort_bell() {
        let registry = Arc::new(Registry::new(Duration::from_secs(15), None));
        let (tx, _rx) = sender(1);
        let abort = Arc::clone(&tx.abort);
        let id = ConnectionId::from("slow");
        let _guard = registry.register(id.clone(), None, None, tx);
        registry.add_to_group(&id, "g");
        assert_eq!(registry.send_to_group("g", &ping()), 1);
        assert_eq!(registry.send_to_group("g", &ping()), 0);
        let rang = abort.notified();
        tokio_test_poll_ready(rang);
    }

    // `Notify` keeps one permit when nobody waits, so a later `notified()` completes at once.
    fn tokio_test_poll_ready(fut: tokio::sync::futures::Notified<'_>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(100), fut)
                .await
                .expect("abort was signalled");
        });
    }

    #[test]
    fn tokens_are_claimed_once_and_released() {
        let registry = Arc::new(Registry::new(Duration::from_secs(15), None));
        let (id, token) = registry.negotiate(true, false);
        assert!(matches!(
            registry.token_state(&token),
            Some(TokenState::Negotiated)
        ));
        assert_eq!(
            registry.claim(&token, TokenState::WebSocket(None)),
            Ok((id, Vec::new()))
        );
        assert_eq!(
            registry.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::AlreadyActive)
        );
        registry.release_token(&token);
        assert_eq!(
            registry.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::Unknown)
        );
        assert_eq!(
            registry.claim(&ConnectionToken::from("nope"), TokenState::WebSocket(None)),
            Err(ClaimError::Unknown)
        );
    }

    #[test]
    fn expired_negotiations_cannot_be_claimed() {
        let registry = Arc::new(Registry::new(Duration::ZERO, None));
        let (_, token) = registry.negotiate(true, false);
        assert_eq!(
            registry.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::Unknown)
        );
    }

    fn signed(secret: &str, lifetime: Duration) -> Arc<Registry> {
        Arc::new(Registry::new(
            Duration::from_secs(15),
            Some(TokenSigner {
                key: crate::token::ConnectionTokenKey::new(secret),
                lifetime,
            }),
        ))
    }

    #[test]
    fn a_signed_token_opens_on_another_registry_with_the_same_key() {
        let a = signed("cluster", Duration::from_secs(30));
        let b = signed("cluster", Duration::from_secs(30));
        let (id, token) = a.negotiate(true, true);
        assert_ne!(id.as_str(), token.as_str());
        assert!(b.token_state(&token).is_none());
        b.adopt(&token, true);
        assert!(b.negotiated_stateful(&token));
        assert_eq!(
            b.claim(&token, TokenState::WebSocket(None)),
            Ok((id.clone(), Vec::new()))
        );
        // Known now: the registry's rules, not the signature, decide.
        b.adopt(&token, true);
        assert_eq!(
            b.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::AlreadyActive)
        );
        // Used and released: a replay within the lifetime is refused here.
        b.release_token(&token);
        b.adopt(&token, true);
        assert!(b.token_state(&token).is_none());
        assert_eq!(
            b.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::Unknown)
        );
    }

    #[test]
    fn a_locally_issued_signed_token_is_spent_once_released() {
        let a = signed("cluster", Duration::from_secs(30));
        let (_, token) = a.negotiate(true, false);
        assert!(a.claim(&token, TokenState::WebSocket(None)).is_ok());
        a.release_token(&token);
        a.adopt(&token, true);
        assert_eq!(
            a.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::Unknown)
        );
    }

    #[test]
    fn adopted_tokens_follow_the_local_stateful_setting_and_version_0() {
        let a = signed("cluster", Duration::from_secs(30));
        let b = signed("cluster", Duration::from_secs(30));
        let (_, token) = a.negotiate(true, true);
        b.adopt(&token, false);
        assert!(!b.negotiated_stateful(&token));
        // Negotiate version 0: the connection id is the token, on every node.
        let (id, token) = a.negotiate(false, false);
        assert_eq!(id.as_str(), token.as_str());
        b.adopt(&token, true);
        assert_eq!(
            b.claim(&token, TokenState::WebSocket(None)),
            Ok((id, Vec::new()))
        );
    }

    #[test]
    fn other_keys_expired_and_random_tokens_are_not_adopted() {
        let a = signed("cluster", Duration::from_secs(30));
        let other = signed("another cluster", Duration::from_secs(30));
        let (_, token) = a.negotiate(true, false);
        other.adopt(&token, true);
        assert!(other.token_state(&token).is_none());
        let short = signed("cluster", Duration::ZERO);
        let (_, expired) = short.negotiate(true, false);
        a.adopt(&expired, true);
        assert!(a.token_state(&expired).is_none());
        let plain = Arc::new(Registry::new(Duration::from_secs(15), None));
        let (_, random) = plain.negotiate(true, false);
        a.adopt(&random, true);
        assert!(a.token_state(&random).is_none());
        // Without a key nothing is adopted, signed or not.
        plain.adopt(&token, true);
        assert!(plain.token_state(&token).is_none());
    }

    #[test]
    fn bytes_posted_before_the_transport_go_to_the_claim() {
        let registry = Arc::new(Registry::new(Duration::from_secs(15), None));
        let (id, token) = registry.negotiate(false, false);
        assert!(matches!(
            registry.keep_early_input(&token, b"ab", 4),
            EarlyInput::Kept
        ));
        assert!(matches!(
            registry.keep_early_input(&token, b"cde", 4),
            EarlyInput::TooLarge
        ));
        assert!(matches!(
            registry.keep_early_input(&token, b"cd", 4),
            EarlyInput::Kept
        ));
        assert_eq!(
            registry.claim(&token, TokenState::WebSocket(None)),
            Ok((id, b"abcd".to_vec()))
        );
        assert!(matches!(
            registry.keep_early_input(&token, b"x", 4),
            EarlyInput::NotWaiting(Some(TokenState::WebSocket(None)))
        ));
        assert!(matches!(
            registry.keep_early_input(&ConnectionToken::from("nope"), b"x", 4),
            EarlyInput::NotWaiting(None)
        ));
    }
}
