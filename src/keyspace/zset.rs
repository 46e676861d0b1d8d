//! Sorted-set commands: adds and increments with their options, removals (by member, rank,
//! score and lex range), pops, and the stored unions, intersections, differences and ranges.
//! Blocking pops and `ZMPOP` are logged as `ZPOPMIN`/`ZPOPMAX` with a count.

use std::cmp::Ordering;

use rustc_hash::FxHashMap;

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, double, index_range, int, is, strtod};
use super::{Keyspace, Val, ZSet};
use crate::rdb::Kind;

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "ZADD" => |ks, c| zadd(ks, c, false),
        "ZINCRBY" => |ks, c| {
            c.exactly(4)?;
            zadd(ks, c, true)
        },
        "ZREM" => zrem,
        "ZREMRANGEBYRANK" => |ks, c| remove_range(ks, c, By::Rank),
        "ZREMRANGEBYSCORE" => |ks, c| remove_range(ks, c, By::Score),
        "ZREMRANGEBYLEX" => |ks, c| remove_range(ks, c, By::Lex),
        "ZPOPMIN" => |ks, c| pop(ks, c, false),
        "ZPOPMAX" => |ks, c| pop(ks, c, true),
        "ZUNIONSTORE" => |ks, c| combine(ks, c, Op::Union),
        "ZINTERSTORE" => |ks, c| combine(ks, c, Op::Inter),
        "ZDIFFSTORE" => |ks, c| combine(ks, c, Op::Diff),
        "ZRANGESTORE" => zrangestore,
        "BZPOPMIN" | "BZPOPMAX" | "ZMPOP" | "BZMPOP" => {
            |_, _| Err("servers log this pop as the ZPOPMIN or ZPOPMAX it performed".into())
        }
        _ => return None,
    })
}

/// The sorted set in a value of sorted-set kind.
fn as_zset(val: &mut Val) -> Result<&mut ZSet, Reject> {
    match val {
        Val::ZSet(z) => Ok(z),
        _ => Err(wrong_type()),
    }
}

/// The sorted set at `key` for writing, when it exists (a wrong type is an error).
fn zset_mut<'k>(ks: &'k mut Keyspace, c: &Call<'_>, key: &[u8]) -> Result<Option<&'k mut ZSet>, Reject> {
    ks.existing(c, key, Kind::ZSet)?.map(as_zset).transpose()
}

/// Largest sorted set servers keep as a listpack (`zset-max-listpack-entries`, default).
const LISTPACK_ENTRIES: usize = 128;
/// Longest member a listpack sorted set holds (`zset-max-listpack-value`, default).
const LISTPACK_VALUE: usize = 64;

/// True when servers (with default limits) would hold `z`, grown by `adding` members, as a
/// listpack. Redis 7+ and Valkey store a listpack score that is an integer as one, so `-0`
/// becomes `0` there while a skiplist keeps it. (A set grown past the limits and shrunk again
/// stays a skiplist in the server; the model does not track that. Nor does it follow Valkey 8+
/// in making a skiplist of a set that a `ZADD` adds any long member to: like Redis, it
/// converts at the long member, after the members before it went into the listpack.)
fn listpack_sized(z: &ZSet, adding: usize) -> bool {
    z.len() + adding <= LISTPACK_ENTRIES && z.iter().all(|(m, _)| m.len() <= LISTPACK_VALUE)
}

/// `score` as a listpack holds it when `listpack`: `-0` as `0`.
fn as_stored(score: f64, listpack: bool) -> f64 {
    if listpack && score == 0.0 { 0.0 } else { score }
}

