//! The JSON reader against the JSON writer:
//!
//! - every RDB file of `testdata/` and of the shared corpus that converts, converted to JSON Lines
//!   and to a JSON document, reads back as exactly the items its records hold (strings by bytes,
//!   scores by bit pattern);
//! - an error in a converted file is reported at the start of its record;
//! - arbitrary items of every kind, written with the writer's functions, read back equal.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use aoftool::convert::{ChecksumPolicy, JsonFormat, JsonOptions, rdb_to_json};
use aoftool::dataset::{Entry, Item};
use aoftool::filter::Filter;
use aoftool::json;
use aoftool::json_reader::JsonReader;
use aoftool::rdb::reader::{KeyEntry, KeyMetaClass};
use aoftool::rdb::stream::{
    Consumer, ConsumerGroup, Idmp, IdmpProducer, PendingEntry, Stream, StreamEntry, StreamId,
};
use aoftool::rdb::{Bytes, Encoding, HashField, Header, RdbStr, Reader, Record, Value, Vendor};
use aoftool::{ErrorKind, Result};
use proptest::collection::vec;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Comparing items
// ---------------------------------------------------------------------------------------------

/// The bit patterns of an item's scores (so that `-0.0` and NaN compare exactly).
fn scores(item: &Item<'_>) -> Vec<u64> {
    match item {
        Item::Key(Entry { value: Value::ZSet(pairs), .. }) => {
            pairs.iter().map(|(_, s)| s.to_bits()).collect()
        }
        _ => Vec::new(),
    }
}

/// The item with its scores zeroed, for comparing everything else with `==` (strings compare by
/// bytes, so integer-encoded and borrowed strings equal their owned text).
fn without_scores<'a>(item: &Item<'a>) -> Item<'a> {
    let mut item = item.clone();
    if let Item::Key(Entry { value: Value::ZSet(pairs), .. }) = &mut item {
        pairs.iter_mut().for_each(|(_, s)| *s = 0.0);
    }
    item
}

fn assert_same_items(want: &[Item<'_>], got: &[Item<'_>], context: &str) {
    assert_eq!(want.len(), got.len(), "{context}: item count");
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        assert_eq!(without_scores(w), without_scores(g), "{context}: item {i}");
        assert_eq!(scores(w), scores(g), "{context}: scores of item {i}");
    }
}

/// Everything a JSON input holds.
fn read_json(json: &[u8]) -> Result<(Option<Header>, Vec<Item<'static>>)> {
    let reader = JsonReader::new(json)?;
    let header = reader.header();
    Ok((header, reader.collect::<Result<_>>()?))
}

// ---------------------------------------------------------------------------------------------
// RDB files
// ---------------------------------------------------------------------------------------------

/// Every `*.rdb` under `dir`, sorted.
fn rdb_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.map(|e| e.unwrap().path()) {
        if entry.is_dir() {
            out.extend(rdb_files(&entry));
        } else if entry.extension().is_some_and(|e| e == "rdb") {
            out.push(entry);
        }
    }
    out.sort();
    out
}

/// The corpus root (`$AOFTOOL_CORPUS`, else `../shared/corpus`), when present.
fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("AOFTOOL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    dir.is_dir().then_some(dir)
}

fn convert(data: &[u8], format: JsonFormat) -> Result<Vec<u8>> {
    let options = JsonOptions {
        format,
        filter: Filter::default(),
        include_meta: true,
        threads: 2,
        checksum: ChecksumPolicy::Warn,
    };
    let mut out = Vec::new();
    rdb_to_json(data, &options, &mut out, &|_| {})?;
    Ok(out)
}

/// The header and items of an RDB file, decoded from its records.
fn rdb_items(data: &[u8]) -> Result<(Header, Vec<Item<'_>>)> {
    let mut reader = Reader::new(data)?;
    let header = reader.header();
    let mut items = Vec::new();
    while let Some(record) = reader.next_record()? {
        items.extend(Item::from_record(&record)?);
    }
    Ok((header, items))
}

