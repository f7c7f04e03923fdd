//! A small bounded MessagePack reader and an infallible writer for [`rmpv::Value`].
//!
//! Why not `rmpv::decode::read_value`: it recurses without a depth limit and pre-allocates from
//! declared lengths, so a 6-byte message claiming a 4-billion-element array would try to allocate
//! gigabytes. This reader works on a complete in-memory body, refuses nesting beyond
//! [`MAX_DEPTH`](crate::MAX_DEPTH), and refuses any declared length that the remaining bytes
//! cannot possibly hold before allocating for it. It also rejects `str` data that is not UTF-8,
//! so every decoded string can be handed to JSON.

use rmpv::{Integer, Utf8String, Value};

use crate::ProtocolError;

/// Cursor over a complete MessagePack body.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn malformed(reason: &'static str) -> ProtocolError {
    ProtocolError::InvalidMessagePack(reason)
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| malformed("unexpected end of data"))?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| malformed("unexpected end of data"))?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<usize, ProtocolError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn u32(&mut self) -> Result<usize, ProtocolError> {
        usize::try_from(u32::from_be_bytes(self.array()?))
            .map_err(|_| malformed("length does not fit in memory"))
    }

    /// Reads one value; `depth` is the depth this value would have if it is a container
    /// (the message array itself is depth 1).
    pub(crate) fn read_value(&mut self, depth: usize) -> Result<Value, ProtocolError> {
        let marker = self.u8()?;
        Ok(match marker {
            0x00..=0x7f => Value::Integer(Integer::from(marker)),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.array_value(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => self.string(usize::from(marker & 0x1f))?,
            0xc0 => Value::Nil,
            0xc1 => return Err(malformed("reserved marker 0xc1")),
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 => {
                let len = usize::from(self.u8()?);
                Value::Binary(self.take(len)?.to_vec())
            }
            0xc5 => {
                let len = self.u16()?;
                Value::Binary(self.take(len)?.to_vec())
            }
            0xc6 => {
                let len = self.u32()?;
                Value::Binary(self.take(len)?.to_vec())
            }
            0xc7 => {
                let len = usize::from(self.u8()?);
                self.ext(len)?
            }
            0xc8 => {
                let len = self.u16()?;
                self.ext(len)?
            }
            0xc9 => {
                let len = self.u32()?;
                self.ext(len)?
            }
            0xca => Value::F32(f32::from_be_bytes(self.array()?)),
            0xcb => Value::F64(f64::from_be_bytes(self.array()?)),
            0xcc => Value::Integer(Integer::from(self.u8()?)),
            0xcd => Value::Integer(Integer::from(u16::from_be_bytes(self.array()?))),
            0xce => Value::Integer(Integer::from(u32::from_be_bytes(self.array()?))),
            0xcf => Value::Integer(Integer::from(u64::from_be_bytes(self.array()?))),
            0xd0 => Value::Integer(Integer::from(i8::from_be_bytes(self.array()?))),
            0xd1 => Value::Integer(Integer::from(i16::from_be_bytes(self.array()?))),
            0xd2 => Value::Integer(Integer::from(i32::from_be_bytes(self.array()?))),
            0xd3 => Value::Integer(Integer::from(i64::from_be_bytes(self.array()?))),
            0xd4 => self.ext(1)?,
            0xd5 => self.ext(2)?,
            0xd6 => self.ext(4)?,
            0xd7 => self.ext(8)?,
            0xd8 => self.ext(16)?,
            0xd9 => {
                let len = usize::from(self.u8()?);
                self.string(len)?
            }
            0xda => {
                let len = self.u16()?;
                self.string(len)?
            }
            0xdb => {
                let len = self.u32()?;
                self.string(len)?
            }
            0xdc => {
                let len = self.u16()?;
                self.array_value(len, depth)?
            }
            0xdd => {
                let len = self.u32()?;
                self.array_value(len, depth)?
            }
            0xde => {
                let len = self.u16()?;
                self.map(len, depth)?
            }
            0xdf => {
                let len = self.u32()?;
                self.map(len, depth)?
            }
            0xe0..=0xff => Value::Integer(Integer::from(i8::from_be_bytes([marker]))),
        })
    }

    fn string(&mut self, len: usize) -> Result<Value, ProtocolError> {
        let bytes = self.take(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| ProtocolError::InvalidUtf8)?;
        Ok(Value::String(Utf8String::from(text)))
    }

    fn ext(&mut self, len: usize) -> Result<Value, ProtocolError> {
        let [tag] = self.array::<1>()?;
        let tag = i8::from_be_bytes([tag]);
        Ok(Value::Ext(tag, self.take(len)?.to_vec()))
    }

    fn enter(&self, depth: usize) -> Result<(), ProtocolError> {
        if depth > crate::MAX_DEPTH {
            return Err(ProtocolError::NestingTooDeep {
                limit: crate::MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn array_value(&mut self, len: usize, depth: usize) -> Result<Value, ProtocolError> {
        self.enter(depth)?;
        // Every element takes at least one byte: a longer claim is a lie, refused before
        // `with_capacity` could be asked for it.
        if len > self.remaining() {
            return Err(malformed("array length exceeds the message size"));
        }
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(self.read_value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, ProtocolError> {
        self.enter(depth)?;
        if len > self.remaining() / 2 {
            return Err(malformed("map length exceeds the message size"));
        }
        let mut pairs = Vec::with_capacity(len);
        for _ in 0..len {
            let key = self.read_value(depth + 1)?;
            let value = self.read_value(depth + 1)?;
            pairs.push((key, value));
        }
        Ok(Value::Map(pairs))
    }
}

// ---- writer -------------------------------------------------------------------------------
//
// Always the smallest encoding, as MessagePack-CSharp and the JS encoder do. Lengths above
// u32::MAX cannot occur in a message the 2 GiB length prefix can carry; they saturate and the
// caller's final size check rejects the message.

fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

pub(crate) fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

pub(crate) fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.push(if value { 0xc3 } else { 0xc2 });
}

pub(crate) fn write_uint(out: &mut Vec<u8>, value: u64) {
    if let Ok(small) = u8::try_from(value) {
        if small < 0x80 {
            out.push(small);
        } else {
            out.extend_from_slice(&[0xcc, small]);
        }
    } else if let Ok(v) = u16::try_from(value) {
        out.push(0xcd);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(value) {
        out.push(0xce);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

pub(crate) fn write_int(out: &mut Vec<u8>, value: i64) {
    if let Ok(unsigned) = u64::try_from(value) {
        write_uint(out, unsigned);
    } else if value >= -32 {
        out.extend_from_slice(&(value as i8).to_be_bytes());
    } else if let Ok(v) = i8::try_from(value) {
        out.push(0xd0);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = i16::try_from(value) {
        out.push(0xd1);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = i32::try_from(value) {
        out.push(0xd2);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    let len = text.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(l) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, l]);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&len32(len).to_be_bytes());
    }
    out.extend_from_slice(text.as_bytes());
}

fn write_bin(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len();
    if let Ok(l) = u8::try_from(len) {
        out.extend_from_slice(&[0xc4, l]);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xc5);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&len32(len).to_be_bytes());
    }
    out.extend_from_slice(data);
}

fn write_ext(out: &mut Vec<u8>, tag: i8, data: &[u8]) {
    let len = data.len();
    match len {
        1 => out.push(0xd4),
        2 => out.push(0xd5),
        4 => out.push(0xd6),
        8 => out.push(0xd7),
        16 => out.push(0xd8),
        _ => {
            if let Ok(l) = u8::try_from(len) {
                out.extend_from_slice(&[0xc7, l]);
            } else if let Ok(l) = u16::try_from(len) {
                out.push(0xc8);
                out.extend_from_slice(&l.to_be_bytes());
            } else {
                out.push(0xc9);
                out.extend_from_slice(&len32(len).to_be_bytes());
            }
        }
    }
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(data);
}

pub(crate) fn write_array_len(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xdc);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&len32(len).to_be_bytes());
    }
}

pub(crate) fn write_map_len(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x80 | len as u8);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xde);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&len32(len).to_be_bytes());
    }
}

