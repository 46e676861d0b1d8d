//! Converting a dataset to an RDB file or to RESP commands, decoding and encoding on all
//! cores and writing in input order.
//!
//! Workers turn batches of input records into encoded bytes, cut into pieces that say which
//! database each key belongs to; the writer thread inserts database switches where the
//! database changes and streams the bytes out (through the CRC-64 for RDB).

pub mod resp;

use std::io::Write;

use crate::convert::{ChecksumPolicy, ChecksumState};
use crate::dataset::{Entry, Item};
use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::parallel::ordered_map;
use crate::rdb::batch::Batches;
use crate::rdb::reader::{Record, Trailer, verify_checksum};
use crate::rdb::write::record::put_item;
use crate::rdb::write::{Adjustments, FileOptions, RdbFile, ValueWriter};
use crate::rdb::{Bytes, Reader};
pub use resp::RespWriter;

/// What to write.
#[derive(Clone, Debug)]
pub enum Format {
    /// An RDB file in the value writer's target format.
    Rdb(ValueWriter),
    /// RESP commands.
    Resp(RespWriter),
}

/// Options for a conversion.
#[derive(Clone, Debug)]
pub struct Options {
    /// Output format.
    pub format: Format,
    /// Which keys to write.
    pub filter: Filter,
    /// Worker threads (1 runs inline).
    pub threads: usize,
    /// What to do when an RDB input's checksum does not match.
    pub checksum: ChecksumPolicy,
}

/// What a conversion did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Keys read.
    pub keys_read: u64,
    /// Keys written.
    pub keys_written: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// What the output format made the writer change.
    pub adjustments: Adjustments,
    /// The input's checksum (RDB input).
    pub checksum: ChecksumState,
}

