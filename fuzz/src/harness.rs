//! The entry points the fuzz targets drive, shared with `tests/robustness.rs` (which includes
//! this file with `#[path]`) so that regression inputs replay through exactly the same code.
//!
//! Every function takes arbitrary bytes, must return normally (any result is fine) and checks
//! only properties that hold for all inputs: no panic, error offsets inside the input, and
//! agreement between equivalent ways of reading the same bytes.

use aoftool::aof::manifest::{MAX_LINE, Manifest};
use aoftool::convert::{ChecksumPolicy, JsonFormat, JsonOptions, Summary, rdb_to_json};
use aoftool::rdb::{Reader, Record, intset, listpack, lzf, ziplist, zipmap};
use aoftool::{Error, ErrorKind, Result};

/// Absolute offset given to the blob decoders, so that offsets relative to the blob show up.
pub const BLOB_BASE: u64 = 1000;

/// Most bytes a fuzz input's declared LZF length may ask for beyond what it could produce.
const LZF_LEN_SLACK: u64 = 16;

/// Checks that `e` points into the `len` bytes that start at absolute offset `base`.
fn check_offset(e: &Error, base: u64, len: usize) {
    let end = base + len as u64;
    assert!((base..=end).contains(&e.offset()), "error offset outside the input [{base}, {end}]: {e}");
}

/// Walks every record of an RDB file, decoding key names and every value, and with `meta` also
/// every string of the records that JSON output shows with `include_meta`.
///
/// Succeeds when the walk reaches the EOF record with everything decoded.
pub fn walk_rdb(data: &[u8], meta: bool) -> Result<()> {
    let mut reader = Reader::new(data)?;
    loop {
        let strings = match reader.next_record()? {
            None => return Ok(()),
            Some(Record::Key(entry)) => {
                entry.key.decode().map_err(|e| entry.annotate(e))?;
                let value = entry.value()?;
                assert_eq!(value.kind(), entry.kind(), "decoded value of another type");
                continue;
            }
            Some(Record::Aux { name, value }) => vec![name, value],
            Some(Record::Function { code }) => vec![code],
            Some(Record::FunctionPreGa { name, engine, description, code }) => {
                [name, engine].into_iter().chain(description).chain([code]).collect()
            }
            Some(Record::SlotImport { job, .. }) => vec![job],
            Some(_) => continue,
        };
        if meta {
            for s in strings {
                s.decode()?;
            }
        }
    }
}

/// Converts `data` to JSON in memory.
pub fn convert(
    data: &[u8],
    threads: usize,
    format: JsonFormat,
    include_meta: bool,
    checksum: ChecksumPolicy,
) -> (Result<Summary>, Vec<u8>) {
    let options = JsonOptions { format, filter: Default::default(), include_meta, threads, checksum };
    let mut out = Vec::new();
    let result = rdb_to_json(data, &options, &mut out, &|_| {});
    (result, out)
}

/// The `rdb` target: the record walk with every value decoded, and conversion to JSON on one
/// and two threads, which must agree with each other and with the walk.
pub fn rdb(data: &[u8]) {
    // Keys only: the walk and conversion must fail at the same place, or both succeed.
    let walked = walk_rdb(data, false);
    let (lines, _) = convert(data, 1, JsonFormat::Lines, false, ChecksumPolicy::Warn);
    match (&walked, &lines) {
        (Ok(()), Err(e)) => panic!("the walk succeeded but conversion failed: {e}"),
        (Err(w), Ok(_)) => panic!("conversion succeeded but the walk failed: {w}"),
        (Err(w), Err(c)) => {
            check_offset(c, 0, data.len());
            assert_eq!(w.offset(), c.offset(), "walk: {w}; conversion: {c}");
        }
        (Ok(()), Ok(_)) => {}
    }

    // With metadata and the checksum verified, on one and two threads.
    let walked = walk_rdb(data, true);
    let (one, out_one) = convert(data, 1, JsonFormat::Document, true, ChecksumPolicy::Verify);
    let (two, out_two) = convert(data, 2, JsonFormat::Document, true, ChecksumPolicy::Verify);
    match (&walked, &one) {
        (Err(w), Ok(_)) => panic!("conversion succeeded but the walk failed: {w}"),
        (Err(w), Err(c)) => assert_eq!(w.offset(), c.offset(), "walk: {w}; conversion: {c}"),
        (Ok(()), Err(c)) => {
            assert!(matches!(c.kind(), ErrorKind::ChecksumMismatch { .. }), "the walk succeeded: {c}")
        }
        (Ok(()), Ok(_)) => {}
    }
    match (&one, &two) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "summaries differ between 1 and 2 threads");
            assert_eq!(out_one, out_two, "output differs between 1 and 2 threads");
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out_one) {
                panic!("conversion wrote invalid JSON ({e}): {}", out_one.escape_ascii());
            }
        }
        (Err(a), Err(b)) => {
            check_offset(a, 0, data.len());
            assert_eq!(
                (a.offset(), a.to_string()),
                (b.offset(), b.to_string()),
                "errors differ between 1 and 2 threads"
            );
        }
        _ => panic!("1 thread: {one:?}; 2 threads: {two:?}"),
    }
}

