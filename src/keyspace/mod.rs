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
mod db;
mod function;
mod geo;
mod halves;
mod hash;
mod hll;
mod keys;
mod list;
mod load;
mod packed_list;
mod set;
mod small;
mod sort;
mod stream;
mod stream_idmp;
mod stream_nodes;
mod stream_refs;
mod string;
mod value;
mod vector_set;
mod zset;

use std::collections::BTreeMap;

pub use apply::Applier;
pub use db::Db;
pub use packed_list::PackedList;
pub use small::SmallBytes;
pub use value::{HashValue, Val, ZSet};

use crate::dataset::Item;
use crate::rdb::Bytes;

/// When and from where a key was last written, packed in 8 bytes (every key carries one):
/// the `#TS:` time in the high 48 bits, the input's number in the low 16.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(i64);

/// The stored time of a write with no `#TS:` annotation before it (the smallest 48-bit time).
const NO_TS: i64 = -(1 << 47);

/// The largest time a stamp holds (about 4.4 million years after 1970); later annotations
/// are kept as this.
const MAX_TS: i64 = (1 << 47) - 1;

/// The most inputs a keyspace tells apart.
pub const MAX_SOURCES: usize = 1 << 16;

impl Stamp {
    /// A write after annotation `ts` (Unix seconds) from input `source` (below
    /// [`MAX_SOURCES`]; larger numbers wrap). Times outside ±2^47 seconds are clamped.
    pub fn new(ts: Option<i64>, source: u32) -> Stamp {
        let ts = ts.map_or(NO_TS, |t| t.clamp(NO_TS + 1, MAX_TS));
        Stamp(ts << 16 | i64::from(source as u16))
    }

    /// The latest `#TS:` annotation before the write, Unix seconds.
    pub fn ts(self) -> Option<i64> {
        let ts = self.0 >> 16;
        (ts != NO_TS).then_some(ts)
    }

    /// Index of the input the write came from.
    pub fn source(self) -> u32 {
        u32::from(self.0 as u16)
    }
}

/// A key's value, expiry and last write (56 bytes).
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    /// The value.
    pub val: Val,
    /// Absolute expiry.
    expire_ms: Expiry,
    /// The last write.
    pub written: Stamp,
}

/// An optional absolute expiry in Unix ms, in 8 bytes rather than an `Option`'s 16. An expiry
/// of exactly `i64::MIN` ms, which only a crafted file holds, is kept as one millisecond
/// later: both are long past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry(i64);

impl Expiry {
    /// The stored form of no expiry.
    const NONE: i64 = i64::MIN;

    /// `ms`, or none.
    pub fn new(ms: Option<i64>) -> Expiry {
        Expiry(ms.map_or(Expiry::NONE, |t| t.max(Expiry::NONE + 1)))
    }

    /// The expiry, Unix ms.
    pub fn get(self) -> Option<i64> {
        (self.0 != Expiry::NONE).then_some(self.0)
    }
}

impl Slot {
    /// A slot for `val` expiring at `expire_ms`, written at `written`.
    pub fn new(val: Val, expire_ms: Option<i64>, written: Stamp) -> Slot {
        Slot { val, expire_ms: Expiry::new(expire_ms), written }
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

/// Every database, plus function libraries.
#[derive(Clone, Debug, Default)]
pub struct Keyspace {
    /// Non-empty databases by number.
    pub dbs: BTreeMap<u64, Db>,
    /// Function libraries by name: their source code.
    pub functions: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Whether an `XCLAIM` that claims nothing still creates its consumer, as the server that
    /// wrote the log does: no for Redis 7.0 and older, yes from Redis 7.2 (and in Valkey);
    /// unknown (`None`) until an RDB header (a preamble or base) names the format.
    pub claims_create_consumers: Option<bool>,
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
        self.dbs.values().map(Db::len).sum()
    }

    /// True when no database holds a key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves the keys of hash half 1 (see [`db::half_of`]) of every database into a keyspace
    /// of their own; this one keeps half 0 and the functions. Two threads can then apply, each
    /// to its part, commands whose only key is their first argument. [`Keyspace::join`] puts
    /// the parts back together; moving a half moves no keys.
    pub(super) fn split(&mut self) -> Keyspace {
        let dbs = self.dbs.iter_mut().map(|(&n, db)| (n, db.split_off_upper())).collect();
        Keyspace { dbs, functions: BTreeMap::new(), claims_create_consumers: self.claims_create_consumers }
    }

    /// Takes back the part [`Keyspace::split`] moved out; databases left without keys are
    /// dropped.
    pub(super) fn join(&mut self, upper: Keyspace) {
        for (n, db) in upper.dbs {
            self.db_mut(n).join_upper(db);
        }
        self.dbs.retain(|_, db| !db.is_empty());
    }

    /// Every key as (database, key, slot): databases in order, and in each the keys of one
    /// hash half, then of the other, each in the order they were first written (the place of
    /// a deleted key is reused by the next new one), so output follows the log more than
    /// hashing. Keys whose expiry is at or before `drop_expired_at` (Unix ms) are left out.
    pub fn keys(&self, drop_expired_at: Option<i64>) -> impl Iterator<Item = (u64, &[u8], &Slot)> + '_ {
        self.dbs.iter().flat_map(move |(&db, keys)| {
            keys.iter()
                .filter(move |(_, s)| !matches!((drop_expired_at, s.expire_ms()), (Some(now), Some(e)) if e <= now))
                .map(move |(key, slot)| (db, key, slot))
        })
    }

