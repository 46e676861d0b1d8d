//! Every corpus RDB that converts to JSON also goes through the writer: written in the
//! default format for its version (and in every other format that can hold it), it reads
//! back to the same data, directly and through JSON Lines. What no writable format can hold
//! is refused by name.

use std::fs;

use aoftool::convert::{ChecksumPolicy, JsonFormat, JsonOptions, rdb_to_json};
use aoftool::dataset::Item;
use aoftool::emit::{self, Format};
use aoftool::filter::Filter;
use aoftool::rdb::Reader;
use aoftool::rdb::write::expect::{as_written, read_back};
use aoftool::rdb::write::{Lossy, Target, ValueWriter};
use aoftool::{Error, ErrorKind};

use crate::corpus::{corpus, files};

fn write(source: &[u8], target: Target) -> Result<Vec<u8>, Error> {
    let format = Format::Rdb(ValueWriter::new(target, Lossy::default()));
    let options =
        emit::Options { format, filter: Filter::default(), threads: 2, checksum: ChecksumPolicy::Warn };
    let mut out = Vec::new();
    emit::rdb_to(source, &options, &mut out, &|_| {})?;
    Ok(out)
}

/// The file converted to JSON Lines, and that converted to an RDB file.
fn write_via_json(source: &[u8], target: Target) -> Vec<u8> {
    let options = JsonOptions {
        format: JsonFormat::Lines,
        filter: Filter::default(),
        include_meta: true,
        threads: 2,
        checksum: ChecksumPolicy::Warn,
    };
    let mut json = Vec::new();
    rdb_to_json(source, &options, &mut json, &|_| {}).unwrap();
    let format = Format::Rdb(ValueWriter::new(target, Lossy::default()));
    let options =
        emit::Options { format, filter: Filter::default(), threads: 2, checksum: ChecksumPolicy::Warn };
    let mut out = Vec::new();
    emit::json_to(&json, &options, &mut out, &|_| {}).unwrap();
    out
}

/// What the writer refuses in corpus files, by the words of its message.
const REFUSALS: [&str; 4] = ["module key metadata", "idempotent-producer", "release candidate", "NACKed"];

#[test]
fn every_readable_corpus_rdb_writes_and_reads_back_the_same() {
    let Some(root) = corpus() else { return };
    let (mut written, mut refused, mut versions) = (0, Vec::new(), 0);
    for name in files(&root).into_iter().filter(|f| f.ends_with(".rdb")) {
        let source = fs::read(root.join(&name)).unwrap();
        let Ok(items) = read_back(&source) else { continue };
        let header = Reader::new(&source).unwrap().header();
        let default = Target::for_input(Some(header));
        for target in [default].into_iter().chain(Target::ALL.into_iter().filter(|t| *t != default)) {
            let out = match write(&source, target) {
                Ok(out) => out,
                Err(e) if target == default => {
                    let message = e.to_string();
                    assert!(
                        matches!(e.kind(), ErrorKind::Unrepresentable { .. })
                            && REFUSALS.iter().any(|r| message.contains(r)),
                        "{name}: unexpected refusal: {message}"
                    );
                    refused.push(name.clone());
                    break;
                }
                // Other targets may refuse what they cannot hold (functions, field TTLs).
                Err(e) => {
                    assert!(matches!(e.kind(), ErrorKind::Unrepresentable { .. }), "{name} as {target}: {e}");
                    continue;
                }
            };
            let expected: Vec<Item<'static>> =
                items.iter().filter_map(|i| as_written(target, i, Lossy::default())).collect();
            let back = read_back(&out).unwrap_or_else(|e| panic!("{name} as {target}: {e}"));
            assert!(back == expected, "{name} as {target}: reads back differently");
            versions += 1;
            if target == default {
                written += 1;
                let via_json = write_via_json(&source, target);
                assert!(
                    read_back(&via_json).ok() == Some(back),
                    "{name}: via JSON Lines reads back differently"
                );
            }
        }
    }
    eprintln!("{written} corpus files written ({versions} file/format pairs); refused: {refused:?}");
    assert!(written > 50, "only {written} corpus files were written");
}
