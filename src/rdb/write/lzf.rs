//! LZF compression in liblzf's format, for RDB strings and quicklist nodes.
//!
//! The stream is a sequence of items: a literal run (control byte `len - 1` below 32, then
//! 1..=32 bytes) or a back reference (3 bits of `len - 2` and the top 5 bits of `offset - 1`,
//! an extra length byte when those 3 bits are all set, then the low 8 bits of `offset - 1`),
//! for copies of 3..=264 bytes from 1..=8192 bytes back.

/// Longest literal run one control byte announces.
const MAX_LIT: usize = 1 << 5;
/// Farthest a back reference reaches.
const MAX_DIST: usize = 1 << 13;
/// Shortest back reference.
const MIN_MATCH: usize = 3;
/// Longest back reference: 2 + 7 + 255.
const MAX_MATCH: usize = 264;
/// Length code (`len - 2`) from which an extra length byte follows.
const LONG_CODE: usize = 7;
/// Smallest hash table (log2 of its slots), kept on the stack; larger inputs get larger tables.
const MIN_HASH_LOG: u32 = 8;
/// Largest hash table: 16384 slots (64 KiB), plenty for the 8 KiB window.
const MAX_HASH_LOG: u32 = 14;
/// After every 2^SKIP_STRENGTH failed probes since the last match, the search steps one byte
/// further, so incompressible data is scanned quickly (as LZ4 does).
const SKIP_STRENGTH: u32 = 6;

/// Compresses `input`; `None` when the result would take more than `max_out` bytes (it stops as
/// soon as that is certain, and its output buffer never holds more) or when `input` is empty
/// (as liblzf). Besides the output it uses at most a 64 KiB hash table.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 {
        return None;
    }
    // Worst case: every byte a literal, one control byte per 32.
    let mut out = Out { buf: Vec::with_capacity(max_out.min(n + n.div_ceil(MAX_LIT))), max_out };
    let hash_log = n.next_power_of_two().trailing_zeros().clamp(MIN_HASH_LOG, MAX_HASH_LOG);
    let shift = 32 - hash_log;
    // Each slot holds the low 32 bits of the latest position whose 3 bytes hash there; short
    // inputs (the common case) use a table on the stack.
    let mut small = [0u32; 1 << MIN_HASH_LOG];
    let mut large = Vec::new();
    let table: &mut [u32] = if hash_log == MIN_HASH_LOG {
        &mut small
    } else {
        large.resize(1 << hash_log, 0);
        &mut large
    };
    let mask = table.len() - 1;

    let mut ip = 1; // next position to try as a match start (position 0 cannot be one)
    let mut anchor = 0; // first byte not yet written
    let mut misses = 0u32;
    while ip + MIN_MATCH <= n {
        let seq = read3(input, ip);
        let slot = &mut table[hash(seq, shift) & mask];
        // Distances are computed modulo 2^32, so positions beyond 4 GiB still find neighbours;
        // a stale or colliding slot is harmless since the bytes are compared below.
        let dist = (ip as u32).wrapping_sub(*slot) as usize;
        *slot = ip as u32;
        // A candidate out of reach is replaced by the previous byte (which catches runs), so
        // one well-predicted test decides: on incompressible data the range alone is a coin toss.
        let dist = if dist.wrapping_sub(1) < MAX_DIST.min(ip) { dist } else { 1 };
        let from = ip - dist;
        if read3(input, from) == seq {
            let end = n.min(ip + MAX_MATCH);
            let len = MIN_MATCH + common_prefix(&input[from + MIN_MATCH..], &input[ip + MIN_MATCH..end]);
            out.literals(&input[anchor..ip])?;
            out.back_reference(len, dist)?;
            ip += len;
            anchor = ip;
            misses = 0;
            // Index the match's last two positions, where the next match often starts.
            for pos in ip - 2..ip {
                if pos + MIN_MATCH <= n {
                    table[hash(read3(input, pos), shift) & mask] = pos as u32;
                }
            }
        } else {
            misses = misses.saturating_add(1);
            ip += 1 + (misses >> SKIP_STRENGTH) as usize;
            // Write full literal runs as they form, so an output over the limit stops early.
            while ip - anchor >= MAX_LIT && anchor + MAX_LIT <= n {
                out.literals(&input[anchor..anchor + MAX_LIT])?;
                anchor += MAX_LIT;
            }
        }
    }
    out.literals(&input[anchor..])?;
    Some(out.buf)
}

/// The output, refusing to grow past `max_out`.
struct Out {
    buf: Vec<u8>,
    max_out: usize,
}

