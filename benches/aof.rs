//! AOF checking benches (divan).
//!
//!     cargo bench --bench aof
//!     AOFTOOL_BENCH_AOF=/path/to/appendonly.aof.1.incr.aof cargo bench --bench aof
//!
//! Without `AOFTOOL_BENCH_AOF` the input is testdata/redis7/plain.aof (written by Redis 7.0)
//! repeated to 32 MiB. Throughput is input bytes per second.

use std::hint::black_box;
use std::path::Path;
use std::sync::LazyLock;

use aoftool::Input;
use aoftool::aof::resp::Parser;
use aoftool::aof::scan::scan;
use aoftool::check::check_file;
use divan::Bencher;
use divan::counter::BytesCount;

/// Size of the input built from the fixture.
const SYNTHETIC_BYTES: usize = 32 << 20;

enum AofInput {
    File(Input),
    Synthetic(Vec<u8>),
}

impl AofInput {
    fn bytes(&self) -> &[u8] {
        match self {
            AofInput::File(input) => input.bytes(),
            AofInput::Synthetic(bytes) => bytes,
        }
    }
}

static INPUT: LazyLock<AofInput> = LazyLock::new(|| match std::env::var_os("AOFTOOL_BENCH_AOF") {
    Some(path) => AofInput::File(Input::open(Path::new(&path)).expect("AOFTOOL_BENCH_AOF")),
    None => {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/redis7/plain.aof");
        let one = std::fs::read(fixture).expect("testdata/redis7/plain.aof");
        AofInput::Synthetic(one.repeat(SYNTHETIC_BYTES.div_ceil(one.len())))
    }
});

fn main() {
    eprintln!("input: {} bytes", INPUT.bytes().len());
    divan::main();
}

/// Framing and counting of every command, on 1 and 2 threads.
#[divan::bench(args = [1, 2])]
fn scan_commands(bencher: Bencher, threads: usize) {
    let data = INPUT.bytes();
    bencher.counter(BytesCount::new(data.len())).bench(|| {
        let parser = Parser::new(black_box(data), 0);
        scan(&parser, threads, None).stats.commands
    });
}

/// The whole `check` of a file: framing, transactions, report.
#[divan::bench(args = [1, 2])]
fn check(bencher: Bencher, threads: usize) {
    let data = INPUT.bytes();
    bencher
        .counter(BytesCount::new(data.len()))
        .bench(|| check_file(black_box(data), threads, None, &|_| {}).is_valid());
}
