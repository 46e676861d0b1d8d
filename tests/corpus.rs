//! Conformance against the shared corpus of third-party RDB files (`../shared/corpus` beside the
//! crate, or `$AOFTOOL_CORPUS`; see its MANIFEST.md):
//!
//! - every `*.rdb` converts, or fails the way [`MUST_FAIL`] says; a converted file has as many
//!   keys (in total, per database and per type code) as the corpus's independent opcode walker
//!   counted, and the checksum state and trailing bytes it reported;
//! - our output agrees, value by value, with every expected output stored beside the files. Each
//!   expected format has a normaliser that projects both its file and our output onto what that
//!   format can express (a [`Snapshot`]), so the comparison is exact within the format's reach;
//! - every other file of the corpus is either compared or skipped for a reason in [`SKIPPED`].
//!
//! Without the corpus the tests print a notice and pass; with it they insist on having seen a
//! non-trivial number of files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aoftool::convert::{ChecksumPolicy, ChecksumState, JsonFormat, JsonOptions, Summary, rdb_to_json};
use aoftool::filter::Filter;
use aoftool::rdb::{Encoding, Kind, Vendor};
use aoftool::{Error, ErrorKind};
use base64::Engine;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

/// The corpus root, or `None` (after a notice) when this machine does not have it.
pub(crate) fn corpus() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AOFTOOL_CORPUS") {
        let dir = PathBuf::from(dir);
        assert!(dir.join("manifest.json").is_file(), "AOFTOOL_CORPUS={} has no manifest.json", dir.display());
        return Some(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.join("manifest.json").is_file() {
        Some(dir)
    } else {
        eprintln!("corpus tests skipped: no corpus at {} (set AOFTOOL_CORPUS)", dir.display());
        None
    }
}

/// Every file under `root`, as sorted paths relative to it with `/` separators.
pub(crate) fn files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out.sort();
    out
}

/// Parses JSON, keeping the text of every number with a fraction or exponent as
/// `{"f64": "<text>"}` for [`parse_score`]: serde_json without its `float_roundtrip` feature
/// reads some decimals one unit in the last place off (our `127.63613140839763` came back as
/// `…765`), which would make equal scores differ and could make unequal ones agree.
fn parse_json(text: &str) -> serde_json::Result<Value> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            out.push(b);
            if let (b'\\', Some(&escaped)) = (b, bytes.get(i + 1)) {
                out.push(escaped);
                i += 1;
            }
            in_string = b != b'"';
            i += 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let len = bytes[i..]
                .iter()
                .take_while(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .count();
            let token = &text[i..i + len];
            if token.contains(['.', 'e', 'E']) {
                out.extend_from_slice(format!("{{\"f64\":\"{token}\"}}").as_bytes());
            } else {
                out.extend_from_slice(token.as_bytes());
            }
            i += len;
        } else {
            in_string = b == b'"';
            out.push(b);
            i += 1;
        }
    }
    serde_json::from_slice(&out)
}

/// A JSON file read with [`parse_json`].
fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// manifest.json's file entries by path.
fn manifest(root: &Path) -> BTreeMap<String, Value> {
    read_json(&root.join("manifest.json"))["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_owned(), f.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Our output
// ---------------------------------------------------------------------------------------------

/// Our conversion of one file, parsed back from JSON Lines.
struct Converted {
    summary: Summary,
    keys: Vec<OurKey>,
    aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// FUNCTION2 library code.
    functions: Vec<Vec<u8>>,
    /// Module aux records as `name(encver N)`.
    module_aux: Vec<String>,
}

/// One key line of our output.
struct OurKey {
    db: u64,
    key: Vec<u8>,
    kind: String,
    encoding: String,
    expire_ms: Option<i64>,
    value: Value,
}

/// Converts the RDB file at `path` with the API the CLI uses, keeping the keys `filter` keeps.
fn convert(path: &Path, filter: Filter) -> Result<Converted, Error> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options = JsonOptions {
        format: JsonFormat::Lines,
        filter,
        include_meta: true,
        threads: 1,
        checksum: ChecksumPolicy::Verify,
    };
    let mut out = Vec::new();
    let summary = rdb_to_json(&data, &options, &mut out, &|_| {})?;
    let mut converted = Converted {
        summary,
        keys: Vec::new(),
        aux: Vec::new(),
        functions: Vec::new(),
        module_aux: Vec::new(),
    };
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        converted.add(parse_json(std::str::from_utf8(line).unwrap()).expect("our output is JSON"));
    }
    Ok(converted)
}

impl Converted {
    /// Files one output line. The header and pre-GA functions are shown by no expected output.
    fn add(&mut self, line: Value) {
        if let Some(aux) = line.get("aux") {
            self.aux.push((bytes(&aux["name"]), bytes(&aux["value"])));
        } else if let Some(function) = line.get("function") {
            self.functions.push(bytes(&function["code"]));
        } else if let Some(m) = line.get("module_aux") {
            self.module_aux.push(format!("{}(encver {})", m["module"].as_str().unwrap(), m["encver"]));
        } else if line.get("db").is_some() {
            self.keys.push(OurKey {
                db: line["db"].as_u64().unwrap(),
                key: bytes(&line["key"]),
                kind: line["type"].as_str().unwrap().to_owned(),
                encoding: line["encoding"].as_str().unwrap().to_owned(),
                expire_ms: line.get("expire_ms").map(|v| v.as_i64().unwrap()),
                value: line["value"].clone(),
            });
        }
    }
}

/// A byte string in our JSON: a string (its UTF-8 bytes) or `{"base64": …}`.
fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => {
            base64::engine::general_purpose::STANDARD.decode(o["base64"].as_str().unwrap()).unwrap()
        }
        other => panic!("not a byte string in our output: {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Files that must fail, and key counts
// ---------------------------------------------------------------------------------------------

/// A file that must not convert, why, and how to recognise the right error.
struct MustFail {
    file: &'static str,
    why: &'static str,
    check: fn(&Error) -> bool,
}

/// Every corpus RDB that must fail; all others must convert.
const MUST_FAIL: &[MustFail] = &[
    MustFail {
        file: "librdb/future_v19.rdb",
        why: "header version 99 (librdb's \"must be refused cleanly\" file)",
        check: |e| matches!(e.kind(), ErrorKind::UnsupportedVersion { version: 99, .. }),
    },
    MustFail {
        file: "librdb/invalid_chksum_v8.rdb",
        why: "the CRC-64 trailer does not match",
        check: |e| matches!(e.kind(), ErrorKind::ChecksumMismatch { .. }),
    },
    MustFail {
        file: "redis-replicator/module.rdb",
        why: "type 6, a Redis 4.0 release-candidate module value that only the module can measure",
        check: |e| {
            matches!(e.kind(), ErrorKind::UnsupportedType { code: 6, .. }) && e.key() == Some(&b"key"[..])
        },
    },
    MustFail {
        file: "valkey/corrupt_ziplist.rdb",
        why: "the hash ziplist of key:000000000091 is corrupt (Redis: integrity check failed)",
        check: |e| {
            matches!(e.kind(), ErrorKind::Truncated { .. } | ErrorKind::Invalid { .. })
                && e.key() == Some(&b"key:000000000091"[..])
        },
    },
    MustFail {
        file: "hdt3213-rdb/zipmap_big_len.rdb",
        why: "zipmap count byte 0xFF over 2 pairs: only 254 means \"count unknown\" \
              (zipmapValidateIntegrity); Redis 7.0.15 and librdb both reject the file",
        check: |e| matches!(e.kind(), ErrorKind::Invalid { what, .. } if what.contains("zipmap")),
    },
];

/// Files the manifest flags as corrupt or crafted that are nevertheless readable, and why.
const READABLE_DESPITE_FLAG: &[(&str, &str)] = &[(
    "valkey/corrupt_empty_keys.rdb",
    "nine empty collections: well-formed, Redis loads the file and drops the keys; we show them empty",
)];

/// Key counts of librdb dumps that no expected output covers in full (librdb/ is not in
/// manifest.json), as librdb's own `rdb-cli FILE print` (v2.1.0, one line per key) reports.
const LIBRDB_KEY_COUNTS: &[(&str, usize)] = &[
    ("librdb/100_lists.rdb", 100),
    ("librdb/empty.rdb", 0),
    ("librdb/function.rdb", 0),
    ("librdb/misc_with_stream.rdb", 12),
    ("librdb/module_aux_empty.rdb", 0),
    ("librdb/module_aux_v12.rdb", 1),
    ("librdb/redis_ent_opcode_ram_lru.rdb", 3),
    ("librdb/script.rdb", 0),
    ("librdb/script_legacy.rdb", 0),
    // Its expected output is a server's content after load, where the key has expired.
    ("librdb/set_expired_v11.rdb", 1),
    ("librdb/string_lzf.rdb", 2),
];

fn must_fail(file: &str) -> Option<&'static MustFail> {
    MUST_FAIL.iter().find(|m| m.file == file)
}

