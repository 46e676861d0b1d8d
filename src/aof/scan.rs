//! Scanning a whole RESP body: every item framed and counted, in parallel segments whose
//! boundaries are exact.
//!
//! The body is cut into segments. Each segment after the first starts parsing at the first line
//! that looks like an item start; that guess is accepted only when the previous segment's last
//! item ended exactly there, otherwise the segment is parsed again from the true boundary. A false
//! start inside a value is therefore never accepted, and the result is identical for any number
//! of threads.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::commands::{Dialect, Verdict, check as check_command};
use super::resp::{Command, Item, Parser, parse_digits};
use crate::error::Error;

/// Segments per thread, for load balance.
const SEGMENTS_PER_THREAD: usize = 8;
/// Smallest segment worth a task.
const MIN_SEGMENT: usize = 1 << 20;

/// An item whose position matters after the scan: transactions, db switches, timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// Absolute offset of the item.
    pub offset: u64,
    /// Absolute offset just past the item.
    pub end: u64,
    /// Number of commands before this item in the body.
    pub commands_before: u64,
}

/// Kinds of [`Event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `MULTI`.
    Multi,
    /// `EXEC`.
    Exec,
    /// `SELECT <db>` (`None` when the argument is not a number).
    Select(Option<u64>),
    /// `#TS:<unix seconds>` (`None` when the number does not parse).
    Timestamp(Option<i64>),
}

/// Most strict-mode findings kept with their details (all are counted).
const MAX_STRICT_FINDINGS: usize = 20;

/// A well-formed command that the chosen server's command table rejects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrictFinding {
    /// Absolute offset of the command.
    pub offset: u64,
    /// The command name (and subcommand), lossily as text.
    pub name: String,
    /// Why the server would reject it.
    pub verdict: Verdict,
}

/// Counts gathered over a scanned range.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Command table to check commands against (`--strict`), if any.
    pub strict: Option<Dialect>,
    /// Commands the table rejects.
    pub strict_count: u64,
    /// The first of them, in order.
    pub strict_findings: Vec<StrictFinding>,
    /// Complete commands.
    pub commands: u64,
    /// Annotation lines.
    pub annotations: u64,
    /// Commands per lowercase name.
    pub names: FxHashMap<Vec<u8>, u64>,
    /// The last command name as written, while commands repeat it (AOFs hold long runs of one
    /// command): counted here and added to `names` when the run ends.
    run_name: Vec<u8>,
    /// Commands in the current run not yet added to `names`.
    run_len: u64,
    /// Transactions, db switches and timestamps, in order.
    pub events: Vec<Event>,
}

impl Stats {
    /// Empty stats that check commands against `strict`'s table.
    pub fn new(strict: Option<Dialect>) -> Stats {
        Stats { strict, ..Stats::default() }
    }

    fn add_command(&mut self, cmd: &Command<'_>) {
        if let Some(dialect) = self.strict {
            self.check_strict(cmd, dialect);
        }
        let name = cmd.name;
        if self.run_len > 0 && name == self.run_name.as_slice() {
            self.run_len += 1;
            self.commands += 1;
            return;
        }
        self.end_run();
        let mut lower = [0u8; 32];
        let kind = if name.len() <= lower.len() {
            let lower = &mut lower[..name.len()];
            lower.copy_from_slice(name);
            lower.make_ascii_lowercase();
            match self.names.get_mut(&*lower) {
                Some(n) => *n += 1,
                None => {
                    self.names.insert(lower.to_vec(), 1);
                }
            }
            event_kind(lower, cmd)
        } else {
            *self.names.entry(name.to_ascii_lowercase()).or_default() += 1;
            None
        };
        match kind {
            Some(kind) => self.events.push(Event {
                kind,
                offset: cmd.offset,
                end: cmd.end(),
                commands_before: self.commands,
            }),
            // Commands without events can start a run.
            None => {
                self.run_name.clear();
                self.run_name.extend_from_slice(name);
                self.run_len = 1;
            }
        }
        self.commands += 1;
    }

    /// Adds the current run of a repeated name to `names`.
    fn end_run(&mut self) {
        if self.run_len > 1 {
            *self.names.entry(self.run_name.to_ascii_lowercase()).or_default() += self.run_len - 1;
        }
        self.run_len = 0;
    }

