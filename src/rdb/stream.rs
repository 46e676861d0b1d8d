//! Streams (types 15, 19, 21): listpack nodes of entries, metadata, consumer groups, PELs.
//!
//! Layout per `rdbSaveObject`/`rdbLoadObject` (stream branches) and `streamAppendItem` in
//! `src/t_stream.c`. Version 2 adds first id, max deleted id, entries added and per-group
//! entries read; version 3 adds each consumer's active time.

use std::collections::HashMap;
use std::fmt;

use super::listpack::Listpack;
use super::string::{RdbStr, read_len};
use super::value::Bytes;
use super::write::listpack::int_element_len;
use crate::cursor::Cursor;
use crate::error::Result;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// A stream entry id: milliseconds and sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A decoded stream.
#[derive(Clone, Debug, Default)]
pub struct Stream<'a> {
    /// Live entries in id order (deleted entries are left out).
    pub entries: Vec<StreamEntry<'a>>,
    /// Number of live entries, as stored (what `XLEN` reports; servers do not check it against the
    /// nodes, and some files in the wild disagree with them).
    pub length: u64,
    /// The last id ever generated.
    pub last_id: StreamId,
    /// First live id (stream version 2 and later).
    pub first_id: Option<StreamId>,
    /// Largest id ever deleted (version 2 and later).
    pub max_deleted_id: Option<StreamId>,
    /// Count of entries ever added (version 2 and later).
    pub entries_added: Option<u64>,
    /// Consumer groups.
    pub groups: Vec<ConsumerGroup<'a>>,
    /// Idempotent-producer state (version 4 and later).
    pub idmp: Option<Idmp<'a>>,
    /// The listpack nodes the entries sit in, as a server holding this stream has them, when
    /// known (read from a file, or built by the keyspace): where a server puts the next entry
    /// and what its trimming removes depend on them. Not part of the data (equality ignores it:
    /// another writer may cut the same entries into other nodes).
    pub nodes: Option<Vec<StreamNode>>,
}

impl PartialEq for Stream<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
            && self.length == other.length
            && self.last_id == other.last_id
            && self.first_id == other.first_id
            && self.max_deleted_id == other.max_deleted_id
            && self.entries_added == other.entries_added
            && self.groups == other.groups
            && self.idmp == other.idmp
    }
}

/// One listpack node of a stream, as much of it as decides where entries go and what trimming
/// removes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamNode {
    /// The master entry's id (the node's key).
    pub master: StreamId,
    /// The master entry's field names.
    pub master_fields: Vec<Vec<u8>>,
    /// Entries not deleted.
    pub live: u64,
    /// Entries marked deleted (they stay in the node).
    pub deleted: u64,
    /// The id of the last entry in the node, deleted or not.
    pub last: StreamId,
    /// The listpack's size in bytes less its two counters (live and deleted).
    pub other_bytes: usize,
}

impl StreamNode {
    /// The listpack's size in bytes.
    pub fn bytes(&self) -> usize {
        self.other_bytes + int_element_len(self.live as i64) + int_element_len(self.deleted as i64)
    }
}

/// Idempotent-producer (IDMP) state of a stream: recent producer/message ids and counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Idmp<'a> {
    /// How long ids are remembered, in seconds.
    pub duration_s: u64,
    /// How many ids are remembered per producer.
    pub max_entries: u64,
    /// Producers with their remembered ids, oldest first.
    pub producers: Vec<IdmpProducer<'a>>,
    /// Ids ever added.
    pub iids_added: u64,
    /// Duplicate ids ever seen.
    pub iids_duplicates: u64,
}

/// Servers' default `stream-idmp-duration`, seconds: what a new stream starts with.
pub const IDMP_DEFAULT_DURATION_S: u64 = 100;
/// Servers' default `stream-idmp-maxsize`: what a new stream starts with.
pub const IDMP_DEFAULT_MAX_ENTRIES: u64 = 100;

