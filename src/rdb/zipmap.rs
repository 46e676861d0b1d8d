//! Zipmap blobs (`src/zipmap.c`): small hashes in RDB files from Redis 2.x.
//!
//! Layout: 1-byte count (254 = unknown), then per pair a key length, the key, a value
//! length, one "free" byte, the value and that many padding bytes; `0xFF` ends the map. Lengths
//! are one byte below 254, else `0xFE` and 4 bytes little-endian.

use super::value::Bytes;
use crate::cursor::Cursor;
use crate::error::Result;

const END: u8 = 0xff;
const BIG_LEN: u8 = 0xfe;

/// Decodes a zipmap blob found at absolute offset `base` into alternating fields and values.
pub fn decode(blob: &[u8], base: u64) -> Result<Vec<Bytes<'_>>> {
    let mut cur = Cursor::new(blob, base);
    let declared = cur.u8("zipmap count")?;
    let mut out = Vec::with_capacity((usize::from(declared) * 2).min(blob.len() / 2));
    while cur.peek() != Some(END) {
        let field = read_string(&mut cur)?;
        let value_len = read_len(&mut cur)?;
        let free = cur.u8("zipmap free byte count")?;
        let value = cur.take_len(value_len, "zipmap value")?;
        cur.skip(u64::from(free), "zipmap free space")?;
        out.push(Bytes::Borrowed(field));
        out.push(Bytes::Borrowed(value));
    }
    if cur.remaining() != 1 {
        return Err(cur.invalid("zipmap", "the 0xff end as the last byte", "0xff before the end"));
    }
    if out.is_empty() {
        return Err(cur.invalid_at(
            base,
            "zipmap",
            "at least one pair (servers reject empty zipmaps)",
            "none",
        ));
    }
    // 254 means "count unknown"; any other value must be the count (servers never write 255).
    if declared != BIG_LEN && usize::from(declared) * 2 != out.len() {
        return Err(cur.invalid_at(
            base,
            "zipmap count",
            "as many pairs as the header declares",
            format!("{} pairs, header says {declared}", out.len() / 2),
        ));
    }
    Ok(out)
}

fn read_len(cur: &mut Cursor<'_>) -> Result<u64> {
    match cur.u8("zipmap length")? {
        BIG_LEN => Ok(u64::from(cur.u32_le("zipmap 5-byte length")?)),
        END => Err(cur.invalid("zipmap length", "a length", "the 0xff end marker")),
        len => Ok(u64::from(len)),
    }
}

fn read_string<'a>(cur: &mut Cursor<'a>) -> Result<&'a [u8]> {
    let len = read_len(cur)?;
    cur.take_len(len, "zipmap key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_with_free_space_and_big_lengths() {
        let mut blob = vec![2, 1, b'a', 2, 1, b'x', b'y', 0];
        let big = vec![b'v'; 300];
        blob.extend_from_slice(&[1, b'b', BIG_LEN]);
        blob.extend_from_slice(&300u32.to_le_bytes());
        blob.push(0);
        blob.extend_from_slice(&big);
        blob.push(END);
        let got = decode(&blob, 0).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].to_vec(), b"a");
        assert_eq!(got[1].to_vec(), b"xy");
        assert_eq!(got[3].to_vec(), big);
        let mut wrong_count = blob.clone();
        wrong_count[0] = 3;
        assert!(decode(&wrong_count, 0).is_err());
        let mut unknown_count = blob.clone();
        unknown_count[0] = 254;
        assert_eq!(decode(&unknown_count, 0).unwrap().len(), 4);
        unknown_count[0] = 255;
        assert!(decode(&unknown_count, 0).is_err(), "255 is not a count servers accept");
        assert!(decode(&[0, END], 0).is_err(), "empty zipmaps are rejected");
        assert!(decode(&blob[..blob.len() - 1], 0).is_err());
    }
}
