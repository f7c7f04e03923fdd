//! Shared test helpers: proptest strategies for payloads and messages, and a streaming decode
//! loop that mimics how the hub feeds transport frames into a codec.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::Value as JsonValue;

use crate::{
    CancelInvocation, Close, Completion, CompletionResult, Decoded, Headers, HubMessage,
    HubProtocol, Invocation, Payload, ProtocolError, StreamInvocation, StreamItem,
};

/// Any JSON value of modest size and depth (finite floats only: JSON has no NaN).
pub(crate) fn arb_json_value() -> impl Strategy<Value = JsonValue> {
    let leaf = prop_oneof![
        Just(JsonValue::Null),
        any::<bool>().prop_map(JsonValue::Bool),
        any::<i64>().prop_map(JsonValue::from),
        any::<u64>().prop_map(JsonValue::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(JsonValue::from),
        "(?s).{0,12}".prop_map(JsonValue::String),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(JsonValue::Array),
            btree_map("(?s).{0,8}", inner, 0..5)
                .prop_map(|map| JsonValue::Object(map.into_iter().collect())),
        ]
    })
}

/// Payloads built the way the hub builds them: `Payload::from_serialize`.
pub(crate) fn arb_json_payload() -> BoxedStrategy<Payload> {
    arb_json_value()
        .prop_map(|value| Payload::from_serialize(&value).unwrap())
        .boxed()
}

/// Any MessagePack value, including the types JSON lacks (bin, ext, f32, non-string keys).
pub(crate) fn arb_msgpack_value() -> impl Strategy<Value = rmpv::Value> {
    use rmpv::Value;
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f32>().prop_map(Value::F32),
        any::<f64>().prop_map(Value::F64),
        "(?s).{0,12}".prop_map(|s| Value::from(s.as_str())),
        vec(any::<u8>(), 0..20).prop_map(Value::Binary),
        (any::<i8>(), vec(any::<u8>(), 0..20)).prop_map(|(tag, data)| Value::Ext(tag, data)),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((inner.clone(), inner), 0..5).prop_map(Value::Map),
        ]
    })
}

/// Payloads as decoded from a MessagePack client.
pub(crate) fn arb_msgpack_payload() -> BoxedStrategy<Payload> {
    arb_msgpack_value().prop_map(Payload::from_msgpack).boxed()
}

fn arb_id() -> BoxedStrategy<String> {
    prop_oneof![
        "[0-9]{1,4}",
        "(?s).{1,10}",
        Just("\u{1e}".to_owned()),
        Just("s\"\\\u{0}".to_owned()),
    ]
    .boxed()
}

fn arb_text() -> BoxedStrategy<String> {
    "(?s).{0,16}".boxed()
}

fn arb_headers() -> BoxedStrategy<Headers> {
    btree_map(arb_text(), arb_text(), 0..3).boxed()
}

/// Any hub message whose payloads come from `payload`. Ids and targets are non-empty, as both
/// protocols require (an empty Invocation id means "no id").
pub(crate) fn arb_message(payload: BoxedStrategy<Payload>) -> BoxedStrategy<HubMessage> {
    let args = vec(payload.clone(), 0..4);
    let streams = vec(arb_id(), 0..3);
    prop_oneof![
        (
            proptest::option::of(arb_id()),
            arb_id(),
            args.clone(),
            streams.clone(),
            arb_headers()
        )
            .prop_map(|(invocation_id, target, arguments, stream_ids, headers)| {
                HubMessage::Invocation(Invocation {
                    invocation_id,
                    target,
                    arguments,
                    stream_ids,
                    headers,
                })
            }),
        (arb_id(), payload.clone(), arb_headers()).prop_map(|(invocation_id, item, headers)| {
            HubMessage::StreamItem(StreamItem {
                invocation_id,
                item,
                headers,
            })
        }),
        (
            arb_id(),
            prop_oneof![
                Just(CompletionResult::Void),
                payload.prop_map(CompletionResult::Value),
                arb_text().prop_map(CompletionResult::Error),
            ],
            arb_headers()
        )
            .prop_map(|(invocation_id, result, headers)| {
                HubMessage::Completion(Completion {
                    invocation_id,
                    result,
                    headers,
                })
            }),
        (arb_id(), arb_id(), args, streams, arb_headers()).prop_map(
            |(invocation_id, target, arguments, stream_ids, headers)| {
                HubMessage::StreamInvocation(StreamInvocation {
                    invocation_id,
                    target,
                    arguments,
                    stream_ids,
                    headers,
                })
            }
        ),
        (arb_id(), arb_headers()).prop_map(|(invocation_id, headers)| {
            HubMessage::CancelInvocation(CancelInvocation {
                invocation_id,
                headers,
            })
        }),
        Just(HubMessage::Ping),
        (proptest::option::of(arb_text()), any::<bool>()).prop_map(|(error, allow_reconnect)| {
            HubMessage::Close(Close {
                error,
                allow_reconnect,
            })
        }),
        any::<u64>().prop_map(|sequence_id| HubMessage::Ack { sequence_id }),
        any::<u64>().prop_map(|sequence_id| HubMessage::Sequence { sequence_id }),
    ]
    .boxed()
}

/// Encodes one message, panicking on failure (test-only).
pub(crate) fn encode_one(protocol: HubProtocol, message: &HubMessage) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = protocol.encode(message, &mut out) {
        panic!("encoding {message:?} failed: {e}");
    }
    out
}

/// A receive buffer fed chunk by chunk, drained message by message, as a connection loop does.
pub(crate) struct Stream {
    protocol: HubProtocol,
    max: usize,
    pending: Vec<u8>,
    /// Everything decoded so far, in order.
    pub(crate) decoded: Vec<Decoded>,
}

impl Stream {
    pub(crate) fn new(protocol: HubProtocol, max: usize) -> Self {
        Stream {
            protocol,
            max,
            pending: Vec::new(),
            decoded: Vec::new(),
        }
    }

    /// Appends `chunk` and decodes every complete message now buffered.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), ProtocolError> {
        self.pending.extend_from_slice(chunk);
        while let Some((item, used)) = self.protocol.decode_next(&self.pending, self.max)? {
            assert!(used > 0 && used <= self.pending.len(), "consumed {used}");
            self.pending.drain(..used);
            self.decoded.push(item);
        }
        Ok(())
    }

    /// Bytes received but not yet part of a complete message.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// Decodes exactly one message occupying all of `bytes`.
pub(crate) fn decode_one(protocol: HubProtocol, bytes: &[u8]) -> Result<HubMessage, ProtocolError> {
    match protocol.decode_next(bytes, usize::MAX)? {
        Some((Decoded::Message(message), used)) => {
            assert_eq!(used, bytes.len(), "trailing bytes");
            Ok(message)
        }
        other => panic!("expected one message, got {other:?}"),
    }
}
