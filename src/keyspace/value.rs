//! Values as the keyspace holds them: owned and indexed for the commands that change them.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeSet;

use rustc_hash::{FxHashMap, FxHashSet};

use super::small::SmallBytes;
use super::{Expiry, PackedList, Slot};
use crate::dataset::Entry;
use crate::rdb::module::ModuleValue;
use crate::rdb::stream::Stream;
use crate::rdb::{Bytes, HashField, Kind, Value};
use crate::vector_set::{VECTOR_SET_MODULE, VectorSet};

/// A value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// A string (also bitmaps and HyperLogLogs).
    Str(SmallBytes),
    /// A list, head first (boxed: keys of other types should not pay for its size).
    List(Box<PackedList>),
    /// A set.
    Set(Box<FxHashSet<SmallBytes>>),
    /// A sorted set (boxed: it is the largest variant, and keys of other types should not pay
    /// for its size).
    ZSet(Box<ZSet>),
    /// A hash; fields may carry an absolute expiry.
    Hash(Box<FxHashMap<SmallBytes, HashValue>>),
    /// A stream.
    Stream(Box<Stream<'static>>),
    /// A module value, opaque.
    Module(Box<ModuleValue<'static>>),
    /// A vector set built by `VADD` (one read from a file is a module value).
    VectorSet(Box<VectorSet>),
}

/// A hash field's value and expiry (Unix ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashValue {
    /// The value.
    pub value: SmallBytes,
    /// Absolute expiry.
    expire_ms: Expiry,
}

impl HashValue {
    /// `value`, expiring at `expire_ms` (Unix ms).
    pub fn new(value: SmallBytes, expire_ms: Option<i64>) -> HashValue {
        HashValue { value, expire_ms: Expiry::new(expire_ms) }
    }

    /// Absolute expiry, Unix ms.
    pub fn expire_ms(&self) -> Option<i64> {
        self.expire_ms.get()
    }

    /// Sets or clears the expiry.
    pub fn set_expire_ms(&mut self, expire_ms: Option<i64>) {
        self.expire_ms = Expiry::new(expire_ms);
    }
}

/// A sorted set: scores by member, and members in (score, member) order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSet {
    scores: FxHashMap<SmallBytes, f64>,
    order: BTreeSet<Ranked>,
}

/// A member in `ZRANGE` order: by score, then by member bytes.
#[derive(Clone, Debug, PartialEq)]
struct Ranked(f64, SmallBytes);

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        // Scores are never NaN; -0.0 and 0.0 rank equal, as the servers compare them.
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal).then_with(|| self.1.cmp(&other.1))
    }
}

impl ZSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True without members.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score; returns the previous one.
    pub fn insert(&mut self, member: SmallBytes, score: f64) -> Option<f64> {
        let old = self.remove(&member);
        self.order.insert(Ranked(score, member.clone()));
        self.scores.insert(member, score);
        old
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.remove(member)?;
        self.order.remove(&Ranked(score, SmallBytes::from(member)));
        Some(score)
    }

    /// Members in rank order (lowest score first).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        self.order.iter().map(|r| (r.1.as_slice(), r.0))
    }
}

impl Val {
    /// The logical type.
    pub fn kind(&self) -> Kind {
        match self {
            Val::Str(_) => Kind::String,
            Val::List(_) => Kind::List,
            Val::Set(_) => Kind::Set,
            Val::ZSet(_) => Kind::ZSet,
            Val::Hash(_) => Kind::Hash,
            Val::Stream(_) => Kind::Stream,
            Val::Module(_) | Val::VectorSet(_) => Kind::Module,
        }
    }

    /// Elements of a list, set, sorted set, hash or vector set; 1 for other values.
    pub fn elements(&self) -> usize {
        match self {
            Val::List(v) => v.len(),
            Val::Set(v) => v.len(),
            Val::ZSet(v) => v.len(),
            Val::Hash(v) => v.len(),
            Val::VectorSet(v) => v.elements.len(),
            Val::Str(_) | Val::Stream(_) | Val::Module(_) => 1,
        }
    }

    /// True for a vector set, built by commands or read from a file.
    pub fn is_vector_set(&self) -> bool {
        match self {
            Val::VectorSet(_) => true,
            Val::Module(m) => m.name() == VECTOR_SET_MODULE,
            _ => false,
        }
    }

