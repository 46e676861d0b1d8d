//! RDB's basic encodings: lengths, strings (integer, LZF or raw), doubles and ids.

use super::int::canonical_int;
use super::lzf;
use crate::rdb::Bytes;

/// Strings longer than this are tried with LZF, as the servers do with `rdbcompression yes`.
const LZF_MIN_LEN: usize = 20;

/// Integer-encoded string markers (`RDB_ENC_INT8/16/32`) and the LZF marker.
const ENC_INT8: u8 = 0xc0;
const ENC_INT16: u8 = 0xc1;
const ENC_INT32: u8 = 0xc2;
const ENC_LZF: u8 = 0xc3;

/// Appends a length: 6, 14, 32 or 64 bits.
pub fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if let Ok(len) = u32::try_from(len) {
        out.push(0x80);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a string the way the servers save one: as an 8/16/32-bit integer when it is the
/// canonical text of one, LZF-compressed when that saves bytes, raw otherwise.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11
        && let Some(i) = canonical_int(s)
        && put_small_int(out, i)
    {
        return;
    }
    if s.len() > LZF_MIN_LEN
        && let Some(packed) = lzf::compress(s, s.len() - 5)
    {
        out.push(ENC_LZF);
        put_len(out, packed.len() as u64);
        put_len(out, s.len() as u64);
        out.extend_from_slice(&packed);
        return;
    }
    put_raw(out, s);
}

/// Appends a string with a length prefix and no integer or LZF encoding.
pub fn put_raw(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a value string ([`put_string`] of its bytes).
pub fn put_bytes(out: &mut Vec<u8>, b: &Bytes<'_>) {
    match b {
        Bytes::Int(i) if put_small_int(out, *i) => {}
        other => other.with_bytes(|s| put_string(out, s)),
    }
}

/// Appends `i` integer-encoded when it fits 32 bits; returns whether it did.
fn put_small_int(out: &mut Vec<u8>, i: i64) -> bool {
    if let Ok(v) = i8::try_from(i) {
        out.extend_from_slice(&[ENC_INT8, v as u8]);
    } else if let Ok(v) = i16::try_from(i) {
        out.push(ENC_INT16);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(i) {
        out.push(ENC_INT32);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Appends a little-endian binary double.
pub fn put_double(out: &mut Vec<u8>, d: f64) {
    out.extend_from_slice(&d.to_le_bytes());
}

/// Appends an 8-byte little-endian millisecond time.
pub fn put_ms(out: &mut Vec<u8>, ms: i64) {
    out.extend_from_slice(&ms.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Cursor;
    use crate::rdb::string::{RdbStr, read_len};

    fn read_back(bytes: &[u8]) -> Vec<u8> {
        let mut cur = Cursor::new(bytes, 0);
        let s = RdbStr::read_bytes(&mut cur).unwrap().to_vec();
        assert_eq!(cur.remaining(), 0);
        s
    }

    #[test]
    fn lengths_round_trip_at_every_width() {
        for len in [0, 63, 64, 16383, 16384, u64::from(u32::MAX), u64::from(u32::MAX) + 1, u64::MAX] {
            let mut out = Vec::new();
            put_len(&mut out, len);
            assert_eq!(read_len(&mut Cursor::new(&out, 0)).unwrap(), len);
        }
    }

    #[test]
    fn strings_pick_integer_lzf_or_raw() {
        let cases: [(&[u8], usize); 7] = [
            (b"12", 2),
            (b"-129", 3),
            (b"2147483647", 5),
            (b"2147483648", 11),
            (b"007", 4),
            (b"", 1),
            (&[b'a'; 100], 0),
        ];
        for (s, encoded_len) in cases {
            let mut out = Vec::new();
            put_string(&mut out, s);
            assert_eq!(read_back(&out), s);
            if encoded_len > 0 {
                assert_eq!(out.len(), encoded_len, "{s:?}");
            } else {
                assert_eq!(out[0], ENC_LZF);
            }
        }
        let mut out = Vec::new();
        put_bytes(&mut out, &Bytes::Int(i64::MIN));
        assert_eq!(read_back(&out), i64::MIN.to_string().as_bytes());
    }
}
