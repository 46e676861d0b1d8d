//! Robustness: no input makes the readers panic, hang or accept damage.
//!
//! - every fuzz regression input replays through its target's entry point;
//! - every real RDB fixture, truncated at every byte (sampled for large files), fails with an
//!   error inside the truncated bytes, unless only bytes after the CRC trailer were cut;
//! - single-byte changes never panic, and a file protected by a CRC-64 never converts with a
//!   valid checksum after one;
//! - arbitrary bytes and arbitrary edits of a real file never panic.
//!
//! The entry points are shared with the fuzz targets (`fuzz/src/harness.rs`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aoftool::ErrorKind;
use aoftool::convert::{ChecksumPolicy, ChecksumState, JsonFormat, Summary};
use proptest::prelude::*;
use proptest::sample::Index;

#[path = "../fuzz/src/harness.rs"]
mod harness;

/// Files up to this size are truncated at every byte offset.
const TRUNCATE_EVERY_BELOW: usize = if cfg!(debug_assertions) { 8 << 10 } else { 20 << 10 };
/// Files up to this size get every byte changed.
const CHANGE_EVERY_BELOW: usize = if cfg!(debug_assertions) { 1 << 10 } else { 4 << 10 };
/// Input bytes to convert per larger file and test, roughly: sets how many offsets are sampled.
const BUDGET: usize = if cfg!(debug_assertions) { 512 << 10 } else { 16 << 20 };
/// Most offsets sampled in a larger file, besides its first bytes and its trailer.
const MAX_SAMPLES: usize = 256;
/// First bytes of a larger file always tried (header and first records).
const HEAD: usize = 16;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A real RDB file and what a full conversion of it gives.
struct Fixture {
    name: String,
    data: Vec<u8>,
    /// The conversion summary when the intact file converts with its checksum verified.
    summary: Option<Summary>,
}

impl Fixture {
    /// Length of the file without the bytes after its trailer (which servers ignore): every
    /// shorter prefix must fail. The whole file when it does not convert.
    fn complete_len(&self) -> usize {
        let trailing = self.summary.as_ref().map_or(0, |s| s.trailing_bytes as usize);
        self.data.len() - trailing
    }

    /// True when the file converts and a nonzero CRC-64 covers it.
    fn has_crc(&self) -> bool {
        matches!(self.summary, Some(Summary { checksum: ChecksumState::Valid, .. }))
    }
}

fn rdb_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rdb_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rdb") {
            out.push(path);
        }
    }
}

/// Every `*.rdb` under `../shared/corpus` and `testdata`, whichever exist, smallest first.
fn fixtures() -> &'static [Fixture] {
    static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let mut paths = Vec::new();
        rdb_files(&root().join("../shared/corpus"), &mut paths);
        rdb_files(&root().join("testdata"), &mut paths);
        let mut fixtures: Vec<Fixture> = paths
            .iter()
            .filter_map(|path| {
                let data = std::fs::read(path).ok()?;
                let (result, _) = convert(&data);
                Some(Fixture {
                    name: path.strip_prefix(root()).unwrap_or(path).display().to_string(),
                    summary: result.ok(),
                    data,
                })
            })
            .collect();
        fixtures.sort_by(|a, b| (a.data.len(), &a.name).cmp(&(b.data.len(), &b.name)));
        fixtures
    })
}

/// The conversion the fixture tests check: JSON Lines, one thread, checksum verified.
fn convert(data: &[u8]) -> (aoftool::Result<Summary>, Vec<u8>) {
    harness::convert(data, 1, JsonFormat::Lines, false, ChecksumPolicy::Verify)
}

/// The offsets `0..len` to try: all of them up to `every_below`; else the first [`HEAD`], the
/// last byte and the EOF opcode with the byte before it (for files ending in a CRC-64), and as
/// many more as [`BUDGET`] allows, spread by a fixed generator.
fn offsets(len: usize, every_below: usize) -> Vec<usize> {
    if len <= every_below {
        return (0..len).collect();
    }
    let mut out: Vec<usize> = (0..HEAD).chain([len - 10, len - 9, len - 1]).collect();
    let mut state = len as u64 | 1;
    for _ in 0..(BUDGET / len).clamp(2, MAX_SAMPLES) {
        // xorshift64: the same offsets on every run.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(HEAD + (state % (len - HEAD) as u64) as usize);
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[test]
fn fuzz_regressions_replay_without_panic() {
    type Target = fn(&[u8]);
    let targets: [(&str, Target); 10] = [
        ("rdb", harness::rdb),
        ("listpack", harness::listpack),
        ("ziplist", harness::ziplist),
        ("intset", harness::intset),
        ("zipmap", harness::zipmap),
        ("lzf", harness::lzf),
        ("manifest", harness::manifest),
        ("resp", harness::resp),
        ("write_round_trip", harness::write_round_trip),
        ("keyspace_apply", harness::keyspace_apply),
    ];
    let Ok(dirs) = std::fs::read_dir(root().join("fuzz/regressions")) else { return };
    for dir in dirs.flatten().filter(|d| d.path().is_dir()) {
        let name = dir.file_name().to_string_lossy().into_owned();
        let Some((_, run)) = targets.iter().find(|(t, _)| *t == name) else {
            panic!("fuzz/regressions/{name}: no such target in fuzz/src/harness.rs and the list above");
        };
        for file in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            let file_name = file.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') || file_name.ends_with(".md") {
                continue;
            }
            let data = std::fs::read(file.path()).expect("reading a regression input");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "fuzz/regressions/{name}/{file_name} panicked");
        }
    }
}