#[test]
fn every_rdb_converts_or_fails_as_expected() {
    let Some(root) = corpus() else { return };
    let manifest = manifest(&root);
    let rdbs: Vec<String> = files(&root).into_iter().filter(|f| f.ends_with(".rdb")).collect();
    let mut problems = Vec::new();
    for file in &rdbs {
        match (must_fail(file), convert(&root.join(file), Filter::default())) {
            (Some(rule), Err(e)) if !(rule.check)(&e) => {
                problems.push(format!("{file}: should fail because {}, but fails with: {e}", rule.why))
            }
            (Some(_), Err(_)) => {}
            (Some(rule), Ok(_)) => problems.push(format!("{file}: converts, but should fail: {}", rule.why)),
            (None, Err(e)) => problems.push(format!("{file}: {e}")),
            (None, Ok(converted)) => problems.extend(
                count_differences(file, &converted, manifest.get(file))
                    .into_iter()
                    .map(|p| format!("{file}: {p}")),
            ),
        }
    }
    for rule in MUST_FAIL {
        assert!(rdbs.iter().any(|f| f == rule.file), "MUST_FAIL names a missing file: {}", rule.file);
    }
    for (path, entry) in &manifest {
        let flagged = entry["intentionally_corrupt"] == true || entry.get("crafted_edge_case").is_some();
        let listed = must_fail(path).is_some() || READABLE_DESPITE_FLAG.iter().any(|(f, _)| f == path);
        if flagged && entry["kind"] == "rdb" && !listed {
            problems
                .push(format!("{path}: flagged corrupt or crafted by the manifest, but in no table here"));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    assert!(rdbs.len() >= 100, "only {} RDB files in the corpus", rdbs.len());
}

/// How our key counts and trailer differ from the manifest's walker (or, for librdb/, from
/// [`LIBRDB_KEY_COUNTS`]; files with a librdb expected output are counted by that comparison).
fn count_differences(file: &str, ours: &Converted, entry: Option<&Value>) -> Vec<String> {
    let Some(rdb) = entry.map(|e| &e["rdb"]) else {
        return match LIBRDB_KEY_COUNTS.iter().find(|(f, _)| *f == file) {
            Some(&(_, n)) if n != ours.keys.len() => {
                vec![format!("{} keys, librdb counts {n}", ours.keys.len())]
            }
            Some(_) => vec![],
            None if LIBRDB.iter().any(|e| format!("librdb/{}", e.rdb) == file) => vec![],
            None => vec!["no independent key count (add one to LIBRDB_KEY_COUNTS)".to_owned()],
        };
    };
    let mut problems = Vec::new();
    let mut expect = |what: &str, walker: Value, ours: Value| {
        if walker != ours {
            problems.push(format!("{what}: walker {walker}, ours {ours}"));
        }
    };
    expect("keys", rdb["keys"].clone(), json!(ours.keys.len()));
    let mut per_db: BTreeMap<String, u64> = BTreeMap::new();
    for key in &ours.keys {
        *per_db.entry(key.db.to_string()).or_default() += 1;
    }
    // The walker also lists databases selected without keys.
    let walker_per_db: Map<String, Value> = object(&rdb["keys_per_db"])
        .iter()
        .filter(|(_, n)| **n != json!(0))
        .map(|(d, n)| (d.clone(), n.clone()))
        .collect();
    expect("keys per db", Value::Object(walker_per_db), json!(per_db));
    expect("keys per type code", walker_type_counts(rdb), json!(our_type_counts(ours)));
    let checksum = match ours.summary.checksum {
        ChecksumState::Valid => "ok",
        ChecksumState::Absent if rdb["version"].as_u64() < Some(5) => "n/a (version<5)",
        ChecksumState::Absent => "zero (disabled)",
        ChecksumState::Mismatch { .. } => "mismatch",
    };
    expect("checksum", rdb["checksum"].clone(), json!(checksum));
    expect(
        "bytes after the checksum",
        rdb["bytes_after_checksum"].clone(),
        json!(ours.summary.trailing_bytes),
    );
    problems
}

/// The walker's keys per type code, as `"type/encoding"` names of our schema.
fn walker_type_counts(rdb: &Value) -> Value {
    let vendor = if rdb["magic"] == "VALKEY" { Vendor::Valkey } else { Vendor::Redis };
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for t in rdb["type_codes"].as_array().unwrap() {
        let code = u8::try_from(t["code"].as_u64().unwrap()).unwrap();
        let name = match Encoding::from_code(code, vendor) {
            Some(enc) => format!("{}/{}", enc.kind().name(), enc.name()),
            None => format!("unknown type {code}"),
        };
        *counts.entry(name).or_default() += t["keys"].as_u64().unwrap();
    }
    json!(counts)
}

fn our_type_counts(ours: &Converted) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for key in &ours.keys {
        assert!(Kind::from_name(&key.kind).is_some(), "unknown type {}", key.kind);
        *counts.entry(format!("{}/{}", key.kind, key.encoding)).or_default() += 1;
    }
    counts
}

// ---------------------------------------------------------------------------------------------
// Snapshots: what a comparison looks at
// ---------------------------------------------------------------------------------------------

/// A file's content as one expected format can express it, built both from the expected file
/// and from our output.
#[derive(Default)]
struct Snapshot {
    /// Keys by (database label, key as the format renders it, as JSON text); each with its
    /// occurrences in file order, since a file may hold a key twice.
    keys: BTreeMap<(u64, String), Vec<Value>>,
    /// File-level records by kind ("aux", "functions", "module_aux"). Only the kinds the
    /// expected file shows are compared: each tool can be told to leave them out.
    meta: BTreeMap<&'static str, Value>,
    /// How the format labels databases, and whether it shows stream metadata.
    shows: Shows,
}

/// What an expected file shows beyond keys and values; decided by reading it.
#[derive(Clone, Copy, Default)]
struct Shows {
    dbs: DbLabels,
    stream_meta: bool,
}

/// How a format tells databases apart.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum DbLabels {
    /// By database number.
    #[default]
    Number,
    /// By position: the n-th run of keys from one database (one SELECTDB section).
    Section,
    /// Not at all: every key is in one namespace.
    Flat,
}

