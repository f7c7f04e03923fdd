//! The ASP.NET Core SignalR wire protocol, as pure data and pure functions.
//!
//! # Layout
//!
//! This crate sits at the bottom of the SignalR stack: it turns bytes into [`HubMessage`]s and
//! back, and knows nothing of sockets, tasks or HTTP. The hub engine (`signalr-hub`) owns the I/O
//! and calls in here with whatever bytes a transport delivered.
//!
//! * [`handshake`] — the JSON handshake request/response that opens every connection.
//! * [`message`] — the hub message types 1–9.
//! * [`payload`] — the opaque [`Payload`] argument/result value shared by both protocols.
//! * [`json`] — the `json` hub protocol (records terminated by `0x1E`).
//! * [`messagepack`] — the `messagepack` hub protocol (VarInt length prefix + MessagePack array).
//! * [`HubProtocol`] (in [`protocol`]) — the codec chosen once per connection at handshake; an
//!   enum that delegates to [`json`] or [`messagepack`], never a `dyn` object.
//!
//! Decoding is total: any byte sequence yields a message, "incomplete" (`Ok(None)`), or a typed
//! error, and size limits are checked before anything proportional to the claimed size is
//! allocated. Nesting depth is bounded ([`MAX_DEPTH`]) so hostile input cannot overflow the stack.
//!
//! ```
//! use signalr_protocol::{HubMessage, HubProtocol, Decoded};
//!
//! let mut wire = Vec::new();
//! HubProtocol::Json.encode(&HubMessage::Ping, &mut wire).unwrap();
//! assert_eq!(wire, b"{\"type\":6}\x1e");
//! let (decoded, used) = HubProtocol::Json.decode_next(&wire, 32 * 1024).unwrap().unwrap();
//! assert_eq!(decoded, Decoded::Message(HubMessage::Ping));
//! assert_eq!(used, wire.len());
//! ```
//!
//! Reference: `dotnet/aspnetcore` `src/SignalR/docs/specs/HubProtocol.md` and the project's
//! `signalr-protocol.md` checklist (sections 8–10, 12).

pub mod handshake;
pub mod json;
pub mod message;
pub mod messagepack;
pub mod payload;
pub mod protocol;

mod msgpack_value;
#[cfg(test)]
mod test_support;
mod text;

pub use handshake::{
    HandshakeError, HandshakeRejection, HandshakeRequest, HandshakeResponse,
    decode_handshake_request, decode_handshake_response, encode_handshake_request,
    encode_handshake_response,
};
pub use message::{
    CancelInvocation, Close, Completion, CompletionResult, HubMessage, Invocation,
    StreamInvocation, StreamItem,
};
pub use payload::{Payload, PayloadError};
pub use protocol::{Decoded, EncodeError, HubProtocol, ProtocolError, TransferFormat};

/// The JSON record separator (ASCII RS) that terminates every handshake and JSON hub message.
pub const RECORD_SEPARATOR: u8 = 0x1E;

/// Message headers: string keys to string values (W3C trace context and the like).
///
/// A `BTreeMap` so that encoding is deterministic; receivers ignore headers anyway.
pub type Headers = std::collections::BTreeMap<String, String>;

/// Maximum nesting depth of arrays/objects/maps accepted when decoding a hub message, counting
/// the message itself as depth 1.
///
/// .NET's `Utf8JsonReader` defaults to 64 as well. The same bound applies to both protocols so
/// that any message decoded from one protocol can be re-encoded in the other and decoded again
/// (the message envelopes nest identically: object ↔ array, `arguments` ↔ array).
pub const MAX_DEPTH: usize = 64;

/// Default `MaximumReceiveMessageSize` of the .NET server (32 KiB), for callers that want the
/// reference limit.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 32 * 1024;
