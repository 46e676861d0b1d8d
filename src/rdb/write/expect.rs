//! What a dataset looks like after a trip through a writer: the yardstick for round-trip
//! checks (tests, fuzzing, and comparing a converted file with its source).

use super::record::is_empty_collection;
use super::target::{FieldTtls, Target};
use super::value::Lossy;
use crate::dataset::{Entry, Item, pre_ga_library_code};
use crate::error::Result;
use crate::rdb::stream::{Idmp, Stream, StreamId};
use crate::rdb::{Bytes, Reader, Value};

/// The item as reading back a file written for `target` gives it, in canonical order
/// (see [`canonicalize`]); `None` for what the writer does not carry over (aux fields,
/// empty collections, what `lossy` drops).
pub fn as_written(target: Target, item: &Item<'_>, lossy: Lossy) -> Option<Item<'static>> {
    let Item::Key(entry) = item else {
        return match item {
            Item::Aux { .. } => None,
            Item::Function { .. } | Item::FunctionPreGa { .. }
                if lossy.functions && !target.has_functions() =>
            {
                None
            }
            Item::FunctionPreGa { name, engine, code, .. } => {
                Some(Item::Function { code: Bytes::Owned(pre_ga_library_code(name, engine, code)) })
            }
            other => Some(owned_item(other)),
        };
    };
    if is_empty_collection(&entry.value) {
        return None;
    }
    let mut value = owned_value(&entry.value);
    match &mut value {
        Value::Hash(fields) if lossy.field_ttls && target.field_ttls() == FieldTtls::None => {
            fields.iter_mut().for_each(|f| f.expire_ms = None);
        }
        Value::Stream(s) => as_written_stream(target.stream_version(), s),
        _ => {}
    }
    let mut entry = Entry {
        db: entry.db,
        key: entry.key.clone().into_owned(),
        expire_ms: entry.expire_ms,
        idle_s: entry.idle_s,
        freq: entry.freq,
        key_meta: Vec::new(),
        value,
    };
    canonicalize(&mut entry.value);
    Some(Item::Key(entry))
}

/// Every item of an RDB file but its aux fields, keys' values in canonical order: what
/// [`as_written`] is compared with.
///
/// # Errors
/// The file does not read.
pub fn read_back(rdb: &[u8]) -> Result<Vec<Item<'static>>> {
    let mut reader = Reader::new(rdb)?;
    let mut items = Vec::new();
    while let Some(record) = reader.next_record()? {
        match Item::from_record(&record)? {
            None | Some(Item::Aux { .. }) => {}
            Some(mut item) => {
                if let Item::Key(e) = &mut item {
                    canonicalize(&mut e.value);
                }
                items.push(item.into_owned());
            }
        }
    }
    Ok(items)
}

/// Sorts what has no defined order (set members, sorted-set members, hash fields) by bytes,
/// so that two readings of the same data compare equal.
pub fn canonicalize(value: &mut Value<'_>) {
    match value {
        Value::Set(members) => members.sort_by(|a, b| a.as_cow().cmp(&b.as_cow())),
        Value::ZSet(members) => members.sort_by(|a, b| a.0.as_cow().cmp(&b.0.as_cow())),
        Value::Hash(fields) => fields.sort_by(|a, b| a.field.as_cow().cmp(&b.field.as_cow())),
        _ => {}
    }
}

/// Stream metadata as a layout of `version` stores it.
fn as_written_stream(version: u8, s: &mut Stream<'_>) {
    if version < 2 {
        s.first_id = None;
        s.max_deleted_id = None;
        s.entries_added = None;
    } else {
        let first = s.entries.first().map_or_else(StreamId::default, |e| e.id);
        s.first_id = Some(s.first_id.unwrap_or(first));
        s.max_deleted_id = Some(s.max_deleted_id.unwrap_or_default());
        s.entries_added = Some(s.entries_added.unwrap_or(s.length));
    }
    if version < 4 {
        s.idmp = None;
    } else if s.idmp.is_none() {
        s.idmp = Some(Idmp::server_default());
    }
    for g in &mut s.groups {
        g.entries_read = if version < 2 { None } else { Some(g.entries_read.unwrap_or(-1)) };
        g.nacked = None;
        for c in &mut g.consumers {
            c.active_time_ms =
                if version < 3 { None } else { Some(c.active_time_ms.unwrap_or(c.seen_time_ms)) };
        }
    }
}

fn owned_item(item: &Item<'_>) -> Item<'static> {
    item.clone().into_owned()
}

fn owned_value(value: &Value<'_>) -> Value<'static> {
    value.clone().into_owned()
}