impl Idmp<'_> {
    /// The state of a stream new on a server with the default configuration.
    pub fn server_default() -> Idmp<'static> {
        Idmp { duration_s: IDMP_DEFAULT_DURATION_S, max_entries: IDMP_DEFAULT_MAX_ENTRIES, ..Idmp::default() }
    }

    /// Whether this is exactly [`Idmp::server_default`].
    pub fn is_server_default(&self) -> bool {
        (self.duration_s, self.max_entries, self.iids_added, self.iids_duplicates)
            == (IDMP_DEFAULT_DURATION_S, IDMP_DEFAULT_MAX_ENTRIES, 0, 0)
            && self.producers.is_empty()
    }
}

/// One idempotent producer and the message ids it sent.
#[derive(Clone, Debug, PartialEq)]
pub struct IdmpProducer<'a> {
    /// Producer id.
    pub pid: Bytes<'a>,
    /// (message id, stream entry id) pairs, oldest first.
    pub entries: Vec<(Bytes<'a>, StreamId)>,
}

/// One stream entry.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEntry<'a> {
    /// The entry's id.
    pub id: StreamId,
    /// Field/value pairs in order.
    pub fields: Vec<(Bytes<'a>, Bytes<'a>)>,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerGroup<'a> {
    /// Group name.
    pub name: Bytes<'a>,
    /// Last delivered id.
    pub last_id: StreamId,
    /// Entries read counter (version 2 and later; -1 when the server did not know it).
    pub entries_read: Option<i64>,
    /// The group's pending entries list.
    pub pending: Vec<PendingEntry>,
    /// Consumers.
    pub consumers: Vec<Consumer<'a>>,
    /// Entries negatively acknowledged and owned by no consumer (version 5).
    pub nacked: Option<Vec<StreamId>>,
}

/// An entry delivered to a consumer and not yet acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingEntry {
    /// The entry id.
    pub id: StreamId,
    /// Last delivery time, Unix ms.
    pub delivery_time_ms: i64,
    /// Number of deliveries.
    pub delivery_count: u64,
    /// Index in the group's consumers of the consumer that owns it, when one does.
    pub consumer: Option<usize>,
}

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct Consumer<'a> {
    /// Consumer name.
    pub name: Bytes<'a>,
    /// Last time the consumer was seen, Unix ms.
    pub seen_time_ms: i64,
    /// Last time the consumer read or claimed successfully (version 3 and later).
    pub active_time_ms: Option<i64>,
    /// Ids of the entries pending for this consumer.
    pub pending: Vec<StreamId>,
}

/// Which stream layout a type code announces (1 to 5, for types 15, 19, 21, 26, 27).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamVersion(pub u8);

