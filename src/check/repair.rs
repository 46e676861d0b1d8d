//! Planning repairs: which byte ranges of a damaged AOF to keep.
//!
//! * truncation keeps everything before the first problem, except an unfinished MULTI block;
//! * salvage drops only damaged ranges, resynchronising on a verified command start, and drops
//!   whole transactions that damage tore apart (a transaction is applied entirely or not at all);
//! * a timestamp cut keeps everything before the first `#TS:` annotation later than a time.

use std::ops::Range;

use crate::aof::resp::Parser;
use crate::aof::scan::{EventKind, scan_range};

/// Items that must parse after a candidate restart for it to count as verified (fewer when
/// the file ends cleanly first).
const VERIFY_ITEMS: usize = 8;

/// A repair: absolute byte ranges kept and dropped, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Repair {
    /// Ranges written to the repaired file, in order.
    pub keep: Vec<Range<u64>>,
    /// Ranges left out, in order.
    pub dropped: Vec<Range<u64>>,
}

impl Repair {
    /// Keeps `[0, cut)` of a file of `len` bytes.
    pub fn truncate(len: u64, cut: u64) -> Repair {
        let dropped: Vec<Range<u64>> =
            if cut < len { std::iter::once(cut..len).collect() } else { Vec::new() };
        Repair { keep: complement(&dropped, len), dropped }
    }

    /// Bytes dropped.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped.iter().map(|r| r.end - r.start).sum()
    }

    /// True when nothing is dropped.
    pub fn is_noop(&self) -> bool {
        self.dropped.is_empty()
    }

    /// The repaired bytes of `data` (the whole file).
    pub fn write_to(&self, data: &[u8], out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.keep.iter().try_for_each(|r| out.write_all(&data[r.start as usize..r.end as usize]))
    }
}

/// Plans a salvage of the RESP body parsed by `parser` (the file's bytes before the body are
/// kept as they are). Returns `None` when nothing is damaged.
pub fn salvage(parser: &Parser<'_>) -> Option<Repair> {
    let data = parser.data();
    let mut keep: Vec<Range<usize>> = Vec::new();
    let mut dropped: Vec<Range<usize>> = Vec::new();
    let mut pos = 0;
    loop {
        let scan = scan_range(parser, pos, data.len());
        if scan.error.is_none() {
            keep.push(pos..data.len());
            break;
        }
        let bad = scan.end;
        // A torn write can merge with the command after it into one that parses: then that
        // command's real start lies inside the last item, and the damage begins with the item.
        if let Some(item) = scan.last_item_start
            && let Some(restart) = find_restart_within(parser, item + 1, bad)
        {
            keep.push(pos..item);
            dropped.push(item..restart);
            pos = restart;
            continue;
        }
        keep.push(pos..bad);
        match find_restart(parser, bad + 1) {
            Some(restart) => {
                dropped.push(bad..restart);
                pos = restart;
            }
            None => {
                dropped.push(bad..data.len());
                break;
            }
        }
    }
    if dropped.is_empty() {
        return None;
    }
    let torn = torn_transactions(parser, &keep);
    dropped.extend(torn);
    let base = parser.offset(0);
    let mut dropped: Vec<Range<u64>> = dropped
        .into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| base + r.start as u64..base + r.end as u64)
        .collect();
    merge_adjacent(&mut dropped);
    let keep = complement(&dropped, parser.offset(data.len()));
    Some(Repair { keep, dropped })
}

/// The offset of the first `#TS:` annotation later than `unix_s` in the body, if any: cutting
/// there keeps everything written up to that time.
pub fn timestamp_cut(parser: &Parser<'_>, unix_s: i64, threads: usize) -> Option<u64> {
    let scan = crate::aof::scan::scan(parser, threads, None);
    scan.stats
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Timestamp(Some(t)) if t > unix_s))
        .map(|e| e.offset)
}

/// The first position at or after `from` where items parse cleanly: [`VERIFY_ITEMS`] of them, or
/// all items up to the end of the file. Damage need not end at a line break, so any `*` or `#`
/// is a candidate.
fn find_restart(parser: &Parser<'_>, from: usize) -> Option<usize> {
    let data = parser.data();
    memchr::memchr2_iter(b'*', b'#', data.get(from..)?)
        .map(|i| from + i)
        .find(|&start| verified(parser, start))
}

/// A restart in `from..bad` whose items parse cleanly past `bad`, where parsing failed before.
fn find_restart_within(parser: &Parser<'_>, from: usize, bad: usize) -> Option<usize> {
    let data = parser.data();
    memchr::memchr_iter(b'*', data.get(from..bad)?)
        .map(|i| from + i)
        .find(|&start| verified(parser, start) && parses_past(parser, start, bad))
}

/// True when items parse from `start` to beyond `bad`.
fn parses_past(parser: &Parser<'_>, start: usize, bad: usize) -> bool {
    let mut pos = start;
    while pos <= bad {
        match parser.item(pos) {
            Ok((_, next)) => pos = next,
            Err(_) => return false,
        }
    }
    true
}

