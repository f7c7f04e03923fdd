//! The `json` hub protocol: one UTF-8 JSON object per message, terminated by `0x1E`.
//!
//! # Format
//!
//! Checklist §9–10 (FR-01..03, MSG-01..09); `HubProtocol.md` "JSON Encoding".
//! `?` marks an optional property; the encoder writes properties in this order, omits every
//! absent one (never `"invocationId":null`), and omits empty `headers` and `streamIds`, exactly
//! as .NET's `JsonHubProtocol` does. The decoder accepts any order and ignores unknown
//! properties.
//!
//! ```text
//! type  shape (followed by 0x1E)
//! 1     {"type":1,"headers"?:{..},"invocationId"?:"id","target":"m","arguments":[..],"streamIds"?:["s"]}
//! 2     {"type":2,"headers"?:{..},"invocationId":"id","item":<any>}
//! 3     {"type":3,"headers"?:{..},"invocationId":"id"}                    void
//!       {"type":3,"headers"?:{..},"invocationId":"id","result":<any>}     value (may be null)
//!       {"type":3,"headers"?:{..},"invocationId":"id","error":"text"}     error
//! 4     {"type":4,"headers"?:{..},"invocationId":"id","target":"m","arguments":[..],"streamIds"?:[..]}
//! 5     {"type":5,"headers"?:{..},"invocationId":"id"}
//! 6     {"type":6}
//! 7     {"type":7,"error"?:"text","allowReconnect"?:true}
//! 8     {"type":8,"sequenceId":n}
//! 9     {"type":9,"sequenceId":n}
//! ```
//!
//! Decoding rules (from .NET `JsonHubProtocol.cs`): a required string that is `null` or empty
//! counts as missing; an Invocation with a `null`/empty `invocationId` is non-blocking; `result`
//! present (even `null`) makes a value Completion, and `result` with a non-null `error` is an
//! error; header values must be strings. Where .NET throws on a `null` `headers`/`streamIds`,
//! this decoder reads it as empty (the JS client does the same for `streamIds`).
//! Payloads (`arguments` elements, `item`, `result`) are kept as validated JSON text and are
//! only deserialized when the hub asks ([`Payload::deserialize`](crate::Payload::deserialize)).

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::message::{ACK, CANCEL_INVOCATION, CLOSE, COMPLETION, INVOCATION, PING, SEQUENCE};
use crate::message::{STREAM_INVOCATION, STREAM_ITEM};
use crate::text::{Record, exceeds_depth, first_token_kind, split_record};
use crate::{
    CancelInvocation, Close, Completion, CompletionResult, Decoded, EncodeError, Headers,
    HubMessage, Invocation, MAX_DEPTH, Payload, ProtocolError, RECORD_SEPARATOR, StreamInvocation,
    StreamItem,
};

/// Decodes the first `0x1E`-terminated message in `buf` (see
/// [`HubProtocol::decode_next`](crate::HubProtocol::decode_next)).
pub fn decode_next(
    buf: &[u8],
    max_message_size: usize,
) -> Result<Option<(Decoded, usize)>, ProtocolError> {
    match split_record(buf, max_message_size) {
        Record::Incomplete => Ok(None),
        Record::TooLarge => Err(ProtocolError::MessageTooLarge {
            limit: max_message_size,
        }),
        Record::Complete { record, consumed } => Ok(Some((decode_record(record)?, consumed))),
    }
}

/// Decodes one JSON message without its `0x1E` terminator.
pub fn decode_record(record: &[u8]) -> Result<Decoded, ProtocolError> {
    let text = std::str::from_utf8(record).map_err(|_| ProtocolError::InvalidUtf8)?;
    match first_token_kind(text) {
        Some("Object") | None => {}
        Some(found) => return Err(ProtocolError::NotAnObject { found }),
    }
    if exceeds_depth(record, MAX_DEPTH) {
        return Err(ProtocolError::NestingTooDeep { limit: MAX_DEPTH });
    }
    let fields: Fields<'_> = serde_json::from_str(text).map_err(|e| invalid_json(&e))?;
    fields.into_decoded()
}

fn invalid_json(error: &serde_json::Error) -> ProtocolError {
    ProtocolError::InvalidJson(error.to_string())
}

