//! Files and commands written by aoftool, judged by real servers: an RDB file converted to
//! every format a server accepts, and to RESP commands, loads in real Redis 7.0 and Valkey 9.1
//! with the same `DEBUG DIGEST` as the original; and reads back to the same content.

use std::fs;

use aoftool::convert::{ChecksumPolicy, JsonFormat, JsonOptions, rdb_to_json};
use aoftool::dataset::{Entry, Item};
use aoftool::emit::{self, Format, RespWriter};
use aoftool::filter::Filter;
use aoftool::rdb::write::expect::{as_written, read_back};
use aoftool::rdb::write::{Lossy, Target, ValueWriter};
use aoftool::rdb::{Reader, Value};

use crate::fixtures::testdata;
use crate::support::server::{self, Kind};

/// A fixture and the server that wrote it.
struct Fixture {
    dir: &'static str,
    server: Kind,
    /// RDB formats the server loads.
    targets: &'static [&'static str],
    /// Formats whose DUMP payloads hold everything in the fixture (functions and field TTLs).
    restore: &'static [&'static str],
}

const FIXTURES: [Fixture; 3] = [
    Fixture { dir: "redis7", server: Kind::Redis7, targets: &["9", "10"], restore: &["10"] },
    // Redis 8's digest covers hash field TTLs, so only formats that keep them give its digest.
    Fixture { dir: "redis8", server: Kind::Redis8, targets: &["12", "13"], restore: &["13", "12"] },
    Fixture {
        dir: "valkey9",
        server: Kind::Valkey9,
        targets: &["9", "10", "11", "valkey80"],
        restore: &["valkey80"],
    },
];

/// Everything a downgrade may drop: what old formats have no place for.
const LOSSY: Lossy = Lossy { field_ttls: true, functions: true };

fn convert(source: &[u8], format: Format, threads: usize) -> (Vec<u8>, emit::Summary) {
    let options =
        emit::Options { format, filter: Filter::default(), threads, checksum: ChecksumPolicy::Verify };
    let mut out = Vec::new();
    let summary = emit::rdb_to(source, &options, &mut out, &|_| {}).unwrap();
    (out, summary)
}

/// Every item of an RDB file, keys canonically ordered.
fn read_items(rdb: &[u8]) -> Vec<Item<'static>> {
    read_back(rdb).unwrap()
}

fn expected_digest(fixture: &Fixture) -> server::Digest {
    let text = fs::read_to_string(testdata().join(fixture.dir).join("dump.digest")).unwrap();
    server::Digest(text.trim().to_string())
}

#[test]
fn rdb_to_every_accepted_version_loads_with_the_same_digest_and_content() {
    for fixture in &FIXTURES {
        if !server::available(fixture.server, false) {
            eprintln!("skipping {}: server not installed", fixture.dir);
            continue;
        }
        let source = fs::read(testdata().join(fixture.dir).join("dump.rdb")).unwrap();
        let source_items = read_items(&source);
        for name in fixture.targets {
            let target = Target::parse(name).unwrap();
            let (rdb, summary) = convert(&source, Format::Rdb(ValueWriter::new(target, LOSSY)), 2);
            assert_eq!(summary.bytes_written, rdb.len() as u64);
            let (single, _) = convert(&source, Format::Rdb(ValueWriter::new(target, LOSSY)), 1);
            assert_eq!(rdb, single, "{target}: output depends on the thread count");
            let (digest, saved) =
                server::load_rdb_and_save(fixture.server, &rdb).unwrap_or_else(|f| panic!("{target}: {f}"));
            let what = format!("{} as {target}", fixture.dir);
            assert_eq!(digest, expected_digest(fixture), "{what}");
            let expected: Vec<Item<'static>> =
                source_items.iter().filter_map(|i| as_written(target, i, LOSSY)).collect();
            assert_eq!(read_items(&rdb), expected, "{what}: content read back differs");
            // What the server made of it, in its own format (the digest leaves out groups and TTLs).
            // From an older stream layout the server derives metadata its own way: not compared.
            let native = Target::for_input(Reader::new(&saved).ok().map(|r| r.header()));
            if native.stream_version() == target.stream_version() {
                let through_server = expected.iter().filter_map(|i| as_written(native, i, LOSSY)).collect();
                assert_same(read_items(&saved), through_server, &format!("{what}: as the server saved it"));
            }
        }
    }
}

#[test]
fn rdb_to_resp_replays_to_the_same_digest() {
    for fixture in &FIXTURES {
        if !server::available(fixture.server, false) {
            eprintln!("skipping {}: server not installed", fixture.dir);
            continue;
        }
        let source = fs::read(testdata().join(fixture.dir).join("dump.rdb")).unwrap();
        let source_items = read_items(&source);
        for restore_target in [None].into_iter().chain(fixture.restore.iter().map(|t| Some(*t))) {
            let target = Target::parse(restore_target.unwrap_or(fixture.restore[0])).unwrap();
            let writer =
                RespWriter::new(ValueWriter::new(target, Lossy::default()), restore_target.is_some());
            let (resp, _) = convert(&source, Format::Resp(writer), 2);
            let (digest, saved) = server::replay_resp(fixture.server, &resp).unwrap();
            let what = format!("{} as RESP (RESTORE {restore_target:?})", fixture.dir);
            assert_eq!(digest, expected_digest(fixture), "{what}");
            // The digest leaves out consumer groups and field TTLs: compare what the server saved.
            let native = Target::for_input(Reader::new(&saved).ok().map(|r| r.header()));
            let expected: Vec<Item<'static>> =
                source_items.iter().filter_map(|i| as_written(native, i, Lossy::default())).collect();
            assert_same(without_consumer_times(read_items(&saved)), without_consumer_times(expected), &what);
        }
    }
}

