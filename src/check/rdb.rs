//! Checking an RDB file (or an AOF's RDB part): structure, every value decoded, CRC-64.

use std::collections::BTreeMap;

use crate::convert::ChecksumState;
use crate::error::{Error, ErrorKind, Result};
use crate::parallel::ordered_map;
use crate::rdb::batch::Batches;
use crate::rdb::reader::{Record, Trailer, verify_checksum};
use crate::rdb::{Header, Kind, Reader};

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

fn tally(batch: &[Record<'_>]) -> Result<Tally> {
    let mut t = Tally::default();
    for record in batch {
        match record {
            Record::Key(entry) => {
                entry.key.decode().map_err(|e| entry.annotate(e))?;
                entry.value()?;
                match t.keys.last_mut() {
                    Some((db, counts)) if *db == entry.db => counts[kind_index(entry.kind())] += 1,
                    _ => {
                        let mut counts = [0; KINDS.len()];
                        counts[kind_index(entry.kind())] = 1;
                        t.keys.push((entry.db, counts));
                    }
                }
                t.expires += u64::from(entry.expire_ms.is_some());
            }
            Record::Aux { name, value } => {
                let text = |s: crate::rdb::RdbStr<'_>| -> Result<String> {
                    Ok(String::from_utf8_lossy(&s.decode()?.as_cow()).into_owned())
                };
                t.aux.push((text(*name)?, text(*value)?));
            }
            Record::Function { .. } | Record::FunctionPreGa { .. } => t.functions += 1,
            Record::ModuleAux { .. } => t.module_aux += 1,
            Record::Eof(trailer) => t.trailer = Some(*trailer),
            _ => {}
        }
    }
    Ok(t)
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
    ordered_map(
        threads,
        Batches::new(reader, progress),
        |batch| tally(&batch),
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
