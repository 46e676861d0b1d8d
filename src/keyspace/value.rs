//! Values as the keyspace holds them: owned and indexed for the commands that change them.

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};

use rustc_hash::{FxHashMap, FxHashSet};

use super::Slot;
use super::small::SmallBytes;
use crate::dataset::Entry;
use crate::rdb::module::ModuleValue;
use crate::rdb::stream::Stream;
use crate::rdb::{Bytes, HashField, Kind, Value};

/// A value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// A string (also bitmaps and HyperLogLogs).
    Str(SmallBytes),
    /// A list, head first.
    List(Box<VecDeque<Vec<u8>>>),
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
}

/// A hash field's value and expiry (Unix ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashValue {
    /// The value.
    pub value: SmallBytes,
    /// Absolute expiry, Unix ms.
    pub expire_ms: Option<i64>,
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
            Val::Module(_) => Kind::Module,
        }
    }

    /// True for a collection without elements (servers delete such keys).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Val::List(v) => v.is_empty(),
            Val::Set(v) => v.is_empty(),
            Val::ZSet(v) => v.is_empty(),
            Val::Hash(v) => v.is_empty(),
            Val::Str(_) | Val::Stream(_) | Val::Module(_) => false,
        }
    }

    /// The keyspace form of a decoded value.
    pub fn from_value(value: Value<'_>) -> Val {
        let owned = |b: Bytes<'_>| SmallBytes::from(b.as_cow().as_ref());
        match value {
            Value::String(s) => Val::Str(owned(s)),
            Value::List(v) => Val::List(Box::new(v.into_iter().map(|e| e.to_vec()).collect())),
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
                    .map(|f| (owned(f.field), HashValue { value: owned(f.value), expire_ms: f.expire_ms }))
                    .collect(),
            )),
            Value::Stream(s) => Val::Stream(Box::new(s.into_owned())),
            Value::Module(m) => Val::Module(Box::new(m.into_owned())),
        }
    }

    /// The value in the dataset model, borrowing from the keyspace. Sets and hashes come
    /// sorted (by member, by field) so that output does not depend on hashing.
    pub fn to_value(&self) -> Value<'_> {
        fn b(v: &[u8]) -> Bytes<'_> {
            Bytes::Borrowed(v)
        }
        match self {
            Val::Str(s) => Value::String(b(s)),
            Val::List(v) => Value::List(v.iter().map(|e| b(e)).collect()),
            Val::Set(v) => {
                let mut members: Vec<Bytes<'_>> = v.iter().map(|e| b(e)).collect();
                members.sort_unstable_by(|x, y| x.as_cow().cmp(&y.as_cow()));
                Value::Set(members)
            }
            Val::ZSet(z) => Value::ZSet(z.iter().map(|(m, s)| (b(m), s)).collect()),
            Val::Hash(h) => {
                let mut fields: Vec<HashField<'_>> = h
                    .iter()
                    .map(|(f, v)| HashField { field: b(f), value: b(&v.value), expire_ms: v.expire_ms })
                    .collect();
                fields.sort_unstable_by(|x, y| x.field.as_cow().cmp(&y.field.as_cow()));
                Value::Hash(fields)
            }
            Val::Stream(s) => Value::Stream(s.clone()),
            Val::Module(m) => Value::Module((**m).clone()),
        }
    }
}

impl Slot {
    /// The key as a dataset entry of database `db`.
    pub fn to_entry<'k>(&'k self, db: u64, key: &'k [u8]) -> Entry<'k> {
        Entry {
            db,
            key: Bytes::Borrowed(key),
            expire_ms: self.expire_ms(),
            idle_s: None,
            freq: None,
            key_meta: Vec::new(),
            value: self.val.to_value(),
        }
    }
}
