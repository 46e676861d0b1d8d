//! A stream's listpack nodes as the server holding it has them, with the servers' defaults
//! (`stream-node-max-entries` 100, `stream-node-max-bytes` 4096; a log does not record other
//! settings): where the next entry goes, and trimming, which servers run node by node.
//!
//! Nodes come from the RDB file a stream was read from (a server keeps loaded nodes as they
//! are) or are built here as entries are added; when they are not known (a stream read from
//! JSON), trimming falls back to what the entries alone decide (see `stream_refs`).

use super::stream_refs::{Bound, Refs, remove_trimmed, walk_trim};
use crate::rdb::stream::{Stream, StreamId, StreamNode};
use crate::rdb::write::listpack::{element_len, int_element_len};

/// Servers' default `stream-node-max-entries` (deleted entries count) and `-max-bytes`.
const NODE_MAX_ENTRIES: u64 = 100;
const NODE_MAX_BYTES: usize = 4096;
/// A listpack's header and end byte.
const LISTPACK_OVERHEAD: usize = 7;
/// Entry flag: the entry has the master entry's fields (and stores only its values).
const FLAG_SAMEFIELDS: i64 = 2;

/// The node holding (or that would hold) entry `id`: the last whose master id is not above it.
fn node_of(nodes: &[StreamNode], id: StreamId) -> Option<usize> {
    nodes.partition_point(|n| n.master <= id).checked_sub(1)
}

/// Bytes entry `id` with `fields` (field, value, …) takes in node `master`: flags, id deltas
/// from the master id, the field names unless they are the master's, the values, and the
/// entry's element count.
fn entry_bytes(master: &StreamNode, id: StreamId, fields: &[&[u8]]) -> usize {
    let names = fields.iter().step_by(2);
    let same = fields.len() / 2 == master.master_fields.len()
        && names.clone().zip(&master.master_fields).all(|(a, b)| *a == b.as_slice());
    let n = (fields.len() / 2) as i64;
    let values: usize = fields.iter().skip(1).step_by(2).map(|v| element_len(v)).sum();
    let mut bytes = int_element_len(if same { FLAG_SAMEFIELDS } else { 0 })
        + int_element_len(id.ms.wrapping_sub(master.master.ms) as i64)
        + int_element_len(id.seq.wrapping_sub(master.master.seq) as i64)
        + values;
    if same {
        bytes += int_element_len(n + 3);
    } else {
        bytes +=
            int_element_len(n) + names.map(|f| element_len(f)).sum::<usize>() + int_element_len(2 * n + 4);
    }
    bytes
}

/// Records entry `id` with `fields` (field, value, …), just appended to `s`, in its node: the
/// last node, unless that one is full (by entries, deleted ones included, or by bytes with the
/// new fields and values), in which case a new node starts with this entry as its master.
pub(super) fn appended(s: &mut Stream<'static>, id: StreamId, fields: &[&[u8]]) {
    let Some(nodes) = &mut s.nodes else { return };
    let raw: usize = fields.iter().map(|f| f.len()).sum();
    let fits = nodes
        .last()
        .is_some_and(|n| n.bytes() + raw < NODE_MAX_BYTES && n.live + n.deleted < NODE_MAX_ENTRIES);
    if !fits {
        let names: Vec<Vec<u8>> = fields.iter().step_by(2).map(|f| f.to_vec()).collect();
        let mut node =
            StreamNode { master: id, master_fields: names, live: 0, deleted: 0, last: id, other_bytes: 0 };
        node.other_bytes = LISTPACK_OVERHEAD
            + int_element_len(node.master_fields.len() as i64)
            + node.master_fields.iter().map(|f| element_len(f)).sum::<usize>()
            + int_element_len(0);
        nodes.push(node);
    }
    let node = nodes.last_mut().expect("a node was just ensured");
    node.other_bytes += entry_bytes(node, id, fields);
    node.live += 1;
    node.last = id;
}

/// Records that entry `id` was deleted (marked deleted in its node; a node left without live
/// entries is dropped, as `XDEL` drops it).
pub(super) fn deleted(s: &mut Stream<'static>, id: StreamId) {
    let Some(nodes) = &mut s.nodes else { return };
    let Some(at) = node_of(nodes, id) else { return };
    let node = &mut nodes[at];
    node.live = node.live.saturating_sub(1);
    node.deleted += 1;
    if node.live == 0 {
        nodes.remove(at);
    }
}

/// Forgets the nodes of a stream entering the keyspace (from a file) unless they are in id
/// order and each holds exactly the live entries between its master id and the next node's (a
/// damaged file may say otherwise). The keyspace keeps them so as it changes the stream.
pub(super) fn forget_if_inconsistent(s: &mut Stream<'static>) {
    if !consistent(s) {
        s.nodes = None;
    }
}