impl<'a> Stream<'a> {
    /// Reads a stream of layout `version` (1 to 5) at the cursor.
    pub fn read(cur: &mut Cursor<'a>, version: StreamVersion) -> Result<Stream<'a>> {
        let mut stream = Stream::default();
        let nodes = read_len(cur)?;
        for _ in 0..nodes {
            let node = read_node(cur, &mut stream.entries)?;
            stream.nodes.get_or_insert_with(Vec::new).push(node);
        }
        stream.length = read_len(cur)?;
        stream.last_id = read_id_lens(cur)?;
        if version.0 >= 2 {
            stream.first_id = Some(read_id_lens(cur)?);
            stream.max_deleted_id = Some(read_id_lens(cur)?);
            stream.entries_added = Some(read_len(cur)?);
        }
        let groups = read_len(cur)?;
        for _ in 0..groups {
            stream.groups.push(read_group(cur, version)?);
        }
        if version.0 >= 4 {
            stream.idmp = Some(read_idmp(cur)?);
        }
        Ok(stream)
    }
}

fn read_id_lens(cur: &mut Cursor<'_>) -> Result<StreamId> {
    Ok(StreamId { ms: read_len(cur)?, seq: read_len(cur)? })
}

fn read_raw_id(cur: &mut Cursor<'_>) -> Result<StreamId> {
    Ok(StreamId { ms: cur.u64_be("stream id ms")?, seq: cur.u64_be("stream id seq")? })
}

fn read_node<'a>(cur: &mut Cursor<'a>, out: &mut Vec<StreamEntry<'a>>) -> Result<StreamNode> {
    let key_at = cur.offset();
    let key = RdbStr::read_bytes(cur)?.to_vec();
    let master = match <[u8; 16]>::try_from(key.as_slice()) {
        Ok(raw) => read_raw_id(&mut Cursor::new(&raw, key_at))?,
        Err(_) => {
            return Err(cur.invalid_at(
                key_at,
                "stream node key",
                "a 16-byte master id",
                format!("{} bytes", key.len()),
            ));
        }
    };
    match RdbStr::read(cur)? {
        RdbStr::Raw(blob) => read_node_entries(blob, cur.offset() - blob.len() as u64, master, out),
        RdbStr::Int(_) => Err(cur.invalid_at(key_at, "stream node", "a listpack string", "an integer")),
        lzf @ RdbStr::Lzf { offset, .. } => {
            let blob = lzf.decode()?.to_vec();
            let mut entries = Vec::new();
            // Positions inside decompressed bytes are not file offsets: report the LZF string.
            let node = read_node_entries(&blob, offset, master, &mut entries).map_err(|e| e.at(offset))?;
            out.extend(entries.into_iter().map(|e| -> StreamEntry<'a> { e.into_owned() }));
            Ok(node)
        }
    }
}

fn read_node_entries<'b>(
    blob: &'b [u8],
    base: u64,
    master: StreamId,
    out: &mut Vec<StreamEntry<'b>>,
) -> Result<StreamNode> {
    let mut lp = Listpack::new(blob, base)?;
    let mut node = NodeReader { lp: &mut lp, at: base }.read_entries(master, out)?;
    node.other_bytes = blob.len().saturating_sub(node.bytes());
    Ok(node)
}

impl Stream<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Stream<'static> {
        Stream {
            entries: self.entries.into_iter().map(StreamEntry::into_owned).collect(),
            length: self.length,
            last_id: self.last_id,
            first_id: self.first_id,
            max_deleted_id: self.max_deleted_id,
            entries_added: self.entries_added,
            groups: self.groups.into_iter().map(ConsumerGroup::into_owned).collect(),
            idmp: self.idmp.map(Idmp::into_owned),
            nodes: self.nodes,
        }
    }
}

impl ConsumerGroup<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> ConsumerGroup<'static> {
        ConsumerGroup {
            name: self.name.into_owned(),
            last_id: self.last_id,
            entries_read: self.entries_read,
            pending: self.pending,
            consumers: self
                .consumers
                .into_iter()
                .map(|c| Consumer {
                    name: c.name.into_owned(),
                    seen_time_ms: c.seen_time_ms,
                    active_time_ms: c.active_time_ms,
                    pending: c.pending,
                })
                .collect(),
            nacked: self.nacked,
        }
    }
}

impl Idmp<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Idmp<'static> {
        let producers = self
            .producers
            .into_iter()
            .map(|p| IdmpProducer {
                pid: p.pid.into_owned(),
                entries: p.entries.into_iter().map(|(iid, id)| (iid.into_owned(), id)).collect(),
            })
            .collect();
        Idmp { producers, ..self }
    }
}

impl StreamEntry<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> StreamEntry<'static> {
        let fields = self.fields.into_iter().map(|(f, v)| (f.into_owned(), v.into_owned())).collect();
        StreamEntry { id: self.id, fields }
    }
}

struct NodeReader<'l, 'a> {
    lp: &'l mut Listpack<'a>,
    at: u64,
}

