//! Text framing shared by the handshake and the JSON hub protocol: records terminated by
//! [`RECORD_SEPARATOR`], plus two cheap pre-parse scans.

use crate::RECORD_SEPARATOR;

/// Result of looking for one `0x1E`-terminated record at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record<'a> {
    /// A whole record: its bytes (separator excluded) and the bytes consumed (separator included).
    Complete { record: &'a [u8], consumed: usize },
    /// No separator yet, and what is buffered still fits the limit.
    Incomplete,
    /// No separator within the first `max + 1` bytes: the record is certainly longer than `max`.
    TooLarge,
}

/// Finds the first record in `buf`, looking at no more than `max + 1` bytes so that a peer that
/// never sends a separator is rejected as soon as it is certain, not when memory runs out.
pub(crate) fn split_record(buf: &[u8], max: usize) -> Record<'_> {
    let window = buf.get(..max.saturating_add(1)).unwrap_or(buf);
    match window.iter().position(|&b| b == RECORD_SEPARATOR) {
        Some(end) => Record::Complete {
            record: window.get(..end).unwrap_or_default(),
            consumed: end + 1,
        },
        None if buf.len() > max => Record::TooLarge,
        None => Record::Incomplete,
    }
}

/// Names the JSON token a document starts with, in .NET's `JsonTokenType` words, so that a
/// non-object message gets .NET's error text. `None` for empty or unrecognisable input (the
/// parser then reports the precise syntax error).
pub(crate) fn first_token_kind(text: &str) -> Option<&'static str> {
    let first = text
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    Some(match first {
        b'{' => "Object",
        b'[' => "Array",
        b'"' => "String",
        b'n' => "Null",
        b't' => "True",
        b'f' => "False",
        b'-' | b'0'..=b'9' => "Number",
        _ => return None,
    })
}

/// Returns true when a JSON text nests arrays/objects deeper than `limit`.
///
/// serde_json skips values it does not materialise (`RawValue`, `IgnoredAny`) without a depth
/// limit, so this linear scan is what bounds the depth of opaque payloads. It is only exact for
/// well-formed JSON; malformed input is rejected by the parser either way.
pub(crate) fn exceeds_depth(text: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_record_cases() {
        assert_eq!(split_record(b"", 4), Record::Incomplete);
        assert_eq!(split_record(b"abcd", 4), Record::Incomplete);
        assert_eq!(split_record(b"abcde", 4), Record::TooLarge);
        assert_eq!(
            split_record(b"abcd\x1e", 4),
            Record::Complete {
                record: b"abcd",
                consumed: 5
            }
        );
        assert_eq!(
            split_record(b"\x1exyz", 0),
            Record::Complete {
                record: b"",
                consumed: 1
            }
        );
        assert_eq!(split_record(b"abcde\x1e", 4), Record::TooLarge);
        assert_eq!(
            split_record(b"ab\x1ecd\x1e", usize::MAX),
            Record::Complete {
                record: b"ab",
                consumed: 3
            }
        );
    }

    #[test]
    fn depth_scan_ignores_brackets_in_strings() {
        assert!(!exceeds_depth(br#"{"a":"[[[[[[\"[[["}"#, 2));
        assert!(exceeds_depth(b"[[[", 2));
        assert!(!exceeds_depth(b"[[]][[]]", 2));
    }

    #[test]
    fn token_kinds() {
        assert_eq!(first_token_kind("  {}"), Some("Object"));
        assert_eq!(first_token_kind("[42]"), Some("Array"));
        assert_eq!(first_token_kind("null"), Some("Null"));
        assert_eq!(first_token_kind("\"x\""), Some("String"));
        assert_eq!(first_token_kind("-1"), Some("Number"));
        assert_eq!(first_token_kind(""), None);
        assert_eq!(first_token_kind("x"), None);
    }
}
