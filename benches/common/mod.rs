//! Bench inputs shared by the bench targets.

use std::path::{Path, PathBuf};

use aoftool::Input;
use aoftool::rdb::{Reader, Record};

/// Fixtures tried, in order, when no file is given.
const FIXTURES: &[&str] = &[
    "testdata/redis7/dump.rdb",
    "../shared/corpus/redis-replicator/listpack-bug.rdb",
    "/work/shared/corpus/redis-replicator/listpack-bug.rdb",
];

/// Size of the synthetic input built from a fixture.
pub const SYNTHETIC_BYTES: usize = 8 << 20;

/// The bytes to benchmark and where they came from.
pub enum BenchInput {
    /// A whole file, memory-mapped (`AOFTOOL_BENCH_RDB`).
    File(PathBuf, Input),
    /// A fixture's key records repeated to [`SYNTHETIC_BYTES`].
    Synthetic(PathBuf, Vec<u8>),
}

impl BenchInput {
    /// `AOFTOOL_BENCH_RDB` if set, else a synthetic input made from the first fixture found.
    pub fn load() -> BenchInput {
        if let Some(path) = std::env::var_os("AOFTOOL_BENCH_RDB") {
            let path = PathBuf::from(path);
            let input =
                Input::open(&path).unwrap_or_else(|e| panic!("AOFTOOL_BENCH_RDB={}: {e}", path.display()));
            return BenchInput::File(path, input);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let fixture = FIXTURES
            .iter()
            .map(|f| root.join(f))
            .find(|p| p.exists())
            .expect("no fixture RDB found; set AOFTOOL_BENCH_RDB");
        let data = std::fs::read(&fixture).expect("reading the fixture");
        BenchInput::Synthetic(fixture, synthesize(&data, SYNTHETIC_BYTES))
    }

    /// The RDB bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            BenchInput::File(_, input) => input.bytes(),
            BenchInput::Synthetic(_, data) => data,
        }
    }

    /// A line saying what is measured.
    pub fn describe(&self) -> String {
        match self {
            BenchInput::File(p, i) => format!("{} ({} bytes)", p.display(), i.bytes().len()),
            BenchInput::Synthetic(p, d) => {
                format!("key records of {} repeated to {} bytes", p.display(), d.len())
            }
        }
    }
}

/// Builds a valid RDB of about `target` bytes: the fixture's header, `SELECTDB 0`, its key
/// records (with their expiry/LRU/LFU opcodes) repeated, `EOF` and a zero checksum
/// ("not computed", accepted by servers and by aoftool).
pub fn synthesize(fixture: &[u8], target: usize) -> Vec<u8> {
    let mut reader = Reader::new(fixture).expect("fixture header");
    let mut spans = Vec::new();
    while let Some(record) = reader.next_record().expect("fixture records") {
        if let Record::Key(entry) = record {
            spans.push(entry.offset as usize..reader.offset() as usize);
        }
    }
    assert!(!spans.is_empty(), "fixture has no keys");
    let mut out = Vec::with_capacity(target + 64 * 1024);
    out.extend_from_slice(&fixture[..aoftool::rdb::HEADER_LEN]);
    out.extend_from_slice(&[0xFE, 0x00]);
    'fill: loop {
        for span in &spans {
            out.extend_from_slice(&fixture[span.clone()]);
            if out.len() >= target {
                break 'fill;
            }
        }
    }
    out.push(0xFF);
    out.extend_from_slice(&[0; 8]);
    out
}

/// Keys in `data`.
pub fn count_keys(data: &[u8]) -> u64 {
    let mut reader = Reader::new(data).expect("header");
    let mut keys = 0;
    while let Some(record) = reader.next_record().expect("records") {
        keys += u64::from(matches!(record, Record::Key(_)));
    }
    keys
}

/// With a file given (`AOFTOOL_BENCH_RDB`), a whole large file per iteration: a few samples of
/// one pass each, unless divan is told otherwise. Call first thing in `main`.
pub fn few_samples_for_a_given_file() {
    if std::env::var_os("AOFTOOL_BENCH_RDB").is_none() {
        return;
    }
    for (name, value) in [("DIVAN_SAMPLE_COUNT", "3"), ("DIVAN_SAMPLE_SIZE", "1")] {
        if std::env::var_os(name).is_none() {
            // SAFETY: called first thing in `main`, single-threaded, before divan reads it.
            unsafe { std::env::set_var(name, value) };
        }
    }
}
