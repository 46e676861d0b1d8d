//! Writer → reader round trips over arbitrary keyspaces, for every target.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::expect::as_written;
use super::{FileOptions, Lossy, RdbFile, Target, ValueWriter};
use crate::dataset::{Entry, Item};
use crate::rdb::stream::{Consumer, ConsumerGroup, PendingEntry, Stream, StreamEntry, StreamId};
use crate::rdb::{Bytes, HashField, Reader, Value};

/// Writes `items` for `target` and reads the file back.
fn round_trip(target: Target, items: &[Item<'_>], lossy: Lossy) -> Vec<Item<'static>> {
    let mut file = RdbFile::new(Vec::new(), ValueWriter::new(target, lossy), FileOptions::default()).unwrap();
    for item in items {
        file.write_item(item).unwrap();
    }
    let (bytes, len, _) = file.finish().unwrap();
    assert_eq!(len, bytes.len() as u64);
    let mut reader = Reader::new(&bytes).unwrap();
    assert_eq!(reader.header().version, target.version());
    let mut back = Vec::new();
    let mut trailer = None;
    while let Some(record) = reader.next_record().unwrap() {
        if let crate::rdb::Record::Eof(t) = record {
            trailer = Some(t);
        } else if let Some(item) = Item::from_record(&record).unwrap() {
            back.push(item.into_owned());
        }
    }
    assert!(crate::rdb::reader::verify_checksum(&bytes, &trailer.unwrap()).unwrap());
    back
}

fn expected(target: Target, items: &[Item<'_>], lossy: Lossy) -> Vec<Item<'static>> {
    items.iter().filter_map(|i| as_written(target, i, lossy)).collect()
}

fn canonical(items: Vec<Item<'static>>) -> Vec<Item<'static>> {
    items
        .into_iter()
        .filter_map(|i| match i {
            Item::Key(mut e) => {
                super::expect::canonicalize(&mut e.value);
                Some(Item::Key(e))
            }
            Item::Aux { .. } => None,
            other => Some(other),
        })
        .collect()
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..24),
        2 => any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        2 => (-300i64..70000).prop_map(|v| v.to_string().into_bytes()),
        1 => proptest::sample::select(vec![b"-0".to_vec(), b"007".to_vec(), b"".to_vec(), b"\0".to_vec()]),
        1 => (60usize..3000).prop_map(|n| b"abc".repeat(n / 3)),
        1 => proptest::collection::vec(any::<u8>(), 60..200),
    ]
}

fn owned(b: Vec<u8>) -> Bytes<'static> {
    Bytes::Owned(b)
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>().prop_filter("not NaN", |s| !s.is_nan()),
        3 => (-1000i64..1000).prop_map(|i| i as f64),
        1 => proptest::sample::select(vec![0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, 0.1, 1e300, 9007199254740993.0]),
    ]
}

fn id() -> impl Strategy<Value = StreamId> {
    (0u64..5, 0u64..4).prop_map(|(ms, seq)| StreamId { ms, seq })
}

fn stream() -> impl Strategy<Value = Stream<'static>> {
    let entries = proptest::collection::btree_map(
        (any::<u64>(), 0u64..3),
        proptest::collection::vec((bytes(), bytes()), 0..4),
        0..250,
    );
    let groups = proptest::collection::btree_map(
        bytes(),
        (
            id(),
            proptest::option::of(-1i64..100),
            proptest::collection::vec((bytes(), any::<i64>(), 0u8..3), 0..4),
        ),
        0..3,
    );
    (entries, groups, any::<u64>(), id(), any::<u64>()).prop_map(
        |(entries, groups, length, max_deleted, added)| {
            let entries: Vec<StreamEntry<'static>> = entries
                .into_iter()
                .map(|((ms, seq), fields)| StreamEntry {
                    id: StreamId { ms, seq },
                    fields: fields.into_iter().map(|(f, v)| (owned(f), owned(v))).collect(),
                })
                .collect();
            let last_id = entries.last().map_or(StreamId { ms: 7, seq: 0 }, |e| e.id);
            let groups = groups
                .into_iter()
                .map(|(name, (last_id, entries_read, consumers))| {
                    let mut pending = Vec::new();
                    let consumers = consumers
                        .into_iter()
                        .enumerate()
                        .map(|(i, (cname, seen, npending))| {
                            let ids: Vec<StreamId> = (0..u64::from(npending))
                                .map(|k| StreamId { ms: 1000 + i as u64, seq: k })
                                .collect();
                            for id in &ids {
                                pending.push(PendingEntry {
                                    id: *id,
                                    delivery_time_ms: seen,
                                    delivery_count: k_of(id),
                                    consumer: Some(i),
                                });
                            }
                            let mut name = cname;
                            name.extend_from_slice(&(i as u32).to_be_bytes());
                            Consumer {
                                name: owned(name),
                                seen_time_ms: seen,
                                active_time_ms: Some(seen ^ 1),
                                pending: ids,
                            }
                        })
                        .collect();
                    ConsumerGroup {
                        name: owned(name),
                        last_id,
                        entries_read,
                        pending,
                        consumers,
                        nacked: None,
                    }
                })
                .collect();
            Stream {
                entries,
                length,
                last_id,
                first_id: None,
                max_deleted_id: Some(max_deleted),
                entries_added: Some(added),
                groups,
                idmp: None,
                nodes: None,
            }
        },
    )
}

