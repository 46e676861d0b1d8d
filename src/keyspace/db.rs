//! One database: two halves by key hash, each a hash index of 8-byte buckets over a slab of
//! entries.
//!
//! Keeping entries out of the hash table keeps its buckets small: growing the table moves
//! 8 bytes per key instead of whole entries, and the entries themselves never move (the slab
//! grows by fixed-size chunks, so there is no doubling copy either). A key costs its entry
//! (key, slot) plus about 10 bytes of index.
//!
//! The halves let two threads apply commands at once: a command whose only key is its first
//! argument changes nothing outside that key's half (see [`half_of`] and
//! [`Keyspace::split`](super::Keyspace::split)).

use hashbrown::HashTable;
use std::hash::BuildHasher;

use super::Slot;
use super::small::SmallBytes;

/// Entries per slab chunk.
const CHUNK: usize = 4096;

/// An index bucket: where the entry is, and 32 bits of its key's hash (so that growing the
/// index does not read the entries).
#[derive(Clone, Copy, Debug)]
struct Bucket {
    entry: u32,
    hash: u32,
}

/// A key and its slot.
#[derive(Clone, Debug)]
struct Entry {
    key: SmallBytes,
    slot: Slot,
}

/// The keys of one database and their slots.
#[derive(Clone, Debug, Default)]
pub struct Db {
    halves: [Half; 2],
}

/// The keys of a database whose hash falls in one half.
#[derive(Clone, Debug, Default)]
struct Half {
    index: HashTable<Bucket>,
    chunks: Vec<Vec<Option<Entry>>>,
    free: Vec<u32>,
}

/// The entry at `at` of a slab, if it is live. (A function of the chunks alone, so that it can
/// be used while the index is borrowed.)
fn entry_in(chunks: &[Vec<Option<Entry>>], at: u32) -> Option<&Entry> {
    let at = at as usize;
    chunks.get(at / CHUNK)?.get(at % CHUNK)?.as_ref()
}

/// The 32 hash bits kept per key.
fn hash32(key: &[u8]) -> u32 {
    let h = rustc_hash::FxBuildHasher.hash_one(key);
    (h >> 32) as u32 ^ h as u32
}

/// The half (0 or 1) that holds `key`: the top hash bit, which the index's bucket position
/// (from the low bits) does not depend on.
pub fn half_of(key: &[u8]) -> usize {
    (hash32(key) >> 31) as usize
}

/// The table hash of a kept hash: spread over 64 bits, so that the table's control bits
/// (the top ones) and bucket bits (the low ones) both vary.
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Db {
    /// An empty database.
    pub fn new() -> Db {
        Db::default()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.halves.iter().map(|h| h.index.len()).sum()
    }

    /// True without keys.
    pub fn is_empty(&self) -> bool {
        self.halves.iter().all(|h| h.index.is_empty())
    }

    /// The half for `key`, and the key's hash.
    fn half(&self, key: &[u8]) -> (&Half, u32) {
        let hash = hash32(key);
        (&self.halves[(hash >> 31) as usize], hash)
    }

    fn half_mut(&mut self, key: &[u8]) -> (&mut Half, u32) {
        let hash = hash32(key);
        (&mut self.halves[(hash >> 31) as usize], hash)
    }

    /// The slot of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Slot> {
        let (half, hash) = self.half(key);
        half.entry(half.find(key, hash)?).map(|e| &e.slot)
    }

    /// The slot of `key`, for changing it.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Slot> {
        let (half, hash) = self.half_mut(key);
        let at = half.find(key, hash)?;
        half.entry_mut(at).map(|e| &mut e.slot)
    }

    /// The slot of `key`, created by `make` when missing (the key is copied only then).
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> Slot) -> &mut Slot {
        let (half, hash) = self.half_mut(key);
        let at = match half.find(key, hash) {
            Some(at) => at,
            None => half.insert_new(SmallBytes::from(key), hash, make()),
        };
        &mut half.entry_mut(at).expect("the index names live entries").slot
    }

    /// Sets `key` to `slot`, keeping the stored key when it exists; returns the slot replaced.
    pub fn insert(&mut self, key: &[u8], slot: Slot) -> Option<Slot> {
        let (half, hash) = self.half_mut(key);
        match half.find(key, hash).and_then(|at| half.entry_mut(at)) {
            Some(entry) => Some(std::mem::replace(&mut entry.slot, slot)),
            None => {
                half.insert_new(SmallBytes::from(key), hash, slot);
                None
            }
        }
    }

    /// Removes `key`; returns its slot.
    pub fn remove(&mut self, key: &[u8]) -> Option<Slot> {
        let (half, hash) = self.half_mut(key);
        half.remove(key, hash)
    }

    /// Every key and its slot: half by half, each in the order its keys were first written
    /// (a removed key's place goes to the next new key of its half).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Slot)> {
        self.halves
            .iter()
            .flat_map(|h| h.chunks.iter().flatten().flatten())
            .map(|e| (e.key.as_slice(), &e.slot))
    }

    /// Every slot, for changing them.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.halves.iter_mut().flat_map(|h| h.chunks.iter_mut().flatten().flatten()).map(|e| &mut e.slot)
    }

    /// Moves the keys of half 1 into a database of their own (this one keeps half 0).
    pub(super) fn split_off_upper(&mut self) -> Db {
        Db { halves: [Half::default(), std::mem::take(&mut self.halves[1])] }
    }

    /// Takes back the keys of half 1 from `upper` (made by [`Db::split_off_upper`], whose
    /// half 0 stayed empty).
    pub(super) fn join_upper(&mut self, upper: Db) {
        let [lower, half] = upper.halves;
        debug_assert!(lower.index.is_empty() && self.halves[1].index.is_empty());
        self.halves[1] = half;
    }
}

