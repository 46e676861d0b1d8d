//! `convert` from RDB to JSON Lines or one JSON document, in parallel and in file order.

use std::io::Write;

use crate::error::{Error, ErrorKind, Result};
use crate::filter::Filter;
use crate::json;
use crate::parallel::ordered_map;
use crate::rdb::Reader;
use crate::rdb::batch::Batches;
use crate::rdb::reader::{Record, Trailer, verify_checksum};

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
    let batches = Batches::new(reader, progress);
    ordered_map(
        options.threads,
        batches,
        |batch| render_batch(&batch, options),
        |rendered| {
            keys_read += rendered.keys_read;
            keys_written += rendered.keys_written;
            trailer = trailer.or(rendered.trailer);
            write_chunk(&rendered.bytes)
        },
    )?;
    if options.format == JsonFormat::Document {
        out.write_all(b"]\n").map_err(io_error)?;
    }
    out.flush().map_err(io_error)?;
    let trailer = trailer.ok_or_else(|| {
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
    Ok(Summary { keys_read, keys_written, checksum, trailing_bytes: trailer.trailing_bytes })
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

/// Rendered JSON is about twice the input for typical data, plus the per-key boilerplate; sizing
/// the buffer up front avoids regrowing it.
fn estimate_output(batch: &[Record<'_>]) -> usize {
    batch.iter().map(|r| if let Record::Key(k) = r { k.raw.len() + 96 } else { 64 }).sum()
}

fn render_batch(batch: &[Record<'_>], options: &JsonOptions) -> Result<Rendered> {
    let mut r = Rendered {
        bytes: Vec::with_capacity(estimate_output(batch)),
        keys_read: 0,
        keys_written: 0,
        trailer: None,
    };
    for record in batch {
        let start = r.bytes.len();
        begin_record(&mut r.bytes, options.format);
        let written = match record {
            Record::Key(entry) => {
                r.keys_read += 1;
                let filter = &options.filter;
                if !filter.keeps_meta(entry.db, entry.kind(), entry.expire_ms) {
                    false
                } else {
                    let key = entry.key.decode().map_err(|e| entry.annotate(e))?;
                    if filter.needs_key() && !key.with_bytes(|k| filter.keeps_key(k)) {
                        false
                    } else {
                        let value = entry.value()?;
                        json::write_key(&mut r.bytes, entry, &key, &value);
                        r.keys_written += 1;
                        true
                    }
                }
            }
            Record::Eof(trailer) => {
                r.trailer = Some(*trailer);
                false
            }
            other => options.include_meta && json::write_meta(&mut r.bytes, other)?,
        };
        if written {
            r.bytes.push(b'\n');
        } else {
            r.bytes.truncate(start);
        }
    }
    Ok(r)
}
