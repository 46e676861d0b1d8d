//! RDB writing benches (divan): `convert --to rdb` and `convert --to resp [--restore]` of an
//! RDB input, into `io::sink()` (encoding and framing only; the CLI also writes the file and
//! syncs it, which `bench/compare.py` measures).
//!
//!     cargo bench --bench write
//!     AOFTOOL_BENCH_RDB=/work/benchdata/mixed.rdb cargo bench --bench write
//!
//! The input is the one of `benches/rdb.rs` (see `benches/common`): without
//! `AOFTOOL_BENCH_RDB`, the key records of testdata/redis7/dump.rdb repeated to 8 MiB. The
//! output format is the input's own (`Target::for_input`, as the CLI chooses without
//! `--rdb-version`). With a file, each bench runs a few single passes (override with
//! `--sample-count N`). Throughput is input bytes and input keys per second.

mod common;

use std::hint::black_box;
use std::sync::LazyLock;

use aoftool::convert::ChecksumPolicy;
use aoftool::emit::{Format, Options, RespWriter, rdb_to};
use aoftool::filter::Filter;
use aoftool::rdb::Reader;
use aoftool::rdb::write::{Lossy, Target, ValueWriter};
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
    eprintln!("input: {}, {} keys, written as {}", INPUT.describe(), *KEYS, target());
    divan::main();
}

fn counters<'a, 'b>(bencher: Bencher<'a, 'b>) -> Bencher<'a, 'b> {
    bencher.counter(BytesCount::new(INPUT.bytes().len())).counter(ItemsCount::new(*KEYS))
}

fn target() -> Target {
    Target::for_input(Reader::new(INPUT.bytes()).ok().map(|r| r.header()))
}

fn run(bencher: Bencher, format: Format, threads: usize) {
    let data = INPUT.bytes();
    let options = Options { format, filter: Filter::default(), threads, checksum: ChecksumPolicy::Verify };
    counters(bencher).bench(|| rdb_to(black_box(data), &options, &mut std::io::sink(), &|_| {}).unwrap());
}

fn values() -> ValueWriter {
    ValueWriter::new(target(), Lossy::default())
}

/// `convert --to rdb`, with 1 and 2 worker threads.
#[divan::bench(args = [1, 2])]
fn to_rdb(bencher: Bencher, threads: usize) {
    run(bencher, Format::Rdb(values()), threads);
}

/// `convert --to resp`: commands (`SET`, `RPUSH`, `HSET`, `XADD`, ...), 1 and 2 threads.
#[divan::bench(args = [1, 2])]
fn to_resp(bencher: Bencher, threads: usize) {
    run(bencher, Format::Resp(RespWriter::new(values(), false)), threads);
}

/// `convert --to resp --restore`: every key as `RESTORE` with a DUMP payload, 1 and 2 threads.
#[divan::bench(args = [1, 2])]
fn to_resp_restore(bencher: Bencher, threads: usize) {
    run(bencher, Format::Resp(RespWriter::new(values(), true)), threads);
}
