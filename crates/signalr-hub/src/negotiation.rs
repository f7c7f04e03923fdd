//! The negotiate-token table: which connection tokens exist on this node, and which
//! transport, if any, holds each.
//!
//! A token enters at negotiate ([`TokenTable::negotiate`]) or, with a signing key, when a
//! transport request brings one that another node of the cluster signed
//! ([`TokenTable::adopt`]; the rules are in the `token` module). The first transport request
//! claims it ([`TokenTable::claim`]); bytes POSTed before that wait with it
//! ([`TokenTable::keep_early_input`]); a WebSocket whose client may resume leaves a
//! [`ResumeSlot`] with it for the next socket. The claimer holds a [`TokenGuard`], and the
//! token is gone when that guard drops. A signed token is then remembered as spent until it
//! expires, so it cannot be replayed here.
//!
//! One `std` lock guards the table, and nothing awaits under it. Abandoned negotiations and
//! expired spent tokens are swept on the token paths, at most once a second, so no
//! background task is needed. Tokens are the HTTP layer's bookkeeping: the registry of live
//! connections and groups knows a connection only by its public id.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocket;
use tokio::sync::mpsc;

use crate::http_transport::HttpChannel;
use crate::ids::{ConnectionId, ConnectionToken, UserId};
use crate::token::{TokenSigner, unix_now_ms};

/// The door a reconnecting client's new WebSocket comes through, kept with the token.
#[derive(Debug)]
pub(crate) struct ResumeSlot<S> {
    pub(crate) sockets: mpsc::Sender<S>,
    /// Set once the handshake enabled stateful reconnect (version 2 or later).
    pub(crate) enabled: AtomicBool,
}

impl<S> ResumeSlot<S> {
    /// A slot and the receiving end the connection task listens on.
    pub(crate) fn new() -> (Arc<Self>, mpsc::Receiver<S>) {
        let (sockets, receiver) = mpsc::channel(1);
        let slot = Arc::new(Self {
            sockets,
            enabled: AtomicBool::new(false),
        });
        (slot, receiver)
    }
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
    /// Who negotiated it (counted in `pending_by_user` while negotiated); `None` for
    /// anonymous negotiations and tokens adopted from another node.
    user: Option<UserId>,
}

#[derive(Debug)]
struct Tokens {
    by_token: HashMap<ConnectionToken, TokenEntry>,
    /// Signed tokens whose connection was here and is gone, with their expiry (Unix ms): a
    /// replay must not re-create the connection. Expired ones are swept, so the lifetime
    /// bounds this map.
    spent: HashMap<ConnectionToken, u64>,
    last_sweep: Instant,
    /// Entries in the `Negotiated` state, all together and per user.
    pending: usize,
    pending_by_user: HashMap<UserId, usize>,
}

impl Tokens {
    /// Drops abandoned negotiations and spent tokens that have expired anyway. They hold only
    /// map entries; sweeping at most once a second on the token paths bounds them without a
    /// background task.
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) < Duration::from_secs(1) {
            return;
        }
        let Self {
            by_token,
            pending,
            pending_by_user,
            ..
        } = self;
        by_token.retain(|_, entry| {
            let keep = !matches!(entry.state, TokenState::Negotiated)
                || now.duration_since(entry.issued) < entry.window;
            if !keep {
                left_negotiated(pending, pending_by_user, entry.user.as_ref());
            }
            keep
        });
        if !self.spent.is_empty() {
            let now_ms = unix_now_ms();
            self.spent.retain(|_, expiry| *expiry > now_ms);
        }
        self.last_sweep = now;
    }
}

/// One entry left the `Negotiated` state (claimed, expired or removed): uncount it.
fn left_negotiated(
    pending: &mut usize,
    pending_by_user: &mut HashMap<UserId, usize>,
    user: Option<&UserId>,
) {
    *pending = pending.saturating_sub(1);
    if let Some(user) = user
        && let Some(count) = pending_by_user.get_mut(user)
    {
        *count = count.saturating_sub(1);
        if *count == 0 {
            pending_by_user.remove(user);
        }
    }
}

/// Why negotiate issued no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NegotiateRefusal {
    /// This user has `max_pending_negotiations_per_user` waiting already: 429.
    UserBusy,
    /// The node has `max_pending_negotiations` waiting already: 503.
    Full,
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