/// Converts the file both ways and reads each back; `false` when the file does not convert.
fn round_trip(path: &Path) -> bool {
    let data = std::fs::read(path).unwrap();
    let name = path.display();
    let Ok(lines) = convert(&data, JsonFormat::Lines) else { return false };
    let document = convert(&data, JsonFormat::Document).unwrap();
    let (header, want) =
        rdb_items(&data).unwrap_or_else(|e| panic!("{name}: converts but does not decode: {e}"));
    for (form, json) in [("lines", &lines), ("document", &document)] {
        let (got_header, got) = read_json(json).unwrap_or_else(|e| panic!("{name} ({form}): {e}"));
        assert_eq!(got_header, Some(header), "{name} ({form})");
        assert_same_items(&want, &got, &format!("{name} ({form})"));
    }
    true
}

#[test]
fn every_fixture_reads_back_as_its_items() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let files = rdb_files(&root);
    let converted = files.iter().filter(|f| round_trip(f)).count();
    // All but the damaged files whose damage is more than a bad checksum.
    assert!(converted >= 5, "only {converted} of {} fixtures converted", files.len());
}

#[test]
fn every_corpus_file_that_converts_reads_back_as_its_items() {
    let Some(root) = corpus() else {
        eprintln!("corpus round trip skipped: no corpus");
        return;
    };
    let files = rdb_files(&root);
    let converted = files.iter().filter(|f| round_trip(f)).count();
    eprintln!("{converted} of {} corpus RDB files round-tripped through JSON", files.len());
    assert!(converted >= 80, "only {converted} of {} corpus files converted", files.len());
}