/// Stores `result` at `dst` (without expiry), or deletes `dst` when it is empty.
pub(super) fn store(ks: &mut Keyspace, c: &Call<'_>, dst: &[u8], mut result: ZSet) {
    if listpack_sized(&result, 0) {
        let zeros: Vec<Vec<u8>> = result.iter().filter(|(_, s)| *s == 0.0).map(|(m, _)| m.to_vec()).collect();
        for m in zeros {
            result.insert(m.into(), 0.0);
        }
    }
    if result.is_empty() {
        ks.remove(c.db, dst);
    } else {
        ks.put(c, dst, Val::ZSet(Box::new(result)), None);
    }
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member…`, and `ZINCRBY key increment member`
/// (parsed the same way, options included, as servers do). Setting a score equal to the
/// current one (`-0` for `0`) leaves it as it is; an increment giving NaN is an error.
pub(super) fn zadd(ks: &mut Keyspace, c: &Call<'_>, mut incr: bool) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    let mut first = 2;
    while let Some(opt) = c.args.get(first) {
        match opt {
            o if is(o, "NX") => nx = true,
            o if is(o, "XX") => xx = true,
            o if is(o, "GT") => gt = true,
            o if is(o, "LT") => lt = true,
            o if is(o, "INCR") => incr = true,
            o if is(o, "CH") => {}
            _ => break,
        }
        first += 1;
    }
    let pairs = &c.args[first..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err("syntax error".into());
    }
    if (nx && (xx || gt || lt)) || (gt && lt) {
        return Err("incompatible options".into());
    }
    if incr && pairs.len() > 2 {
        return Err("INCR option supports a single increment-element pair".into());
    }
    let scores: Vec<f64> = pairs.iter().step_by(2).map(|s| double(s)).collect::<Result<_, _>>()?;
    if xx && ks.get(c.db, key).is_none() {
        return Ok(());
    }
    let z = as_zset(ks.or_insert(c, key, Kind::ZSet, || Val::ZSet(Box::default()))?)?;
    let mut listpack = listpack_sized(z, 0) && scores.len() <= LISTPACK_ENTRIES;
    for (score, member) in scores.into_iter().zip(pairs.iter().skip(1).step_by(2)) {
        let Some(current) = z.score(member) else {
            if !xx {
                listpack &= member.len() <= LISTPACK_VALUE && z.len() < LISTPACK_ENTRIES;
                z.insert((*member).into(), as_stored(score, listpack));
            }
            continue;
        };
        let new = if incr { score + current } else { score };
        if nx {
            continue;
        }
        if new.is_nan() {
            return Err("resulting score is not a number (NaN)".into());
        }
        if !((lt && new >= current) || (gt && new <= current)) && new != current {
            z.insert((*member).into(), as_stored(new, listpack));
        }
    }
    Ok(())
}

fn zrem(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(3)?;
    let key = c.args[1];
    if let Some(z) = zset_mut(ks, c, key)? {
        for m in &c.args[2..] {
            z.remove(m);
        }
    }
    ks.drop_if_empty(c.db, key);
    Ok(())
}

/// `ZPOPMIN`/`ZPOPMAX key [count]`.
fn pop(ks: &mut Keyspace, c: &Call<'_>, max: bool) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let n = c.pop_count()?;
    if let Some(z) = zset_mut(ks, c, key)? {
        let popped: Vec<Vec<u8>> = if max {
            z.iter().rev().take(n).map(|(m, _)| m.to_vec()).collect()
        } else {
            z.iter().take(n).map(|(m, _)| m.to_vec()).collect()
        };
        for m in &popped {
            z.remove(m);
        }
    }
    ks.drop_if_empty(c.db, key);
    Ok(())
}

/// A score bound as `zslParseRange` reads it: `(` makes it exclusive; the rest is what
/// `strtod` reads, which must end the argument (or stop at a NUL byte); NaN is refused.
#[derive(Clone, Copy)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

impl ScoreBound {
    fn parse(arg: &[u8]) -> Result<ScoreBound, Reject> {
        let (text, exclusive) = match arg.strip_prefix(b"(") {
            Some(rest) => (rest, true),
            None => (arg, false),
        };
        let read = strtod(text)?;
        if text.get(read.len).is_some_and(|b| *b != 0) || read.value.is_nan() {
            return Err("min or max is not a float".into());
        }
        Ok(ScoreBound { value: read.value, exclusive })
    }
}

/// A lex bound: `-`, `+`, or a member after `[` (inclusive) or `(` (exclusive).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Lex<'a> {
    Lowest,
    Member(&'a [u8]),
    Highest,
}

/// A lex bound and whether it is exclusive (`-` and `+` are).
type LexBound<'a> = (Lex<'a>, bool);

fn lex_bound(arg: &[u8]) -> Result<LexBound<'_>, Reject> {
    match arg {
        b"-" => Ok((Lex::Lowest, true)),
        b"+" => Ok((Lex::Highest, true)),
        [b'[', rest @ ..] => Ok((Lex::Member(rest), false)),
        [b'(', rest @ ..] => Ok((Lex::Member(rest), true)),
        _ => Err("min or max not valid string range item".into()),
    }
}

/// What a range is given in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// Which members a range command selects.
enum Range<'a> {
    /// Ranks, negative ones from the end.
    Rank(i64, i64),
    /// Scores between two bounds.
    Score(ScoreBound, ScoreBound),
    /// Members between two lex bounds.
    Lex(LexBound<'a>, LexBound<'a>),
}

impl<'a> Range<'a> {
    fn parse(by: By, min: &'a [u8], max: &'a [u8]) -> Result<Range<'a>, Reject> {
        Ok(match by {
            By::Rank => Range::Rank(int(min)?, int(max)?),
            By::Score => Range::Score(ScoreBound::parse(min)?, ScoreBound::parse(max)?),
            By::Lex => Range::Lex(lex_bound(min)?, lex_bound(max)?),
        })
    }

    /// True when (`member`, `score`) is at or above the lower bound.
    fn above_min(&self, member: &[u8], score: f64) -> bool {
        match self {
            Range::Rank(..) => true,
            Range::Score(min, _) => {
                if min.exclusive {
                    score > min.value
                } else {
                    score >= min.value
                }
            }
            Range::Lex(min, _) => match Lex::Member(member).cmp(&min.0) {
                Ordering::Greater => true,
                Ordering::Equal => !min.1,
                Ordering::Less => false,
            },
        }
    }

    /// True when (`member`, `score`) is at or below the upper bound.
    fn below_max(&self, member: &[u8], score: f64) -> bool {
        match self {
            Range::Rank(..) => true,
            Range::Score(_, max) => {
                if max.exclusive {
                    score < max.value
                } else {
                    score <= max.value
                }
            }
            Range::Lex(_, max) => match Lex::Member(member).cmp(&max.0) {
                Ordering::Less => true,
                Ordering::Equal => !max.1,
                Ordering::Greater => false,
            },
        }
    }

    /// The members selected from `z`, in the order walked (highest first when `reverse`):
    /// after `offset` of them, at most `limit` (all when negative); a negative offset selects
    /// none. Score and lex ranges are walked as servers walk a small (listpack) sorted set:
    /// from the first member past the starting bound, while members stay within the other
    /// one — for lex ranges this matters when members' scores differ.
    fn select<'z>(&self, z: &'z ZSet, reverse: bool, offset: i64, limit: i64) -> Vec<(&'z [u8], f64)> {
        let ordered = |reverse: bool| -> Box<dyn Iterator<Item = (&'z [u8], f64)> + 'z> {
            if reverse { Box::new(z.iter().rev()) } else { Box::new(z.iter()) }
        };
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if let Range::Rank(start, end) = *self {
            let Some(ranks) = index_range(start, end, z.len()) else { return Vec::new() };
            return ordered(reverse).skip(*ranks.start()).take(ranks.end() - ranks.start() + 1).collect();
        }
        let Ok(offset) = usize::try_from(offset) else { return Vec::new() };
        if let Range::Lex(min, max) = self {
            let empty = match min.0.cmp(&max.0) {
                Ordering::Greater => true,
                Ordering::Equal => min.1 || max.1,
                Ordering::Less => false,
            };
            let first = z.iter().next().is_some_and(|(m, s)| self.below_max(m, s));
            let last = z.iter().next_back().is_some_and(|(m, s)| self.above_min(m, s));
            if empty || !first || !last {
                return Vec::new();
            }
        }
        let starts =
            |(m, s): &(&[u8], f64)| if reverse { self.below_max(m, *s) } else { self.above_min(m, *s) };
        let stays =
            |(m, s): &(&[u8], f64)| if reverse { self.above_min(m, *s) } else { self.below_max(m, *s) };
        let mut walk = ordered(reverse).skip_while(|e| !starts(e)).peekable();
        if !walk.peek().is_some_and(stays) {
            return Vec::new();
        }
        walk.skip(offset).take_while(stays).take(limit).collect()
    }
}

/// `ZREMRANGEBYRANK`/`ZREMRANGEBYSCORE`/`ZREMRANGEBYLEX key min max`.
fn remove_range(ks: &mut Keyspace, c: &Call<'_>, by: By) -> Result<(), Reject> {
    c.exactly(4)?;
    let key = c.args[1];
    let range = Range::parse(by, c.args[2], c.args[3])?;
    if let Some(z) = zset_mut(ks, c, key)? {
        let doomed: Vec<Vec<u8>> =
            range.select(z, false, 0, -1).into_iter().map(|(m, _)| m.to_vec()).collect();
        for m in &doomed {
            z.remove(m);
        }
    }
    ks.drop_if_empty(c.db, key);
    Ok(())
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]` (with `REV`,
/// score and lex ranges are given highest first).
fn zrangestore(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(5)?;
    let (dst, src) = (c.args[1], c.args[2]);
    let (mut by, mut reverse, mut window) = (By::Rank, false, None);
    let mut i = 5;
    while let Some(opt) = c.args.get(i) {
        match opt {
            o if is(o, "LIMIT") && i + 2 < c.args.len() => {
                window = Some((int(c.args[i + 1])?, int(c.args[i + 2])?));
                i += 2;
            }
            o if is(o, "REV") => reverse = true,
            o if is(o, "BYSCORE") => by = By::Score,
            o if is(o, "BYLEX") => by = By::Lex,
            _ => return Err("syntax error".into()),
        }
        i += 1;
    }
    let rank = by == By::Rank;
    if rank && window.is_some() {
        return Err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX".into()
        );
    }
    let (min, max) = if reverse && !rank { (c.args[4], c.args[3]) } else { (c.args[3], c.args[4]) };
    let range = Range::parse(by, min, max)?;
    let (offset, limit) = window.unwrap_or((0, -1));
    let result = match ks.get(c.db, src).map(|s| &s.val) {
        None => ZSet::default(),
        Some(Val::ZSet(z)) => {
            let mut result = ZSet::default();
            for (m, s) in range.select(z, reverse, offset, limit) {
                result.insert(m.into(), s);
            }
            result
        }
        Some(_) => return Err(wrong_type()),
    };
    store(ks, c, dst, result);
    Ok(())
}

/// How `Z…STORE` combines its sources.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// How scores of one member in several sources combine.
#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Folds `value` into `total` (a sum of opposite infinities is 0; a NaN `value` leaves a
    /// minimum or maximum as it is).
    fn fold(self, total: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *total += value;
                if total.is_nan() {
                    *total = 0.0;
                }
            }
            Aggregate::Min => *total = if value < *total { value } else { *total },
            Aggregate::Max => *total = if value > *total { value } else { *total },
        }
    }
}

/// `ZUNIONSTORE`/`ZINTERSTORE dst numkeys key… [WEIGHTS w…] [AGGREGATE SUM|MIN|MAX]` and
/// `ZDIFFSTORE dst numkeys key…`: sources may be sets (every score 1); missing ones are
/// empty. Unions and intersections take their sources smallest first (the order in which a
/// sum is added up), weighted scores that are NaN count as 0.
fn combine(ks: &mut Keyspace, c: &Call<'_>, op: Op) -> Result<(), Reject> {
    c.at_least(4)?;
    let dst = c.args[1];
    let n = int(c.args[2])?;
    if n < 1 {
        return Err("at least 1 input key is needed".into());
    }
    let n = usize::try_from(n).ok().filter(|n| *n <= c.args.len() - 3).ok_or("syntax error")?;
    let mut sources: Vec<FxHashMap<&[u8], f64>> = Vec::with_capacity(n);
    for key in &c.args[3..3 + n] {
        sources.push(match ks.get(c.db, key).map(|s| &s.val) {
            None => FxHashMap::default(),
            Some(Val::ZSet(z)) => z.iter().collect(),
            Some(Val::Set(s)) => s.iter().map(|m| (m.as_slice(), 1.0)).collect(),
            Some(_) => return Err(wrong_type()),
        });
    }
    let (mut weights, mut aggregate) = (vec![1.0; n], Aggregate::Sum);
    let mut i = 3 + n;
    while let Some(opt) = c.args.get(i) {
        let remaining = c.args.len() - i;
        if op != Op::Diff && remaining > n && is(opt, "WEIGHTS") {
            for (w, arg) in weights.iter_mut().zip(&c.args[i + 1..]) {
                *w = double(arg).map_err(|_| "weight value is not a float")?;
            }
            i += n + 1;
        } else if op != Op::Diff && remaining >= 2 && is(opt, "AGGREGATE") {
            aggregate = match c.args[i + 1] {
                a if is(a, "SUM") => Aggregate::Sum,
                a if is(a, "MIN") => Aggregate::Min,
                a if is(a, "MAX") => Aggregate::Max,
                _ => return Err("syntax error".into()),
            };
            i += 2;
        } else {
            return Err("syntax error".into());
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    if op != Op::Diff {
        order.sort_by_key(|&s| sources[s].len());
    }
    let weighted = |s: usize, score: f64| {
        let v = weights[s] * score;
        if v.is_nan() { 0.0 } else { v }
    };
    let (first, rest) = (order[0], &order[1..]);
    let mut result = ZSet::default();
    match op {
        Op::Union => {
            let mut totals: FxHashMap<&[u8], f64> = FxHashMap::default();
            for &s in &order {
                for (&m, &score) in &sources[s] {
                    let v = weighted(s, score);
                    totals.entry(m).and_modify(|t| aggregate.fold(t, v)).or_insert(v);
                }
            }
            for (m, t) in totals {
                result.insert(m.into(), t);
            }
        }
        Op::Inter => {
            'members: for (&m, &score) in &sources[first] {
                let mut total = weighted(first, score);
                for &s in rest {
                    // Only the first source's weighted score is made 0 when NaN.
                    let Some(&v) = sources[s].get(m) else { continue 'members };
                    aggregate.fold(&mut total, v * weights[s]);
                }
                result.insert(m.into(), total);
            }
        }
        Op::Diff => {
            for (&m, &score) in &sources[first] {
                if !rest.iter().any(|&s| sources[s].contains_key(m)) {
                    result.insert(m.into(), score);
                }
            }
        }
    }
    store(ks, c, dst, result);
    Ok(())
}
