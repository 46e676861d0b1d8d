//! Fixtures written by real Redis 7.0 and Valkey 9.1 (see testdata/README.md) convert to exactly
//! the content the server reported when they were made (`dump.expected.jsonl`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aoftool::convert::{ChecksumPolicy, ChecksumState, JsonFormat, JsonOptions, rdb_to_json};
use aoftool::filter::Filter;
use serde_json::Value;

/// Directory of the committed fixtures.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Converts an RDB file to JSON Lines with `threads` workers.
pub fn convert(data: &[u8], threads: usize, include_meta: bool) -> aoftool::Result<(Vec<u8>, ChecksumState)> {
    let options = JsonOptions {
        format: JsonFormat::Lines,
        filter: Filter::default(),
        include_meta,
        threads,
        checksum: ChecksumPolicy::Verify,
    };
    let mut out = Vec::new();
    let summary = rdb_to_json(data, &options, &mut out, &|_| {})?;
    Ok((out, summary.checksum))
}

fn parse_lines(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// A key's identity: db and key (JSON form, which is unique per byte string).
fn key_id(v: &Value) -> (u64, String) {
    (v["db"].as_u64().unwrap(), v["key"].to_string())
}

/// Sorts a JSON array by each element's serialized form: for sets and hashes, whose order the
/// file and the server choose independently.
fn sorted(v: &Value) -> Vec<String> {
    let mut items: Vec<String> = v.as_array().unwrap().iter().map(Value::to_string).collect();
    items.sort();
    items
}

/// A score as bits, so that -0.0 and 0.0 differ and infinities compare; text forms are ours.
fn score_bits(v: &Value) -> u64 {
    match v {
        Value::String(s) if s == "inf" => f64::INFINITY.to_bits(),
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY.to_bits(),
        other => other.as_f64().unwrap_or_else(|| panic!("score {other}")).to_bits(),
    }
}

/// Sorted-set members ordered as ZRANGE orders them: by score, then member bytes.
fn zset(v: &Value) -> Vec<(u64, String)> {
    let mut items: Vec<(f64, String, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let bits = score_bits(&pair[1]);
            (f64::from_bits(bits), pair[0].to_string(), bits)
        })
        .collect();
    items.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    items.into_iter().map(|(_, m, bits)| (bits, m)).collect()
}

/// The parts of a stream both sides report; PEL and consumers are compared as sets.
fn stream(v: &Value) -> Value {
    let mut v = v.clone();
    for group in v["groups"].as_array_mut().unwrap() {
        let pel = sorted(&group["pel"]);
        group["pel"] = pel.into();
        let consumers = sorted(&group["consumers"]);
        group["consumers"] = consumers.into();
    }
    // Idempotent producers as the server reports them (`XINFO STREAM`): counts, no ids.
    if let Some(idmp) = v.get_mut("idmp").and_then(Value::as_object_mut)
        && let Some(producers) = idmp.remove("producers")
    {
        let producers = producers.as_array().cloned().unwrap_or_default();
        let ids: usize = producers.iter().map(|p| p["entries"].as_array().map_or(0, Vec::len)).sum();
        idmp.insert("pids_tracked".into(), producers.len().into());
        idmp.insert("iids_tracked".into(), ids.into());
    }
    v
}

/// Asserts that our value for one key equals the server's.
fn assert_same_value(ours: &Value, theirs: &Value, what: &str) {
    let (a, b) = (&ours["value"], &theirs["value"]);
    match theirs["type"].as_str().unwrap() {
        "string" | "list" => assert_eq!(a, b, "{what}"),
        "set" | "hash" => assert_eq!(sorted(a), sorted(b), "{what}"),
        "zset" => assert_eq!(zset(a), zset(b), "{what}"),
        "stream" => assert_eq!(stream(a), stream(b), "{what}"),
        other => panic!("{what}: unexpected type {other}"),
    }
}

/// The RDB layouts that can hold a value the server reports with each `OBJECT ENCODING`.
fn encoding_matches(rdb: &str, server: &str) -> bool {
    match server {
        "embstr" | "raw" | "int" => rdb == "string",
        "listpack" => matches!(rdb, "listpack" | "quicklist2"),
        "quicklist" => rdb == "quicklist2",
        "intset" => rdb == "intset",
        // Hashes with field TTLs: Valkey's HASH_2, Redis's metadata and listpack-ex types.
        "hashtable" => matches!(rdb, "hashtable" | "hash2" | "metadata"),
        "listpackex" => rdb == "listpack-ex",
        "skiplist" => rdb == "skiplist2",
        "stream" => rdb.starts_with("listpacks"),
        _ => false,
    }
}

fn check_server_fixture(server: &str) {
    let dir = testdata().join(server);
    let data = std::fs::read(dir.join("dump.rdb")).unwrap();
    let expected = parse_lines(&std::fs::read(dir.join("dump.expected.jsonl")).unwrap());
    let (out, checksum) = convert(&data, 2, false).unwrap();
    assert_eq!(checksum, ChecksumState::Valid);
    let ours: BTreeMap<_, _> = parse_lines(&out).into_iter().map(|v| (key_id(&v), v)).collect();
    assert_eq!(ours.len(), expected.len(), "{server}: key count");
    assert!(expected.len() > 50, "{server}: the fixture should hold many keys");
    for theirs in &expected {
        let id = key_id(theirs);
        let what = format!("{server} db {} key {}", id.0, id.1);
        let ours = ours.get(&id).unwrap_or_else(|| panic!("{what}: missing from our output"));
        assert_eq!(ours["type"], theirs["type"], "{what}");
        assert_eq!(ours.get("expire_ms"), theirs.get("expire_ms"), "{what}");
        let (rdb, srv) = (ours["encoding"].as_str().unwrap(), theirs["object_encoding"].as_str().unwrap());
        assert!(encoding_matches(rdb, srv), "{what}: RDB encoding {rdb} for server encoding {srv}");
        assert_same_value(ours, theirs, &what);
    }
}

#[test]
fn redis7_dump_converts_to_what_the_server_reported() {
    check_server_fixture("redis7");
}

#[test]
fn redis8_dump_converts_to_what_the_server_reported() {
    check_server_fixture("redis8");
}

#[test]
fn valkey9_dump_converts_to_what_the_server_reported() {
    check_server_fixture("valkey9");
}

#[test]
fn output_is_identical_for_every_thread_count() {
    for server in ["redis7", "redis8", "valkey9"] {
        let data = std::fs::read(testdata().join(server).join("dump.rdb")).unwrap();
        let (one, _) = convert(&data, 1, true).unwrap();
        for threads in [2, 3, 8] {
            assert!(convert(&data, threads, true).unwrap().0 == one, "{server}: {threads} threads differ");
        }
    }
}
