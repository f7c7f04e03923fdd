//! MessagePack protocol tests: byte vectors from `HubProtocol.md` and .NET's
//! `MessagePackHubProtocolTestBase.cs`-style cases (checklist §18A), layouts MSG-10..17.

use proptest::prelude::*;
use rmpv::Value;

use super::*;
use crate::test_support::{
    Stream, arb_json_payload, arb_message, arb_msgpack_payload, decode_one, encode_one,
};
use crate::{HubProtocol, MAX_DEPTH, RECORD_SEPARATOR};

const MP: HubProtocol = HubProtocol::MessagePack;

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_length_prefix(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

fn body_message(body: &[u8]) -> HubMessage {
    match decode_body(body) {
        Ok(Decoded::Message(m)) => m,
        other => panic!("{body:02x?}: {other:?}"),
    }
}

fn body_error(body: &[u8]) -> String {
    match decode_body(body) {
        Err(e) => e.to_string(),
        other => panic!("{body:02x?}: expected an error, got {other:?}"),
    }
}

fn mp(value: Value) -> Payload {
    Payload::from_msgpack(value)
}

fn h(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---- length prefix ------------------------------------------------------------------------

#[test]
fn varint_boundaries() {
    let cases: &[(usize, &[u8])] = &[
        (0, &[0x00]),
        (53, &[0x35]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (5248, &[0x80, 0x29]),
        (16383, &[0xff, 0x7f]),
        (16384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xff, 0xff, 0x7f]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (0x7FFF_FFFF, &[0xff, 0xff, 0xff, 0xff, 0x07]),
    ];
    for &(value, bytes) in cases {
        let mut out = Vec::new();
        write_length_prefix(value, &mut out);
        assert_eq!(out, bytes, "encoding {value}");
        assert_eq!(
            read_length_prefix(bytes),
            Ok(Some((value, bytes.len()))),
            "decoding {value}"
        );
        // Every strict prefix of a multi-byte VarInt is incomplete.
        for end in 0..bytes.len() {
            assert_eq!(read_length_prefix(&bytes[..end]), Ok(None));
        }
    }
}

#[test]
fn varint_overflow_is_rejected() {
    // 5th byte > 7 (value ≥ 2^31, or a 6th byte would follow).
    assert_eq!(
        read_length_prefix(&[0xff, 0xff, 0xff, 0xff, 0x08]),
        Err(ProtocolError::LengthPrefixOverflow)
    );
    assert_eq!(
        read_length_prefix(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        Err(ProtocolError::LengthPrefixOverflow)
    );
    assert_eq!(
        read_length_prefix(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Err(ProtocolError::LengthPrefixOverflow)
    );
    assert_eq!(
        ProtocolError::LengthPrefixOverflow.to_string(),
        "Messages over 2GB in size are not supported."
    );
    // Non-canonical (over-long) but in range is accepted, as .NET does.
    assert_eq!(read_length_prefix(&[0x80, 0x00]), Ok(Some((0, 2))));
}

#[test]
fn message_size_limit_is_checked_on_the_prefix() {
    // A 2 GiB claim with no body: refused immediately, nothing allocated.
    assert_eq!(
        decode_next(&[0xff, 0xff, 0xff, 0xff, 0x07], 32 * 1024),
        Err(ProtocolError::MessageTooLarge { limit: 32 * 1024 })
    );
    let ping = [0x02, 0x91, 0x06];
    assert!(decode_next(&ping, 2).unwrap().is_some());
    assert_eq!(
        decode_next(&ping, 1),
        Err(ProtocolError::MessageTooLarge { limit: 1 })
    );
    // Within the limit but not all here yet.
    assert_eq!(decode_next(&[0x10, 0x91], 100), Ok(None));
}

// ---- golden vectors -----------------------------------------------------------------------

/// `message` encodes to exactly `body` (framed), and `body` decodes back to `message`.
macro_rules! golden {
    ($($name:ident: $message:expr => $body:expr;)*) => {$(
        #[test]
        fn $name() {
            let message: HubMessage = $message;
            let body: Vec<u8> = $body;
            assert_eq!(encode_one(MP, &message), framed(&body), "encoding");
            assert_eq!(decode_one(MP, &framed(&body)).unwrap(), message, "decoding");
        }
    )*};
}

fn bytes(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

golden! {
    // HubProtocol.md: Invocation "xyz" → method(42).
    invocation_spec_example: HubMessage::Invocation(Invocation {
            invocation_id: Some("xyz".into()),
            target: "method".into(),
            arguments: vec![mp(Value::from(42))],
            stream_ids: vec![],
            headers: Headers::new(),
        }) => bytes(&[&[0x96, 0x01, 0x80, 0xa3], b"xyz", &[0xa6], b"method", &[0x91, 0x2a, 0x90]]);
    invocation_non_blocking: HubMessage::Invocation(Invocation {
            invocation_id: None,
            target: "method".into(),
            arguments: vec![mp(Value::from(42))],
            stream_ids: vec![],
            headers: Headers::new(),
        }) => bytes(&[&[0x96, 0x01, 0x80, 0xc0, 0xa6], b"method", &[0x91, 0x2a, 0x90]]);
    invocation_with_headers_and_streams: HubMessage::Invocation(Invocation {
            invocation_id: Some("1".into()),
            target: "T".into(),
            arguments: vec![],
            stream_ids: vec!["2".into()],
            headers: h(&[("a", "b")]),
        }) => bytes(&[&[0x96, 0x01, 0x81, 0xa1], b"a", &[0xa1], b"b", &[0xa1], b"1", &[0xa1], b"T", &[0x90, 0x91, 0xa1], b"2"]);
    stream_invocation: HubMessage::StreamInvocation(StreamInvocation {
            invocation_id: "xyz".into(),
            target: "method".into(),
            arguments: vec![mp(Value::from(42))],
            stream_ids: vec![],
            headers: Headers::new(),
        }) => bytes(&[&[0x96, 0x04, 0x80, 0xa3], b"xyz", &[0xa6], b"method", &[0x91, 0x2a, 0x90]]);
    stream_item: HubMessage::StreamItem(StreamItem {
            invocation_id: "xyz".into(),
            item: mp(Value::from(42)),
            headers: Headers::new(),
        }) => bytes(&[&[0x94, 0x02, 0x80, 0xa3], b"xyz", &[0x2a]]);
    completion_error: HubMessage::Completion(Completion {
            invocation_id: "xyz".into(),
            result: CompletionResult::Error("Error".into()),
            headers: Headers::new(),
        }) => bytes(&[&[0x95, 0x03, 0x80, 0xa3], b"xyz", &[0x01, 0xa5], b"Error"]);
    completion_void: HubMessage::Completion(Completion {
            invocation_id: "xyz".into(),
            result: CompletionResult::Void,
            headers: Headers::new(),
        }) => bytes(&[&[0x94, 0x03, 0x80, 0xa3], b"xyz", &[0x02]]);
    completion_value: HubMessage::Completion(Completion {
            invocation_id: "xyz".into(),
            result: CompletionResult::Value(mp(Value::from(42))),
            headers: Headers::new(),
        }) => bytes(&[&[0x95, 0x03, 0x80, 0xa3], b"xyz", &[0x03, 0x2a]]);
    completion_nil_value: HubMessage::Completion(Completion {
            invocation_id: "xyz".into(),
            result: CompletionResult::Value(mp(Value::Nil)),
            headers: Headers::new(),
        }) => bytes(&[&[0x95, 0x03, 0x80, 0xa3], b"xyz", &[0x03, 0xc0]]);
    cancel_invocation: HubMessage::CancelInvocation(CancelInvocation {
            invocation_id: "xyz".into(),
            headers: Headers::new(),
        }) => bytes(&[&[0x93, 0x05, 0x80, 0xa3], b"xyz"]);
    ping: HubMessage::Ping => vec![0x91, 0x06];
    close_empty: HubMessage::Close(Close::default()) => vec![0x93, 0x07, 0xc0, 0xc2];
    close_error: HubMessage::Close(Close { error: Some("Error".into()), allow_reconnect: false })
        => bytes(&[&[0x93, 0x07, 0xa5], b"Error", &[0xc2]]);
    close_allow_reconnect: HubMessage::Close(Close { error: None, allow_reconnect: true })
        => vec![0x93, 0x07, 0xc0, 0xc3];
    ack: HubMessage::Ack { sequence_id: 36 } => vec![0x92, 0x08, 0x24];
    sequence: HubMessage::Sequence { sequence_id: 1 << 40 } => vec![0x92, 0x09, 0xcf, 0, 0, 1, 0, 0, 0, 0, 0];
}

#[test]
fn ping_is_three_bytes_framed() {
    assert_eq!(encode_one(MP, &HubMessage::Ping), [0x02, 0x91, 0x06]);
}

#[test]
fn spec_vectors_with_wide_integers_decode() {
    // HubProtocol.md writes Ack 36 as `0x92 0x08 0xcc 0x24`.
    assert_eq!(
        body_message(&[0x92, 0x08, 0xcc, 0x24]),
        HubMessage::Ack { sequence_id: 36 }
    );
    assert_eq!(
        body_message(&[0x92, 0x09, 0xd3, 0, 0, 0, 0, 0, 0, 0, 7]),
        HubMessage::Sequence { sequence_id: 7 }
    );
    // Message type itself in a wide encoding.
    assert_eq!(body_message(&[0x91, 0xcd, 0x00, 0x06]), HubMessage::Ping);
}

#[test]
fn js_client_shapes_are_accepted() {
    // Invocation with 5 elements (no streamIds), as the JS client writes without streams.
    let five = bytes(&[
        &[0x95, 0x01, 0x80, 0xa1],
        b"0",
        &[0xa4],
        b"Echo",
        &[0x91, 0xa2],
        b"hi",
    ]);
    assert_eq!(
        body_message(&five),
        HubMessage::Invocation(Invocation {
            invocation_id: Some("0".into()),
            target: "Echo".into(),
            arguments: vec![mp(Value::from("hi"))],
            stream_ids: vec![],
            headers: Headers::new(),
        })
    );
    // Close as the JS client writes it: [7, nil].
    assert_eq!(
        body_message(&[0x92, 0x07, 0xc0]),
        HubMessage::Close(Close::default())
    );
    // Empty-string invocation id = non-blocking.
    let empty_id = bytes(&[&[0x95, 0x01, 0x80, 0xa0, 0xa1], b"T", &[0x90]]);
    let HubMessage::Invocation(inv) = body_message(&empty_id) else {
        panic!()
    };
    assert_eq!(inv.invocation_id, None);
    // Nil streamIds read as empty; extra elements are ignored.
    let extra = bytes(&[&[0x97, 0x01, 0x80, 0xc0, 0xa1], b"T", &[0x90, 0xc0, 0x2a]]);
    let HubMessage::Invocation(inv) = body_message(&extra) else {
        panic!()
    };
    assert!(inv.stream_ids.is_empty());
    // Ping with trailing elements, and trailing bytes inside the declared length.
    assert_eq!(body_message(&[0x92, 0x06, 0xc0]), HubMessage::Ping);
    assert_eq!(body_message(&[0x91, 0x06, 0xc0, 0xc0]), HubMessage::Ping);
}

#[test]
fn unknown_types_are_skipped() {
    assert_eq!(
        decode_body(&[0x92, 0x0a, 0xc0]),
        Ok(Decoded::Unknown { message_type: 10 })
    );
    assert_eq!(
        decode_body(&[0x91, 0xff]),
        Ok(Decoded::Unknown { message_type: -1 })
    );
    let mut stream = Stream::new(MP, 1024);
    stream
        .feed(&[0x03, 0x92, 0x63, 0xc0, 0x02, 0x91, 0x06])
        .unwrap();
    assert_eq!(
        stream.decoded,
        vec![
            Decoded::Unknown { message_type: 99 },
            Decoded::Message(HubMessage::Ping)
        ]
    );
}

/// Invalid bodies and their error texts.
macro_rules! invalid {
    ($($name:ident: $body:expr => $error:expr;)*) => {$(
        #[test]
        fn $name() {
            let body: Vec<u8> = $body;
            assert_eq!(body_error(&body), $error);
        }
    )*};
}

invalid! {
    invalid_empty_body: vec![] => "Error reading MessagePack: unexpected end of data.";
    invalid_not_array: vec![0x06] => "Expected the MessagePack message to be an array.";
    invalid_map_message: vec![0x81, 0x01, 0x02] => "Expected the MessagePack message to be an array.";
    invalid_empty_array: vec![0x90] => "Hub message has 0 element(s), expected at least 1.";
    invalid_type_string: vec![0x91, 0xa1, b'1'] => "Reading 'messageType' as Integer failed.";
    invalid_type_too_big: vec![0x91, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        => "Reading 'messageType' as Integer failed.";
    invalid_invocation_short: vec![0x94, 0x01, 0x80, 0xc0, 0xa1, b'T']
        => "Invocation message has 4 element(s), expected at least 5.";
    invalid_invocation_headers_nil: bytes(&[&[0x95, 0x01, 0xc0, 0xc0, 0xa1], b"T", &[0x90]])
        => "Reading 'headers' as Map failed.";
    invalid_invocation_header_value: bytes(&[&[0x95, 0x01, 0x81, 0xa1], b"k", &[0x2a, 0xc0, 0xa1], b"T", &[0x90]])
        => "Expected header 'k' to be of type String.";
    invalid_invocation_header_key: bytes(&[&[0x95, 0x01, 0x81, 0x2a, 0xa1], b"v", &[0xc0, 0xa1], b"T", &[0x90]])
        => "Reading 'header name' as String failed.";
    invalid_invocation_id_type: bytes(&[&[0x95, 0x01, 0x80, 0x2a, 0xa1], b"T", &[0x90]])
        => "Reading 'invocationId' as String failed.";
    invalid_invocation_nil_target: vec![0x95, 0x01, 0x80, 0xc0, 0xc0, 0x90]
        => "Null or empty target for Invocation message.";
    invalid_invocation_empty_target: vec![0x95, 0x01, 0x80, 0xc0, 0xa0, 0x90]
        => "Null or empty target for Invocation message.";
    invalid_invocation_target_type: vec![0x95, 0x01, 0x80, 0xc0, 0x2a, 0x90]
        => "Reading 'target' as String failed.";
    invalid_invocation_arguments: bytes(&[&[0x95, 0x01, 0x80, 0xc0, 0xa1], b"T", &[0x80]])
        => "Reading 'arguments' as Array failed.";
    invalid_invocation_stream_ids: bytes(&[&[0x96, 0x01, 0x80, 0xc0, 0xa1], b"T", &[0x90, 0x2a]])
        => "Reading 'streamIds' as Array failed.";
    invalid_invocation_stream_id: bytes(&[&[0x96, 0x01, 0x80, 0xc0, 0xa1], b"T", &[0x90, 0x91, 0x2a]])
        => "Expected each 'streamIds' element to be of type String.";
    invalid_stream_invocation_nil_id: bytes(&[&[0x95, 0x04, 0x80, 0xc0, 0xa1], b"T", &[0x90]])
        => "Null or empty invocation ID for StreamInvocation message.";
    invalid_stream_invocation_empty_target: bytes(&[&[0x95, 0x04, 0x80, 0xa1], b"1", &[0xa0, 0x90]])
        => "Null or empty target for StreamInvocation message.";
    invalid_stream_item_short: vec![0x93, 0x02, 0x80, 0xa1, b'1']
        => "StreamItem message has 3 element(s), expected at least 4.";
    invalid_stream_item_empty_id: vec![0x94, 0x02, 0x80, 0xa0, 0xc0]
        => "Null or empty invocation ID for StreamItem message.";
    invalid_completion_short: vec![0x93, 0x03, 0x80, 0xa1, b'1']
        => "Completion message has 3 element(s), expected at least 4.";
    invalid_completion_nil_id: vec![0x94, 0x03, 0x80, 0xc0, 0x02]
        => "Null or empty invocation ID for Completion message.";
    invalid_completion_kind: vec![0x94, 0x03, 0x80, 0xa1, b'1', 0x04]
        => "Invalid invocation result kind 4.";
    invalid_completion_kind_type: vec![0x94, 0x03, 0x80, 0xa1, b'1', 0xc0]
        => "Reading 'resultKind' as Integer failed.";
    invalid_completion_error_missing: vec![0x94, 0x03, 0x80, 0xa1, b'1', 0x01]
        => "Completion message has 4 element(s), expected at least 5.";
    invalid_completion_value_missing: vec![0x94, 0x03, 0x80, 0xa1, b'1', 0x03]
        => "Completion message has 4 element(s), expected at least 5.";
    invalid_completion_error_nil: vec![0x95, 0x03, 0x80, 0xa1, b'1', 0x01, 0xc0]
        => "Reading 'error' as String failed.";
    invalid_cancel_short: vec![0x92, 0x05, 0x80]
        => "CancelInvocation message has 2 element(s), expected at least 3.";
    invalid_cancel_empty_id: vec![0x93, 0x05, 0x80, 0xa0]
        => "Null or empty invocation ID for CancelInvocation message.";
    invalid_close_short: vec![0x91, 0x07] => "Close message has 1 element(s), expected at least 2.";
    invalid_close_error_type: vec![0x92, 0x07, 0x2a] => "Reading 'error' as String failed.";
    invalid_close_allow_reconnect: vec![0x93, 0x07, 0xc0, 0xc0] => "Reading 'allowReconnect' as Boolean failed.";
    invalid_ack_short: vec![0x91, 0x08] => "Ack message has 1 element(s), expected at least 2.";
    invalid_ack_negative: vec![0x92, 0x08, 0xff] => "Reading 'sequenceId' as unsigned Integer failed.";
    invalid_sequence_string: vec![0x92, 0x09, 0xa1, b'1'] => "Reading 'sequenceId' as unsigned Integer failed.";
    invalid_reserved_marker: vec![0x92, 0x06, 0xc1] => "Error reading MessagePack: reserved marker 0xc1.";
    invalid_truncated: vec![0x93, 0x05, 0x80, 0xa3, b'x'] => "Error reading MessagePack: unexpected end of data.";
    invalid_utf8_target: vec![0x95, 0x01, 0x80, 0xc0, 0xa1, 0xff, 0x90] => "Message is not valid UTF-8.";
    invalid_array_claim: vec![0xdd, 0xff, 0xff, 0xff, 0xff, 0x06]
        => "Error reading MessagePack: array length exceeds the message size.";
}

#[test]
fn nesting_is_bounded() {
    // [1, {}, nil, "T", [ [[...]] ]]: the message is depth 1, arguments depth 2.
    let build = |levels: usize| {
        let mut body = bytes(&[&[0x95, 0x01, 0x80, 0xc0, 0xa1], b"T", &[0x91]]);
        body.extend(std::iter::repeat_n(0x91, levels));
        body.push(0xc0);
        body
    };
    assert!(matches!(
        decode_body(&build(MAX_DEPTH - 2)),
        Ok(Decoded::Message(_))
    ));
    assert_eq!(
        decode_body(&build(MAX_DEPTH - 1)),
        Err(ProtocolError::NestingTooDeep { limit: MAX_DEPTH })
    );
    assert_eq!(
        decode_body(&build(100_000)),
        Err(ProtocolError::NestingTooDeep { limit: MAX_DEPTH })
    );
}

#[test]
fn deepest_json_message_transcodes_to_a_decodable_messagepack_message() {
    // Same envelope depth in both protocols: whatever JSON accepts, MessagePack accepts.
    let inner = MAX_DEPTH - 2;
    let json = format!(
        "{{\"type\":1,\"target\":\"t\",\"arguments\":[{}{}]}}\u{1e}",
        "[".repeat(inner),
        "]".repeat(inner)
    );
    let message = decode_one(HubProtocol::Json, json.as_bytes()).unwrap();
    let bytes = encode_one(MP, &message);
    assert_eq!(decode_one(MP, &bytes).unwrap(), message);
}

#[test]
fn json_payloads_become_maps_with_string_keys() {
    #[derive(serde::Serialize)]
    struct Unit {
        id: u32,
        name: &'static str,
    }
    let message = HubMessage::StreamItem(StreamItem {
        invocation_id: "1".into(),
        item: Payload::from_serialize(&Unit { id: 7, name: "E7" }).unwrap(),
        headers: Headers::new(),
    });
    let expected = bytes(&[
        &[0x94, 0x02, 0x80, 0xa1],
        b"1",
        &[0x82, 0xa2],
        b"id",
        &[0x07, 0xa4],
        b"name",
        &[0xa2],
        b"E7",
    ]);
    assert_eq!(encode_one(MP, &message), framed(&expected));
}

#[test]
fn cross_protocol_forwarding() {
    // A JSON client's argument forwarded to a MessagePack client and back.
    let from_json = decode_one(
        HubProtocol::Json,
        b"{\"type\":1,\"target\":\"t\",\"arguments\":[{\"a\":[1,-2,3.5,\"x\",null,true]}]}\x1e",
    )
    .unwrap();
    let mp_bytes = encode_one(MP, &from_json);
    let via_mp = decode_one(MP, &mp_bytes).unwrap();
    assert_eq!(via_mp, from_json);
    let back = decode_one(HubProtocol::Json, &encode_one(HubProtocol::Json, &via_mp)).unwrap();
    assert_eq!(back, from_json);
    assert_eq!(
        encode_one(HubProtocol::Json, &via_mp),
        b"{\"type\":1,\"target\":\"t\",\"arguments\":[{\"a\":[1,-2,3.5,\"x\",null,true]}]}\x1e"
    );
}

#[test]
fn too_deep_json_payload_fails_to_encode_cleanly() {
    // from_serialize has no depth limit; transcoding to MessagePack (serde_json's recursion
    // limit) refuses it without touching the output.
    let mut value = serde_json::Value::Null;
    for _ in 0..200 {
        value = serde_json::Value::Array(vec![value]);
    }
    let message = HubMessage::StreamItem(StreamItem {
        invocation_id: "1".into(),
        item: Payload::from_serialize(&value).unwrap(),
        headers: Headers::new(),
    });
    let mut out = vec![1, 2, 3];
    assert!(matches!(
        MP.encode(&message, &mut out),
        Err(EncodeError::Payload {
            protocol: "messagepack",
            ..
        })
    ));
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn handshake_bytes_are_not_messagepack() {
    // A stray JSON handshake fed to the MessagePack decoder is an error, never a panic.
    let result = decode_next(b"{\"protocol\":\"messagepack\",\"version\":1}\x1e", 1024);
    assert!(result.is_err() || result == Ok(None));
    assert_eq!(RECORD_SEPARATOR, 0x1e);
}

proptest! {
    #[test]
    fn round_trip_native_payloads(message in arb_message(arb_msgpack_payload())) {
        let bytes = encode_one(MP, &message);
        prop_assert_eq!(decode_one(MP, &bytes)?, message);
    }

    #[test]
    fn round_trip_json_payloads(message in arb_message(arb_json_payload())) {
        let bytes = encode_one(MP, &message);
        let decoded = decode_one(MP, &bytes)?;
        prop_assert_eq!(&decoded, &message);
        // And forwarding the decoded message to a JSON client gives the original JSON.
        prop_assert_eq!(
            encode_one(HubProtocol::Json, &decoded),
            encode_one(HubProtocol::Json, &message)
        );
    }

    #[test]
    fn split_anywhere(
        messages in proptest::collection::vec(arb_message(arb_msgpack_payload()), 1..6),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
    ) {
        let buf: Vec<u8> = messages.iter().flat_map(|m| encode_one(MP, m)).collect();
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(buf.len() + 1)).collect();
        points.sort_unstable();
        let mut stream = Stream::new(MP, usize::MAX);
        let mut last = 0;
        for point in points.into_iter().chain([buf.len()]) {
            stream.feed(&buf[last..point])?;
            last = point;
        }
        prop_assert_eq!(stream.pending(), 0);
        let expected: Vec<Decoded> = messages.into_iter().map(Decoded::Message).collect();
        prop_assert_eq!(stream.decoded, expected);
    }

    #[test]
    fn every_prefix_is_incomplete(message in arb_message(arb_msgpack_payload())) {
        let bytes = encode_one(MP, &message);
        for end in 0..bytes.len() {
            prop_assert_eq!(decode_next(&bytes[..end], usize::MAX)?, None);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), max in 0usize..300) {
        if let Ok(Some((Decoded::Message(message), used))) = decode_next(&bytes, max) {
            prop_assert!(used <= bytes.len());
            let again = encode_one(MP, &message);
            prop_assert_eq!(decode_one(MP, &again)?, message);
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        message in arb_message(arb_msgpack_payload()),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode_one(MP, &message);
        for (index, byte) in flips {
            let i = index.index(bytes.len());
            bytes[i] = byte;
        }
        let mut stream = Stream::new(MP, 4096);
        if stream.feed(&bytes).is_ok() {
            for decoded in stream.decoded {
                if let Decoded::Message(message) = decoded {
                    let again = encode_one(MP, &message);
                    prop_assert_eq!(decode_one(MP, &again)?, message);
                }
            }
        }
    }
}
