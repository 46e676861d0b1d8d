//! LZF decompression of RDB strings and quicklist nodes, with allocation bounded by input size.

use crate::error::{Error, ErrorKind, Result};

/// Most output bytes one input byte of LZF can produce: a 3-byte back reference expands to at
/// most 264 bytes.
const MAX_EXPANSION: u64 = 88;

/// Decompresses `compressed` (which starts at absolute `offset`) into exactly `len` bytes.
///
/// A declared length that the compressed bytes could not produce is rejected before any
/// allocation, so a forged length never drives a large allocation.
pub fn decompress(compressed: &[u8], len: u64, offset: u64) -> Result<Vec<u8>> {
    let invalid = |expected, found: String| {
        Error::new(ErrorKind::Invalid { what: "LZF string", expected, found }, offset)
    };
    let bound = (compressed.len() as u64).saturating_mul(MAX_EXPANSION);
    if len > bound || len == 0 {
        return Err(invalid(
            "an uncompressed length the compressed bytes can produce",
            format!("{len} bytes from {} compressed bytes", compressed.len()),
        ));
    }
    match lzf::decompress(compressed, len as usize) {
        Ok(out) if out.len() as u64 == len => Ok(out),
        Ok(out) => Err(invalid(
            "data that decompresses to the declared length",
            format!("{} of {len} bytes", out.len()),
        )),
        Err(e) => Err(invalid("valid LZF data", format!("{e:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_wrong_lengths() {
        let text = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(10);
        let packed = lzf::compress(&text).unwrap();
        assert_eq!(decompress(&packed, text.len() as u64, 0).unwrap(), text);
        assert!(decompress(&packed, text.len() as u64 - 1, 0).is_err());
        assert!(decompress(&packed, text.len() as u64 + 1, 0).is_err());
        assert!(decompress(&packed, u64::MAX, 0).is_err());
        assert!(decompress(&[], 1, 0).is_err());
    }
}
