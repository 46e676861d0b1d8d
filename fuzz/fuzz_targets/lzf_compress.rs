//! The LZF compressor: whatever it writes decompresses to its input, and its size limit is exact.
//!
//! The input is compressed as is, and also tiled (the first byte picks 1 to 16 copies of the
//! rest), which makes long inputs with back references at every distance.
#![no_main]

use aoftool::rdb::lzf::decompress;
use aoftool::rdb::write::lzf::compress;
use libfuzzer_sys::fuzz_target;

fn check(input: &[u8]) {
    let Some(packed) = compress(input, usize::MAX) else {
        assert!(input.is_empty(), "refused a non-empty input");
        return;
    };
    assert!(packed.len() <= input.len() + input.len().div_ceil(32), "output past the worst case");
    let unpacked = decompress(&packed, input.len() as u64, 0).expect("own output decompresses");
    assert_eq!(unpacked, input, "round trip differs");
    assert_eq!(compress(input, packed.len()).as_ref(), Some(&packed), "exact limit refused");
    assert_eq!(compress(input, packed.len() - 1), None, "limit exceeded");
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some((&copies, rest)) = data.split_first() {
        let copies = usize::from(copies % 16) + 1;
        check(&rest.repeat(copies));
    }
});
