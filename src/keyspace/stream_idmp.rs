//! Idempotent producers of streams (Redis 8.6): `XADD … IDMP pid iid | IDMPAUTO pid`,
//! `XCFGSET` and `XIDMPRECORD`.
//!
//! A stream remembers, per producer id, the last idempotent ids it added (at most its
//! `IDMP-MAXSIZE`, oldest evicted first) with the entry each added; an `XADD` whose id is
//! remembered adds nothing and counts a duplicate. Servers log such a duplicate as given, with
//! `*` for the entry id. The time-based expiry of remembered ids (older than `IDMP-DURATION`
//! seconds by their entry's time) runs from the server's clock and is not applied here: the
//! server loading the output drops them itself.
//!
//! A stream starts with the default configuration (`stream-idmp-duration` 100 s,
//! `stream-idmp-maxsize` 100): a log does not say when a server ran with other defaults.

use super::Keyspace;
use super::apply::Call;
use super::args::{Reject, int, is};
use super::stream::{parse_id, stream_mut};
use crate::rdb::Bytes;
use crate::rdb::stream::{Idmp, IdmpProducer, Stream, StreamEntry, StreamId};

/// The `IDMP`/`IDMPAUTO` option of an `XADD`.
#[derive(Clone, Copy)]
pub(super) struct IdmpOption<'c> {
    pid: &'c [u8],
    /// The idempotent id given (`IDMP`), or `None` to hash the fields (`IDMPAUTO`).
    iid: Option<&'c [u8]>,
}

impl<'c> IdmpOption<'c> {
    /// Parses `IDMPAUTO pid` or `IDMP pid iid` at `args[at]`, when it is one; returns the
    /// option and how many arguments it took.
    pub(super) fn parse(args: &[&'c [u8]], at: usize) -> Option<Result<(IdmpOption<'c>, usize), Reject>> {
        let more = args.len() - 1 - at;
        let (option, taken) = if is(args[at], "IDMPAUTO") && more >= 1 {
            (IdmpOption { pid: args[at + 1], iid: None }, 2)
        } else if is(args[at], "IDMP") && more >= 2 {
            (IdmpOption { pid: args[at + 1], iid: Some(args[at + 2]) }, 3)
        } else {
            return None;
        };
        let name = if option.iid.is_some() { "IDMP" } else { "IDMPAUTO" };
        Some(if option.pid.is_empty() {
            Err(format!("syntax error, {name} requires a non-empty producer ID"))
        } else if option.iid.is_some_and(<[u8]>::is_empty) {
            Err("syntax error, IDMP requires a non-empty idempotent ID".into())
        } else {
            Ok((option, taken))
        })
    }

    /// The idempotent id: as given, or the hash of the entry's `fields` (`field value …`).
    fn iid(&self, fields: &[&[u8]]) -> Vec<u8> {
        self.iid.map_or_else(|| auto_iid(fields), <[u8]>::to_vec)
    }
}

/// `IDMPAUTO`'s idempotent id: an order-independent combination (sums and xors) of the
/// XXH3-128 of each pair (field, the field's length as 8 little-endian bytes, value), as the
/// 16 bytes of the low then high half, little-endian.
fn auto_iid(fields: &[&[u8]]) -> Vec<u8> {
    let (mut sum_lo, mut sum_hi, mut xor_lo, mut xor_hi) = (0u64, 0u64, 0u64, 0u64);
    for pair in fields.chunks(2) {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(pair[0]);
        hasher.update(&(pair[0].len() as i64).to_le_bytes());
        hasher.update(pair[1]);
        let h = hasher.digest128();
        let (lo, hi) = (h as u64, (h >> 64) as u64);
        (sum_lo, sum_hi) = (sum_lo.wrapping_add(lo), sum_hi.wrapping_add(hi));
        (xor_lo, xor_hi) = (xor_lo ^ lo, xor_hi ^ hi);
    }
    let low = sum_lo ^ xor_hi.rotate_left(1);
    let high = sum_hi ^ xor_lo.rotate_left(1);
    [low.to_le_bytes(), high.to_le_bytes()].concat()
}

/// The stream's IDMP state, with the defaults when it has none yet.
fn state<'s>(s: &'s mut Stream<'static>) -> &'s mut Idmp<'static> {
    s.idmp.get_or_insert_with(Idmp::server_default)
}

