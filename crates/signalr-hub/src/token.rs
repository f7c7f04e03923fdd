//! Signed connection tokens: what lets a client negotiate with one node and open its WebSocket
//! on another, so a cluster of identical nodes needs no sticky sessions.
//!
//! Without [`HubOptions::connection_token_key`](crate::HubOptions::connection_token_key) a
//! connection token is 16 random bytes that only the token table (the `negotiation` module)
//! of the node that issued it knows; any other node answers 404. With a key, negotiate issues a token that carries the
//! connection's facts and an HMAC-SHA256 tag over them, so every node sharing the key can check
//! it without asking anyone. The token stays opaque to clients and is URL-safe, because the JS
//! client pastes it into `?id=` unescaped.
//!
//! # Format
//!
//! ```text
//! token   = base64url(payload) "." base64url(tag)          base64url without padding, 87 chars
//! payload = version  u8          1
//!           flags    u8          bit 0: stateful reconnect was negotiated
//!                                bit 1: negotiate version 0 (the connection id is the token)
//!                                other bits: 0
//!           expires  u64 BE      Unix time in milliseconds; no first transport request after it
//!           id       1..=64 B    the connection id, `[A-Za-z0-9_-]` (22 chars as issued)
//! tag     = HMAC-SHA256(key, "signalr-hub connection token\0" || payload)     32 bytes
//! ```
//!
//! The tag is checked (in constant time) before the payload is read at all, and decoding is
//! strict (canonical base64, no unknown flags, bounded length), so one token has exactly one
//! spelling: a token that differs in any byte is a different, unsigned token. Negotiate
//! version 0 has no separate token, the connection id *is* the token; such a token carries a
//! random id and the flag that says the whole token is the connection id.
//!
//! # What a node does with a token
//!
//! * A token the node's token table knows (negotiated here, or already brought here) keeps
//!   the table's rules exactly as without a key: one transport per token (409 for a second
//!   WebSocket), stateful resume, the POST/DELETE rules, 404 once the connection is gone.
//! * A token the table does not know, on a transport request (`GET` for WebSockets,
//!   Server-Sent Events or a first long poll; a `POST` before the transport): if it is signed
//!   with this hub's key, unexpired, and not used on this node before, it is taken in as if
//!   negotiated here, with the connection id and stateful flag it carries, so the `connectionId`
//!   the client was told stays the id hub code sees. Anything else (bad tag, malformed,
//!   expired, already used here) is 404, as an unknown id.
//! * [`HubOptions::connection_token_lifetime`](crate::HubOptions::connection_token_lifetime)
//!   bounds only how long after negotiate the *first* transport request may come; a connection
//!   that is running, or waiting for a stateful resume, on a node keeps going as without a key.
//!   Nodes compare the expiry with their wall clock, so their clocks should agree to well
//!   within the lifetime (NTP).
//!
//! # Limits
//!
//! * **Server-Sent Events and Long Polling stay node-local.** They use several HTTP requests
//!   per connection, and the connection lives on the node that served the first `GET`; a later
//!   POST or poll that the load balancer sends elsewhere is 404 there (or, on the node that ran
//!   negotiate, is kept for a transport that never comes). Those transports still need sticky
//!   sessions; WebSockets do not.
//! * **Stateful reconnect resumes only on the node that holds the connection**, since the
//!   replay buffer lives there. A client that comes back with its token on another node gets,
//!   if the token is still within its lifetime, a *new* logical connection that expects a
//!   handshake; the official client sends Sequence instead, is answered with a handshake error
//!   and closed, and falls back to a fresh negotiate (with automatic reconnect). Past the
//!   lifetime it gets 404 and falls back the same way. Nothing waits beyond the handshake
//!   timeout.
//! * **Replays are refused per node.** Once a token's connection ends here, the node remembers
//!   the token as spent until the token expires, so a replay cannot re-create the connection
//!   here; memory for that is bounded by the lifetime (tokens used per lifetime). A node where
//!   the token was not used yet (the one that ran negotiate included) would still take it once
//!   within its lifetime: nodes share no state. Only the client (or whoever it leaked to) holds
//!   the token, and what it gets is a connection under its own authentication (the hook runs
//!   on every request) that reuses the connection id.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::ids::{ConnectionId, ConnectionToken};

type HmacSha256 = Hmac<Sha256>;

