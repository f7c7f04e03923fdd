//! The `messagepack` hub protocol: a VarInt length prefix, then one MessagePack array.
//!
//! # Format
//!
//! Checklist §9–10 (FR-04/05, MSG-10..17); `HubProtocol.md` "MessagePack (MsgPack) encoding";
//! .NET `MessagePackHubProtocolWorker.cs`; JS `MessagePackHubProtocol.ts`.
//!
//! Length prefix: 7 bits per byte, least significant group first, high bit set = more bytes
//! follow; 1–5 bytes, at most 2^31−1, so the 5th byte is ≤ 7 (`0x35` = 53, `0x80 0x29` = 5248,
//! `0xFF 0xFF 0xFF 0xFF 0x07` = 2^31−1). The length counts the MessagePack bytes only.
//!
//! ```text
//! type  array (elements in order; `?` = may be absent on input)      server writes
//! 1     [1, Headers, InvocationId|nil, Target, [Arguments], [StreamIds]?]   6 elements
//! 2     [2, Headers, InvocationId, Item]
//! 3     [3, Headers, InvocationId, 1, ErrorText]                      error
//!       [3, Headers, InvocationId, 2]                                 void
//!       [3, Headers, InvocationId, 3, Result]                         value (may be nil)
//! 4     [4, Headers, InvocationId, Target, [Arguments], [StreamIds]?]   6 elements
//! 5     [5, Headers, InvocationId]
//! 6     [6]                                                           framed: 02 91 06
//! 7     [7, Error|nil, AllowReconnect?]                               3 elements
//! 8     [8, SequenceId]
//! 9     [9, SequenceId]
//! ```
//!
//! Headers is a map of `str` → `str`. Example, an Invocation of `method("xyz"-id, 42)`:
//! `96 01 80 a3 78 79 7a a6 6d 65 74 68 6f 64 91 2a 90`.
//!
//! Decoding rules: an Invocation with a nil or empty id is non-blocking (as .NET); other ids
//! must be non-empty strings; extra trailing array elements and trailing bytes inside the
//! declared length are ignored (forward compatibility, as .NET); a nil `StreamIds` reads as
//! empty. Integers are accepted in any width (`[8, 0xcc 0x24]` is Ack 36) and written in the
//! smallest one. Values are read with a depth bound and with declared lengths checked against
//! the bytes actually present (see the private `msgpack_value` module).

use rmpv::Value;

use crate::message::{ACK, CANCEL_INVOCATION, CLOSE, COMPLETION, INVOCATION, PING, SEQUENCE};
use crate::message::{STREAM_INVOCATION, STREAM_ITEM};
use crate::msgpack_value::{
    Reader, write_array_len, write_bool, write_int, write_map_len, write_nil, write_str,
    write_uint, write_value,
};
use crate::{
    CancelInvocation, Close, Completion, CompletionResult, Decoded, EncodeError, Headers,
    HubMessage, Invocation, Payload, PayloadError, ProtocolError, StreamInvocation, StreamItem,
};

/// Largest message body a length prefix can declare (2^31−1 bytes).
pub const MAX_LENGTH_PREFIX_VALUE: usize = 0x7FFF_FFFF;

/// Completion result kind: error text follows.
const RESULT_ERROR: i64 = 1;
/// Completion result kind: no result.
const RESULT_VOID: i64 = 2;
/// Completion result kind: a result value (possibly nil) follows.
const RESULT_VALUE: i64 = 3;

/// Reads the VarInt length prefix at the start of `buf`: `Ok(Some((length, prefix_bytes)))`,
/// `Ok(None)` if the prefix is not complete yet.
pub fn read_length_prefix(buf: &[u8]) -> Result<Option<(usize, usize)>, ProtocolError> {
    let mut length: usize = 0;
    for (index, &byte) in buf.iter().take(5).enumerate() {
        if index == 4 && byte > 0x07 {
            // A 5th byte above 7 means > 2^31−1 or a 6th byte: both refused, as .NET does.
            return Err(ProtocolError::LengthPrefixOverflow);
        }
        length |= usize::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(Some((length, index + 1)));
        }
    }
    Ok(None)
}

