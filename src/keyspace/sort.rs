//! `SORT … STORE`, which servers log as given: the model sorts as they do.
//!
//! The elements of a list, set or sorted set are ordered as numbers (the elements themselves,
//! or weights named by a `BY` pattern), ties broken by comparing the elements byte-wise, or
//! with `ALPHA` byte-wise (by element, or by weight with missing weights first); `DESC`
//! reverses the comparison, tie-break included. A `BY` pattern without `*` sorts nothing: a
//! list keeps its order and a sorted set its rank order (both reversed by `DESC`), while a set,
//! whose order is its hash table's, is sorted `ALPHA` so that replicas agree. `LIMIT` takes a
//! window of the result, clamped to its length; `GET` patterns replace each element by the
//! values they name (missing ones stored as empty strings). The result replaces the destination
//! as a list, or deletes it when empty.
//!
//! Weights must be numbers as C's `strtod` reads them, up to a NUL byte or the end; a server
//! sorting with one that is not replies "One or more scores can't be converted into double".
//! Elements with equal `ALPHA` weights stay in load order in glibc's stable `qsort`, which the
//! model follows for a list sorted whole; when the load order is the server's hash order (a set
//! or sorted set) or a `LIMIT` makes the server use its partial quicksort, ties whose order
//! shows in the result are refused.

use std::cmp::Ordering;
use std::ops::Range;

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, int, is, strtod};
use super::{Keyspace, PackedList, Val};
use crate::rdb::Kind;

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "SORT" => sort,
        "SORT_RO" => |_, _| Err("SORT_RO only reads: servers never log it".into()),
        _ => return None,
    })
}

/// The options of a `SORT`, as the servers parse them.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// `LIMIT offset count`; a negative count takes all.
    limit: (i64, i64),
    /// The last `BY` pattern.
    by: Option<&'a [u8]>,
    /// Some `BY` pattern had no `*`: nothing is sorted (it sticks, as in the servers).
    nosort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

