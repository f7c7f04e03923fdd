//! The hub messages exchanged after the handshake, independent of their encoding.
//!
//! These are plain data: [`json`](crate::json) and [`messagepack`](crate::messagepack) map them
//! to and from bytes, and the hub engine decides what they mean. Type codes follow
//! `HubProtocol.md` (checklist §10):
//!
//! ```text
//! code  message           direction       notes
//! 1     Invocation        both            no invocation id = non-blocking (fire and forget)
//! 2     StreamItem        both            one item of a stream (server results / client uploads)
//! 3     Completion        both            result, error or void; ends an invocation or a stream
//! 4     StreamInvocation  client→server   invoke a streaming hub method
//! 5     CancelInvocation  client→server   stop a stream started with StreamInvocation
//! 6     Ping              both            keep-alive, no payload, no headers
//! 7     Close             both            orderly close, optional error and reconnect hint
//! 8     Ack               both            stateful reconnect: highest sequence id received
//! 9     Sequence          both            stateful reconnect: sequence id of the next message
//! ```

use crate::{Headers, Payload};

/// Message type code of [`HubMessage::Invocation`].
pub const INVOCATION: i64 = 1;
/// Message type code of [`HubMessage::StreamItem`].
pub const STREAM_ITEM: i64 = 2;
/// Message type code of [`HubMessage::Completion`].
pub const COMPLETION: i64 = 3;
/// Message type code of [`HubMessage::StreamInvocation`].
pub const STREAM_INVOCATION: i64 = 4;
/// Message type code of [`HubMessage::CancelInvocation`].
pub const CANCEL_INVOCATION: i64 = 5;
/// Message type code of [`HubMessage::Ping`].
pub const PING: i64 = 6;
/// Message type code of [`HubMessage::Close`].
pub const CLOSE: i64 = 7;
/// Message type code of [`HubMessage::Ack`].
pub const ACK: i64 = 8;
/// Message type code of [`HubMessage::Sequence`].
pub const SEQUENCE: i64 = 9;

/// A call of a hub method (client→server) or of a client handler (server→client).
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// `None` for a non-blocking call: no Completion may be sent back. An empty id on the wire
    /// also decodes as `None`, as in .NET.
    pub invocation_id: Option<String>,
    /// Method name (hub method or client handler).
    pub target: String,
    /// Positional arguments, upload-stream placeholders removed.
    pub arguments: Vec<Payload>,
    /// Ids of client→server upload streams feeding the method (usually empty).
    pub stream_ids: Vec<String>,
    /// Message headers; ignored by receivers.
    pub headers: Headers,
}

/// A call of a streaming hub method; the server answers with StreamItems and one Completion.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamInvocation {
    /// Id shared by the resulting StreamItem and Completion messages (required, non-empty).
    pub invocation_id: String,
    /// Hub method name.
    pub target: String,
    /// Positional arguments, upload-stream placeholders removed.
    pub arguments: Vec<Payload>,
    /// Ids of client→server upload streams feeding the method (usually empty).
    pub stream_ids: Vec<String>,
    /// Message headers; ignored by receivers.
    pub headers: Headers,
}

/// One item of a stream: a server→client result stream or a client→server upload stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamItem {
    /// The stream invocation id (or upload stream id).
    pub invocation_id: String,
    /// The item; always present on the wire, possibly `null`.
    pub item: Payload,
    /// Message headers; ignored by receivers.
    pub headers: Headers,
}

/// What a [`Completion`] carries.
#[derive(Clone, Debug, PartialEq)]
pub enum CompletionResult {
    /// No result (a void method, or the end of a stream). JSON: no `result`; MessagePack: kind 2.
    Void,
    /// A result value, possibly `null`. JSON: `result` present; MessagePack: kind 3.
    Value(Payload),
    /// The invocation failed with this message. JSON: `error`; MessagePack: kind 1.
    Error(String),
}

/// The end of an invocation or stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// Id of the invocation (or stream) being completed.
    pub invocation_id: String,
    /// Result, error or nothing.
    pub result: CompletionResult,
    /// Message headers; ignored by receivers.
    pub headers: Headers,
}

/// Client→server request to stop a stream started by a [`StreamInvocation`].
#[derive(Clone, Debug, PartialEq)]
pub struct CancelInvocation {
    /// Id of the stream invocation to cancel.
    pub invocation_id: String,
    /// Message headers; ignored by receivers.
    pub headers: Headers,
}

/// Orderly end of a connection, sent by whichever side closes it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Close {
    /// Why the connection was closed; `None` for a normal close.
    pub error: Option<String>,
    /// Whether a client with automatic reconnect should reconnect.
    pub allow_reconnect: bool,
}

/// Any hub message (types 1–9).
#[derive(Clone, Debug, PartialEq)]
pub enum HubMessage {
    /// Type 1.
    Invocation(Invocation),
    /// Type 2.
    StreamItem(StreamItem),
    /// Type 3.
    Completion(Completion),
    /// Type 4.
    StreamInvocation(StreamInvocation),
    /// Type 5.
    CancelInvocation(CancelInvocation),
    /// Type 6.
    Ping,
    /// Type 7.
    Close(Close),
    /// Type 8: stateful reconnect acknowledgement.
    Ack {
        /// Highest sequence id received so far.
        sequence_id: u64,
    },
    /// Type 9: stateful reconnect resynchronisation.
    Sequence {
        /// Sequence id of the next message the sender will send.
        sequence_id: u64,
    },
}

impl HubMessage {
    /// The numeric type code written on the wire.
    pub fn message_type(&self) -> i64 {
        match self {
            HubMessage::Invocation(_) => INVOCATION,
            HubMessage::StreamItem(_) => STREAM_ITEM,
            HubMessage::Completion(_) => COMPLETION,
            HubMessage::StreamInvocation(_) => STREAM_INVOCATION,
            HubMessage::CancelInvocation(_) => CANCEL_INVOCATION,
            HubMessage::Ping => PING,
            HubMessage::Close(_) => CLOSE,
            HubMessage::Ack { .. } => ACK,
            HubMessage::Sequence { .. } => SEQUENCE,
        }
    }
}
