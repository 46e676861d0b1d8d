//! Encoding streams: entries in listpack nodes keyed by their master id, then metadata,
//! consumer groups, PELs and consumers in the target's stream layout (1 to 4).

use rustc_hash::FxHashSet;

use super::Adjustments;
use super::listpack::ListpackBuilder;
use super::primitive::{put_bytes, put_len, put_ms, put_string};
use super::target::Target;
use super::value::unrepresentable;
use crate::error::Result;
use crate::rdb::Encoding;
use crate::rdb::stream::{Consumer, ConsumerGroup, Idmp, Stream, StreamEntry, StreamId};

/// Default `stream-node-max-entries` and `stream-node-max-bytes`.
const NODE_MAX_ENTRIES: usize = 100;
const NODE_MAX_BYTES: usize = 4096;

/// Entry flag: the entry has the master entry's fields and stores only values.
const FLAG_SAMEFIELDS: i64 = 2;

/// Appends a stream in `target`'s layout and returns its encoding.
pub(super) fn put_stream(
    target: Target,
    s: &Stream<'_>,
    out: &mut Vec<u8>,
    adj: &mut Adjustments,
) -> Result<Encoding> {
    check(target, s)?;
    let version = target.stream_version();
    let nodes = split_nodes(&s.entries);
    put_len(out, nodes.len() as u64);
    for node in nodes {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&node[0].id.ms.to_be_bytes());
        key[8..].copy_from_slice(&node[0].id.seq.to_be_bytes());
        put_string(out, &key);
        put_string(out, &encode_node(node));
    }
    put_len(out, s.length);
    put_id(out, s.last_id);
    if version >= 2 {
        put_id(out, s.first_id.unwrap_or_else(|| s.entries.first().map_or_else(StreamId::default, |e| e.id)));
        put_id(out, s.max_deleted_id.unwrap_or_default());
        put_len(out, s.entries_added.unwrap_or(s.length));
    }
    let mut dropped = version < 2
        && (s.max_deleted_id.is_some_and(|id| id != StreamId::default())
            || s.entries_added.is_some_and(|n| n != s.length)
            || s.groups.iter().any(|g| g.entries_read.is_some_and(|n| n >= 0)));
    put_len(out, s.groups.len() as u64);
    for group in &s.groups {
        put_group(out, group, version);
        dropped |= version < 3 && group.consumers.iter().any(|c| c.active_time_ms.is_some());
    }
    if version >= 4 {
        put_idmp(out, s.idmp.as_ref().unwrap_or(&Idmp::server_default()));
    } else {
        // A configuration alone (no remembered ids, see `check`) is left to the defaults.
        dropped |= s.idmp.as_ref().is_some_and(|i| !i.is_server_default());
    }
    adj.stream_metadata_dropped += u64::from(dropped);
    Ok(match version {
        1 => Encoding::StreamListpacks,
        2 => Encoding::StreamListpacks2,
        3 => Encoding::StreamListpacks3,
        _ => Encoding::StreamListpacks4,
    })
}

/// Idempotent-producer state (layout 4): configuration, producers with their remembered ids
/// oldest first, counters.
fn put_idmp(out: &mut Vec<u8>, idmp: &Idmp<'_>) {
    put_len(out, idmp.duration_s);
    put_len(out, idmp.max_entries);
    put_len(out, idmp.producers.len() as u64);
    for p in &idmp.producers {
        put_bytes(out, &p.pid);
        put_len(out, p.entries.len() as u64);
        for (iid, id) in &p.entries {
            put_bytes(out, iid);
            put_id(out, *id);
        }
    }
    put_len(out, idmp.iids_added);
    put_len(out, idmp.iids_duplicates);
}