/// The known properties of a message, captured as raw JSON in the first pass so that their
/// order does not matter and each can be type-checked with a precise error in the second.
#[derive(Default)]
struct Fields<'a> {
    message_type: Option<&'a RawValue>,
    invocation_id: Option<&'a RawValue>,
    target: Option<&'a RawValue>,
    arguments: Option<&'a RawValue>,
    stream_ids: Option<&'a RawValue>,
    headers: Option<&'a RawValue>,
    item: Option<&'a RawValue>,
    result: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
    allow_reconnect: Option<&'a RawValue>,
    sequence_id: Option<&'a RawValue>,
}

/// A property name, matched after unescaping (so `"t\u0079pe"` is `type`, as in .NET).
enum Key {
    Type,
    InvocationId,
    Target,
    Arguments,
    StreamIds,
    Headers,
    Item,
    Result,
    Error,
    AllowReconnect,
    SequenceId,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a property name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Key, E> {
                Ok(match name {
                    "type" => Key::Type,
                    "invocationId" => Key::InvocationId,
                    "target" => Key::Target,
                    "arguments" => Key::Arguments,
                    "streamIds" => Key::StreamIds,
                    "headers" => Key::Headers,
                    "item" => Key::Item,
                    "result" => Key::Result,
                    "error" => Key::Error,
                    "allowReconnect" => Key::AllowReconnect,
                    "sequenceId" => Key::SequenceId,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Fields::default();
                // A repeated property overwrites the earlier one, as in .NET and JSON.parse.
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::Type => &mut fields.message_type,
                        Key::InvocationId => &mut fields.invocation_id,
                        Key::Target => &mut fields.target,
                        Key::Arguments => &mut fields.arguments,
                        Key::StreamIds => &mut fields.stream_ids,
                        Key::Headers => &mut fields.headers,
                        Key::Item => &mut fields.item,
                        Key::Result => &mut fields.result,
                        Key::Error => &mut fields.error,
                        Key::AllowReconnect => &mut fields.allow_reconnect,
                        Key::SequenceId => &mut fields.sequence_id,
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value::<&'de RawValue>()?);
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// `null` → `None`, string → `Some`, anything else → typed error.
fn optional_string(
    raw: Option<&RawValue>,
    property: &'static str,
) -> Result<Option<String>, ProtocolError> {
    match raw {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<Option<String>>(raw.get()).map_err(|_| {
            ProtocolError::InvalidPropertyType {
                property,
                expected: "String",
            }
        }),
    }
}

/// A string that .NET requires to be present and non-empty.
fn required_string(
    raw: Option<&RawValue>,
    property: &'static str,
) -> Result<String, ProtocolError> {
    match optional_string(raw, property)? {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(ProtocolError::MissingProperty(property)),
    }
}

fn arguments(raw: Option<&RawValue>) -> Result<Option<Vec<Payload>>, ProtocolError> {
    let Some(raw) = raw else { return Ok(None) };
    let items = serde_json::from_str::<Vec<&RawValue>>(raw.get()).map_err(|_| {
        ProtocolError::InvalidPropertyType {
            property: "arguments",
            expected: "Array",
        }
    })?;
    Ok(Some(
        items
            .into_iter()
            .map(|item| Payload::from_raw_json(item.to_owned()))
            .collect(),
    ))
}

fn stream_ids(raw: Option<&RawValue>) -> Result<Vec<String>, ProtocolError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let items = serde_json::from_str::<Option<Vec<&RawValue>>>(raw.get()).map_err(|_| {
        ProtocolError::InvalidPropertyType {
            property: "streamIds",
            expected: "Array",
        }
    })?;
    items
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            serde_json::from_str::<String>(item.get()).map_err(|_| ProtocolError::InvalidStreamId)
        })
        .collect()
}

fn headers(raw: Option<&RawValue>) -> Result<Headers, ProtocolError> {
    let Some(raw) = raw else {
        return Ok(Headers::new());
    };
    let map = serde_json::from_str::<Option<serde_json::Map<String, serde_json::Value>>>(raw.get())
        .map_err(|_| ProtocolError::InvalidPropertyType {
            property: "headers",
            expected: "Object",
        })?;
    map.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(value) => Ok((name, value)),
            _ => Err(ProtocolError::InvalidHeader { name }),
        })
        .collect()
}

