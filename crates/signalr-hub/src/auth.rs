//! Who is on the other end: the authentication hook and what it returns.
//!
//! The hub does not know any token format. The application gives it a function that turns the
//! bearer token of a request (from the `Authorization` header, or the `access_token` query
//! parameter that browsers must use for WebSockets and EventSource) into a [`Principal`], or
//! refuses. The hook runs at negotiate and again at the transport request.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::ids::UserId;

/// What the authentication hook sees of a request.
#[derive(Debug)]
pub struct AuthRequest<'a> {
    /// The bearer token, if the request carried one.
    pub token: Option<&'a str>,
    /// All request headers, for hooks that authenticate otherwise (cookies, mTLS proxies).
    pub headers: &'a HeaderMap,
}

/// Why the authentication hook refused a request; answered with HTTP 401.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unauthorized: {reason}")]
pub struct AuthError {
    /// Why, for the server's log only: the client is told nothing but 401.
    pub reason: String,
}

impl AuthError {
    /// A refusal with a reason for the log.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// The authenticated identity of a connection.
#[derive(Clone, Default)]
pub struct Principal {
    /// The user, for `send_to_user`; `None` for anonymous connections.
    pub user_id: Option<UserId>,
    claims: Option<Arc<dyn Any + Send + Sync>>,
}

impl Principal {
    /// An anonymous principal.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// A principal for `user_id`, without application claims.
    pub fn user(user_id: impl Into<UserId>) -> Self {
        Self {
            user_id: Some(user_id.into()),
            claims: None,
        }
    }

    /// Attaches the application's own claims (its decoded token), readable with [`Self::claims`].
    pub fn with_claims<T: Any + Send + Sync>(mut self, claims: T) -> Self {
        self.claims = Some(Arc::new(claims));
        self
    }

    /// The application's claims, if they were attached with that type.
    pub fn claims<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.claims.as_deref()?.downcast_ref()
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("user_id", &self.user_id)
            .field("has_claims", &self.claims.is_some())
            .finish()
    }
}

/// The application's authentication hook.
pub(crate) type Authenticator =
    Arc<dyn Fn(&AuthRequest<'_>) -> Result<Principal, AuthError> + Send + Sync>;

/// Finds the bearer token: the `Authorization: Bearer` header first, else `access_token`.
pub(crate) fn bearer_token<'a>(
    headers: &'a HeaderMap,
    access_token: Option<&'a str>,
) -> Option<&'a str> {
    let from_header = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty());
    from_header.or(access_token.filter(|token| !token.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn header_wins_over_query() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer_token(&headers, Some("xyz")), Some("abc"));
    }

    #[test]
    fn query_used_without_header_and_other_schemes_ignored() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers, Some("xyz")), Some("xyz"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic Zm9v"));
        assert_eq!(bearer_token(&headers, None), None);
        assert_eq!(bearer_token(&headers, Some("")), None);
    }

    #[test]
    fn claims_round_trip_by_type() {
        let principal = Principal::user("ana").with_claims(42_u32);
        assert_eq!(principal.claims::<u32>(), Some(&42));
        assert_eq!(principal.claims::<String>(), None);
    }
}
