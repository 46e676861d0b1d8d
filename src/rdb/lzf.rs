//! LZF decompression of RDB strings and quicklist nodes, with allocation bounded by input size.
//!
//! The format (liblzf, `lzf_d.c`): a control byte below 32 starts a literal run of `ctrl + 1`
//! bytes; any other is a back reference of `(ctrl >> 5) + 2` bytes (when `ctrl >> 5` is 7 a
//! further byte adds to the length) at distance `((ctrl & 31) << 8) + next byte + 1`.
//!
//! Runs are copied a slice at a time: literals from the input, back references from the output
//! already written, in pieces that never overlap their source (a reference closer than its
//! length repeats with that period, so each piece may be as long as everything copied so far).

use crate::error::{Error, ErrorKind, Result};

/// Most output bytes one input byte of LZF can produce: a 3-byte back reference expands to at
/// most 264 bytes.
const MAX_EXPANSION: u64 = 88;

/// Bytes kept writable past the declared length, so that short runs are copied as one
/// fixed-size block (the excess is overwritten or cut off).
const SLACK: usize = 32;

/// Why LZF data could not be decompressed; the names are those of the `lzf` crate's errors,
/// which error messages have always shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// The data produces more than the declared length.
    BufferTooSmall,
    /// A run is cut short by the end of the data, or refers back before the start.
    DataCorrupted,
}

/// Decompresses `compressed` (which starts at absolute `offset`) into exactly `len` bytes.
///
/// A declared length that the compressed bytes could not produce is rejected before any
/// allocation, so a forged length never drives a large allocation.
pub fn decompress(compressed: &[u8], len: u64, offset: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decompress_into(compressed, len, offset, &mut out)?;
    Ok(out)
}

/// Like [`decompress`], into `out` (replacing its contents), so that one buffer serves many
/// strings. On error `out` holds unspecified bytes.
pub fn decompress_into(compressed: &[u8], len: u64, offset: u64, out: &mut Vec<u8>) -> Result<()> {
    let len = checked_len(compressed, len, offset)?;
    out.clear();
    out.resize(len + SLACK, 0);
    let result = run::<true>(compressed, out, len);
    outcome(result, len, offset)?;
    out.truncate(len);
    Ok(())
}

/// Checks that `compressed` decompresses to exactly `len` bytes, as [`decompress`] would,
/// without producing them: for a pass that only validates.
///
/// # Errors
/// The errors [`decompress`] gives.
pub fn validate(compressed: &[u8], len: u64, offset: u64) -> Result<()> {
    let len = checked_len(compressed, len, offset)?;
    outcome(run::<false>(compressed, &mut [], len), len, offset)
}

fn invalid(expected: &'static str, found: String, offset: u64) -> Error {
    Error::new(ErrorKind::Invalid { what: "LZF string", expected, found }, offset)
}

/// The declared length, when the compressed bytes could produce it.
fn checked_len(compressed: &[u8], len: u64, offset: u64) -> Result<usize> {
    let bound = (compressed.len() as u64).saturating_mul(MAX_EXPANSION);
    if len > bound || len == 0 {
        return Err(invalid(
            "an uncompressed length the compressed bytes can produce",
            format!("{len} bytes from {} compressed bytes", compressed.len()),
            offset,
        ));
    }
    // `len` is at most 88 times a slice's length here, so it fits in memory's address range.
    Ok(len as usize)
}

fn outcome(result: std::result::Result<usize, Fault>, len: usize, offset: u64) -> Result<()> {
    match result {
        Ok(n) if n == len => Ok(()),
        Ok(n) => Err(invalid(
            "data that decompresses to the declared length",
            format!("{n} of {len} bytes"),
            offset,
        )),
        Err(fault) => Err(invalid("valid LZF data", format!("{fault:?}"), offset)),
    }
}

/// Decompresses `input` into `out[..len]` (`out` has [`SLACK`] more bytes); returns the number
/// of bytes produced. Faults are detected in the order liblzf checks them. Without `WRITE`
/// only the checks run (`out` is not touched).
fn run<const WRITE: bool>(input: &[u8], out: &mut [u8], len: usize) -> std::result::Result<usize, Fault> {
    if input.is_empty() {
        return Err(Fault::DataCorrupted);
    }
    let mut ip = 0;
    let mut op = 0;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            if op + n > len {
                return Err(Fault::BufferTooSmall);
            }
            if ip + n > input.len() {
                return Err(Fault::DataCorrupted);
            }
            if WRITE {
                match input.get(ip..ip + SLACK) {
                    // At most 32 bytes: one fixed-size copy, the excess lands in the slack or
                    // is overwritten by what follows.
                    Some(block) => out[op..op + SLACK].copy_from_slice(block),
                    None => out[op..op + n].copy_from_slice(&input[ip..ip + n]),
                }
            }
            ip += n;
            op += n;
        } else {
            let mut n = ctrl >> 5;
            let Some(&b) = input.get(ip) else { return Err(Fault::DataCorrupted) };
            let mut low = b;
            if n == 7 {
                n += usize::from(b);
                ip += 1;
                let Some(&b) = input.get(ip) else { return Err(Fault::DataCorrupted) };
                low = b;
            }
            ip += 1;
            let n = n + 2;
            let distance = ((ctrl & 31) << 8) + usize::from(low) + 1;
            if op + n > len {
                return Err(Fault::BufferTooSmall);
            }
            let Some(from) = op.checked_sub(distance) else { return Err(Fault::DataCorrupted) };
            if WRITE {
                copy_back(out, from, op, n);
            }
            op += n;
        }
    }
    Ok(op)
}