impl<'a> NodeReader<'_, 'a> {
    fn next(&mut self, what: &'static str) -> Result<Bytes<'a>> {
        match self.lp.next()? {
            Some(b) => Ok(b),
            None => Err(crate::error::Error::new(
                crate::error::ErrorKind::Invalid {
                    what,
                    expected: "another listpack element",
                    found: "the end".into(),
                },
                self.at,
            )),
        }
    }

    fn int(&mut self, what: &'static str) -> Result<i64> {
        let b = self.next(what)?;
        match b {
            Bytes::Int(i) => Ok(i),
            other => other
                .with_bytes(|t| std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    crate::error::Error::new(
                        crate::error::ErrorKind::Invalid {
                            what,
                            expected: "an integer",
                            found: format!("{other:?}"),
                        },
                        self.at,
                    )
                }),
        }
    }

    fn count(&mut self, what: &'static str) -> Result<u64> {
        let n = self.int(what)?;
        u64::try_from(n).map_err(|_| self.bad(what, "a non-negative count", n))
    }

    fn bad(&self, what: &'static str, expected: &'static str, found: impl ToString) -> crate::error::Error {
        crate::error::Error::new(
            crate::error::ErrorKind::Invalid { what, expected, found: found.to_string() },
            self.at,
        )
    }

    /// Reads the node's entries into `out` (live ones) and returns the node (its size left 0).
    fn read_entries(&mut self, master: StreamId, out: &mut Vec<StreamEntry<'a>>) -> Result<StreamNode> {
        let live = self.count("stream node live count")?;
        let deleted = self.count("stream node deleted count")?;
        let nfields = self.count("stream master field count")?;
        let mut master_fields = Vec::new();
        for _ in 0..nfields {
            master_fields.push(self.next("stream master field")?);
        }
        if self.int("stream master terminator")? != 0 {
            return Err(self.bad("stream master entry", "a 0 terminator", "another value"));
        }
        let (mut seen_live, mut seen_deleted) = (0u64, 0u64);
        let mut last = master;
        while let Some(flags) = self.lp.next()? {
            let flags = match flags {
                Bytes::Int(f) => f,
                other => {
                    return Err(self.bad("stream entry flags", "an integer", format!("{other:?}")));
                }
            };
            // Deltas are stored as 64-bit integers and added with unsigned wrap-around, as the
            // servers do: an id far above the master id has a "negative" delta.
            let ms = master.ms.wrapping_add(self.int("stream entry ms delta")? as u64);
            let seq = master.seq.wrapping_add(self.int("stream entry seq delta")? as u64);
            last = StreamId { ms, seq };
            let mut fields = Vec::new();
            let elements = if flags & FLAG_SAMEFIELDS != 0 {
                for f in &master_fields {
                    fields.push((f.clone(), self.next("stream entry value")?));
                }
                nfields + 3
            } else {
                let n = self.count("stream entry field count")?;
                for _ in 0..n {
                    let f = self.next("stream entry field")?;
                    fields.push((f, self.next("stream entry value")?));
                }
                n * 2 + 4
            };
            if self.count("stream entry element count")? != elements {
                return Err(self.bad(
                    "stream entry element count",
                    "the entry's element count",
                    "another value",
                ));
            }
            if flags & FLAG_DELETED != 0 {
                seen_deleted += 1;
            } else {
                seen_live += 1;
                out.push(StreamEntry { id: StreamId { ms, seq }, fields });
            }
        }
        if (seen_live, seen_deleted) != (live, deleted) {
            return Err(self.bad(
                "stream node counts",
                "live and deleted counts matching the entries",
                format!("{seen_live} live and {seen_deleted} deleted, header says {live} and {deleted}"),
            ));
        }
        let master_fields = master_fields.iter().map(|f| f.as_cow().into_owned()).collect();
        Ok(StreamNode { master, master_fields, live, deleted, last, other_bytes: 0 })
    }
}