/// Converts an RDB file (`data`, the whole file) to `options.format` on `out`.
///
/// `progress` is called from the reading thread with the offset reached.
///
/// # Errors
/// The first error in input order: a damaged input, something the output cannot hold (with
/// the offset of the record and the key), a checksum mismatch under
/// [`ChecksumPolicy::Verify`], or a write failure.
pub fn rdb_to(
    data: &[u8],
    options: &Options,
    out: impl Write,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary> {
    let reader = Reader::new(data)?;
    let ctime = leading_ctime(Reader::new(data)?);
    let mut sink = Sink::new(&options.format, out, ctime)?;
    let mut counts = Counts::default();
    let unfiltered = options.filter.is_empty();
    ordered_map(
        options.threads,
        Batches::new(reader, progress),
        |batch| encode_rdb_batch(&batch, options, unfiltered),
        |encoded| sink.write(encoded, &mut counts),
    )?;
    let trailer = counts.trailer.ok_or_else(|| {
        Error::new(ErrorKind::Truncated { what: "EOF opcode", needed: 1, available: 0 }, data.len() as u64)
    })?;
    let checksum = match verify_checksum(data, &trailer) {
        Ok(true) => ChecksumState::Valid,
        Ok(false) => ChecksumState::Absent,
        Err(e) => match (e.kind(), options.checksum) {
            (&ErrorKind::ChecksumMismatch { stored, computed }, ChecksumPolicy::Warn) => {
                ChecksumState::Mismatch { stored, computed }
            }
            _ => return Err(e),
        },
    };
    let (bytes_written, adjustments) = sink.finish(counts.adjustments)?;
    Ok(Summary {
        keys_read: counts.keys_read,
        keys_written: counts.keys_written,
        bytes_written,
        adjustments,
        checksum,
    })
}

/// The `ctime` aux field among the records before the first key, in Unix seconds.
fn leading_ctime(mut reader: Reader<'_>) -> Option<u64> {
    while let Ok(Some(Record::Aux { name, value })) = reader.next_record() {
        if name.decode().ok()? == Bytes::Borrowed(b"ctime") {
            return value.decode().ok()?.with_bytes(|b| std::str::from_utf8(b).ok()?.parse().ok());
        }
    }
    None
}

/// One part of a worker's output.
#[derive(Clone, Copy, Debug)]
enum Piece {
    /// A key of database `db`, ending at byte `end` of the batch's output.
    Key { db: u64, end: usize },
    /// Anything else, ending at `end`.
    Other { end: usize },
    /// The input's size hint for database `db`.
    Hint { db: u64, keys: u64, expires: u64 },
}

/// A batch encoded by a worker.
#[derive(Default)]
struct Encoded {
    bytes: Vec<u8>,
    pieces: Vec<Piece>,
    counts: Counts,
}

/// Counters summed over batches.
#[derive(Default)]
struct Counts {
    keys_read: u64,
    keys_written: u64,
    adjustments: Adjustments,
    trailer: Option<Trailer>,
}

fn encode_rdb_batch(batch: &[Record<'_>], options: &Options, unfiltered: bool) -> Result<Encoded> {
    let mut enc = Encoded { bytes: Vec::with_capacity(estimate(batch)), ..Encoded::default() };
    let mut db = None;
    for record in batch {
        match record {
            Record::Key(k) => {
                enc.counts.keys_read += 1;
                if !options.filter.keeps_meta(k.db, k.kind(), k.expire_ms) {
                    continue;
                }
                let key = k.key.decode().map_err(|e| k.annotate(e))?;
                if options.filter.needs_key() && !key.with_bytes(|b| options.filter.keeps_key(b)) {
                    continue;
                }
                let item = Item::Key(Entry::from_key_entry(k)?);
                if enc.put(&options.format, &item).map_err(|e| k.annotate(e.at(k.offset)))? {
                    enc.counts.keys_written += 1;
                    enc.pieces.push(Piece::Key { db: k.db, end: enc.bytes.len() });
                }
            }
            Record::SelectDb { db: selected } => db = Some(*selected),
            Record::ResizeDb { db_size, expires_size } => {
                if let (Some(db), true) = (db, unfiltered) {
                    enc.pieces.push(Piece::Hint { db, keys: *db_size, expires: *expires_size });
                }
            }
            Record::Eof(trailer) => enc.counts.trailer = Some(*trailer),
            other => {
                if let Some(item) = Item::from_record(other)?
                    && enc.put(&options.format, &item)?
                {
                    enc.pieces.push(Piece::Other { end: enc.bytes.len() });
                }
            }
        }
    }
    Ok(enc)
}

impl Encoded {
    fn put(&mut self, format: &Format, item: &Item<'_>) -> Result<bool> {
        let adj = &mut self.counts.adjustments;
        match format {
            Format::Rdb(values) => put_item(values, item, &mut self.bytes, adj),
            Format::Resp(resp) => resp.put_item(item, &mut self.bytes, adj),
        }
    }
}

/// Output bytes are about the input's size: sizing the buffer up front avoids regrowing it.
fn estimate(batch: &[Record<'_>]) -> usize {
    batch.iter().map(|r| if let Record::Key(k) = r { k.raw.len() + 32 } else { 16 }).sum()
}

/// The writing end: an RDB file or a RESP stream, with the database in effect.
enum Sink<W: Write> {
    Rdb { file: Box<RdbFile<W>>, hint: Option<(u64, u64, u64)> },
    Resp { out: W, db: Option<u64>, bytes: u64 },
}

impl<W: Write> Sink<W> {
    fn new(format: &Format, out: W, ctime: Option<u64>) -> Result<Sink<W>> {
        Ok(match format {
            Format::Rdb(values) => {
                let options = FileOptions { ctime_s: ctime.unwrap_or_else(now_s), aof_base: false };
                Sink::Rdb { file: Box::new(RdbFile::new(out, values.clone(), options)?), hint: None }
            }
            Format::Resp(_) => Sink::Resp { out, db: None, bytes: 0 },
        })
    }

    fn write(&mut self, enc: Encoded, counts: &mut Counts) -> Result<()> {
        let mut start = 0;
        for piece in enc.pieces {
            match piece {
                Piece::Hint { db, keys, expires } => {
                    if let Sink::Rdb { hint, .. } = self {
                        *hint = Some((db, keys, expires));
                    }
                }
                Piece::Key { db, end } => {
                    self.select(db)?;
                    self.write_bytes(&enc.bytes[start..end])?;
                    start = end;
                }
                Piece::Other { end } => {
                    self.write_bytes(&enc.bytes[start..end])?;
                    start = end;
                }
            }
        }
        counts.keys_read += enc.counts.keys_read;
        counts.keys_written += enc.counts.keys_written;
        counts.adjustments.add(&enc.counts.adjustments);
        counts.trailer = counts.trailer.or(enc.counts.trailer);
        Ok(())
    }

    fn select(&mut self, db: u64) -> Result<()> {
        match self {
            Sink::Rdb { file, hint } => {
                let size = hint.filter(|h| h.0 == db).map(|h| (h.1, h.2));
                file.select(db, size)
            }
            Sink::Resp { out, db: current, bytes } => {
                if *current == Some(db) {
                    return Ok(());
                }
                *current = Some(db);
                let mut cmd = Vec::new();
                RespWriter::put_select(&mut cmd, db);
                *bytes += cmd.len() as u64;
                out.write_all(&cmd).map_err(Error::from)
            }
        }
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        match self {
            Sink::Rdb { file, .. } => file.write_encoded(bytes),
            Sink::Resp { out, bytes: n, .. } => {
                *n += bytes.len() as u64;
                out.write_all(bytes).map_err(Error::from)
            }
        }
    }

    /// Ends the output; returns the bytes written and every adjustment.
    fn finish(self, adjustments: Adjustments) -> Result<(u64, Adjustments)> {
        match self {
            Sink::Rdb { file, .. } => {
                let mut file = *file;
                file.add_adjustments(&adjustments);
                let (_, bytes, adj) = file.finish()?;
                Ok((bytes, adj))
            }
            Sink::Resp { mut out, bytes, .. } => {
                out.flush()?;
                Ok((bytes, adjustments))
            }
        }
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
