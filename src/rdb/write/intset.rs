//! Intset blobs: a 4-byte LE width (2, 4 or 8), a 4-byte LE count, then the values LE.

/// Encodes `values`, which must be sorted and unique (Redis refuses other intsets), at the
/// smallest width that holds them all.
///
/// An intset holds at most `u32::MAX` values; callers stay far below (Redis converts to a
/// hash table long before).
pub fn encode(values: &[i64]) -> Vec<u8> {
    let width = values.iter().map(|&v| width_of(v)).max().unwrap_or(2);
    let count = u32::try_from(values.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(8 + values.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for &v in values {
        // The width holds every value, so the narrowing casts keep them exact.
        match width {
            2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
    out
}

/// Bytes needed to hold `v`.
fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::intset::decode;
    use crate::rdb::value::Bytes;

    fn round_trip(values: &[i64]) -> u32 {
        let blob = encode(values);
        let got: Vec<Bytes<'_>> = decode(&blob, 0).unwrap();
        let want: Vec<Bytes<'_>> = values.iter().map(|&v| Bytes::Int(v)).collect();
        assert_eq!(got, want);
        assert_eq!(u32::from_le_bytes(blob[4..8].try_into().unwrap()) as usize, values.len());
        u32::from_le_bytes(blob[..4].try_into().unwrap())
    }

    #[test]
    fn picks_the_smallest_width() {
        assert_eq!(round_trip(&[]), 2);
        assert_eq!(round_trip(&[0]), 2);
        assert_eq!(round_trip(&[-32768, 32767]), 2);
        assert_eq!(round_trip(&[-32769, 0]), 4);
        assert_eq!(round_trip(&[1, 32768]), 4);
        assert_eq!(round_trip(&[i64::from(i32::MIN), i64::from(i32::MAX)]), 4);
        assert_eq!(round_trip(&[i64::from(i32::MIN) - 1, 5]), 8);
        assert_eq!(round_trip(&[-1, i64::from(i32::MAX) + 1]), 8);
        assert_eq!(round_trip(&[i64::MIN, -1, 0, 1, i64::MAX]), 8);
    }

    #[test]
    fn lays_out_header_then_values() {
        assert_eq!(encode(&[-2, 3]), [2, 0, 0, 0, 2, 0, 0, 0, 0xfe, 0xff, 3, 0]);
        assert_eq!(encode(&[]), [2, 0, 0, 0, 0, 0, 0, 0]);
    }

    proptest::proptest! {
        #[test]
        fn round_trips_sorted_sets(set in proptest::collection::btree_set(
            proptest::prop_oneof![proptest::num::i64::ANY, -40000i64..40000], 0..200)
        ) {
            let values: Vec<i64> = set.into_iter().collect();
            round_trip(&values);
        }
    }
}
