//! Deleting stream entries with regard to consumer groups (Redis 8.2+): `XDELEX`, `XACKDEL`
//! and the `KEEPREF`/`DELREF`/`ACKED` strategies of `XADD`/`XTRIM` trimming.
//!
//! `KEEPREF` (the default) deletes entries and leaves the groups' pending entries pointing at
//! them; `DELREF` also drops every group's pending entry for them; `ACKED` deletes only
//! entries no group still needs: delivered to every group (at or before each group's last
//! id) and pending in none.

use super::Keyspace;
use super::apply::{Call, wrong_type};
use super::args::{Reject, int, is};
use super::stream::{get_stream, group_mut, parse_id, stream_mut, sync_consumer_pending, update_first_id};
use super::stream_nodes;
use crate::rdb::stream::{Stream, StreamId};

/// What a deletion does to consumer groups' references to the deleted entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Refs {
    /// Delete, keep the pending entries (`KEEPREF`).
    #[default]
    Keep,
    /// Delete and drop the pending entries (`DELREF`).
    Drop,
    /// Delete only entries no group still references (`ACKED`).
    OnlyAcked,
}

impl Refs {
    /// The strategy an option names, if it names one.
    pub(super) fn from_option(opt: &[u8]) -> Option<Refs> {
        [("KEEPREF", Refs::Keep), ("DELREF", Refs::Drop), ("ACKED", Refs::OnlyAcked)]
            .into_iter()
            .find_map(|(word, refs)| is(opt, word).then_some(refs))
    }
}

/// Whether some consumer group still needs entry `id`: one has not been delivered it yet, or
/// holds it pending.
fn referenced(s: &Stream<'static>, id: StreamId) -> bool {
    let Some(min_last) = s.groups.iter().map(|g| g.last_id).min() else { return false };
    min_last < id || s.groups.iter().any(|g| g.pending.binary_search_by(|p| p.id.cmp(&id)).is_ok())
}

/// Drops every group's pending entries for the ids in `ids` (sorted).
fn drop_refs(s: &mut Stream<'static>, ids: &[StreamId]) {
    for g in &mut s.groups {
        let before = g.pending.len();
        g.pending.retain(|p| ids.binary_search(&p.id).is_err());
        if g.pending.len() != before {
            sync_consumer_pending(g);
        }
    }
}

/// Deletes entry `id` when it exists, moving the max deleted id; true if it existed.
pub(super) fn delete_entry(s: &mut Stream<'static>, id: StreamId) -> bool {
    let Ok(at) = s.entries.binary_search_by(|e| e.id.cmp(&id)) else { return false };
    s.entries.remove(at);
    stream_nodes::deleted(s, id);
    if s.max_deleted_id.is_none_or(|m| id > m) {
        s.max_deleted_id = Some(id);
    }
    true
}

/// Deletes `id` as `XDELEX`/`XACKDEL` do under `refs`; true if an entry was deleted.
fn delete_with_refs(s: &mut Stream<'static>, id: StreamId, refs: Refs) -> bool {
    match refs {
        Refs::OnlyAcked if referenced(s, id) => return false,
        Refs::Drop => drop_refs(s, &[id]),
        _ => {}
    }
    delete_entry(s, id)
}

/// What a trim keeps: at most this many entries (`MAXLEN`), or none below this id (`MINID`).
#[derive(Clone, Copy)]
pub(super) enum Bound {
    MaxLen(u64),
    MinId(StreamId),
}

/// The entries of `s.entries[range]` a trim toward `bound` deletes under `refs`, oldest first,
/// as servers walk them: up to the bound, passing over entries a group still needs under
/// `ACKED`. Also whether an entry was passed over before a deletion.
pub(super) fn walk_trim(
    s: &Stream<'static>,
    range: std::ops::Range<usize>,
    bound: Bound,
    refs: Refs,
) -> (Vec<StreamId>, bool) {
    let mut len = s.entries.len() as u64;
    let (mut doomed, mut passed_over, mut deleted_after_pass) = (Vec::new(), false, false);
    for e in &s.entries[range] {
        let stop = match bound {
            Bound::MaxLen(n) => len <= n,
            Bound::MinId(id) => e.id >= id,
        };
        if stop {
            break;
        }
        if refs == Refs::OnlyAcked && referenced(s, e.id) {
            passed_over = true;
            continue;
        }
        deleted_after_pass |= passed_over;
        doomed.push(e.id);
        len -= 1;
    }
    (doomed, deleted_after_pass)
}

/// Deletes the entries `doomed` (sorted) that a trim picked, dropping groups' pending entries
/// for them first under `DELREF`.
pub(super) fn remove_trimmed(s: &mut Stream<'static>, doomed: &[StreamId], refs: Refs) {
    if refs == Refs::Drop {
        drop_refs(s, doomed);
    }
    s.entries.retain(|e| doomed.binary_search(&e.id).is_err());
}

