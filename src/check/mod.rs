//! `check`: is a file what a server would load, and if not, where and how to repair it.
//!
//! Works on RDB files, AOF files (RESP, or an RDB preamble followed by RESP) and multi-part AOF
//! directories. What is found is data (a report), not an error: errors are for I/O.

pub mod multipart;
pub mod rdb;
pub mod repair;
pub mod resp;

use crate::aof::commands::Dialect;
use crate::aof::resp::Parser;
use crate::error::Error;
pub use rdb::{RdbReport, check_rdb};
pub use resp::{Cut, Problem, RespReport, check_resp};

/// What a file turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// An empty file (a valid, empty AOF).
    Empty,
    /// An RDB file.
    Rdb,
    /// A RESP AOF.
    Resp,
    /// An AOF starting with an RDB preamble.
    Preamble,
}

/// The findings for one file.
#[derive(Debug)]
pub struct FileReport {
    /// Size in bytes.
    pub len: u64,
    /// What the file is.
    pub kind: FileKind,
    /// The RDB part, when there is one and it could be read.
    pub rdb: Option<RdbReport>,
    /// The RESP part, when there is one.
    pub resp: Option<RespReport>,
    /// Bytes after an RDB file's trailer that are not RESP (servers ignore them).
    pub trailing_bytes: u64,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

impl FileReport {
    /// True when no problem was found (and, with `--strict`, every command is one the server
    /// accepts).
    pub fn is_valid(&self) -> bool {
        self.problem.is_none() && self.resp.as_ref().is_none_or(|r| r.strict_count == 0)
    }
}

/// True when `data` starts like an RDB file (or an RDB preamble), or is a prefix of a magic
/// (an RDB cut short; no RESP file starts with `R` or `V`).
pub fn is_rdb(data: &[u8]) -> bool {
    [&b"REDIS"[..], b"VALKEY"].iter().any(|magic| data.starts_with(magic) || magic.starts_with(data))
        && !data.is_empty()
}

/// Checks one file's bytes. RDB data followed by RESP is an AOF with a preamble; RDB data
/// followed by anything else is an RDB file with trailing bytes.
///
/// With `strict`, RESP commands are also checked against that server's command table.
pub fn check_file(
    data: &[u8],
    threads: usize,
    strict: Option<Dialect>,
    progress: &(dyn Fn(u64) + Sync),
) -> FileReport {
    let len = data.len() as u64;
    let mut report =
        FileReport { len, kind: FileKind::Resp, rdb: None, resp: None, trailing_bytes: 0, problem: None };
    if data.is_empty() {
        report.kind = FileKind::Empty;
        return report;
    }
    let mut resp_start = 0;
    if is_rdb(data) {
        report.kind = FileKind::Rdb;
        match check_rdb(data, threads, progress) {
            Ok(rdb) => {
                resp_start = rdb.end as usize;
                report.rdb = Some(rdb);
            }
            Err(error) => {
                report.problem = Some(unrepairable(error));
                return report;
            }
        }
        let tail = &data[resp_start..];
        if tail.is_empty() {
            return report;
        }
        let aof_base = report.rdb.as_ref().is_some_and(RdbReport::is_aof_preamble);
        if !aof_base && !matches!(tail.first(), Some(b'*' | b'#')) {
            report.trailing_bytes = tail.len() as u64;
            return report;
        }
        report.kind = FileKind::Preamble;
    }
    let parser = Parser::new(&data[resp_start..], resp_start as u64);
    let (resp, problem) = check_resp(&parser, len, threads, strict);
    progress(len);
    report.resp = Some(resp);
    report.problem = problem;
    report
}

/// A problem that truncation cannot repair (a damaged RDB part).
fn unrepairable(error: Error) -> Problem {
    let truncated = matches!(error.kind(), crate::ErrorKind::Truncated { .. });
    Problem { error, line: None, truncated, cut: None }
}