impl Out {
    fn reserve(&self, need: usize) -> Option<()> {
        (self.max_out - self.buf.len() >= need).then_some(())
    }

    /// Writes `lits` as literal runs of at most 32 bytes.
    fn literals(&mut self, lits: &[u8]) -> Option<()> {
        for run in lits.chunks(MAX_LIT) {
            self.reserve(1 + run.len())?;
            self.buf.push((run.len() - 1) as u8);
            self.buf.extend_from_slice(run);
        }
        Some(())
    }

    /// Writes a copy of `len` (3..=264) bytes from `dist` (1..=8192) bytes back.
    fn back_reference(&mut self, len: usize, dist: usize) -> Option<()> {
        let code = len - 2;
        let offset = dist - 1;
        let high = (offset >> 8) as u8;
        if code < LONG_CODE {
            self.reserve(2)?;
            self.buf.extend_from_slice(&[(code as u8) << 5 | high, offset as u8]);
        } else {
            self.reserve(3)?;
            self.buf.extend_from_slice(&[
                (LONG_CODE as u8) << 5 | high,
                (code - LONG_CODE) as u8,
                offset as u8,
            ]);
        }
        Some(())
    }
}

/// The 3 bytes at `at` as a little-endian number.
#[inline]
fn read3(input: &[u8], at: usize) -> u32 {
    let b = &input[at..at + 3];
    u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16
}

/// Multiplicative hash of a 3-byte sequence into a table of 2^(32 - shift) slots.
#[inline]
fn hash(seq: u32, shift: u32) -> usize {
    (seq.wrapping_mul(0x9e37_79b1) >> shift) as usize
}

