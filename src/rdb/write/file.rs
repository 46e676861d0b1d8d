//! A streaming RDB file: records go straight to the output while the CRC-64 runs over them,
//! so memory is bounded by the largest value, not by the dataset.

use std::io::Write;

use super::Adjustments;
use super::record::{put_eof, put_header, put_item, put_resize, put_select};
use super::value::ValueWriter;
use crate::dataset::Item;
use crate::error::Result;
use crate::rdb::crc::Crc64;

/// Options for the file as a whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileOptions {
    /// The `ctime` aux field, Unix seconds.
    pub ctime_s: u64,
    /// Mark the file as the base of an AOF (`aof-base` 1).
    pub aof_base: bool,
}

/// An RDB file being written.
pub struct RdbFile<W: Write> {
    out: W,
    crc: Crc64,
    db: Option<u64>,
    buf: Vec<u8>,
    values: ValueWriter,
    adjustments: Adjustments,
    bytes: u64,
}

impl<W: Write> RdbFile<W> {
    /// Starts a file: writes the header and the writer's aux fields.
    ///
    /// # Errors
    /// Writing to `out` failed.
    pub fn new(out: W, values: ValueWriter, options: FileOptions) -> Result<RdbFile<W>> {
        let mut file = RdbFile {
            out,
            crc: Crc64::default(),
            db: None,
            buf: Vec::new(),
            values,
            adjustments: Adjustments::default(),
            bytes: 0,
        };
        let mut header = Vec::new();
        put_header(&mut header, file.values.target(), options.ctime_s, options.aof_base);
        file.write_encoded(&header)?;
        Ok(file)
    }

    /// The value encoder this file uses (for encoding records elsewhere, e.g. in parallel).
    pub fn values(&self) -> &ValueWriter {
        &self.values
    }

    /// Appends bytes already encoded for this file's target (records from [`put_item`]).
    ///
    /// # Errors
    /// Writing failed.
    pub fn write_encoded(&mut self, bytes: &[u8]) -> Result<()> {
        self.crc.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes)?;
        Ok(())
    }

    /// The database in effect (the last one selected).
    pub fn db(&self) -> Option<u64> {
        self.db
    }

    /// Switches to database `db` unless it is current; `hint` (keys, keys with an expiry)
    /// is written as its size hint.
    ///
    /// # Errors
    /// Writing failed.
    pub fn select(&mut self, db: u64, hint: Option<(u64, u64)>) -> Result<()> {
        if self.db == Some(db) {
            return Ok(());
        }
        self.db = Some(db);
        let mut rec = std::mem::take(&mut self.buf);
        rec.clear();
        put_select(&mut rec, db);
        if let Some((keys, expires)) = hint {
            put_resize(&mut rec, keys, expires);
        }
        let written = self.write_encoded(&rec);
        self.buf = rec;
        written
    }

    /// Adds counts of adjustments made while encoding records elsewhere.
    pub fn add_adjustments(&mut self, adj: &Adjustments) {
        self.adjustments.add(adj);
    }

    /// Encodes and writes one item, switching database first for a key.
    ///
    /// # Errors
    /// What the target cannot hold, or a write failure.
    pub fn write_item(&mut self, item: &Item<'_>) -> Result<()> {
        if let Item::Key(entry) = item {
            self.select(entry.db, None)?;
        }
        let mut rec = std::mem::take(&mut self.buf);
        rec.clear();
        let encoded = put_item(&self.values, item, &mut rec, &mut self.adjustments);
        let written = encoded.and_then(|_| self.write_encoded(&rec));
        self.buf = rec;
        written
    }

    /// Writes the EOF opcode and checksum and flushes; returns the output, the bytes written
    /// and what was adjusted.
    ///
    /// # Errors
    /// Writing failed.
    pub fn finish(mut self) -> Result<(W, u64, Adjustments)> {
        let mut tail = Vec::new();
        put_eof(&mut tail);
        self.write_encoded(&tail)?;
        let crc = self.crc.value().to_le_bytes();
        self.out.write_all(&crc)?;
        self.out.flush()?;
        Ok((self.out, self.bytes + 8, self.adjustments))
    }
}
