//! Set commands: adds, removals, moves and the stored intersections, unions and differences.
//! Servers log `SPOP` as the `SREM` (or `DEL`/`UNLINK`, when it empties the set) it
//! performed.

use rustc_hash::FxHashSet;

use super::apply::{Call, Handler, wrong_type};
use super::args::Reject;
use super::{Keyspace, SmallBytes, Val};
use crate::rdb::Kind;

/// A set.
type Set = FxHashSet<SmallBytes>;

/// How `S…STORE` combines its sources.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "SADD" => sadd,
        "SREM" => srem,
        "SMOVE" => smove,
        "SINTERSTORE" => |ks, c| store(ks, c, Op::Inter),
        "SUNIONSTORE" => |ks, c| store(ks, c, Op::Union),
        "SDIFFSTORE" => |ks, c| store(ks, c, Op::Diff),
        "SPOP" => |_, _| Err("servers log SPOP as the SREM, DEL or UNLINK it performed".into()),
        _ => return None,
    })
}

/// The set in a value of set kind.
fn as_set(val: &mut Val) -> Result<&mut Set, Reject> {
    match val {
        Val::Set(s) => Ok(s),
        _ => Err(wrong_type()),
    }
}

/// The set at `key` for reading, when there is one (a wrong type is an error).
fn read<'k>(ks: &'k Keyspace, c: &Call<'_>, key: &[u8]) -> Result<Option<&'k Set>, Reject> {
    match ks.get(c.db, key).map(|s| &s.val) {
        None => Ok(None),
        Some(Val::Set(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type()),
    }
}

fn sadd(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(3)?;
    let set = as_set(ks.or_insert(c, c.args[1], Kind::Set, || Val::Set(Box::default()))?)?;
    set.extend(c.args[2..].iter().map(|m| SmallBytes::from(*m)));
    Ok(())
}

fn srem(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(3)?;
    let key = c.args[1];
    if let Some(set) = ks.existing(c, key, Kind::Set)?.map(as_set).transpose()? {
        for m in &c.args[2..] {
            set.remove(*m);
        }
    }
    ks.drop_if_empty(c.db, key);
    Ok(())
}

/// `SMOVE src dst member`: nothing without a source; both keys must hold sets.
fn smove(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.exactly(4)?;
    let (src, dst, member) = (c.args[1], c.args[2], c.args[3]);
    let Some(from) = read(ks, c, src)? else { return Ok(()) };
    read(ks, c, dst)?;
    if src == dst || !from.contains(member) {
        return Ok(());
    }
    if let Some(from) = ks.existing(c, src, Kind::Set)?.map(as_set).transpose()? {
        from.remove(member);
    }
    ks.drop_if_empty(c.db, src);
    as_set(ks.or_insert(c, dst, Kind::Set, || Val::Set(Box::default()))?)?.insert(member.into());
    Ok(())
}

/// `SINTERSTORE`/`SUNIONSTORE`/`SDIFFSTORE dst key…`: missing keys are empty sets; an empty
/// result deletes `dst`, any other replaces it (without expiry).
fn store(ks: &mut Keyspace, c: &Call<'_>, op: Op) -> Result<(), Reject> {
    c.at_least(3)?;
    let dst = c.args[1];
    let mut sources = Vec::new();
    for key in &c.args[2..] {
        let set = read(ks, c, key)?;
        // Redis 6 stops at the first missing key of an intersection, later ones unchecked
        // (Redis 7 checks them all, so it never logs such a command).
        if op == Op::Inter && set.is_none() {
            sources.clear();
            break;
        }
        sources.push(set);
    }
    let (first, rest) = sources.split_first().map_or((None, &[][..]), |(f, r)| (*f, r));
    // How many of the other sources hold `m`.
    let in_rest = |m: &SmallBytes| rest.iter().filter(|s| s.is_some_and(|s| s.contains(m))).count();
    let result: Set = match op {
        Op::Union => sources.iter().flatten().flat_map(|s| s.iter()).cloned().collect(),
        Op::Inter => first.into_iter().flatten().filter(|m| in_rest(m) == rest.len()).cloned().collect(),
        Op::Diff => first.into_iter().flatten().filter(|m| in_rest(m) == 0).cloned().collect(),
    };
    if result.is_empty() {
        ks.remove(c.db, dst);
    } else {
        ks.put(c, dst, Val::Set(Box::new(result)), None);
    }
    Ok(())
}
