//! Writing RDB files: encoders for the compact blobs, values in the encoding a target server
//! would choose, and the top-level records.

pub mod expect;
pub mod file;
pub mod int;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod primitive;
pub mod record;
mod stream;
pub mod target;
pub mod value;
pub mod ziplist;

pub use file::{FileOptions, RdbFile};
pub use target::{FieldTtls, Target};
pub use value::{Lossy, ValueWriter};

/// What a writer changed because the target could not hold it as it was, or because a
/// server would drop it on load. Reported to the user; never silent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Adjustments {
    /// Hash field TTLs left out (`--drop-field-ttls`, target without field TTLs).
    pub field_ttls_dropped: u64,
    /// Function libraries left out (`--drop-functions`, target without functions).
    pub functions_dropped: u64,
    /// Descriptions of Redis 7.0 release-candidate functions, which released libraries have
    /// no place for (the functions themselves are written as libraries).
    pub function_descriptions_dropped: u64,
    /// Streams whose metadata the target's stream layout has no place for (entries added,
    /// max deleted id, entries read before RDB 10; consumer active time before RDB 11).
    pub stream_metadata_dropped: u64,
    /// Empty lists, sets, sorted sets and hashes, which servers drop on load.
    pub empty_keys_skipped: u64,
    /// Pending entries whose stream entry was deleted: an `XCLAIM` replay cannot recreate
    /// them (RESP output only).
    pub pending_entries_dropped: u64,
    /// Remembered idempotent ids whose stream entry was deleted: `XIDMPRECORD` refuses them
    /// (RESP output only).
    pub idempotent_ids_dropped: u64,
    /// Streams whose counts of idempotent ids added and duplicates seen a replay does not
    /// reproduce (RESP output only: a replay counts the ids it records and no duplicates).
    pub idempotent_counters_reset: u64,
    /// Vector-set elements whose attributes were set to the empty string: the module's
    /// serialized form does not tell them from elements without attributes.
    pub empty_vector_attributes_dropped: u64,
}

impl Adjustments {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: &Adjustments) {
        self.field_ttls_dropped += other.field_ttls_dropped;
        self.functions_dropped += other.functions_dropped;
        self.function_descriptions_dropped += other.function_descriptions_dropped;
        self.stream_metadata_dropped += other.stream_metadata_dropped;
        self.empty_keys_skipped += other.empty_keys_skipped;
        self.pending_entries_dropped += other.pending_entries_dropped;
        self.idempotent_ids_dropped += other.idempotent_ids_dropped;
        self.idempotent_counters_reset += other.idempotent_counters_reset;
        self.empty_vector_attributes_dropped += other.empty_vector_attributes_dropped;
    }
}

#[cfg(test)]
mod tests;
