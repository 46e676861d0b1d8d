//! Ziplist blobs (`src/ziplist.c`, RDB 2..9 lists, hashes and sorted sets; quicklist nodes).
//!
//! Layout: 4-byte LE total size, 4-byte LE offset of the last entry, 2-byte LE count
//! (65535 = unknown), entries, `0xFF`. Each entry: previous entry's length (1 byte, or `0xFE` and
//! 4 bytes LE), an encoding header, and the data.

use super::value::Bytes;
use crate::cursor::Cursor;
use crate::error::Result;

const HEADER_LEN: usize = 10;
const END: u8 = 0xff;
const BIG_PREVLEN: u8 = 0xfe;
const UNKNOWN_COUNT: u16 = u16::MAX;

/// A validating iterator over a ziplist's elements.
pub struct Ziplist<'a> {
    cur: Cursor<'a>,
    base: u64,
    tail: u32,
    declared: u16,
    seen: usize,
    prev_len: usize,
    last_start: usize,
}

impl<'a> Ziplist<'a> {
    /// Checks the header of `blob` (at absolute offset `base`) and positions at the first entry.
    pub fn new(blob: &'a [u8], base: u64) -> Result<Ziplist<'a>> {
        let mut cur = Cursor::new(blob, base);
        let total = cur.u32_le("ziplist total size")?;
        let tail = cur.u32_le("ziplist tail offset")?;
        let declared = cur.u16_le("ziplist count")?;
        if total as usize != blob.len() || blob.len() < HEADER_LEN + 1 || blob.last() != Some(&END) {
            return Err(cur.invalid_at(
                base,
                "ziplist header",
                "total size equal to the blob size and a 0xff end",
                format!("{total} in a blob of {} bytes", blob.len()),
            ));
        }
        Ok(Ziplist { cur, base, tail, declared, seen: 0, prev_len: 0, last_start: HEADER_LEN })
    }

    /// The element count from the header, when it is known.
    pub fn declared_len(&self) -> Option<usize> {
        (self.declared != UNKNOWN_COUNT).then_some(usize::from(self.declared))
    }

    /// The next element, or `None` after the end marker (which must end the blob).
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<Bytes<'a>>> {
        if self.cur.peek() == Some(END) {
            return self.finish().map(|()| None);
        }
        let start = self.cur.pos();
        let stored_prev = read_prevlen(&mut self.cur)?;
        if stored_prev != self.prev_len {
            return Err(self.cur.invalid_at(
                self.base + start as u64,
                "ziplist prevlen",
                "the previous entry's length",
                format!("{stored_prev}, previous entry is {} bytes", self.prev_len),
            ));
        }
        let entry = read_entry(&mut self.cur)?;
        self.prev_len = self.cur.pos() - start;
        self.last_start = start;
        self.seen += 1;
        Ok(Some(entry))
    }

    #[cold]
    fn finish(&self) -> Result<()> {
        let cur = &self.cur;
        if cur.remaining() != 1 {
            return Err(cur.invalid("ziplist", "the 0xff end as the last byte", "0xff before the end"));
        }
        if self.tail as usize != self.last_start {
            return Err(cur.invalid_at(
                self.base + 4,
                "ziplist tail offset",
                "the offset of the last entry",
                format!("{}, last entry at {}", self.tail, self.last_start),
            ));
        }
        if self.declared != UNKNOWN_COUNT && usize::from(self.declared) != self.seen {
            return Err(cur.invalid_at(
                self.base + 8,
                "ziplist count",
                "as many entries as the header declares",
                format!("{} entries, header says {}", self.seen, self.declared),
            ));
        }
        Ok(())
    }
}

/// Decodes every element of a ziplist blob found at absolute offset `base`.
pub fn decode(blob: &[u8], base: u64) -> Result<Vec<Bytes<'_>>> {
    let mut zl = Ziplist::new(blob, base)?;
    let mut out = Vec::with_capacity(usize::from(zl.declared).min(blob.len()));
    while let Some(item) = zl.next()? {
        out.push(item);
    }
    Ok(out)
}

