//! Checking an RDB file (or an AOF's RDB part): structure, every value decoded, CRC-64.

use std::collections::BTreeMap;

use crate::convert::{ChecksumState, Worker, in_flight_budget, key_elem};
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};
use crate::parallel::ordered_map_weighted;
use crate::rdb::batch::{Span, Spans};
use crate::rdb::decode::{self, Elem, Visitor};
use crate::rdb::reader::{Item, KeyEntry, Record, Trailer, verify_checksum};
use crate::rdb::{Header, Kind, Reader, Value};

/// What an RDB check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdbReport {
    /// Magic and version.
    pub header: Header,
    /// Aux fields in file order (name, value), as text with non-UTF-8 bytes replaced.
    pub aux: Vec<(String, String)>,
    /// Keys per database and type.
    pub keys: BTreeMap<u64, BTreeMap<&'static str, u64>>,
    /// Keys with an expiry.
    pub expires: u64,
    /// Function libraries (both formats).
    pub functions: u64,
    /// Module aux records.
    pub module_aux: u64,
    /// Checksum result (a mismatch is also reported as the check's error).
    pub checksum: ChecksumState,
    /// Absolute offset just past the RDB (its trailer included).
    pub end: u64,
}

impl RdbReport {
    /// True when the aux fields mark the RDB as an AOF's preamble or base (`aof-base` since
    /// Redis 7, `aof-preamble` in Redis 4 to 6): what follows must then be RESP.
    pub fn is_aof_preamble(&self) -> bool {
        self.aux.iter().any(|(k, v)| (k == "aof-base" || k == "aof-preamble") && v == "1")
    }

    /// Total keys.
    pub fn total_keys(&self) -> u64 {
        self.keys.values().flat_map(BTreeMap::values).sum()
    }
}

/// Every logical type, in the order of the per-type counters.
const KINDS: [Kind; 7] =
    [Kind::String, Kind::List, Kind::Set, Kind::ZSet, Kind::Hash, Kind::Stream, Kind::Module];

fn kind_index(kind: Kind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

/// Counts from one batch.
#[derive(Default)]
struct Tally {
    aux: Vec<(String, String)>,
    /// Keys per type (indexed by [`kind_index`]), per database, in the order met.
    keys: Vec<(u64, [u64; KINDS.len()])>,
    expires: u64,
    functions: u64,
    module_aux: u64,
    trailer: Option<Trailer>,
}

/// A visitor that only lets the decoder validate.
struct Validate;

impl Visitor for Validate {
    #[inline]
    fn string(&mut self, _: Elem<'_>) {}
    #[inline]
    fn begin(&mut self) {}
    #[inline]
    fn item(&mut self, _: Elem<'_>) {}
    #[inline]
    fn scored(&mut self, _: Elem<'_>, _: f64) {}
    #[inline]
    fn field(&mut self, _: Elem<'_>, _: Elem<'_>, _: Option<i64>) {}
    #[inline]
    fn end(&mut self) {}
    #[inline]
    fn value(&mut self, _: &Value<'_>) {}

    fn wants_bytes(&self) -> bool {
        false
    }
}

/// Decodes every key name and value of `span` without keeping them, and counts.
fn tally(data: &[u8], header: Header, span: &Span, worker: &mut Worker) -> Result<Tally> {
    let mut t = Tally::default();
    let mut reader = span.reader(data, header)?;
    let Worker { scratch, key: key_buf, .. } = worker;
    for _ in 0..span.records {
        let record_start = reader.offset();
        let db = reader.db();
        let item = reader.next_item(&mut |entry: KeyEntry<'_>, cur: &mut Cursor<'_>| {
            key_elem(entry.key, key_buf)?;
            decode::visit(entry.encoding, cur, &mut Validate, scratch)?;
            Ok((entry.db, entry.kind(), entry.expire_ms.is_some()))
        });
        let record = match item {
            Ok(Some(Item::Key((db, kind, expires)))) => {
                match t.keys.last_mut() {
                    Some((last, counts)) if *last == db => counts[kind_index(kind)] += 1,
                    _ => {
                        let mut counts = [0; KINDS.len()];
                        counts[kind_index(kind)] = 1;
                        t.keys.push((db, counts));
                    }
                }
                t.expires += u64::from(expires);
                continue;
            }
            Ok(Some(Item::Other(record))) => record,
            Ok(None) => break,
            Err(e) => return Err(canonical_error(data, header, record_start, db).unwrap_or(e)),
        };
        match record {
            Record::Aux { name, value } => {
                let text = |s: crate::rdb::RdbStr<'_>| -> Result<String> {
                    Ok(String::from_utf8_lossy(&s.decode()?.as_cow()).into_owned())
                };
                t.aux.push((text(name)?, text(value)?));
            }
            Record::Function { .. } | Record::FunctionPreGa { .. } => t.functions += 1,
            Record::ModuleAux { .. } => t.module_aux += 1,
            Record::Eof(trailer) => t.trailer = Some(trailer),
            _ => {}
        }
    }
    Ok(t)
}

/// The error that decoding the key at `pos` with [`KeyEntry::value`] reports, for a key that
/// failed on the fast path (whose errors may differ in detail).
#[cold]
fn canonical_error(data: &[u8], header: Header, pos: u64, db: u64) -> Option<Error> {
    let mut reader = Reader::resume(data, header, usize::try_from(pos).ok()?, db).ok()?;
    match reader.next_record() {
        Err(e) => Some(e),
        Ok(Some(Record::Key(entry))) => match entry.key.decode() {
            Err(e) => Some(entry.annotate(e)),
            Ok(_) => entry.value().err(),
        },
        Ok(_) => None,
    }
}

/// Fully checks the RDB at the start of `data` with `threads` workers.
///
/// # Errors
/// The first structural problem in file order, or a checksum mismatch.
pub fn check_rdb(data: &[u8], threads: usize, progress: &(dyn Fn(u64) + Sync)) -> Result<RdbReport> {
    let reader = Reader::new(data)?;
    let header = reader.header();
    let mut report = RdbReport {
        header,
        aux: Vec::new(),
        keys: BTreeMap::new(),
        expires: 0,
        functions: 0,
        module_aux: 0,
        checksum: ChecksumState::Absent,
        end: 0,
    };
    let mut trailer = None;
    ordered_map_weighted(
        threads,
        Spans::new(reader, progress),
        |span| span.weight,
        in_flight_budget(threads),
        Worker::new,
        |worker, span| tally(data, header, &span, worker),
        |t| {
            report.aux.extend(t.aux);
            for (db, counts) in t.keys {
                let per_type = report.keys.entry(db).or_default();
                for (kind, n) in KINDS.iter().zip(counts).filter(|(_, n)| *n > 0) {
                    *per_type.entry(kind.name()).or_default() += n;
                }
            }
            report.expires += t.expires;
            report.functions += t.functions;
            report.module_aux += t.module_aux;
            trailer = trailer.or(t.trailer);
            Ok(())
        },
    )?;
    let trailer = trailer.ok_or_else(|| {
        Error::new(ErrorKind::Truncated { what: "EOF opcode", needed: 1, available: 0 }, data.len() as u64)
    })?;
    report.end = data.len() as u64 - trailer.trailing_bytes;
    report.checksum =
        if verify_checksum(data, &trailer)? { ChecksumState::Valid } else { ChecksumState::Absent };
    Ok(report)
}