impl Snapshot {
    fn add_key(&mut self, db: u64, key: &Value, content: Value) {
        self.keys.entry((db, key.to_string())).or_default().push(content);
    }

    fn key_count(&self) -> usize {
        self.keys.values().map(Vec::len).sum()
    }
}

/// Database labels of our keys under `labels`.
fn db_labels(keys: &[OurKey], labels: DbLabels) -> Vec<u64> {
    let mut section = 0;
    keys.iter()
        .enumerate()
        .map(|(i, key)| match labels {
            DbLabels::Number => key.db,
            DbLabels::Flat => 0,
            DbLabels::Section => {
                if i > 0 && keys[i - 1].db != key.db {
                    section += 1;
                }
                section
            }
        })
        .collect()
}

/// Every difference between `theirs` and `ours`, one line each.
fn differences(theirs: &Snapshot, ours: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for ((db, key), expected) in &theirs.keys {
        match ours.keys.get(&(*db, key.clone())) {
            None => out.push(format!("db {db} key {key}: missing from our output")),
            Some(got) if got != expected => out.push(format!(
                "db {db} key {key}:\n  expected {}\n  ours     {}",
                brief(&json!(expected)),
                brief(&json!(got))
            )),
            Some(_) => {}
        }
    }
    for (db, key) in ours.keys.keys().filter(|k| !theirs.keys.contains_key(k)) {
        out.push(format!("db {db} key {key}: in our output only"));
    }
    for (kind, expected) in &theirs.meta {
        let got = ours.meta.get(kind).unwrap_or(&Value::Null);
        if got != expected {
            out.push(format!("{kind}:\n  expected {}\n  ours     {}", brief(expected), brief(got)));
        }
    }
    out
}

/// JSON text cut to a readable length.
fn brief(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(400) {
        Some((cut, _)) => format!("{}… ({} chars)", &text[..cut], text.len()),
        None => text,
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical values shared by the formats
// ---------------------------------------------------------------------------------------------

/// How a format renders a byte string, applied to ours.
type Text = fn(&[u8]) -> Value;
/// How a format's rendering of a byte string reads back, applied to theirs; yields the same
/// value [`Text`] gives for the original bytes.
type Decode = fn(&Value) -> Value;

/// Exact rendering: UTF-8 text as a string, anything else as `{"hex": …}`.
fn exact(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "hex": b.iter().map(|x| format!("{x:02x}")).collect::<String>() }),
    }
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
}

/// Sorts items by their JSON text: for collections whose order carries no meaning.
fn sorted(mut items: Vec<Value>) -> Value {
    items.sort_by_cached_key(Value::to_string);
    Value::Array(items)
}

/// A score as one canonical value: finite scores as numbers (-0 as 0, which librdb prints for
/// it), others as "inf", "-inf" or "nan".
fn score(s: f64) -> Value {
    match s {
        s if s.is_nan() => json!("nan"),
        f64::INFINITY => json!("inf"),
        f64::NEG_INFINITY => json!("-inf"),
        0.0 => json!(0.0),
        s => json!(s),
    }
}

/// A score written as a JSON number (an integer, or `{"f64": text}` from [`parse_json`]) or as
/// text ("1.5", "inf", "-inf", "nan").
fn parse_score(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::Object(o) => parse_score(&o["f64"]),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("score {s:?}")),
        other => panic!("score {other}"),
    }
}

fn array(v: &Value) -> &[Value] {
    v.as_array().unwrap_or_else(|| panic!("expected an array, found {}", brief(v)))
}

fn object(v: &Value) -> &Map<String, Value> {
    v.as_object().unwrap_or_else(|| panic!("expected an object, found {}", brief(v)))
}

/// Their value in the shared canonical form, for the types whose shape every format shares:
/// string (a rendered string), list (array), set (array, compared sorted), hash (object of
/// field → value, compared as sorted pairs), zset (object of member → score).
fn their_value(kind: &str, v: &Value, decode: Decode) -> Value {
    let pairs = |f: &dyn Fn(&Value) -> Value| -> Vec<Value> {
        object(v).iter().map(|(k, x)| json!([decode(&Value::String(k.clone())), f(x)])).collect()
    };
    match kind {
        "string" => decode(v),
        "list" => Value::Array(array(v).iter().map(decode).collect()),
        "set" => sorted(array(v).iter().map(decode).collect()),
        "hash" => sorted(pairs(&decode)),
        "zset" => sorted(pairs(&|s| score(parse_score(s)))),
        other => panic!("no shared form for type {other}"),
    }
}

/// Our value in the same canonical form; hash fields carry their TTL (ms, or 0 for none) when
/// `field_ttl` is set.
fn our_value(key: &OurKey, text: Text, field_ttl: bool) -> Value {
    let element = |v: &Value| text(&bytes(v));
    match key.kind.as_str() {
        "string" => element(&key.value),
        "list" => Value::Array(array(&key.value).iter().map(element).collect()),
        "set" => sorted(array(&key.value).iter().map(element).collect()),
        "hash" => sorted(
            array(&key.value)
                .iter()
                .map(|f| {
                    if field_ttl {
                        json!([element(&f[0]), element(&f[1]), f.get(2).cloned().unwrap_or(json!(0))])
                    } else {
                        json!([element(&f[0]), element(&f[1])])
                    }
                })
                .collect(),
        ),
        "zset" => sorted(
            array(&key.value).iter().map(|p| json!([element(&p[0]), score(parse_score(&p[1]))])).collect(),
        ),
        other => panic!("no shared form for type {other}"),
    }
}

/// Stream entry fields as an object: for formats that keep them in a map (duplicate fields,
/// which streams allow, collapse; order is lost).
fn field_map(pairs: impl Iterator<Item = (Value, Value)>) -> Value {
    let map: Map<String, Value> = pairs.map(|(f, v)| (f.to_string(), v)).collect();
    Value::Object(map)
}

/// A key as the formats that state type and TTL show it.
fn typed(kind: &str, value: Value, expire_ms: Option<Value>) -> Value {
    let mut content = json!({ "type": kind, "value": value });
    if let Some(ms) = expire_ms {
        content["expire_ms"] = ms;
    }
    content
}

/// Their rendering read as is: for formats whose renderings [`Text`] reproduces.
fn as_is(v: &Value) -> Value {
    v.clone()
}

/// An array member that the format omits when empty.
fn listed<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v.get(name).map_or(&[], array)
}

/// Our types by key, as `text` renders keys: the type hint for formats that state none.
fn our_types(ours: &Converted, text: Text) -> BTreeMap<String, &str> {
    ours.keys.iter().map(|k| (text(&k.key).to_string(), k.kind.as_str())).collect()
}

/// A module value as rdbtools and librdb describe it: the module name and the serialized size,
/// which both count from the 9-byte module id (a 64-bit RDB length) to the end of the value.
fn our_module(value: &Value) -> Value {
    json!({ "module": value["module"], "serialized_size": 9 + bytes(&value["payload"]).len() })
}