impl Half {
    fn entry(&self, at: u32) -> Option<&Entry> {
        entry_in(&self.chunks, at)
    }

    fn entry_mut(&mut self, at: u32) -> Option<&mut Entry> {
        let at = at as usize;
        self.chunks.get_mut(at / CHUNK)?.get_mut(at % CHUNK)?.as_mut()
    }

    fn find(&self, key: &[u8], hash: u32) -> Option<u32> {
        let bucket = self.index.find(spread(hash), |b| {
            b.hash == hash && self.entry(b.entry).is_some_and(|e| e.key.as_slice() == key)
        })?;
        Some(bucket.entry)
    }

    fn remove(&mut self, key: &[u8], hash: u32) -> Option<Slot> {
        let chunks = &self.chunks;
        let found = self.index.find_entry(spread(hash), |b| {
            b.hash == hash && entry_in(chunks, b.entry).is_some_and(|e| e.key.as_slice() == key)
        });
        let (bucket, _) = found.ok()?.remove();
        let at = bucket.entry as usize;
        let entry = self.chunks.get_mut(at / CHUNK)?.get_mut(at % CHUNK)?.take()?;
        self.free.push(bucket.entry);
        Some(entry.slot)
    }

    /// Stores a new entry and indexes it; returns where it is.
    fn insert_new(&mut self, key: SmallBytes, hash: u32, slot: Slot) -> u32 {
        let entry = Entry { key, slot };
        let at = match self.free.pop() {
            Some(at) => {
                self.chunks[at as usize / CHUNK][at as usize % CHUNK] = Some(entry);
                at
            }
            None => {
                if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
                    self.chunks.push(Vec::with_capacity(CHUNK));
                }
                let at = (self.chunks.len() - 1) * CHUNK + self.chunks.last().map_or(0, Vec::len);
                self.chunks.last_mut().expect("pushed above").push(Some(entry));
                u32::try_from(at).expect("at most 4 billion keys in one database half")
            }
        };
        self.index.insert_unique(spread(hash), Bucket { entry: at, hash }, |b| spread(b.hash));
        at
    }
}

impl PartialEq for Db {
    fn eq(&self, other: &Db) -> bool {
        self.len() == other.len() && self.iter().all(|(k, s)| other.get(k) == Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Stamp, Val};

    fn slot(n: u8) -> Slot {
        Slot::new(Val::Str(SmallBytes::from(&[n][..])), None, Stamp::new(None, 0))
    }

    #[test]
    fn inserts_finds_replaces_and_removes() {
        let mut db = Db::new();
        let keys: Vec<Vec<u8>> = (0..10_000u32).map(|i| format!("key:{i}").into_bytes()).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(db.insert(k, slot(i as u8)).is_none());
        }
        assert_eq!(db.len(), keys.len());
        assert_eq!(db.insert(&keys[5], slot(99)), Some(slot(5)));
        assert_eq!(db.get(&keys[5]), Some(&slot(99)));
        for k in keys.iter().step_by(2) {
            assert!(db.remove(k).is_some());
            assert!(db.remove(k).is_none() && db.get(k).is_none());
        }
        assert_eq!(db.len(), keys.len() / 2);
        // Freed entries are reused.
        let chunks: usize = db.halves.iter().map(|h| h.chunks.len()).sum();
        for k in keys.iter().step_by(2) {
            db.get_or_insert_with(k, || slot(1));
        }
        assert_eq!((db.len(), db.halves.iter().map(|h| h.chunks.len()).sum()), (keys.len(), chunks));
        assert_eq!(db.iter().count(), keys.len());
        assert!(db.iter().all(|(k, s)| db.get(k) == Some(s)));
    }

    proptest::proptest! {
        /// Random inserts and removals on a few colliding keys agree with a `HashMap`.
        #[test]
        fn agrees_with_a_hash_map(ops in proptest::collection::vec((0u8..3, 0u16..300, proptest::num::u8::ANY), 0..2000)) {
            let mut db = Db::new();
            let mut model = std::collections::HashMap::new();
            for (op, key, value) in ops {
                let key = key.to_le_bytes().repeat(usize::from(key % 20));
                match op {
                    0 => proptest::prop_assert_eq!(db.insert(&key, slot(value)), model.insert(key.clone(), slot(value))),
                    1 => proptest::prop_assert_eq!(db.remove(&key), model.remove(&key)),
                    _ => {
                        let got = db.get_or_insert_with(&key, || slot(value)).clone();
                        proptest::prop_assert_eq!(&got, model.entry(key.clone()).or_insert_with(|| slot(value)));
                    }
                }
                proptest::prop_assert_eq!(db.get(&key), model.get(&key));
                proptest::prop_assert_eq!(db.len(), model.len());
            }
            let mut listed: Vec<(Vec<u8>, Slot)> = db.iter().map(|(k, s)| (k.to_vec(), s.clone())).collect();
            let mut expected: Vec<(Vec<u8>, Slot)> = model.into_iter().collect();
            listed.sort_by(|a, b| a.0.cmp(&b.0));
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            proptest::prop_assert_eq!(listed, expected);
        }
    }

    #[test]
    fn binary_and_empty_keys_are_keys() {
        let mut db = Db::new();
        for k in [&b""[..], b"\0", b"\0\0", &[0xff; 100]] {
            db.insert(k, slot(k.len() as u8));
        }
        assert_eq!(db.len(), 4);
        assert_eq!(db.get(b"\0\0"), Some(&slot(2)));
        assert_eq!(db.get(b""), Some(&slot(0)));
    }
}
