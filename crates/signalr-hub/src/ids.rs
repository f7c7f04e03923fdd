//! Identifiers of connections, users and groups.
//!
//! A negotiated connection has two names: the public [`ConnectionId`], which hub code and other
//! clients may see, and the secret [`ConnectionToken`], which only its own client knows and which
//! every transport request must present (`?id=`). Both are 16 random bytes in URL-safe base64,
//! because the JS client pastes the token into the query string without escaping it.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Makes a fresh, unguessable, URL-safe identifier (22 characters).
fn random_id() -> Arc<str> {
    let mut bytes = [0u8; 16];
    // The OS random source failing is not something a server can work around; a predictable
    // fallback would be worse than stopping.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("operating system random source unavailable");
    URL_SAFE_NO_PAD.encode(bytes).into()
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.into())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value.into())
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// The public id of a connection: visible to hub code and usable as a send target.
    ConnectionId
);
string_id!(
    /// The authenticated user a connection belongs to (one user may have many connections).
    UserId
);

impl ConnectionId {
    /// A new random connection id.
    pub fn random() -> Self {
        Self(random_id())
    }
}

/// The secret a client presents on every transport request to name its connection.
///
/// Deliberately not `Display`/`Debug`-printable in full, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ConnectionToken(Arc<str>);

impl ConnectionToken {
    /// A new random token.
    pub fn random() -> Self {
        Self(random_id())
    }

    /// The token as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ConnectionToken {
    fn from(value: &str) -> Self {
        Self(value.into())
    }
}

impl fmt::Debug for ConnectionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectionToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_url_safe_and_distinct() {
        let a = ConnectionId::random();
        let b = ConnectionId::random();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 22);
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn tokens_do_not_print() {
        let token = ConnectionToken::random();
        assert!(!format!("{token:?}").contains(token.as_str()));
    }
}
