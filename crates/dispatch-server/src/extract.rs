//! Request extractors whose failures are problem documents naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::serve::BodyTimeout;

/// The largest JSON body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body: 415 unless `application/json`, 413 when too large, 400 when not JSON at all,
/// 422 naming the field when a field is missing, unknown or of the wrong type.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .split(';')
                    .next()
                    .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(MAX_BODY_BYTES)
                } else if let Some(timeout) = body_timeout(&rejection) {
                    ApiError::RequestTimeout(timeout.0.as_secs())
                } else {
                    ApiError::BadRequest(rejection.body_text())
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The body timeout behind a failed body read, if that was the cause.
fn body_timeout<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimeout> {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(timeout) = error.downcast_ref::<BodyTimeout>() {
            return Some(timeout);
        }
        cause = error.source();
    }
    None
}

/// Parses JSON, telling syntax errors (400) from shape errors (422 with the field's path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // JSON is UTF-8 (RFC 8259); skipping over a string does not check that, so check first.
    let text =
        std::str::from_utf8(bytes).map_err(|error| ApiError::MalformedJson(error.to_string()))?;
    if let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(ApiError::MalformedJson(error.to_string()));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        ApiError::validation(field_of(&path, &message), message)
    })
}

/// The JSON path of the offending field: serde reports missing and unknown fields on their
/// parent, so the name is taken from the message.
fn field_of(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(name) = rest.split('`').next()
        {
            if parent.is_empty() || parent.ends_with(name) {
                return if parent.is_empty() {
                    name.to_owned()
                } else {
                    parent.to_owned()
                };
            }
            return format!("{parent}.{name}");
        }
    }
    if parent.is_empty() {
        "body".to_owned()
    } else {
        parent.to_owned()
    }
}

/// Query parameters whose failures are 422 naming the parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let field = query_field(&text);
                ApiError::validation(field, text)
            })
    }
}

/// The parameter a query rejection is about. Axum reports `<parameter>: <serde message>` when a
/// value is wrong, and the bare serde message when a parameter is missing or unknown.
fn query_field(text: &str) -> String {
    let message = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    match message.split_once(": ") {
        Some((name, rest))
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            field_of(name, rest)
        }
        _ if message.starts_with("missing field `") || message.starts_with("unknown field `") => {
            field_of(".", message)
        }
        _ => "query".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        level: u8,
    }

    fn field(json: &str) -> String {
        match parse_json::<Outer>(json.as_bytes()) {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_the_field_at_fault() {
        assert_eq!(field(r#"{"inner":[]}"#), "name");
        assert_eq!(field(r#"{"name":"a","inner":[],"extra":1}"#), "extra");
        assert_eq!(
            field(r#"{"name":"a","inner":[{"level":"x"}]}"#),
            "inner[0].level"
        );
        assert_eq!(
            field(r#"{"name":"a","inner":[{"level":1,"x":2}]}"#),
            "inner[0].x"
        );
        assert_eq!(field(r#"{"name":"a","inner":[{}]}"#), "inner[0].level");
    }

    #[test]
    fn names_the_query_parameter_at_fault() {
        let prefix = "Failed to deserialize query string: ";
        for (message, field) in [
            ("limit: invalid digit found in string", "limit"),
            ("status: unknown variant `bogus`, expected `open`", "status"),
            ("missing field `region`", "region"),
            ("unknown field `sort`, expected `region`", "sort"),
            ("something else: entirely", "query"),
        ] {
            assert_eq!(
                query_field(&format!("{prefix}{message}")),
                field,
                "{message}"
            );
        }
    }

    #[test]
    fn syntax_errors_are_malformed() {
        assert!(matches!(
            parse_json::<Outer>(b"{\"name\":"),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            parse_json::<Outer>(b"{\"name\":\"\xff\",\"inner\":[]}"),
            Err(ApiError::MalformedJson(_))
        ));
    }
}