fn payload(raw: Option<&RawValue>) -> Option<Payload> {
    raw.map(|raw| Payload::from_raw_json(raw.to_owned()))
}

fn sequence_id(raw: Option<&RawValue>) -> Result<u64, ProtocolError> {
    let raw = raw.ok_or(ProtocolError::MissingProperty("sequenceId"))?;
    serde_json::from_str::<u64>(raw.get()).map_err(|_| ProtocolError::InvalidPropertyType {
        property: "sequenceId",
        expected: "Number",
    })
}

impl Fields<'_> {
    fn into_decoded(self) -> Result<Decoded, ProtocolError> {
        let raw_type = self
            .message_type
            .ok_or(ProtocolError::MissingProperty("type"))?;
        let message_type = serde_json::from_str::<i64>(raw_type.get()).map_err(|_| {
            ProtocolError::InvalidPropertyType {
                property: "type",
                expected: "Number",
            }
        })?;
        let message = match message_type {
            INVOCATION => {
                let invocation_id = optional_string(self.invocation_id, "invocationId")?
                    .filter(|id| !id.is_empty());
                let target = optional_string(self.target, "target")?;
                let arguments = arguments(self.arguments)?;
                let stream_ids = stream_ids(self.stream_ids)?;
                let headers = headers(self.headers)?;
                HubMessage::Invocation(Invocation {
                    invocation_id,
                    target: target
                        .filter(|t| !t.is_empty())
                        .ok_or(ProtocolError::MissingProperty("target"))?,
                    arguments: arguments.ok_or(ProtocolError::MissingProperty("arguments"))?,
                    stream_ids,
                    headers,
                })
            }
            STREAM_INVOCATION => {
                let invocation_id = optional_string(self.invocation_id, "invocationId")?;
                let target = optional_string(self.target, "target")?;
                let arguments = arguments(self.arguments)?;
                let stream_ids = stream_ids(self.stream_ids)?;
                let headers = headers(self.headers)?;
                // .NET checks invocationId, then arguments, then target.
                let invocation_id = invocation_id
                    .filter(|id| !id.is_empty())
                    .ok_or(ProtocolError::MissingProperty("invocationId"))?;
                let arguments = arguments.ok_or(ProtocolError::MissingProperty("arguments"))?;
                HubMessage::StreamInvocation(StreamInvocation {
                    invocation_id,
                    target: target
                        .filter(|t| !t.is_empty())
                        .ok_or(ProtocolError::MissingProperty("target"))?,
                    arguments,
                    stream_ids,
                    headers,
                })
            }
            STREAM_ITEM => {
                let invocation_id = required_string(self.invocation_id, "invocationId")?;
                let headers = headers(self.headers)?;
                HubMessage::StreamItem(StreamItem {
                    invocation_id,
                    item: payload(self.item).ok_or(ProtocolError::MissingProperty("item"))?,
                    headers,
                })
            }
            COMPLETION => {
                let invocation_id = required_string(self.invocation_id, "invocationId")?;
                let error = optional_string(self.error, "error")?;
                let headers = headers(self.headers)?;
                let result = match (error, payload(self.result)) {
                    (Some(_), Some(_)) => return Err(ProtocolError::ErrorAndResult),
                    (Some(error), None) => CompletionResult::Error(error),
                    (None, Some(value)) => CompletionResult::Value(value),
                    (None, None) => CompletionResult::Void,
                };
                HubMessage::Completion(Completion {
                    invocation_id,
                    result,
                    headers,
                })
            }
            CANCEL_INVOCATION => {
                let invocation_id = required_string(self.invocation_id, "invocationId")?;
                HubMessage::CancelInvocation(CancelInvocation {
                    invocation_id,
                    headers: headers(self.headers)?,
                })
            }
            PING => HubMessage::Ping,
            CLOSE => {
                let error = optional_string(self.error, "error")?;
                let allow_reconnect = match self.allow_reconnect {
                    None => false,
                    Some(raw) => serde_json::from_str::<bool>(raw.get()).map_err(|_| {
                        ProtocolError::InvalidPropertyType {
                            property: "allowReconnect",
                            expected: "Boolean",
                        }
                    })?,
                };
                HubMessage::Close(Close {
                    error,
                    allow_reconnect,
                })
            }
            ACK => HubMessage::Ack {
                sequence_id: sequence_id(self.sequence_id)?,
            },
            SEQUENCE => HubMessage::Sequence {
                sequence_id: sequence_id(self.sequence_id)?,
            },
            other => {
                return Ok(Decoded::Unknown {
                    message_type: other,
                });
            }
        };
        Ok(Decoded::Message(message))
    }
}