    /// True for a collection without elements (servers delete such keys).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Val::List(v) => v.is_empty(),
            Val::Set(v) => v.is_empty(),
            Val::ZSet(v) => v.is_empty(),
            Val::Hash(v) => v.is_empty(),
            Val::VectorSet(v) => v.elements.is_empty(),
            Val::Str(_) | Val::Stream(_) | Val::Module(_) => false,
        }
    }

    /// The keyspace form of a decoded value.
    pub fn from_value(value: Value<'_>) -> Val {
        let owned = |b: Bytes<'_>| SmallBytes::from(b.as_cow().as_ref());
        match value {
            Value::String(s) => Val::Str(owned(s)),
            Value::List(v) => Val::List(Box::new(v.iter().map(Bytes::as_cow).collect())),
            Value::Set(v) => Val::Set(Box::new(v.into_iter().map(owned).collect())),
            Value::ZSet(v) => {
                let mut z = ZSet::default();
                for (m, s) in v {
                    z.insert(owned(m), s);
                }
                Val::ZSet(Box::new(z))
            }
            Value::Hash(v) => Val::Hash(Box::new(
                v.into_iter()
                    .map(|f| (owned(f.field), HashValue::new(owned(f.value), f.expire_ms)))
                    .collect(),
            )),
            Value::Stream(s) => {
                let mut s = s.into_owned();
                super::stream_nodes::forget_if_inconsistent(&mut s);
                Val::Stream(Box::new(s))
            }
            Value::Module(m) => Val::Module(Box::new(m.into_owned())),
            Value::VectorSet(v) => Val::VectorSet(Box::new(v.into_owned())),
        }
    }

    /// The value in the dataset model, borrowing from the keyspace. Sets and hashes come in
    /// the order of their hash tables: deterministic for the same commands, but not sorted.
    pub fn to_value(&self) -> Value<'_> {
        match self {
            Val::Str(s) => Value::String(borrowed(s)),
            Val::List(v) => Value::List(v.iter().map(|e| borrowed(e)).collect()),
            Val::Set(v) => Value::Set(v.iter().map(|e| borrowed(e)).collect()),
            Val::ZSet(z) => Value::ZSet(z.iter().map(|(m, s)| (borrowed(m), s)).collect()),
            Val::Hash(h) => Value::Hash(h.iter().map(hash_field).collect()),
            Val::Stream(s) => Value::Stream(s.clone()),
            Val::Module(m) => Value::Module((**m).clone()),
            Val::VectorSet(v) => Value::VectorSet(Cow::Borrowed(&**v)),
        }
    }

    /// The value as pieces of at most `items` elements that, added one after the other by
    /// the commands that add elements (`RPUSH`, `SADD`, `ZADD`, `HSET`, `VADD`), build it:
    /// lists, sets, sorted sets and hashes without field expiries; other values come whole. Output of a large collection then never needs a copy of all of it.
    pub fn pieces(&self, items: usize) -> Box<dyn Iterator<Item = Value<'_>> + '_> {
        match self {
            Val::List(v) if v.len() > items => {
                Box::new(chunks(v.iter().map(|e| borrowed(e)), items).map(Value::List))
            }
            Val::Set(v) if v.len() > items => {
                Box::new(chunks(v.iter().map(|e| borrowed(e)), items).map(Value::Set))
            }
            Val::ZSet(z) if z.len() > items => {
                Box::new(chunks(z.iter().map(|(m, s)| (borrowed(m), s)), items).map(Value::ZSet))
            }
            Val::Hash(h) if h.len() > items && h.values().all(|v| v.expire_ms().is_none()) => {
                Box::new(chunks(h.iter().map(hash_field), items).map(Value::Hash))
            }
            _ => Box::new(std::iter::once(self.to_value())),
        }
    }
}

fn borrowed(v: &[u8]) -> Bytes<'_> {
    Bytes::Borrowed(v)
}

fn hash_field<'v>((field, value): (&'v SmallBytes, &'v HashValue)) -> HashField<'v> {
    HashField { field: borrowed(field), value: borrowed(&value.value), expire_ms: value.expire_ms() }
}

/// `iter` in vectors of `n` (the last one shorter).
fn chunks<T>(mut iter: impl Iterator<Item = T>, n: usize) -> impl Iterator<Item = Vec<T>> {
    std::iter::from_fn(move || {
        let chunk: Vec<T> = iter.by_ref().take(n).collect();
        (!chunk.is_empty()).then_some(chunk)
    })
}

impl Slot {
    /// The key as a dataset entry of database `db`.
    pub fn to_entry<'k>(&'k self, db: u64, key: &'k [u8]) -> Entry<'k> {
        self.entry_of(db, key, self.val.to_value(), self.expire_ms())
    }

    /// The key as entries of database `db` holding the [`Val::pieces`] of its value; the
    /// last one carries the expiry.
    pub fn to_entries<'k>(&'k self, db: u64, key: &'k [u8], items: usize) -> impl Iterator<Item = Entry<'k>> {
        let mut pieces = self.val.pieces(items).peekable();
        std::iter::from_fn(move || {
            let value = pieces.next()?;
            let expire_ms = if pieces.peek().is_none() { self.expire_ms() } else { None };
            Some(self.entry_of(db, key, value, expire_ms))
        })
    }

    fn entry_of<'k>(&self, db: u64, key: &'k [u8], value: Value<'k>, expire_ms: Option<i64>) -> Entry<'k> {
        Entry {
            db,
            key: Bytes::Borrowed(key),
            expire_ms,
            idle_s: None,
            freq: None,
            key_meta: Vec::new(),
            value,
        }
    }
}
