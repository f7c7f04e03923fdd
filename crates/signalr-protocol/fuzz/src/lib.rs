//! Checks shared by the fuzz targets: decoding must be total, and whatever decodes must survive
//! a re-encode/re-decode round trip, in its own protocol and (when representable) in the other.

use signalr_protocol::{Decoded, HubMessage, HubProtocol, decode_handshake_request};

/// The .NET default `MaximumReceiveMessageSize`, so size checks are exercised too.
const MAX: usize = 32 * 1024;

/// Feeds `data` to `protocol` the way a connection loop does (several messages per buffer) and
/// round-trips every decoded message.
pub fn check_protocol(protocol: HubProtocol, data: &[u8]) {
    let mut rest = data;
    loop {
        match protocol.decode_next(rest, MAX) {
            Ok(Some((decoded, used))) => {
                assert!(
                    used > 0 && used <= rest.len(),
                    "consumed {used} of {}",
                    rest.len()
                );
                if let Decoded::Message(message) = decoded {
                    round_trip(protocol, &message);
                    round_trip_other(protocol, &message);
                }
                rest = &rest[used..];
            }
            Ok(None) | Err(_) => break,
        }
    }
}

fn decode_exactly(protocol: HubProtocol, bytes: &[u8]) -> HubMessage {
    match protocol.decode_next(bytes, usize::MAX) {
        Ok(Some((Decoded::Message(message), used))) if used == bytes.len() => message,
        other => panic!("re-decoding {bytes:02x?} with {protocol:?} gave {other:?}"),
    }
}

fn round_trip(protocol: HubProtocol, message: &HubMessage) {
    let mut bytes = Vec::new();
    // A message decoded by a protocol is always encodable by that protocol.
    if let Err(e) = protocol.encode(message, &mut bytes) {
        panic!("re-encoding {message:?} with {protocol:?} failed: {e}");
    }
    assert_eq!(&decode_exactly(protocol, &bytes), message);
}

/// Cross-protocol forwarding (a JSON client's argument sent to a MessagePack client and vice
/// versa): encoding may legitimately fail (e.g. a MessagePack extension type has no JSON form),
/// but if it succeeds the other side must decode an equal message.
fn round_trip_other(protocol: HubProtocol, message: &HubMessage) {
    let other = match protocol {
        HubProtocol::Json => HubProtocol::MessagePack,
        HubProtocol::MessagePack => HubProtocol::Json,
    };
    let mut bytes = Vec::new();
    if other.encode(message, &mut bytes).is_ok() {
        assert_eq!(&decode_exactly(other, &bytes), message);
    } else {
        assert!(bytes.is_empty(), "failed encode appended bytes");
    }
}

/// Decodes a handshake request and, like a server, the hub messages piggy-backed after it.
pub fn check_handshake(data: &[u8]) {
    if let Ok(Some((request, used))) = decode_handshake_request(data, MAX) {
        assert!(used > 0 && used <= data.len());
        let mut encoded = Vec::new();
        signalr_protocol::encode_handshake_request(&request, &mut encoded);
        assert_eq!(
            decode_handshake_request(&encoded, usize::MAX),
            Ok(Some((request.clone(), encoded.len())))
        );
        if let Ok(protocol) = request.resolve() {
            check_protocol(protocol, &data[used..]);
        }
    }
    let _ = signalr_protocol::decode_handshake_response(data, MAX);
}