#[test]
fn an_error_in_a_converted_file_is_at_its_record() {
    let data = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/redis7/dump.rdb")).unwrap();
    for format in [JsonFormat::Lines, JsonFormat::Document] {
        let mut json = convert(&data, format).unwrap();
        // The 20th key record: rename its "db" member, which makes it unknown.
        let starts: Vec<usize> = (0..json.len()).filter(|&i| json[i..].starts_with(b"{\"db\":")).collect();
        let at = starts[20];
        json[at + 2..at + 4].copy_from_slice(b"dB");
        let e = JsonReader::new(&json).unwrap().find_map(|r| r.err()).expect("an error");
        let line_start = json[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let want = if format == JsonFormat::Lines { line_start } else { at };
        assert_eq!(e.offset(), want as u64, "{format:?}: {e}");
        assert!(matches!(e.kind(), ErrorKind::Invalid { .. }), "{e}");
        assert!(e.to_string().contains("member \"dB\""), "{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary items
// ---------------------------------------------------------------------------------------------

/// Writes `item` as the converter does, through the writer's public functions.
fn write_item(out: &mut Vec<u8>, item: &Item<'_>) {
    match item {
        Item::Key(e) => {
            let kind = e.value.kind();
            let encoding = (0..=u8::MAX)
                .filter_map(|code| Encoding::from_code(code, Vendor::Redis))
                .find(|enc| enc.kind() == kind)
                .unwrap();
            let entry = KeyEntry {
                db: e.db,
                key: RdbStr::Raw(b""),
                encoding,
                expire_ms: e.expire_ms,
                idle_s: e.idle_s,
                freq: e.freq,
                key_meta: e.key_meta.clone(),
                raw: &[],
                offset: 0,
                value_offset: 0,
            };
            json::write_key(out, &entry, &e.key, &e.value);
        }
        Item::Aux { name, value } => {
            let (name, value) = (name.to_vec(), value.to_vec());
            json::write_meta(out, &Record::Aux { name: RdbStr::Raw(&name), value: RdbStr::Raw(&value) })
                .unwrap();
        }
        Item::Function { code } => {
            let code = code.to_vec();
            json::write_meta(out, &Record::Function { code: RdbStr::Raw(&code) }).unwrap();
        }
        Item::FunctionPreGa { name, engine, description, code } => {
            let (name, engine, code) = (name.to_vec(), engine.to_vec(), code.to_vec());
            let description = description.as_ref().map(Bytes::to_vec);
            let record = Record::FunctionPreGa {
                name: RdbStr::Raw(&name),
                engine: RdbStr::Raw(&engine),
                description: description.as_deref().map(RdbStr::Raw),
                code: RdbStr::Raw(&code),
            };
            json::write_meta(out, &record).unwrap();
        }
        Item::ModuleAux { id, when, payload } => {
            json::write_meta(out, &Record::ModuleAux { id: *id, when: *when, payload: payload.as_ref() })
                .unwrap();
        }
        Item::SlotImport { job, ranges } => {
            let job = job.to_vec();
            json::write_meta(out, &Record::SlotImport { job: RdbStr::Raw(&job), ranges: ranges.clone() })
                .unwrap();
        }
    }
}

/// Strings of every shape: any bytes, any text (escapes, non-ASCII), integers.
fn bytes() -> impl Strategy<Value = Bytes<'static>> {
    prop_oneof![
        vec(any::<u8>(), 0..12).prop_map(Bytes::Owned),
        ".{0,8}".prop_map(|s| Bytes::Owned(s.into_bytes())),
        any::<i64>().prop_map(Bytes::Int),
    ]
}

fn id() -> impl Strategy<Value = StreamId> {
    (any::<u64>(), any::<u64>()).prop_map(|(ms, seq)| StreamId { ms, seq })
}

/// Module items (integers, floats, doubles, strings) and their end marker.
fn module_items() -> impl Strategy<Value = Vec<u8>> {
    let item = prop_oneof![
        (1u8..=2, 0u8..64).prop_map(|(op, n)| vec![op, n]),
        vec(any::<u8>(), 4).prop_map(|f| [vec![3], f].concat()),
        vec(any::<u8>(), 8).prop_map(|d| [vec![4], d].concat()),
        vec(any::<u8>(), 0..10).prop_map(|s| [vec![5, s.len() as u8], s].concat()),
    ];
    vec(item, 0..4).prop_map(|items| [items.concat(), vec![0]].concat())
}

/// Any score; NaN only as the one NaN the format has (`"nan"`).
fn score() -> impl Strategy<Value = f64> {
    prop_oneof![any::<f64>(), Just(-0.0), Just(f64::INFINITY), Just(f64::NEG_INFINITY)]
        .prop_map(|s| if s.is_nan() { f64::NAN } else { s })
}

/// A consumer group's raw material: name, last id, entries read, PEL entries (delivery time,
/// count, owner pick, NACKed if unowned) and consumers (name, seen and active times).
type GroupParts =
    (Bytes<'static>, StreamId, i64, Vec<(i64, u64, usize, bool)>, Vec<(Bytes<'static>, i64, i64)>);

fn group_parts() -> impl Strategy<Value = GroupParts> {
    (
        bytes(),
        id(),
        prop_oneof![Just(-1), 0..=i64::MAX],
        vec((any::<i64>(), any::<u64>(), 0usize..4, any::<bool>()), 0..5),
        vec((bytes(), any::<i64>(), any::<i64>()), 0..3),
    )
}

/// A group as a stream of `version` holds it, with consistent owners.
fn group(version: u8, (name, last_id, entries_read, pel, consumers): GroupParts) -> ConsumerGroup<'static> {
    let mut consumers: Vec<Consumer<'static>> = consumers
        .into_iter()
        .map(|(name, seen_time_ms, active)| Consumer {
            name,
            seen_time_ms,
            active_time_ms: (version >= 3).then_some(active),
            pending: Vec::new(),
        })
        .collect();
    let mut pending = Vec::new();
    let mut nacked = Vec::new();
    for (i, (delivery_time_ms, delivery_count, pick, nack)) in pel.into_iter().enumerate() {
        let id = StreamId { ms: i as u64, seq: delivery_count };
        let consumer = (pick < consumers.len()).then_some(pick);
        match consumer {
            Some(c) => consumers[c].pending.push(id),
            None if nack => nacked.push(id),
            None => {}
        }
        pending.push(PendingEntry { id, delivery_time_ms, delivery_count, consumer });
    }
    ConsumerGroup {
        name,
        last_id,
        entries_read: (version >= 2).then_some(entries_read),
        pending,
        consumers,
        nacked: (version >= 5).then_some(nacked),
    }
}

fn idmp() -> impl Strategy<Value = Idmp<'static>> {
    let producer =
        (bytes(), vec((bytes(), id()), 0..3)).prop_map(|(pid, entries)| IdmpProducer { pid, entries });
    (any::<u64>(), any::<u64>(), vec(producer, 0..3), any::<u64>(), any::<u64>()).prop_map(
        |(duration_s, max_entries, producers, iids_added, iids_duplicates)| Idmp {
            duration_s,
            max_entries,
            producers,
            iids_added,
            iids_duplicates,
        },
    )
}