/// Appends `length` as a VarInt (1–5 bytes). `length` must be ≤ [`MAX_LENGTH_PREFIX_VALUE`].
pub fn write_length_prefix(length: usize, out: &mut Vec<u8>) {
    let mut rest = length;
    loop {
        let low = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Decodes the first length-prefixed message in `buf` (see
/// [`HubProtocol::decode_next`](crate::HubProtocol::decode_next)).
pub fn decode_next(
    buf: &[u8],
    max_message_size: usize,
) -> Result<Option<(Decoded, usize)>, ProtocolError> {
    let Some((length, prefix)) = read_length_prefix(buf)? else {
        return Ok(None);
    };
    if length > max_message_size {
        return Err(ProtocolError::MessageTooLarge {
            limit: max_message_size,
        });
    }
    let end = prefix + length;
    let Some(body) = buf.get(prefix..end) else {
        return Ok(None);
    };
    Ok(Some((decode_body(body)?, end)))
}

/// Decodes one MessagePack message body (without its length prefix).
pub fn decode_body(body: &[u8]) -> Result<Decoded, ProtocolError> {
    let Value::Array(items) = Reader::new(body).read_value(1)? else {
        return Err(ProtocolError::NotAnArray);
    };
    let actual = items.len();
    let mut items = items.into_iter();
    let message_type = match items.next() {
        Some(value) => integer(&value, "messageType")?,
        None => {
            return Err(ProtocolError::TooFewElements {
                message_type: "Hub",
                min: 1,
                actual,
            });
        }
    };
    let need = |message_type: &'static str, min: usize| {
        if actual < min {
            Err(ProtocolError::TooFewElements {
                message_type,
                min,
                actual,
            })
        } else {
            Ok(())
        }
    };
    // After `need`, `next()` always yields; `Nil` keeps this total without a panic path.
    let mut next = move || items.next().unwrap_or(Value::Nil);
    let message = match message_type {
        INVOCATION => {
            need("Invocation", 5)?;
            let headers = headers(next())?;
            let invocation_id =
                optional_string(next(), "invocationId")?.filter(|id| !id.is_empty());
            let target = non_empty_string(next(), "target", "target for Invocation message")?;
            let arguments = arguments(next())?;
            let stream_ids = if actual > 5 {
                stream_ids(next())?
            } else {
                Vec::new()
            };
            HubMessage::Invocation(Invocation {
                invocation_id,
                target,
                arguments,
                stream_ids,
                headers,
            })
        }
        STREAM_INVOCATION => {
            need("StreamInvocation", 5)?;
            let headers = headers(next())?;
            let invocation_id = non_empty_string(
                next(),
                "invocationId",
                "invocation ID for StreamInvocation message",
            )?;
            let target = non_empty_string(next(), "target", "target for StreamInvocation message")?;
            let arguments = arguments(next())?;
            let stream_ids = if actual > 5 {
                stream_ids(next())?
            } else {
                Vec::new()
            };
            HubMessage::StreamInvocation(StreamInvocation {
                invocation_id,
                target,
                arguments,
                stream_ids,
                headers,
            })
        }
        STREAM_ITEM => {
            need("StreamItem", 4)?;
            let headers = headers(next())?;
            let invocation_id = non_empty_string(
                next(),
                "invocationId",
                "invocation ID for StreamItem message",
            )?;
            HubMessage::StreamItem(StreamItem {
                invocation_id,
                item: Payload::from_msgpack(next()),
                headers,
            })
        }
        COMPLETION => {
            need("Completion", 4)?;
            let headers = headers(next())?;
            let invocation_id = non_empty_string(
                next(),
                "invocationId",
                "invocation ID for Completion message",
            )?;
            let result = match integer(&next(), "resultKind")? {
                RESULT_ERROR => {
                    need("Completion", 5)?;
                    match next() {
                        Value::String(text) => {
                            CompletionResult::Error(text.into_str().unwrap_or_default())
                        }
                        _ => {
                            return Err(ProtocolError::InvalidElementType {
                                field: "error",
                                expected: "String",
                            });
                        }
                    }
                }
                RESULT_VOID => CompletionResult::Void,
                RESULT_VALUE => {
                    need("Completion", 5)?;
                    CompletionResult::Value(Payload::from_msgpack(next()))
                }
                kind => return Err(ProtocolError::InvalidResultKind { kind }),
            };
            HubMessage::Completion(Completion {
                invocation_id,
                result,
                headers,
            })
        }
        CANCEL_INVOCATION => {
            need("CancelInvocation", 3)?;
            let headers = headers(next())?;
            let invocation_id = non_empty_string(
                next(),
                "invocationId",
                "invocation ID for CancelInvocation message",
            )?;
            HubMessage::CancelInvocation(CancelInvocation {
                invocation_id,
                headers,
            })
        }
        PING => HubMessage::Ping,
        CLOSE => {
            need("Close", 2)?;
            let error = optional_string(next(), "error")?;
            let allow_reconnect = if actual > 2 {
                match next() {
                    Value::Boolean(b) => b,
                    _ => {
                        return Err(ProtocolError::InvalidElementType {
                            field: "allowReconnect",
                            expected: "Boolean",
                        });
                    }
                }
            } else {
                false
            };
            HubMessage::Close(Close {
                error,
                allow_reconnect,
            })
        }
        ACK => {
            need("Ack", 2)?;
            HubMessage::Ack {
                sequence_id: unsigned(&next(), "sequenceId")?,
            }
        }
        SEQUENCE => {
            need("Sequence", 2)?;
            HubMessage::Sequence {
                sequence_id: unsigned(&next(), "sequenceId")?,
            }
        }
        other => {
            return Ok(Decoded::Unknown {
                message_type: other,
            });
        }
    };
    Ok(Decoded::Message(message))
}

fn integer(value: &Value, field: &'static str) -> Result<i64, ProtocolError> {
    value.as_i64().ok_or(ProtocolError::InvalidElementType {
        field,
        expected: "Integer",
    })
}

fn unsigned(value: &Value, field: &'static str) -> Result<u64, ProtocolError> {
    value.as_u64().ok_or(ProtocolError::InvalidElementType {
        field,
        expected: "unsigned Integer",
    })
}

/// `nil` → `None`, `str` → `Some` (the reader guarantees UTF-8), anything else → error.
fn optional_string(value: Value, field: &'static str) -> Result<Option<String>, ProtocolError> {
    match value {
        Value::Nil => Ok(None),
        Value::String(text) => Ok(Some(text.into_str().unwrap_or_default())),
        _ => Err(ProtocolError::InvalidElementType {
            field,
            expected: "String",
        }),
    }
}

fn non_empty_string(
    value: Value,
    field: &'static str,
    what: &'static str,
) -> Result<String, ProtocolError> {
    match optional_string(value, field)? {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(ProtocolError::NullOrEmpty(what)),
    }
}

fn headers(value: Value) -> Result<Headers, ProtocolError> {
    let Value::Map(pairs) = value else {
        return Err(ProtocolError::InvalidElementType {
            field: "headers",
            expected: "Map",
        });
    };
    let mut headers = Headers::new();
    for (name, value) in pairs {
        let Value::String(name) = name else {
            return Err(ProtocolError::InvalidElementType {
                field: "header name",
                expected: "String",
            });
        };
        let name = name.into_str().unwrap_or_default();
        match value {
            Value::String(value) => {
                headers.insert(name, value.into_str().unwrap_or_default());
            }
            _ => return Err(ProtocolError::InvalidHeader { name }),
        }
    }
    Ok(headers)
}

fn arguments(value: Value) -> Result<Vec<Payload>, ProtocolError> {
    match value {
        Value::Array(items) => Ok(items.into_iter().map(Payload::from_msgpack).collect()),
        _ => Err(ProtocolError::InvalidElementType {
            field: "arguments",
            expected: "Array",
        }),
    }
}

fn stream_ids(value: Value) -> Result<Vec<String>, ProtocolError> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(id) => Ok(id.into_str().unwrap_or_default()),
                _ => Err(ProtocolError::InvalidStreamId),
            })
            .collect(),
        _ => Err(ProtocolError::InvalidElementType {
            field: "streamIds",
            expected: "Array",
        }),
    }
}

