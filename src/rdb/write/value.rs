//! Encoding one value for a target: the type code and the bytes after the key, in the encoding
//! the target server would choose with its default thresholds.

use std::borrow::Cow;

use rustc_hash::FxHashSet;

use super::int::canonical_int;
use super::listpack::ListpackBuilder;
use super::primitive::{put_bytes, put_double, put_len, put_ms, put_string};
use super::stream::put_stream;
use super::target::{FieldTtls, Target};
use super::ziplist::ZiplistBuilder;
use super::{Adjustments, intset};
use crate::error::{Error, ErrorKind, Result};
use crate::rdb::{Bytes, Encoding, HashField, Value};

/// The servers' default encoding thresholds (`*-max-listpack-*`, `set-max-intset-entries`,
/// `list-max-listpack-size -2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most fields of a listpack hash.
    pub hash_entries: usize,
    /// Longest field or value of a listpack hash.
    pub hash_value: usize,
    /// Most members of a listpack sorted set.
    pub zset_entries: usize,
    /// Longest member of a listpack sorted set.
    pub zset_value: usize,
    /// Most members of an intset.
    pub set_intset_entries: usize,
    /// Most members of a listpack set.
    pub set_entries: usize,
    /// Longest member of a listpack set.
    pub set_value: usize,
    /// Bytes of one quicklist node.
    pub list_node_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            hash_entries: 128,
            hash_value: 64,
            zset_entries: 128,
            zset_value: 64,
            set_intset_entries: 512,
            set_entries: 128,
            set_value: 64,
            list_node_bytes: 8192,
        }
    }
}

/// Elements this large get a quicklist node of their own, stored plain (`packed_threshold`).
const PLAIN_NODE_BYTES: usize = 1 << 30;

/// Most entries in one quicklist node: servers keep a node's count in 16 bits and silently
/// lose entries past it.
const MAX_NODE_ENTRIES: usize = u16::MAX as usize;

/// Quicklist2 node containers.
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// What a writer may leave out when the target cannot hold it, instead of refusing the
/// input (each is counted in [`Adjustments`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lossy {
    /// Write hashes with field TTLs without them.
    pub field_ttls: bool,
    /// Leave out function libraries.
    pub functions: bool,
}

/// Encodes values for one target.
#[derive(Clone, Debug)]
pub struct ValueWriter {
    target: Target,
    limits: Limits,
    lossy: Lossy,
}

impl ValueWriter {
    /// A writer for `target` that may drop what `lossy` allows where the target has no place
    /// for it.
    pub fn new(target: Target, lossy: Lossy) -> ValueWriter {
        ValueWriter { target, limits: Limits::default(), lossy }
    }

    /// The target written.
    pub fn target(&self) -> Target {
        self.target
    }

    /// What may be dropped.
    pub fn lossy(&self) -> Lossy {
        self.lossy
    }

    /// Appends `value` (everything after the key) and returns its type code.
    ///
    /// # Errors
    /// [`ErrorKind::Unrepresentable`] for what the target cannot hold or a server would refuse
    /// to load (duplicate members, NaN scores); the offset is 0 and the caller places it.
    pub fn put(&self, value: &Value<'_>, out: &mut Vec<u8>, adj: &mut Adjustments) -> Result<u8> {
        let encoding = match value {
            Value::String(s) => {
                put_bytes(out, s);
                Encoding::String
            }
            Value::List(items) => self.put_list(items, out),
            Value::Set(members) => self.put_set(members, out)?,
            Value::ZSet(members) => self.put_zset(members, out)?,
            Value::Hash(fields) => self.put_hash(fields, out, adj)?,
            Value::Stream(stream) => put_stream(self.target, stream, out, adj)?,
            Value::Module(m) => {
                put_len(out, m.id);
                out.extend_from_slice(&m.payload);
                Encoding::Module2
            }
            Value::VectorSet(v) => {
                adj.empty_vector_attributes_dropped += v
                    .elements
                    .values()
                    .filter(|e| e.attributes.as_deref().is_some_and(<[u8]>::is_empty))
                    .count() as u64;
                let m = v.to_module_value();
                put_len(out, m.id);
                out.extend_from_slice(&m.payload);
                Encoding::Module2
            }
        };
        Ok(encoding.code())
    }

