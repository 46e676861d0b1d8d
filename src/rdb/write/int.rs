//! Canonical decimal integers: the strings Redis stores as integers inside compact blobs.

/// Longest canonical text of an `i64`: `-9223372036854775808`.
const MAX_LEN: usize = 20;

/// The value of `bytes` when they are exactly the decimal text of an `i64` (as Redis's
/// `string2ll` accepts and as printing the value gives back), else `None`.
///
/// Accepted: an optional `-`, then `0` alone or a digit 1-9 followed by digits, within the `i64`
/// range. Refused: `+`, spaces, leading zeros, `-0`, the empty string.
pub fn canonical_int(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > MAX_LEN {
        return None;
    }
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    // The magnitude, which for i64::MIN is one more than i64::MAX.
    let mut magnitude: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        if magnitude > i64::MIN.unsigned_abs() {
            return None;
        }
        // Two's complement negation; 2^63 maps to i64::MIN.
        Some((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_text() {
        for v in [0, 1, -1, 9, 10, -10, 127, 128, -4096, 4095, i64::MAX, i64::MIN, i64::MIN + 1] {
            assert_eq!(canonical_int(v.to_string().as_bytes()), Some(v), "{v}");
        }
        assert_eq!(canonical_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(canonical_int(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            &b""[..],
            b"-",
            b"+1",
            b"-0",
            b"00",
            b"007",
            b"-007",
            b" 1",
            b"1 ",
            b"1a",
            b"1.0",
            b"1e3",
            b"--1",
            b"0x10",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551615",
            b"18446744073709551616",
            b"99999999999999999999",
            b"-99999999999999999999",
            b"100000000000000000000",
            b"\xff",
            b"\xd9\xa1",
        ] {
            assert_eq!(canonical_int(text), None, "{}", String::from_utf8_lossy(text));
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_printing(bytes in proptest::collection::vec(
            proptest::sample::select(b"-+0123456789 a".to_vec()), 0..22)
        ) {
            let parsed = std::str::from_utf8(&bytes).ok().and_then(|t| t.parse::<i64>().ok());
            let expected = parsed.filter(|v| v.to_string().as_bytes() == bytes.as_slice());
            proptest::prop_assert_eq!(canonical_int(&bytes), expected);
        }

        #[test]
        fn every_i64_round_trips(v: i64) {
            proptest::prop_assert_eq!(canonical_int(v.to_string().as_bytes()), Some(v));
        }
    }
}