/// Separates this use of the key from any other the application may make of the same secret.
const CONTEXT: &[u8] = b"signalr-hub connection token\0";
const VERSION: u8 = 1;
const FLAG_STATEFUL: u8 = 0b01;
const FLAG_ID_IS_TOKEN: u8 = 0b10;
const TAG_LEN: usize = 32;
const MAX_ID_LEN: usize = 64;
/// Version, flags, expiry, then an id of 1 to `MAX_ID_LEN` bytes.
const MIN_PAYLOAD_LEN: usize = 2 + 8 + 1;
const MAX_PAYLOAD_LEN: usize = 2 + 8 + MAX_ID_LEN;
/// Longest token worth decoding: a 64-byte id gives 102 + 1 + 43 characters.
const MAX_TOKEN_LEN: usize = 160;

/// The secret that the nodes of a cluster share to sign and check connection tokens (see
/// [`HubOptions::connection_token_key`](crate::HubOptions::connection_token_key)).
///
/// Use at least 32 random bytes, and the same bytes on every node. The key never prints.
#[derive(Clone)]
pub struct ConnectionTokenKey {
    /// HMAC keyed once; cloning the keyed state is cheaper than keying per token.
    mac: HmacSha256,
}

impl ConnectionTokenKey {
    /// A key from secret bytes (any length; HMAC hashes keys longer than 64 bytes).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        // HMAC accepts keys of every length; `new_from_slice` only has a `Result` because the
        // trait also serves fixed-key MACs.
        #[allow(clippy::expect_used)]
        let mac = HmacSha256::new_from_slice(secret.as_ref()).expect("HMAC takes any key length");
        Self { mac }
    }

    fn tag(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(CONTEXT);
        mac.update(payload);
        mac
    }
}

impl fmt::Debug for ConnectionTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectionTokenKey(..)")
    }
}

/// What a signed token says about its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenClaims {
    /// The connection id (for a negotiate-version-0 token: a random id, see `id_is_token`).
    pub(crate) id: ConnectionId,
    /// No first transport request after this Unix time, in milliseconds.
    pub(crate) expires_at_ms: u64,
    /// Stateful reconnect was negotiated.
    pub(crate) stateful: bool,
    /// Negotiate version 0: the connection id is the whole token.
    pub(crate) id_is_token: bool,
}

/// Why a token was not accepted. Clients only ever see 404; this is for the debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// Not of the signed-token shape at all (random tokens of other nodes land here too).
    #[error("not a signed connection token")]
    Malformed,
    /// The tag does not match: another key, or a tampered token.
    #[error("connection token signature does not verify")]
    BadSignature,
    /// Signed, but its first transport request comes too late.
    #[error("connection token expired")]
    Expired,
}

/// Writes a signed token for `claims`.
pub(crate) fn sign(key: &ConnectionTokenKey, claims: &TokenClaims) -> ConnectionToken {
    let id = claims.id.as_str().as_bytes();
    let mut payload = Vec::with_capacity(10 + id.len());
    payload.push(VERSION);
    let mut flags = 0;
    if claims.stateful {
        flags |= FLAG_STATEFUL;
    }
    if claims.id_is_token {
        flags |= FLAG_ID_IS_TOKEN;
    }
    payload.push(flags);
    payload.extend_from_slice(&claims.expires_at_ms.to_be_bytes());
    payload.extend_from_slice(id);
    let tag = key.tag(&payload).finalize().into_bytes();
    let mut token = URL_SAFE_NO_PAD.encode(&payload);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut token);
    ConnectionToken::from(token.as_str())
}