/// Our file-level records in the forms the formats use: aux fields as sorted [name, value]
/// pairs (the shape of a hash), functions sorted, module aux records in file order.
fn our_meta(ours: &Converted, text: Text) -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        ("aux", sorted(ours.aux.iter().map(|(n, v)| json!([text(n), text(v)])).collect())),
        ("functions", sorted(ours.functions.iter().map(|f| text(f)).collect())),
        ("module_aux", json!(ours.module_aux)),
    ])
}

// ---------------------------------------------------------------------------------------------
// Pairing expected files with RDB files, and the comparison driver
// ---------------------------------------------------------------------------------------------

/// An expected-output format.
struct Format {
    name: &'static str,
    /// Reads an expected file. Formats that do not state types read each value as the type of
    /// our key of the same name (keys we lack are kept as written: they differ anyway).
    theirs: fn(&Path, &Converted) -> Snapshot,
    /// Projects our conversion onto what the expected file shows.
    ours: fn(&Converted, Shows) -> Snapshot,
}

/// One expected file and the RDB file it describes.
struct Pair {
    expected: String,
    rdb: String,
    /// The keys the expected file covers.
    filter: Filter,
}

/// Pairs from manifest.json's `expected_output_of` for expected files `wanted` selects.
fn manifest_pairs(root: &Path, wanted: fn(&str) -> bool) -> Vec<Pair> {
    let mut pairs = Vec::new();
    for (path, entry) in manifest(root) {
        for rdb in entry["expected_output_of"].as_array().into_iter().flatten().filter(|_| wanted(&path)) {
            pairs.push(Pair {
                expected: path.clone(),
                rdb: rdb.as_str().unwrap().to_owned(),
                filter: filter_for(&path),
            });
        }
    }
    pairs
}

/// The keys an expected file covers, when it does not cover all.
fn filter_for(expected: &str) -> Filter {
    match expected {
        // HDT3213's export restricted to keys matching ^l.* (MANIFEST.md).
        "hdt3213-rdb/memory_regex.json" => {
            Filter { key_regex: Some(regex::bytes::Regex::new("^l.*").unwrap()), ..Filter::default() }
        }
        // librdb's test_main.c parses lists at the data level and strings at the raw level.
        "librdb/multiple_lists_strings_subset_list.json" => {
            Filter { kinds: vec![Kind::List], ..Filter::default() }
        }
        // librdb's test_rdb_to_redis.c: the content of a live server after loading the file,
        // where keys whose TTL has passed are gone.
        "librdb/mem_policy_lfu.json"
        | "librdb/mem_policy_lru.json"
        | "librdb/set_expired.json"
        | "librdb/set_not_expired.json" => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            Filter { expired_at_ms: Some(i64::try_from(now.as_millis()).unwrap()), ..Filter::default() }
        }
        _ => Filter::default(),
    }
}

/// Compares every pair under `format`; returns the number of keys compared.
fn compare(root: &Path, format: &Format, pairs: &[Pair]) -> usize {
    let mut problems = Vec::new();
    let mut total = 0;
    for pair in pairs {
        if let Some(rule) = must_fail(&pair.rdb) {
            eprintln!(
                "{}: {} not compared: {} must fail ({})",
                format.name, pair.expected, pair.rdb, rule.why
            );
            continue;
        }
        let ours = convert(&root.join(&pair.rdb), pair.filter.clone()).unwrap();
        let theirs = (format.theirs)(&root.join(&pair.expected), &ours);
        let projected = (format.ours)(&ours, theirs.shows);
        let found = differences(&theirs, &projected);
        eprintln!(
            "{}: {} -> {}: {} keys, {} differences",
            format.name,
            pair.expected,
            pair.rdb,
            theirs.key_count(),
            found.len()
        );
        problems.extend(found.into_iter().map(|d| format!("{} vs {}: {d}", pair.expected, pair.rdb)));
        total += theirs.key_count();
    }
    assert!(problems.is_empty(), "{}: {} differences:\n{}", format.name, problems.len(), problems.join("\n"));
    total
}

/// Runs `format` over `pairs`, insisting on a minimum of files and keys.
fn run(format: &Format, pairs: fn(&Path) -> Vec<Pair>, min_files: usize, min_keys: usize) {
    let Some(root) = corpus() else { return };
    let pairs = pairs(&root);
    let keys = compare(&root, format, &pairs);
    assert!(pairs.len() >= min_files, "{}: only {} expected files", format.name, pairs.len());
    assert!(keys >= min_keys, "{}: only {keys} keys compared", format.name);
}

// ---------------------------------------------------------------------------------------------
// redis-rdb-tools/expected/*.expected.json (written for the corpus from rdbtools' decoding)
// ---------------------------------------------------------------------------------------------

/// `databases` → db number → key → {type, encoding, length, value, expiry_ms}; strings are text
/// when UTF-8, else `{"hex": …}`; key names (and, by the same rule, hash fields and zset
/// members, which are object keys) that are not UTF-8 are `"hex:…"`. Streams are summarised
/// (length, last id, number of groups; the listpack count is not in our output), modules by
/// name and serialized size. `length`, `encoding` and `expiry_utc` restate other fields or the
/// type code (checked against the walker) and are not compared; neither are the prose
/// assertions.
mod rdbtools {
    use super::*;

    pub const FORMAT: Format = Format { name: "redis-rdb-tools", theirs, ours };

    pub fn pairs(root: &Path) -> Vec<Pair> {
        manifest_pairs(root, |p| p.starts_with("redis-rdb-tools/expected/"))
    }

    fn decode(v: &Value) -> Value {
        match v {
            Value::String(s) => match s.strip_prefix("hex:") {
                Some(h) => exact(&unhex(h)),
                None => v.clone(),
            },
            Value::Object(o) => exact(&unhex(o["hex"].as_str().unwrap())),
            other => panic!("not an rdbtools string: {other}"),
        }
    }

    fn theirs(path: &Path, _: &Converted) -> Snapshot {
        let doc = read_json(path);
        let mut snap = Snapshot::default();
        for (db, keys) in object(&doc["databases"]) {
            for (key, k) in object(keys) {
                let kind = k["type"].as_str().unwrap();
                let value = match kind {
                    "stream" => {
                        json!({ "length": k["length"], "last_id": k["last_id"], "groups": k["consumer_groups"] })
                    }
                    "module" => {
                        json!({ "module": k["module_name"], "serialized_size": k["serialized_size"] })
                    }
                    _ => their_value(kind, &k["value"], decode),
                };
                let content = typed(kind, value, k.get("expiry_ms").cloned());
                snap.add_key(db.parse().unwrap(), &decode(&json!(key)), content);
            }
        }
        if let Some(aux) = doc.get("aux") {
            snap.meta.insert("aux", their_value("hash", aux, decode));
        }
        if let Some(m) = doc.get("module_aux") {
            snap.meta.insert("module_aux", m.clone());
        }
        snap
    }

    fn ours(ours: &Converted, _: Shows) -> Snapshot {
        let mut snap = Snapshot { meta: our_meta(ours, exact), ..Snapshot::default() };
        for key in &ours.keys {
            let value = match key.kind.as_str() {
                "stream" => json!({
                    "length": key.value["length"],
                    "last_id": key.value["last_id"],
                    "groups": array(&key.value["groups"]).len(),
                }),
                "module" => our_module(&key.value),
                _ => our_value(key, exact, false),
            };
            snap.add_key(key.db, &exact(&key.key), typed(&key.kind, value, key.expire_ms.map(Value::from)));
        }
        snap
    }
}

