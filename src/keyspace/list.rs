//! List commands: pushes, pops (with a count), moves between lists, inserts, sets, removals
//! and trims. Servers log blocking pops and `LMPOP` as the `LPOP`/`RPOP`/`LMOVE`/`RPOPLPUSH`
//! they performed.

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, index_range, int, is};
use super::{Keyspace, PackedList, Val};
use crate::rdb::Kind;

/// The end of a list a command works on.
#[derive(Clone, Copy)]
enum End {
    Head,
    Tail,
}

impl End {
    /// `LEFT` or `RIGHT`.
    fn parse(arg: &[u8]) -> Result<End, Reject> {
        match arg {
            a if is(a, "LEFT") => Ok(End::Head),
            a if is(a, "RIGHT") => Ok(End::Tail),
            _ => Err("syntax error".into()),
        }
    }

    fn push(self, list: &mut PackedList, element: &[u8]) {
        match self {
            End::Head => list.push_front(element),
            End::Tail => list.push_back(element),
        }
    }

    fn pop(self, list: &mut PackedList) -> Option<Vec<u8>> {
        match self {
            End::Head => list.pop_front(),
            End::Tail => list.pop_back(),
        }
    }
}

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "LPUSH" => |ks, c| push(ks, c, End::Head, true),
        "RPUSH" => |ks, c| push(ks, c, End::Tail, true),
        "LPUSHX" => |ks, c| push(ks, c, End::Head, false),
        "RPUSHX" => |ks, c| push(ks, c, End::Tail, false),
        "LPOP" => |ks, c| pop(ks, c, End::Head),
        "RPOP" => |ks, c| pop(ks, c, End::Tail),
        "LMOVE" => |ks, c| {
            c.exactly(5)?;
            move_element(ks, c, End::parse(c.args[3])?, End::parse(c.args[4])?)
        },
        "RPOPLPUSH" => |ks, c| {
            c.exactly(3)?;
            move_element(ks, c, End::Tail, End::Head)
        },
        "LINSERT" => linsert,
        "LSET" => lset,
        "LREM" => lrem,
        "LTRIM" => ltrim,
        "BLPOP" | "BRPOP" | "BLMOVE" | "BRPOPLPUSH" | "LMPOP" | "BLMPOP" => {
            |_, _| Err("servers log this pop as the LPOP, RPOP, LMOVE or RPOPLPUSH it performed".into())
        }
        _ => return None,
    })
}

/// The list in a value of list kind.
fn as_list(val: &mut Val) -> Result<&mut PackedList, Reject> {
    match val {
        Val::List(l) => Ok(l),
        _ => Err(wrong_type()),
    }
}

/// The list at `key` for writing, when it exists (a wrong type is an error).
fn list_mut<'k>(
    ks: &'k mut Keyspace,
    c: &Call<'_>,
    key: &[u8],
) -> Result<Option<&'k mut PackedList>, Reject> {
    ks.existing(c, key, Kind::List)?.map(as_list).transpose()
}

/// `LPUSH`/`RPUSH key element…`, and the `X` forms that push only onto an existing list.
fn push(ks: &mut Keyspace, c: &Call<'_>, end: End, create: bool) -> Result<(), Reject> {
    c.at_least(3)?;
    let key = c.args[1];
    let list = if create {
        Some(as_list(ks.or_insert(c, key, Kind::List, || Val::List(Box::default()))?)?)
    } else {
        list_mut(ks, c, key)?
    };
    if let Some(list) = list {
        c.args[2..].iter().for_each(|e| end.push(list, e));
    }
    Ok(())
}

/// `LPOP`/`RPOP key [count]`: a count larger than the list pops all of it.
fn pop(ks: &mut Keyspace, c: &Call<'_>, end: End) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let count = c.pop_count()?;
    if let Some(list) = list_mut(ks, c, key)? {
        let n = list.len().min(count);
        match end {
            End::Head => list.remove_front(n),
            End::Tail => list.truncate(list.len() - n),
        }
    }
    ks.drop_if_empty(c.db, key);
    Ok(())
}

/// `LMOVE src dst from to` and `RPOPLPUSH src dst`: nothing happens without a source; the
/// same key as both rotates the list.
fn move_element(ks: &mut Keyspace, c: &Call<'_>, from: End, to: End) -> Result<(), Reject> {
    let (src, dst) = (c.args[1], c.args[2]);
    let kind = |k: &[u8]| ks.get(c.db, k).map(|s| s.val.kind());
    if kind(src).is_none() {
        return Ok(());
    }
    if [kind(src), kind(dst)].iter().any(|k| k.is_some_and(|k| k != Kind::List)) {
        return Err(wrong_type());
    }
    let Some(element) = list_mut(ks, c, src)?.and_then(|l| from.pop(l)) else { return Ok(()) };
    to.push(as_list(ks.or_insert(c, dst, Kind::List, || Val::List(Box::default()))?)?, &element);
    ks.drop_if_empty(c.db, src);
    Ok(())
}

/// `LINSERT key BEFORE|AFTER pivot element`: next to the pivot nearest the head, if any.
fn linsert(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.exactly(5)?;
    let (key, place, pivot, element) = (c.args[1], c.args[2], c.args[3], c.args[4]);
    let after = match place {
        p if is(p, "AFTER") => true,
        p if is(p, "BEFORE") => false,
        _ => return Err("syntax error".into()),
    };
    let Some(list) = list_mut(ks, c, key)? else { return Ok(()) };
    let pivot_at = list.iter().position(|e| e == pivot);
    if let Some(at) = pivot_at {
        list.insert(at + usize::from(after), element);
    }
    Ok(())
}

/// `LSET key index element` on an existing element (a negative index counts from the tail).
fn lset(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.exactly(4)?;
    let index = int(c.args[2])?;
    let list = list_mut(ks, c, c.args[1])?.ok_or("no such key")?;
    let len = list.len() as i64;
    let at = if index < 0 { len + index } else { index };
    let set = usize::try_from(at).is_ok_and(|at| list.set(at, c.args[3]));
    if set { Ok(()) } else { Err("index out of range".into()) }
}

/// `LREM key count element`: up to `count` occurrences from the head (from the tail when
/// negative; all of them when 0).
fn lrem(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.exactly(4)?;
    let (key, count, element) = (c.args[1], int(c.args[2])?, c.args[3]);
    let Some(list) = list_mut(ks, c, key)? else { return Ok(()) };
    let limit =
        if count == 0 { usize::MAX } else { usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX) };
    if count < 0 {
        list.remove_last(element, limit);
    } else {
        list.remove_first(element, limit);
    }
    ks.drop_if_empty(c.db, key);
    Ok(())
}

/// `LTRIM key start stop`: keeps the elements of the range, deleting the key when none.
fn ltrim(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.exactly(4)?;
    let (key, start, stop) = (c.args[1], int(c.args[2])?, int(c.args[3])?);
    let Some(list) = list_mut(ks, c, key)? else { return Ok(()) };
    match index_range(start, stop, list.len()) {
        None => list.clear(),
        Some(keep) => {
            list.truncate(keep.end() + 1);
            list.remove_front(*keep.start());
        }
    }
    ks.drop_if_empty(c.db, key);
    Ok(())
}