    fn check_strict(&mut self, cmd: &Command<'_>, dialect: Dialect) {
        let mut args = cmd.args();
        let (name, second) = (args.next().unwrap_or_default(), args.next());
        let verdict = check_command(name, second, cmd.argc, dialect);
        if verdict == Verdict::Ok {
            return;
        }
        self.strict_count += 1;
        if self.strict_findings.len() < MAX_STRICT_FINDINGS {
            let mut text = String::from_utf8_lossy(name).into_owned();
            if let (Verdict::UnknownSubcommand, Some(sub)) = (verdict, second) {
                text = format!("{text} {}", String::from_utf8_lossy(sub));
            }
            self.strict_findings.push(StrictFinding { offset: cmd.offset, name: text, verdict });
        }
    }

    fn add_annotation(&mut self, offset: u64, end: u64, text: &[u8]) {
        self.annotations += 1;
        if let Some(ts) = text.strip_prefix(b"TS:") {
            let value = std::str::from_utf8(ts).ok().and_then(|t| t.trim().parse().ok());
            let kind = EventKind::Timestamp(value);
            self.events.push(Event { kind, offset, end, commands_before: self.commands });
        }
    }

    /// Appends `other`, which follows `self` in the body.
    fn append(&mut self, other: Stats) {
        let before = self.commands;
        self.events.extend(
            other.events.into_iter().map(|e| Event { commands_before: e.commands_before + before, ..e }),
        );
        self.commands += other.commands;
        self.annotations += other.annotations;
        self.strict_count += other.strict_count;
        let room = MAX_STRICT_FINDINGS.saturating_sub(self.strict_findings.len());
        self.strict_findings.extend(other.strict_findings.into_iter().take(room));
        for (name, n) in other.names {
            *self.names.entry(name).or_default() += n;
        }
    }
}

fn event_kind(lower_name: &[u8], cmd: &Command<'_>) -> Option<EventKind> {
    match lower_name {
        b"multi" => Some(EventKind::Multi),
        b"exec" => Some(EventKind::Exec),
        b"select" => {
            let db = cmd.args().nth(1).and_then(parse_digits).map(|d| d as u64);
            Some(EventKind::Select(db))
        }
        _ => None,
    }
}

/// The result of scanning a range of a body.
#[derive(Debug, Default)]
pub struct Scan {
    /// Index where parsing started.
    pub start: usize,
    /// Index just past the last complete item.
    pub end: usize,
    /// Index where the last complete item starts, when there is one.
    pub last_item_start: Option<usize>,
    /// What was parsed.
    pub stats: Stats,
    /// The first problem, at `end`.
    pub error: Option<Error>,
}

/// Parses items from index `start` while they start before `stop`.
pub fn scan_range(parser: &Parser<'_>, start: usize, stop: usize) -> Scan {
    scan_range_with(parser, start, stop, None)
}

fn scan_range_with(parser: &Parser<'_>, start: usize, stop: usize, strict: Option<Dialect>) -> Scan {
    let mut scan = Scan { start, end: start, stats: Stats::new(strict), ..Scan::default() };
    while scan.end < stop {
        match parser.item(scan.end) {
            Ok((Item::Command(cmd), next)) => {
                scan.stats.add_command(&cmd);
                scan.last_item_start = Some(scan.end);
                scan.end = next;
            }
            Ok((Item::Annotation { offset, text }, next)) => {
                scan.stats.add_annotation(offset, parser.offset(next), text);
                scan.last_item_start = Some(scan.end);
                scan.end = next;
            }
            Err(e) => {
                scan.error = Some(e);
                break;
            }
        }
    }
    scan.stats.end_run();
    scan
}

/// Scans the whole body with `threads` threads; the result does not depend on `threads`.
/// With `strict`, commands are also checked against that server's command table.
pub fn scan(parser: &Parser<'_>, threads: usize, strict: Option<Dialect>) -> Scan {
    let len = parser.data().len();
    let segment = (len / (threads.max(1) * SEGMENTS_PER_THREAD)).max(MIN_SEGMENT);
    if threads <= 1 || len <= segment {
        return scan_range_with(parser, 0, len, strict);
    }
    let bounds: Vec<(usize, usize)> =
        (0..len).step_by(segment).map(|s| (s, (s + segment).min(len))).collect();
    let speculative: Vec<Option<Scan>> = bounds
        .par_iter()
        .enumerate()
        .map(|(i, &(from, to))| {
            let start = if i == 0 { Some(0) } else { guess_item_start(parser.data(), from, to) };
            start.map(|s| scan_range_with(parser, s, to, strict))
        })
        .collect();
    stitch(parser, &bounds, speculative, strict)
}