#[test]
fn redis_rdb_tools_expected_outputs_match() {
    run(&rdbtools::FORMAT, rdbtools::pairs, 25, 100);
}

// ---------------------------------------------------------------------------------------------
// hdt3213-rdb/*.json (HDT3213/rdb's JSON export)
// ---------------------------------------------------------------------------------------------

/// An array of {db, key, size, type, encoding, expiration?, <value field>} in file order, plus
/// {type: "aux"} and {type: "functions"} records. Strings are Go strings: each byte of an
/// invalid UTF-8 sequence became U+FFFD, so ours are rendered the same way before comparing.
/// `expiration` is RFC 3339 local time (compared as ms). Hashes with field TTLs carry an
/// `expire` map (0 = none). Streams list listpack nodes with deleted entries flagged (we drop
/// those), entry fields as Go maps, and `activeTime` = `seenTime` where the file (stream
/// version < 3) has none; zero counters are omitted (omitempty). Not compared: `size` (HDT's
/// memory estimate) and `encoding` (HDT's own names; the type code is checked against the
/// walker instead).
mod hdt {
    use super::*;

    pub const FORMAT: Format = Format { name: "HDT3213/rdb", theirs, ours };

    pub fn pairs(root: &Path) -> Vec<Pair> {
        manifest_pairs(root, |p| p.starts_with("hdt3213-rdb/") && p.ends_with(".json"))
    }

    /// Go's encoding/json: valid UTF-8 kept, each byte of an invalid sequence U+FFFD.
    fn text(mut b: &[u8]) -> Value {
        let mut out = String::new();
        loop {
            match std::str::from_utf8(b) {
                Ok(s) => return Value::String(out + s),
                Err(e) => {
                    let (good, bad) = b.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(good).unwrap());
                    let invalid = e.error_len().unwrap_or(bad.len());
                    out.extend(std::iter::repeat_n('\u{fffd}', invalid));
                    b = &bad[invalid..];
                }
            }
        }
    }

    /// Unix ms of an RFC 3339 time as Go writes it (`2022-02-18T06:15:29.18+08:00`).
    pub(super) fn rfc3339_ms(s: &str) -> i64 {
        let num = |t: &str| t.parse::<i64>().unwrap_or_else(|_| panic!("time {s:?}"));
        let (date, rest) = s.split_once('T').unwrap();
        let zone_at = rest.find(['Z', '+', '-']).unwrap();
        let (time, zone) = rest.split_at(zone_at);
        let d: Vec<i64> = date.split('-').map(num).collect();
        let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
        let t: Vec<i64> = hms.split(':').map(num).collect();
        let ms = num(&format!("{fraction:0<3}")[..3]);
        let offset_s = match zone {
            "Z" => 0,
            _ => {
                let (h, m) = zone[1..].split_once(':').unwrap();
                let s = num(h) * 3600 + num(m) * 60;
                if zone.starts_with('-') { -s } else { s }
            }
        };
        (days_from_civil(d[0], d[1], d[2]) * 86400 + t[0] * 3600 + t[1] * 60 + t[2] - offset_s) * 1000 + ms
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn theirs(path: &Path, _: &Converted) -> Snapshot {
        let doc = read_json(path);
        let mut snap = Snapshot::default();
        let mut aux = Map::new();
        let mut functions = Vec::new();
        for k in array(&doc) {
            let kind = k["type"].as_str().unwrap();
            match kind {
                "aux" => {
                    aux.insert(k["key"].as_str().unwrap().to_owned(), k["value"].clone());
                }
                "functions" => functions.push(k["functionsLua"].clone()),
                _ => {
                    let expire_ms = k.get("expiration").map(|t| json!(rfc3339_ms(t.as_str().unwrap())));
                    snap.add_key(
                        k["db"].as_u64().unwrap(),
                        &k["key"],
                        typed(kind, value(kind, k), expire_ms),
                    );
                }
            }
        }
        if !aux.is_empty() {
            snap.meta.insert("aux", their_value("hash", &Value::Object(aux), as_is));
        }
        if !functions.is_empty() {
            snap.meta.insert("functions", sorted(functions));
        }
        snap
    }

    fn value(kind: &str, k: &Value) -> Value {
        match kind {
            "string" => their_value(kind, &k["value"], as_is),
            "list" => their_value(kind, &k["values"], as_is),
            "set" => their_value(kind, &k["members"], as_is),
            "zset" => {
                let members = array(&k["entries"])
                    .iter()
                    .map(|e| (e["member"].as_str().unwrap().to_owned(), e["score"].clone()));
                their_value(kind, &Value::Object(members.collect()), as_is)
            }
            "hash" => match k.get("expire") {
                None => their_value(kind, &k["hash"], as_is),
                Some(ttl) => sorted(object(&k["hash"]).iter().map(|(f, v)| json!([f, v, ttl[f]])).collect()),
            },
            "stream" => stream(k),
            other => panic!("HDT3213 type {other}"),
        }
    }

    fn stream(s: &Value) -> Value {
        let live = listed(s, "entries").iter().flat_map(|node| array(&node["msgs"]));
        let entries: Vec<Value> = live
            .filter(|m| m["deleted"] == false)
            .map(|m| {
                json!([m["id"], field_map(object(&m["fields"]).iter().map(|(f, v)| (json!(f), v.clone())))])
            })
            .collect();
        let groups: Vec<Value> = listed(s, "groups")
            .iter()
            .map(|g| {
                let pel = listed(g, "pending")
                    .iter()
                    .map(|p| json!([p["id"], p["deliveryTime"], p["deliveryCount"]]))
                    .collect();
                let consumers: Vec<Value> = listed(g, "consumers")
                    .iter()
                    .map(|c| json!([c["name"], c["seenTime"], c["activeTime"], listed(c, "pending")]))
                    .collect();
                json!({
                    "name": g["name"],
                    "last_id": g["lastId"],
                    "entries_read": g.get("entriesRead").unwrap_or(&json!(0)),
                    "pel": Value::Array(pel),
                    "consumers": consumers,
                })
            })
            .collect();
        json!({
            "length": s["len"],
            "last_id": s["lastId"],
            "first_id": s.get("firstId"),
            "max_deleted_id": s.get("maxDeletedId"),
            "entries_added": s.get("addedEntriesCount"),
            "entries": entries,
            "groups": groups,
        })
    }

    fn ours(ours: &Converted, _: Shows) -> Snapshot {
        let mut snap = Snapshot { meta: our_meta(ours, text), ..Snapshot::default() };
        for key in &ours.keys {
            let value = match key.kind.as_str() {
                "stream" => our_stream(&key.value),
                "hash" => our_value(key, text, has_field_ttls(&key.encoding)),
                _ => our_value(key, text, false),
            };
            snap.add_key(key.db, &text(&key.key), typed(&key.kind, value, key.expire_ms.map(Value::from)));
        }
        snap
    }

    /// Hash encodings whose fields may carry TTLs: HDT3213 adds its `expire` map for these.
    fn has_field_ttls(encoding: &str) -> bool {
        matches!(encoding, "metadata" | "listpack-ex" | "metadata-pre-ga" | "listpack-ex-pre-ga" | "hash2")
    }

    fn our_stream(s: &Value) -> Value {
        let t = |v: &Value| text(&bytes(v));
        let entries: Vec<Value> = array(&s["entries"])
            .iter()
            .map(|e| json!([e["id"], field_map(array(&e["fields"]).iter().map(|p| (t(&p[0]), t(&p[1]))))]))
            .collect();
        let groups: Vec<Value> = array(&s["groups"])
            .iter()
            .map(|g| {
                let pel: Vec<Value> = array(&g["pel"])
                    .iter()
                    .map(|p| json!([p["id"], p["delivery_time_ms"], p["delivery_count"]]))
                    .collect();
                let consumers: Vec<Value> = array(&g["consumers"])
                    .iter()
                    .map(|c| {
                        let active = c.get("active_time_ms").unwrap_or(&c["seen_time_ms"]);
                        json!([t(&c["name"]), c["seen_time_ms"], active, c["pel"]])
                    })
                    .collect();
                let entries_read = match &g["entries_read"] {
                    Value::Null => json!(0),
                    n => n.clone(),
                };
                json!({ "name": t(&g["name"]), "last_id": g["last_id"], "entries_read": entries_read, "pel": pel, "consumers": consumers })
            })
            .collect();
        let nonzero = |v: Option<&Value>| v.filter(|n| **n != json!(0)).cloned();
        json!({
            "length": s["length"],
            "last_id": s["last_id"],
            "first_id": s.get("first_id"),
            "max_deleted_id": s.get("max_deleted_id"),
            "entries_added": nonzero(s.get("entries_added")),
            "entries": entries,
            "groups": groups,
        })
    }
}