#[inline]
fn read_prevlen(cur: &mut Cursor<'_>) -> Result<usize> {
    let first = cur.u8("ziplist prevlen")?;
    if first < BIG_PREVLEN {
        Ok(usize::from(first))
    } else if first == BIG_PREVLEN {
        Ok(cur.u32_le("ziplist 5-byte prevlen")? as usize)
    } else {
        Err(cur.invalid("ziplist prevlen", "a length below 0xff", "0xff"))
    }
}

#[inline]
fn read_entry<'a>(cur: &mut Cursor<'a>) -> Result<Bytes<'a>> {
    let at = cur.offset();
    let first = cur.u8("ziplist entry encoding")?;
    Ok(match first >> 6 {
        0 => Bytes::Borrowed(cur.take(usize::from(first & 0x3f), "ziplist string")?),
        1 => {
            let len = usize::from(first & 0x3f) << 8 | usize::from(cur.u8("ziplist 14-bit length")?);
            Bytes::Borrowed(cur.take(len, "ziplist string")?)
        }
        2 => {
            let len = cur.u32_be("ziplist 32-bit length")?;
            Bytes::Borrowed(cur.take_len(u64::from(len), "ziplist string")?)
        }
        _ => Bytes::Int(match first {
            0xc0 => i64::from(i16::from_le_bytes(cur.array("ziplist int16")?)),
            0xd0 => i64::from(i32::from_le_bytes(cur.array("ziplist int32")?)),
            0xe0 => cur.i64_le("ziplist int64")?,
            0xf0 => {
                let b: [u8; 3] = cur.array("ziplist int24")?;
                i64::from(i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8)
            }
            0xfe => i64::from(cur.u8("ziplist int8")? as i8),
            0xf1..=0xfd => i64::from(first & 0x0f) - 1,
            other => {
                return Err(cur.invalid_at(
                    at,
                    "ziplist entry encoding",
                    "a known encoding byte",
                    format!("{other:#04x}"),
                ));
            }
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a ziplist from (encoding+data) entries, adding prevlens and the header.
    fn build(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = HEADER_LEN;
        for e in entries {
            tail = HEADER_LEN + body.len();
            let before = body.len();
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(BIG_PREVLEN);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(e);
            prev = body.len() - before;
        }
        let total = (HEADER_LEN + body.len() + 1) as u32;
        let mut out = total.to_le_bytes().to_vec();
        out.extend_from_slice(&(tail as u32).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(END);
        out
    }

    #[test]
    fn decodes_every_encoding() {
        let long = vec![b'y'; 300];
        let mut s14 = vec![0x40 | 1, 44];
        s14.extend_from_slice(&long);
        let blob = build(&[
            &[0x02, b'h', b'i'],
            &s14,
            &[0x80, 0, 0, 0, 1, b'z'],
            &[0xc0, 0xff, 0x7f],
            &[0xd0, 0, 0, 0, 0x80],
            &[0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0xf0, 0, 0, 0x80],
            &[0xfe, 0x80],
            &[0xf1],
            &[0xfd],
        ]);
        let got: Vec<Vec<u8>> = decode(&blob, 0).unwrap().iter().map(Bytes::to_vec).collect();
        let want: Vec<Vec<u8>> = vec![
            b"hi".to_vec(),
            long.clone(),
            b"z".to_vec(),
            b"32767".to_vec(),
            b"-2147483648".to_vec(),
            b"-1".to_vec(),
            b"-8388608".to_vec(),
            b"-128".to_vec(),
            b"0".to_vec(),
            b"12".to_vec(),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn rejects_inconsistent_structure() {
        let good = build(&[&[0x01, b'a'], &[0xf2]]);
        assert_eq!(decode(&good, 0).unwrap().len(), 2);
        let mut bad_prev = good.clone();
        bad_prev[HEADER_LEN + 3] = 7;
        assert!(decode(&bad_prev, 0).is_err());
        let mut bad_tail = good.clone();
        bad_tail[4] = 0;
        assert!(decode(&bad_tail, 0).is_err());
        let mut bad_count = good.clone();
        bad_count[8] = 5;
        assert!(decode(&bad_count, 0).is_err());
        assert!(decode(&good[..good.len() - 1], 0).is_err());
        assert!(decode(&build(&[&[0xc1]]), 0).is_err());
    }
}