fn k_of(id: &StreamId) -> u64 {
    id.seq + 1
}

fn value(field_ttls: bool) -> impl Strategy<Value = Value<'static>> {
    let members = || proptest::collection::btree_set(bytes(), 1..40);
    prop_oneof![
        bytes().prop_map(|b| Value::String(owned(b))),
        any::<i64>().prop_map(|i| Value::String(Bytes::Int(i))),
        proptest::collection::vec(bytes(), 1..400)
            .prop_map(|v| Value::List(v.into_iter().map(owned).collect())),
        members().prop_map(|s| Value::Set(s.into_iter().map(owned).collect())),
        proptest::collection::btree_set(-600i64..600, 1..600)
            .prop_map(|s| Value::Set(s.into_iter().map(|i| owned(i.to_string().into_bytes())).collect())),
        proptest::collection::btree_set(bytes(), 100..200)
            .prop_map(|s| Value::Set(s.into_iter().map(owned).collect())),
        proptest::collection::btree_map(bytes(), score(), 1..200)
            .prop_map(|m| Value::ZSet(m.into_iter().map(|(k, s)| (owned(k), s)).collect())),
        proptest::collection::btree_map(
            bytes(),
            (bytes(), proptest::option::weighted(0.3, 1i64..1 << 45)),
            1..200
        )
        .prop_map(move |m| Value::Hash(
            m.into_iter()
                .map(|(field, (value, ttl))| HashField {
                    field: owned(field),
                    value: owned(value),
                    expire_ms: ttl.filter(|_| field_ttls),
                })
                .collect()
        )),
        stream().prop_map(|s| Value::Stream(Box::new(s))),
    ]
}

fn keyspace(field_ttls: bool) -> impl Strategy<Value = Vec<Item<'static>>> {
    let key = (
        0u64..3,
        bytes(),
        proptest::option::of(any::<i64>()),
        proptest::option::of(0u64..1 << 40),
        proptest::option::of(any::<u8>()),
    );
    proptest::collection::vec((key, value(field_ttls)), 0..12).prop_map(|keys| {
        let mut seen = BTreeSet::new();
        let mut by_db: BTreeMap<u64, Vec<Item<'static>>> = BTreeMap::new();
        for ((db, key, expire_ms, idle_s, freq), value) in keys {
            if seen.insert((db, key.clone())) {
                let entry =
                    Entry { db, key: owned(key), expire_ms, idle_s, freq, key_meta: Vec::new(), value };
                by_db.entry(db).or_default().push(Item::Key(entry));
            }
        }
        let mut items = vec![Item::Function { code: owned(b"#!lua name=lib\nreturn 1".to_vec()) }];
        items.extend(by_db.into_values().flatten());
        items
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_target_reads_back_what_was_written(items in keyspace(true)) {
        for target in Target::ALL {
            let lossy = Lossy { field_ttls: true, functions: true };
            prop_assert_eq!(canonical(round_trip(target, &items, lossy)), expected(target, &items, lossy), "{}", target);
        }
    }
}

#[test]
fn targets_without_field_ttls_refuse_them_unless_told() {
    let hash = Value::Hash(vec![HashField {
        field: owned(b"f".to_vec()),
        value: owned(b"v".to_vec()),
        expire_ms: Some(5),
    }]);
    let item = Item::Key(Entry {
        db: 0,
        key: owned(b"k".to_vec()),
        expire_ms: None,
        idle_s: None,
        freq: None,
        key_meta: Vec::new(),
        value: hash,
    });
    let target = Target::parse("11").unwrap();
    let mut file =
        RdbFile::new(Vec::new(), ValueWriter::new(target, Lossy::default()), FileOptions::default()).unwrap();
    let err = file.write_item(&item).unwrap_err().to_string();
    assert!(
        err.contains("REDIS0011") && err.contains("hash field TTLs") && err.contains("--drop-field-ttls"),
        "{err}"
    );
    let mut file = RdbFile::new(
        Vec::new(),
        ValueWriter::new(target, Lossy { field_ttls: true, functions: false }),
        FileOptions::default(),
    )
    .unwrap();
    file.write_item(&item).unwrap();
    assert_eq!(file.finish().unwrap().2.field_ttls_dropped, 1);
}
