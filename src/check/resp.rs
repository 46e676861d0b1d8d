//! Checking a RESP body: framing (from the scan), MULTI/EXEC pairing, and where a repair cuts.

use std::collections::BTreeSet;

use crate::aof::commands::Dialect;
use crate::aof::resp::Parser;
use crate::aof::scan::{Event, EventKind, Scan, StrictFinding, scan};
use crate::error::{Error, ErrorKind};

/// What a RESP body holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RespReport {
    /// Absolute offset where the body starts (after an RDB preamble).
    pub start: u64,
    /// Complete commands.
    pub commands: u64,
    /// Annotation lines.
    pub annotations: u64,
    /// Commands per lowercase name, most frequent first.
    pub names: Vec<(String, u64)>,
    /// Databases selected.
    pub dbs: BTreeSet<u64>,
    /// Complete MULTI/EXEC blocks.
    pub multi_blocks: u64,
    /// Smallest and largest `#TS:` value.
    pub timestamps: Option<(i64, i64)>,
    /// With `--strict`: commands the server's command table rejects.
    pub strict_count: u64,
    /// The first of them.
    pub strict_findings: Vec<StrictFinding>,
}

/// A problem in a file, and how truncation would repair it.
#[derive(Debug)]
pub struct Problem {
    /// The error, with the absolute offset and what was expected and found.
    pub error: Error,
    /// 1-based line of the offset, counted from the start of the RESP body.
    pub line: Option<u64>,
    /// True when the file simply ends too early (what `aof-load-truncated` tolerates).
    pub truncated: bool,
    /// What truncating would remove; `None` when truncation cannot repair the damage.
    pub cut: Option<Cut>,
}

/// A truncation: keep `[0, offset)`, drop the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Bytes kept.
    pub offset: u64,
    /// Bytes dropped.
    pub bytes: u64,
    /// Complete commands dropped.
    pub commands: u64,
    /// Range of the `#TS:` values dropped.
    pub timestamps: Option<(i64, i64)>,
}

/// Scans a RESP body and reports on it.
pub fn check_resp(
    parser: &Parser<'_>,
    file_len: u64,
    threads: usize,
    strict: Option<Dialect>,
) -> (RespReport, Option<Problem>) {
    let mut scan = scan(parser, threads, strict);
    let report = summarise(parser, &scan);
    let error = scan.error.take();
    let problem = find_problem(parser, &scan, error, file_len);
    (report, problem)
}

fn summarise(parser: &Parser<'_>, scan: &Scan) -> RespReport {
    let mut names: Vec<(String, u64)> =
        scan.stats.names.iter().map(|(n, c)| (String::from_utf8_lossy(n).into_owned(), *c)).collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut report = RespReport {
        start: parser.offset(0),
        commands: scan.stats.commands,
        annotations: scan.stats.annotations,
        names,
        strict_count: scan.stats.strict_count,
        strict_findings: scan.stats.strict_findings.clone(),
        ..RespReport::default()
    };
    for event in &scan.stats.events {
        match event.kind {
            EventKind::Select(Some(db)) => {
                report.dbs.insert(db);
            }
            EventKind::Exec => report.multi_blocks += 1,
            EventKind::Timestamp(Some(ts)) => {
                let (lo, hi) = report.timestamps.unwrap_or((ts, ts));
                report.timestamps = Some((lo.min(ts), hi.max(ts)));
            }
            _ => {}
        }
    }
    if report.commands > 0 && !scan.stats.events.iter().any(|e| matches!(e.kind, EventKind::Select(_))) {
        report.dbs.insert(0);
    }
    report
}

/// The first problem in file order: a transaction error found by replaying MULTI/EXEC, or the
/// framing error that stopped the scan, or a transaction left open at the end.
fn find_problem(parser: &Parser<'_>, scan: &Scan, error: Option<Error>, file_len: u64) -> Option<Problem> {
    let mut open_multi: Option<&Event> = None;
    for event in &scan.stats.events {
        match (event.kind, open_multi) {
            (EventKind::Multi, None) => open_multi = Some(event),
            (EventKind::Multi, Some(first)) => {
                return Some(problem_at(
                    parser,
                    scan,
                    file_len,
                    event.offset,
                    "MULTI",
                    "EXEC",
                    "a nested MULTI",
                    first,
                ));
            }
            (EventKind::Exec, Some(_)) => open_multi = None,
            (EventKind::Exec, None) => {
                return Some(problem_at(
                    parser,
                    scan,
                    file_len,
                    event.offset,
                    "EXEC",
                    "a MULTI before it",
                    "none",
                    event,
                ));
            }
            _ => {}
        }
    }
    let cut_from = open_multi.map_or(parser.offset(scan.end), |m| m.offset);
    let (error, truncated) = match error {
        Some(e) => {
            let truncated = matches!(e.kind(), ErrorKind::Truncated { .. });
            (e, truncated)
        }
        None if open_multi.is_some() => {
            let kind = ErrorKind::Truncated {
                what: "transaction (EXEC for an open MULTI)",
                needed: 1,
                available: 0,
            };
            (Error::new(kind, parser.offset(scan.end)), true)
        }
        None => return None,
    };
    let line = Some(line_of(parser, error.offset()));
    Some(Problem { error, line, truncated, cut: Some(cut(scan, file_len, cut_from)) })
}

/// A transaction problem at `offset`; the cut starts at `from` (the open MULTI, or the EXEC).
#[allow(clippy::too_many_arguments)]
fn problem_at(
    parser: &Parser<'_>,
    scan: &Scan,
    file_len: u64,
    offset: u64,
    what: &'static str,
    expected: &'static str,
    found: &str,
    from: &Event,
) -> Problem {
    let kind = ErrorKind::Invalid { what, expected, found: found.to_string() };
    let error = Error::new(kind, offset);
    Problem {
        error,
        line: Some(line_of(parser, offset)),
        truncated: false,
        cut: Some(cut(scan, file_len, from.offset)),
    }
}

/// The cut that keeps everything before absolute offset `from`.
fn cut(scan: &Scan, file_len: u64, from: u64) -> Cut {
    let events_after = scan.stats.events.iter().filter(|e| e.offset >= from);
    let commands_before = scan
        .stats
        .events
        .iter()
        .find(|e| e.offset >= from)
        .map_or(scan.stats.commands, |e| e.commands_before);
    let mut timestamps: Option<(i64, i64)> = None;
    for ts in
        events_after.filter_map(|e| if let EventKind::Timestamp(Some(t)) = e.kind { Some(t) } else { None })
    {
        let (lo, hi) = timestamps.unwrap_or((ts, ts));
        timestamps = Some((lo.min(ts), hi.max(ts)));
    }
    Cut { offset: from, bytes: file_len - from, commands: scan.stats.commands - commands_before, timestamps }
}

/// 1-based line of absolute `offset` within the body.
fn line_of(parser: &Parser<'_>, offset: u64) -> u64 {
    let pos = usize::try_from(offset.saturating_sub(parser.offset(0)))
        .unwrap_or(usize::MAX)
        .min(parser.data().len());
    1 + memchr::memchr_iter(b'\n', &parser.data()[..pos]).count() as u64
}