/// Length of the common prefix of `a` and `b`, comparing 8 bytes at a time.
#[inline]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut i = 0;
    while let (Some(x), Some(y)) = (a[i..].first_chunk::<8>(), b[i..].first_chunk::<8>()) {
        let diff = u64::from_le_bytes(*x) ^ u64::from_le_bytes(*y);
        if diff != 0 {
            return i + (diff.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + a[i..].iter().zip(&b[i..]).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::lzf::decompress;

    /// Deterministic pseudo-random bytes (xorshift64).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    /// Compresses with no limit, checks the round trip and the exact-limit behaviour.
    fn round_trip(input: &[u8]) -> Vec<u8> {
        let packed = compress(input, usize::MAX).unwrap();
        assert!(packed.len() <= input.len() + input.len().div_ceil(32));
        assert_eq!(decompress(&packed, input.len() as u64, 0).unwrap(), input);
        assert_eq!(compress(input, packed.len()).as_ref(), Some(&packed));
        assert_eq!(compress(input, packed.len() - 1), None);
        packed
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(compress(b"", usize::MAX), None);
        assert_eq!(compress(b"a", 0), None);
    }

    #[test]
    fn short_inputs() {
        assert_eq!(round_trip(b"a"), [0, b'a']);
        assert_eq!(round_trip(b"ab"), [1, b'a', b'b']);
        assert_eq!(round_trip(b"abc"), [2, b'a', b'b', b'c']);
        for len in 1..100 {
            round_trip(&noise(len, len as u64));
            round_trip(&vec![b'x'; len]);
            round_trip(&b"abcd".repeat(len));
        }
    }

    #[test]
    fn back_reference_encodings() {
        // "aaaa": a literal, then a 3-byte copy from 1 back (code 1, offset 0).
        assert_eq!(round_trip(b"aaaa"), [0, b'a', 1 << 5, 0]);
        // Ten more: a 9-byte copy needs the extra length byte (code 7, extra 0).
        assert_eq!(round_trip(b"aaaaaaaaaa"), [0, b'a', 7 << 5, 0, 0]);
        // 265 bytes: the longest copy (264), extra byte 255.
        assert_eq!(round_trip(&[b'z'; 265]), [0, b'z', 7 << 5, 255, 0]);
        assert_eq!(round_trip(&[b'z'; 266]), [0, b'z', 7 << 5, 255, 0, 0, b'z']);
    }

    #[test]
    fn literal_runs_split_at_32() {
        let data = noise(100, 7);
        let packed = round_trip(&data);
        assert_eq!(packed.len(), 104);
        assert_eq!([packed[0], packed[33], packed[66], packed[99]], [31, 31, 31, 3]);
    }

    #[test]
    fn long_runs_and_repetition() {
        let runs = round_trip(&vec![0u8; 1 << 20]);
        assert!(runs.len() < (1 << 20) / 80, "{}", runs.len());
        let text = b"The quick brown fox jumps over the lazy dog. ".repeat(2000);
        assert!(round_trip(&text).len() < text.len() / 20);
        let mut mixed = Vec::new();
        for i in 0..2000u32 {
            mixed
                .extend_from_slice(format!("{{\"id\":{i},\"name\":\"user{}\"}}", i * 7919 % 1000).as_bytes());
        }
        assert!(round_trip(&mixed).len() < mixed.len() / 2);
    }

    #[test]
    fn random_data_barely_grows() {
        for (len, seed) in [(1000, 1), (65536, 2), (300_000, 3)] {
            let packed = round_trip(&noise(len, seed));
            assert!(packed.len() <= len + len.div_ceil(32));
            // The usual limit (a few bytes under the input) stops it.
            assert_eq!(compress(&noise(len, seed), len - 4), None);
        }
    }

    /// The (length, distance) of every back reference in a stream.
    fn back_references(packed: &[u8]) -> Vec<(usize, usize)> {
        let mut refs = Vec::new();
        let mut i = 0;
        while i < packed.len() {
            let ctrl = usize::from(packed[i]);
            if ctrl < 32 {
                i += ctrl + 2;
                continue;
            }
            let mut code = ctrl >> 5;
            i += 1;
            if code == 7 {
                code += usize::from(packed[i]);
                i += 1;
            }
            refs.push((code + 2, ((ctrl & 0x1f) << 8 | usize::from(packed[i])) + 1));
            i += 1;
        }
        refs
    }

    #[test]
    fn distances_up_to_8192() {
        for block_len in [8191usize, 8192, 8193, 20000] {
            let block = noise(block_len, block_len as u64);
            let doubled = [&block[..], &block[..]].concat();
            let packed = round_trip(&doubled);
            let refs = back_references(&packed);
            let literal_only = block_len + block_len.div_ceil(32);
            if block_len <= MAX_DIST {
                // The second copy is mostly long back references to the first.
                assert!(refs.contains(&(MAX_MATCH, block_len)), "{block_len}");
                assert!(packed.len() < literal_only + block_len / 16, "{block_len}: {}", packed.len());
            } else {
                assert!(packed.len() > 2 * block_len, "{block_len}: {}", packed.len());
            }
            assert!(refs.iter().all(|&(len, dist)| (3..=264).contains(&len) && (1..=8192).contains(&dist)));
        }
    }

    #[test]
    fn farthest_longest_reference_decodes() {
        let block = noise(MAX_DIST, 9);
        let mut out = Out { buf: Vec::new(), max_out: usize::MAX };
        out.literals(&block).unwrap();
        out.back_reference(MAX_MATCH, MAX_DIST).unwrap();
        out.back_reference(MIN_MATCH, 1).unwrap();
        let mut want = block.clone();
        want.extend_from_slice(&block[..MAX_MATCH]);
        want.extend_from_slice(&[block[MAX_MATCH - 1]; 3]);
        assert_eq!(decompress(&out.buf, want.len() as u64, 0).unwrap(), want);
    }

    #[test]
    fn common_prefix_counts_across_words() {
        let a = b"0123456789abcdefXYZ";
        assert_eq!(common_prefix(a, a), a.len());
        assert_eq!(common_prefix(a, b"0123456789abcdefXY_"), 18);
        assert_eq!(common_prefix(a, b"01234567_"), 8);
        assert_eq!(common_prefix(a, b"0123"), 4);
        assert_eq!(common_prefix(b"", a), 0);
    }

    proptest::proptest! {
        #[test]
        fn round_trips_arbitrary_bytes(
            data in proptest::prop_oneof![
                proptest::collection::vec(proptest::num::u8::ANY, 1..3000),
                proptest::collection::vec(0u8..4, 1..20000),
            ],
            cut in 0usize..64,
        ) {
            let packed = compress(&data, usize::MAX).unwrap();
            proptest::prop_assert_eq!(decompress(&packed, data.len() as u64, 0).unwrap(), data.clone());
            proptest::prop_assert!(back_references(&packed).iter().all(|&(_, dist)| dist <= MAX_DIST));
            let limit = packed.len().saturating_sub(cut);
            let limited = compress(&data, limit);
            proptest::prop_assert_eq!(limited.is_some(), cut == 0);
            if let Some(limited) = limited {
                proptest::prop_assert!(limited.capacity() <= packed.len().max(limit));
            }
        }
    }
}