/// The producer `pid`, created when missing (producers are kept sorted by id, as servers
/// keep them in a radix tree).
fn producer<'s>(idmp: &'s mut Idmp<'static>, pid: &[u8]) -> &'s mut IdmpProducer<'static> {
    let at = match idmp.producers.binary_search_by(|p| p.pid.as_cow().as_ref().cmp(pid)) {
        Ok(at) => at,
        Err(at) => {
            idmp.producers.insert(at, IdmpProducer { pid: Bytes::Owned(pid.to_vec()), entries: Vec::new() });
            at
        }
    };
    &mut idmp.producers[at]
}

/// The entry remembered for `iid` in `p`.
fn remembered(p: &IdmpProducer<'_>, iid: &[u8]) -> Option<StreamId> {
    p.entries.iter().find(|(i, _)| i.as_cow().as_ref() == iid).map(|(_, id)| *id)
}

/// Remembers `iid` → `id` in producer `pid`, evicting the oldest past the maximum.
fn remember(idmp: &mut Idmp<'static>, pid: &[u8], iid: Vec<u8>, id: StreamId) {
    let max = idmp.max_entries;
    let p = producer(idmp, pid);
    p.entries.push((Bytes::Owned(iid), id));
    if p.entries.len() as u64 > max {
        p.entries.remove(0);
    }
    idmp.iids_added += 1;
}

/// The first step of an `XADD` with `option` on stream `s`, before the entry is added: `None`
/// when the idempotent id is a duplicate (counted; the command adds nothing more), else the
/// idempotent id to remember once the entry is added.
pub(super) fn before_add(
    s: &mut Stream<'static>,
    option: IdmpOption<'_>,
    fields: &[&[u8]],
) -> Option<Vec<u8>> {
    let iid = option.iid(fields);
    let idmp = state(s);
    if remembered(producer(idmp, option.pid), &iid).is_some() {
        idmp.iids_duplicates += 1;
        return None;
    }
    Some(iid)
}

/// The last step of an `XADD` with `option`: remembers `iid` for the entry `id` just added.
pub(super) fn after_add(s: &mut Stream<'static>, option: IdmpOption<'_>, iid: Vec<u8>, id: StreamId) {
    remember(state(s), option.pid, iid, id);
}

/// `XCFGSET key [IDMP-DURATION s] [IDMP-MAXSIZE n]`: a changed value forgets every producer.
pub(super) fn xcfgset(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(2)?;
    let s = stream_mut(ks, c, c.args[1])?.ok_or("no such key")?;
    let (mut duration, mut max_entries) = (None, None);
    let mut i = 2;
    while i < c.args.len() {
        let more = c.args.len() - 1 - i;
        let (slot, name, range) = if is(c.args[i], "IDMP-DURATION") && more > 0 {
            (&mut duration, "IDMP-DURATION", (1, 86_400, "seconds"))
        } else if is(c.args[i], "IDMP-MAXSIZE") && more > 0 {
            (&mut max_entries, "IDMP-MAXSIZE", (1, 10_000, "entries"))
        } else {
            return Err("syntax error".into());
        };
        if slot.is_some() {
            return Err(format!("{name} specified multiple times"));
        }
        let n = int(c.args[i + 1])?;
        if n < range.0 || n > range.1 {
            return Err(format!("{name} must be between {} and {} {}", range.0, range.1, range.2));
        }
        *slot = Some(n as u64);
        i += 2;
    }
    if duration.is_none() && max_entries.is_none() {
        return Err("At least one parameter must be specified".into());
    }
    let idmp = state(s);
    for (value, held) in [(duration, &mut idmp.duration_s), (max_entries, &mut idmp.max_entries)] {
        if let Some(v) = value.filter(|v| v != held) {
            *held = v;
            idmp.producers.clear();
        }
    }
    Ok(())
}

/// `XIDMPRECORD key pid iid id` (how servers rewrite remembered ids): remembers `iid` for an
/// existing entry.
pub(super) fn xidmprecord(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.exactly(5)?;
    let id = parse_id(c.args[4], 0, true)?;
    let (pid, iid) = (c.args[2], c.args[3]);
    if pid.is_empty() {
        return Err("producer ID must be non-empty".into());
    }
    if iid.is_empty() {
        return Err("idempotent ID must be non-empty".into());
    }
    let s = stream_mut(ks, c, c.args[1])?.ok_or("no such key")?;
    if !has_entry(&s.entries, id) {
        return Err("No such message in stream".into());
    }
    let idmp = state(s);
    match remembered(producer(idmp, pid), iid) {
        Some(held) if held == id => Ok(()),
        Some(_) => Err("IID already exists for this producer with a different stream ID".into()),
        None => {
            remember(idmp, pid, iid.to_vec(), id);
            Ok(())
        }
    }
}

