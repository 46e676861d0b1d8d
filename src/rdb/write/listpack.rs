//! Building listpack blobs: entries encoded as Redis's `listpack.c` encodes them.
//!
//! Layout: 4-byte LE total size, 2-byte LE count (65535 when it does not fit), entries each
//! followed by its back-length, `0xFF`.

use super::int::canonical_int;
use crate::rdb::listpack::encode_backlen;

const HEADER_LEN: usize = 6;
const END: u8 = 0xff;
const UNKNOWN_COUNT: u16 = u16::MAX;

/// Builds one listpack in a single buffer.
///
/// A listpack is at most `u32::MAX` bytes: callers check [`ListpackBuilder::bytes_len`] (Redis's
/// own limits are far lower); past it the size field is saturated and the blob is invalid.
#[derive(Clone, Debug)]
pub struct ListpackBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ListpackBuilder {
    /// An empty listpack.
    pub fn new() -> Self {
        ListpackBuilder { buf: vec![0; HEADER_LEN], count: 0 }
    }

    /// Appends `element`, as an integer when it is the canonical text of one (as Redis does).
    pub fn push(&mut self, element: &[u8]) {
        match canonical_int(element) {
            Some(v) => self.push_int(v),
            None => self.push_str(element),
        }
    }

    /// Appends an integer in the smallest integer encoding.
    pub fn push_int(&mut self, v: i64) {
        let n = int_encoding_len(v);
        let mut enc = [0u8; 9];
        match n {
            1 => enc[0] = v as u8,
            2 => {
                // 13-bit two's complement: 5 bits in the encoding byte, 8 in the next.
                let bits = (v as u16) & 0x1fff;
                enc[0] = 0xc0 | (bits >> 8) as u8;
                enc[1] = bits as u8;
            }
            3 => {
                enc[0] = 0xf1;
                enc[1..3].copy_from_slice(&(v as i16).to_le_bytes());
            }
            4 => {
                enc[0] = 0xf2;
                enc[1..4].copy_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            5 => {
                enc[0] = 0xf3;
                enc[1..5].copy_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                enc[0] = 0xf4;
                enc[1..9].copy_from_slice(&v.to_le_bytes());
            }
        }
        self.buf.extend_from_slice(&enc[..n]);
        self.end_entry(n);
    }

    /// Appends `s` as a string entry, whatever its content.
    fn push_str(&mut self, s: &[u8]) {
        let len = s.len();
        match str_header_len(len) {
            1 => self.buf.push(0x80 | len as u8),
            2 => self.buf.extend_from_slice(&[0xe0 | (len >> 8) as u8, len as u8]),
            _ => {
                self.buf.push(0xf0);
                self.buf.extend_from_slice(&saturate(len).to_le_bytes());
            }
        }
        self.buf.extend_from_slice(s);
        self.end_entry(str_header_len(len) + len);
    }

    /// Writes the back-length of the `entry_len`-byte entry just written.
    fn end_entry(&mut self, entry_len: usize) {
        let mut backlen = [0u8; 5];
        let n = encode_backlen(entry_len as u64, &mut backlen);
        self.buf.extend_from_slice(&backlen[..n]);
        self.count += 1;
    }

    /// Number of elements pushed.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no element has been pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the finished listpack in bytes, header and terminator included.
    pub fn bytes_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// The finished blob.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = saturate(self.buf.len());
        let count = u16::try_from(self.count).unwrap_or(UNKNOWN_COUNT);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..HEADER_LEN].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Bytes `element` takes in a listpack (encoding, data, back-length), as
/// [`ListpackBuilder::push`] writes it.
pub fn element_len(element: &[u8]) -> usize {
    match canonical_int(element) {
        Some(v) => int_element_len(v),
        None => with_backlen(str_header_len(element.len()) + element.len()),
    }
}

/// Bytes the integer `v` takes in a listpack, as [`ListpackBuilder::push_int`] writes it.
pub fn int_element_len(v: i64) -> usize {
    with_backlen(int_encoding_len(v))
}

/// Encoding bytes (type and data) of the integer `v`.
fn int_encoding_len(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8388608..=8388607 => 4,
        -2147483648..=2147483647 => 5,
        _ => 9,
    }
}

