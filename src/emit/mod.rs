//! Converting a dataset to an RDB file or to RESP commands, decoding and encoding on all
//! cores and writing in input order.
//!
//! Workers turn batches of input records into encoded bytes, cut into pieces that say which
//! database each key belongs to; the writer thread inserts database switches where the
//! database changes and streams the bytes out (through the CRC-64 for RDB).

pub mod resp;

use std::io::Write;

use crate::convert::{ChecksumPolicy, ChecksumState, checksum_state};
use crate::dataset::{Entry, Item};
use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::json_reader::{JsonReader, Line, parse_line};
use crate::parallel::ordered_map;
use crate::rdb::batch::Batches;
use crate::rdb::reader::{Record, Trailer};
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
    let (_, checksum) = checksum_state(data, counts.trailer, options.checksum)?;
    sink.finish(counts, checksum)
}

/// Converts a dataset in JSON Lines or one JSON document (`data`, the whole input; the
/// schema `convert --to jsonl` writes) to `options.format` on `out`.
///
/// JSON Lines are parsed on all cores; a document is read in order and encoded on all cores.
/// `progress` is called with the input offset reached.
///
/// # Errors
/// The first error in input order: a record that is not in the schema (with its offset),
/// something the output cannot hold, or a write failure.
pub fn json_to(
    data: &[u8],
    options: &Options,
    out: impl Write,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary> {
    let reader = JsonReader::new(data)?;
    let header_at = reader.header().map(|_| first_record_offset(data));
    let ctime = reader
        .map_while(|item| match item {
            Ok(Item::Aux { name, value }) => Some((name, value)),
            _ => None,
        })
        .find(|(name, _)| name.as_cow().as_ref() == b"ctime")
        .and_then(|(_, value)| value.with_bytes(|b| std::str::from_utf8(b).ok()?.parse().ok()));
    let mut sink = Sink::new(&options.format, out, ctime)?;
    let mut counts = Counts::default();
    let encode = |batch: JsonBatch<'_>| encode_json_batch(batch, options, header_at);
    let write = |encoded: Encoded| sink.write(encoded, &mut counts);
    if data.get(first_record_offset(data) as usize) == Some(&b'[') {
        let mut items = JsonReader::new(data)?;
        let batches = std::iter::from_fn(|| {
            let batch: Result<Vec<Item<'static>>> = items.by_ref().take(JSON_BATCH_ITEMS).collect();
            match batch {
                Ok(b) if b.is_empty() => None,
                other => Some(other.map(JsonBatch::Items)),
            }
        });
        ordered_map(options.threads, batches, encode, write)?;
    } else {
        ordered_map(options.threads, line_batches(data, progress).map(Ok), encode, write)?;
    }
    sink.finish(counts, ChecksumState::Absent)
}

/// Items per batch of a JSON document, and input bytes per batch of JSON Lines.
const JSON_BATCH_ITEMS: usize = 1024;
const JSON_BATCH_BYTES: usize = 256 << 10;

/// Part of a JSON input for one worker.
enum JsonBatch<'a> {
    /// Whole lines of JSON Lines starting at absolute offset `base`.
    Lines { text: &'a [u8], base: u64 },
    /// Records of a JSON document, already parsed.
    Items(Vec<Item<'static>>),
}

/// Offset of the first byte that is not whitespace.
fn first_record_offset(data: &[u8]) -> u64 {
    data.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(data.len()) as u64
}

/// Cuts JSON Lines into batches of whole lines of about [`JSON_BATCH_BYTES`].
fn line_batches<'a>(
    data: &'a [u8],
    progress: &'a (dyn Fn(u64) + Sync),
) -> impl Iterator<Item = JsonBatch<'a>> + Send + 'a {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= data.len() {
            return None;
        }
        let want = (start + JSON_BATCH_BYTES).min(data.len());
        let end = memchr::memchr(b'\n', &data[want - 1..]).map_or(data.len(), |i| want + i);
        let batch = JsonBatch::Lines { text: &data[start..end], base: start as u64 };
        start = end;
        progress(end as u64);
        Some(batch)
    })
}