/// The `listpack` target.
pub fn listpack(data: &[u8]) {
    if let Err(e) = listpack::decode(data, BLOB_BASE) {
        check_offset(&e, BLOB_BASE, data.len());
    }
}

/// The `ziplist` target.
pub fn ziplist(data: &[u8]) {
    if let Err(e) = ziplist::decode(data, BLOB_BASE) {
        check_offset(&e, BLOB_BASE, data.len());
    }
}

/// The `intset` target.
pub fn intset(data: &[u8]) {
    match intset::decode(data, BLOB_BASE) {
        Ok(v) => assert!(v.len() <= data.len() / 2, "more integers than bytes allow"),
        Err(e) => check_offset(&e, BLOB_BASE, data.len()),
    }
}

/// The `zipmap` target.
pub fn zipmap(data: &[u8]) {
    match zipmap::decode(data, BLOB_BASE) {
        Ok(v) => assert!(v.len().is_multiple_of(2), "zipmap decoded to an odd number of strings"),
        Err(e) => check_offset(&e, BLOB_BASE, data.len()),
    }
}

/// The `lzf` target: the first 8 bytes (little-endian) are the declared length, the rest the
/// compressed bytes. Lengths with the top bit set are passed as they are (they must be refused
/// without allocating); others are reduced to at most a little over what the input could
/// produce. Then the whole input is compressed with the `lzf` crate and must round-trip.
pub fn lzf(data: &[u8]) {
    if let Some((head, compressed)) = data.split_first_chunk::<8>() {
        let raw = u64::from_le_bytes(*head);
        let len = if raw >> 63 == 1 { raw } else { raw % (compressed.len() as u64 * 88 + LZF_LEN_SLACK) };
        match lzf::decompress(compressed, len, BLOB_BASE) {
            Ok(out) => assert_eq!(out.len() as u64, len, "wrong decompressed length"),
            Err(e) => check_offset(&e, BLOB_BASE, compressed.len()),
        }
    }
    // `lzf::compress` 1.0.0 indexes past its output buffer (a panic) on some inputs it cannot
    // compress, e.g. `fuzz/regressions/lzf/compress-panics-in-lzf-crate`; a run of zeros in
    // front (n / 16 + 16 bytes for n bytes of data) leaves it room, so every byte of `data`
    // still goes through a real compressor and back.
    let mut plain = vec![0u8; data.len() / 16 + 16];
    plain.extend_from_slice(data);
    let packed = ::lzf::compress(&plain).expect("a run of zeros in front always compresses");
    let n = plain.len() as u64;
    match lzf::decompress(&packed, n, 0) {
        Ok(out) => assert!(out == plain, "LZF round trip changed the data"),
        Err(e) => panic!("LZF round trip failed: {e}"),
    }
    assert!(lzf::decompress(&packed, n + 1, 0).is_err(), "accepted a longer length");
    assert!(lzf::decompress(&packed, n - 1, 0).is_err(), "accepted a shorter length");
}

/// The `manifest` target: multi-part AOF manifests. Parsing never panics, errors point into the
/// input, and whatever parses is written back so that it parses to the same files (unless
/// quoting made a line longer than a server reads).
pub fn manifest(data: &[u8]) {
    let manifest = match Manifest::parse(data) {
        Ok(manifest) => manifest,
        Err(e) => {
            assert!(e.offset() < data.len().max(1) as u64, "error offset outside the input: {e}");
            return;
        }
    };
    let bytes = manifest.to_bytes();
    let again = match Manifest::parse(&bytes) {
        Ok(again) => again,
        Err(e) => {
            assert!(
                bytes.split(|&b| b == b'\n').any(|line| line.len() >= MAX_LINE),
                "written back unreadably: {e}"
            );
            return;
        }
    };
    let files = |m: &Manifest| {
        let base = m.base().map(|e| (e.name.clone(), e.seq));
        let history: Vec<_> = m.history().map(|e| (e.name.clone(), e.seq)).collect();
        let incrs: Vec<_> = m.incrs().map(|e| (e.name.clone(), e.seq)).collect();
        (base, history, incrs)
    };
    assert_eq!(files(&again), files(&manifest));
    assert_eq!(again.to_bytes(), bytes, "writing is not idempotent");
}

/// RESP AOF reading and checking: the item parser, the parallel scan (which must agree with the
/// sequential one), the file check, and the salvage plan (whose output must check clean).
pub fn resp(data: &[u8]) {
    use aoftool::aof::resp::Parser;
    use aoftool::aof::scan::scan;
    use aoftool::check::check_file;
    use aoftool::check::repair::salvage;

    let parser = Parser::new(data, BLOB_BASE);
    let one = scan(&parser, 1, None);
    let two = scan(&parser, 2, None);
    assert_eq!((one.end, one.stats.commands), (two.end, two.stats.commands), "scan depends on threads");
    assert_eq!(one.error.as_ref().map(Error::offset), two.error.as_ref().map(Error::offset));
    if let Some(e) = &one.error {
        check_offset(e, BLOB_BASE, data.len());
    }
    let report = check_file(data, 1, None, &|_| {});
    if let Some(cut) = report.problem.as_ref().and_then(|p| p.cut.as_ref()) {
        assert!(cut.offset <= data.len() as u64, "cut past the end");
    }
    if report.kind == aoftool::check::FileKind::Resp
        && let Some(repair) = salvage(&Parser::new(data, 0))
    {
        let mut out = Vec::new();
        repair.write_to(data, &mut out).expect("writing to memory");
        let after = check_file(&out, 1, None, &|_| {});
        assert!(after.problem.is_none(), "salvaged output still has a problem: {:?}", after.problem);
    }
}

