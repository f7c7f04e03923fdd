//! JSON protocol tests. Golden vectors and invalid-message texts come from .NET's
//! `JsonHubProtocolTestsBase.cs` (checklist §18A).

use proptest::prelude::*;

use super::*;
use crate::test_support::{
    Stream, arb_json_payload, arb_message, arb_msgpack_payload, decode_one, encode_one,
};
use crate::{DEFAULT_MAX_MESSAGE_SIZE, HubProtocol};

const JSON: HubProtocol = HubProtocol::Json;

fn p(json: &str) -> Payload {
    Payload::from_json_str(json).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn decode_str(text: &str) -> Result<Decoded, ProtocolError> {
    let framed = format!("{text}\u{1e}");
    match decode_next(framed.as_bytes(), usize::MAX)? {
        Some((decoded, used)) => {
            assert_eq!(used, framed.len());
            Ok(decoded)
        }
        None => panic!("incomplete: {text}"),
    }
}

fn message(text: &str) -> HubMessage {
    match decode_str(text) {
        Ok(Decoded::Message(m)) => m,
        other => panic!("{text}: {other:?}"),
    }
}

fn invocation(id: Option<&str>, target: &str, args: &[&str]) -> HubMessage {
    HubMessage::Invocation(Invocation {
        invocation_id: id.map(str::to_owned),
        target: target.into(),
        arguments: args.iter().map(|a| p(a)).collect(),
        stream_ids: vec![],
        headers: Headers::new(),
    })
}

/// The .NET test headers, including newlines that must be escaped.
fn test_headers() -> Headers {
    headers(&[
        ("Foo", "Bar"),
        ("KeyWith\nNew\r\nLines", "Still Works"),
        ("ValueWithNewLines", "Also\nWorks\r\nFine"),
    ])
}
const SERIALIZED_HEADERS: &str = r#""headers":{"Foo":"Bar","KeyWith\nNew\r\nLines":"Still Works","ValueWithNewLines":"Also\nWorks\r\nFine"}"#;

/// Golden vectors: the message encodes to exactly this JSON, and this JSON decodes to it.
macro_rules! golden {
    ($($name:ident: $message:expr => $json:expr;)*) => {$(
        #[test]
        fn $name() {
            let expected_message: HubMessage = $message;
            let json: String = $json.into();
            let mut expected = json.clone().into_bytes();
            expected.push(RECORD_SEPARATOR);
            assert_eq!(
                String::from_utf8(encode_one(JSON, &expected_message)).unwrap(),
                String::from_utf8(expected).unwrap(),
                "encoding"
            );
            assert_eq!(message(&json), expected_message, "decoding");
        }
    )*};
}

golden! {
    invocation_with_id: invocation(Some("123"), "Target", &["1", "\"Foo\""])
        => r#"{"type":1,"invocationId":"123","target":"Target","arguments":[1,"Foo"]}"#;
    invocation_bool_argument: invocation(None, "Target", &["true"])
        => r#"{"type":1,"target":"Target","arguments":[true]}"#;
    invocation_null_argument: invocation(None, "Target", &["null"])
        => r#"{"type":1,"target":"Target","arguments":[null]}"#;
    invocation_non_ascii: invocation(None, "Method", &["\"מחרוזת כלשהי\""])
        => r#"{"type":1,"target":"Method","arguments":["מחרוזת כלשהי"]}"#;
    invocation_stream_ids: HubMessage::Invocation(Invocation {
            invocation_id: None,
            target: "Target".into(),
            arguments: vec![p("42")],
            stream_ids: vec!["__test_id__".into(), "__test_id2__".into()],
            headers: Headers::new(),
        }) => r#"{"type":1,"target":"Target","arguments":[42],"streamIds":["__test_id__","__test_id2__"]}"#;
    invocation_object_argument: invocation(None, "Target", &[r#"{"stringProp":"SignalR!","doubleProp":6.2831853071,"intProp":42,"dateTimeProp":"2017-04-11T00:00:00Z","nullProp":null,"byteArrProp":"AQID"}"#])
        => r#"{"type":1,"target":"Target","arguments":[{"stringProp":"SignalR!","doubleProp":6.2831853071,"intProp":42,"dateTimeProp":"2017-04-11T00:00:00Z","nullProp":null,"byteArrProp":"AQID"}]}"#;
    stream_item_with_headers: HubMessage::StreamItem(StreamItem {
            invocation_id: "123".into(),
            item: p("1"),
            headers: test_headers(),
        }) => format!(r#"{{"type":2,{SERIALIZED_HEADERS},"invocationId":"123","item":1}}"#);
    stream_item_string: HubMessage::StreamItem(StreamItem {
            invocation_id: "123".into(),
            item: p("\"Foo\""),
            headers: Headers::new(),
        }) => r#"{"type":2,"invocationId":"123","item":"Foo"}"#;
    stream_item_null: HubMessage::StreamItem(StreamItem {
            invocation_id: "123".into(),
            item: Payload::null(),
            headers: Headers::new(),
        }) => r#"{"type":2,"invocationId":"123","item":null}"#;
    completion_void: HubMessage::Completion(Completion {
            invocation_id: "123".into(),
            result: CompletionResult::Void,
            headers: Headers::new(),
        }) => r#"{"type":3,"invocationId":"123"}"#;
    completion_void_with_headers: HubMessage::Completion(Completion {
            invocation_id: "123".into(),
            result: CompletionResult::Void,
            headers: test_headers(),
        }) => format!(r#"{{"type":3,{SERIALIZED_HEADERS},"invocationId":"123"}}"#);
    completion_integer: HubMessage::Completion(Completion {
            invocation_id: "123".into(),
            result: CompletionResult::Value(p("1")),
            headers: Headers::new(),
        }) => r#"{"type":3,"invocationId":"123","result":1}"#;
    completion_null: HubMessage::Completion(Completion {
            invocation_id: "123".into(),
            result: CompletionResult::Value(Payload::null()),
            headers: Headers::new(),
        }) => r#"{"type":3,"invocationId":"123","result":null}"#;
    completion_error: HubMessage::Completion(Completion {
            invocation_id: "123".into(),
            result: CompletionResult::Error("Whoops!".into()),
            headers: Headers::new(),
        }) => r#"{"type":3,"invocationId":"123","error":"Whoops!"}"#;
    completion_error_with_headers: HubMessage::Completion(Completion {
            invocation_id: "123".into(),
            result: CompletionResult::Error("Whoops!".into()),
            headers: test_headers(),
        }) => format!(r#"{{"type":3,{SERIALIZED_HEADERS},"invocationId":"123","error":"Whoops!"}}"#);
    stream_invocation: HubMessage::StreamInvocation(StreamInvocation {
            invocation_id: "123".into(),
            target: "Target".into(),
            arguments: vec![p("1"), p("\"Foo\"")],
            stream_ids: vec![],
            headers: Headers::new(),
        }) => r#"{"type":4,"invocationId":"123","target":"Target","arguments":[1,"Foo"]}"#;
    stream_invocation_with_streams_and_headers: HubMessage::StreamInvocation(StreamInvocation {
            invocation_id: "123".into(),
            target: "Target".into(),
            arguments: vec![],
            stream_ids: vec!["__test_id__".into()],
            headers: test_headers(),
        }) => format!(r#"{{"type":4,{SERIALIZED_HEADERS},"invocationId":"123","target":"Target","arguments":[],"streamIds":["__test_id__"]}}"#);
    cancel_invocation: HubMessage::CancelInvocation(CancelInvocation {
            invocation_id: "123".into(),
            headers: Headers::new(),
        }) => r#"{"type":5,"invocationId":"123"}"#;
    cancel_invocation_with_headers: HubMessage::CancelInvocation(CancelInvocation {
            invocation_id: "123".into(),
            headers: test_headers(),
        }) => format!(r#"{{"type":5,{SERIALIZED_HEADERS},"invocationId":"123"}}"#);
    ping: HubMessage::Ping => r#"{"type":6}"#;
    close_empty: HubMessage::Close(Close::default()) => r#"{"type":7}"#;
    close_error: HubMessage::Close(Close { error: Some("Error!".into()), allow_reconnect: false })
        => r#"{"type":7,"error":"Error!"}"#;
    close_empty_error: HubMessage::Close(Close { error: Some(String::new()), allow_reconnect: false })
        => r#"{"type":7,"error":""}"#;
    close_allow_reconnect: HubMessage::Close(Close { error: None, allow_reconnect: true })
        => r#"{"type":7,"allowReconnect":true}"#;
    close_error_and_allow_reconnect: HubMessage::Close(Close { error: Some("Error!".into()), allow_reconnect: true })
        => r#"{"type":7,"error":"Error!","allowReconnect":true}"#;
    ack: HubMessage::Ack { sequence_id: 36 } => r#"{"type":8,"sequenceId":36}"#;
    sequence: HubMessage::Sequence { sequence_id: u64::MAX } => r#"{"type":9,"sequenceId":18446744073709551615}"#;
}

#[test]
fn dotnet_message_sizes() {
    // .NET `VerifyMessageSize` (these sizes include the 0x1E).
    let cases: Vec<(HubMessage, usize)> = vec![
        (invocation(None, "Target", &["1"]), 45),
        (invocation(Some("1"), "Target", &["1"]), 64),
        (HubMessage::Close(Close::default()), 11),
        (
            HubMessage::Close(Close {
                error: Some("error".into()),
                allow_reconnect: false,
            }),
            27,
        ),
        (HubMessage::Ping, 11),
        (
            HubMessage::CancelInvocation(CancelInvocation {
                invocation_id: "1".into(),
                headers: Headers::new(),
            }),
            30,
        ),
    ];
    for (message, size) in cases {
        assert_eq!(encode_one(JSON, &message).len(), size, "{message:?}");
    }
}

#[test]
fn out_of_order_properties() {
    // .NET `OutOfOrderJsonTestData`.
    assert_eq!(
        message(r#"{ "arguments": [1,2], "target": "Method", "invocationId": "3", "type":1 }"#),
        invocation(Some("3"), "Method", &["1", "2"])
    );
    assert_eq!(
        message(r#"{ "type":4, "arguments": [1,2], "target": "Method", "invocationId": "3" }"#),
        HubMessage::StreamInvocation(StreamInvocation {
            invocation_id: "3".into(),
            target: "Method".into(),
            arguments: vec![p("1"), p("2")],
            stream_ids: vec![],
            headers: Headers::new(),
        })
    );
    assert_eq!(
        message(r#"{ "type":3, "result": 10, "invocationId": "15" }"#),
        HubMessage::Completion(Completion {
            invocation_id: "15".into(),
            result: CompletionResult::Value(p("10")),
            headers: Headers::new(),
        })
    );
    assert_eq!(
        message(r#"{ "item": "foo", "invocationId": "1a", "type":2 }"#),
        HubMessage::StreamItem(StreamItem {
            invocation_id: "1a".into(),
            item: p("\"foo\""),
            headers: Headers::new(),
        })
    );
    assert_eq!(
        message(r#"{"headers":{"a":"b"},"sequenceId":5,"type":8}"#),
        HubMessage::Ack { sequence_id: 5 }
    );
}

#[test]
fn extra_properties_are_ignored() {
    assert_eq!(
        message(
            r#"{"type":1,"invocationId":"42","target":"foo","arguments":[],"extraParameter":"1"}"#
        ),
        invocation(Some("42"), "foo", &[])
    );
    assert_eq!(
        message(r#"{"type":6,"extra":{"deep":[1,{"x":[]}]},"headers":{"ignored":"yes"}}"#),
        HubMessage::Ping
    );
    // Properties of other message types are not validated either.
    assert_eq!(
        message(r#"{"type":7,"target":42,"arguments":{}}"#),
        HubMessage::Close(Close::default())
    );
}

#[test]
fn escaped_property_names_are_matched() {
    assert_eq!(message(r#"{"t\u0079pe":6}"#), HubMessage::Ping);
}

#[test]
fn repeated_property_last_wins() {
    assert_eq!(message(r#"{"type":1,"type":6}"#), HubMessage::Ping);
}

#[test]
fn empty_or_null_invocation_id_is_non_blocking() {
    assert_eq!(
        message(r#"{"type":1,"invocationId":"","target":"t","arguments":[]}"#),
        invocation(None, "t", &[])
    );
    assert_eq!(
        message(r#"{"type":1,"invocationId":null,"target":"t","arguments":[]}"#),
        invocation(None, "t", &[])
    );
    // ... and an empty id is never written.
    assert_eq!(
        encode_one(JSON, &invocation(Some(""), "t", &[])),
        b"{\"type\":1,\"target\":\"t\",\"arguments\":[]}\x1e"
    );
}

#[test]
fn null_headers_and_stream_ids_read_as_empty() {
    assert_eq!(
        message(r#"{"type":1,"target":"t","arguments":[],"headers":null,"streamIds":null}"#),
        invocation(None, "t", &[])
    );
}

#[test]
fn completion_error_null_with_result_is_a_value() {
    assert_eq!(
        message(r#"{"type":3,"invocationId":"1","error":null,"result":2}"#),
        HubMessage::Completion(Completion {
            invocation_id: "1".into(),
            result: CompletionResult::Value(p("2")),
            headers: Headers::new(),
        })
    );
}

#[test]
fn payload_whitespace_is_preserved_and_semantic_equality_holds() {
    let decoded = message(r#"{"type":1,"target":"t","arguments":[ { "a" : 1 } , [ 2 ] ]}"#);
    assert_eq!(decoded, invocation(None, "t", &[r#"{"a":1}"#, "[2]"]));
    let HubMessage::Invocation(inv) = &decoded else {
        panic!()
    };
    assert_eq!(inv.arguments[0].to_json_string().unwrap(), r#"{ "a" : 1 }"#);
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct A {
        a: u8,
    }
    assert_eq!(inv.arguments[0].deserialize::<A>().unwrap(), A { a: 1 });
    assert_eq!(inv.arguments[1].deserialize::<Vec<u8>>().unwrap(), vec![2]);
}

#[test]
fn unknown_message_types_are_reported_not_fatal() {
    assert_eq!(
        decode_str(r#"{"type":10,"whatever":[1]}"#).unwrap(),
        Decoded::Unknown { message_type: 10 }
    );
    assert_eq!(
        decode_str(r#"{"type":-5}"#).unwrap(),
        Decoded::Unknown { message_type: -5 }
    );
    assert_eq!(
        decode_str(r#"{"type":0}"#).unwrap(),
        Decoded::Unknown { message_type: 0 }
    );
}

/// Invalid messages and their exact error texts.
macro_rules! invalid {
    ($($name:ident: $json:expr => $error:expr;)*) => {$(
        #[test]
        fn $name() {
            let error = decode_str($json).unwrap_err();
            assert_eq!(error.to_string(), $error, "{}", $json);
        }
    )*};
}

invalid! {
    // .NET `InvalidMessages`.
    invalid_null: "null" => "Unexpected JSON Token Type 'Null'. Expected a JSON Object.";
    invalid_string: "\"foo\"" => "Unexpected JSON Token Type 'String'. Expected a JSON Object.";
    invalid_array: "[42]" => "Unexpected JSON Token Type 'Array'. Expected a JSON Object.";
    invalid_number: " 42" => "Unexpected JSON Token Type 'Number'. Expected a JSON Object.";
    invalid_missing_type: "{}" => "Missing required property 'type'.";
    invalid_header_number: r#"{"type":1,"headers":{"Foo": 42},"target":"test","arguments":[]}"#
        => "Expected header 'Foo' to be of type String.";
    invalid_header_bool: r#"{"type":1,"headers":{"Foo": true},"target":"test","arguments":[]}"#
        => "Expected header 'Foo' to be of type String.";
    invalid_header_null: r#"{"type":1,"headers":{"Foo": null},"target":"test","arguments":[]}"#
        => "Expected header 'Foo' to be of type String.";
    invalid_header_array: r#"{"type":1,"headers":{"Foo": []},"target":"test","arguments":[]}"#
        => "Expected header 'Foo' to be of type String.";
    invalid_headers_not_object: r#"{"type":1,"headers":[],"target":"test","arguments":[]}"#
        => "Expected 'headers' to be of type Object.";
    invalid_invocation_no_target: r#"{"type":1}"# => "Missing required property 'target'.";
    invalid_invocation_id_number: r#"{"type":1,"invocationId":42}"#
        => "Expected 'invocationId' to be of type String.";
    invalid_invocation_no_target_with_id: r#"{"type":1,"invocationId":"42"}"#
        => "Missing required property 'target'.";
    invalid_invocation_empty_target: r#"{"type":1,"target":"","arguments":[]}"#
        => "Missing required property 'target'.";
    invalid_invocation_target_number: r#"{"type":1,"invocationId":"42","target":42}"#
        => "Expected 'target' to be of type String.";
    invalid_invocation_no_arguments: r#"{"type":1,"invocationId":"42","target":"foo"}"#
        => "Missing required property 'arguments'.";
    invalid_invocation_arguments_object: r#"{"type":1,"invocationId":"42","target":"foo","arguments":{}}"#
        => "Expected 'arguments' to be of type Array.";
    invalid_invocation_arguments_null: r#"{"type":1,"target":"foo","arguments":null}"#
        => "Expected 'arguments' to be of type Array.";
    invalid_invocation_stream_ids_object: r#"{"type":1,"target":"foo","arguments":[],"streamIds":{}}"#
        => "Expected 'streamIds' to be of type Array.";
    invalid_invocation_stream_id_number: r#"{"type":1,"target":"foo","arguments":[],"streamIds":[1]}"#
        => "Expected each 'streamIds' element to be of type String.";
    invalid_stream_item_no_id: r#"{"type":2}"# => "Missing required property 'invocationId'.";
    invalid_stream_item_id_number: r#"{"type":2,"invocationId":42}"#
        => "Expected 'invocationId' to be of type String.";
    invalid_stream_item_no_item: r#"{"type":2,"invocationId":"42"}"# => "Missing required property 'item'.";
    invalid_completion_no_id: r#"{"type":3}"# => "Missing required property 'invocationId'.";
    invalid_completion_empty_id: r#"{"type":3,"invocationId":""}"# => "Missing required property 'invocationId'.";
    invalid_completion_id_number: r#"{"type":3,"invocationId":42}"#
        => "Expected 'invocationId' to be of type String.";
    invalid_completion_error_array: r#"{"type":3,"invocationId":"42","error":[]}"#
        => "Expected 'error' to be of type String.";
    invalid_completion_error_and_result: r#"{"type":3,"invocationId":"42","error":"foo","result":true}"#
        => "The 'error' and 'result' properties are mutually exclusive.";
    invalid_completion_error_and_null_result: r#"{"type":3,"invocationId":"42","result":null,"error":"foo"}"#
        => "The 'error' and 'result' properties are mutually exclusive.";
    invalid_stream_invocation_no_id: r#"{"type":4}"# => "Missing required property 'invocationId'.";
    invalid_stream_invocation_id_number: r#"{"type":4,"invocationId":42}"#
        => "Expected 'invocationId' to be of type String.";
    invalid_stream_invocation_target_number: r#"{"type":4,"invocationId":"42","target":42}"#
        => "Expected 'target' to be of type String.";
    invalid_stream_invocation_no_arguments: r#"{"type":4,"invocationId":"42","target":"foo"}"#
        => "Missing required property 'arguments'.";
    invalid_stream_invocation_arguments_object: r#"{"type":4,"invocationId":"42","target":"foo","arguments":{}}"#
        => "Expected 'arguments' to be of type Array.";
    invalid_stream_invocation_no_target: r#"{"type":4,"invocationId":"42","arguments":[]}"#
        => "Missing required property 'target'.";
    invalid_cancel_no_id: r#"{"type":5}"# => "Missing required property 'invocationId'.";
    invalid_close_error_number: r#"{"type":7,"error":1}"# => "Expected 'error' to be of type String.";
    invalid_close_allow_reconnect_string: r#"{"type":7,"allowReconnect":"true"}"#
        => "Expected 'allowReconnect' to be of type Boolean.";
    invalid_close_allow_reconnect_null: r#"{"type":7,"allowReconnect":null}"#
        => "Expected 'allowReconnect' to be of type Boolean.";
    invalid_type_string: r#"{"type":"1"}"# => "Expected 'type' to be of type Number.";
    invalid_type_float: r#"{"type":1.0}"# => "Expected 'type' to be of type Number.";
    invalid_type_null: r#"{"type":null}"# => "Expected 'type' to be of type Number.";
    invalid_type_huge: r#"{"type":18446744073709551616}"# => "Expected 'type' to be of type Number.";
    invalid_ack_no_sequence: r#"{"type":8}"# => "Missing required property 'sequenceId'.";
    invalid_sequence_negative: r#"{"type":9,"sequenceId":-1}"# => "Expected 'sequenceId' to be of type Number.";
    invalid_trailing_comma: r#"{"type":6,}"# => "Error reading JSON: trailing comma at line 1 column 11";
    invalid_trailing_characters: r#"{"type":6} x"# => "Error reading JSON: trailing characters at line 1 column 12";
    invalid_empty: "" => "Error reading JSON: EOF while parsing a value at line 1 column 0";
    invalid_unclosed: r#"{"type":1,"target":"foo","arguments":[[}]}"# => "Error reading JSON: expected value at line 1 column 40";
}

#[test]
fn invalid_utf8_is_an_error() {
    assert_eq!(
        decode_next(b"{\"type\":\xff}\x1e", 100),
        Err(ProtocolError::InvalidUtf8)
    );
    assert_eq!(
        decode_next(b"{\"type\":1,\"target\":\"\xc3\x28\"}\x1e", 100),
        Err(ProtocolError::InvalidUtf8)
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for opener in ["[", "{\"a\":"] {
        let mut text = String::from(r#"{"type":1,"target":"t","arguments":"#);
        text.push_str(&opener.repeat(100_000));
        text.push('\u{1e}');
        assert_eq!(
            decode_next(text.as_bytes(), usize::MAX),
            Err(ProtocolError::NestingTooDeep { limit: MAX_DEPTH })
        );
    }
    // 100k '[' as the whole message is not an object.
    let mut text = "[".repeat(100_000);
    text.push('\u{1e}');
    assert!(decode_next(text.as_bytes(), usize::MAX).is_err());
    // Balanced deep nesting inside an ignored property is refused too.
    let deep = format!(
        r#"{{"type":6,"x":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(decode_str(&deep).is_err());
}

#[test]
fn nesting_up_to_the_limit_is_accepted() {
    // The message object is depth 1, `arguments` depth 2, so arguments may nest MAX_DEPTH - 2.
    let inner = MAX_DEPTH - 2;
    let ok = format!(
        r#"{{"type":1,"target":"t","arguments":[{}{}]}}"#,
        "[".repeat(inner),
        "]".repeat(inner)
    );
    assert!(matches!(decode_str(&ok), Ok(Decoded::Message(_))));
    let too_deep = format!(
        r#"{{"type":1,"target":"t","arguments":[{}{}]}}"#,
        "[".repeat(inner + 1),
        "]".repeat(inner + 1)
    );
    assert_eq!(
        decode_str(&too_deep),
        Err(ProtocolError::NestingTooDeep { limit: MAX_DEPTH })
    );
}

#[test]
fn record_separator_inside_strings_is_escaped() {
    let message = HubMessage::Invocation(Invocation {
        invocation_id: Some("a\u{1e}b".into()),
        target: "t\u{1e}".into(),
        arguments: vec![Payload::from_serialize("x\u{1e}y").unwrap()],
        stream_ids: vec!["\u{1e}".into()],
        headers: headers(&[("\u{1e}", "\u{1e}")]),
    });
    let bytes = encode_one(JSON, &message);
    assert_eq!(
        bytes.iter().filter(|&&b| b == RECORD_SEPARATOR).count(),
        1,
        "only the terminator"
    );
    assert!(String::from_utf8_lossy(&bytes).contains(r"\u001e"));
    assert_eq!(decode_one(JSON, &bytes).unwrap(), message);
}

#[test]
fn json_string_escaping_matches_serde_json() {
    let all_controls: String = (0u8..0x20).map(char::from).collect();
    for text in [
        "plain",
        "quote\" backslash\\ slash/",
        "\u{7f}\u{80}\u{2028}é😀",
        &all_controls,
    ] {
        let mut ours = Vec::new();
        write_json_string(&mut ours, text);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(text).unwrap()
        );
    }
}

#[test]
fn several_messages_in_one_buffer() {
    let mut buf = Vec::new();
    buf.extend_from_slice(b"{\"type\":6}\x1e");
    buf.extend_from_slice(b"{\"type\":1,\"target\":\"a\",\"arguments\":[]}\x1e");
    buf.extend_from_slice(b"{\"type\":99}\x1e");
    buf.extend_from_slice(b"{\"type\":7}\x1e{\"ty");
    let mut stream = Stream::new(JSON, DEFAULT_MAX_MESSAGE_SIZE);
    stream.feed(&buf).unwrap();
    assert_eq!(
        stream.decoded,
        vec![
            Decoded::Message(HubMessage::Ping),
            Decoded::Message(invocation(None, "a", &[])),
            Decoded::Unknown { message_type: 99 },
            Decoded::Message(HubMessage::Close(Close::default())),
        ]
    );
    assert_eq!(stream.pending(), 4);
    stream.feed(b"pe\":6}\x1e").unwrap();
    assert_eq!(stream.decoded.len(), 5);
    assert_eq!(stream.pending(), 0);
}

#[test]
fn incomplete_input_needs_more_bytes() {
    assert_eq!(decode_next(b"", 10), Ok(None));
    assert_eq!(decode_next(b"{\"type\":6}", 10), Ok(None));
}

#[test]
fn message_size_limit() {
    let ping = b"{\"type\":6}\x1e"; // 10 bytes of JSON + separator
    assert!(decode_next(ping, 10).unwrap().is_some());
    assert_eq!(
        decode_next(ping, 9),
        Err(ProtocolError::MessageTooLarge { limit: 9 })
    );
    // Detected from the buffered prefix alone, without waiting for the separator.
    assert_eq!(
        decode_next(&[b' '; 11], 10),
        Err(ProtocolError::MessageTooLarge { limit: 10 })
    );
    assert_eq!(decode_next(&[b' '; 10], 10), Ok(None));
    // The limit applies per message, not per buffer.
    let two = [&ping[..], &ping[..]].concat();
    let mut stream = Stream::new(JSON, 10);
    stream.feed(&two).unwrap();
    assert_eq!(stream.decoded.len(), 2);
    assert_eq!(
        ProtocolError::MessageTooLarge { limit: 32768 }.to_string(),
        "The maximum message size of 32768B was exceeded."
    );
}

#[test]
fn msgpack_payloads_encode_as_json() {
    let message = HubMessage::Invocation(Invocation {
        invocation_id: None,
        target: "t".into(),
        arguments: vec![
            Payload::from_msgpack(rmpv::Value::Map(vec![(
                rmpv::Value::from("k"),
                rmpv::Value::Binary(vec![1, 2, 3]),
            )])),
            Payload::from_msgpack(rmpv::Value::F64(0.5)),
        ],
        stream_ids: vec![],
        headers: Headers::new(),
    });
    assert_eq!(
        encode_one(JSON, &message),
        b"{\"type\":1,\"target\":\"t\",\"arguments\":[{\"k\":\"AQID\"},0.5]}\x1e"
    );
}

#[test]
fn unencodable_payload_leaves_output_untouched() {
    let message = HubMessage::StreamItem(StreamItem {
        invocation_id: "1".into(),
        item: Payload::from_msgpack(rmpv::Value::Ext(42, vec![])),
        headers: Headers::new(),
    });
    let mut out = b"keep".to_vec();
    let error = JSON.encode(&message, &mut out).unwrap_err();
    assert_eq!(out, b"keep");
    assert_eq!(
        error.to_string(),
        "cannot encode a payload for the 'json' protocol: \
         MessagePack extension type 42 has no JSON representation"
    );
}

proptest! {
    #[test]
    fn round_trip(message in arb_message(arb_json_payload())) {
        let bytes = encode_one(JSON, &message);
        prop_assert_eq!(bytes.iter().filter(|&&b| b == RECORD_SEPARATOR).count(), 1);
        prop_assert_eq!(decode_one(JSON, &bytes)?, message);
    }

    #[test]
    fn round_trip_of_msgpack_payloads(message in arb_message(arb_msgpack_payload())) {
        // MessagePack-only values (ext types, nil keys) may have no JSON form: then encoding
        // must fail cleanly; otherwise the JSON decodes to an equal message.
        let mut bytes = Vec::new();
        if JSON.encode(&message, &mut bytes).is_ok() {
            let decoded = decode_one(JSON, &bytes)?;
            // Equal through the JSON type mapping (bin = base64 string, f32 widened, ...).
            prop_assert_eq!(&decoded, &message);
            // Re-encoding the decoded message gives the same bytes (JSON is canonical here).
            prop_assert_eq!(encode_one(JSON, &decoded), bytes);
        } else {
            prop_assert!(bytes.is_empty());
        }
    }

    #[test]
    fn split_anywhere(
        messages in proptest::collection::vec(arb_message(arb_json_payload()), 1..6),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
    ) {
        let buf: Vec<u8> = messages.iter().flat_map(|m| encode_one(JSON, m)).collect();
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(buf.len() + 1)).collect();
        points.sort_unstable();
        let mut stream = Stream::new(JSON, usize::MAX);
        let mut last = 0;
        for point in points.into_iter().chain([buf.len()]) {
            stream.feed(&buf[last..point])?;
            last = point;
        }
        let expected: Vec<Decoded> = messages.into_iter().map(Decoded::Message).collect();
        prop_assert_eq!(stream.pending(), 0);
        prop_assert_eq!(stream.decoded, expected);
    }

    #[test]
    fn every_prefix_is_incomplete_or_a_whole_message(message in arb_message(arb_json_payload())) {
        let bytes = encode_one(JSON, &message);
        for end in 0..bytes.len() {
            prop_assert_eq!(decode_next(&bytes[..end], usize::MAX)?, None);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), max in 0usize..300) {
        if let Ok(Some((Decoded::Message(message), used))) = decode_next(&bytes, max) {
            prop_assert!(used <= bytes.len());
            let again = encode_one(JSON, &message);
            prop_assert_eq!(decode_one(JSON, &again)?, message);
        }
    }

    #[test]
    fn arbitrary_json_like_text_never_panics(text in r#"[{}\[\]":,0-9a-z \\]{0,64}"#) {
        let framed = format!("{text}\u{1e}");
        if let Ok(Some((Decoded::Message(message), _))) = decode_next(framed.as_bytes(), 1000) {
            let again = encode_one(JSON, &message);
            prop_assert_eq!(decode_one(JSON, &again)?, message);
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        message in arb_message(arb_json_payload()),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode_one(JSON, &message);
        for (index, byte) in flips {
            let i = index.index(bytes.len());
            bytes[i] = byte;
        }
        let mut stream = Stream::new(JSON, 4096);
        if stream.feed(&bytes).is_ok() {
            for decoded in stream.decoded {
                if let Decoded::Message(message) = decoded {
                    let again = encode_one(JSON, &message);
                    prop_assert_eq!(decode_one(JSON, &again)?, message);
                }
            }
        }
    }
}
