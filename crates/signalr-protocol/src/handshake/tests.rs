//! Handshake tests (checklist §8, .NET `HandshakeProtocolTests.cs` scenarios).

use proptest::prelude::*;

use super::*;
use crate::{Decoded, HubMessage};

fn request(protocol: &str, version: u32) -> HandshakeRequest {
    HandshakeRequest {
        protocol: protocol.into(),
        version,
    }
}

fn decode(text: &str) -> Result<Option<(HandshakeRequest, usize)>, HandshakeError> {
    decode_handshake_request(text.as_bytes(), 1024)
}

fn malformed(text: &str) -> String {
    match decode(text) {
        Err(HandshakeError::Malformed(reason)) => reason,
        other => panic!("{text:?}: {other:?}"),
    }
}

#[test]
fn versions_zero_one_two() {
    for version in 0..=2 {
        for protocol in ["json", "messagepack"] {
            let text = format!("{{\"protocol\":\"{protocol}\",\"version\":{version}}}\u{1e}");
            let (req, used) = decode(&text).unwrap().unwrap();
            assert_eq!(req, request(protocol, version));
            assert_eq!(used, text.len());
            assert!(req.resolve().is_ok());
        }
    }
}

#[test]
fn property_order_whitespace_and_extras() {
    let text = " { \"version\" : 1 , \"extra\" : {\"a\":[1,2]}, \"protocol\" : \"json\" } \u{1e}";
    assert_eq!(decode(text).unwrap().unwrap().0, request("json", 1));
}

#[test]
fn resolve_rejections_use_dotnet_texts() {
    assert_eq!(
        request("xml", 1).resolve().unwrap_err().to_string(),
        "The protocol 'xml' is not supported."
    );
    assert_eq!(
        request("json", 3).resolve().unwrap_err().to_string(),
        "The server does not support version 3 of the 'json' protocol."
    );
    assert_eq!(
        request("messagepack", 7).resolve(),
        Err(HandshakeRejection::UnsupportedVersion {
            protocol: HubProtocol::MessagePack,
            version: 7
        })
    );
    assert_eq!(
        request("messagepack", 2).resolve(),
        Ok(HubProtocol::MessagePack)
    );
}

#[test]
fn missing_or_wrong_fields() {
    assert_eq!(
        malformed("{\"version\":1}\u{1e}"),
        "Missing required property 'protocol'."
    );
    assert_eq!(
        malformed("{\"protocol\":null,\"version\":1}\u{1e}"),
        "Missing required property 'protocol'."
    );
    assert_eq!(
        malformed("{\"protocol\":\"json\"}\u{1e}"),
        "Missing required property 'version'."
    );
    assert_eq!(
        malformed("{\"protocol\":1,\"version\":1}\u{1e}"),
        "Expected 'protocol' to be of type String."
    );
    for version in ["-1", "1.5", "\"1\"", "4294967296", "true", "[]"] {
        assert_eq!(
            malformed(&format!(
                "{{\"protocol\":\"json\",\"version\":{version}}}\u{1e}"
            )),
            "Expected 'version' to be a non-negative 32-bit integer.",
            "{version}"
        );
    }
    assert_eq!(
        malformed("[]\u{1e}"),
        "Unexpected JSON Token Type 'Array'. Expected a JSON Object."
    );
    assert_eq!(
        malformed("\"json\"\u{1e}"),
        "Unexpected JSON Token Type 'String'. Expected a JSON Object."
    );
    assert!(malformed("{\u{1e}").starts_with("Error reading JSON: "));
    assert!(malformed("\u{1e}").starts_with("Error reading JSON: "));
    assert_eq!(
        decode_handshake_request(b"{\"protocol\":\"\xff\",\"version\":1}\x1e", 100),
        Err(HandshakeError::Malformed(
            "The message is not valid UTF-8.".into()
        ))
    );
    assert_eq!(
        HandshakeError::Malformed(String::new()).response_error(),
        "An unexpected error occurred during connection handshake."
    );
}

#[test]
fn split_across_buffers() {
    let full = b"{\"protocol\":\"json\",\"version\":1}\x1e";
    for end in 0..full.len() {
        assert_eq!(
            decode_handshake_request(&full[..end], 1024),
            Ok(None),
            "{end}"
        );
    }
    assert!(decode_handshake_request(full, 1024).unwrap().is_some());
}

#[test]
fn messages_after_the_handshake_in_the_same_buffer() {
    let mut buf = b"{\"protocol\":\"json\",\"version\":1}\x1e".to_vec();
    buf.extend_from_slice(b"{\"type\":6}\x1e{\"type\":1,\"target\":\"a\",\"arguments\":[]}\x1e");
    let (req, used) = decode_handshake_request(&buf, 1024).unwrap().unwrap();
    let protocol = req.resolve().unwrap();
    let rest = &buf[used..];
    let (first, n) = protocol.decode_next(rest, 1024).unwrap().unwrap();
    assert_eq!(first, Decoded::Message(HubMessage::Ping));
    let (second, m) = protocol.decode_next(&rest[n..], 1024).unwrap().unwrap();
    assert!(matches!(
        second,
        Decoded::Message(HubMessage::Invocation(_))
    ));
    assert_eq!(n + m, rest.len());
}