fn consistent(s: &Stream<'static>) -> bool {
    let Some(nodes) = &s.nodes else { return false };
    let mut start = 0;
    for (i, node) in nodes.iter().enumerate() {
        if s.entries.get(start).is_some_and(|e| e.id < node.master) {
            return false;
        }
        let end = match nodes.get(i + 1) {
            Some(next) if next.master <= node.master => return false,
            Some(next) => s.entries.partition_point(|e| e.id < next.master),
            None => s.entries.len(),
        };
        if end < start || (end - start) as u64 != node.live {
            return false;
        }
        start = end;
    }
    start == s.entries.len()
}

/// Trims `s` node by node as servers do, when its nodes are known; `None` otherwise. Returns the
/// number of entries removed.
///
/// A node whose live entries can all go (the length stays at least `MAXLEN` without them, or
/// its last id is below `MINID`) is dropped whole under `KEEPREF`; otherwise (or with another
/// strategy) its entries are looked at one by one, and the trim goes on to the next node only
/// when the node was one of those. `~` stops at the first node not dropped whole (`KEEPREF`).
pub(super) fn trim(s: &mut Stream<'static>, bound: Bound, approx: bool, refs: Refs) -> Option<usize> {
    s.nodes.as_ref()?;
    let mut removed = 0;
    let mut at = 0;
    loop {
        let len = s.entries.len() as u64;
        let nodes = s.nodes.as_ref()?;
        let Some(node) = nodes.get(at) else { break };
        if matches!(bound, Bound::MaxLen(n) if len <= n) {
            break;
        }
        let (live, last) = (node.live, node.last);
        let start = s.entries.partition_point(|e| e.id < node.master);
        let end = nodes
            .get(at + 1)
            .map_or(s.entries.len(), |next| s.entries.partition_point(|e| e.id < next.master));
        let eligible = match bound {
            Bound::MaxLen(n) => len - live >= n,
            Bound::MinId(id) => last < id,
        };
        if eligible && refs == Refs::Keep {
            s.entries.drain(start..end);
            s.nodes.as_mut()?.remove(at);
            removed += live as usize;
            continue;
        }
        if approx && refs == Refs::Keep {
            break;
        }
        let (doomed, _) = walk_trim(s, start..end, bound, refs);
        remove_trimmed(s, &doomed, refs);
        removed += doomed.len();
        let node = &mut s.nodes.as_mut()?[at];
        node.live -= doomed.len() as u64;
        node.deleted += doomed.len() as u64;
        if eligible && node.live == 0 {
            s.nodes.as_mut()?.remove(at);
            continue;
        }
        if eligible {
            at += 1;
            continue;
        }
        break;
    }
    Some(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::stream::StreamEntry;
    use crate::rdb::value::Bytes;

    /// A stream of `n` entries with ids `1-1`, `2-1`, …, its nodes built as they were added.
    fn stream_of(n: u64) -> Stream<'static> {
        let mut s = Stream { nodes: Some(Vec::new()), ..Stream::default() };
        for ms in 1..=n {
            let id = StreamId { ms, seq: 1 };
            s.entries.push(StreamEntry { id, fields: vec![(Bytes::Owned(b"f".to_vec()), Bytes::Int(7))] });
            appended(&mut s, id, &[b"f", b"7"]);
        }
        s
    }

    #[test]
    fn nodes_fill_up_to_the_servers_default_entry_count() {
        let s = stream_of(250);
        let live: Vec<u64> = s.nodes.as_ref().unwrap().iter().map(|n| n.live).collect();
        assert_eq!(live, [100, 100, 50]);
        assert!(consistent(&s));
    }

    #[test]
    fn nodes_that_disagree_with_the_entries_are_forgotten_and_trims_fall_back() {
        let mut kept = stream_of(250);
        forget_if_inconsistent(&mut kept);
        assert!(kept.nodes.is_some());
        assert_eq!(trim(&mut kept, Bound::MaxLen(120), true, Refs::Keep), Some(100));

        let miscounted = |s: &mut Stream<'static>| s.nodes.as_mut().unwrap()[1].live = 99;
        let out_of_order = |s: &mut Stream<'static>| s.nodes.as_mut().unwrap().swap(0, 1);
        let entry_before_first_node = |s: &mut Stream<'static>| {
            s.nodes.as_mut().unwrap()[0].master = StreamId { ms: 2, seq: 0 };
        };
        for damage in [miscounted, out_of_order, entry_before_first_node] {
            let mut s = stream_of(250);
            damage(&mut s);
            forget_if_inconsistent(&mut s);
            assert!(s.nodes.is_none());
            assert_eq!(trim(&mut s, Bound::MaxLen(120), true, Refs::Keep), None);
        }
    }
}
