//! Bearer tokens (HS256 JWT, SPEC §7) and who may do what (SPEC §3).
//!
//! The same keys authenticate HTTP requests (the [`Identity`] extractor) and hub connections
//! (the hub's authentication hook). Tokens are never logged.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::{Duration, Utc};
use dispatch_core::{ContractorId, RegionId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// What a token lets its holder be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Jobs, recommendations, assignments and audit records of its regions.
    Dispatcher,
    /// Its own profile and assignments.
    Contractor,
}

/// The claims of a Dispatch token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// Subject: who (a user name or id); also the SignalR user id.
    pub sub: String,
    /// Role.
    pub role: Role,
    /// Regions a dispatcher serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionId>,
    /// The contractor a contractor token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contractor_id: Option<ContractorId>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
}

impl Claims {
    /// Whether the holder may work with (read and write) `region`'s dispatch data.
    pub fn can_dispatch(&self, region: &RegionId) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Dispatcher => self.regions.contains(region),
            Role::Contractor => false,
        }
    }

    /// Whether the holder is `contractor` itself (or an admin).
    pub fn is_contractor_or_admin(&self, contractor: ContractorId) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Contractor => self.contractor_id == Some(contractor),
            Role::Dispatcher => false,
        }
    }

    /// Whether the holder is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Why a token was refused (for the log only: the client gets a plain 401).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, expired, malformed or missing claims.
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// A contractor token without `contractorId`, or a dispatcher without regions.
    #[error("token claims do not fit its role")]
    Inconsistent,
}

/// The HS256 signing and verifying keys.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    /// Keys from the shared secret.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Verifies a token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims;
        let consistent = match claims.role {
            Role::Admin => true,
            Role::Dispatcher => !claims.regions.is_empty(),
            Role::Contractor => claims.contractor_id.is_some(),
        };
        if consistent {
            Ok(claims)
        } else {
            Err(TokenError::Inconsistent)
        }
    }

    /// Signs claims into a token.
    pub fn mint(&self, claims: &Claims) -> Result<String, TokenError> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }

    /// Signs a token for a role, valid for `hours`.
    pub fn mint_for(
        &self,
        sub: &str,
        role: Role,
        regions: Vec<RegionId>,
        contractor_id: Option<ContractorId>,
        hours: i64,
    ) -> Result<String, TokenError> {
        self.mint(&Claims {
            sub: sub.to_owned(),
            role,
            regions,
            contractor_id,
            exp: (Utc::now() + Duration::hours(hours)).timestamp(),
        })
    }
}

/// The authenticated caller of an HTTP request.
#[derive(Debug, Clone)]
pub struct Identity(pub Arc<Claims>);

impl std::ops::Deref for Identity {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_of(&parts.headers)
}

/// The bearer token in these headers, if any.
pub fn bearer_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Any state the keys can be had from (`AppState` in the service).
impl<S> FromRequestParts<S> for Identity
where
    Arc<JwtKeys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthenticated)?;
        match Arc::<JwtKeys>::from_ref(state).verify(token) {
            Ok(claims) => Ok(Identity(Arc::new(claims))),
            Err(error) => {
                tracing::debug!(%error, "token refused");
                Err(ApiError::Unauthenticated)
            }
        }
    }
}

/// Refuses unless the caller is an admin.
pub fn require_admin(identity: &Identity) -> Result<(), ApiError> {
    if identity.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only an admin may do this".to_owned()))
    }
}

/// Refuses unless the caller dispatches at all (an admin or a dispatcher), before any object
/// is looked up; whether it dispatches the object's region is checked with the object.
pub fn require_dispatcher(identity: &Identity) -> Result<(), ApiError> {
    match identity.role {
        Role::Admin | Role::Dispatcher => Ok(()),
        Role::Contractor => Err(ApiError::Forbidden(
            "only dispatchers and admins may do this".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_other_secrets_fail() {
        let keys = JwtKeys::new(b"secret");
        let token = keys
            .mint_for(
                "ana",
                Role::Dispatcher,
                vec![RegionId::new("west")],
                None,
                1,
            )
            .expect("mint");
        let claims = keys.verify(&token).expect("verify");
        assert!(claims.can_dispatch(&RegionId::new("west")));
        assert!(!claims.can_dispatch(&RegionId::new("east")));
        assert!(JwtKeys::new(b"other").verify(&token).is_err());
    }

    #[test]
    fn expired_and_inconsistent_tokens_fail() {
        let keys = JwtKeys::new(b"secret");
        let expired = keys
            .mint_for("ana", Role::Admin, vec![], None, -2)
            .expect("mint");
        assert!(keys.verify(&expired).is_err());
        let no_regions = keys
            .mint_for("ana", Role::Dispatcher, vec![], None, 1)
            .expect("mint");
        assert!(matches!(
            keys.verify(&no_regions),
            Err(TokenError::Inconsistent)
        ));
    }
}