fn encode_json_batch(batch: JsonBatch<'_>, options: &Options, header_at: Option<u64>) -> Result<Encoded> {
    let mut enc = Encoded::default();
    match batch {
        JsonBatch::Items(items) => {
            for item in &items {
                enc.put_json_item(item, options, None)?;
            }
        }
        JsonBatch::Lines { text, base } => {
            let mut pos = 0;
            while pos < text.len() {
                let end = memchr::memchr(b'\n', &text[pos..]).map_or(text.len(), |i| pos + i + 1);
                let offset = base + pos as u64;
                match parse_line(&text[pos..end], offset)? {
                    Line::Blank => {}
                    Line::Header(_) if header_at == Some(offset) => {}
                    Line::Header(_) => {
                        return Err(Error::new(
                            ErrorKind::Invalid {
                                what: "JSON record",
                                expected: "the header record only as the first record",
                                found: "a header record".into(),
                            },
                            offset,
                        ));
                    }
                    Line::Item(item) => enc.put_json_item(&item, options, Some(offset))?,
                }
                pos = end;
            }
        }
    }
    Ok(enc)
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
                if options.filter.needs_key() {
                    let key = k.key.decode().map_err(|e| k.annotate(e))?;
                    if !key.with_bytes(|b| options.filter.keeps_key(b)) {
                        continue;
                    }
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
    /// Filters and encodes one parsed record; errors are placed at `offset` when known.
    fn put_json_item(&mut self, item: &Item<'_>, options: &Options, offset: Option<u64>) -> Result<()> {
        let place = |e: Error| match offset {
            Some(at) if e.offset() == 0 => e.at(at),
            _ => e,
        };
        let Item::Key(entry) = item else {
            if self.put(&options.format, item).map_err(place)? {
                self.pieces.push(Piece::Other { end: self.bytes.len() });
            }
            return Ok(());
        };
        self.counts.keys_read += 1;
        let filter = &options.filter;
        if !filter.keeps_meta(entry.db, entry.value.kind(), entry.expire_ms)
            || (filter.needs_key() && !entry.key.with_bytes(|k| filter.keeps_key(k)))
        {
            return Ok(());
        }
        let written =
            self.put(&options.format, item).map_err(|e| entry.key.with_bytes(|k| place(e).with_key(k)))?;
        if written {
            self.counts.keys_written += 1;
            self.pieces.push(Piece::Key { db: entry.db, end: self.bytes.len() });
        }
        Ok(())
    }

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

    /// Writes a batch in as few writes as possible: up to each database switch.
    fn write(&mut self, enc: Encoded, counts: &mut Counts) -> Result<()> {
        let (mut written, mut end) = (0, 0);
        for piece in enc.pieces {
            match piece {
                Piece::Hint { db, keys, expires } => {
                    if let Sink::Rdb { hint, .. } = self {
                        *hint = Some((db, keys, expires));
                    }
                }
                Piece::Key { db, end: key_end } => {
                    if self.db() != Some(db) {
                        self.write_bytes(&enc.bytes[written..end])?;
                        written = end;
                        self.select(db)?;
                    }
                    end = key_end;
                }
                Piece::Other { end: other_end } => end = other_end,
            }
        }
        self.write_bytes(&enc.bytes[written..end])?;
        counts.keys_read += enc.counts.keys_read;
        counts.keys_written += enc.counts.keys_written;
        counts.adjustments.add(&enc.counts.adjustments);
        counts.trailer = counts.trailer.or(enc.counts.trailer);
        Ok(())
    }

    /// The database in effect.
    fn db(&self) -> Option<u64> {
        match self {
            Sink::Rdb { file, .. } => file.db(),
            Sink::Resp { db, .. } => *db,
        }
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

    /// Ends the output; sums up the conversion.
    fn finish(self, counts: Counts, checksum: ChecksumState) -> Result<Summary> {
        let (bytes_written, adjustments) = match self {
            Sink::Rdb { file, .. } => {
                let mut file = *file;
                file.add_adjustments(&counts.adjustments);
                let (_, bytes, adj) = file.finish()?;
                (bytes, adj)
            }
            Sink::Resp { mut out, bytes, .. } => {
                out.flush()?;
                (bytes, counts.adjustments)
            }
        };
        Ok(Summary {
            keys_read: counts.keys_read,
            keys_written: counts.keys_written,
            bytes_written,
            adjustments,
            checksum,
        })
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