/// Refuses what the target's stream layouts cannot hold and what servers refuse to load.
fn check(target: Target, s: &Stream<'_>) -> Result<()> {
    if let Some(idmp) = &s.idmp
        && target.stream_version() < 4
        && (!idmp.producers.is_empty() || idmp.iids_added > 0 || idmp.iids_duplicates > 0)
    {
        return Err(unrepresentable(target, "stream idempotent-producer state (Redis 8.6+)".into(), ""));
    }
    if s.groups.iter().any(|g| g.nacked.as_ref().is_some_and(|n| !n.is_empty())) {
        return Err(unrepresentable(target, "NACKed stream entries (Redis 8.8+)".into(), ""));
    }
    if let Some(pair) = s.entries.windows(2).find(|w| w[0].id >= w[1].id) {
        return Err(unrepresentable(
            target,
            format!("stream entries out of order ({} before {})", pair[0].id, pair[1].id),
            "; servers need strictly increasing ids",
        ));
    }
    for group in &s.groups {
        let pel: FxHashSet<StreamId> = group.pending.iter().map(|p| p.id).collect();
        if pel.len() != group.pending.len() {
            return Err(unrepresentable(target, "a repeated id in a consumer group's PEL".into(), ""));
        }
        if let Some(id) = group.consumers.iter().flat_map(|c| &c.pending).find(|id| !pel.contains(id)) {
            return Err(unrepresentable(
                target,
                format!("a consumer's pending entry {id} that is not in its group's PEL"),
                "; servers refuse it",
            ));
        }
    }
    Ok(())
}

/// Cuts entries into nodes as a server appending them would: at most 100 entries and about
/// 4 KB of listpack each.
fn split_nodes<'e, 'a>(entries: &'e [StreamEntry<'a>]) -> Vec<&'e [StreamEntry<'a>]> {
    let mut nodes = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, entry) in entries.iter().enumerate() {
        let size: usize = 8 + entry.fields.iter().map(|(f, v)| f.len() + v.len() + 4).sum::<usize>();
        if i > start && (i - start >= NODE_MAX_ENTRIES || bytes + size > NODE_MAX_BYTES) {
            nodes.push(&entries[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < entries.len() {
        nodes.push(&entries[start..]);
    }
    nodes
}

/// One node's listpack: the master entry (counts and the first entry's field names), then
/// each entry as flags, id deltas, fields or values, and its element count.
fn encode_node(node: &[StreamEntry<'_>]) -> Vec<u8> {
    let master = &node[0];
    let mut lp = ListpackBuilder::new();
    lp.push_int(node.len() as i64);
    lp.push_int(0);
    lp.push_int(master.fields.len() as i64);
    for (field, _) in &master.fields {
        field.with_bytes(|b| lp.push(b));
    }
    lp.push_int(0);
    for entry in node {
        let same_fields = entry.fields.len() == master.fields.len()
            && entry.fields.iter().zip(&master.fields).all(|((a, _), (b, _))| a == b);
        lp.push_int(if same_fields { FLAG_SAMEFIELDS } else { 0 });
        lp.push_int(entry.id.ms.wrapping_sub(master.id.ms) as i64);
        lp.push_int(entry.id.seq.wrapping_sub(master.id.seq) as i64);
        let n = entry.fields.len();
        if same_fields {
            entry.fields.iter().for_each(|(_, v)| v.with_bytes(|b| lp.push(b)));
            lp.push_int(n as i64 + 3);
        } else {
            lp.push_int(n as i64);
            for (f, v) in &entry.fields {
                f.with_bytes(|b| lp.push(b));
                v.with_bytes(|b| lp.push(b));
            }
            lp.push_int(2 * n as i64 + 4);
        }
    }
    lp.finish()
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

fn put_raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

fn put_group(out: &mut Vec<u8>, group: &ConsumerGroup<'_>, version: u8) {
    put_bytes(out, &group.name);
    put_id(out, group.last_id);
    if version >= 2 {
        // -1 (unknown) is stored as the 64-bit length 2^64-1.
        put_len(out, group.entries_read.unwrap_or(-1) as u64);
    }
    put_len(out, group.pending.len() as u64);
    for p in &group.pending {
        put_raw_id(out, p.id);
        put_ms(out, p.delivery_time_ms);
        put_len(out, p.delivery_count);
    }
    put_len(out, group.consumers.len() as u64);
    for c in &group.consumers {
        put_consumer(out, c, version);
    }
}

fn put_consumer(out: &mut Vec<u8>, c: &Consumer<'_>, version: u8) {
    put_bytes(out, &c.name);
    put_ms(out, c.seen_time_ms);
    if version >= 3 {
        put_ms(out, c.active_time_ms.unwrap_or(c.seen_time_ms));
    }
    put_len(out, c.pending.len() as u64);
    for id in &c.pending {
        put_raw_id(out, *id);
    }
}