/// Writes any value. Recursion depth equals the value's depth, which is bounded for decoded
/// values and for values parsed from JSON (serde_json's recursion limit).
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Nil => write_nil(out),
        Value::Boolean(b) => write_bool(out, *b),
        Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => write_uint(out, u),
            (None, Some(n)) => write_int(out, n),
            // rmpv integers are always u64 or i64; keep the writer total anyway.
            (None, None) => write_nil(out),
        },
        Value::F32(f) => {
            out.push(0xca);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::F64(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::String(text) => match text.as_str() {
            Some(text) => write_str(out, text),
            None => {
                // Not produced by this crate's reader; write the bytes as they are.
                let bytes = text.as_bytes();
                let len = bytes.len();
                if len < 32 {
                    out.push(0xa0 | len as u8);
                } else {
                    out.push(0xdb);
                    out.extend_from_slice(&len32(len).to_be_bytes());
                }
                out.extend_from_slice(bytes);
            }
        },
        Value::Binary(data) => write_bin(out, data),
        Value::Array(items) => {
            write_array_len(out, items.len());
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(pairs) => {
            write_map_len(out, pairs.len());
            for (key, value) in pairs {
                write_value(out, key);
                write_value(out, value);
            }
        }
        Value::Ext(tag, data) => write_ext(out, *tag, data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        write_value(&mut out, value);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Value, ProtocolError> {
        Reader::new(bytes).read_value(1)
    }

    /// Table-driven: value → exact bytes → same value.
    macro_rules! golden {
        ($($name:ident: $value:expr => $bytes:expr;)*) => {$(
            #[test]
            fn $name() {
                let value: Value = $value;
                let bytes: Vec<u8> = $bytes;
                assert_eq!(encode(&value), bytes, "encoding");
                assert_eq!(decode(&bytes).unwrap(), value, "decoding");
            }
        )*};
    }

    golden! {
        fixint: Value::from(42) => vec![0x2a];
        uint8: Value::from(200) => vec![0xcc, 200];
        uint16: Value::from(300) => vec![0xcd, 0x01, 0x2c];
        uint32: Value::from(70_000) => vec![0xce, 0, 1, 0x11, 0x70];
        uint64: Value::from(u64::MAX) => vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        neg_fixint: Value::from(-1) => vec![0xff];
        neg_fixint_min: Value::from(-32) => vec![0xe0];
        int8: Value::from(-33) => vec![0xd0, 0xdf];
        int16: Value::from(-200) => vec![0xd1, 0xff, 0x38];
        int32: Value::from(-40_000) => vec![0xd2, 0xff, 0xff, 0x63, 0xc0];
        int64: Value::from(i64::MIN) => vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0];
        nil: Value::Nil => vec![0xc0];
        bools: Value::Array(vec![Value::Boolean(true), Value::Boolean(false)]) => vec![0x92, 0xc3, 0xc2];
        f32: Value::F32(1.5) => vec![0xca, 0x3f, 0xc0, 0, 0];
        f64: Value::F64(1.5) => vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0];
        fixstr: Value::from("xyz") => vec![0xa3, b'x', b'y', b'z'];
        str8: Value::from("a".repeat(32).as_str()) => [vec![0xd9, 32], vec![b'a'; 32]].concat();
        str16: Value::from("a".repeat(256).as_str()) => [vec![0xda, 1, 0], vec![b'a'; 256]].concat();
        bin8: Value::Binary(vec![1, 2]) => vec![0xc4, 2, 1, 2];
        bin16: Value::Binary(vec![7; 256]) => [vec![0xc5, 1, 0], vec![7; 256]].concat();
        fixext1: Value::Ext(5, vec![9]) => vec![0xd4, 5, 9];
        fixext4: Value::Ext(-1, vec![0, 0, 0, 1]) => vec![0xd6, 0xff, 0, 0, 0, 1];
        ext8: Value::Ext(3, vec![1, 2, 3]) => vec![0xc7, 3, 3, 1, 2, 3];
        fixmap: Value::Map(vec![(Value::from("a"), Value::from(1))]) => vec![0x81, 0xa1, b'a', 1];
        array16: Value::Array(vec![Value::Nil; 16]) => [vec![0xdc, 0, 16], vec![0xc0; 16]].concat();
        map16: Value::Map(vec![(Value::Nil, Value::Nil); 16]) => [vec![0xde, 0, 16], vec![0xc0; 32]].concat();
    }

    #[test]
    fn decodes_wide_encodings_of_small_values() {
        assert_eq!(decode(&[0xcc, 0x24]).unwrap(), Value::from(36));
        assert_eq!(
            decode(&[0xd3, 0, 0, 0, 0, 0, 0, 0, 5]).unwrap(),
            Value::from(5)
        );
        assert_eq!(decode(&[0xdb, 0, 0, 0, 1, b'x']).unwrap(), Value::from("x"));
        assert_eq!(
            decode(&[0xdd, 0, 0, 0, 1, 0xc0]).unwrap(),
            Value::Array(vec![Value::Nil])
        );
        assert_eq!(
            decode(&[0xc9, 0, 0, 0, 1, 7, 0xaa]).unwrap(),
            Value::Ext(7, vec![0xaa])
        );
    }

    #[test]
    fn lying_lengths_are_refused_before_allocation() {
        // array32 / map32 / str32 / bin32 claiming ~4 billion entries in a 5-byte body.
        for marker in [0xdd, 0xdf, 0xdb, 0xc6, 0xc9] {
            let err = decode(&[marker, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
            assert!(matches!(err, ProtocolError::InvalidMessagePack(_)), "{err}");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let ok = [vec![0x91; crate::MAX_DEPTH - 1], vec![0x90]].concat();
        assert!(decode(&ok).is_ok());
        let deep = [vec![0x91; crate::MAX_DEPTH], vec![0x90]].concat();
        assert_eq!(
            decode(&deep).unwrap_err(),
            ProtocolError::NestingTooDeep {
                limit: crate::MAX_DEPTH
            }
        );
        let very_deep = vec![0x91; 100_000];
        assert!(decode(&very_deep).is_err());
    }

    #[test]
    fn malformed_inputs() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[0xc1]).is_err());
        assert!(decode(&[0xa3, b'x']).is_err());
        assert_eq!(
            decode(&[0xa1, 0xff]).unwrap_err(),
            ProtocolError::InvalidUtf8
        );
        assert!(decode(&[0xcb, 0, 0]).is_err());
        assert!(decode(&[0xd4, 1]).is_err());
    }
}