/// Joins segment results in order, re-parsing any segment whose guessed start was wrong.
fn stitch(
    parser: &Parser<'_>,
    bounds: &[(usize, usize)],
    speculative: Vec<Option<Scan>>,
    strict: Option<Dialect>,
) -> Scan {
    let mut whole = Scan { stats: Stats::new(strict), ..Scan::default() };
    for (&(_, to), guess) in bounds.iter().zip(speculative) {
        if whole.end >= to {
            continue; // an item of an earlier segment covered this one
        }
        let part = match guess {
            Some(scan) if scan.start == whole.end => scan,
            _ => scan_range_with(parser, whole.end, to, strict),
        };
        whole.end = part.end;
        whole.last_item_start = part.last_item_start.or(whole.last_item_start);
        whole.stats.append(part.stats);
        if part.error.is_some() {
            whole.error = part.error;
            break;
        }
    }
    whole
}

/// The first index in `from..to` that starts a line beginning like an item (`*<digit>` or `#`).
fn guess_item_start(data: &[u8], from: usize, to: usize) -> Option<usize> {
    let window = &data[from.saturating_sub(1)..to];
    memchr::memchr_iter(b'\n', window)
        .map(|nl| from.saturating_sub(1) + nl + 1)
        .find(|&p| p < to && matches!(data.get(p..p + 2), Some([b'*', b'1'..=b'9']) | Some([b'#', _])))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body whose values are full of fake item starts.
    fn tricky_body(commands: usize) -> Vec<u8> {
        let mut body = Vec::new();
        for i in 0..commands {
            if i % 50 == 0 {
                body.extend_from_slice(format!("#TS:{}\r\n", 1_700_000_000 + i).as_bytes());
            }
            let value = format!("\n*3\r\n$3\r\nSET\r\n#x\n*1\r\n{i}");
            let cmd =
                format!("*3\r\n$3\r\nSET\r\n$4\r\nk{:03}\r\n${}\r\n{}\r\n", i % 1000, value.len(), value);
            body.extend_from_slice(cmd.as_bytes());
            if i % 97 == 0 {
                body.extend_from_slice(
                    b"*1\r\n$5\r\nMULTI\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*1\r\n$4\r\nEXEC\r\n",
                );
            }
        }
        body
    }

    fn summary(scan: &Scan) -> (usize, u64, u64, usize, Option<u64>) {
        let err = scan.error.as_ref().map(Error::offset);
        (scan.end, scan.stats.commands, scan.stats.annotations, scan.stats.events.len(), err)
    }

    #[test]
    fn parallel_scans_equal_the_sequential_scan() {
        let body = tricky_body(60_000);
        assert!(body.len() > 3 * MIN_SEGMENT);
        let parser = Parser::new(&body, 0);
        let one = scan(&parser, 1, None);
        assert_eq!(one.end, body.len());
        assert!(one.error.is_none());
        assert_eq!(one.stats.names.get(&b"set"[..]), Some(&60_000));
        for threads in [2, 3, 4] {
            let many = scan(&parser, threads, None);
            assert_eq!(summary(&many), summary(&one), "{threads} threads");
            assert_eq!(many.stats.events, one.stats.events);
        }
    }

    #[test]
    fn strict_mode_flags_commands_the_servers_reject() {
        let mut body = tricky_body(30_000);
        body.extend_from_slice(b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n*1\r\n$6\r\nFOOBAR\r\n");
        let parser = Parser::new(&body, 0);
        assert_eq!(scan(&parser, 2, None).stats.strict_count, 0);
        let one = scan(&parser, 1, Some(Dialect::Redis7));
        assert_eq!(one.stats.strict_count, 2);
        assert_eq!(one.stats.strict_findings[1].name, "FOOBAR");
        assert_eq!(one.stats.strict_findings[1].verdict, Verdict::UnknownCommand);
        let two = scan(&parser, 2, Some(Dialect::Redis7));
        assert_eq!(two.stats.strict_findings, one.stats.strict_findings);
    }

    #[test]
    fn the_first_error_wins_for_any_thread_count() {
        let mut body = tricky_body(60_000);
        let at = body.len() / 2;
        let at = at + memchr::memmem::find(&body[at..], b"*3\r\n$3\r\nSET\r\n$4\r\nk").unwrap();
        body[at + 1] = b'x';
        let parser = Parser::new(&body, 100);
        let one = scan(&parser, 1, None);
        assert_eq!(one.error.as_ref().map(Error::offset), Some(100 + at as u64 + 1));
        for threads in [2, 4] {
            assert_eq!(summary(&scan(&parser, threads, None)), summary(&one));
        }
    }
}