fn read_group<'a>(cur: &mut Cursor<'a>, version: StreamVersion) -> Result<ConsumerGroup<'a>> {
    let name = RdbStr::read_bytes(cur)?;
    let last_id = read_id_lens(cur)?;
    let entries_read = if version.0 >= 2 { Some(read_len(cur)? as i64) } else { None };
    let npending = read_len(cur)?;
    let mut pending = Vec::with_capacity(bounded(npending, cur, 17));
    let mut index = HashMap::with_capacity(pending.capacity());
    for _ in 0..npending {
        let id = read_raw_id(cur)?;
        let delivery_time_ms = cur.i64_le("pending delivery time")?;
        let delivery_count = read_len(cur)?;
        index.insert(id, pending.len());
        pending.push(PendingEntry { id, delivery_time_ms, delivery_count, consumer: None });
    }
    let nconsumers = read_len(cur)?;
    let mut consumers = Vec::with_capacity(bounded(nconsumers, cur, 10));
    for _ in 0..nconsumers {
        let name = RdbStr::read_bytes(cur)?;
        let seen_time_ms = cur.i64_le("consumer seen time")?;
        let active_time_ms = if version.0 >= 3 { Some(cur.i64_le("consumer active time")?) } else { None };
        let n = read_len(cur)?;
        let mut ids = Vec::with_capacity(bounded(n, cur, 16));
        for _ in 0..n {
            let at = cur.offset();
            let id = read_raw_id(cur)?;
            let Some(&slot) = index.get(&id) else {
                return Err(cur.invalid_at(at, "consumer pending entry", "an id in the group's PEL", id));
            };
            pending[slot].consumer = Some(consumers.len());
            ids.push(id);
        }
        consumers.push(Consumer { name, seen_time_ms, active_time_ms, pending: ids });
    }
    let nacked = if version.0 >= 5 { Some(read_nacked(cur, &pending, &index)?) } else { None };
    Ok(ConsumerGroup { name, last_id, entries_read, pending, consumers, nacked })
}