#[test]
fn hdt3213_json_exports_match() {
    run(&hdt::FORMAT, hdt::pairs, 30, 100);
}

#[test]
fn rfc3339_times_read_as_unix_ms() {
    assert_eq!(hdt::rfc3339_ms("1970-01-01T00:00:00Z"), 0);
    assert_eq!(hdt::rfc3339_ms("2022-12-25T18:11:12.573+08:00"), 1_671_963_072_573);
    assert_eq!(hdt::rfc3339_ms("2022-02-18T06:15:29.18+08:00"), 1_645_136_129_180);
    assert_eq!(hdt::rfc3339_ms("1969-12-31T19:00:00.5-05:00"), 500);
}

// ---------------------------------------------------------------------------------------------
// librdb/*.json (librdb's data-level JSON, and its server-content JSON)
// ---------------------------------------------------------------------------------------------

/// One librdb expected file and its dump, from librdb's test/*.c at the stored commit.
struct LibrdbFile {
    json: &'static str,
    rdb: &'static str,
}

/// librdb expected files at the data level (test_rdb_to_json.c, test_main.c, test_rdb_cli.c)
/// and after loading into a server (test_rdb_to_redis.c, see [`filter_for`]).
const LIBRDB: &[LibrdbFile] = &[
    LibrdbFile { json: "ziplist_data.json", rdb: "ziplist_v3.rdb" },
    LibrdbFile { json: "plain_list_v6_data.json", rdb: "plain_list_v6.rdb" },
    LibrdbFile { json: "hash_data.json", rdb: "hash_v3.rdb" },
    // No longer referenced by librdb's tests (once paired with plain_hash_v3.rdb, not in the
    // corpus); byte-identical to hash_data.json, so it describes hash_v3.rdb too.
    LibrdbFile { json: "plain_hash_data.json", rdb: "hash_v3.rdb" },
    LibrdbFile { json: "hash_zl_v6_data.json", rdb: "hash_zl_v6.rdb" },
    LibrdbFile { json: "hash_lp_v11_data.json", rdb: "hash_lp_v11.rdb" },
    LibrdbFile { json: "hash_zm_v2_data.json", rdb: "hash_zm_v2.rdb" },
    LibrdbFile { json: "hash_ex_v12_data.json", rdb: "hash_with_expire_v12.rdb" },
    LibrdbFile { json: "hash_lp_ex_v12_data.json", rdb: "hash_lp_with_hexpire_v12.rdb" },
    LibrdbFile { json: "plain_set_v6_data.json", rdb: "plain_set_v6.rdb" },
    LibrdbFile { json: "set_is_v11_data.json", rdb: "set_is_v11.rdb" },
    LibrdbFile { json: "set_lp_v11_data.json", rdb: "set_lp_v11.rdb" },
    LibrdbFile { json: "plain_zset_v6_data.json", rdb: "plain_zset_v6.rdb" },
    LibrdbFile { json: "plain_zset_2_v11_data.json", rdb: "plain_zset_2_v11.rdb" },
    LibrdbFile { json: "zset_zl_v6_data.json", rdb: "zset_zl_v6.rdb" },
    LibrdbFile { json: "zset_lp_v11_data.json", rdb: "zset_lp_v11.rdb" },
    LibrdbFile { json: "quicklist_data.json", rdb: "quicklist.rdb" },
    LibrdbFile { json: "single_list_data.json", rdb: "quicklist2_v11.rdb" },
    LibrdbFile { json: "multiple_lists_strings_data.json", rdb: "multiple_lists_strings.rdb" },
    LibrdbFile { json: "multiple_lists_strings_no_aux.json", rdb: "multiple_lists_strings.rdb" },
    LibrdbFile { json: "multiple_lists_strings_subset_list.json", rdb: "multiple_lists_strings.rdb" },
    LibrdbFile { json: "single_key_data.json", rdb: "single_key.rdb" },
    LibrdbFile { json: "multiple_dbs_data.json", rdb: "multiple_dbs.rdb" },
    LibrdbFile { json: "string_int_encoded.json", rdb: "string_int_encoded.rdb" },
    LibrdbFile { json: "module_data.json", rdb: "module.rdb" },
    LibrdbFile { json: "module_aux_data.json", rdb: "module_aux.rdb" },
    LibrdbFile { json: "function2.json", rdb: "function2.rdb" },
    LibrdbFile { json: "cluster_slot_info.json", rdb: "cluster_slot_info.rdb" },
    LibrdbFile { json: "stream_data.json", rdb: "stream_v11.rdb" },
    LibrdbFile { json: "stream_data_with_meta.json", rdb: "stream_v11.rdb" },
    LibrdbFile { json: "mem_policy_lfu.json", rdb: "mem_policy_lfu.rdb" },
    LibrdbFile { json: "mem_policy_lru.json", rdb: "mem_policy_lru.rdb" },
    LibrdbFile { json: "set_expired.json", rdb: "set_expired_v11.rdb" },
    LibrdbFile { json: "set_not_expired.json", rdb: "set_not_expired_v11.rdb" },
];

/// A JSON fragment: the members of one object (flattened output) or an array of one object per
/// database section. Strings escape every byte outside printable ASCII as `\u00XX`, so each
/// char is one byte and the rendering is exact. Types are not stated. Zset scores are text.
/// Streams list entries (fields as a map) and, with stream metadata, the stream's counters,
/// groups, PEL and consumers. Modules are "<Content of Module 'NAME'. Occupies a serialized
/// size of N bytes>". Key TTLs and hash field TTLs are not shown. `__aux__`, `__func__` are
/// compared; `__dbsize__` and `__slotinfo__` (RESIZEDB and SLOT_INFO hints) are not in our
/// output.
mod librdb {
    use super::*;

    pub const FORMAT: Format = Format { name: "librdb", theirs, ours };

    pub fn pairs(_: &Path) -> Vec<Pair> {
        LIBRDB
            .iter()
            .map(|f| {
                let expected = format!("librdb/{}", f.json);
                Pair { filter: filter_for(&expected), expected, rdb: format!("librdb/{}", f.rdb) }
            })
            .collect()
    }