/// Trims a stream whose nodes are not known (see `stream_nodes`, which trims the others
/// exactly), as far as the entries alone decide the result: the oldest entries up to the bound,
/// under `ACKED` those no group needs. Refused where the result depends on the nodes: `~` that
/// removes entries (servers remove only whole nodes), and `MAXLEN … ACKED` past an entry a
/// group needs before the last deletion (servers stop at the end of the node where the length
/// would have been reached). Returns the number of entries removed.
pub(super) fn trim_without_nodes(
    s: &mut Stream<'static>,
    bound: Bound,
    approx: bool,
    refs: Refs,
) -> Result<usize, Reject> {
    let (doomed, passed_over) = walk_trim(s, 0..s.entries.len(), bound, refs);
    if doomed.is_empty() {
        return Ok(0);
    }
    if approx && refs == Refs::Keep {
        return Err(
            "approximate trimming (~) that removes entries from a stream whose nodes are not known".into()
        );
    }
    if passed_over && matches!(bound, Bound::MaxLen(_)) {
        return Err("XADD/XTRIM MAXLEN with ACKED past entries that consumer groups still reference: \
                    which entries the server deletes depends on how it grouped entries in nodes, \
                    which are not known for this stream"
            .into());
    }
    remove_trimmed(s, &doomed, refs);
    Ok(doomed.len())
}

/// The strategy and the ids of `XDELEX`/`XACKDEL` (`[KEEPREF|DELREF|ACKED] IDS n id…`, options
/// from `start`), checked as servers check them before looking at the key's contents. A second
/// `IDS` replaces the first.
fn parse_ack_del<'c>(c: &'c Call<'_>, start: usize) -> Result<(Refs, &'c [&'c [u8]]), Reject> {
    let mut refs = None;
    let mut ids = None;
    let mut j = start;
    while j < c.args.len() {
        let opt = c.args[j];
        if let Some(r) = Refs::from_option(opt).filter(|_| refs.is_none()) {
            refs = Some(r);
            j += 1;
        } else if is(opt, "IDS") && j + 1 < c.args.len() {
            let n = int(c.args[j + 1])
                .ok()
                .filter(|&n| n >= 1)
                .ok_or("Number of IDs must be a positive integer")?;
            let from = j + 2;
            let n = usize::try_from(n).ok().filter(|&n| n <= c.args.len() - from);
            let n = n.ok_or("The `numids` parameter must match the number of arguments")?;
            ids = Some(&c.args[from..from + n]);
            j = from + n;
        } else {
            return Err("syntax error".into());
        }
    }
    let ids = ids.ok_or("IDS option is required")?;
    Ok((refs.unwrap_or_default(), ids))
}

fn parse_ids(args: &[&[u8]]) -> Result<Vec<StreamId>, Reject> {
    args.iter().map(|a| parse_id(a, 0, true)).collect()
}

/// `XDELEX key [KEEPREF|DELREF|ACKED] IDS n id…` (Redis 8.2+).
pub(super) fn xdelex(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(5)?;
    let key = c.args[1];
    let exists = get_stream(ks, c, key)?.is_some();
    let (refs, ids) = parse_ack_del(c, 2)?;
    if !exists {
        return Ok(());
    }
    let ids = parse_ids(ids)?;
    let s = stream_mut(ks, c, key)?.ok_or_else(wrong_type)?;
    let mut deleted = false;
    for id in ids {
        deleted |= delete_with_refs(s, id, refs);
    }
    if deleted {
        update_first_id(s);
    }
    Ok(())
}

