//! `convert` from RDB to JSON Lines or one JSON document, in parallel and in file order.

use std::io::Write;

use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::json::{self, JsonValue, KeyWriter};
use crate::parallel::ordered_map_weighted;
use crate::rdb::batch::{SPAN_WEIGHT, Span, Spans};
use crate::rdb::decode::{self, Elem, Scratch};
use crate::rdb::reader::{Item, KeyEntry, Record, Trailer, verify_checksum};
use crate::rdb::{Header, RdbStr, Reader};

/// The shape of JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonFormat {
    /// One JSON object per line.
    Lines,
    /// One JSON array holding the same objects.
    Document,
}

/// What to do when the stored CRC-64 does not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumPolicy {
    /// Fail with an error showing both values.
    Verify,
    /// Report the mismatch in the summary and go on.
    Warn,
}

/// Options for [`rdb_to_json`].
#[derive(Clone, Debug)]
pub struct JsonOptions {
    /// Lines or document.
    pub format: JsonFormat,
    /// Which keys to write.
    pub filter: Filter,
    /// Also write the header, aux fields, functions and module aux data.
    pub include_meta: bool,
    /// Worker threads (1 runs inline).
    pub threads: usize,
    /// Checksum handling.
    pub checksum: ChecksumPolicy,
}

/// The state of a file's checksum after a full read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumState {
    /// Stored and computed values match.
    Valid,
    /// The file has no checksum, or it is zero (checksums disabled when written).
    Absent,
    /// The values differ (only with [`ChecksumPolicy::Warn`]).
    Mismatch {
        /// The stored value.
        stored: u64,
        /// The computed value.
        computed: u64,
    },
}

/// What a conversion wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Keys read from the file.
    pub keys_read: u64,
    /// Keys written after filtering.
    pub keys_written: u64,
    /// Checksum result.
    pub checksum: ChecksumState,
    /// Bytes after the trailer.
    pub trailing_bytes: u64,
}

/// Converts an RDB file (`data`, the whole file) to JSON on `out`.
///
/// `progress` is called from the reading thread with the offset reached.
///
/// # Errors
/// The first structural error in file order, a checksum mismatch under
/// [`ChecksumPolicy::Verify`], or an I/O error from `out` (offset 0).
pub fn rdb_to_json(
    data: &[u8],
    options: &JsonOptions,
    out: &mut impl Write,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary> {
    let reader = Reader::new(data)?;
    let header = reader.header();
    if options.format == JsonFormat::Document {
        out.write_all(b"[\n").map_err(io_error)?;
    }
    let mut first = true;
    let mut write_chunk = |chunk: &[u8]| -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let chunk = match options.format {
            JsonFormat::Document if first => &chunk[1..],
            _ => chunk,
        };
        first = false;
        out.write_all(chunk).map_err(io_error)
    };
    if options.include_meta {
        let mut line = Vec::new();
        begin_record(&mut line, options.format);
        json::write_header(&mut line, &header);
        line.push(b'\n');
        write_chunk(&line)?;
    }
    let mut trailer: Option<Trailer> = None;
    let mut keys_read = 0;
    let mut keys_written = 0;
    let spans = Spans::new(reader, progress);
    // Output buffers go back to the workers once written, so that memory is reused, not churned.
    let pool = std::sync::Mutex::new(Vec::<Vec<u8>>::new());
    ordered_map_weighted(
        options.threads,
        spans,
        |span| span.weight,
        in_flight_budget(options.threads),
        Worker::new,
        |worker, span| {
            let buf = pool.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default();
            render_span(data, header, &span, options, worker, buf)
        },
        |rendered| {
            keys_read += rendered.keys_read;
            keys_written += rendered.keys_written;
            trailer = trailer.or(rendered.trailer);
            let written = write_chunk(&rendered.bytes);
            let mut buf = rendered.bytes;
            if buf.capacity() <= KEEP_BUFFER {
                buf.clear();
                if let Ok(mut p) = pool.lock() {
                    p.push(buf);
                }
            }
            written
        },
    )?;
    if options.format == JsonFormat::Document {
        out.write_all(b"]\n").map_err(io_error)?;
    }
    out.flush().map_err(io_error)?;
    let (trailer, checksum) = checksum_state(data, trailer, options.checksum)?;
    Ok(Summary { keys_read, keys_written, checksum, trailing_bytes: trailer.trailing_bytes })
}

/// The trailer a full read of `data` found (an error when the file ended before its EOF
/// opcode) and the state of its checksum under `policy`.
///
/// # Errors
/// A missing trailer, or a mismatch under [`ChecksumPolicy::Verify`].
pub fn checksum_state(
    data: &[u8],
    trailer: Option<Trailer>,
    policy: ChecksumPolicy,
) -> Result<(Trailer, ChecksumState)> {
    let trailer = trailer.ok_or_else(|| {
        Error::new(ErrorKind::Truncated { what: "EOF opcode", needed: 1, available: 0 }, data.len() as u64)
    })?;
    let state = match verify_checksum(data, &trailer) {
        Ok(true) => ChecksumState::Valid,
        Ok(false) => ChecksumState::Absent,
        Err(e) => match (e.kind(), policy) {
            (&ErrorKind::ChecksumMismatch { stored, computed }, ChecksumPolicy::Warn) => {
                ChecksumState::Mismatch { stored, computed }
            }
            _ => return Err(e),
        },
    };
    Ok((trailer, state))
}