/// Consumer seen and active times are the time of the replay, not of the original reads.
fn without_consumer_times(mut items: Vec<Item<'static>>) -> Vec<Item<'static>> {
    for item in &mut items {
        if let Item::Key(Entry { value: Value::Stream(s), .. }) = item {
            for c in s.groups.iter_mut().flat_map(|g| g.consumers.iter_mut()) {
                c.seen_time_ms = 0;
                c.active_time_ms = c.active_time_ms.map(|_| 0);
            }
        }
    }
    items
}

/// Compares two datasets regardless of key order, naming the first key that differs.
fn assert_same(mut got: Vec<Item<'static>>, mut want: Vec<Item<'static>>, what: &str) {
    let order = |i: &Item<'static>| match i {
        Item::Key(e) => (1, e.db, e.key.to_vec()),
        other => (0, 0, format!("{other:?}").into_bytes()),
    };
    got.sort_by_key(order);
    want.sort_by_key(order);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "{what}: first difference");
    }
    assert_eq!(got.len(), want.len(), "{what}: item counts");
}

fn to_json(source: &[u8], format: JsonFormat) -> Vec<u8> {
    let options = JsonOptions {
        format,
        filter: Filter::default(),
        include_meta: true,
        threads: 2,
        checksum: ChecksumPolicy::Verify,
    };
    let mut out = Vec::new();
    rdb_to_json(source, &options, &mut out, &|_| {}).unwrap();
    out
}

fn from_json(json: &[u8], format: Format) -> Vec<u8> {
    let options =
        emit::Options { format, filter: Filter::default(), threads: 2, checksum: ChecksumPolicy::Verify };
    let mut out = Vec::new();
    emit::json_to(json, &options, &mut out, &|_| {}).unwrap();
    out
}

#[test]
fn rdb_to_json_and_back_loads_with_the_same_digest() {
    for fixture in &FIXTURES {
        if !server::available(fixture.server, false) {
            eprintln!("skipping {}: server not installed", fixture.dir);
            continue;
        }
        let source = fs::read(testdata().join(fixture.dir).join("dump.rdb")).unwrap();
        let native = Target::parse(fixture.restore[0]).unwrap();
        let lines = to_json(&source, JsonFormat::Lines);
        let document = to_json(&source, JsonFormat::Document);
        let rdb = from_json(&lines, Format::Rdb(ValueWriter::new(native, Lossy::default())));
        assert_eq!(rdb, from_json(&document, Format::Rdb(ValueWriter::new(native, Lossy::default()))));
        let (digest, saved) = server::load_rdb_and_save(fixture.server, &rdb).unwrap();
        assert_eq!(digest, expected_digest(fixture), "{} via JSON Lines to RDB", fixture.dir);
        let expected =
            read_items(&source).iter().filter_map(|i| as_written(native, i, Lossy::default())).collect();
        assert_same(read_items(&saved), expected, &format!("{} via JSON Lines to RDB", fixture.dir));
        let resp = from_json(
            &lines,
            Format::Resp(RespWriter::new(ValueWriter::new(native, Lossy::default()), false)),
        );
        let (digest, _) = server::replay_resp(fixture.server, &resp).unwrap();
        assert_eq!(digest, expected_digest(fixture), "{} via JSON Lines to RESP", fixture.dir);
    }
}

#[test]
fn an_edited_json_dump_loads_with_the_edit() {
    if !server::available(Kind::Redis7, false) {
        return;
    }
    let source = fs::read(testdata().join("redis7/dump.rdb")).unwrap();
    let mut edited = Vec::new();
    for line in to_json(&source, JsonFormat::Lines).split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let mut record: serde_json::Value = serde_json::from_slice(line).unwrap();
        if record["type"] == "string" && record["db"] == 0 {
            record["value"] = serde_json::json!({"base64": "AP8Kxw=="});
            record["key"] = serde_json::json!(format!("edited:{}", record["key"]));
        }
        edited.extend(serde_json::to_vec(&record).unwrap());
        edited.push(b'\n');
    }
    edited.extend_from_slice(
        b"{\"db\":3,\"key\":\"new\",\"type\":\"zset\",\"value\":[[\"a\",-0.0],[\"b\",\"inf\"]]}\n",
    );
    let rdb = from_json(&edited, Format::Rdb(ValueWriter::new(Target::DEFAULT, Lossy::default())));
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("dump.rdb"), &rdb).unwrap();
    let mut srv = server::Server::start(Kind::Redis7, dir.path(), &["--dbfilename", "dump.rdb"]).unwrap();
    let server::Reply::Array(Some(keys)) = srv.command(&["KEYS", "edited:*"]) else { panic!("KEYS") };
    assert!(!keys.is_empty());
    for key in keys {
        let server::Reply::Bulk(Some(key)) = key else { panic!("key") };
        assert_eq!(
            srv.command(&[&b"GET"[..], &key]),
            server::Reply::Bulk(Some(b"\x00\xff\x0a\xc7".to_vec()))
        );
    }
    srv.command(&["SELECT", "3"]);
    let reply = srv.command(&["ZRANGE", "new", "0", "-1", "WITHSCORES"]);
    let strings = |v: &[&str]| {
        server::Reply::Array(Some(
            v.iter().map(|s| server::Reply::Bulk(Some(s.as_bytes().to_vec()))).collect(),
        ))
    };
    assert_eq!(reply, strings(&["a", "-0", "b", "inf"]));
}
