//! The handshake that opens every hub connection, always JSON + `0x1E` (even for MessagePack).
//!
//! # Format
//!
//! Checklist §8 (HS-01..HS-07); .NET `HandshakeProtocol.cs`.
//!
//! ```text
//! client → server   {"protocol":"json"|"messagepack","version":N} 0x1E
//! server → client   {} 0x1E                       success; must be the first bytes sent
//!                   {"error":"text"} 0x1E         failure; the server then closes
//! ```
//!
//! Versions actually seen: JS sends 1 (2 with stateful reconnect), signalrcore sends 0, pysignalr
//! 1; the server accepts any version `<= 2` ([`HandshakeRequest::resolve`]). Bytes after the
//! request's `0x1E` in the same buffer are ordinary hub messages: `decode_handshake_request`
//! reports how many bytes it consumed so the caller can hand the rest to the hub protocol.

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::json::write_json_string;
use crate::text::{Record, first_token_kind, split_record};
use crate::{HubProtocol, RECORD_SEPARATOR};

/// Error text .NET sends for a malformed handshake request (details only in detailed-errors
/// mode; checklist HS-05).
pub const MALFORMED_HANDSHAKE_ERROR: &str =
    "An unexpected error occurred during connection handshake.";

/// Error text .NET sends when the handshake times out or exceeds the size limit (HS-06).
pub const HANDSHAKE_CANCELED_ERROR: &str = "Handshake was canceled.";

/// The client's opening message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeRequest {
    /// Requested hub protocol name (`json`, `messagepack`).
    pub protocol: String,
    /// Requested protocol version.
    pub version: u32,
}

/// The server's answer to a handshake request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HandshakeResponse {
    /// `None` on success; otherwise why the server refused the connection.
    pub error: Option<String>,
}

/// Why a well-formed handshake request is refused. `Display` is the exact .NET error text to put
/// in the handshake response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeRejection {
    /// The protocol name is not `json` or `messagepack`.
    #[error("The protocol '{0}' is not supported.")]
    UnsupportedProtocol(String),
    /// The protocol exists but not in the requested version.
    #[error("The server does not support version {version} of the '{}' protocol.", protocol.name())]
    UnsupportedVersion {
        /// The protocol asked for.
        protocol: HubProtocol,
        /// The version asked for.
        version: u32,
    },
}

/// Why handshake bytes could not be decoded. Fatal: answer with
/// [`response_error`](HandshakeError::response_error) and close.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// No `0x1E` within the first `limit + 1` bytes.
    #[error("The handshake message exceeds the maximum message size of {limit}B.")]
    TooLarge {
        /// The configured maximum, in bytes.
        limit: usize,
    },
    /// Not a JSON object, invalid UTF-8/JSON, missing `protocol` or `version`, or a `version`
    /// that is not a non-negative integer. The text says which.
    #[error("Malformed handshake message: {0}")]
    Malformed(String),
}

impl HandshakeError {
    /// The error text .NET puts in the handshake response for this failure.
    pub fn response_error(&self) -> &'static str {
        match self {
            HandshakeError::TooLarge { .. } => HANDSHAKE_CANCELED_ERROR,
            HandshakeError::Malformed(_) => MALFORMED_HANDSHAKE_ERROR,
        }
    }
}

impl HandshakeRequest {
    /// Picks the hub protocol for this request, or the rejection to send back.
    pub fn resolve(&self) -> Result<HubProtocol, HandshakeRejection> {
        let protocol = HubProtocol::from_name(&self.protocol)
            .ok_or_else(|| HandshakeRejection::UnsupportedProtocol(self.protocol.clone()))?;
        if protocol.is_version_supported(self.version) {
            Ok(protocol)
        } else {
            Err(HandshakeRejection::UnsupportedVersion {
                protocol,
                version: self.version,
            })
        }
    }
}

