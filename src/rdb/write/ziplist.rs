//! Building ziplist blobs (RDB versions before 10): entries encoded as Redis's `ziplist.c` does.
//!
//! Layout: 4-byte LE total size, 4-byte LE offset of the last entry, 2-byte LE count (65535 when
//! it does not fit), entries, `0xFF`. Each entry: the previous entry's size (1 byte below 254,
//! else `0xFE` and 4 bytes LE), an encoding header, the data.

use super::int::canonical_int;

const HEADER_LEN: usize = 10;
const END: u8 = 0xff;
const BIG_PREVLEN: u8 = 0xfe;
const UNKNOWN_COUNT: u16 = u16::MAX;

/// Builds one ziplist in a single buffer.
///
/// A ziplist is at most `u32::MAX` bytes: callers check [`ZiplistBuilder::bytes_len`] (Redis's
/// own limits are far lower); past it the size fields are saturated and the blob is invalid.
#[derive(Clone, Debug)]
pub struct ZiplistBuilder {
    buf: Vec<u8>,
    count: usize,
    /// Size of the last entry (its prevlen field included), 0 before the first.
    prev_len: usize,
    /// Offset of the last entry's start.
    tail: usize,
}

impl Default for ZiplistBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ZiplistBuilder {
    /// An empty ziplist.
    pub fn new() -> Self {
        ZiplistBuilder { buf: vec![0; HEADER_LEN], count: 0, prev_len: 0, tail: HEADER_LEN }
    }

    /// Appends `element`, as an integer when it is the canonical text of one (as Redis does).
    pub fn push(&mut self, element: &[u8]) {
        // Redis tries integers only for texts shorter than 32 bytes; canonical ones are at most 20.
        match canonical_int(element) {
            Some(v) => self.push_int(v),
            None => self.push_str(element),
        }
    }