/// Whatever RDB file reads completely is written in every target format and as RESP: the
/// writer either refuses it by name or writes a file that reads back to exactly the data
/// that format keeps, and RESP that parses as commands.
pub fn write_round_trip(data: &[u8]) {
    use aoftool::dataset::Item;
    use aoftool::emit::{self, Format, RespWriter};
    use aoftool::rdb::write::expect::{as_written, read_back};
    use aoftool::rdb::write::{Lossy, Target, ValueWriter};

    let Ok(source) = read_back(data) else { return };
    let lossy = Lossy { field_ttls: true, functions: true };
    for target in Target::ALL {
        let values = ValueWriter::new(target, lossy);
        for format in [Format::Rdb(values.clone()), Format::Resp(RespWriter::new(values.clone(), false))] {
            let is_rdb = matches!(format, Format::Rdb(_));
            let options = emit::Options {
                format,
                filter: Default::default(),
                threads: 1,
                checksum: ChecksumPolicy::Warn,
            };
            let mut out = Vec::new();
            match emit::rdb_to(data, &options, &mut out, &|_| {}) {
                Err(e) => assert!(
                    matches!(e.kind(), ErrorKind::Unrepresentable { .. }),
                    "{target}: a file that reads completely failed to convert: {e}"
                ),
                Ok(_) if is_rdb => {
                    let back =
                        read_back(&out).unwrap_or_else(|e| panic!("{target}: own output unreadable: {e}"));
                    let want: Vec<Item<'static>> =
                        source.iter().filter_map(|i| as_written(target, i, lossy)).collect();
                    assert!(back == want, "{target}: reads back differently");
                }
                Ok(_) => {
                    let parser = aoftool::aof::resp::Parser::new(&out, 0);
                    let mut pos = 0;
                    while pos < out.len() {
                        pos = parser.item(pos).unwrap_or_else(|e| panic!("RESP output unparsable: {e}")).1;
                    }
                }
            }
        }
    }
}

/// Arbitrary bytes as an AOF applied to a keyspace: a command is applied or refused with an
/// error inside the input, and whatever keyspace results is written as RESP and as RDB (each
/// target), which either refuse by name or produce output that parses, and as an RDB-preamble
/// AOF (each target), which either refuses by name or loads into a keyspace again.
pub fn keyspace_apply(data: &[u8]) {
    use aoftool::emit::RespWriter;
    use aoftool::keyspace::{Applier, Keyspace};
    use aoftool::rdb::write::{FileOptions, Lossy, Target, ValueWriter};
    use aoftool::rewrite::{write_rdb, write_resp};

    let mut applier = Applier::new(Keyspace::new(), 0);
    if let Err(e) = applier.load_file(data, 0, &|_| {}) {
        check_offset(&e, 0, data.len());
    }
    let keyspace = applier.finish();
    let lossy = Lossy { field_ttls: true, functions: true };
    for target in Target::ALL {
        let values = ValueWriter::new(target, lossy);
        let mut resp = Vec::new();
        match write_resp(&keyspace, &RespWriter::new(values.clone(), false), None, &mut resp) {
            Ok(_) => {
                let parser = aoftool::aof::resp::Parser::new(&resp, 0);
                let mut pos = 0;
                while pos < resp.len() {
                    pos = parser.item(pos).unwrap_or_else(|e| panic!("RESP output unparsable: {e}")).1;
                }
            }
            Err(e) => assert!(matches!(e.kind(), ErrorKind::Unrepresentable { .. }), "{target}: {e}"),
        }
        let mut rdb = Vec::new();
        let options = FileOptions { ctime_s: 0, aof_base: false };
        match write_rdb(&keyspace, values.clone(), options, None, &mut rdb) {
            Ok(_) => {
                aoftool::rdb::write::expect::read_back(&rdb).unwrap_or_else(|e| panic!("{target}: {e}"));
            }
            Err(e) => assert!(matches!(e.kind(), ErrorKind::Unrepresentable { .. }), "{target}: {e}"),
        }
        let mut preamble = Vec::new();
        match write_rdb(&keyspace, values, FileOptions { aof_base: true, ..options }, None, &mut preamble) {
            Ok(_) => {
                let mut again = Applier::new(Keyspace::new(), 0);
                again.load_file(&preamble, 0, &|_| {}).unwrap_or_else(|e| panic!("{target}: preamble: {e}"));
            }
            Err(e) => assert!(matches!(e.kind(), ErrorKind::Unrepresentable { .. }), "{target}: {e}"),
        }
    }
}