impl<'a> Options<'a> {
    fn parse(args: &[&'a [u8]]) -> Result<Options<'a>, Reject> {
        let mut o = Options {
            desc: false,
            alpha: false,
            limit: (0, -1),
            by: None,
            nosort: false,
            gets: Vec::new(),
            store: None,
        };
        let mut i = 0;
        while let Some(&opt) = args.get(i) {
            let after = args.len() - i - 1;
            if is(opt, "ASC") || is(opt, "DESC") {
                o.desc = is(opt, "DESC");
            } else if is(opt, "ALPHA") {
                o.alpha = true;
            } else if is(opt, "LIMIT") && after >= 2 {
                o.limit = (int(args[i + 1])?, int(args[i + 2])?);
                i += 2;
            } else if is(opt, "STORE") && after >= 1 {
                o.store = Some(args[i + 1]);
                i += 1;
            } else if is(opt, "BY") && after >= 1 {
                o.by = Some(args[i + 1]);
                o.nosort |= !c_string(args[i + 1]).contains(&b'*');
                i += 1;
            } else if is(opt, "GET") && after >= 1 {
                o.gets.push(args[i + 1]);
                i += 1;
            } else {
                return Err("syntax error".into());
            }
            i += 1;
        }
        Ok(o)
    }
}

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern…] [ASC|DESC] [ALPHA] [STORE dst]`:
/// without `STORE`, it only reads.
fn sort(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let src = c.arg(1)?;
    let options = Options::parse(&c.args[2..])?;
    let Some(dst) = options.store else { return Ok(()) };
    let stored: PackedList = {
        let selected = select(ks, c.db, Source::read(ks, c.db, src)?, &options)?;
        selected.into_iter().flat_map(|e| output(ks, c.db, &options.gets, e)).collect()
    };
    if stored.is_empty() {
        ks.remove(c.db, dst);
    } else {
        ks.put(c, dst, Val::List(Box::new(stored)), None);
    }
    Ok(())
}

/// The elements a `SORT` loads: a list's in order, a sorted set's by rank, a set's in the
/// model's order (the server's is its hash table's).
struct Source<'k> {
    kind: Kind,
    elements: Vec<&'k [u8]>,
}

impl<'k> Source<'k> {
    /// The source at `key` (a missing one is an empty list).
    fn read(ks: &'k Keyspace, db: u64, key: &[u8]) -> Result<Source<'k>, Reject> {
        let (kind, elements): (Kind, Vec<&[u8]>) = match ks.get(db, key).map(|s| &s.val) {
            None => (Kind::List, Vec::new()),
            Some(Val::List(l)) => (Kind::List, l.iter().collect()),
            Some(Val::Set(s)) => (Kind::Set, s.iter().map(|e| &e[..]).collect()),
            Some(Val::ZSet(z)) => (Kind::ZSet, z.iter().map(|(m, _)| m).collect()),
            Some(_) => return Err(wrong_type()),
        };
        Ok(Source { kind, elements })
    }
}

/// What a sort compares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Numbers (the elements', or their weights', 0 when missing), then elements.
    Numeric,
    /// Elements, byte-wise.
    Alpha,
    /// Weights, byte-wise, missing ones first.
    AlphaByWeight,
}

/// An element and what it is sorted by.
struct Entry<'k> {
    element: &'k [u8],
    number: f64,
    weight: Option<&'k [u8]>,
}

impl Entry<'_> {
    /// The servers' comparison, before `DESC` reverses it.
    fn compare(&self, other: &Self, mode: Mode) -> Ordering {
        match mode {
            Mode::Numeric => self
                .number
                .partial_cmp(&other.number)
                .unwrap_or(Ordering::Equal)
                .then_with(|| self.element.cmp(other.element)),
            Mode::Alpha => self.element.cmp(other.element),
            Mode::AlphaByWeight => self.weight.cmp(&other.weight),
        }
    }
}

/// The elements of the `LIMIT` window, in sorted order.
fn select<'k>(
    ks: &'k Keyspace,
    db: u64,
    source: Source<'k>,
    o: &Options<'_>,
) -> Result<Vec<&'k [u8]>, Reject> {
    let len = source.elements.len();
    let window = window(len, o.limit);
    // A set is sorted (ALPHA, by element) even when told not to, so that replicas agree.
    let (nosort, alpha, by) =
        if o.nosort && source.kind == Kind::Set { (false, true, None) } else { (o.nosort, o.alpha, o.by) };
    if nosort {
        let mut elements = source.elements;
        if o.desc {
            elements.reverse();
        }
        return Ok(elements[window].to_vec());
    }
    let mode = match (alpha, by) {
        (false, _) => Mode::Numeric,
        (true, None) => Mode::Alpha,
        (true, Some(_)) => Mode::AlphaByWeight,
    };
    let mut entries = source
        .elements
        .iter()
        .map(|&element| {
            let weight = by.and_then(|p| by_pattern(ks, db, p, element));
            let number = match (mode, by) {
                (Mode::Numeric, Some(_)) => weight.map_or(Ok(0.0), number)?,
                (Mode::Numeric, None) => number(element)?,
                _ => 0.0,
            };
            Ok(Entry { element, number, weight })
        })
        .collect::<Result<Vec<_>, Reject>>()?;
    let ordering = |a: &Entry<'_>, b: &Entry<'_>| {
        let order = a.compare(b, mode);
        if o.desc { order.reverse() } else { order }
    };
    entries.sort_by(ordering);
    // glibc's qsort is a stable merge sort; the partial quicksort is used with a BY pattern
    // and a window that is not the whole.
    let load_order_kept = source.kind == Kind::List && !(by.is_some() && window != (0..len));
    if !load_order_kept {
        check_ties(ks, db, &entries, &window, &o.gets, ordering)?;
    }
    Ok(entries[window].iter().map(|e| e.element).collect())
}

/// Refuses ties (runs of entries that compare equal) that reach into the window and whose
/// outputs differ: the server orders them by its hash table or its quicksort.
fn check_ties(
    ks: &Keyspace,
    db: u64,
    sorted: &[Entry<'_>],
    window: &Range<usize>,
    gets: &[&[u8]],
    ordering: impl Fn(&Entry<'_>, &Entry<'_>) -> Ordering,
) -> Result<(), Reject> {
    let mut start = 0;
    for run in sorted.chunk_by(|a, b| ordering(a, b) == Ordering::Equal) {
        let (first, end) = (start, start + run.len());
        start = end;
        if run.len() < 2 || end <= window.start || first >= window.end {
            continue;
        }
        let stored = output(ks, db, gets, run[0].element);
        if run[1..].iter().any(|e| output(ks, db, gets, e.element) != stored) {
            return Err("elements with equal sort weights: the server orders them by its hash table or \
                        its partial quicksort, which the log does not show"
                .into());
        }
    }
    Ok(())
}

/// The positions `LIMIT offset count` selects among `len` elements, clamped as the servers
/// clamp them.
fn window(len: usize, (offset, count): (i64, i64)) -> Range<usize> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = offset.clamp(0, len);
    let count = count.clamp(-1, len);
    let end = if count < 0 { len } else { (start + count).min(len) };
    if start >= len {
        return 0..0;
    }
    start as usize..end as usize
}

/// A weight as the servers read it: what `strtod` reads, which must end the value or stop at a
/// NUL byte (so an empty weight is 0), and not NaN.
fn number(text: &[u8]) -> Result<f64, Reject> {
    let read = strtod(text)?;
    if text.get(read.len).is_some_and(|b| *b != 0) || read.value.is_nan() {
        return Err("One or more scores can't be converted into double".into());
    }
    Ok(read.value)
}

/// What `SORT` stores for an element: the element, or the values its `GET` patterns name
/// (empty when missing).
fn output<'k>(ks: &'k Keyspace, db: u64, gets: &[&[u8]], element: &'k [u8]) -> Vec<&'k [u8]> {
    if gets.is_empty() {
        return vec![element];
    }
    gets.iter().map(|p| by_pattern(ks, db, p, element).unwrap_or_default()).collect()
}

/// `arg` up to its first NUL byte, as C string functions see it.
fn c_string(arg: &[u8]) -> &[u8] {
    &arg[..arg.iter().position(|b| *b == 0).unwrap_or(arg.len())]
}

/// The value `pattern` names for `element`, as the servers look it up: `#` is the element;
/// otherwise the first `*` is replaced by the element to name a key holding a string or, when
/// `->field` follows the `*`, a hash and its field. The `#`, the `*` and the `->` are found as
/// C string functions find them (before any NUL byte); the rest is taken whole.
fn by_pattern<'k>(ks: &'k Keyspace, db: u64, pattern: &[u8], element: &'k [u8]) -> Option<&'k [u8]> {
    let text = c_string(pattern);
    if text == b"#" {
        return Some(element);
    }
    let star = text.iter().position(|b| *b == b'*')?;
    let arrow = text[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|at| star + 1 + at)
        .filter(|&at| pattern.get(at + 2).is_some_and(|b| *b != 0));
    let key_end = arrow.unwrap_or(pattern.len());
    let key = [&pattern[..star], element, &pattern[star + 1..key_end]].concat();
    let val = &ks.get(db, &key)?.val;
    match arrow {
        Some(at) => hash_field(val, &pattern[at + 2..]),
        None => string(val),
    }
}

/// The value of a string.
fn string(val: &Val) -> Option<&[u8]> {
    match val {
        Val::Str(s) => Some(&s[..]),
        _ => None,
    }
}

/// The value of `field` in a hash.
fn hash_field<'v>(val: &'v Val, field: &[u8]) -> Option<&'v [u8]> {
    match val {
        Val::Hash(h) => h.get(field).map(|v| &v.value[..]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_clamp_as_the_servers_do() {
        assert_eq!(window(5, (0, -1)), 0..5);
        assert_eq!(window(5, (1, 2)), 1..3);
        assert_eq!(window(5, (-3, 2)), 0..2);
        assert_eq!(window(5, (3, 100)), 3..5);
        assert_eq!(window(5, (5, 1)), 0..0);
        assert_eq!(window(5, (1, 0)), 1..1);
        assert_eq!(window(5, (2, -7)), 2..5);
        assert_eq!(window(0, (0, -1)), 0..0);
        assert_eq!(window(3, (i64::MAX, i64::MAX)), 0..0);
    }

    #[test]
    fn weights_read_as_strtod_does() {
        assert_eq!(number(b"1.5"), Ok(1.5));
        assert_eq!(number(b" 5"), Ok(5.0));
        assert_eq!(number(b""), Ok(0.0));
        assert_eq!(number(b"7\0junk"), Ok(7.0));
        assert_eq!(number(b"-inf"), Ok(f64::NEG_INFINITY));
        for bad in [&b"nan"[..], b"5 ", b"1e", b"x", b"  "] {
            assert!(number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn patterns_read_as_the_servers_do() {
        let mut ks = Keyspace::new();
        let stamp = super::super::Stamp::new(None, 0);
        let call = Call { args: &[], db: 0, stamp, queued: false };
        ks.put(&call, b"w_a", Val::Str(b"1"[..].into()), None);
        ks.put(&call, b"w_a->", Val::Str(b"2"[..].into()), None);
        let field = super::super::HashValue::new(b"3"[..].into(), None);
        ks.put(&call, b"h_a", Val::Hash(Box::new([(b"f->g"[..].into(), field)].into_iter().collect())), None);
        let look = |p: &[u8]| by_pattern(&ks, 0, p, b"a");
        assert_eq!(look(b"#"), Some(&b"a"[..]));
        assert_eq!(look(b"#\0x"), Some(&b"a"[..]));
        assert_eq!(look(b"w_*"), Some(&b"1"[..]));
        assert_eq!(look(b"w_*->"), Some(&b"2"[..]));
        assert_eq!(look(b"h_*->f->g"), Some(&b"3"[..]));
        assert_eq!(look(b"h_*->nope"), None);
        assert_eq!(look(b"w_a"), None);
        assert_eq!(look(b"\0w_*"), None);
    }
}
