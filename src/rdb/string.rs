//! Length-prefixed integers and strings (`rdbLoadLen`, `rdbGenericLoadStringObject`).

use super::value::Bytes;
use crate::cursor::Cursor;
use crate::error::Result;

/// Special string encodings in the low 6 bits of a `11xxxxxx` length byte.
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// A decoded length prefix: a plain length or a special string encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// A length or count.
    Plain(u64),
    /// A special string encoding (`RDB_ENC_*`).
    Special(u8),
}

/// Reads a length prefix, which may announce a special string encoding.
#[inline]
pub fn read_length(cur: &mut Cursor<'_>) -> Result<Length> {
    let first = cur.u8("length")?;
    Ok(match first >> 6 {
        0 => Length::Plain(u64::from(first & 0x3f)),
        1 => Length::Plain(u64::from(first & 0x3f) << 8 | u64::from(cur.u8("14-bit length")?)),
        3 => Length::Special(first & 0x3f),
        _ => match first {
            0x80 => Length::Plain(u64::from(cur.u32_be("32-bit length")?)),
            0x81 => Length::Plain(cur.u64_be("64-bit length")?),
            other => return Err(bad_length_byte(cur, other)),
        },
    })
}

#[cold]
fn bad_length_byte(cur: &Cursor<'_>, byte: u8) -> crate::Error {
    cur.invalid_at(cur.offset() - 1, "length", "0x80 or 0x81 after 10 bits", format!("{byte:#04x}"))
}

/// Reads a plain length (count, db number, …); a special encoding here is an error.
#[inline]
pub fn read_len(cur: &mut Cursor<'_>) -> Result<u64> {
    let at = cur.offset();
    match read_length(cur)? {
        Length::Plain(n) => Ok(n),
        Length::Special(e) => {
            Err(cur.invalid_at(at, "length", "a plain length", format!("string encoding {e}")))
        }
    }
}

/// A string as stored: raw bytes, an integer, or LZF-compressed bytes, all borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RdbStr<'a> {
    /// Raw bytes.
    Raw(&'a [u8]),
    /// An integer-encoded string; its value is the decimal text.
    Int(i64),
    /// LZF-compressed bytes that decompress to `len` bytes; `offset` is where they start.
    Lzf {
        /// The compressed bytes.
        compressed: &'a [u8],
        /// Declared uncompressed length.
        len: u64,
        /// Absolute offset of the compressed bytes.
        offset: u64,
    },
}

impl<'a> RdbStr<'a> {
    /// Reads a string at the cursor without decompressing it.
    #[inline(always)]
    pub fn read(cur: &mut Cursor<'a>) -> Result<RdbStr<'a>> {
        // Fast path: a raw string of up to 63 bytes, the most common string in any file.
        if let Some((&first, rest)) = cur.rest().split_first()
            && first < 0x40
            && let Some(s) = rest.get(..usize::from(first))
        {
            cur.advance(1 + s.len());
            return Ok(RdbStr::Raw(s));
        }
        RdbStr::read_slow(cur)
    }

    #[inline(never)]
    fn read_slow(cur: &mut Cursor<'a>) -> Result<RdbStr<'a>> {
        let at = cur.offset();
        match read_length(cur)? {
            Length::Plain(n) => Ok(RdbStr::Raw(cur.take_len(n, "string")?)),
            Length::Special(ENC_INT8) => Ok(RdbStr::Int(i64::from(cur.u8("int8 string")? as i8))),
            Length::Special(ENC_INT16) => {
                Ok(RdbStr::Int(i64::from(i16::from_le_bytes(cur.array("int16 string")?))))
            }
            Length::Special(ENC_INT32) => {
                Ok(RdbStr::Int(i64::from(i32::from_le_bytes(cur.array("int32 string")?))))
            }
            Length::Special(ENC_LZF) => {
                let clen = read_len(cur)?;
                let len = read_len(cur)?;
                let offset = cur.offset();
                let compressed = cur.take_len(clen, "LZF string")?;
                Ok(RdbStr::Lzf { compressed, len, offset })
            }
            Length::Special(e) => {
                Err(cur.invalid_at(at, "string encoding", "0 (int8), 1 (int16), 2 (int32) or 3 (LZF)", e))
            }
        }
    }

    /// Skips a string at the cursor.
    pub fn skip(cur: &mut Cursor<'a>) -> Result<()> {
        RdbStr::read(cur).map(|_| ())
    }

    /// The string's bytes, decompressing LZF data.
    pub fn decode(self) -> Result<Bytes<'a>> {
        Ok(match self {
            RdbStr::Raw(b) => Bytes::Borrowed(b),
            RdbStr::Int(i) => Bytes::Int(i),
            RdbStr::Lzf { compressed, len, offset } => {
                Bytes::Owned(super::lzf::decompress(compressed, len, offset)?)
            }
        })
    }

    /// Reads and decodes a string at the cursor.
    pub fn read_bytes(cur: &mut Cursor<'a>) -> Result<Bytes<'a>> {
        RdbStr::read(cur)?.decode()
    }
}

/// Reads a string that must hold a decimal integer (`rdbLoadIntegerObject` callers that parse).
pub fn read_decimal<T: std::str::FromStr>(cur: &mut Cursor<'_>, what: &'static str) -> Result<T> {
    let at = cur.offset();
    let bytes = RdbStr::read_bytes(cur)?;
    let text = bytes.to_vec();
    std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| cur.invalid_at(at, what, "a decimal integer", crate::error::escape_bytes(&text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<RdbStr<'_>> {
        RdbStr::read(&mut Cursor::new(bytes, 0))
    }

    #[test]
    fn reads_every_length_form() {
        let len = |b: &[u8]| read_len(&mut Cursor::new(b, 0)).unwrap();
        assert_eq!(len(&[0x3f]), 63);
        assert_eq!(len(&[0x41, 0x02]), 0x102);
        assert_eq!(len(&[0x80, 0, 1, 0, 0]), 65536);
        assert_eq!(len(&[0x81, 0, 0, 0, 1, 0, 0, 0, 0]), 1 << 32);
        assert!(read_len(&mut Cursor::new(&[0x82], 0)).is_err());
        assert!(read_len(&mut Cursor::new(&[0xc0, 1], 0)).is_err());
    }

    #[test]
    fn reads_every_string_form() {
        assert_eq!(read(&[3, b'a', 0, b'c']).unwrap(), RdbStr::Raw(b"a\0c"));
        assert_eq!(read(&[0xc0, 0xff]).unwrap(), RdbStr::Int(-1));
        assert_eq!(read(&[0xc1, 0x00, 0x80]).unwrap(), RdbStr::Int(-32768));
        assert_eq!(read(&[0xc2, 0xff, 0xff, 0xff, 0x7f]).unwrap(), RdbStr::Int(i64::from(i32::MAX)));
        assert!(read(&[0xc4]).is_err());
        assert!(read(&[5, b'a']).is_err());
        let text = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let packed = lzf::compress(text).unwrap();
        let mut file = vec![0xc3, packed.len() as u8, text.len() as u8];
        file.extend_from_slice(&packed);
        assert_eq!(read(&file).unwrap().decode().unwrap().to_vec(), text);
    }
}
