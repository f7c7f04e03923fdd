//! The one place errors become HTTP answers: `application/problem+json` (RFC 9457) with a
//! stable `type`, the status, a sentence for people and, for validation failures, the field.
//!
//! Internal causes are logged here and never echoed to the client.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use dispatch_core::ValidationError;
use dispatch_store::{AssignmentConflict, StoreError};
use serde::Serialize;

use crate::assignment::AssignError;
use crate::planning::RegionLoadError;
use crate::telemetry::Origin;

/// Everything a request can fail with, each with its HTTP status decided once in `status()`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid bearer token: 401.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// The token is valid but lacks the right: 403.
    #[error("{0}")]
    Forbidden(String),
    /// Missing, or not visible to the caller (which answers exactly the same): 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The body is not JSON at all: 400.
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// A query parameter could not be read: 400.
    #[error("{0}")]
    BadRequest(String),
    /// The route exists, but not with this method: 405.
    #[error("this route does not accept this method")]
    MethodNotAllowed,
    /// The body is not `application/json`: 415.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// The body is larger than allowed: 413.
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// A field is missing, unknown or invalid: 422, naming the field.
    #[error("{detail}")]
    Validation {
        /// JSON path of the field.
        field: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The request conflicts with the current state: 409.
    #[error("{detail}")]
    Conflict {
        /// Stable problem slug, e.g. `contractor-busy`.
        kind: &'static str,
        /// What conflicts, for people.
        detail: String,
    },
    /// `If-Match` is required and missing: 428.
    #[error("this request needs an If-Match header with the current version")]
    PreconditionRequired,
    /// The service cannot take the work now; retry later: 503.
    #[error("{0}")]
    Unavailable(String),
    /// This caller is over a per-subject (or per-address) limit: 429 with `Retry-After`.
    #[error("{detail}")]
    TooManyRequests {
        /// Which limit, for people.
        detail: String,
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// The request body did not arrive in time: 408.
    #[error("the request body did not arrive within {0} seconds")]
    RequestTimeout(u64),
    /// Anything else: 500. The cause is logged, the client gets a generic sentence.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 422 for `field`.
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// A 409 of a given kind.
    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            kind,
            detail: detail.into(),
        }
    }

    /// A 500 whose cause is only logged.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MalformedJson(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable slug of the problem type (`urn:dispatch:problem:<kind>`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::MalformedJson(_) => "malformed-json",
            Self::BadRequest(_) => "bad-request",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::PayloadTooLarge(_) => "payload-too-large",
            Self::Validation { .. } => "validation",
            Self::Conflict { kind, .. } => kind,
            Self::PreconditionRequired => "precondition-required",
            Self::Unavailable(_) => "unavailable",
            Self::TooManyRequests { .. } => "rate-limited",
            Self::RequestTimeout(_) => "request-timeout",
            Self::Internal(_) => "internal",
        }
    }
}

/// An error answer (RFC 9457 problem document).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Problem {
    /// Stable problem type, e.g. `urn:dispatch:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// For validation failures: the JSON path of the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            Self::Conflict { kind, .. } => crate::telemetry::conflict(kind, Origin::Http),
            _ => {}
        }
        let field = match &self {
            Self::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        let problem = Problem {
            kind: format!("urn:dispatch:problem:{}", self.kind()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            field,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response =
            (status, [(CONTENT_TYPE, "application/problem+json")], body).into_response();
        if let Self::TooManyRequests { retry_after, .. } = &self {
            // Whole seconds, rounded up: never 0, which would invite an immediate retry.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds.max(1)),
            );
        }
        response
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::validation(error.field(), error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(detail) => Self::conflict("conflict", detail),
            StoreError::Assignment(conflict) => match conflict {
                AssignmentConflict::JobNotFound => Self::NotFound("job"),
                AssignmentConflict::ContractorNotFound => Self::NotFound("contractor"),
                AssignmentConflict::AuditNotFound => Self::NotFound("audit record"),
                AssignmentConflict::MovedMeanwhile => Self::conflict(
                    "assignment-moved",
                    "the booking to move is no longer live; read the job's assignment again",
                ),
                AssignmentConflict::JobNotOpen => {
                    Self::conflict("job-not-open", "the job is not open for assignment")
                }
                AssignmentConflict::JobAlreadyAssigned => Self::conflict(
                    "job-already-assigned",
                    "the job already has a live assignment",
                ),
                AssignmentConflict::ContractorBusy { conflicting } => Self::conflict(
                    "contractor-busy",
                    format!(
                        "the contractor is already booked at that time (assignment {conflicting})"
                    ),
                ),
            },
            StoreError::StaleVersion { current } => Self::conflict(
                "stale-version",
                format!("the configuration changed meanwhile; the current version is {current}"),
            ),
            StoreError::Invalid(detail) => Self::validation("body", detail),
            StoreError::Unavailable(cause) => {
                tracing::error!(%cause, "database unavailable");
                Self::Unavailable("the database is unavailable; retry shortly".to_owned())
            }
            StoreError::InvalidCursor => {
                Self::validation("cursor", "the cursor is not one this service issued")
            }
            error if error.is_retryable() => {
                Self::Unavailable("the database is busy; retry shortly".to_owned())
            }
            error => Self::internal(error),
        }
    }
}

impl From<AssignError> for ApiError {
    fn from(error: AssignError) -> Self {
        match error {
            AssignError::Infeasible(_) => {
                Self::conflict("assignment-infeasible", error.to_string())
            }
            AssignError::Conflict(conflict) => StoreError::Assignment(conflict).into(),
            AssignError::Store(error) => error.into(),
            AssignError::Event(error) => Self::internal(error),
        }
    }
}

impl From<RegionLoadError> for ApiError {
    fn from(error: RegionLoadError) -> Self {
        match error {
            RegionLoadError::Store(error) => error.into(),
            error @ (RegionLoadError::Evicted(_) | RegionLoadError::Busy(_)) => {
                Self::Unavailable(error.to_string())
            }
            error => Self::internal(error),
        }
    }
}