    fn decode(v: &Value) -> Value {
        let s = v.as_str().unwrap_or_else(|| panic!("not a librdb string: {v}"));
        exact(
            &s.chars()
                .map(|c| u8::try_from(u32::from(c)).expect("librdb escapes bytes as \\u00XX"))
                .collect::<Vec<u8>>(),
        )
    }

    fn theirs(path: &Path, ours: &Converted) -> Snapshot {
        let text = std::fs::read_to_string(path).unwrap();
        let text = text.trim();
        let (sections, dbs) = if text.starts_with('[') {
            (array(&parse_json(text).unwrap()).to_vec(), DbLabels::Section)
        } else {
            (vec![parse_json(&format!("{{{text}}}")).unwrap()], DbLabels::Flat)
        };
        let stream_meta = text.contains("\"groups\"");
        let mut snap = Snapshot { shows: Shows { dbs, stream_meta }, ..Snapshot::default() };
        let types = our_types(ours, exact);
        for (db, section) in sections.iter().enumerate() {
            for (name, v) in object(section) {
                match name.as_str() {
                    "__aux__" => {
                        snap.meta.insert("aux", their_value("hash", v, decode));
                    }
                    "__func__" => {
                        snap.meta.insert("functions", sorted(object(v).values().map(decode).collect()));
                    }
                    "__dbsize__" | "__slotinfo__" => {}
                    _ => {
                        let key = decode(&json!(name));
                        let value =
                            types.get(&key.to_string()).map_or_else(|| v.clone(), |kind| value(kind, v));
                        snap.add_key(db as u64, &key, json!({ "value": value }));
                    }
                }
            }
        }
        snap
    }

    fn value(kind: &str, v: &Value) -> Value {
        match kind {
            "stream" => stream(v),
            "module" => {
                let s = v.as_str().unwrap();
                let name = s.split('\'').nth(1).unwrap();
                let size: usize =
                    s.split("size of ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
                json!({ "module": name, "serialized_size": size })
            }
            _ => their_value(kind, v, decode),
        }
    }

    fn entries(list: &Value, fields: &str, t: &dyn Fn(&Value) -> Value) -> Value {
        Value::Array(
            array(list)
                .iter()
                .map(|e| {
                    let map = match &e[fields] {
                        Value::Object(m) => field_map(m.iter().map(|(f, v)| (decode(&json!(f)), decode(v)))),
                        pairs => field_map(array(pairs).iter().map(|p| (t(&p[0]), t(&p[1])))),
                    };
                    json!([e["id"], map])
                })
                .collect(),
        )
    }

    fn stream(s: &Value) -> Value {
        let mut out = json!({ "entries": entries(&s["entries"], "items", &decode) });
        if s.get("groups").is_some() {
            let groups: Vec<Value> = array(&s["groups"])
                .iter()
                .map(|g| {
                    let pel: Vec<Value> = listed(g, "pending")
                        .iter()
                        .map(|p| json!([p["id"], p["sent"], p["count"]]))
                        .collect();
                    let consumers: Vec<Value> = listed(g, "consumers")
                        .iter()
                        .map(|c| {
                            let ids: Vec<Value> =
                                listed(c, "pending").iter().map(|p| p["id"].clone()).collect();
                            json!([decode(&c["name"]), c["seenTime"], c["activeTime"], ids])
                        })
                        .collect();
                    json!([decode(&g["name"]), g["lastid"], g["entriesRead"], pel, consumers])
                })
                .collect();
            out["meta"] = json!([
                s["length"],
                s["entriesAdded"],
                s["firstID"],
                s["lastID"],
                s["maxDelEntryID"],
                groups
            ]);
        }
        out
    }

    fn ours(ours: &Converted, shows: Shows) -> Snapshot {
        let mut snap = Snapshot { meta: our_meta(ours, exact), ..Snapshot::default() };
        for (key, db) in ours.keys.iter().zip(db_labels(&ours.keys, shows.dbs)) {
            let value = match key.kind.as_str() {
                "stream" => our_stream(&key.value, shows.stream_meta),
                "module" => our_module(&key.value),
                _ => our_value(key, exact, false),
            };
            snap.add_key(db, &exact(&key.key), json!({ "value": value }));
        }
        snap
    }

    fn our_stream(s: &Value, meta: bool) -> Value {
        let t = |v: &Value| exact(&bytes(v));
        let mut out = json!({ "entries": entries(&s["entries"], "fields", &t) });
        if meta {
            let groups: Vec<Value> = array(&s["groups"])
                .iter()
                .map(|g| {
                    let pel: Vec<Value> = array(&g["pel"])
                        .iter()
                        .map(|p| json!([p["id"], p["delivery_time_ms"], p["delivery_count"]]))
                        .collect();
                    let consumers: Vec<Value> = array(&g["consumers"])
                        .iter()
                        .map(|c| json!([t(&c["name"]), c["seen_time_ms"], c["active_time_ms"], c["pel"]]))
                        .collect();
                    json!([t(&g["name"]), g["last_id"], g["entries_read"], pel, consumers])
                })
                .collect();
            out["meta"] = json!([
                s["length"],
                s["entries_added"],
                s["first_id"],
                s["last_id"],
                s["max_deleted_id"],
                groups
            ]);
        }
        out
    }
}

#[test]
fn librdb_json_outputs_match() {
    run(&librdb::FORMAT, librdb::pairs, 30, 100);
}

// ---------------------------------------------------------------------------------------------
// rdb-rs/json/*.json (rdb-rs --format json)
// ---------------------------------------------------------------------------------------------

/// An array of one object per database section: key → string | array (list or set) | object
/// (hash, or zset with scores as text). Types, TTLs and database numbers are not shown. Byte
/// strings that are valid UTF-8 are JSON strings; others are written byte by byte, printable
/// ASCII as is and the rest as `\u00XX` — ambiguous with UTF-8 text in U+0080..U+00FF, so ours
/// are rendered the same way and the renderings compared.
mod rdb_rs {
    use super::*;

    pub const FORMAT: Format = Format { name: "rdb-rs", theirs, ours };

    pub fn pairs(root: &Path) -> Vec<Pair> {
        manifest_pairs(root, |p| p.starts_with("rdb-rs/json/"))
    }

    fn text(b: &[u8]) -> Value {
        match std::str::from_utf8(b) {
            Ok(s) => json!(s),
            Err(_) => Value::String(b.iter().map(|&c| char::from(c)).collect()),
        }
    }

    fn theirs(path: &Path, ours: &Converted) -> Snapshot {
        let doc = read_json(path);
        let mut snap =
            Snapshot { shows: Shows { dbs: DbLabels::Section, stream_meta: false }, ..Snapshot::default() };
        let types = our_types(ours, text);
        for (db, section) in array(&doc).iter().enumerate() {
            for (name, v) in object(section) {
                let key = json!(name);
                let value =
                    types.get(&key.to_string()).map_or_else(|| v.clone(), |kind| their_value(kind, v, as_is));
                snap.add_key(db as u64, &key, json!({ "value": value }));
            }
        }
        snap
    }