#[test]
fn every_truncation_fails_inside_the_kept_bytes() {
    let mut tried = 0;
    for f in fixtures() {
        let complete = f.complete_len();
        for len in offsets(f.data.len(), TRUNCATE_EVERY_BELOW) {
            let (result, _) = convert(&f.data[..len]);
            match result {
                Err(e) => {
                    assert!(len < complete, "{}: cutting only trailing bytes at {len} fails: {e}", f.name);
                    assert!(e.offset() <= len as u64, "{} cut at {len}: error past the end: {e}", f.name);
                }
                Ok(_) => assert!(len >= complete, "{} cut at {len} of {complete} converts", f.name),
            }
            tried += 1;
        }
    }
    eprintln!("{tried} truncations of {} fixtures", fixtures().len());
}

#[test]
fn single_byte_changes_never_pass_the_checksum() {
    let (mut tried, mut flagged, mut lost_crc) = (0, 0, 0);
    for f in fixtures() {
        let complete = f.complete_len();
        let mut data = f.data.clone();
        for at in offsets(data.len(), CHANGE_EVERY_BELOW) {
            let original = data[at];
            let replacement = if original == 0xff { 0x00 } else { 0xff };
            for value in [original ^ 0x01, original ^ 0xc0, replacement] {
                data[at] = value;
                let (result, _) = convert(&data);
                data[at] = original;
                tried += 1;
                let summary = match result {
                    Err(e) => {
                        assert!(e.offset() <= data.len() as u64, "{} [{at}]={value:#04x}: {e}", f.name);
                        flagged += 1;
                        continue;
                    }
                    Ok(summary) => summary,
                };
                if !f.has_crc() || at >= complete {
                    continue;
                }
                // The only way to convert after damage under a CRC is to stop having one: a
                // header now naming a version before 5, or an earlier EOF followed by 8 zeros.
                let original_trailing = f.summary.as_ref().map_or(0, |s| s.trailing_bytes);
                assert!(
                    summary.checksum == ChecksumState::Absent
                        && (at < aoftool::rdb::HEADER_LEN || summary.trailing_bytes != original_trailing),
                    "{}: setting byte {at} to {value:#04x} converts: {summary:?}",
                    f.name
                );
                lost_crc += 1;
            }
        }
    }
    eprintln!("{tried} single-byte changes, {flagged} rejected, {lost_crc} converted without a CRC");
}

#[test]
fn damaged_checksums_are_reported_as_mismatches() {
    let Some(f) = fixtures().iter().find(|f| f.has_crc()) else { return };
    let crc_end = f.complete_len();
    let mut data = f.data.clone();
    data[crc_end - 1] = !data[crc_end - 1];
    match convert(&data).0 {
        Err(e) if matches!(e.kind(), ErrorKind::ChecksumMismatch { .. }) => {
            assert_eq!(e.offset(), crc_end as u64 - 8, "{}: {e}", f.name);
        }
        other => panic!("{}: changing the stored CRC gives {other:?}", f.name),
    }
}

/// Bytes that start with an RDB header, so that arbitrary tails reach the record walk.
fn rdb_like() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        (1u32..=14).prop_map(|v| format!("REDIS{v:04}").into_bytes()),
        (80u32..=81).prop_map(|v| format!("VALKEY{v:03}").into_bytes()),
    ];
    (header, prop::collection::vec(any::<u8>(), 0..512)).prop_map(|(mut h, body)| {
        h.extend(body);
        h
    })
}

/// The fixtures that convert and are small enough to edit quickly.
fn small_fixtures() -> Vec<&'static Fixture> {
    fixtures().iter().filter(|f| f.summary.is_some() && f.data.len() <= 4 << 10).collect()
}

/// An edit of a byte string: set a byte, insert one, remove one.
#[derive(Clone, Debug)]
enum Edit {
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => any::<Index>().prop_map(Edit::Remove),
    ]
}

fn apply(data: &mut Vec<u8>, edits: &[Edit]) {
    for e in edits {
        if data.is_empty() {
            return;
        }
        match *e {
            Edit::Set(ref i, b) => {
                let i = i.index(data.len());
                data[i] = b;
            }
            Edit::Insert(ref i, b) => data.insert(i.index(data.len() + 1), b),
            Edit::Remove(ref i) => {
                data.remove(i.index(data.len()));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(debug_assertions) { 128 } else { 1024 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        harness::rdb(&data);
        harness::listpack(&data);
        harness::ziplist(&data);
        harness::intset(&data);
        harness::zipmap(&data);
        harness::lzf(&data);
        harness::manifest(&data);
        harness::resp(&data);
    }

    #[test]
    fn arbitrary_records_never_panic(data in rdb_like()) {
        harness::rdb(&data);
    }

    #[test]
    fn edited_fixtures_never_panic(
        fixture in any::<Index>(),
        edits in prop::collection::vec(edit(), 1..8),
        cut in prop::option::weighted(0.2, any::<Index>()),
    ) {
        let small = small_fixtures();
        if small.is_empty() {
            return Ok(());
        }
        let mut data = fixture.get(&small).data.clone();
        apply(&mut data, &edits);
        if let Some(cut) = cut {
            data.truncate(cut.index(data.len() + 1));
        }
        harness::rdb(&data);
    }
}