/// Appends the `n` bytes that start at `from` at `to` (`from < to`), byte by byte in effect:
/// where the source overlaps the destination the pattern repeats.
#[inline]
fn copy_back(out: &mut [u8], from: usize, to: usize, n: usize) {
    let distance = to - from;
    if distance >= 16 && n <= 16 {
        // The common short reference: one fixed-size block that cannot overlap its source.
        out.copy_within(from..from + 16, to);
    } else if distance >= n {
        out.copy_within(from..from + n, to);
    } else {
        let mut done = 0;
        while done < n {
            // Everything from `from` to the write position repeats with period `distance`, so
            // it can all be copied at once without overlapping.
            let piece = (n - done).min(to + done - from);
            out.copy_within(from..from + piece, to + done);
            done += piece;
        }
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

    /// The `lzf` crate's decoder, as this module used before, with its errors' names.
    fn reference(compressed: &[u8], len: u64) -> std::result::Result<Vec<u8>, String> {
        match lzf::decompress(compressed, len as usize) {
            Ok(out) => Ok(out),
            Err(e) => Err(format!("{e:?}")),
        }
    }

    fn check_against_reference(compressed: &[u8], len: u64) {
        let validated = validate(compressed, len, 7).map_err(|e| e.to_string());
        assert_eq!(validated, decompress(compressed, len, 7).map(drop).map_err(|e| e.to_string()));
        if len == 0 || len > compressed.len() as u64 * MAX_EXPANSION {
            assert!(decompress(compressed, len, 7).is_err());
            return;
        }
        let ours = decompress(compressed, len, 7);
        match (reference(compressed, len), ours) {
            (Ok(want), Ok(got)) => assert_eq!(want, got),
            (Ok(want), Err(e)) => {
                assert_ne!(want.len() as u64, len, "{e}");
                assert!(e.to_string().contains(&format!("{} of {len} bytes", want.len())), "{e}");
            }
            (Err(name), Err(e)) => {
                assert!(e.to_string().contains(&name), "{e} vs {name}");
                assert_eq!(e.offset(), 7);
            }
            (Err(name), Ok(_)) => panic!("reference failed with {name}, ours succeeded"),
        }
    }

    #[test]
    fn agrees_with_the_lzf_crate() {
        // Pseudo-random data of varied compressibility, every length around the truth, and
        // every corruption of a byte.
        let mut x = 12345u32;
        let mut next = || {
            x = x.wrapping_mul(69069).wrapping_add(1);
            (x >> 16) as u8
        };
        for size in [1usize, 2, 3, 7, 31, 32, 33, 100, 300, 1000, 5000] {
            for alphabet in [1u8, 2, 4, 26, 255] {
                let mut data: Vec<u8> = (0..size).map(|_| b'a'.wrapping_add(next() % alphabet)).collect();
                if alphabet == 255 {
                    data.iter_mut().for_each(|b| *b = next());
                }
                let mut plain = vec![0u8; data.len() / 16 + 16];
                plain.extend_from_slice(&data);
                let packed = lzf::compress(&plain).unwrap();
                let n = plain.len() as u64;
                assert_eq!(decompress(&packed, n, 0).unwrap(), plain);
                for len in n.saturating_sub(3)..n + 3 {
                    check_against_reference(&packed, len);
                }
                for i in 0..packed.len().min(64) {
                    let mut bad = packed.clone();
                    bad[i] = next();
                    check_against_reference(&bad, n);
                    check_against_reference(&bad[..i], n);
                }
            }
        }
    }

    #[test]
    fn overlapping_references_repeat_the_pattern() {
        // "ab" then a reference of 200 bytes at distance 2, and one of 9 at distance 1.
        let data = [1, b'a', b'b', 0xe0, 198 - 7, 1, 0xe0, 0, 0];
        let got = reference(&data, 2 + 200 + 9).unwrap();
        assert_eq!(got.len(), 211);
        assert_eq!(decompress(&data, 211, 0).unwrap(), got);
    }
}
