//! RDB reading benches (divan).
//!
//!     cargo bench --bench rdb
//!     AOFTOOL_BENCH_RDB=/work/benchdata/mixed.rdb cargo bench --bench rdb
//!
//! Without `AOFTOOL_BENCH_RDB` the input is built in memory: the key records of
//! testdata/redis7/dump.rdb (a real Redis 7.0 dump with every type) repeated to 8 MiB.
//! With a file, each bench runs a few single passes (override with `--sample-count N`).
//! Throughput is input bytes per second (`BytesCount` of the whole input per iteration).

mod common;

use std::hint::black_box;
use std::sync::LazyLock;

use aoftool::convert::{ChecksumPolicy, JsonFormat, JsonOptions, rdb_to_json};
use aoftool::filter::Filter;
use aoftool::rdb::{Reader, Record};
use common::BenchInput;
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};

/// The allocator of the `aoftool` binary, so the numbers match it.
#[cfg(feature = "cli")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

static INPUT: LazyLock<BenchInput> = LazyLock::new(BenchInput::load);
static KEYS: LazyLock<u64> = LazyLock::new(|| common::count_keys(INPUT.bytes()));

fn main() {
    common::few_samples_for_a_given_file();
    eprintln!("input: {}, {} keys", INPUT.describe(), *KEYS);
    divan::main();
}

fn counters<'a, 'b>(bencher: Bencher<'a, 'b>) -> Bencher<'a, 'b> {
    bencher.counter(BytesCount::new(INPUT.bytes().len())).counter(ItemsCount::new(*KEYS))
}

/// Framing only: every top-level record found and bounded, no value decoded.
#[divan::bench]
fn walk(bencher: Bencher) {
    let data = INPUT.bytes();
    counters(bencher).bench(|| {
        let mut reader = Reader::new(black_box(data)).unwrap();
        let mut n = 0u64;
        while let Some(record) = reader.next_record().unwrap() {
            n += u64::from(matches!(record, Record::Key(_)));
        }
        n
    });
}

/// Full decode with no output: walk, then every key name and value decoded.
#[divan::bench]
fn decode(bencher: Bencher) {
    let data = INPUT.bytes();
    counters(bencher).bench(|| {
        let mut reader = Reader::new(black_box(data)).unwrap();
        let mut n = 0u64;
        while let Some(record) = reader.next_record().unwrap() {
            if let Record::Key(entry) = record {
                black_box(entry.key.decode().unwrap());
                black_box(entry.value().unwrap());
                n += 1;
            }
        }
        n
    });
}

/// `convert --to jsonl` into `io::sink()`, with 1 and 2 worker threads.
#[divan::bench(args = [1, 2])]
fn convert_jsonl(bencher: Bencher, threads: usize) {
    let data = INPUT.bytes();
    let options = JsonOptions {
        format: JsonFormat::Lines,
        filter: Filter::default(),
        include_meta: true,
        threads,
        checksum: ChecksumPolicy::Verify,
    };
    counters(bencher)
        .bench(|| rdb_to_json(black_box(data), &options, &mut std::io::sink(), &|_| {}).unwrap());
}