    /// Function libraries as items.
    pub fn libraries(&self) -> impl Iterator<Item = Item<'_>> + '_ {
        self.functions.values().map(|code| Item::Function { code: Bytes::Borrowed(code) })
    }
}

/// Building logs for unit tests.
#[cfg(test)]
pub(crate) mod test_log {
    use super::{Applier, Keyspace};

    /// `args` as one RESP command.
    pub(crate) fn resp(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend(format!("${}\r\n", a.len()).bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// The error that stops a log of `commands` (text words), which must not load.
    pub(crate) fn load_error(commands: &[&[&str]]) -> String {
        load(commands).map(drop).expect_err("the log must be refused").to_string()
    }

    /// The keyspace a log of `commands` (text words) builds, or the error that stops it.
    pub(crate) fn load(commands: &[&[&str]]) -> crate::error::Result<Keyspace> {
        let log: Vec<u8> =
            commands.iter().flat_map(|c| resp(&c.iter().map(|w| w.as_bytes()).collect::<Vec<_>>())).collect();
        let mut applier = Applier::new(Keyspace::new(), 0);
        applier.load_file(&log, 0, &|_| {})?;
        Ok(applier.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stay_small() {
        // Every key pays for a slot: the largest value kind is boxed and the stamp packed.
        assert_eq!(size_of::<Slot>(), 40);
        assert_eq!(size_of::<Val>(), 24);
        assert_eq!(size_of::<Stamp>(), 8);
        assert_eq!(size_of::<HashValue>(), 32);
    }

    #[test]
    fn stamps_keep_time_and_source() {
        for ts in [None, Some(0), Some(1_700_000_000), Some(-5), Some(MAX_TS)] {
            let s = Stamp::new(ts, 65_535);
            assert_eq!((s.ts(), s.source()), (ts, 65_535));
        }
        assert_eq!(Stamp::new(Some(i64::MAX), 1).ts(), Some(MAX_TS));
        assert_eq!(Stamp::new(Some(i64::MIN), 1).ts(), Some(NO_TS + 1));
        assert!(Stamp::new(Some(5), 0) > Stamp::new(Some(4), 9));
        assert!(Stamp::new(Some(4), 0) > Stamp::new(None, 9));
    }

    #[test]
    fn split_halves_join_back_whatever_each_part_did() {
        let slot = |n: u8| Slot::new(Val::Str(SmallBytes::from(&[n][..])), None, Stamp::new(None, 0));
        let keys: Vec<Vec<u8>> = (0..200u32).map(|i| format!("k{i}").into_bytes()).collect();
        let (lower_keys, upper_keys): (Vec<_>, Vec<_>) = keys.iter().partition(|k| db::half_of(k) == 0);
        let mut ks = Keyspace::new();
        let mut expected = Keyspace::new();
        for (db, key) in [0u64, 1, 2].into_iter().flat_map(|db| keys.iter().map(move |k| (db, k))) {
            ks.db_mut(db).insert(key, slot(1));
        }
        ks.functions.insert(b"lib".to_vec(), b"code".to_vec());
        let mut upper = ks.split();
        assert!(upper.functions.is_empty() && ks.len() + upper.len() == 600);
        // Each part changes only its own half: the lower part empties database 1 of its keys
        // and writes into a new database 7; the upper part empties database 2 of its keys.
        for k in &lower_keys {
            ks.remove(1, k);
            ks.db_mut(7).insert(k, slot(7));
        }
        for k in &upper_keys {
            upper.remove(2, k);
            upper.db_mut(0).insert(k, slot(9));
        }
        ks.join(upper);
        for (db, key) in [0u64, 1, 2].into_iter().flat_map(|db| keys.iter().map(move |k| (db, k))) {
            let half = db::half_of(key);
            match (db, half) {
                (1, 0) | (2, 1) => {}
                (0, 1) => drop(expected.db_mut(db).insert(key, slot(9))),
                _ => drop(expected.db_mut(db).insert(key, slot(1))),
            }
        }
        for k in &lower_keys {
            expected.db_mut(7).insert(k, slot(7));
        }
        assert!(ks.dbs == expected.dbs);
        assert_eq!(ks.functions.len(), 1);
        // A database whose keys were all in one half, and are gone, is gone.
        let mut upper = ks.split();
        for k in &upper_keys {
            upper.remove(1, k);
        }
        ks.join(upper);
        assert!(!ks.dbs.contains_key(&1));
    }

    #[test]
    fn expiries_round_trip() {
        let mut slot = Slot::new(Val::Str(SmallBytes::new()), Some(i64::MIN), Stamp::new(None, 0));
        assert_eq!(slot.expire_ms(), Some(i64::MIN + 1));
        slot.set_expire_ms(None);
        assert_eq!(slot.expire_ms(), None);
        slot.set_expire_ms(Some(-1));
        assert_eq!(slot.expire_ms(), Some(-1));
    }
}
