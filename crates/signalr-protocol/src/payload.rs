//! [`Payload`]: an argument, result or stream item, kept in the form it arrived in.
//!
//! Each protocol keeps its own representation so that decoding never builds a value tree it does
//! not need and re-encoding in the same protocol is a copy:
//!
//! ```text
//! origin                         representation           encode as JSON         encode as MessagePack
//! JSON message / from_serialize  validated JSON text      copy the text          parse → MessagePack value
//! MessagePack message            rmpv::Value              transcode (below)      write the value
//! ```
//!
//! `Payload::from_serialize` produces JSON text: it is the hot path (one server message fanned
//! out to many connections is encoded once per protocol), and JSON objects become MessagePack
//! maps with string keys, i.e. rmp-serde `to_vec_named` semantics, which the JS client reads as
//! plain objects.
//!
//! MessagePack → JSON follows the SignalR type mappings (`HubProtocol.md`, "Type Mappings"):
//! `bin` becomes a base64 string, the timestamp extension (type −1) becomes an ISO-8601 UTC
//! string, map keys that are integers or booleans become their decimal/text form, `f32` is
//! widened exactly to `f64`, non-finite floats become `null`. Other extension types and other
//! key types have no JSON form and fail with a [`PayloadError`]. [`Payload::deserialize`] uses
//! the same mapping, so a hub method sees the same value whichever protocol the caller used.

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmpv::Value as MpValue;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// An argument/result/item value, opaque so each protocol keeps its own representation.
///
/// Equality is semantic: two payloads are equal when they denote the same value, even if one
/// came from JSON and the other from MessagePack (compared through the JSON mapping described in
/// the module docs).
#[derive(Clone, Debug)]
pub struct Payload(pub(crate) Repr);

/// The protocol-specific representation behind a [`Payload`].
#[derive(Clone, Debug)]
pub(crate) enum Repr {
    /// Validated JSON text without `0x1E` (serde_json escapes control characters).
    Json(Box<RawValue>),
    /// A decoded MessagePack value (depth-bounded by the decoder).
    MessagePack(MpValue),
}

/// Why a value could not be turned into, or read from, a [`Payload`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PayloadError {
    message: String,
}

impl PayloadError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        PayloadError {
            message: message.into(),
        }
    }

    pub(crate) fn from_json(error: &serde_json::Error) -> Self {
        PayloadError::new(json_error_text(error))
    }
}

/// serde_json's message without the " at line L column C" suffix, which only makes sense for a
/// whole document, not for a value cut out of a message.
pub(crate) fn json_error_text(error: &serde_json::Error) -> String {
    let full = error.to_string();
    if error.line() == 0 {
        return full;
    }
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match full.strip_suffix(&suffix) {
        Some(short) => short.to_owned(),
        None => full,
    }
}

