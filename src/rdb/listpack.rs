//! Listpack blobs (`src/listpack.c`): hash, set, sorted-set and list nodes, stream entries.
//!
//! Layout: 4-byte LE total size, 2-byte LE element count (65535 = unknown), entries, `0xFF`.
//! Each entry is an encoding byte with its data, then a back-length of 1 to 5 bytes.

use super::value::Bytes;
use crate::cursor::Cursor;
use crate::error::Result;

const HEADER_LEN: usize = 6;
const END: u8 = 0xff;
const UNKNOWN_COUNT: u16 = u16::MAX;

/// A validating iterator over a listpack's elements.
pub struct Listpack<'a> {
    cur: Cursor<'a>,
    declared: u16,
    seen: u32,
}

impl<'a> Listpack<'a> {
    /// Checks the header of `blob` (at absolute offset `base`) and positions at the first entry.
    pub fn new(blob: &'a [u8], base: u64) -> Result<Listpack<'a>> {
        let mut cur = Cursor::new(blob, base);
        let total = cur.u32_le("listpack total size")?;
        if total as usize != blob.len() || blob.len() < HEADER_LEN + 1 {
            return Err(cur.invalid_at(
                base,
                "listpack header",
                "total size equal to the blob size",
                format!("{total} in a blob of {} bytes", blob.len()),
            ));
        }
        let declared = cur.u16_le("listpack count")?;
        if blob.last() != Some(&END) {
            return Err(cur.invalid_at(
                base + blob.len() as u64 - 1,
                "listpack",
                "0xff terminator",
                "another byte",
            ));
        }
        Ok(Listpack { cur, declared, seen: 0 })
    }

    /// The element count from the header, when it is known.
    pub fn declared_len(&self) -> Option<usize> {
        (self.declared != UNKNOWN_COUNT).then_some(usize::from(self.declared))
    }

    /// The next element, or `None` after the terminator (which must end the blob).
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<Bytes<'a>>> {
        let start = self.cur.pos();
        let at = self.cur.offset();
        let first = self.cur.u8("listpack entry")?;
        if first == END {
            return self.finish(at).map(|()| None);
        }
        let value = match first {
            0x00..=0x7f => Bytes::Int(i64::from(first)),
            0x80..=0xbf => Bytes::Borrowed(self.cur.take(usize::from(first & 0x3f), "listpack string")?),
            0xc0..=0xdf => {
                let raw = u16::from(first & 0x1f) << 8 | u16::from(self.cur.u8("listpack int13")?);
                Bytes::Int(sign_extend(u64::from(raw), 13))
            }
            0xe0..=0xef => {
                let len =
                    usize::from(first & 0x0f) << 8 | usize::from(self.cur.u8("listpack string length")?);
                Bytes::Borrowed(self.cur.take(len, "listpack string")?)
            }
            0xf0 => {
                let len = self.cur.u32_le("listpack string length")?;
                Bytes::Borrowed(self.cur.take_len(u64::from(len), "listpack string")?)
            }
            0xf1 => Bytes::Int(i64::from(i16::from_le_bytes(self.cur.array("listpack int16")?))),
            0xf2 => {
                let b: [u8; 3] = self.cur.array("listpack int24")?;
                Bytes::Int(sign_extend(u64::from(u32::from_le_bytes([b[0], b[1], b[2], 0])), 24))
            }
            0xf3 => Bytes::Int(i64::from(i32::from_le_bytes(self.cur.array("listpack int32")?))),
            0xf4 => Bytes::Int(self.cur.i64_le("listpack int64")?),
            other => {
                return Err(self.cur.invalid_at(
                    at,
                    "listpack entry encoding",
                    "a known encoding byte",
                    format!("{other:#04x}"),
                ));
            }
        };
        self.check_backlen(self.cur.pos() - start)?;
        self.seen += 1;
        Ok(Some(value))
    }