    fn put_list(&self, items: &[Bytes<'_>], out: &mut Vec<u8>) -> Encoding {
        let mut nodes: Vec<(u64, Cow<'_, [u8]>)> = Vec::new();
        let packed = self.target.has_listpacks();
        let mut node = Blob::new(packed);
        for item in items {
            item.with_bytes(|b| {
                if packed && b.len() >= PLAIN_NODE_BYTES {
                    if !node.is_empty() {
                        nodes.push((CONTAINER_PACKED, node.take().into()));
                    }
                    nodes.push((CONTAINER_PLAIN, b.to_vec().into()));
                    return;
                }
                let full = node.len() >= MAX_NODE_ENTRIES
                    || node.bytes_len() + b.len() + 11 > self.limits.list_node_bytes;
                if !node.is_empty() && full {
                    nodes.push((CONTAINER_PACKED, node.take().into()));
                }
                node.push(b);
            });
        }
        if !node.is_empty() {
            nodes.push((CONTAINER_PACKED, node.take().into()));
        }
        put_len(out, nodes.len() as u64);
        for (container, blob) in &nodes {
            if packed {
                put_len(out, *container);
            }
            put_string(out, blob);
        }
        if packed { Encoding::ListQuicklist2 } else { Encoding::ListQuicklist }
    }

    fn put_set(&self, members: &[Bytes<'_>], out: &mut Vec<u8>) -> Result<Encoding> {
        let limits = &self.limits;
        if members.len() <= limits.set_intset_entries
            && let Some(mut ints) = members.iter().map(as_int).collect::<Option<Vec<i64>>>()
        {
            ints.sort_unstable();
            if let Some(w) = ints.windows(2).find(|w| w[0] == w[1]) {
                return Err(duplicate(self.target, "set member", &Bytes::Int(w[0])));
            }
            put_string(out, &intset::encode(&ints));
            return Ok(Encoding::SetIntset);
        }
        check_unique(self.target, members.iter(), "set member")?;
        if self.target.has_set_listpacks()
            && members.len() <= limits.set_entries
            && members.iter().all(|m| m.len() <= limits.set_value)
        {
            let mut lp = ListpackBuilder::new();
            members.iter().for_each(|m| m.with_bytes(|b| lp.push(b)));
            put_string(out, &lp.finish());
            return Ok(Encoding::SetListpack);
        }
        put_len(out, members.len() as u64);
        members.iter().for_each(|m| put_bytes(out, m));
        Ok(Encoding::Set)
    }

    fn put_zset(&self, members: &[(Bytes<'_>, f64)], out: &mut Vec<u8>) -> Result<Encoding> {
        if let Some((m, _)) = members.iter().find(|(_, s)| s.is_nan()) {
            return Err(unrepresentable(
                self.target,
                format!("a NaN score (member \"{}\")", m.with_bytes(crate::error::escape_bytes)),
                "; servers refuse NaN scores",
            ));
        }
        check_unique(self.target, members.iter().map(|(m, _)| m), "sorted set member")?;
        let limits = &self.limits;
        if members.len() <= limits.zset_entries && members.iter().all(|(m, _)| m.len() <= limits.zset_value) {
            let mut sorted: Vec<(Cow<'_, [u8]>, f64)> =
                members.iter().map(|(m, s)| (m.as_cow(), *s)).collect();
            sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let mut blob = Blob::new(self.target.has_listpacks());
            let mut text = ScoreText::default();
            for (member, score) in &sorted {
                blob.push(member);
                blob.push(text.format(*score));
            }
            put_string(out, &blob.take());
            return Ok(if self.target.has_listpacks() {
                Encoding::ZSetListpack
            } else {
                Encoding::ZSetZiplist
            });
        }
        put_len(out, members.len() as u64);
        for (member, score) in members {
            put_bytes(out, member);
            put_double(out, *score);
        }
        Ok(Encoding::ZSet2)
    }

    fn put_hash(
        &self,
        fields: &[HashField<'_>],
        out: &mut Vec<u8>,
        adj: &mut Adjustments,
    ) -> Result<Encoding> {
        check_unique(self.target, fields.iter().map(|f| &f.field), "hash field")?;
        let with_ttl = fields.iter().filter(|f| f.expire_ms.is_some()).count() as u64;
        let limits = &self.limits;
        let small = fields.len() <= limits.hash_entries
            && fields
                .iter()
                .all(|f| f.field.len() <= limits.hash_value && f.value.len() <= limits.hash_value);
        if with_ttl > 0 {
            match self.target.field_ttls() {
                FieldTtls::Redis => return Ok(put_redis_ttl_hash(fields, small, out)),
                FieldTtls::Valkey => return Ok(put_valkey_ttl_hash(fields, out)),
                FieldTtls::None if self.lossy.field_ttls => adj.field_ttls_dropped += with_ttl,
                FieldTtls::None => {
                    return Err(unrepresentable(
                        self.target,
                        format!("hash field TTLs ({with_ttl} fields)"),
                        "; --drop-field-ttls writes the fields without them",
                    ));
                }
            }
        }
        if small {
            let mut blob = Blob::new(self.target.has_listpacks());
            for f in fields {
                f.field.with_bytes(|b| blob.push(b));
                f.value.with_bytes(|b| blob.push(b));
            }
            put_string(out, &blob.take());
            return Ok(if self.target.has_listpacks() {
                Encoding::HashListpack
            } else {
                Encoding::HashZiplist
            });
        }
        put_len(out, fields.len() as u64);
        for f in fields {
            put_bytes(out, &f.field);
            put_bytes(out, &f.value);
        }
        Ok(Encoding::Hash)
    }
}

/// Redis 7.4+: a listpack of (field, value, TTL) ordered by TTL, fields without one last
/// (type 25), or TTLs relative to the smallest (type 24); both after the smallest TTL.
fn put_redis_ttl_hash(fields: &[HashField<'_>], small: bool, out: &mut Vec<u8>) -> Encoding {
    let min = fields.iter().filter_map(|f| f.expire_ms).min().unwrap_or(0);
    put_ms(out, min);
    if small {
        let mut ordered: Vec<&HashField<'_>> = fields.iter().collect();
        ordered.sort_by_key(|f| f.expire_ms.map_or((1, 0), |ms| (0, ms)));
        let mut lp = ListpackBuilder::new();
        for f in ordered {
            f.field.with_bytes(|b| lp.push(b));
            f.value.with_bytes(|b| lp.push(b));
            lp.push_int(f.expire_ms.unwrap_or(0));
        }
        put_string(out, &lp.finish());
        return Encoding::HashListpackEx;
    }
    put_len(out, fields.len() as u64);
    for f in fields {
        put_len(out, f.expire_ms.map_or(0, |ms| ms.wrapping_sub(min) as u64 + 1));
        put_bytes(out, &f.field);
        put_bytes(out, &f.value);
    }
    Encoding::HashMetadata
}

/// Valkey 9 `HASH_2`: each field, its value and an 8-byte absolute TTL (-1 for none).
fn put_valkey_ttl_hash(fields: &[HashField<'_>], out: &mut Vec<u8>) -> Encoding {
    put_len(out, fields.len() as u64);
    for f in fields {
        put_bytes(out, &f.field);
        put_bytes(out, &f.value);
        put_ms(out, f.expire_ms.unwrap_or(-1));
    }
    Encoding::ValkeyHash2
}

fn as_int(b: &Bytes<'_>) -> Option<i64> {
    match b {
        Bytes::Int(i) => Some(*i),
        other => other.with_bytes(canonical_int),
    }
}

/// Refuses a collection with a repeated member, which servers refuse to load.
fn check_unique<'b, 'a: 'b>(
    target: Target,
    items: impl ExactSizeIterator<Item = &'b Bytes<'a>>,
    what: &str,
) -> Result<()> {
    let mut seen = FxHashSet::with_capacity_and_hasher(items.len(), Default::default());
    for item in items {
        if !seen.insert(item.as_cow()) {
            return Err(duplicate(target, what, item));
        }
    }
    Ok(())
}

fn duplicate(target: Target, what: &str, item: &Bytes<'_>) -> Error {
    let shown = item.with_bytes(crate::error::escape_bytes);
    unrepresentable(target, format!("a repeated {what} (\"{shown}\")"), "; servers refuse to load duplicates")
}

/// An [`ErrorKind::Unrepresentable`] for an RDB file at offset 0 (callers place it);
/// `hint` is empty or starts with "; ".
pub(super) fn unrepresentable(target: Target, what: String, hint: &'static str) -> Error {
    Error::new(ErrorKind::Unrepresentable { target: target.to_string(), what, hint }, 0)
}

/// A listpack or, for targets before RDB 10, a ziplist being filled.
enum Blob {
    Listpack(ListpackBuilder),
    Ziplist(ZiplistBuilder),
}

impl Blob {
    fn new(listpack: bool) -> Blob {
        if listpack { Blob::Listpack(ListpackBuilder::new()) } else { Blob::Ziplist(ZiplistBuilder::new()) }
    }

    fn push(&mut self, element: &[u8]) {
        match self {
            Blob::Listpack(b) => b.push(element),
            Blob::Ziplist(b) => b.push(element),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn len(&self) -> usize {
        match self {
            Blob::Listpack(b) => b.len(),
            Blob::Ziplist(b) => b.len(),
        }
    }

    fn bytes_len(&self) -> usize {
        match self {
            Blob::Listpack(b) => b.bytes_len(),
            Blob::Ziplist(b) => b.bytes_len(),
        }
    }

    /// The finished blob; the builder starts over empty.
    fn take(&mut self) -> Vec<u8> {
        let fresh = Blob::new(matches!(self, Blob::Listpack(_)));
        match std::mem::replace(self, fresh) {
            Blob::Listpack(b) => b.finish(),
            Blob::Ziplist(b) => b.finish(),
        }
    }
}

/// Formats scores as listpack sorted sets store them: integers as integers, others in the
/// shortest text that parses back to the same double, infinities as `inf`/`-inf`.
#[derive(Default)]
pub struct ScoreText {
    ints: itoa::Buffer,
    floats: ryu::Buffer,
}

impl ScoreText {
    /// The text of `score` (not NaN).
    pub fn format(&mut self, score: f64) -> &[u8] {
        const EXACT_INT: f64 = (1u64 << 53) as f64;
        if score == f64::INFINITY {
            b"inf"
        } else if score == f64::NEG_INFINITY {
            b"-inf"
        } else if score.fract() == 0.0
            && score.abs() < EXACT_INT
            && !(score == 0.0 && score.is_sign_negative())
        {
            self.ints.format(score as i64).as_bytes()
        } else if score == 0.0 {
            b"-0"
        } else {
            self.floats.format_finite(score).as_bytes()
        }
    }
}