/// Header bytes of a string of `len` bytes.
fn str_header_len(len: usize) -> usize {
    match len {
        0..64 => 1,
        64..4096 => 2,
        _ => 5,
    }
}

/// An entry of `entry_len` bytes with its back-length.
fn with_backlen(entry_len: usize) -> usize {
    entry_len + encode_backlen(entry_len as u64, &mut [0u8; 5])
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::listpack::decode;
    use crate::rdb::value::Bytes;

    #[test]
    fn element_lengths_are_what_the_builder_writes() {
        let mut long = vec![b'x'; 5000];
        long[0] = b'y';
        let cases: [&[u8]; 10] =
            [b"", b"7", b"-1", b"128", b"4095", b"99999", b"x", &[b'a'; 63], &[b'a'; 64], &long];
        for element in cases {
            let mut lp = ListpackBuilder::new();
            lp.push(element);
            assert_eq!(element_len(element), lp.bytes_len() - HEADER_LEN - 1, "{}", element.len());
        }
        for v in [0, 127, 128, -4096, 4095, 40000, -8388608, 8388608, i64::MIN] {
            let mut lp = ListpackBuilder::new();
            lp.push_int(v);
            assert_eq!(int_element_len(v), lp.bytes_len() - HEADER_LEN - 1, "{v}");
        }
    }

    fn build(elements: &[&[u8]]) -> Vec<u8> {
        let mut lp = ListpackBuilder::new();
        for e in elements {
            lp.push(e);
        }
        assert_eq!(lp.len(), elements.len());
        let expected_len = lp.bytes_len();
        let blob = lp.finish();
        assert_eq!(blob.len(), expected_len);
        blob
    }

    fn round_trip(elements: &[&[u8]]) -> Vec<u8> {
        let blob = build(elements);
        let got: Vec<Vec<u8>> = decode(&blob, 0).unwrap().iter().map(Bytes::to_vec).collect();
        assert_eq!(got, elements);
        blob
    }

    /// The entry bytes (encoding and data, no back-length) of a one-element listpack.
    fn entry_of(element: &[u8]) -> Vec<u8> {
        let blob = round_trip(&[element]);
        let body = &blob[HEADER_LEN..blob.len() - 1];
        let n = match body[0] {
            0x00..=0x7f => 1,
            0x80..=0xbf => 1 + usize::from(body[0] & 0x3f),
            0xc0..=0xdf => 2,
            0xe0..=0xef => 2 + ((usize::from(body[0] & 0x0f) << 8) | usize::from(body[1])),
            0xf0 => 5 + u32::from_le_bytes(body[1..5].try_into().unwrap()) as usize,
            0xf1 => 3,
            0xf2 => 4,
            0xf3 => 5,
            0xf4 => 9,
            other => panic!("encoding {other:#x}"),
        };
        body[..n].to_vec()
    }

    #[test]
    fn empty_listpack() {
        let blob = round_trip(&[]);
        assert_eq!(blob, [7, 0, 0, 0, 0, 0, 0xff]);
        assert!(ListpackBuilder::default().is_empty());
    }

    #[test]
    fn integer_encoding_boundaries() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xc0, 0x80]),
            (-1, &[0xdf, 0xff]),
            (4095, &[0xcf, 0xff]),
            (-4096, &[0xd0, 0x00]),
            (4096, &[0xf1, 0x00, 0x10]),
            (-4097, &[0xf1, 0xff, 0xef]),
            (32767, &[0xf1, 0xff, 0x7f]),
            (-32768, &[0xf1, 0x00, 0x80]),
            (32768, &[0xf2, 0x00, 0x80, 0x00]),
            (-32769, &[0xf2, 0xff, 0x7f, 0xff]),
            (8388607, &[0xf2, 0xff, 0xff, 0x7f]),
            (-8388608, &[0xf2, 0x00, 0x00, 0x80]),
            (8388608, &[0xf3, 0x00, 0x00, 0x80, 0x00]),
            (-8388609, &[0xf3, 0xff, 0xff, 0x7f, 0xff]),
            (2147483647, &[0xf3, 0xff, 0xff, 0xff, 0x7f]),
            (-2147483648, &[0xf3, 0x00, 0x00, 0x00, 0x80]),
            (2147483648, &[0xf4, 0, 0, 0, 0x80, 0, 0, 0, 0]),
            (-2147483649, &[0xf4, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff]),
            (i64::MAX, &[0xf4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            (i64::MIN, &[0xf4, 0, 0, 0, 0, 0, 0, 0, 0x80]),
        ];
        for &(v, want) in cases {
            assert_eq!(entry_of(v.to_string().as_bytes()), want, "{v}");
            let mut lp = ListpackBuilder::new();
            lp.push_int(v);
            let blob = lp.finish();
            assert_eq!(&blob[HEADER_LEN..HEADER_LEN + want.len()], want, "{v}");
            assert_eq!(decode(&blob, 0).unwrap(), [Bytes::Int(v)]);
        }
    }

    #[test]
    fn non_canonical_numbers_stay_strings() {
        for text in [&b"007"[..], b"-0", b"+1", b" 1", b"1.5", b"9223372036854775808", b""] {
            let entry = entry_of(text);
            assert_eq!(entry[0], 0x80 | text.len() as u8);
            assert_eq!(&entry[1..], text);
        }
    }

    #[test]
    fn string_length_boundaries() {
        for len in [0usize, 1, 63, 64, 126, 127, 128, 4095, 4096, 16382, 16383, 16384, 70000] {
            let s = vec![b'q'; len];
            let entry = entry_of(&s);
            let header: &[u8] = &entry[..entry.len() - len];
            let want: Vec<u8> = if len < 64 {
                vec![0x80 | len as u8]
            } else if len < 4096 {
                vec![0xe0 | (len >> 8) as u8, len as u8]
            } else {
                let mut h = vec![0xf0];
                h.extend_from_slice(&(len as u32).to_le_bytes());
                h
            };
            assert_eq!(header, want.as_slice(), "{len}");
        }
    }

    #[test]
    fn backlen_sizes_change_with_entry_size() {
        // (string length, entry size, back-length size) around the back-length boundaries.
        for (len, entry_size, backlen_size) in
            [(125usize, 127usize, 1usize), (126, 128, 2), (16377, 16382, 2), (16378, 16383, 3)]
        {
            let s = vec![b'z'; len];
            let blob = round_trip(&[&s, b"x", &s]);
            assert_eq!(blob.len(), HEADER_LEN + 2 * (entry_size + backlen_size) + 3 + 1);
        }
    }

    #[test]
    fn count_saturates_at_65535() {
        for n in [65534usize, 65535, 65536] {
            let mut lp = ListpackBuilder::new();
            for i in 0..n {
                lp.push_int(i as i64);
            }
            let blob = lp.finish();
            assert_eq!(u16::from_le_bytes([blob[4], blob[5]]) as usize, n.min(65535));
            assert_eq!(decode(&blob, 0).unwrap().len(), n);
        }
    }

    #[test]
    fn mixed_elements_round_trip() {
        round_trip(&[b"field", b"1", b"value", b"-5", b"", b"12345678901234567890", b"007", b"\xff\x00"]);
    }

    fn element() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..80),
            proptest::collection::vec(proptest::sample::select(b"-0123456789".to_vec()), 0..22),
            any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            (-70000i64..70000).prop_map(|v| v.to_string().into_bytes()),
            proptest::sample::select(vec![
                b"0".to_vec(),
                b"-5".to_vec(),
                b"007".to_vec(),
                b"-0".to_vec(),
                b"12345678901234567890".to_vec(),
                b"9223372036854775807".to_vec(),
                b"-9223372036854775808".to_vec(),
            ]),
            (0usize..5000).prop_map(|n| vec![b'a'; n]),
        ]
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_elements_round_trip(elements in proptest::collection::vec(element(), 0..40)) {
            let refs: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
            round_trip(&refs);
        }
    }
}