    /// Collects the remaining elements.
    pub fn collect(mut self) -> Result<Vec<Bytes<'a>>> {
        let mut out = Vec::with_capacity(self.declared_len().unwrap_or(0).min(self.cur.remaining()));
        while let Some(item) = self.next()? {
            out.push(item);
        }
        Ok(out)
    }

    #[inline]
    fn check_backlen(&mut self, entry_len: usize) -> Result<()> {
        // Entries under 128 bytes (nearly all) have a one-byte back-length equal to their size.
        if entry_len < 128
            && let Some(&b) = self.cur.rest().first()
            && usize::from(b) == entry_len
        {
            self.cur.advance(1);
            return Ok(());
        }
        self.check_backlen_slow(entry_len)
    }

    #[cold]
    #[inline(never)]
    fn check_backlen_slow(&mut self, entry_len: usize) -> Result<()> {
        let at = self.cur.offset();
        let mut expected = [0u8; 5];
        let n = encode_backlen(entry_len as u64, &mut expected);
        let found = self.cur.take(n, "listpack back-length")?;
        // At most five bytes: compared inline rather than through a library call.
        if found.iter().zip(&expected[..n]).any(|(a, b)| a != b) {
            return Err(self.cur.invalid_at(
                at,
                "listpack back-length",
                "the entry's encoded size",
                format!("{found:02x?} for an entry of {entry_len} bytes"),
            ));
        }
        Ok(())
    }

    fn finish(&mut self, at: u64) -> Result<()> {
        if !self.cur.is_empty() {
            return Err(self.cur.invalid_at(
                at,
                "listpack",
                "the terminator as the last byte",
                "0xff before the end",
            ));
        }
        if self.declared != UNKNOWN_COUNT && u32::from(self.declared) != self.seen {
            return Err(self.cur.invalid_at(
                at,
                "listpack count",
                "as many entries as the header declares",
                format!("{} entries, header says {}", self.seen, self.declared),
            ));
        }
        Ok(())
    }
}

/// Decodes every element of a listpack blob.
pub fn decode(blob: &[u8], base: u64) -> Result<Vec<Bytes<'_>>> {
    Listpack::new(blob, base)?.collect()
}

fn sign_extend(value: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

/// Writes the back-length of an entry of `len` bytes into `buf`; returns how many bytes it took.
pub fn encode_backlen(len: u64, buf: &mut [u8; 5]) -> usize {
    let n = match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    // The lowest 7 bits go last; every byte but the first carries the continuation bit.
    for (i, slot) in buf[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        let bits = ((len >> shift) & 0x7f) as u8;
        *slot = if i == 0 { bits } else { bits | 0x80 };
    }
    n
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a listpack from (encoding+data) entries, adding back-lengths and the header.
    pub(crate) fn build(entries: &[&[u8]], count: u16) -> Vec<u8> {
        let mut body = Vec::new();
        for e in entries {
            body.extend_from_slice(e);
            let mut bl = [0u8; 5];
            let n = encode_backlen(e.len() as u64, &mut bl);
            body.extend_from_slice(&bl[..n]);
        }
        let total = (HEADER_LEN + body.len() + 1) as u32;
        let mut out = total.to_le_bytes().to_vec();
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&body);
        out.push(END);
        out
    }

    fn values(blob: &[u8]) -> Vec<Vec<u8>> {
        decode(blob, 0).unwrap().iter().map(Bytes::to_vec).collect()
    }

    #[test]
    fn decodes_every_encoding() {
        let long = vec![b'x'; 300];
        let mut e12 = vec![0xe0 | 1, 44];
        e12.extend_from_slice(&long);
        let blob = build(
            &[
                &[0x05],
                &[0x83, b'a', b'b', b'c'],
                &[0xdf, 0xff], // int13 -1
                &[0xd0, 0x00], // int13 -4096
                &e12,
                &[0xf1, 0x00, 0x80], // int16 min
                &[0xf2, 0xff, 0xff, 0x7f],
                &[0xf3, 0, 0, 0, 0x80],
                &[0xf4, 0, 0, 0, 0, 0, 0, 0, 0x80],
            ],
            9,
        );
        let got = values(&blob);
        assert_eq!(got[0], b"5");
        assert_eq!(got[1], b"abc");
        assert_eq!(got[2], b"-1");
        assert_eq!(got[3], b"-4096");
        assert_eq!(got[4], long);
        assert_eq!(got[5], b"-32768");
        assert_eq!(got[6], b"8388607");
        assert_eq!(got[7], i32::MIN.to_string().as_bytes());
        assert_eq!(got[8], i64::MIN.to_string().as_bytes());
    }

    #[test]
    fn rejects_bad_counts_sizes_and_backlens() {
        let good = build(&[&[0x01], &[0x02]], 2);
        assert_eq!(values(&good).len(), 2);
        assert_eq!(values(&build(&[&[0x01]], UNKNOWN_COUNT)).len(), 1);
        assert!(decode(&build(&[&[0x01]], 2), 0).is_err());
        let mut bad_backlen = good.clone();
        bad_backlen[7] = 9;
        assert!(decode(&bad_backlen, 0).is_err());
        assert!(decode(&good[..good.len() - 1], 0).is_err());
        assert!(decode(&build(&[&[0xf5]], 1), 0).is_err());
    }

    #[test]
    fn backlen_sizes_follow_the_thresholds() {
        let mut b = [0u8; 5];
        assert_eq!(encode_backlen(127, &mut b), 1);
        assert_eq!(encode_backlen(128, &mut b), 2);
        assert_eq!(b[..2], [1, 0x80]);
        assert_eq!(encode_backlen(16383, &mut b), 3);
        assert_eq!(encode_backlen(1 << 30, &mut b), 5);
    }
}