    fn ours(ours: &Converted, shows: Shows) -> Snapshot {
        let mut snap = Snapshot::default();
        for (key, db) in ours.keys.iter().zip(db_labels(&ours.keys, shows.dbs)) {
            snap.add_key(db, &text(&key.key), json!({ "value": our_value(key, text, false) }));
        }
        snap
    }
}

#[test]
fn rdb_rs_json_outputs_match() {
    run(&rdb_rs::FORMAT, rdb_rs::pairs, 20, 60);
}

// ---------------------------------------------------------------------------------------------
// redis-rdb-cli/rct/all.rdb.jsonl and .json (redis-rdb-cli `rct -f jsonl` / `-f json`)
// ---------------------------------------------------------------------------------------------

/// One object per key in file order (duplicates included): {key, value, db, type, expiry?}.
/// Strings are Java strings decoded from UTF-8 (maximal invalid subsequences → U+FFFD, as
/// `String::from_utf8_lossy` does). Types are Redis's names except "sortedset"; zsets are
/// objects of member → score. Streams and modules are DUMP payloads escaped as `\xNN`, which is
/// not JSON: for those lines only key, db and type are read. The `.json` file is the same
/// records as an array, one per line.
mod rct {
    use super::*;

    pub const FORMAT: Format = Format { name: "redis-rdb-cli", theirs, ours };

    pub fn pairs(root: &Path) -> Vec<Pair> {
        manifest_pairs(root, |p| p.ends_with("/all.rdb.jsonl") || p.ends_with("/all.rdb.json"))
    }

    fn text(b: &[u8]) -> Value {
        json!(String::from_utf8_lossy(b))
    }

    /// One record; for a DUMP-payload line, its key, db and type with a null value.
    fn record(line: &str) -> Value {
        let line = line.trim().trim_start_matches('[').trim_end_matches([',', ']']);
        if let Ok(v) = parse_json(line) {
            return v;
        }
        let (key, _) = line.split_once(",\"value\":").expect("a record with a value");
        let (_, tail) = line.rsplit_once(",\"db\":").expect("a record with a db");
        let mut v = parse_json(&format!("{key}}}")).unwrap();
        let tail = parse_json(&format!("{{\"db\":{tail}")).unwrap();
        v["db"] = tail["db"].clone();
        v["type"] = tail["type"].clone();
        v["value"] = Value::Null;
        v
    }

    fn theirs(path: &Path, _: &Converted) -> Snapshot {
        let mut snap = Snapshot::default();
        for line in
            std::fs::read_to_string(path).unwrap().lines().filter(|l| !matches!(l.trim(), "" | "[" | "]"))
        {
            let r = record(line);
            let kind = match r["type"].as_str().unwrap() {
                "sortedset" => "zset",
                other => other,
            };
            let value = match kind {
                "stream" | "module" => Value::Null,
                _ => their_value(kind, &r["value"], as_is),
            };
            snap.add_key(r["db"].as_u64().unwrap(), &r["key"], typed(kind, value, r.get("expiry").cloned()));
        }
        snap
    }

    fn ours(ours: &Converted, _: Shows) -> Snapshot {
        let mut snap = Snapshot::default();
        for key in &ours.keys {
            let value = match key.kind.as_str() {
                "stream" | "module" => Value::Null,
                _ => our_value(key, text, false),
            };
            snap.add_key(key.db, &text(&key.key), typed(&key.kind, value, key.expire_ms.map(Value::from)));
        }
        snap
    }
}

#[test]
fn redis_rdb_cli_json_outputs_match() {
    run(&rct::FORMAT, rct::pairs, 2, 500);
}

// ---------------------------------------------------------------------------------------------
// Everything else
// ---------------------------------------------------------------------------------------------

/// Corpus files no comparison reads, and why: (path prefix, path suffix, reason).
const SKIPPED: &[(&str, &str, &str)] = &[
    ("", "MANIFEST.md", "the corpus's description"),
    ("", "manifest.json", "the corpus's index (used for pairing and walker counts)"),
    ("hdt3213-rdb/", ".csv", "memory, biggest-key and prefix reports: HDT3213's size estimates"),
    ("hdt3213-rdb/", ".aof", "RESP (AOF) exports of the RDB: commands, not content"),
    ("redis-replicator/", ".aof", "AOF inputs, not RDB files"),
    ("valkey/", ".aof", "an AOF input (RDB preamble + RESP tail), not an RDB file"),
    ("rdb-rs/plain/", ".plain", "rdb-rs's unescaped text rendering of what rdb-rs/json/ holds"),
    ("rdb-rs/protocol/", ".protocol", "rdb-rs's RESP rendering of what rdb-rs/json/ holds"),
    (
        "redis-rdb-cli/rct/all.rdb.",
        "",
        "redis-rdb-cli's other formats: counts, key lists, RESP and DUMP payloads, diff",
    ),
    ("librdb/", "_raw.json", "librdb's raw level: the RDB encoding of each value, not its content"),
    ("librdb/", "_struct.json", "librdb's struct level: ziplist/listpack nodes, not content"),
    ("librdb/", ".resp", "RESP conversions of stream_v11.rdb: commands, not content"),
    ("librdb/multiple_lists_strings_subset_str.json", "", "strings at librdb's raw level"),
    ("librdb/multiple_lists_strings_2filters.json", "", "filters not recorded (no librdb test reads it)"),
];

#[test]
fn every_expected_output_is_compared_or_skipped() {
    let Some(root) = corpus() else { return };
    let compared: BTreeSet<String> = [
        rdbtools::pairs(&root),
        hdt::pairs(&root),
        librdb::pairs(&root),
        rdb_rs::pairs(&root),
        rct::pairs(&root),
    ]
    .into_iter()
    .flatten()
    .flat_map(|p| [p.expected, p.rdb])
    .collect();
    let unclaimed: Vec<String> = files(&root)
        .into_iter()
        .filter(|f| !f.ends_with(".rdb") && !compared.contains(f))
        .filter(|f| !SKIPPED.iter().any(|(prefix, suffix, _)| f.starts_with(prefix) && f.ends_with(suffix)))
        .collect();
    assert!(unclaimed.is_empty(), "neither compared nor skipped:\n{}", unclaimed.join("\n"));
    for (path, _) in manifest(&root) {
        assert!(root.join(&path).is_file(), "manifest.json lists a missing file: {path}");
    }
    assert!(compared.len() >= 100, "only {} files in comparisons", compared.len());
}

/// Every RESP file in the corpus (AOFs, including the one with an RDB preamble, and the RESP
/// exports other tools wrote) checks valid; `--strict` flags the module command in
/// `appendonly6.aof`, which no server without the module accepts.
#[test]
fn every_corpus_aof_checks_valid() {
    use aoftool::aof::commands::Dialect;
    use aoftool::check::check_file;

    let Some(root) = corpus() else { return };
    let resp: Vec<String> = files(&root)
        .into_iter()
        .filter(|f| [".aof", ".resp", ".protocol"].iter().any(|ext| f.ends_with(ext)))
        .collect();
    assert!(resp.len() >= 30, "expected the corpus's RESP files, found {}", resp.len());
    for file in &resp {
        let data = std::fs::read(root.join(file)).unwrap();
        let report = check_file(&data, 2, None, &|_| {});
        assert!(report.is_valid(), "{file}: {:?}", report.problem.map(|p| p.error.to_string()));
        assert!(report.resp.is_some_and(|r| r.commands > 0), "{file}: no commands");
    }
    let module = std::fs::read(root.join("redis-replicator/appendonly6.aof")).unwrap();
    let strict = check_file(&module, 2, Some(Dialect::Any), &|_| {});
    let findings = &strict.resp.as_ref().unwrap().strict_findings;
    assert!(findings.iter().any(|f| f.name.eq_ignore_ascii_case("hellotype.insert")), "{findings:?}");
}
