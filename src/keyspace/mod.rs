//! An in-memory model of a server's databases that applies the commands servers write to an
//! AOF, with their semantics, and loads from and writes to the dataset model ([`Item`]).
//!
//! Each key remembers when (the latest `#TS:` annotation) and from which input it was last
//! written, for `merge`. Commands arrive as [`CommandRecord`]s; one the model does not know, or
//! one a server would have rejected (so the log and the model disagree), stops with an error
//! naming the command, the input file and the offset.

mod apply;
mod args;
mod bitfield;
mod function;
mod hash;
mod hll;
mod keys;
mod list;
mod load;
mod set;
mod stream;
mod string;
mod value;
mod zset;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

pub use apply::Applier;
pub use value::{HashValue, Val, ZSet};

use crate::dataset::Item;
use crate::rdb::Bytes;

/// When and from where a key was last written (16 bytes: every key carries one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    /// The latest `#TS:` annotation before the write, Unix seconds; [`NO_TS`] for none.
    ts: i64,
    source: u32,
}

/// The stored time of a write with no `#TS:` annotation before it.
const NO_TS: i64 = i64::MIN;

impl Stamp {
    /// A write after annotation `ts` (Unix seconds) from input `source`.
    pub fn new(ts: Option<i64>, source: u32) -> Stamp {
        Stamp { ts: ts.unwrap_or(NO_TS), source }
    }

    /// The latest `#TS:` annotation before the write, Unix seconds.
    pub fn ts(self) -> Option<i64> {
        (self.ts != NO_TS).then_some(self.ts)
    }

    /// Index of the input the write came from.
    pub fn source(self) -> u32 {
        self.source
    }
}

/// A key's value, expiry and last write.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    /// The value.
    pub val: Val,
    /// Absolute expiry, Unix ms.
    pub expire_ms: Option<i64>,
    /// The last write.
    pub written: Stamp,
}

/// One database: keys to their slots.
pub type Db = FxHashMap<Box<[u8]>, Slot>;

/// Every database, plus function libraries.
#[derive(Clone, Debug, Default)]
pub struct Keyspace {
    /// Non-empty databases by number.
    pub dbs: BTreeMap<u64, Db>,
    /// Function libraries by name: their source code.
    pub functions: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Keyspace {
    /// An empty keyspace.
    pub fn new() -> Keyspace {
        Keyspace::default()
    }

    /// The database `db`, created empty if needed.
    pub fn db_mut(&mut self, db: u64) -> &mut Db {
        self.dbs.entry(db).or_default()
    }

    /// The slot of `key` in `db`.
    pub fn get(&self, db: u64, key: &[u8]) -> Option<&Slot> {
        self.dbs.get(&db)?.get(key)
    }

    /// Number of keys in every database.
    pub fn len(&self) -> usize {
        self.dbs.values().map(FxHashMap::len).sum()
    }

    /// True when no database holds a key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dataset as items: function libraries, then each database's keys sorted by name
    /// (so output does not depend on hashing). Keys whose expiry is at or before
    /// `drop_expired_at` (Unix ms) are left out.
    pub fn items(&self, drop_expired_at: Option<i64>) -> impl Iterator<Item = Item<'_>> + '_ {
        let functions = self.functions.values().map(|code| Item::Function { code: Bytes::Borrowed(code) });
        let keys = self.dbs.iter().flat_map(move |(&db, keys)| {
            let mut sorted: Vec<(&Box<[u8]>, &Slot)> = keys
                .iter()
                .filter(|(_, s)| !matches!((drop_expired_at, s.expire_ms), (Some(now), Some(e)) if e <= now))
                .collect();
            sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
            sorted.into_iter().map(move |(key, slot)| Item::Key(slot.to_entry(db, key)))
        });
        functions.chain(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stay_small() {
        // Every key pays for a slot: the largest value kind is boxed and the stamp packed.
        assert!(size_of::<Slot>() <= 72, "{} bytes", size_of::<Slot>());
        assert!(size_of::<Val>() <= 40, "{} bytes", size_of::<Val>());
        assert_eq!(size_of::<Stamp>(), 16);
    }
}
