#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aoftool_fuzz::harness::keyspace_apply(data));