impl Payload {
    /// Serializes `value` (through serde_json) into a payload that both protocols can encode.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Payload, PayloadError> {
        serde_json::value::to_raw_value(value)
            .map(|raw| Payload(Repr::Json(raw)))
            .map_err(|e| PayloadError::from_json(&e))
    }

    /// Deserializes the payload into `T`, whichever protocol it came from.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, PayloadError> {
        match &self.0 {
            Repr::Json(raw) => {
                serde_json::from_str(raw.get()).map_err(|e| PayloadError::from_json(&e))
            }
            Repr::MessagePack(value) => {
                let json = serde_json::to_value(JsonView(value))
                    .map_err(|e| PayloadError::from_json(&e))?;
                T::deserialize(json).map_err(|e| PayloadError::from_json(&e))
            }
        }
    }

    /// The JSON `null` / MessagePack `nil` payload.
    pub fn null() -> Payload {
        Payload(Repr::Json(RawValue::NULL.to_owned()))
    }

    /// Parses JSON text into a payload (validated; whitespace is kept as given).
    pub fn from_json_str(json: &str) -> Result<Payload, PayloadError> {
        if crate::text::exceeds_depth(json.as_bytes(), crate::MAX_DEPTH) {
            return Err(PayloadError::new(format!(
                "JSON nesting exceeds the maximum depth of {}",
                crate::MAX_DEPTH
            )));
        }
        RawValue::from_string(json.to_owned())
            .map(|raw| Payload(Repr::Json(raw)))
            .map_err(|e| PayloadError::from_json(&e))
    }

    /// Takes JSON text that serde_json has already parsed (a [`RawValue`]) without copying or
    /// parsing it again; only its nesting depth is checked. Valid JSON never holds a raw `0x1E`
    /// (control characters must be escaped inside strings), so it can be framed as it is.
    pub fn from_encoded_json(json: Box<RawValue>) -> Result<Payload, PayloadError> {
        if crate::text::exceeds_depth(json.get().as_bytes(), crate::MAX_DEPTH) {
            return Err(PayloadError::new(format!(
                "JSON nesting exceeds the maximum depth of {}",
                crate::MAX_DEPTH
            )));
        }
        Ok(Payload(Repr::Json(json)))
    }

    /// Renders the payload as JSON text (MessagePack payloads are transcoded).
    pub fn to_json_string(&self) -> Result<String, PayloadError> {
        let mut out = Vec::new();
        self.write_json(&mut out)?;
        String::from_utf8(out).map_err(|_| PayloadError::new("transcoded JSON is not UTF-8"))
    }

    /// True for JSON `null` and MessagePack `nil`.
    pub fn is_null(&self) -> bool {
        match &self.0 {
            Repr::Json(raw) => raw.get().trim() == "null",
            Repr::MessagePack(value) => value.is_nil(),
        }
    }

    pub(crate) fn from_raw_json(raw: Box<RawValue>) -> Payload {
        Payload(Repr::Json(raw))
    }

    pub(crate) fn from_msgpack(value: MpValue) -> Payload {
        Payload(Repr::MessagePack(value))
    }

    /// Appends the JSON text of this payload to `out`. On error `out` may hold a partial value;
    /// the caller truncates.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> Result<(), PayloadError> {
        match &self.0 {
            Repr::Json(raw) => {
                out.extend_from_slice(raw.get().as_bytes());
                Ok(())
            }
            Repr::MessagePack(value) => serde_json::to_writer(out, &JsonView(value))
                .map_err(|e| PayloadError::from_json(&e)),
        }
    }

    /// The MessagePack value of this payload (borrowed when it already is one).
    pub(crate) fn to_msgpack(&self) -> Result<Cow<'_, MpValue>, PayloadError> {
        match &self.0 {
            Repr::Json(raw) => serde_json::from_str::<MpValue>(raw.get())
                .map(Cow::Owned)
                .map_err(|e| PayloadError::from_json(&e)),
            Repr::MessagePack(value) => Ok(Cow::Borrowed(value)),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        match (&self.0, &other.0) {
            (Repr::Json(a), Repr::Json(b)) => {
                a.get() == b.get()
                    || match (
                        serde_json::from_str::<serde_json::Value>(a.get()),
                        serde_json::from_str::<serde_json::Value>(b.get()),
                    ) {
                        (Ok(a), Ok(b)) => a == b,
                        _ => false,
                    }
            }
            (Repr::MessagePack(a), Repr::MessagePack(b)) => msgpack_eq(a, b),
            (Repr::Json(json), Repr::MessagePack(mp))
            | (Repr::MessagePack(mp), Repr::Json(json)) => {
                match (
                    serde_json::from_str::<serde_json::Value>(json.get()),
                    serde_json::to_value(JsonView(mp)),
                ) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => false,
                }
            }
        }
    }
}

/// Structural equality where floats compare by bits, so that a decoded NaN equals itself and
/// round-trip checks hold for every value.
fn msgpack_eq(a: &MpValue, b: &MpValue) -> bool {
    match (a, b) {
        (MpValue::F32(x), MpValue::F32(y)) => x.to_bits() == y.to_bits(),
        (MpValue::F64(x), MpValue::F64(y)) => x.to_bits() == y.to_bits(),
        (MpValue::Array(x), MpValue::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| msgpack_eq(x, y))
        }
        (MpValue::Map(x), MpValue::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((xk, xv), (yk, yv))| msgpack_eq(xk, yk) && msgpack_eq(xv, yv))
        }
        _ => a == b,
    }
}

/// Serializes a MessagePack value with the JSON type mapping described in the module docs.
pub(crate) struct JsonView<'a>(pub(crate) &'a MpValue);

