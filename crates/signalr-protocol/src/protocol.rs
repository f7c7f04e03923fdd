//! [`HubProtocol`]: the codec a connection chose at handshake, and the codec's error types.
//!
//! An enum that delegates to [`json`](crate::json) or [`messagepack`](crate::messagepack),
//! chosen once per connection; no trait objects. Both codecs share one contract:
//!
//! * `decode_next` looks at the start of a receive buffer and returns the first complete
//!   message with the number of bytes it used (framing included), `Ok(None)` when more bytes are
//!   needed, or a [`ProtocolError`]. Call it in a loop, draining the consumed bytes, because one
//!   transport frame may hold several messages (checklist FR-01, FR-05).
//! * `encode` appends exactly one framed message, so the caller can batch several into one
//!   transport frame.
//!
//! Every [`ProtocolError`] is fatal for the connection (as in .NET, which closes with
//! `Connection closed with an error.`); an unknown message type is not an error but
//! [`Decoded::Unknown`], which the caller logs and skips.

use crate::{HubMessage, PayloadError};

/// Whether a protocol's bytes can travel as text (WebSocket text frames, SSE) or need binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferFormat {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

/// The hub protocols this server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HubProtocol {
    /// `json`: one JSON object per message, each terminated by `0x1E`.
    Json,
    /// `messagepack`: VarInt length prefix + one MessagePack array per message.
    MessagePack,
}

/// Result of decoding one message.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    /// A message of a known type.
    Message(HubMessage),
    /// A well-framed message of a type this crate does not know; ignore it (forward
    /// compatibility, as .NET and the JS client do).
    Unknown {
        /// The type code found on the wire.
        message_type: i64,
    },
}

