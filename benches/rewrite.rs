//! `rewrite` benches (divan): applying an AOF to the keyspace, and writing the keyspace out.
//!
//!     cargo bench --bench rewrite
//!     AOFTOOL_BENCH_AOF=/path/to/appendonly.aof.1.incr.aof cargo bench --bench rewrite
//!
//! Without `AOFTOOL_BENCH_AOF` the input is an overwrite-heavy AOF made here, in the shape
//! redis-benchmark's default tests log (SET on random keys, INCR, LPUSH, SADD, HSET on a few
//! keys), about 32 MiB. `apply_lpush` applies LPUSHes of 64-byte elements onto one list, also
//! about 32 MiB; `apply_vadd` and `write_aof_vectors` apply and write `VADD`s of 768-component
//! vectors onto one vector set, also about 32 MiB. Throughput is input bytes per second.

use std::hint::black_box;
use std::path::Path;
use std::sync::LazyLock;

use aoftool::Input;
use aoftool::emit::RespWriter;
use aoftool::keyspace::{Applier, Keyspace};
use aoftool::rdb::write::{FileOptions, Lossy, Target, ValueWriter};
use aoftool::rewrite::{write_rdb, write_resp};
use divan::Bencher;
use divan::counter::BytesCount;

/// Size of the generated input.
const SYNTHETIC_BYTES: usize = 32 << 20;

static INPUT: LazyLock<Vec<u8>> = LazyLock::new(|| match std::env::var_os("AOFTOOL_BENCH_AOF") {
    Some(path) => Input::open(Path::new(&path)).expect("AOFTOOL_BENCH_AOF").bytes().to_vec(),
    None => synthetic(),
});

/// Appends one command in RESP.
fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn synthetic() -> Vec<u8> {
    let mut out = Vec::with_capacity(SYNTHETIC_BYTES + 4096);
    command(&mut out, &[b"SELECT", b"0"]);
    let value = [b'x'; 64];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut i = 0u64;
    while out.len() < SYNTHETIC_BYTES {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let key = format!("key:{:012}", rng % 1_000_000);
        let field = format!("element:{:012}", rng % 100_000);
        match i % 5 {
            0 => command(&mut out, &[b"SET", key.as_bytes(), &value]),
            1 => command(&mut out, &[b"INCR", b"counter:rand"]),
            2 => command(&mut out, &[b"LPUSH", b"mylist", &value[..3]]),
            3 => command(&mut out, &[b"SADD", b"myset", field.as_bytes()]),
            _ => command(&mut out, &[b"HSET", b"myhash", field.as_bytes(), &value[..3]]),
        }
        i += 1;
    }
    out
}

/// LPUSHes of distinct 64-byte elements onto one list, about `SYNTHETIC_BYTES`.
static LPUSH_INPUT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut out = Vec::with_capacity(SYNTHETIC_BYTES + 4096);
    let mut element = [b'x'; 64];
    let mut i = 0u64;
    while out.len() < SYNTHETIC_BYTES {
        element[..16].copy_from_slice(format!("{i:016}").as_bytes());
        command(&mut out, &[b"LPUSH", b"mylist", &element]);
        i += 1;
    }
    out
});

/// `VADD`s of distinct elements with random 768-component vectors (as `FP32`) onto one vector
/// set, about `SYNTHETIC_BYTES`.
static VADD_INPUT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut out = Vec::with_capacity(SYNTHETIC_BYTES + 4096);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut i = 0u64;
    while out.len() < SYNTHETIC_BYTES {
        let vector: Vec<u8> = (0..768)
            .flat_map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                ((rng % 2000) as f32 / 1000.0 - 1.0).to_le_bytes()
            })
            .collect();
        command(&mut out, &[b"VADD", b"vectors", b"FP32", &vector, format!("item:{i}").as_bytes()]);
        i += 1;
    }
    out
});

fn load(input: &[u8]) -> Keyspace {
    let mut applier = Applier::new(Keyspace::new(), 0);
    applier.load_file(input, 0, &|_| {}).expect("the bench AOF applies");
    applier.finish()
}

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 5)]
fn apply(bencher: Bencher) {
    bench_apply(bencher, &INPUT);
}

/// Applies `input` to an empty keyspace.
fn bench_apply(bencher: Bencher, input: &[u8]) {
    bencher.counter(BytesCount::new(input.len())).bench(|| black_box(load(input)).len());
}

#[divan::bench(sample_count = 5)]
fn apply_lpush(bencher: Bencher) {
    bench_apply(bencher, &LPUSH_INPUT);
}

#[divan::bench(sample_count = 5)]
fn write_aof(bencher: Bencher) {
    bench_write_aof(bencher, &INPUT);
}

/// Writes, as RESP, the keyspace `input` builds.
fn bench_write_aof(bencher: Bencher, input: &[u8]) {
    let keyspace = load(input);
    let resp = RespWriter::new(ValueWriter::new(Target::DEFAULT, Lossy::default()), false);
    bencher.counter(BytesCount::new(input.len())).bench(|| {
        let mut out = Vec::new();
        write_resp(&keyspace, &resp, None, &mut out).expect("RESP");
        out.len()
    });
}

#[divan::bench(sample_count = 5)]
fn write_rdb_file(bencher: Bencher) {
    let keyspace = load(&INPUT);
    let values = ValueWriter::new(Target::DEFAULT, Lossy::default());
    bencher.counter(BytesCount::new(INPUT.len())).bench(|| {
        let mut out = Vec::new();
        write_rdb(&keyspace, values.clone(), FileOptions::default(), None, &mut out).expect("RDB");
        out.len()
    });
}

#[divan::bench(sample_count = 5)]
fn apply_vadd(bencher: Bencher) {
    bench_apply(bencher, &VADD_INPUT);
}

#[divan::bench(sample_count = 5)]
fn write_aof_vectors(bencher: Bencher) {
    bench_write_aof(bencher, &VADD_INPUT);
}