/// `XACKDEL key group [KEEPREF|DELREF|ACKED] IDS n id…` (Redis 8.2+): acknowledges each id
/// pending in the group, then deletes it under the strategy; ids not pending there are left.
pub(super) fn xackdel(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(6)?;
    let (key, name) = (c.args[1], c.args[2]);
    let stream = get_stream(ks, c, key)?;
    let (refs, ids) = parse_ack_del(c, 3)?;
    if !stream.is_some_and(|s| s.groups.iter().any(|g| g.name.as_cow().as_ref() == name)) {
        return Ok(());
    }
    let ids = parse_ids(ids)?;
    let s = stream_mut(ks, c, key)?.ok_or_else(wrong_type)?;
    let mut deleted = false;
    for id in ids {
        let Some(g) = group_mut(s, name) else { break };
        let Ok(at) = g.pending.binary_search_by(|p| p.id.cmp(&id)) else { continue };
        g.pending.remove(at);
        sync_consumer_pending(g);
        deleted |= delete_with_refs(s, id, refs);
    }
    if deleted {
        update_first_id(s);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Val;
    use crate::keyspace::test_log::{load, load_error};
    use crate::rdb::Bytes;
    use crate::rdb::stream::{ConsumerGroup, PendingEntry, StreamEntry};

    /// The ids left in stream `key` of database 0, as `ms-seq` text.
    fn ids(commands: &[&[&str]], key: &str) -> Vec<String> {
        let ks = load(commands).unwrap();
        match ks.get(0, key.as_bytes()).map(|s| &s.val) {
            Some(Val::Stream(s)) => s.entries.iter().map(|e| e.id.to_string()).collect(),
            _ => panic!("no stream {key}"),
        }
    }

    const THREE_READ_ONE_ACKED: [&[&str]; 7] = [
        &["XADD", "s", "1-1", "f", "v"],
        &["XADD", "s", "2-1", "f", "v"],
        &["XADD", "s", "3-1", "f", "v"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XCLAIM", "s", "g", "c", "0", "1-1", "TIME", "5", "FORCE", "JUSTID", "LASTID", "3-1"],
        &["XCLAIM", "s", "g", "c", "0", "2-1", "TIME", "5", "FORCE", "JUSTID"],
        &["XACK", "s", "g", "2-1"],
    ];

    #[test]
    fn acked_keeps_what_a_group_still_needs() {
        fn with<'a>(last: &'a [&'a str]) -> Vec<&'a [&'a str]> {
            [&THREE_READ_ONE_ACKED[..], &[last]].concat()
        }
        // 1-1 is pending; 2-1 and 3-1 are delivered and acknowledged or never pending.
        assert_eq!(ids(&with(&["XDELEX", "s", "ACKED", "IDS", "2", "1-1", "2-1"]), "s"), ["1-1", "3-1"]);
        assert_eq!(ids(&with(&["XTRIM", "s", "MINID", "3-1", "ACKED"]), "s"), ["1-1", "3-1"]);
        assert_eq!(ids(&with(&["XTRIM", "s", "MAXLEN", "3", "ACKED"]), "s"), ["1-1", "2-1", "3-1"]);
        // Past 1-1 within its node (the keyspace knows the nodes of the streams it builds).
        assert_eq!(ids(&with(&["XTRIM", "s", "MAXLEN", "2", "ACKED"]), "s"), ["1-1", "3-1"]);
    }

    #[test]
    fn without_nodes_acked_past_a_referenced_entry_is_refused() {
        let mut s = Stream::default();
        for ms in 1..=3 {
            s.entries.push(StreamEntry { id: StreamId { ms, seq: 0 }, fields: Vec::new() });
        }
        s.groups.push(ConsumerGroup {
            name: Bytes::Owned(b"g".to_vec()),
            last_id: StreamId { ms: 3, seq: 0 },
            entries_read: None,
            pending: vec![PendingEntry {
                id: StreamId { ms: 1, seq: 0 },
                delivery_time_ms: 0,
                delivery_count: 1,
                consumer: None,
            }],
            consumers: Vec::new(),
            nacked: None,
        });
        let e = trim_without_nodes(&mut s, Bound::MaxLen(1), false, Refs::OnlyAcked).unwrap_err();
        assert!(e.contains("depends on how it grouped entries in nodes"), "{e}");
        let e = trim_without_nodes(&mut s, Bound::MaxLen(1), true, Refs::Keep).unwrap_err();
        assert!(e.contains("approximate trimming"), "{e}");
        assert_eq!(trim_without_nodes(&mut s, Bound::MaxLen(3), true, Refs::Keep), Ok(0));
        assert_eq!(
            trim_without_nodes(&mut s, Bound::MinId(StreamId { ms: 3, seq: 0 }), false, Refs::OnlyAcked),
            Ok(1)
        );
    }

    #[test]
    fn delref_drops_pending_entries_and_keepref_keeps_them() {
        let pending = |last: &[&str]| {
            let ks = load(&[&THREE_READ_ONE_ACKED[..], &[last]].concat()).unwrap();
            match ks.get(0, b"s").map(|s| &s.val) {
                Some(Val::Stream(s)) => s.groups[0].pending.len(),
                _ => panic!("no stream"),
            }
        };
        assert_eq!(pending(&["XDELEX", "s", "IDS", "1", "1-1"]), 1);
        assert_eq!(pending(&["XDELEX", "s", "DELREF", "IDS", "1", "1-1"]), 0);
        assert_eq!(pending(&["XTRIM", "s", "DELREF", "MAXLEN", "0"]), 0);
        // XACKDEL acknowledges, then deletes.
        assert_eq!(pending(&["XACKDEL", "s", "g", "IDS", "1", "1-1"]), 0);
    }

    #[test]
    fn ack_del_arguments_are_checked_as_the_servers_do() {
        let base: &[&str] = &["XADD", "s", "1-1", "f", "v"];
        for (command, want) in [
            (&["XDELEX", "s", "IDS", "0", "1-1"][..], "Number of IDs must be a positive integer"),
            (&["XDELEX", "s", "IDS", "3", "1-1"], "The `numids` parameter must match"),
            (&["XDELEX", "s", "ACKED", "DELREF", "IDS", "1", "1-1"], "syntax error"),
            (&["XDELEX", "s", "IDS", "1", "1-1", "EXTRA"], "syntax error"),
            (&["XDELEX", "s", "KEEPREF", "ACKED", "1-1"], "syntax error"),
            (&["XDELEX", "s", "IDS", "1", "x"], "Invalid stream ID"),
            (&["XACKDEL", "s", "g", "ACKED", "x", "y"], "syntax error"),
        ] {
            let e = load_error(&[base, command]);
            assert!(e.contains(want), "{command:?}: {e}");
        }
        // No such group: nothing is parsed past the options, as on the servers.
        assert_eq!(ids(&[base, &["XACKDEL", "s", "nogroup", "IDS", "1", "x"]], "s"), ["1-1"]);
    }
}