fn io_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io(e), 0)
}

/// One batch rendered by a worker.
struct Rendered {
    bytes: Vec<u8>,
    keys_read: u64,
    keys_written: u64,
    trailer: Option<Trailer>,
}

fn begin_record(out: &mut Vec<u8>, format: JsonFormat) {
    if format == JsonFormat::Document {
        out.push(b',');
    }
}

/// Decoded bytes (see [`Span::weight`]) in flight between the walk and the output: a few spans
/// per worker. Rendered JSON is at most a few times the decoded bytes (escapes, base64), so
/// this bounds the memory that rendered output holds.
pub fn in_flight_budget(threads: usize) -> u64 {
    (threads as u64 + 2) * SPAN_WEIGHT
}

/// Output buffers up to this capacity are reused.
const KEEP_BUFFER: usize = 16 << 20;

/// Per-thread buffers reused from span to span.
pub(crate) struct Worker {
    pub(crate) scratch: Scratch,
    pub(crate) key: Vec<u8>,
    keys: KeyWriter,
}

impl Worker {
    pub(crate) fn new() -> Worker {
        Worker { scratch: Scratch::new(), key: Vec::new(), keys: KeyWriter::new() }
    }
}

/// A key name as an element, decompressing LZF names into `buf`.
#[inline]
pub(crate) fn key_elem<'x>(key: RdbStr<'x>, buf: &'x mut Vec<u8>) -> Result<Elem<'x>> {
    Ok(match key {
        RdbStr::Raw(b) => Elem::Bytes(b),
        RdbStr::Int(i) => Elem::Int(i),
        RdbStr::Lzf { compressed, len, offset } => {
            crate::rdb::lzf::decompress_into(compressed, len, offset, buf)?;
            Elem::Bytes(buf)
        }
    })
}

fn keeps_key(filter: &Filter, key: Elem<'_>) -> bool {
    match key {
        Elem::Bytes(b) => filter.keeps_key(b),
        Elem::Int(i) => filter.keeps_key(itoa::Buffer::new().format(i).as_bytes()),
    }
}

/// Renders the records of `span`, each value straight from the file into JSON.
fn render_span(
    data: &[u8],
    header: Header,
    span: &Span,
    options: &JsonOptions,
    worker: &mut Worker,
    mut bytes: Vec<u8>,
) -> Result<Rendered> {
    // Rendered JSON is about twice the decoded bytes, plus the boilerplate of each key.
    let estimate = usize::try_from(span.weight.saturating_mul(2)).unwrap_or(usize::MAX).min(64 << 20);
    bytes.reserve(estimate + span.records * 48);
    let mut r = Rendered { bytes, keys_read: 0, keys_written: 0, trailer: None };
    let mut reader = span.reader(data, header)?;
    let filter = &options.filter;
    let Worker { scratch, key: key_buf, keys } = worker;
    for _ in 0..span.records {
        let record_start = reader.offset();
        let db = reader.db();
        let start = r.bytes.len();
        begin_record(&mut r.bytes, options.format);
        let mut wrote = false;
        let bytes = &mut r.bytes;
        let record = reader.next_item(&mut |entry: KeyEntry<'_>, cur: &mut Cursor<'_>| {
            if !filter.keeps_meta(entry.db, entry.kind(), entry.expire_ms) {
                return decode::skip(entry.encoding, cur);
            }
            let key = key_elem(entry.key, key_buf)?;
            if filter.needs_key() && !keeps_key(filter, key) {
                return decode::skip(entry.encoding, cur);
            }
            keys.head(bytes, &entry, key);
            decode::visit(entry.encoding, cur, &mut JsonValue::new(bytes), scratch)?;
            keys.tail(bytes);
            wrote = true;
            Ok(())
        });
        let written = match record {
            Ok(Some(Item::Key(()))) => {
                r.keys_read += 1;
                r.keys_written += u64::from(wrote);
                wrote
            }
            Ok(Some(Item::Other(Record::Eof(trailer)))) => {
                r.trailer = Some(trailer);
                false
            }
            Ok(Some(Item::Other(other))) => options.include_meta && json::write_meta(&mut r.bytes, &other)?,
            Ok(None) => break,
            Err(e) => return Err(canonical_error(data, header, record_start, db, options).unwrap_or(e)),
        };
        if written {
            r.bytes.push(b'\n');
        } else {
            r.bytes.truncate(start);
        }
    }
    Ok(r)
}

/// The error that decoding the record at `pos` as [`KeyEntry::value`] does reports, for a record
/// that failed on the fast path (whose errors may differ in detail).
///
/// [`KeyEntry::value`]: crate::rdb::KeyEntry::value
#[cold]
fn canonical_error(data: &[u8], header: Header, pos: u64, db: u64, options: &JsonOptions) -> Option<Error> {
    let mut reader = Reader::resume(data, header, usize::try_from(pos).ok()?, db).ok()?;
    match reader.next_record() {
        Err(e) => Some(e),
        Ok(Some(Record::Key(entry))) => {
            if !options.filter.keeps_meta(entry.db, entry.kind(), entry.expire_ms) {
                return None;
            }
            let key = match entry.key.decode() {
                Ok(key) => key,
                Err(e) => return Some(entry.annotate(e)),
            };
            if options.filter.needs_key() && !key.with_bytes(|k| options.filter.keeps_key(k)) {
                return None;
            }
            entry.value().err()
        }
        Ok(_) => None,
    }
}
