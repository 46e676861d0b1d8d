//! The listpack and ziplist builders: what they build decodes to the elements pushed, with an
//! integer entry exactly for the canonical decimal texts.
//!
//! Elements are cut from the input: a length byte below 0xff takes that many bytes (fewer at
//! the end); 0xff, a 2-byte LE count and a byte makes a run of that byte (long strings cheaply).
#![no_main]

use aoftool::rdb::write::int::canonical_int;
use aoftool::rdb::write::listpack::ListpackBuilder;
use aoftool::rdb::write::ziplist::ZiplistBuilder;
use aoftool::rdb::{Bytes, listpack, ziplist};
use libfuzzer_sys::fuzz_target;

fn elements(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((&head, rest)) = data.split_first() {
        if head == 0xff && rest.len() >= 3 {
            let count = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
            out.push(vec![rest[2]; count]);
            data = &rest[3..];
        } else {
            let len = usize::from(head).min(rest.len());
            out.push(rest[..len].to_vec());
            data = &rest[len..];
        }
    }
    out
}

fn check(decoded: &[Bytes<'_>], elements: &[Vec<u8>]) {
    assert_eq!(decoded.len(), elements.len(), "element count");
    for (got, want) in decoded.iter().zip(elements) {
        match got {
            Bytes::Int(v) => assert_eq!(canonical_int(want), Some(*v), "integer entry"),
            other => {
                assert_eq!(canonical_int(want), None, "canonical integer stored as a string");
                assert_eq!(other.to_vec(), *want, "string entry");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let elements = elements(data);
    let mut lp = ListpackBuilder::new();
    let mut zl = ZiplistBuilder::new();
    for e in &elements {
        lp.push(e);
        zl.push(e);
    }
    assert_eq!((lp.len(), zl.len()), (elements.len(), elements.len()));
    let (lp_len, zl_len) = (lp.bytes_len(), zl.bytes_len());
    let (lp, zl) = (lp.finish(), zl.finish());
    assert_eq!((lp.len(), zl.len()), (lp_len, zl_len), "bytes_len");
    check(&listpack::decode(&lp, 0).expect("own listpack decodes"), &elements);
    check(&ziplist::decode(&zl, 0).expect("own ziplist decodes"), &elements);
});
