//! Intset blobs (`src/intset.c`): sorted integers of one width (2, 4 or 8 bytes).

use super::value::Bytes;
use crate::cursor::Cursor;
use crate::error::Result;

/// Checks an intset blob found at absolute offset `base`; returns its integers.
pub fn iter(blob: &[u8], base: u64) -> Result<impl ExactSizeIterator<Item = i64> + '_> {
    let mut cur = Cursor::new(blob, base);
    let width = cur.u32_le("intset encoding")?;
    if !matches!(width, 2 | 4 | 8) {
        return Err(cur.invalid_at(base, "intset encoding", "2, 4 or 8", width));
    }
    let count = cur.u32_le("intset length")?;
    let expected = u64::from(count) * u64::from(width);
    if expected != cur.remaining() as u64 {
        return Err(cur.invalid_at(
            base + 4,
            "intset length",
            "count × width equal to the remaining bytes",
            format!("{count} × {width} with {} bytes left", cur.remaining()),
        ));
    }
    Ok(cur.rest().chunks_exact(width as usize).map(|c| match *c {
        [a, b] => i64::from(i16::from_le_bytes([a, b])),
        [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => 0, // chunks are 2, 4 or 8 bytes
    }))
}

/// Decodes an intset blob found at absolute offset `base`.
pub fn decode(blob: &[u8], base: u64) -> Result<Vec<Bytes<'static>>> {
    Ok(iter(blob, base)?.map(Bytes::Int).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_width_and_rejects_bad_sizes() {
        let mut blob = vec![2, 0, 0, 0, 2, 0, 0, 0];
        blob.extend_from_slice(&(-5i16).to_le_bytes());
        blob.extend_from_slice(&7i16.to_le_bytes());
        let got: Vec<_> = decode(&blob, 0).unwrap().iter().map(Bytes::to_vec).collect();
        assert_eq!(got, vec![b"-5".to_vec(), b"7".to_vec()]);
        let mut wide = vec![8, 0, 0, 0, 1, 0, 0, 0];
        wide.extend_from_slice(&i64::MAX.to_le_bytes());
        assert_eq!(decode(&wide, 0).unwrap()[0], Bytes::Int(i64::MAX));
        assert!(decode(&blob[..blob.len() - 1], 0).is_err());
        assert!(decode(&[3, 0, 0, 0, 0, 0, 0, 0], 0).is_err());
    }
}