impl Serialize for JsonView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            MpValue::Nil => s.serialize_unit(),
            MpValue::Boolean(b) => s.serialize_bool(*b),
            MpValue::Integer(i) => match (i.as_u64(), i.as_i64()) {
                (Some(u), _) => s.serialize_u64(u),
                (None, Some(n)) => s.serialize_i64(n),
                (None, None) => Err(S::Error::custom("integer out of range")),
            },
            // Widened exactly, as a JavaScript MessagePack client would see it (0.1f32 is
            // 0.10000000149011612); this also keeps cross-protocol equality exact.
            MpValue::F32(f) => s.serialize_f64(f64::from(*f)),
            MpValue::F64(f) => s.serialize_f64(*f),
            MpValue::String(text) => match text.as_str() {
                Some(text) => s.serialize_str(text),
                None => Err(S::Error::custom("MessagePack string is not valid UTF-8")),
            },
            MpValue::Binary(bytes) => s.serialize_str(&BASE64.encode(bytes)),
            MpValue::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&JsonView(item))?;
                }
                seq.end()
            }
            MpValue::Map(pairs) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                for (key, value) in pairs {
                    map.serialize_entry(&json_key::<S::Error>(key)?, &JsonView(value))?;
                }
                map.end()
            }
            MpValue::Ext(-1, data) => match timestamp_to_iso8601(data) {
                Some(text) => s.serialize_str(&text),
                None => Err(S::Error::custom("invalid MessagePack timestamp")),
            },
            MpValue::Ext(tag, _) => Err(S::Error::custom(format_args!(
                "MessagePack extension type {tag} has no JSON representation"
            ))),
        }
    }
}

/// JSON object keys must be strings; integer and boolean keys take their text form (what a
/// JavaScript client would do with such a map).
fn json_key<E: serde::ser::Error>(key: &MpValue) -> Result<Cow<'_, str>, E> {
    match key {
        MpValue::String(text) => text
            .as_str()
            .map(Cow::Borrowed)
            .ok_or_else(|| E::custom("MessagePack map key is not valid UTF-8")),
        MpValue::Integer(i) => Ok(Cow::Owned(i.to_string())),
        MpValue::Boolean(b) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
        other => Err(E::custom(format_args!(
            "MessagePack map key {other} has no JSON representation"
        ))),
    }
}

/// Renders a MessagePack timestamp extension (−1) as an ISO-8601 UTC string the way .NET writes
/// a UTC `DateTime` (fraction only when non-zero, trailing zeros trimmed). `None` when the data
/// is not a valid timestamp or the year is outside 0000–9999.
fn timestamp_to_iso8601(data: &[u8]) -> Option<String> {
    let (seconds, nanos): (i64, u32) = match data.len() {
        4 => (i64::from(u32::from_be_bytes(data.try_into().ok()?)), 0),
        8 => {
            let packed = u64::from_be_bytes(data.try_into().ok()?);
            let nanos = u32::try_from(packed >> 34).ok()?;
            (i64::try_from(packed & 0x3_FFFF_FFFF).ok()?, nanos)
        }
        12 => {
            let nanos = u32::from_be_bytes(data.get(..4)?.try_into().ok()?);
            (i64::from_be_bytes(data.get(4..)?.try_into().ok()?), nanos)
        }
        _ => return None,
    };
    if nanos >= 1_000_000_000 {
        return None;
    }
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    );
    if nanos > 0 {
        let mut fraction = format!("{nanos:09}");
        while fraction.ends_with('0') {
            fraction.pop();
        }
        let _ = write!(text, ".{fraction}");
    }
    text.push('Z');
    Some(text)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day), proleptic
/// Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Unit {
        id: u32,
        name: String,
        tags: Vec<String>,
        position: Option<(f64, f64)>,
    }

    fn mp(value: MpValue) -> Payload {
        Payload::from_msgpack(value)
    }

    #[test]
    fn raw_json_is_taken_as_it_is_and_depth_bounded() {
        let text = r#"{"type":"JobAssigned","n":[1, 2]}"#;
        let raw = RawValue::from_string(text.to_owned()).unwrap();
        let payload = Payload::from_encoded_json(raw).unwrap();
        assert_eq!(payload.to_json_string().unwrap(), text);
        let deep = format!(
            "{}{}",
            "[".repeat(crate::MAX_DEPTH + 1),
            "]".repeat(crate::MAX_DEPTH + 1)
        );
        let raw = RawValue::from_string(deep).unwrap();
        assert!(Payload::from_encoded_json(raw).is_err());
    }

    #[test]
    fn serialize_then_deserialize() {
        let unit = Unit {
            id: 7,
            name: "Engine 7".into(),
            tags: vec!["fire".into()],
            position: Some((1.5, -2.25)),
        };
        let payload = Payload::from_serialize(&unit).unwrap();
        assert_eq!(payload.deserialize::<Unit>().unwrap(), unit);
        let as_mp = mp(payload.to_msgpack().unwrap().into_owned());
        assert_eq!(as_mp.deserialize::<Unit>().unwrap(), unit);
        assert_eq!(as_mp, payload);
    }

    #[test]
    fn deserialize_error_is_short() {
        let err = Payload::from_serialize(&1).unwrap().deserialize::<String>();
        assert_eq!(
            err.unwrap_err().to_string(),
            "invalid type: integer `1`, expected a string"
        );
        let err = mp(MpValue::from(1)).deserialize::<String>();
        assert_eq!(
            err.unwrap_err().to_string(),
            "invalid type: integer `1`, expected a string"
        );
    }

    #[test]
    fn from_serialize_reports_unrepresentable_values() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        assert!(Payload::from_serialize(&map).is_err());
    }

    #[test]
    fn null_payload() {
        assert!(Payload::null().is_null());
        assert_eq!(Payload::null().to_json_string().unwrap(), "null");
        assert_eq!(Payload::null(), mp(MpValue::Nil));
        assert_eq!(Payload::null().deserialize::<Option<u8>>().unwrap(), None);
        assert!(!Payload::from_serialize(&0).unwrap().is_null());
    }

    #[test]
    fn json_equality_is_semantic() {
        let a = Payload::from_json_str(r#"{ "a": 1, "b": [true] }"#).unwrap();
        let b = Payload::from_json_str(r#"{"b":[true],"a":1}"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Payload::from_json_str(r#"{"a":1}"#).unwrap());
        assert_ne!(
            Payload::from_json_str("1").unwrap(),
            Payload::from_json_str("1.0").unwrap()
        );
    }

    #[test]
    fn msgpack_to_json_type_mapping() {
        let value = MpValue::Map(vec![
            (MpValue::from("bin"), MpValue::Binary(vec![1, 2, 3])),
            (MpValue::from(5), MpValue::F64(f64::NAN)),
            (MpValue::Boolean(true), MpValue::F32(0.5)),
            (
                MpValue::from("when"),
                MpValue::Ext(-1, 1_491_868_800u32.to_be_bytes().to_vec()),
            ),
            (MpValue::from("neg"), MpValue::from(-3)),
        ]);
        assert_eq!(
            mp(value).to_json_string().unwrap(),
            r#"{"bin":"AQID","5":null,"true":0.5,"when":"2017-04-11T00:00:00Z","neg":-3}"#
        );
        assert!(mp(MpValue::Ext(5, vec![1])).to_json_string().is_err());
        let nil_key = MpValue::Map(vec![(MpValue::Nil, MpValue::Nil)]);
        assert!(mp(nil_key).to_json_string().is_err());
    }

    #[test]
    fn timestamps() {
        // 8-byte form: 500 ms after 2017-04-11T00:00:00Z.
        let packed: u64 = (500_000_000u64 << 34) | 1_491_868_800;
        assert_eq!(
            timestamp_to_iso8601(&packed.to_be_bytes()).as_deref(),
            Some("2017-04-11T00:00:00.5Z")
        );
        // 12-byte form, before the epoch.
        let mut data = 1u32.to_be_bytes().to_vec();
        data.extend_from_slice(&(-1i64).to_be_bytes());
        assert_eq!(
            timestamp_to_iso8601(&data).as_deref(),
            Some("1969-12-31T23:59:59.000000001Z")
        );
        assert_eq!(
            timestamp_to_iso8601(&0u32.to_be_bytes()).as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
        assert_eq!(
            timestamp_to_iso8601(&951_782_400u32.to_be_bytes()).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(timestamp_to_iso8601(&[0; 3]), None);
        let mut bad_nanos = 1_000_000_000u32.to_be_bytes().to_vec();
        bad_nanos.extend_from_slice(&0i64.to_be_bytes());
        assert_eq!(timestamp_to_iso8601(&bad_nanos), None);
        let mut far = 0u32.to_be_bytes().to_vec();
        far.extend_from_slice(&i64::MAX.to_be_bytes());
        assert_eq!(timestamp_to_iso8601(&far), None);
    }

    #[test]
    fn nan_equals_itself_in_msgpack() {
        assert_eq!(mp(MpValue::F64(f64::NAN)), mp(MpValue::F64(f64::NAN)));
        assert_ne!(mp(MpValue::F64(0.0)), mp(MpValue::F64(-0.0)));
    }

    #[test]
    fn from_json_str_rejects_deep_nesting() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(Payload::from_json_str(&deep).is_err());
        assert!(Payload::from_json_str("[1,").is_err());
    }
}