/// Decodes the handshake request at the start of `buf`.
///
/// `Ok(None)` = incomplete; the consumed count includes the `0x1E`. More than `max_size` bytes
/// without a `0x1E` → [`HandshakeError::TooLarge`], before allocating anything.
pub fn decode_handshake_request(
    buf: &[u8],
    max_size: usize,
) -> Result<Option<(HandshakeRequest, usize)>, HandshakeError> {
    let (record, consumed) = match split_record(buf, max_size) {
        Record::Incomplete => return Ok(None),
        Record::TooLarge => return Err(HandshakeError::TooLarge { limit: max_size }),
        Record::Complete { record, consumed } => (record, consumed),
    };
    let fields: RequestFields<'_> = parse_object(record)?;
    let protocol = match fields.protocol {
        None => None,
        Some(raw) => serde_json::from_str::<Option<String>>(raw.get()).map_err(|_| {
            HandshakeError::Malformed("Expected 'protocol' to be of type String.".into())
        })?,
    }
    .ok_or_else(|| HandshakeError::Malformed("Missing required property 'protocol'.".into()))?;
    let version = match fields.version {
        None => None,
        Some(raw) => serde_json::from_str::<Option<u32>>(raw.get()).map_err(|_| {
            HandshakeError::Malformed(
                "Expected 'version' to be a non-negative 32-bit integer.".into(),
            )
        })?,
    }
    .ok_or_else(|| HandshakeError::Malformed("Missing required property 'version'.".into()))?;
    Ok(Some((HandshakeRequest { protocol, version }, consumed)))
}

/// Appends the handshake request (`{"protocol":…,"version":…}` + `0x1E`); what a client sends.
pub fn encode_handshake_request(request: &HandshakeRequest, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"protocol\":");
    write_json_string(out, &request.protocol);
    out.extend_from_slice(b",\"version\":");
    out.extend_from_slice(request.version.to_string().as_bytes());
    out.push(b'}');
    out.push(RECORD_SEPARATOR);
}

/// Appends `{}`+`0x1E` for `None`, `{"error":"…"}`+`0x1E` for `Some`.
pub fn encode_handshake_response(error: Option<&str>, out: &mut Vec<u8>) {
    match error {
        None => out.extend_from_slice(b"{}"),
        Some(error) => {
            out.extend_from_slice(b"{\"error\":");
            write_json_string(out, error);
            out.push(b'}');
        }
    }
    out.push(RECORD_SEPARATOR);
}

/// Decodes a handshake response (what a client reads first). A response with a `type` property
/// is refused, as the JS and .NET clients do (checklist HS-03).
pub fn decode_handshake_response(
    buf: &[u8],
    max_size: usize,
) -> Result<Option<(HandshakeResponse, usize)>, HandshakeError> {
    let (record, consumed) = match split_record(buf, max_size) {
        Record::Incomplete => return Ok(None),
        Record::TooLarge => return Err(HandshakeError::TooLarge { limit: max_size }),
        Record::Complete { record, consumed } => (record, consumed),
    };
    let fields: ResponseFields<'_> = parse_object(record)?;
    if fields.has_type {
        return Err(HandshakeError::Malformed(
            "Expected a handshake response from the server.".into(),
        ));
    }
    let error = match fields.error {
        None => None,
        Some(raw) => serde_json::from_str::<Option<String>>(raw.get()).map_err(|_| {
            HandshakeError::Malformed("Expected 'error' to be of type String.".into())
        })?,
    };
    Ok(Some((HandshakeResponse { error }, consumed)))
}

/// UTF-8 check, object check, then a shallow parse. Unknown properties are skipped without
/// recursion (serde_json's `IgnoredAny` is iterative), so nesting cannot exhaust the stack.
fn parse_object<'a, T: Deserialize<'a>>(record: &'a [u8]) -> Result<T, HandshakeError> {
    let text = std::str::from_utf8(record)
        .map_err(|_| HandshakeError::Malformed("The message is not valid UTF-8.".into()))?;
    match first_token_kind(text) {
        Some("Object") | None => {}
        Some(found) => {
            return Err(HandshakeError::Malformed(format!(
                "Unexpected JSON Token Type '{found}'. Expected a JSON Object."
            )));
        }
    }
    serde_json::from_str(text)
        .map_err(|e| HandshakeError::Malformed(format!("Error reading JSON: {e}")))
}

#[derive(Default)]
struct RequestFields<'a> {
    protocol: Option<&'a RawValue>,
    version: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for RequestFields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RequestFields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = RequestFields::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "protocol" => fields.protocol = Some(map.next_value()?),
                        "version" => fields.version = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[derive(Default)]
struct ResponseFields<'a> {
    error: Option<&'a RawValue>,
    has_type: bool,
}

impl<'de> Deserialize<'de> for ResponseFields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ResponseFields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = ResponseFields::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "error" => fields.error = Some(map.next_value()?),
                        "type" => {
                            fields.has_type = true;
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests;
