//! Intset blobs (`src/intset.c`): sorted integers of one width (2, 4 or 8 bytes).

use super::value::Bytes;
use crate::cursor::Cursor;
use crate::error::Result;

/// Decodes an intset blob found at absolute offset `base`.
pub fn decode(blob: &[u8], base: u64) -> Result<Vec<Bytes<'static>>> {
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
    cur.rest()
        .chunks_exact(width as usize)
        .map(|c| {
            Ok(Bytes::Int(match c.len() {
                2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
                4 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            }))
        })
        .collect()
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
