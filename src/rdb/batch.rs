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

/// Decoded bytes per span, roughly: input bytes plus what LZF strings expand to.
pub const SPAN_WEIGHT: u64 = 1 << 20;

/// A run of consecutive records found by the framing walk, small enough to hand to a worker:
/// where it starts, how many records it holds and what decoding them produces, roughly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Relative position of the first record in the data the walk read.
    pub start: usize,
    /// Relative position just past the last record.
    pub end: usize,
    /// Number of records.
    pub records: usize,
    /// The database in effect at the first record.
    pub db: u64,
    /// Input bytes plus what LZF strings in values decompress to beyond their size: a measure
    /// of what decoding or rendering the span produces.
    pub weight: u64,
}

impl Span {
    /// A reader of `data` (what the walk read, with that walk's `header`) at the span's first
    /// record; it reads the span's records again, then the rest of the data.
    pub fn reader<'a>(&self, data: &'a [u8], header: super::Header) -> Result<Reader<'a>> {
        Reader::resume(data, header, self.start, self.db)
    }
}

/// Cuts the record walk into [`Span`]s of about [`SPAN_WEIGHT`] decoded bytes, for workers that
/// read their records again: the walk only frames records and keeps nothing of them. An error
/// ends the sequence after the span of the records before it.
pub struct Spans<'a, 'p> {
    reader: Reader<'a>,
    pending: Option<Error>,
    progress: &'p (dyn Fn(u64) + Sync),
    target: u64,
}

impl<'a, 'p> Spans<'a, 'p> {
    /// Spans of the records of `reader` (made with [`Reader::new`], so that positions are
    /// offsets); `progress` is told the offset reached after each span.
    pub fn new(reader: Reader<'a>, progress: &'p (dyn Fn(u64) + Sync)) -> Spans<'a, 'p> {
        Spans { reader, pending: None, progress, target: SPAN_WEIGHT }
    }

    /// Spans of about `weight` decoded bytes instead.
    pub fn with_weight(mut self, weight: u64) -> Spans<'a, 'p> {
        self.target = weight.max(1);
        self
    }
}

impl Iterator for Spans<'_, '_> {
    type Item = Result<Span>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        let start = self.reader.offset();
        let db = self.reader.db();
        let mut records = 0;
        let extra = std::cell::Cell::new(0u64);
        let mut measure = |entry: super::reader::KeyEntry<'_>, cur: &mut crate::cursor::Cursor<'_>| {
            let more = super::decode::skip_measured(entry.encoding, cur).map_err(|e| entry.annotate(e))?;
            extra.set(extra.get().saturating_add(more));
            Ok(())
        };
        while (self.reader.offset() - start).saturating_add(extra.get()) < self.target {
            match self.reader.next_item(&mut measure) {
                Ok(Some(_)) => records += 1,
                Ok(None) => break,
                Err(e) if records == 0 => return Some(Err(e)),
                Err(e) => {
                    self.pending = Some(e);
                    break;
                }
            }
        }
        let end = self.reader.offset();
        (self.progress)(end);
        let span = Span {
            start: start as usize,
            end: end as usize,
            records,
            db,
            weight: (end - start).saturating_add(extra.get()),
        };
        (records > 0).then_some(Ok(span))
    }
}
