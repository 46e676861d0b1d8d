//! One full decode of an RDB file with no output, the work `aoftool check` will do on an RDB:
//! every record walked, every key name and value decoded, the CRC-64 verified.
//! Prints one line: bytes, keys, seconds, MB/s, keys/s.
//!
//!     cargo bench --bench decode_file -- FILE [--threads N] [--no-crc] [--walk-only]
//!
//! (or run the built binary directly; bench/compare.sh does, to measure its memory).
//! `--threads 1` (the default) decodes inline; more threads decode batches of records on a
//! pool while the calling thread walks, like `convert`.

use std::hint::black_box;
use std::time::Instant;

use aoftool::Input;
use aoftool::parallel::ordered_map;
use aoftool::rdb::reader::{Trailer, verify_checksum};
use aoftool::rdb::{KeyEntry, Reader, Record};

/// The allocator of the `aoftool` binary, so the numbers match it.
#[cfg(feature = "cli")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH_RECORDS: usize = 4096;
const BATCH_BYTES: u64 = 1 << 20;

fn main() {
    let mut path = None;
    let mut threads = 1usize;
    let mut crc = true;
    let mut walk_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => threads = args.next().and_then(|t| t.parse().ok()).expect("--threads N"),
            "--no-crc" => crc = false,
            "--walk-only" => walk_only = true,
            "--bench" => {} // passed by `cargo bench`
            a if a.starts_with('-') => panic!("unknown option {a}"),
            _ => path = Some(arg),
        }
    }
    let Some(path) = path else {
        eprintln!("usage: decode_file FILE [--threads N] [--no-crc] [--walk-only]");
        std::process::exit(2);
    };
    let start = Instant::now();
    let input = Input::open(std::path::Path::new(&path)).expect("opening the file");
    let data = input.bytes();
    let (keys, trailer) = if walk_only {
        walk(data)
    } else if threads <= 1 {
        decode_inline(data)
    } else {
        decode_parallel(data, threads)
    };
    let checksum = if crc {
        match verify_checksum(data, &trailer.expect("EOF opcode")) {
            Ok(true) => "valid",
            Ok(false) => "absent",
            Err(e) => panic!("{e}"),
        }
    } else {
        "not checked"
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{path}: {} bytes, {keys} keys, {secs:.3} s, {:.1} MB/s, {:.0} keys/s, checksum {checksum}, threads {threads}{}",
        data.len(),
        data.len() as f64 / secs / 1e6,
        keys as f64 / secs,
        if walk_only { ", walk only" } else { "" },
    );
}

fn decode_entry(entry: &KeyEntry<'_>) {
    black_box(entry.key.decode().unwrap_or_else(|e| panic!("{e}")));
    black_box(entry.value().unwrap_or_else(|e| panic!("{e}")));
}

fn walk(data: &[u8]) -> (u64, Option<Trailer>) {
    let mut reader = Reader::new(data).unwrap_or_else(|e| panic!("{e}"));
    let mut keys = 0;
    while let Some(record) = reader.next_record().unwrap_or_else(|e| panic!("{e}")) {
        match record {
            Record::Key(_) => keys += 1,
            Record::Eof(t) => return (keys, Some(t)),
            _ => {}
        }
    }
    (keys, None)
}

fn decode_inline(data: &[u8]) -> (u64, Option<Trailer>) {
    let mut reader = Reader::new(data).unwrap_or_else(|e| panic!("{e}"));
    let mut keys = 0;
    while let Some(record) = reader.next_record().unwrap_or_else(|e| panic!("{e}")) {
        match record {
            Record::Key(entry) => {
                decode_entry(&entry);
                keys += 1;
            }
            Record::Eof(t) => return (keys, Some(t)),
            _ => {}
        }
    }
    (keys, None)
}

fn decode_parallel(data: &[u8], threads: usize) -> (u64, Option<Trailer>) {
    let mut reader = Reader::new(data).unwrap_or_else(|e| panic!("{e}"));
    let mut done = false;
    let batches = std::iter::from_fn(|| {
        if done {
            return None;
        }
        let start = reader.offset();
        let mut batch = Vec::new();
        while batch.len() < BATCH_RECORDS && reader.offset() - start < BATCH_BYTES {
            match reader.next_record() {
                Ok(Some(record)) => batch.push(record),
                Ok(None) => {
                    done = true;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        (!batch.is_empty()).then_some(Ok::<_, ()>(batch))
    });
    let mut keys = 0;
    let mut trailer = None;
    ordered_map(
        threads,
        batches,
        |batch| {
            let mut n = 0u64;
            let mut t = None;
            for record in &batch {
                match record {
                    Record::Key(entry) => {
                        decode_entry(entry);
                        n += 1;
                    }
                    Record::Eof(e) => t = Some(*e),
                    _ => {}
                }
            }
            Ok((n, t))
        },
        |(n, t)| {
            keys += n;
            trailer = trailer.or(t);
            Ok(())
        },
    )
    .unwrap();
    (keys, trailer)
}
