//! The logical content of a dump, independent of the file it came from: what writers consume.
//!
//! The RDB reader and the JSON reader both produce [`Item`]s; the RDB writer, the RESP writer
//! and the JSON writer turn them into files. Strings borrow from the input where they can.

use std::borrow::Cow;

use crate::error::Result;
use crate::rdb::RdbStr;
use crate::rdb::reader::{KeyEntry, KeyMetaClass, Record};
use crate::rdb::{Bytes, Value};

/// One item of a dataset, in file order.
#[derive(Clone, Debug, PartialEq)]
pub enum Item<'a> {
    /// An auxiliary field (`redis-ver`, `ctime`, `aof-base`, …).
    Aux {
        /// Field name.
        name: Bytes<'a>,
        /// Field value.
        value: Bytes<'a>,
    },
    /// A function library: its source, starting with `#!<engine> name=<lib>`.
    Function {
        /// The library source.
        code: Bytes<'a>,
    },
    /// A function library from a Redis 7.0 release candidate (`FUNCTION CREATE`): released
    /// servers load it as [`Item::Function`] with the source [`pre_ga_library_code`] builds.
    FunctionPreGa {
        /// Function name.
        name: Bytes<'a>,
        /// Engine name.
        engine: Bytes<'a>,
        /// Description, when one was given.
        description: Option<Bytes<'a>>,
        /// Function body.
        code: Bytes<'a>,
    },
    /// Module aux data, opaque.
    ModuleAux {
        /// Module type id (name and encoding version).
        id: u64,
        /// When it is saved relative to the keys (1 before, 2 after).
        when: u64,
        /// The module items, end marker included.
        payload: Cow<'a, [u8]>,
    },
    /// An unfinished Valkey 9 slot import.
    SlotImport {
        /// The import job's name.
        job: Bytes<'a>,
        /// Slot ranges, inclusive.
        ranges: Vec<(u64, u64)>,
    },
    /// A key and its value.
    Key(Entry<'a>),
}

/// A key with its value and metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<'a> {
    /// Database number.
    pub db: u64,
    /// Key name.
    pub key: Bytes<'a>,
    /// Absolute expiry, Unix ms.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds, when known.
    pub idle_s: Option<u64>,
    /// LFU counter, when known.
    pub freq: Option<u8>,
    /// Module key metadata (Redis 8.6+).
    pub key_meta: Vec<KeyMetaClass<'a>>,
    /// The value.
    pub value: Value<'a>,
}

impl Item<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Item<'static> {
        match self {
            Item::Aux { name, value } => Item::Aux { name: name.into_owned(), value: value.into_owned() },
            Item::Function { code } => Item::Function { code: code.into_owned() },
            Item::FunctionPreGa { name, engine, description, code } => Item::FunctionPreGa {
                name: name.into_owned(),
                engine: engine.into_owned(),
                description: description.map(Bytes::into_owned),
                code: code.into_owned(),
            },
            Item::ModuleAux { id, when, payload } => {
                Item::ModuleAux { id, when, payload: Cow::Owned(payload.into_owned()) }
            }
            Item::SlotImport { job, ranges } => Item::SlotImport { job: job.into_owned(), ranges },
            Item::Key(e) => Item::Key(Entry {
                db: e.db,
                key: e.key.into_owned(),
                expire_ms: e.expire_ms,
                idle_s: e.idle_s,
                freq: e.freq,
                key_meta: e
                    .key_meta
                    .into_iter()
                    .map(|c| KeyMetaClass { spec: c.spec, payload: Cow::Owned(c.payload.into_owned()) })
                    .collect(),
                value: e.value.into_owned(),
            }),
        }
    }
}

impl<'a> Item<'a> {
    /// The item an RDB record holds, with its value decoded; `None` for framing records
    /// (SELECTDB, RESIZEDB, slot sizes, EOF), which writers derive themselves.
    ///
    /// # Errors
    /// A string or value that does not decode.
    pub fn from_record(record: &Record<'a>) -> Result<Option<Item<'a>>> {
        Ok(Some(match record {
            Record::Aux { name, value } => Item::Aux { name: name.decode()?, value: value.decode()? },
            Record::Function { code } => Item::Function { code: code.decode()? },
            Record::FunctionPreGa { name, engine, description, code } => Item::FunctionPreGa {
                name: name.decode()?,
                engine: engine.decode()?,
                description: description.map(RdbStr::decode).transpose()?,
                code: code.decode()?,
            },
            Record::ModuleAux { id, when, payload } => {
                Item::ModuleAux { id: *id, when: *when, payload: Cow::Borrowed(payload) }
            }
            Record::SlotImport { job, ranges } => {
                Item::SlotImport { job: job.decode()?, ranges: ranges.clone() }
            }
            Record::Key(entry) => Item::Key(Entry::from_key_entry(entry)?),
            Record::SelectDb { .. } | Record::ResizeDb { .. } | Record::SlotInfo { .. } | Record::Eof(_) => {
                return Ok(None);
            }
        }))
    }
}

impl<'a> Entry<'a> {
    /// Decodes a key read from an RDB file.
    ///
    /// # Errors
    /// The key or value does not decode (the error names the key).
    pub fn from_key_entry(entry: &KeyEntry<'a>) -> Result<Entry<'a>> {
        Ok(Entry {
            db: entry.db,
            key: entry.key.decode().map_err(|e| entry.annotate(e))?,
            expire_ms: entry.expire_ms,
            idle_s: entry.idle_s,
            freq: entry.freq,
            key_meta: entry.key_meta.clone(),
            value: entry.value()?,
        })
    }
}

/// The source of a released-format library for a Redis 7.0 release-candidate function: the
/// `#!<engine> name=<name>` line, then the code (the description has no place there).
pub fn pre_ga_library_code(name: &Bytes<'_>, engine: &Bytes<'_>, code: &Bytes<'_>) -> Vec<u8> {
    let mut out = b"#!".to_vec();
    out.extend(engine.as_cow().to_ascii_lowercase());
    out.extend_from_slice(b" name=");
    out.extend_from_slice(&name.as_cow());
    out.push(b'\n');
    out.extend_from_slice(&code.as_cow());
    out
}