    /// Appends an integer in the smallest integer encoding.
    pub fn push_int(&mut self, v: i64) {
        let start = self.start_entry();
        match v {
            // Immediate 0..=12: the low nibble holds the value plus one.
            0..=12 => self.buf.push(0xf1 + v as u8),
            -128..=127 => self.buf.extend_from_slice(&[0xfe, v as u8]),
            -32768..=32767 => {
                self.buf.push(0xc0);
                self.buf.extend_from_slice(&(v as i16).to_le_bytes());
            }
            -8388608..=8388607 => {
                self.buf.push(0xf0);
                self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            -2147483648..=2147483647 => {
                self.buf.push(0xd0);
                self.buf.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                self.buf.push(0xe0);
                self.buf.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.end_entry(start);
    }

    /// Appends `s` as a string entry, whatever its content.
    fn push_str(&mut self, s: &[u8]) {
        let start = self.start_entry();
        let len = s.len();
        if len <= 0x3f {
            self.buf.push(len as u8);
        } else if len <= 0x3fff {
            // 14-bit length, big-endian, under the 01 tag.
            self.buf.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
        } else {
            self.buf.push(0x80);
            self.buf.extend_from_slice(&saturate(len).to_be_bytes());
        }
        self.buf.extend_from_slice(s);
        self.end_entry(start);
    }

    /// Writes the prevlen field of a new entry; returns where the entry starts.
    fn start_entry(&mut self) -> usize {
        let start = self.buf.len();
        if self.prev_len < usize::from(BIG_PREVLEN) {
            self.buf.push(self.prev_len as u8);
        } else {
            self.buf.push(BIG_PREVLEN);
            self.buf.extend_from_slice(&saturate(self.prev_len).to_le_bytes());
        }
        start
    }

    fn end_entry(&mut self, start: usize) {
        self.prev_len = self.buf.len() - start;
        self.tail = start;
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

    /// Size of the finished ziplist in bytes, header and terminator included.
    pub fn bytes_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// The finished blob.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = saturate(self.buf.len());
        let tail = saturate(self.tail);
        let count = u16::try_from(self.count).unwrap_or(UNKNOWN_COUNT);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..8].copy_from_slice(&tail.to_le_bytes());
        self.buf[8..HEADER_LEN].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::value::Bytes;
    use crate::rdb::ziplist::decode;

    fn round_trip(elements: &[&[u8]]) -> Vec<u8> {
        let mut zl = ZiplistBuilder::new();
        for e in elements {
            zl.push(e);
        }
        assert_eq!(zl.len(), elements.len());
        let expected_len = zl.bytes_len();
        let blob = zl.finish();
        assert_eq!(blob.len(), expected_len);
        let got: Vec<Vec<u8>> = decode(&blob, 0).unwrap().iter().map(Bytes::to_vec).collect();
        assert_eq!(got, elements);
        blob
    }

    /// The encoding and data of a one-element ziplist (after its 1-byte prevlen of 0).
    fn entry_of(element: &[u8]) -> Vec<u8> {
        let blob = round_trip(&[element]);
        assert_eq!(blob[HEADER_LEN], 0);
        blob[HEADER_LEN + 1..blob.len() - 1].to_vec()
    }

    #[test]
    fn empty_ziplist() {
        let blob = round_trip(&[]);
        assert_eq!(blob, [11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xff]);
        assert!(ZiplistBuilder::default().is_empty());
    }

    #[test]
    fn integer_encoding_boundaries() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0xf1]),
            (12, &[0xfd]),
            (13, &[0xfe, 13]),
            (-1, &[0xfe, 0xff]),
            (127, &[0xfe, 0x7f]),
            (-128, &[0xfe, 0x80]),
            (128, &[0xc0, 0x80, 0x00]),
            (-129, &[0xc0, 0x7f, 0xff]),
            (32767, &[0xc0, 0xff, 0x7f]),
            (-32768, &[0xc0, 0x00, 0x80]),
            (32768, &[0xf0, 0x00, 0x80, 0x00]),
            (-32769, &[0xf0, 0xff, 0x7f, 0xff]),
            (8388607, &[0xf0, 0xff, 0xff, 0x7f]),
            (-8388608, &[0xf0, 0x00, 0x00, 0x80]),
            (8388608, &[0xd0, 0x00, 0x00, 0x80, 0x00]),
            (-8388609, &[0xd0, 0xff, 0xff, 0x7f, 0xff]),
            (2147483647, &[0xd0, 0xff, 0xff, 0xff, 0x7f]),
            (-2147483648, &[0xd0, 0x00, 0x00, 0x00, 0x80]),
            (2147483648, &[0xe0, 0, 0, 0, 0x80, 0, 0, 0, 0]),
            (-2147483649, &[0xe0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff]),
            (i64::MAX, &[0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            (i64::MIN, &[0xe0, 0, 0, 0, 0, 0, 0, 0, 0x80]),
        ];
        for &(v, want) in cases {
            assert_eq!(entry_of(v.to_string().as_bytes()), want, "{v}");
            let mut zl = ZiplistBuilder::new();
            zl.push_int(v);
            let blob = zl.finish();
            assert_eq!(&blob[HEADER_LEN + 1..blob.len() - 1], want, "{v}");
            assert_eq!(decode(&blob, 0).unwrap(), [Bytes::Int(v)]);
        }
    }

    #[test]
    fn non_canonical_numbers_stay_strings() {
        for text in [&b"007"[..], b"-0", b"+1", b" 1", b"1.5", b"9223372036854775808", b""] {
            let entry = entry_of(text);
            assert_eq!(entry[0], text.len() as u8);
            assert_eq!(&entry[1..], text);
        }
    }

    #[test]
    fn string_length_boundaries() {
        for len in [0usize, 1, 63, 64, 4095, 4096, 16383, 16384, 70000] {
            let s = vec![b'q'; len];
            let blob = round_trip(&[&s]);
            // A lone entry has a 1-byte prevlen of 0.
            let header = &blob[HEADER_LEN + 1..blob.len() - 1 - len];
            let want: Vec<u8> = if len <= 63 {
                vec![len as u8]
            } else if len <= 16383 {
                vec![0x40 | (len >> 8) as u8, len as u8]
            } else {
                let mut h = vec![0x80];
                h.extend_from_slice(&(len as u32).to_be_bytes());
                h
            };
            assert_eq!(header, want.as_slice(), "{len}");
        }
    }

    #[test]
    fn prevlen_switches_to_five_bytes_at_254() {
        // A first entry of 1 + 2 + 250 = 253 bytes, then of 254 bytes.
        for (len, prev_size, prevlen_field) in [(250usize, 253u32, 1usize), (251, 254, 5)] {
            let s = vec![b'p'; len];
            let blob = round_trip(&[&s, b"next"]);
            let second = HEADER_LEN + prev_size as usize;
            assert_eq!(u32::from_le_bytes(blob[4..8].try_into().unwrap()) as usize, second);
            if prevlen_field == 1 {
                assert_eq!(u32::from(blob[second]), prev_size);
            } else {
                assert_eq!(blob[second], BIG_PREVLEN);
                assert_eq!(u32::from_le_bytes(blob[second + 1..second + 5].try_into().unwrap()), prev_size);
            }
            assert_eq!(blob.len(), second + prevlen_field + 5 + 1);
        }
    }

    #[test]
    fn count_saturates_at_65535() {
        for n in [65534usize, 65535, 65536] {
            let mut zl = ZiplistBuilder::new();
            for i in 0..n {
                zl.push_int(i as i64);
            }
            let blob = zl.finish();
            assert_eq!(u16::from_le_bytes([blob[8], blob[9]]) as usize, n.min(65535));
            assert_eq!(decode(&blob, 0).unwrap().len(), n);
        }
    }

    #[test]
    fn mixed_elements_round_trip() {
        let big = vec![b'b'; 300];
        round_trip(&[b"field", b"1", &big, b"-5", b"", &big, b"12345678901234567890", b"007", b"\xff"]);
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
            (200usize..300).prop_map(|n| vec![b'a'; n]),
            (0usize..20000).prop_map(|n| vec![b'a'; n]),
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