/// The connection tokens of one hub on this node: issued, adopted, claimed, spent.
#[derive(Debug)]
pub(crate) struct TokenTable {
    tokens: Mutex<Tokens>,
    disconnect_timeout: Duration,
    /// With a key, negotiate signs its tokens and other nodes' tokens are accepted.
    signer: Option<TokenSigner>,
    /// Most entries waiting for their transport, all together and per user.
    max_pending: usize,
    max_pending_per_user: usize,
}

impl TokenTable {
    /// A table whose negotiated tokens wait `disconnect_timeout` for their transport, or,
    /// with a `signer`, the signer's lifetime.
    pub(crate) fn new(disconnect_timeout: Duration, signer: Option<TokenSigner>) -> Self {
        Self {
            tokens: Mutex::new(Tokens {
                by_token: HashMap::new(),
                spent: HashMap::new(),
                last_sweep: Instant::now(),
                pending: 0,
                pending_by_user: HashMap::new(),
            }),
            disconnect_timeout,
            signer,
            max_pending: usize::MAX,
            max_pending_per_user: usize::MAX,
        }
    }

    /// The same table, refusing negotiations beyond `total` waiting for their transport, or
    /// beyond `per_user` of one user.
    pub(crate) fn with_pending_caps(mut self, total: usize, per_user: usize) -> Self {
        self.max_pending = total;
        self.max_pending_per_user = per_user;
        self
    }