// ---- encoding -----------------------------------------------------------------------------

/// Appends `message` as JSON + `0x1E` (see [`HubProtocol::encode`](crate::HubProtocol::encode)).
/// On error nothing is appended.
pub fn encode(message: &HubMessage, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    let result = encode_body(message, out);
    match result {
        Ok(()) => {
            out.push(RECORD_SEPARATOR);
            Ok(())
        }
        Err(source) => {
            out.truncate(start);
            Err(EncodeError::Payload {
                protocol: "json",
                source,
            })
        }
    }
}

fn encode_body(message: &HubMessage, out: &mut Vec<u8>) -> Result<(), crate::PayloadError> {
    out.extend_from_slice(b"{\"type\":");
    write_i64(out, message.message_type());
    match message {
        HubMessage::Invocation(m) => {
            write_headers(out, &m.headers);
            if let Some(id) = m.invocation_id.as_deref().filter(|id| !id.is_empty()) {
                write_string_property(out, "invocationId", id);
            }
            write_call(out, &m.target, &m.arguments, &m.stream_ids)?;
        }
        HubMessage::StreamInvocation(m) => {
            write_headers(out, &m.headers);
            write_string_property(out, "invocationId", &m.invocation_id);
            write_call(out, &m.target, &m.arguments, &m.stream_ids)?;
        }
        HubMessage::StreamItem(m) => {
            write_headers(out, &m.headers);
            write_string_property(out, "invocationId", &m.invocation_id);
            out.extend_from_slice(b",\"item\":");
            m.item.write_json(out)?;
        }
        HubMessage::Completion(m) => {
            write_headers(out, &m.headers);
            write_string_property(out, "invocationId", &m.invocation_id);
            match &m.result {
                CompletionResult::Void => {}
                CompletionResult::Value(value) => {
                    out.extend_from_slice(b",\"result\":");
                    value.write_json(out)?;
                }
                CompletionResult::Error(error) => write_string_property(out, "error", error),
            }
        }
        HubMessage::CancelInvocation(m) => {
            write_headers(out, &m.headers);
            write_string_property(out, "invocationId", &m.invocation_id);
        }
        HubMessage::Ping => {}
        HubMessage::Close(m) => {
            if let Some(error) = &m.error {
                write_string_property(out, "error", error);
            }
            if m.allow_reconnect {
                out.extend_from_slice(b",\"allowReconnect\":true");
            }
        }
        HubMessage::Ack { sequence_id } | HubMessage::Sequence { sequence_id } => {
            out.extend_from_slice(b",\"sequenceId\":");
            out.extend_from_slice(sequence_id.to_string().as_bytes());
        }
    }
    out.push(b'}');
    Ok(())
}

fn write_call(
    out: &mut Vec<u8>,
    target: &str,
    arguments: &[Payload],
    stream_ids: &[String],
) -> Result<(), crate::PayloadError> {
    write_string_property(out, "target", target);
    out.extend_from_slice(b",\"arguments\":[");
    for (i, argument) in arguments.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        argument.write_json(out)?;
    }
    out.push(b']');
    if !stream_ids.is_empty() {
        out.extend_from_slice(b",\"streamIds\":[");
        for (i, id) in stream_ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_string(out, id);
        }
        out.push(b']');
    }
    Ok(())
}

fn write_headers(out: &mut Vec<u8>, headers: &Headers) {
    if headers.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"headers\":{");
    for (i, (name, value)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(out, name);
        out.push(b':');
        write_json_string(out, value);
    }
    out.push(b'}');
}

fn write_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(value.to_string().as_bytes());
}

/// `,"name":"value"` — `name` is one of our constant ASCII property names.
fn write_string_property(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    write_json_string(out, value);
}

/// Writes a JSON string literal, escaping exactly as serde_json does: `"`, `\` and every control
/// character below U+0020 — which includes the record separator U+001E, so a string can never
/// end a record early (checklist FR-02).
pub(crate) fn write_json_string(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

#[cfg(test)]
mod tests;