/// The NACK zone: ids that must be in the group's PEL and owned by no consumer.
fn read_nacked(
    cur: &mut Cursor<'_>,
    pending: &[PendingEntry],
    index: &HashMap<StreamId, usize>,
) -> Result<Vec<StreamId>> {
    let n = read_len(cur)?;
    let mut ids = Vec::with_capacity(bounded(n, cur, 16));
    for _ in 0..n {
        let at = cur.offset();
        let id = read_raw_id(cur)?;
        if index.get(&id).is_none_or(|&slot| pending[slot].consumer.is_some()) {
            return Err(cur.invalid_at(
                at,
                "NACKed entry",
                "an id in the group's PEL owned by no consumer",
                id,
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

fn read_idmp<'a>(cur: &mut Cursor<'a>) -> Result<Idmp<'a>> {
    let duration_s = read_len(cur)?;
    let max_entries = read_len(cur)?;
    let nproducers = read_len(cur)?;
    let mut producers = Vec::with_capacity(bounded(nproducers, cur, 2));
    for _ in 0..nproducers {
        let pid = RdbStr::read_bytes(cur)?;
        let n = read_len(cur)?;
        let mut entries = Vec::with_capacity(bounded(n, cur, 3));
        for _ in 0..n {
            let iid = RdbStr::read_bytes(cur)?;
            entries.push((iid, read_id_lens(cur)?));
        }
        producers.push(IdmpProducer { pid, entries });
    }
    Ok(Idmp {
        duration_s,
        max_entries,
        producers,
        iids_added: read_len(cur)?,
        iids_duplicates: read_len(cur)?,
    })
}

/// A capacity for `count` items of at least `min_size` bytes each that the remaining input
/// could actually hold.
fn bounded(count: u64, cur: &Cursor<'_>, min_size: usize) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX).min(cur.remaining() / min_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::listpack::tests::build as listpack;

    fn str_(out: &mut Vec<u8>, s: &[u8]) {
        out.push(s.len() as u8);
        out.extend_from_slice(s);
    }

    fn id16(out: &mut Vec<u8>, ms: u64, seq: u64) {
        out.extend_from_slice(&ms.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
    }

    /// A version-5 stream: one node with a live entry (own fields) and a deleted SAMEFIELDS
    /// entry, one group with two pending entries (one NACKed), and IDMP state.
    fn v5_stream() -> Vec<u8> {
        let node = listpack(
            &[
                &[1],
                &[1],
                &[1],
                &[0x81, b'f'],
                &[0], // master: live, deleted, fields, "f", end
                &[0],
                &[0],
                &[0],
                &[1],
                &[0x81, b'g'],
                &[0x81, b'v'],
                &[6], // live entry 5-0
                &[3],
                &[1],
                &[0],
                &[0x81, b'x'],
                &[4], // deleted SAMEFIELDS entry 6-0
            ],
            17,
        );
        let mut s = vec![1, 16];
        id16(&mut s, 5, 0);
        s.push(0x40 | (node.len() >> 8) as u8);
        s.push(node.len() as u8);
        s.extend_from_slice(&node);
        s.extend_from_slice(&[1, 6, 0, 5, 0, 6, 0, 2]); // length, last, first, max deleted, added
        s.push(1);
        str_(&mut s, b"g1");
        s.extend_from_slice(&[5, 0, 1, 2]); // last id, entries read, PEL size
        for (ms, time, count) in [(5, 1000u64, 1u8), (6, 2000, 3)] {
            id16(&mut s, ms, 0);
            s.extend_from_slice(&time.to_le_bytes());
            s.push(count);
        }
        s.push(1);
        str_(&mut s, b"c1");
        s.extend_from_slice(&7u64.to_le_bytes());
        s.extend_from_slice(&8u64.to_le_bytes());
        s.push(1);
        id16(&mut s, 5, 0);
        s.push(1); // NACK zone
        id16(&mut s, 6, 0);
        s.extend_from_slice(&[60, 10, 1]); // IDMP duration, max entries, producers
        str_(&mut s, b"p1");
        s.push(1);
        str_(&mut s, b"i1");
        s.extend_from_slice(&[5, 0, 1, 0]);
        s
    }

    #[test]
    fn reads_every_stream_section_of_version_5() {
        let bytes = v5_stream();
        let mut cur = Cursor::new(&bytes, 0);
        let s = Stream::read(&mut cur, StreamVersion(5)).unwrap();
        assert!(cur.is_empty());
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.entries[0].id, StreamId { ms: 5, seq: 0 });
        assert_eq!(s.entries[0].fields[0].0.to_vec(), b"g");
        assert_eq!((s.length, s.entries_added), (1, Some(2)));
        let g = &s.groups[0];
        assert_eq!(g.pending[0].consumer, Some(0));
        assert_eq!(g.pending[1].consumer, None);
        assert_eq!(g.pending[1].delivery_count, 3);
        assert_eq!(g.consumers[0].active_time_ms, Some(8));
        assert_eq!(g.nacked, Some(vec![StreamId { ms: 6, seq: 0 }]));
        let idmp = s.idmp.unwrap();
        assert_eq!((idmp.duration_s, idmp.max_entries, idmp.iids_added), (60, 10, 1));
        assert_eq!(idmp.producers[0].entries[0].1, StreamId { ms: 5, seq: 0 });
    }

    #[test]
    fn rejects_a_nacked_id_owned_by_a_consumer_and_any_truncation() {
        let mut bytes = v5_stream();
        let nack_at = bytes.len() - 14 - 16;
        assert_eq!(bytes[nack_at + 7], 6);
        bytes[nack_at + 7] = 5; // NACK 5-0, which consumer c1 owns
        let err = Stream::read(&mut Cursor::new(&bytes, 0), StreamVersion(5)).unwrap_err();
        assert!(err.to_string().contains("NACKed entry"), "{err}");
        let good = v5_stream();
        for cut in 0..good.len() {
            assert!(Stream::read(&mut Cursor::new(&good[..cut], 0), StreamVersion(5)).is_err(), "cut {cut}");
        }
    }
}
