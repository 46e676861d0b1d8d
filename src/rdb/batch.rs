//! Cutting the record walk into batches for parallel workers.

use super::reader::{Reader, Record};
use crate::error::{Error, Result};

/// Records per batch handed to a worker, at most.
pub const BATCH_RECORDS: usize = 4096;
/// Input bytes per batch, roughly.
pub const BATCH_BYTES: usize = 256 << 10;

/// Cuts the record walk into batches of about [`BATCH_BYTES`] of input; an error ends the
/// sequence after the records before it.
pub struct Batches<'a, 'p> {
    reader: Reader<'a>,
    /// An error met mid-batch, delivered after the records before it.
    pending: Option<Error>,
    progress: &'p (dyn Fn(u64) + Sync),
}

impl<'a, 'p> Batches<'a, 'p> {
    /// Batches of `reader`'s records; `progress` is told the offset reached after each batch.
    pub fn new(reader: Reader<'a>, progress: &'p (dyn Fn(u64) + Sync)) -> Batches<'a, 'p> {
        Batches { reader, pending: None, progress }
    }
}

impl<'a> Iterator for Batches<'a, '_> {
    type Item = Result<Vec<Record<'a>>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        let start = self.reader.offset();
        let mut batch = Vec::with_capacity(BATCH_RECORDS);
        while batch.len() < BATCH_RECORDS && self.reader.offset() - start < BATCH_BYTES as u64 {
            match self.reader.next_record() {
                Ok(Some(record)) => batch.push(record),
                Ok(None) => break,
                Err(e) if batch.is_empty() => return Some(Err(e)),
                Err(e) => {
                    self.pending = Some(e);
                    break;
                }
            }
        }
        (self.progress)(self.reader.offset());
        (!batch.is_empty()).then_some(Ok(batch))
    }
}