    /// Negotiations waiting for their transport now.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.tokens().pending
    }

    // A panic while holding the lock leaves the maps consistent (every mutation is a single
    // insert/remove), so a poisoned lock is still safe to use.
    fn tokens(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A guard that forgets `token` (if any) when it drops.
    pub(crate) fn guard(self: &Arc<Self>, token: Option<ConnectionToken>) -> TokenGuard {
        TokenGuard {
            table: Arc::clone(self),
            token,
        }
    }

    /// Issues a connection id and token for a negotiate request. Negotiate version 0 has no
    /// separate token: the connection id is the token. With a signing key the token is signed
    /// (see the `token` module); otherwise it is random.
    ///
    /// Refused when `user` (or the node) has as many negotiations waiting as its cap allows:
    /// each entry is held until claimed or expired, so the caps bound this table's memory.
    pub(crate) fn negotiate(
        &self,
        separate_token: bool,
        stateful: bool,
        user: Option<&UserId>,
    ) -> Result<(ConnectionId, ConnectionToken), NegotiateRefusal> {
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
        if tokens.pending >= self.max_pending {
            return Err(NegotiateRefusal::Full);
        }
        if let Some(user) = user {
            let count = tokens.pending_by_user.entry(user.clone()).or_insert(0);
            if *count >= self.max_pending_per_user {
                return Err(NegotiateRefusal::UserBusy);
            }
            *count += 1;
        }
        tokens.pending += 1;
        let replaced = tokens.by_token.insert(
            token.clone(),
            TokenEntry {
                connection_id: connection_id.clone(),
                stateful,
                state: TokenState::Negotiated,
                issued: now,
                window,
                signed_expiry,
                early_input: Vec::new(),
                user: user.cloned(),
            },
        );
        // Tokens are random or carry a random id: a repeat is not expected, but stays counted
        // right if it happens.
        if let Some(old) = replaced
            && matches!(old.state, TokenState::Negotiated)
        {
            let Tokens {
                pending,
                pending_by_user,
                ..
            } = &mut *tokens;
            left_negotiated(pending, pending_by_user, old.user.as_ref());
        }
        Ok((connection_id, token))
    }

    /// A transport request brought `token`. If the table does not know it, but it is signed
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
        if tokens.by_token.contains_key(token) {
            return;
        }
        tracing::debug!(%connection_id, "signed connection token taken in");
        tokens.pending += 1;
        tokens.by_token.insert(
            token.clone(),
            TokenEntry {
                connection_id,
                stateful: claims.stateful && allow_stateful,
                state: TokenState::Negotiated,
                issued: now,
                window: Duration::from_millis(claims.expires_at_ms.saturating_sub(now_ms)),
                signed_expiry: Some(claims.expires_at_ms),
                early_input: Vec::new(),
                user: None,
            },
        );
    }

    /// Marks a negotiated token as served by a transport and returns its connection id, with
    /// the bytes POSTed for it before (see [`TokenTable::keep_early_input`]).
    pub(crate) fn claim(
        &self,
        token: &ConnectionToken,
        transport: TokenState,
    ) -> Result<(ConnectionId, Vec<u8>), ClaimError> {
        let mut tokens = self.tokens();
        let Tokens {
            by_token,
            pending,
            pending_by_user,
            ..
        } = &mut *tokens;
        let Some(entry) = by_token.get_mut(token) else {
            return Err(ClaimError::Unknown);
        };
        match entry.state {
            TokenState::WebSocket(_) | TokenState::Http(_) => Err(ClaimError::AlreadyActive),
            TokenState::Negotiated if entry.issued.elapsed() >= entry.window => {
                left_negotiated(pending, pending_by_user, entry.user.as_ref());
                by_token.remove(token);
                Err(ClaimError::Unknown)
            }
            TokenState::Negotiated => {
                left_negotiated(pending, pending_by_user, entry.user.as_ref());
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
        let Tokens {
            by_token,
            pending,
            pending_by_user,
            ..
        } = &mut *tokens;
        let Some(entry) = by_token.get_mut(token) else {
            return EarlyInput::NotWaiting(None);
        };
        match entry.state {
            TokenState::Negotiated if entry.issued.elapsed() >= entry.window => {
                left_negotiated(pending, pending_by_user, entry.user.as_ref());
                by_token.remove(token);
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

    /// Forgets a token whose connection is over. A signed one is remembered as spent until
    /// it expires, so a replay cannot re-create its connection here.
    fn release(&self, token: &ConnectionToken) {
        let mut tokens = self.tokens();
        let Some(entry) = tokens.by_token.remove(token) else {
            return;
        };
        if matches!(entry.state, TokenState::Negotiated) {
            let Tokens {
                pending,
                pending_by_user,
                ..
            } = &mut *tokens;
            left_negotiated(pending, pending_by_user, entry.user.as_ref());
        }
        if let Some(expiry) = entry.signed_expiry {
            tokens.sweep(Instant::now());
            tokens.spent.insert(token.clone(), expiry);
        }
    }
}

/// Holds a claimed token for its transport; dropping it forgets the token, whatever way the
/// connection ended (or if it never got past the handshake).
#[derive(Debug)]
pub(crate) struct TokenGuard {
    table: Arc<TokenTable>,
    token: Option<ConnectionToken>,
}

impl Drop for TokenGuard {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            self.table.release(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_claimed_once_and_released() {
        let table = Arc::new(TokenTable::new(Duration::from_secs(15), None));
        let (id, token) = table.negotiate(true, false, None).expect("under the caps");
        assert!(matches!(
            table.token_state(&token),
            Some(TokenState::Negotiated)
        ));
        assert_eq!(
            table.claim(&token, TokenState::WebSocket(None)),
            Ok((id, Vec::new()))
        );
        assert_eq!(
            table.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::AlreadyActive)
        );
        table.release(&token);
        assert_eq!(
            table.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::Unknown)
        );
        assert_eq!(
            table.claim(&ConnectionToken::from("nope"), TokenState::WebSocket(None)),
            Err(ClaimError::Unknown)
        );
    }

    #[test]
    fn expired_negotiations_cannot_be_claimed() {
        let table = Arc::new(TokenTable::new(Duration::ZERO, None));
        let (_, token) = table.negotiate(true, false, None).expect("under the caps");
        assert_eq!(
            table.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::Unknown)
        );
    }

    fn signed(secret: &str, lifetime: Duration) -> Arc<TokenTable> {
        Arc::new(TokenTable::new(
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
        let (id, token) = a.negotiate(true, true, None).expect("under the caps");
        assert_ne!(id.as_str(), token.as_str());
        assert!(b.token_state(&token).is_none());
        b.adopt(&token, true);
        assert!(b.negotiated_stateful(&token));
        assert_eq!(
            b.claim(&token, TokenState::WebSocket(None)),
            Ok((id.clone(), Vec::new()))
        );
        // Known now: the table's rules, not the signature, decide.
        b.adopt(&token, true);
        assert_eq!(
            b.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::AlreadyActive)
        );
        // Used and released: a replay within the lifetime is refused here.
        b.release(&token);
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
        let (_, token) = a.negotiate(true, false, None).expect("under the caps");
        assert!(a.claim(&token, TokenState::WebSocket(None)).is_ok());
        a.release(&token);
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
        let (_, token) = a.negotiate(true, true, None).expect("under the caps");
        b.adopt(&token, false);
        assert!(!b.negotiated_stateful(&token));
        // Negotiate version 0: the connection id is the token, on every node.
        let (id, token) = a.negotiate(false, false, None).expect("under the caps");
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
        let (_, token) = a.negotiate(true, false, None).expect("under the caps");
        other.adopt(&token, true);
        assert!(other.token_state(&token).is_none());
        let short = signed("cluster", Duration::ZERO);
        let (_, expired) = short.negotiate(true, false, None).expect("under the caps");
        a.adopt(&expired, true);
        assert!(a.token_state(&expired).is_none());
        let plain = Arc::new(TokenTable::new(Duration::from_secs(15), None));
        let (_, random) = plain.negotiate(true, false, None).expect("under the caps");
        a.adopt(&random, true);
        assert!(a.token_state(&random).is_none());
        // Without a key nothing is adopted, signed or not.
        plain.adopt(&token, true);
        assert!(plain.token_state(&token).is_none());
    }

    #[test]
    fn pending_negotiations_are_capped_per_user_and_in_all() {
        let table =
            Arc::new(TokenTable::new(Duration::from_secs(15), None).with_pending_caps(3, 2));
        let ana = UserId::from("ana");
        let (_, first) = table.negotiate(true, false, Some(&ana)).expect("1st");
        table.negotiate(true, false, Some(&ana)).expect("2nd");
        assert_eq!(
            table.negotiate(true, false, Some(&ana)),
            Err(NegotiateRefusal::UserBusy)
        );
        // Claiming one frees a place in the user's share.
        assert!(table.claim(&first, TokenState::WebSocket(None)).is_ok());
        table
            .negotiate(true, false, Some(&ana))
            .expect("after a claim");
        table
            .negotiate(true, false, None)
            .expect("anonymous, 3rd in all");
        assert_eq!(table.pending(), 3);
        assert_eq!(
            table.negotiate(true, false, Some(&UserId::from("bo"))),
            Err(NegotiateRefusal::Full)
        );
        table.release(&first);
        assert_eq!(table.pending(), 3, "a claimed token was not pending");
    }

    #[test]
    fn expired_negotiations_leave_the_count() {
        let table = Arc::new(TokenTable::new(Duration::ZERO, None).with_pending_caps(1, 1));
        let ana = UserId::from("ana");
        let (_, token) = table.negotiate(true, false, Some(&ana)).expect("1st");
        assert_eq!(
            table.claim(&token, TokenState::WebSocket(None)),
            Err(ClaimError::Unknown)
        );
        assert_eq!(table.pending(), 0);
        table
            .negotiate(true, false, Some(&ana))
            .expect("room again");
    }

    #[test]
    fn bytes_posted_before_the_transport_go_to_the_claim() {
        let table = Arc::new(TokenTable::new(Duration::from_secs(15), None));
        let (id, token) = table.negotiate(false, false, None).expect("under the caps");
        assert!(matches!(
            table.keep_early_input(&token, b"ab", 4),
            EarlyInput::Kept
        ));
        assert!(matches!(
            table.keep_early_input(&token, b"cde", 4),
            EarlyInput::TooLarge
        ));
        assert!(matches!(
            table.keep_early_input(&token, b"cd", 4),
            EarlyInput::Kept
        ));
        assert_eq!(
            table.claim(&token, TokenState::WebSocket(None)),
            Ok((id, b"abcd".to_vec()))
        );
        assert!(matches!(
            table.keep_early_input(&token, b"x", 4),
            EarlyInput::NotWaiting(Some(TokenState::WebSocket(None)))
        ));
        assert!(matches!(
            table.keep_early_input(&ConnectionToken::from("nope"), b"x", 4),
            EarlyInput::NotWaiting(None)
        ));
    }
}