/// Why bytes could not be decoded into a hub message. Always fatal for the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The message is certainly longer than the configured maximum (JSON: no `0x1E` within
    /// `limit + 1` bytes; MessagePack: the length prefix says more than `limit`).
    #[error("The maximum message size of {limit}B was exceeded.")]
    MessageTooLarge {
        /// The configured maximum, in bytes.
        limit: usize,
    },
    /// A JSON message, or a MessagePack `str`, is not valid UTF-8.
    #[error("Message is not valid UTF-8.")]
    InvalidUtf8,
    /// The JSON is malformed (the text is serde_json's description).
    #[error("Error reading JSON: {0}")]
    InvalidJson(String),
    /// The JSON message is not an object (`found` names the token, .NET style).
    #[error("Unexpected JSON Token Type '{found}'. Expected a JSON Object.")]
    NotAnObject {
        /// The JSON token the message starts with (`Array`, `String`, `Null`, …).
        found: &'static str,
    },
    /// Arrays/objects/maps nest deeper than [`MAX_DEPTH`](crate::MAX_DEPTH).
    #[error("The message nests deeper than the maximum depth of {limit}.")]
    NestingTooDeep {
        /// The maximum depth.
        limit: usize,
    },
    /// A property required by the message type is absent (or an empty string where .NET
    /// requires a non-empty one).
    #[error("Missing required property '{0}'.")]
    MissingProperty(&'static str),
    /// A JSON property has the wrong type.
    #[error("Expected '{property}' to be of type {expected}.")]
    InvalidPropertyType {
        /// The property name.
        property: &'static str,
        /// The expected type, in .NET's words (`String`, `Number`, `Array`, …).
        expected: &'static str,
    },
    /// A header value is not a string.
    #[error("Expected header '{name}' to be of type String.")]
    InvalidHeader {
        /// The header name.
        name: String,
    },
    /// A `streamIds` element is not a string.
    #[error("Expected each 'streamIds' element to be of type String.")]
    InvalidStreamId,
    /// A JSON Completion has both `error` and `result`.
    #[error("The 'error' and 'result' properties are mutually exclusive.")]
    ErrorAndResult,
    /// A MessagePack length prefix is longer than 5 bytes or exceeds 2^31−1.
    #[error("Messages over 2GB in size are not supported.")]
    LengthPrefixOverflow,
    /// The MessagePack data is malformed.
    #[error("Error reading MessagePack: {0}.")]
    InvalidMessagePack(&'static str),
    /// The MessagePack message is not an array.
    #[error("Expected the MessagePack message to be an array.")]
    NotAnArray,
    /// The MessagePack array is too short for its message type.
    #[error("{message_type} message has {actual} element(s), expected at least {min}.")]
    TooFewElements {
        /// The message type name.
        message_type: &'static str,
        /// The minimum number of elements.
        min: usize,
        /// The number of elements present.
        actual: usize,
    },
    /// A MessagePack array element has the wrong type.
    #[error("Reading '{field}' as {expected} failed.")]
    InvalidElementType {
        /// The element name.
        field: &'static str,
        /// The expected MessagePack type.
        expected: &'static str,
    },
    /// A required MessagePack string is nil or empty.
    #[error("Null or empty {0}.")]
    NullOrEmpty(&'static str),
    /// A MessagePack Completion has a result kind other than 1, 2 or 3.
    #[error("Invalid invocation result kind {kind}.")]
    InvalidResultKind {
        /// The kind found on the wire.
        kind: i64,
    },
}

/// Why a message could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// A payload has no representation in the target protocol (e.g. a MessagePack extension
    /// type sent to a JSON client, or a JSON value nested too deeply to transcode).
    #[error("cannot encode a payload for the '{protocol}' protocol: {source}")]
    Payload {
        /// The target protocol's name.
        protocol: &'static str,
        /// What went wrong.
        #[source]
        source: PayloadError,
    },
    /// The encoded MessagePack message exceeds what the length prefix can express (2^31−1).
    #[error("the encoded message is {size} bytes, more than the 2147483647 a length prefix allows")]
    MessageTooLarge {
        /// The encoded size in bytes.
        size: usize,
    },
}

impl HubProtocol {
    /// Looks a protocol up by its handshake name (`json`, `messagepack`). Case-insensitive, as
    /// .NET's protocol resolver.
    pub fn from_name(name: &str) -> Option<HubProtocol> {
        if name.eq_ignore_ascii_case("json") {
            Some(HubProtocol::Json)
        } else if name.eq_ignore_ascii_case("messagepack") {
            Some(HubProtocol::MessagePack)
        } else {
            None
        }
    }

    /// The handshake name.
    pub fn name(self) -> &'static str {
        match self {
            HubProtocol::Json => "json",
            HubProtocol::MessagePack => "messagepack",
        }
    }

    /// Text for JSON, Binary for MessagePack.
    pub fn transfer_format(self) -> TransferFormat {
        match self {
            HubProtocol::Json => TransferFormat::Text,
            HubProtocol::MessagePack => TransferFormat::Binary,
        }
    }

    /// Whether a handshake may ask for `version` (`<= 2`, as the .NET protocols; checklist HS-02).
    pub fn is_version_supported(self, version: u32) -> bool {
        version <= 2
    }

    /// Decodes the first complete message at the start of `buf`. `Ok(None)` = need more bytes.
    ///
    /// Returns the decoded item and how many bytes of `buf` it consumed (framing included).
    /// Fails with [`ProtocolError::MessageTooLarge`] as soon as it is certain the message exceeds
    /// `max_message_size` bytes (JSON: no `0x1E` within the first `max_message_size + 1` bytes;
    /// MessagePack: length prefix above the maximum), before allocating anything for it.
    pub fn decode_next(
        self,
        buf: &[u8],
        max_message_size: usize,
    ) -> Result<Option<(Decoded, usize)>, ProtocolError> {
        match self {
            HubProtocol::Json => crate::json::decode_next(buf, max_message_size),
            HubProtocol::MessagePack => crate::messagepack::decode_next(buf, max_message_size),
        }
    }

    /// Appends the framed encoding (JSON + `0x1E`, or VarInt length + MessagePack array).
    ///
    /// On error nothing is appended.
    pub fn encode(self, message: &HubMessage, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            HubProtocol::Json => crate::json::encode(message, out),
            HubProtocol::MessagePack => crate::messagepack::encode(message, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_formats() {
        for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
            assert_eq!(HubProtocol::from_name(protocol.name()), Some(protocol));
        }
        assert_eq!(HubProtocol::from_name("JSON"), Some(HubProtocol::Json));
        assert_eq!(
            HubProtocol::from_name("MessagePack"),
            Some(HubProtocol::MessagePack)
        );
        assert_eq!(HubProtocol::from_name("xml"), None);
        assert_eq!(HubProtocol::Json.transfer_format(), TransferFormat::Text);
        assert_eq!(
            HubProtocol::MessagePack.transfer_format(),
            TransferFormat::Binary
        );
    }

    #[test]
    fn versions_up_to_two() {
        for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
            assert!(protocol.is_version_supported(0));
            assert!(protocol.is_version_supported(1));
            assert!(protocol.is_version_supported(2));
            assert!(!protocol.is_version_supported(3));
        }
    }
}