/// A stream of any version (1 to 5), with the members that version has.
fn stream() -> impl Strategy<Value = Stream<'static>> {
    let entry = (id(), vec((bytes(), bytes()), 0..3)).prop_map(|(id, fields)| StreamEntry { id, fields });
    (
        1u8..=5,
        vec(entry, 0..3),
        any::<u64>(),
        (id(), id(), id(), any::<u64>()),
        vec(group_parts(), 0..3),
        idmp(),
    )
        .prop_map(
            |(version, entries, length, (last_id, first_id, max_deleted_id, added), groups, idmp)| {
                let v2 = version >= 2;
                Stream {
                    entries,
                    length,
                    last_id,
                    first_id: v2.then_some(first_id),
                    max_deleted_id: v2.then_some(max_deleted_id),
                    entries_added: v2.then_some(added),
                    groups: groups.into_iter().map(|g| group(version, g)).collect(),
                    idmp: (version >= 4).then_some(idmp),
                    nodes: None,
                }
            },
        )
}

fn value() -> impl Strategy<Value = Value<'static>> {
    let field = (bytes(), bytes(), any::<Option<i64>>()).prop_map(|(field, value, expire_ms)| HashField {
        field,
        value,
        expire_ms,
    });
    let module = (any::<u64>(), module_items())
        .prop_map(|(id, payload)| aoftool::rdb::module::ModuleValue { id, payload: Cow::Owned(payload) });
    prop_oneof![
        bytes().prop_map(Value::String),
        vec(bytes(), 0..4).prop_map(Value::List),
        vec(bytes(), 0..4).prop_map(Value::Set),
        vec((bytes(), score()), 0..4).prop_map(Value::ZSet),
        vec(field, 0..4).prop_map(Value::Hash),
        stream().prop_map(|s| Value::Stream(Box::new(s))),
        module.prop_map(Value::Module),
    ]
}

fn entry() -> impl Strategy<Value = Entry<'static>> {
    let class =
        (any::<u32>(), module_items()).prop_map(|(spec, p)| KeyMetaClass { spec, payload: Cow::Owned(p) });
    (
        any::<u64>(),
        bytes(),
        any::<Option<i64>>(),
        any::<Option<u64>>(),
        any::<Option<u8>>(),
        vec(class, 0..3),
        value(),
    )
        .prop_map(|(db, key, expire_ms, idle_s, freq, key_meta, value)| Entry {
            db,
            key,
            expire_ms,
            idle_s,
            freq,
            key_meta,
            value,
        })
}

fn item() -> impl Strategy<Value = Item<'static>> {
    prop_oneof![
        4 => entry().prop_map(Item::Key),
        1 => (bytes(), bytes()).prop_map(|(name, value)| Item::Aux { name, value }),
        1 => bytes().prop_map(|code| Item::Function { code }),
        1 => (bytes(), bytes(), proptest::option::of(bytes()), bytes())
            .prop_map(|(name, engine, description, code)| Item::FunctionPreGa { name, engine, description, code }),
        1 => (any::<u64>(), any::<u64>(), module_items())
            .prop_map(|(id, when, payload)| Item::ModuleAux { id, when, payload: Cow::Owned(payload) }),
        1 => (bytes(), vec(any::<(u64, u64)>(), 0..3)).prop_map(|(job, ranges)| Item::SlotImport { job, ranges }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_items_read_back_equal(items in vec(item(), 0..6), version in 1u32..=14) {
        let header = Header { vendor: Vendor::Redis, version };
        let mut records = vec![Vec::new()];
        json::write_header(&mut records[0], &header);
        for item in &items {
            let mut out = Vec::new();
            write_item(&mut out, item);
            records.push(out);
        }
        let lines = records.join(&b'\n');
        let document = [&b"[\n"[..], &records.join(&b"\n,"[..]), b"\n]\n"].concat();
        for json in [lines, document] {
            let (got_header, got) = read_json(&json).unwrap();
            prop_assert_eq!(got_header, Some(header));
            assert_same_items(&items, &got, &String::from_utf8_lossy(&json));
        }
    }
}