#[test]
fn messagepack_data_after_the_handshake() {
    // The JS MessagePack client sends its JSON handshake, then binary frames.
    let mut buf = b"{\"protocol\":\"messagepack\",\"version\":1}\x1e".to_vec();
    buf.extend_from_slice(&[0x02, 0x91, 0x06]);
    let (req, used) = decode_handshake_request(&buf, 1024).unwrap().unwrap();
    let protocol = req.resolve().unwrap();
    let (ping, n) = protocol.decode_next(&buf[used..], 1024).unwrap().unwrap();
    assert_eq!(ping, Decoded::Message(HubMessage::Ping));
    assert_eq!(used + n, buf.len());
}

#[test]
fn too_large() {
    let full = b"{\"protocol\":\"json\",\"version\":1}\x1e"; // 31 bytes + separator
    assert!(decode_handshake_request(full, 31).unwrap().is_some());
    assert_eq!(
        decode_handshake_request(full, 30),
        Err(HandshakeError::TooLarge { limit: 30 })
    );
    // Without a separator, refused as soon as more than `limit` bytes are buffered.
    assert_eq!(
        decode_handshake_request(&[b' '; 101], 100),
        Err(HandshakeError::TooLarge { limit: 100 })
    );
    assert_eq!(decode_handshake_request(&[b' '; 100], 100), Ok(None));
    assert_eq!(
        HandshakeError::TooLarge { limit: 1 }.response_error(),
        "Handshake was canceled."
    );
}

#[test]
fn deeply_nested_extra_property_does_not_overflow() {
    let text = format!(
        "{{\"protocol\":\"json\",\"version\":1,\"x\":{}{}}}\u{1e}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(
        decode_handshake_request(text.as_bytes(), usize::MAX)
            .unwrap()
            .unwrap()
            .0,
        request("json", 1)
    );
    let unbalanced = format!("{{\"x\":{}\u{1e}", "[".repeat(100_000));
    assert!(decode_handshake_request(unbalanced.as_bytes(), usize::MAX).is_err());
}

#[test]
fn responses() {
    let mut out = Vec::new();
    encode_handshake_response(None, &mut out);
    assert_eq!(out, b"{}\x1e");
    out.clear();
    encode_handshake_response(Some("The protocol 'x\"' is not supported."), &mut out);
    assert_eq!(
        out,
        b"{\"error\":\"The protocol 'x\\\"' is not supported.\"}\x1e"
    );
    assert_eq!(
        decode_handshake_response(&out, 1024).unwrap().unwrap(),
        (
            HandshakeResponse {
                error: Some("The protocol 'x\"' is not supported.".into())
            },
            out.len()
        )
    );
    assert_eq!(
        decode_handshake_response(b"{}\x1e{\"type\":6}\x1e", 1024),
        Ok(Some((HandshakeResponse::default(), 3)))
    );
    assert_eq!(
        decode_handshake_response(b"{\"type\":6}\x1e", 1024),
        Err(HandshakeError::Malformed(
            "Expected a handshake response from the server.".into()
        ))
    );
    assert_eq!(decode_handshake_response(b"{}", 1024), Ok(None));
}

#[test]
fn request_encoding_round_trips() {
    let mut out = Vec::new();
    encode_handshake_request(&request("messagepack", 1), &mut out);
    assert_eq!(out, b"{\"protocol\":\"messagepack\",\"version\":1}\x1e");
    assert_eq!(
        decode_handshake_request(&out, 1024).unwrap().unwrap(),
        (request("messagepack", 1), out.len())
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), max in 0usize..300) {
        if let Ok(Some((_, used))) = decode_handshake_request(&bytes, max) {
            prop_assert!(used <= bytes.len());
        }
        let _ = decode_handshake_response(&bytes, max);
    }

    #[test]
    fn request_round_trip(protocol in "(?s).{0,20}", version in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let req = HandshakeRequest { protocol, version };
        let mut out = Vec::new();
        encode_handshake_request(&req, &mut out);
        let len = out.len();
        out.extend_from_slice(&tail);
        prop_assert_eq!(decode_handshake_request(&out, len).unwrap(), Some((req, len)));
    }

    #[test]
    fn response_round_trip(error in proptest::option::of("(?s).{0,40}")) {
        let mut out = Vec::new();
        encode_handshake_response(error.as_deref(), &mut out);
        let len = out.len();
        prop_assert_eq!(
            decode_handshake_response(&out, len).unwrap(),
            Some((HandshakeResponse { error }, len))
        );
    }
}