/// Checks a client-supplied token and reads it. Total: any input gives `Ok` or `Err`.
pub(crate) fn verify(
    key: &ConnectionTokenKey,
    token: &str,
    now_ms: u64,
) -> Result<TokenClaims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let (payload, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
    // The decoder refuses padding and non-zero trailing bits, so each byte string has exactly
    // one accepted spelling.
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| TokenError::Malformed)?;
    if tag.len() != TAG_LEN || !(MIN_PAYLOAD_LEN..=MAX_PAYLOAD_LEN).contains(&payload.len()) {
        return Err(TokenError::Malformed);
    }
    key.tag(&payload)
        .verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    // Only authenticated bytes from here on; still parsed defensively.
    let claims = parse_payload(&payload).ok_or(TokenError::Malformed)?;
    if claims.expires_at_ms <= now_ms {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn parse_payload(payload: &[u8]) -> Option<TokenClaims> {
    let (&version, rest) = payload.split_first()?;
    let (&flags, rest) = rest.split_first()?;
    let (expires, id) = rest.split_first_chunk::<8>()?;
    let id_ok = (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
    if version != VERSION || flags & !(FLAG_STATEFUL | FLAG_ID_IS_TOKEN) != 0 || !id_ok {
        return None;
    }
    Some(TokenClaims {
        id: ConnectionId::from(std::str::from_utf8(id).ok()?),
        expires_at_ms: u64::from_be_bytes(*expires),
        stateful: flags & FLAG_STATEFUL != 0,
        id_is_token: flags & FLAG_ID_IS_TOKEN != 0,
    })
}

/// The wall clock as Unix milliseconds, which is what nodes compare token expiries with.
pub(crate) fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A hub's key with the lifetime of the tokens it issues.
#[derive(Debug)]
pub(crate) struct TokenSigner {
    pub(crate) key: ConnectionTokenKey,
    pub(crate) lifetime: Duration,
}

/// A token issued at negotiate, with what the token table keeps about it.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) connection_id: ConnectionId,
    pub(crate) token: ConnectionToken,
    pub(crate) expires_at_ms: u64,
}

impl TokenSigner {
    /// Issues a token for a new connection. With `id_is_token` (negotiate version 0) the
    /// connection id is the token itself.
    pub(crate) fn issue(&self, stateful: bool, id_is_token: bool) -> Issued {
        let expires_at_ms = unix_now_ms().saturating_add(millis(self.lifetime));
        let claims = TokenClaims {
            id: ConnectionId::random(),
            expires_at_ms,
            stateful,
            id_is_token,
        };
        let token = sign(&self.key, &claims);
        let connection_id = if id_is_token {
            ConnectionId::from(token.as_str())
        } else {
            claims.id
        };
        Issued {
            connection_id,
            token,
            expires_at_ms,
        }
    }

    /// Checks a token this node's token table does not know.
    pub(crate) fn verify(
        &self,
        token: &ConnectionToken,
        now_ms: u64,
    ) -> Result<TokenClaims, TokenError> {
        verify(&self.key, token.as_str(), now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_700_000_000_000;

    fn key() -> ConnectionTokenKey {
        ConnectionTokenKey::new(b"a shared secret of the cluster, 32+ bytes")
    }

    fn claims(stateful: bool, id_is_token: bool) -> TokenClaims {
        TokenClaims {
            id: ConnectionId::random(),
            expires_at_ms: NOW + 30_000,
            stateful,
            id_is_token,
        }
    }

    #[test]
    fn round_trips_every_flag_combination() {
        for (stateful, id_is_token) in [(false, false), (true, false), (false, true), (true, true)]
        {
            let claims = claims(stateful, id_is_token);
            let token = sign(&key(), &claims);
            assert_eq!(verify(&key(), token.as_str(), NOW), Ok(claims));
        }
    }

    #[test]
    fn issued_tokens_are_url_safe_and_name_their_connection() {
        let signer = TokenSigner {
            key: key(),
            lifetime: Duration::from_secs(30),
        };
        let issued = signer.issue(true, false);
        let token = issued.token.as_str();
        assert_eq!(token.len(), 87);
        assert!(
            token
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)),
            "{token}"
        );
        let claims = signer.verify(&issued.token, unix_now_ms()).expect("valid");
        assert_eq!(claims.id, issued.connection_id);
        assert!(claims.stateful && !claims.id_is_token);
        assert_eq!(claims.expires_at_ms, issued.expires_at_ms);

        let legacy = signer.issue(false, true);
        assert_eq!(legacy.connection_id.as_str(), legacy.token.as_str());
        assert!(signer.verify(&legacy.token, unix_now_ms()).is_ok());
    }

    #[test]
    fn expires_at_the_stated_millisecond() {
        let claims = claims(false, false);
        let token = sign(&key(), &claims);
        let at = claims.expires_at_ms;
        assert!(verify(&key(), token.as_str(), at - 1).is_ok());
        assert_eq!(verify(&key(), token.as_str(), at), Err(TokenError::Expired));
        assert_eq!(
            verify(&key(), token.as_str(), u64::MAX),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn another_key_does_not_verify() {
        let token = sign(&key(), &claims(false, false));
        let other = ConnectionTokenKey::new(b"another cluster");
        assert_eq!(
            verify(&other, token.as_str(), NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_changed_payload_with_the_old_tag_does_not_verify() {
        let mut claims = claims(false, false);
        let token = sign(&key(), &claims);
        let (_, tag) = token.as_str().split_once('.').expect("dot");
        claims.stateful = true;
        claims.expires_at_ms += 1_000_000;
        let forged = sign(&key(), &claims);
        let (payload, _) = forged.as_str().split_once('.').expect("dot");
        assert_eq!(
            verify(&key(), &format!("{payload}.{tag}"), NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let valid = sign(&key(), &claims(false, false));
        let (payload, tag) = valid.as_str().split_once('.').expect("dot");
        for garbage in [
            "",
            ".",
            "nope",
            // A random token of a node without a key.
            "AAAAAAAAAAAAAAAAAAAAAA",
            payload,
            &format!("{payload}."),
            &format!(".{tag}"),
            &format!("{payload}.{tag}.{tag}"),
            &format!("{payload}={tag}"),
            &format!("{payload}.{tag}="),
            &format!("{payload}.{}", &tag[..tag.len() - 1]),
            &format!("{payload}.{tag}AA"),
            &format!("{payload}+.{tag}"),
            &"A".repeat(10_000),
        ] {
            assert_eq!(
                verify(&key(), garbage, NOW),
                Err(TokenError::Malformed),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn signed_payloads_of_the_wrong_shape_are_malformed() {
        // Correctly tagged, but not something this version writes: the parser still refuses.
        let tagged = |payload: &[u8]| {
            let tag = key().tag(payload).finalize().into_bytes();
            format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(payload),
                URL_SAFE_NO_PAD.encode(tag)
            )
        };
        let expires = (NOW + 1).to_be_bytes();
        let with = |version: u8, flags: u8, id: &[u8]| {
            let mut payload = vec![version, flags];
            payload.extend_from_slice(&expires);
            payload.extend_from_slice(id);
            tagged(&payload)
        };
        assert!(verify(&key(), &with(1, 0, b"abc"), NOW).is_ok());
        for token in [
            tagged(b""),
            tagged(&[1, 0, 0, 0]),
            with(2, 0, b"abc"),
            with(1, 0b100, b"abc"),
            with(1, 0, b""),
            with(1, 0, b"a b"),
            with(1, 0, b"a.b"),
            with(1, 0, &[0xff]),
            with(1, 0, &[b'a'; MAX_ID_LEN + 1]),
        ] {
            assert_eq!(
                verify(&key(), &token, NOW),
                Err(TokenError::Malformed),
                "{token}"
            );
        }
    }

    /// Every position, every ASCII replacement: random sampling would rarely hit the last
    /// character's unused low bits, the change a lax base64 decoder would let through.
    #[test]
    fn every_single_byte_change_is_refused() {
        for (stateful, id_is_token) in [(false, false), (true, false), (false, true), (true, true)]
        {
            let token = sign(&key(), &claims(stateful, id_is_token));
            let original = token.as_str().as_bytes();
            for at in 0..original.len() {
                for replacement in (0u8..128).filter(|byte| *byte != original[at]) {
                    let mut bytes = original.to_vec();
                    bytes[at] = replacement;
                    let changed = String::from_utf8(bytes).expect("ASCII stays UTF-8");
                    assert!(verify(&key(), &changed, NOW).is_err(), "{changed} accepted");
                }
            }
        }
    }

    #[test]
    fn the_key_does_not_print() {
        assert_eq!(format!("{:?}", key()), "ConnectionTokenKey(..)");
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(token in any::<String>()) {
            let _ = verify(&key(), &token, NOW);
        }

        #[test]
        fn token_shaped_strings_never_panic(token in "[A-Za-z0-9_-]{0,120}(\\.[A-Za-z0-9_=.-]{0,60})?") {
            let _ = verify(&key(), &token, NOW);
        }

        #[test]
        fn any_single_byte_change_is_refused(
            stateful in any::<bool>(),
            id_is_token in any::<bool>(),
            position in any::<prop::sample::Index>(),
            replacement in 0u8..128,
        ) {
            let token = sign(&key(), &claims(stateful, id_is_token));
            let mut bytes = token.as_str().as_bytes().to_vec();
            let at = position.index(bytes.len());
            prop_assume!(bytes[at] != replacement);
            bytes[at] = replacement;
            let changed = String::from_utf8(bytes).expect("ASCII stays UTF-8");
            prop_assert!(verify(&key(), &changed, NOW).is_err(), "{} accepted", changed);
        }

        #[test]
        fn any_truncation_is_refused(cut in any::<prop::sample::Index>()) {
            let token = sign(&key(), &claims(false, false));
            let cut = cut.index(token.as_str().len());
            prop_assert!(verify(&key(), &token.as_str()[..cut], NOW).is_err());
        }
    }
}