// ---- encoding -----------------------------------------------------------------------------

/// Appends `message` as VarInt length + MessagePack array (see
/// [`HubProtocol::encode`](crate::HubProtocol::encode)). On error nothing is appended.
pub fn encode(message: &HubMessage, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    if let Err(source) = encode_body(message, out) {
        out.truncate(start);
        return Err(EncodeError::Payload {
            protocol: "messagepack",
            source,
        });
    }
    let length = out.len() - start;
    if length > MAX_LENGTH_PREFIX_VALUE {
        out.truncate(start);
        return Err(EncodeError::MessageTooLarge { size: length });
    }
    // The body was written first so its length is known; shifting it right by the 1–5 prefix
    // bytes is a single memmove and saves a scratch buffer per message.
    let mut prefix = Vec::with_capacity(5);
    write_length_prefix(length, &mut prefix);
    out.splice(start..start, prefix);
    Ok(())
}

fn encode_body(message: &HubMessage, out: &mut Vec<u8>) -> Result<(), PayloadError> {
    match message {
        HubMessage::Invocation(m) => {
            write_array_len(out, 6);
            write_int(out, INVOCATION);
            write_headers(out, &m.headers);
            match m.invocation_id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => write_str(out, id),
                None => write_nil(out),
            }
            write_call(out, &m.target, &m.arguments, &m.stream_ids)?;
        }
        HubMessage::StreamInvocation(m) => {
            write_array_len(out, 6);
            write_int(out, STREAM_INVOCATION);
            write_headers(out, &m.headers);
            write_str(out, &m.invocation_id);
            write_call(out, &m.target, &m.arguments, &m.stream_ids)?;
        }
        HubMessage::StreamItem(m) => {
            write_array_len(out, 4);
            write_int(out, STREAM_ITEM);
            write_headers(out, &m.headers);
            write_str(out, &m.invocation_id);
            write_value(out, m.item.to_msgpack()?.as_ref());
        }
        HubMessage::Completion(m) => {
            let has_value = !matches!(m.result, CompletionResult::Void);
            write_array_len(out, if has_value { 5 } else { 4 });
            write_int(out, COMPLETION);
            write_headers(out, &m.headers);
            write_str(out, &m.invocation_id);
            match &m.result {
                CompletionResult::Void => write_int(out, RESULT_VOID),
                CompletionResult::Error(error) => {
                    write_int(out, RESULT_ERROR);
                    write_str(out, error);
                }
                CompletionResult::Value(value) => {
                    write_int(out, RESULT_VALUE);
                    write_value(out, value.to_msgpack()?.as_ref());
                }
            }
        }
        HubMessage::CancelInvocation(m) => {
            write_array_len(out, 3);
            write_int(out, CANCEL_INVOCATION);
            write_headers(out, &m.headers);
            write_str(out, &m.invocation_id);
        }
        HubMessage::Ping => {
            write_array_len(out, 1);
            write_int(out, PING);
        }
        HubMessage::Close(m) => {
            write_array_len(out, 3);
            write_int(out, CLOSE);
            match &m.error {
                Some(error) => write_str(out, error),
                None => write_nil(out),
            }
            write_bool(out, m.allow_reconnect);
        }
        HubMessage::Ack { sequence_id } | HubMessage::Sequence { sequence_id } => {
            write_array_len(out, 2);
            write_int(out, message.message_type());
            write_uint(out, *sequence_id);
        }
    }
    Ok(())
}

fn write_headers(out: &mut Vec<u8>, headers: &Headers) {
    write_map_len(out, headers.len());
    for (name, value) in headers {
        write_str(out, name);
        write_str(out, value);
    }
}

fn write_call(
    out: &mut Vec<u8>,
    target: &str,
    arguments: &[Payload],
    stream_ids: &[String],
) -> Result<(), PayloadError> {
    write_str(out, target);
    write_array_len(out, arguments.len());
    for argument in arguments {
        write_value(out, argument.to_msgpack()?.as_ref());
    }
    write_array_len(out, stream_ids.len());
    for id in stream_ids {
        write_str(out, id);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