fn has_entry(entries: &[StreamEntry<'_>], id: StreamId) -> bool {
    entries.binary_search_by(|e| e.id.cmp(&id)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Val;
    use crate::keyspace::test_log::{load, load_error};

    fn idmp_of(commands: &[&[&str]]) -> Idmp<'static> {
        match load(commands).unwrap().get(0, b"s").map(|slot| &slot.val) {
            Some(Val::Stream(s)) => s.idmp.clone().unwrap_or_else(Idmp::server_default),
            _ => panic!("no stream"),
        }
    }

    #[test]
    fn duplicates_add_nothing_and_new_ids_from_the_clock_are_refused() {
        let first: &[&str] = &["XADD", "s", "IDMP", "p", "m", "5-0", "f", "v"];
        let idmp = idmp_of(&[first, &["XADD", "s", "IDMP", "p", "m", "*", "f", "w"]]);
        assert_eq!((idmp.iids_added, idmp.iids_duplicates), (1, 1));
        assert_eq!(idmp.producers[0].entries[0].1, StreamId { ms: 5, seq: 0 });
        let e = load_error(&[first, &["XADD", "s", "IDMP", "p", "other", "*", "f", "w"]]);
        assert!(e.contains("an id generated from the clock"), "{e}");
    }

    #[test]
    fn idmp_arguments_are_checked_as_the_servers_do() {
        for (command, want) in [
            (&["XADD", "s", "IDMP", "", "m", "1-1", "f", "v"][..], "IDMP requires a non-empty producer ID"),
            (&["XADD", "s", "IDMP", "p", "", "1-1", "f", "v"], "non-empty idempotent ID"),
            (&["XADD", "s", "IDMPAUTO", "", "1-1", "f", "v"], "IDMPAUTO requires a non-empty producer ID"),
            (&["XADD", "s", "IDMPAUTO", "p", "IDMP", "p", "m", "1-1", "f", "v"], "specified multiple times"),
            (&["XCFGSET", "nokey", "IDMP-MAXSIZE", "5"], "no such key"),
            (&["XCFGSET", "s", "IDMP-MAXSIZE", "0"], "IDMP-MAXSIZE must be between 1 and 10000 entries"),
            (&["XCFGSET", "s", "IDMP-DURATION", "86401"], "IDMP-DURATION must be between 1 and 86400"),
            (&["XCFGSET", "s", "IDMP-DURATION", "5", "IDMP-DURATION", "6"], "specified multiple times"),
            (&["XCFGSET", "s"], "At least one parameter must be specified"),
            (&["XIDMPRECORD", "s", "p", "m", "9-9"], "No such message in stream"),
        ] {
            let e = load_error(&[&["XADD", "s", "1-0", "f", "v"], command]);
            assert!(e.contains(want), "{command:?}: {e}");
        }
        let e = load_error(&[
            &["XADD", "s", "1-0", "f", "v"],
            &["XADD", "s", "2-0", "f", "v"],
            &["XIDMPRECORD", "s", "p", "m", "1-0"],
            &["XIDMPRECORD", "s", "p", "m", "2-0"],
        ]);
        assert!(e.contains("IID already exists for this producer with a different stream ID"), "{e}");
    }

    #[test]
    fn a_changed_configuration_forgets_every_producer() {
        let base: [&[&str]; 2] =
            [&["XADD", "s", "IDMP", "p", "m", "1-0", "f", "v"], &["XCFGSET", "s", "IDMP-MAXSIZE", "100"]];
        assert_eq!(idmp_of(&base).producers.len(), 1);
        let idmp = idmp_of(&[base[0], &["XCFGSET", "s", "IDMP-MAXSIZE", "7"]]);
        assert_eq!((idmp.producers.len(), idmp.max_entries, idmp.iids_added), (0, 7, 1));
    }

    #[test]
    fn auto_ids_do_not_depend_on_field_order() {
        let a = auto_iid(&[b"f", b"1", b"g", b"2"]);
        assert_eq!(a, auto_iid(&[b"g", b"2", b"f", b"1"]));
        assert_ne!(a, auto_iid(&[b"f1", b"", b"g", b"2"]));
        assert_eq!(a.len(), 16);
    }
}