fn verified(parser: &Parser<'_>, start: usize) -> bool {
    let mut pos = start;
    for _ in 0..VERIFY_ITEMS {
        if pos == parser.data().len() {
            return true;
        }
        match parser.item(pos) {
            Ok((_, next)) => pos = next,
            Err(_) => return false,
        }
    }
    true
}

/// Ranges to drop so that no transaction survives in part: a MULTI whose EXEC was lost goes
/// with everything after it up to the damage; commands after the damage up to an EXEC whose
/// MULTI was lost go too; a stray EXEC in undamaged data goes alone.
fn torn_transactions(parser: &Parser<'_>, keep: &[Range<usize>]) -> Vec<Range<usize>> {
    let base = parser.offset(0);
    let idx = |offset: u64| (offset - base) as usize;
    let mut torn = Vec::new();
    for (i, range) in keep.iter().enumerate() {
        let events = scan_range(parser, range.start, range.end).stats.events;
        let mut open: Option<usize> = None;
        let mut after_damage = i > 0;
        for event in events.iter().filter(|e| idx(e.offset) < range.end) {
            match event.kind {
                EventKind::Multi => {
                    open.get_or_insert(idx(event.offset));
                    after_damage = false;
                }
                EventKind::Exec if open.is_some() => open = None,
                EventKind::Exec if after_damage => {
                    torn.push(range.start..idx(event.end));
                    after_damage = false;
                }
                EventKind::Exec => torn.push(idx(event.offset)..idx(event.end)),
                _ => {}
            }
        }
        if let Some(multi) = open {
            torn.push(multi..range.end);
        }
    }
    torn
}

/// The parts of `[0, len)` not covered by the sorted, disjoint `ranges`.
fn complement(ranges: &[Range<u64>], len: u64) -> Vec<Range<u64>> {
    let mut keep = Vec::new();
    let mut pos = 0;
    for r in ranges {
        if r.start > pos {
            keep.push(pos..r.start);
        }
        pos = r.end;
    }
    if pos < len {
        keep.push(pos..len);
    }
    keep
}

fn merge_adjacent(ranges: &mut Vec<Range<u64>>) {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges.drain(..) {
        match out.last_mut() {
            Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    *ranges = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
    const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

    fn kept(data: &[u8], base: usize) -> Vec<u8> {
        let file: Vec<u8> = [vec![b'R'; base], data.to_vec()].concat();
        let repair = salvage(&Parser::new(&file[base..], base as u64)).unwrap();
        let mut out = Vec::new();
        repair.write_to(&file, &mut out).unwrap();
        assert_eq!(&out[..base], &file[..base], "the bytes before the body are kept");
        out[base..].to_vec()
    }

    #[test]
    fn salvage_drops_only_the_garbage() {
        let good: Vec<u8> = [SET, SET, SET].concat();
        let damaged: Vec<u8> = [SET, b"garbage\r\n*9\r\n$1".as_slice(), SET, SET].concat();
        assert_eq!(kept(&damaged, 0), good);
        assert_eq!(kept(&damaged, 5), good);
        assert!(salvage(&Parser::new(&good, 0)).is_none());
    }

    #[test]
    fn salvage_drops_a_torn_write_then_keeps_what_follows() {
        let torn = &SET[..SET.len() - 7];
        let damaged: Vec<u8> = [SET, torn, SET, SET].concat();
        assert_eq!(kept(&damaged, 0), [SET, SET, SET].concat());
    }

    #[test]
    fn salvage_finds_the_command_a_torn_write_merged_with() {
        // The torn write declares an 11-byte argument and ends; the next command's first 11
        // bytes and its CRLF complete it, so it parses, and the failure comes inside that command.
        let torn = b"*2\r\n$3\r\nDEL\r\n$11\r\n";
        let damaged: Vec<u8> = [SET, torn.as_slice(), SET, SET].concat();
        let (merged, _) = Parser::new(&damaged, 0).item(SET.len()).unwrap();
        assert!(matches!(merged, crate::aof::resp::Item::Command(c) if c.is("DEL")));
        assert_eq!(kept(&damaged, 0), [SET, SET, SET].concat());
    }

    #[test]
    fn salvage_drops_whole_transactions_that_damage_tore() {
        // Damage between MULTI and EXEC: the whole transaction goes.
        let damaged: Vec<u8> = [SET, MULTI, SET, b"\x00\x00\x00".as_slice(), SET, EXEC, SET].concat();
        assert_eq!(kept(&damaged, 0), [SET, SET].concat());
        // A complete transaction after the damage stays.
        let damaged: Vec<u8> = [SET, b"\xff".as_slice(), MULTI, SET, EXEC].concat();
        assert_eq!(kept(&damaged, 0), [SET, MULTI, SET, EXEC].concat());
        // Damage at the end inside a transaction: truncated before MULTI.
        let damaged: Vec<u8> = [SET, MULTI, SET, &SET[..5]].concat();
        assert_eq!(kept(&damaged, 0), SET.to_vec());
    }

    #[test]
    fn truncation_keeps_a_prefix() {
        let r = Repair::truncate(100, 60);
        assert_eq!((r.keep.len(), r.dropped.len()), (1, 1));
        assert_eq!((r.keep[0].clone(), r.dropped[0].clone()), (0..60, 60..100));
        assert!(Repair::truncate(100, 100).is_noop());
    }
}
