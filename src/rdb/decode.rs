//! Decoding and skipping one value of a given [`Encoding`] (`rdbLoadObject`).
//!
//! Skipping walks only lengths, so a pass over keys does not decode members.

use super::encoding::Encoding;
use super::module::ModuleValue;
use super::stream::{Stream, StreamVersion};
use super::string::{RdbStr, read_len};
use super::value::{Bytes, HashField, Value};
use super::{intset, listpack, ziplist, zipmap};
use crate::cursor::Cursor;
use crate::error::{ErrorKind, Result};

/// Quicklist2 node containers (`QUICKLIST_NODE_CONTAINER_*`).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// Hash-field TTL value meaning "no TTL" in Valkey's HASH_2 layout.
const VALKEY_NO_TTL: i64 = -1;

/// Decodes one value of encoding `enc` at the cursor.
pub fn decode<'a>(enc: Encoding, cur: &mut Cursor<'a>) -> Result<Value<'a>> {
    use Encoding::*;
    Ok(match enc {
        String => Value::String(RdbStr::read_bytes(cur)?),
        List => Value::List(read_strings(cur, 1)?),
        Set => Value::Set(read_strings(cur, 1)?),
        ZSet | ZSet2 => Value::ZSet(read_scored(cur, enc == ZSet2)?),
        Hash => {
            let flat = read_strings(cur, 2)?;
            Value::Hash(pairs(cur, flat)?)
        }
        HashZipmap => Value::Hash(read_hash_blob(cur, &zipmap::decode)?),
        ListZiplist => Value::List(read_blob(cur, &ziplist::decode)?),
        SetIntset => Value::Set(read_blob(cur, &|b, at| intset::decode(b, at))?),
        ZSetZiplist => Value::ZSet(read_scored_blob(cur, &ziplist::decode)?),
        HashZiplist => Value::Hash(read_hash_blob(cur, &ziplist::decode)?),
        HashListpack => Value::Hash(read_hash_blob(cur, &listpack::decode)?),
        ZSetListpack => Value::ZSet(read_scored_blob(cur, &listpack::decode)?),
        SetListpack => Value::Set(read_blob(cur, &listpack::decode)?),
        ListQuicklist => Value::List(read_quicklist(cur)?),
        ListQuicklist2 => Value::List(read_quicklist2(cur)?),
        StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 | StreamListpacks5 => {
            let version = StreamVersion(enc.stream_version().unwrap_or(1));
            Value::Stream(Box::new(Stream::read(cur, version)?))
        }
        Module2 => Value::Module(ModuleValue::read(cur)?),
        ModulePreGa => return Err(module_pre_ga(cur)),
        HashMetadataPreGa => Value::Hash(read_hash_metadata(cur, None)?),
        HashMetadata => {
            let min = cur.i64_le("hash minimum field expiry")?;
            Value::Hash(read_hash_metadata(cur, Some(min))?)
        }
        HashListpackExPreGa => Value::Hash(read_listpack_ex(cur)?),
        HashListpackEx => {
            cur.skip(8, "hash minimum field expiry")?;
            Value::Hash(read_listpack_ex(cur)?)
        }
        ValkeyHash2 => Value::Hash(read_valkey_hash2(cur)?),
    })
}

/// Skips one value of encoding `enc`, checking only its framing.
pub fn skip(enc: Encoding, cur: &mut Cursor<'_>) -> Result<()> {
    skip_measured(enc, cur).map(drop)
}

/// Like [`skip`]; returns how many more bytes the value's LZF strings decompress to than they
/// take in the file (what decoding it produces beyond its size).
#[inline(always)]
pub fn skip_measured(enc: Encoding, cur: &mut Cursor<'_>) -> Result<u64> {
    if enc == Encoding::String {
        let mut extra = 0;
        skip_str(cur, &mut extra)?;
        return Ok(extra);
    }
    skip_measured_general(enc, cur)
}

#[inline(never)]
fn skip_measured_general(enc: Encoding, cur: &mut Cursor<'_>) -> Result<u64> {
    use Encoding::*;
    let mut extra = 0;
    let x = &mut extra;
    match enc {
        String | HashZipmap | ListZiplist | SetIntset | ZSetZiplist | HashZiplist | HashListpack
        | ZSetListpack | SetListpack | HashListpackExPreGa => skip_str(cur, x)?,
        List | Set | ListQuicklist => skip_strings(cur, 1, x)?,
        Hash => skip_strings(cur, 2, x)?,
        ZSet => repeat(cur, |cur| {
            skip_str(cur, x)?;
            read_ascii_score(cur).map(drop)
        })?,
        ZSet2 => repeat(cur, |cur| {
            skip_str(cur, x)?;
            cur.skip(8, "binary score")
        })?,
        ListQuicklist2 => repeat(cur, |cur| {
            read_len(cur)?;
            skip_str(cur, x)
        })?,
        HashListpackEx => {
            cur.skip(8, "hash minimum field expiry")?;
            skip_str(cur, x)?
        }
        HashMetadata => {
            cur.skip(8, "hash minimum field expiry")?;
            skip_ttl_fields(cur, x)?
        }
        HashMetadataPreGa => skip_ttl_fields(cur, x)?,
        ValkeyHash2 => repeat(cur, |cur| {
            skip_strings_n(cur, 2, x)?;
            cur.skip(8, "hash field expiry")
        })?,
        Module2 => ModuleValue::read(cur).map(drop)?,
        ModulePreGa => return Err(module_pre_ga(cur)),
        StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 | StreamListpacks5 => {
            decode(enc, cur).map(drop)?
        }
    }
    Ok(extra)
}

/// Skips a string, adding what LZF data decompresses to beyond its size to `extra`.
#[inline]
fn skip_str(cur: &mut Cursor<'_>, extra: &mut u64) -> Result<()> {
    if let RdbStr::Lzf { compressed, len, .. } = RdbStr::read(cur)? {
        *extra = extra.saturating_add(len.saturating_sub(compressed.len() as u64));
    }
    Ok(())
}

fn module_pre_ga(cur: &Cursor<'_>) -> crate::Error {
    cur.error(ErrorKind::UnsupportedType {
        code: Encoding::ModulePreGa.code(),
        reason: "module value from a Redis 4.0 release candidate; its length is known only to the module",
    })
}

/// A capacity for `count` items that the remaining input could hold (each takes a byte or more).
fn capacity(count: u64, cur: &Cursor<'_>) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX).min(cur.remaining())
}

/// Reads a count, then runs `item` that many times.
fn repeat<'a>(cur: &mut Cursor<'a>, mut item: impl FnMut(&mut Cursor<'a>) -> Result<()>) -> Result<()> {
    let n = read_len(cur)?;
    for _ in 0..n {
        item(cur)?;
    }
    Ok(())
}

fn skip_strings_n(cur: &mut Cursor<'_>, n: u64, extra: &mut u64) -> Result<()> {
    (0..n).try_for_each(|_| skip_str(cur, extra))
}

fn skip_strings(cur: &mut Cursor<'_>, per_item: u64, extra: &mut u64) -> Result<()> {
    repeat(cur, |cur| skip_strings_n(cur, per_item, extra))
}

fn skip_ttl_fields(cur: &mut Cursor<'_>, extra: &mut u64) -> Result<()> {
    repeat(cur, |cur| {
        read_len(cur)?;
        skip_strings_n(cur, 2, extra)
    })
}

/// Reads a count of items, each `per_item` strings.
fn read_strings<'a>(cur: &mut Cursor<'a>, per_item: u64) -> Result<Vec<Bytes<'a>>> {
    let n = read_len(cur)?;
    let total = n.checked_mul(per_item).ok_or_else(|| cur.invalid("count", "a count that fits", n))?;
    let mut out = Vec::with_capacity(capacity(total, cur));
    for _ in 0..total {
        out.push(RdbStr::read_bytes(cur)?);
    }
    Ok(out)
}

fn read_scored<'a>(cur: &mut Cursor<'a>, binary: bool) -> Result<Vec<(Bytes<'a>, f64)>> {
    let n = read_len(cur)?;
    let mut out = Vec::with_capacity(capacity(n, cur));
    for _ in 0..n {
        let member = RdbStr::read_bytes(cur)?;
        let score = if binary { cur.f64_le("binary score")? } else { read_ascii_score(cur)? };
        out.push((member, score));
    }
    Ok(out)
}

/// A score as 1-byte length and ASCII text; lengths 253, 254, 255 mean NaN, +inf, -inf.
fn read_ascii_score(cur: &mut Cursor<'_>) -> Result<f64> {
    let at = cur.offset();
    match cur.u8("score length")? {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        len => {
            let text = cur.take(usize::from(len), "score")?;
            parse_score(text).ok_or_else(|| {
                cur.invalid_at(at, "score", "a decimal number", crate::error::escape_bytes(text))
            })
        }
    }
}

fn parse_score(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Reads a string holding a blob and decodes it; data from a compressed blob is copied out.
fn read_blob<'a>(cur: &mut Cursor<'a>, decode_blob: &BlobDecoder) -> Result<Vec<Bytes<'a>>> {
    let at = cur.offset();
    match RdbStr::read(cur)? {
        RdbStr::Raw(blob) => decode_blob(blob, cur.offset() - blob.len() as u64),
        RdbStr::Int(_) => {
            Err(cur.invalid_at(at, "encoded value", "a string blob", "an integer-encoded string"))
        }
        lzf @ RdbStr::Lzf { offset, .. } => {
            let owned = lzf.decode()?.to_vec();
            // Positions inside decompressed bytes are not file offsets: report the LZF string.
            let flat = decode_blob(&owned, offset).map_err(|e| e.at(offset))?;
            Ok(flat.into_iter().map(Bytes::into_owned).collect())
        }
    }
}

fn read_quicklist<'a>(cur: &mut Cursor<'a>) -> Result<Vec<Bytes<'a>>> {
    let nodes = read_len(cur)?;
    let mut out = Vec::new();
    for _ in 0..nodes {
        out.extend(read_blob(cur, &ziplist::decode)?);
    }
    Ok(out)
}

fn read_quicklist2<'a>(cur: &mut Cursor<'a>) -> Result<Vec<Bytes<'a>>> {
    let nodes = read_len(cur)?;
    let mut out = Vec::new();
    for _ in 0..nodes {
        let at = cur.offset();
        match read_len(cur)? {
            CONTAINER_PLAIN => out.push(RdbStr::read_bytes(cur)?),
            CONTAINER_PACKED => out.extend(read_blob(cur, &listpack::decode)?),
            other => {
                return Err(cur.invalid_at(at, "quicklist node container", "1 (plain) or 2 (packed)", other));
            }
        }
    }
    Ok(out)
}

type BlobDecoder = dyn for<'b> Fn(&'b [u8], u64) -> Result<Vec<Bytes<'b>>>;

fn read_hash_blob<'a>(cur: &mut Cursor<'a>, decode_blob: &BlobDecoder) -> Result<Vec<HashField<'a>>> {
    let flat = read_blob(cur, decode_blob)?;
    pairs(cur, flat)
}

fn read_scored_blob<'a>(cur: &mut Cursor<'a>, decode_blob: &BlobDecoder) -> Result<Vec<(Bytes<'a>, f64)>> {
    let flat = read_blob(cur, decode_blob)?;
    scores(cur, flat)
}

/// Pairs up alternating fields and values.
fn pairs<'a>(cur: &Cursor<'_>, flat: Vec<Bytes<'a>>) -> Result<Vec<HashField<'a>>> {
    if !flat.len().is_multiple_of(2) {
        return Err(cur.invalid("hash", "field/value pairs", format!("{} elements", flat.len())));
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(field), Some(value)) = (it.next(), it.next()) {
        out.push(HashField { field, value, expire_ms: None });
    }
    Ok(out)
}

/// Pairs members with scores from a flat ziplist or listpack.
fn scores<'a>(cur: &Cursor<'_>, flat: Vec<Bytes<'a>>) -> Result<Vec<(Bytes<'a>, f64)>> {
    if !flat.len().is_multiple_of(2) {
        return Err(cur.invalid("sorted set", "member/score pairs", format!("{} elements", flat.len())));
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(member), Some(score)) = (it.next(), it.next()) {
        let score = match score {
            Bytes::Int(i) => i as f64,
            other => other
                .with_bytes(parse_score)
                .ok_or_else(|| cur.invalid("sorted set score", "a decimal number", format!("{other:?}")))?,
        };
        out.push((member, score));
    }
    Ok(out)
}

/// Types 22 (Redis pre-GA) and 24: per field a TTL length, the field and the value. With a
/// minimum (type 24) a TTL of 0 means none and others are `expiry - min + 1`; without one the
/// TTL is absolute and 0 means none.
fn read_hash_metadata<'a>(cur: &mut Cursor<'a>, min: Option<i64>) -> Result<Vec<HashField<'a>>> {
    let n = read_len(cur)?;
    let mut out = Vec::with_capacity(capacity(n, cur));
    for _ in 0..n {
        let ttl = read_len(cur)?;
        let expire_ms = match (ttl, min) {
            (0, _) => None,
            (t, Some(min)) => Some(min.wrapping_add(t as i64).wrapping_sub(1)),
            (t, None) => Some(t as i64),
        };
        let field = RdbStr::read_bytes(cur)?;
        let value = RdbStr::read_bytes(cur)?;
        out.push(HashField { field, value, expire_ms });
    }
    Ok(out)
}

/// Types 23 and 25: a listpack of field, value, TTL triples; TTL 0 means none.
fn read_listpack_ex<'a>(cur: &mut Cursor<'a>) -> Result<Vec<HashField<'a>>> {
    let flat = read_blob(cur, &listpack::decode)?;
    if !flat.len().is_multiple_of(3) {
        return Err(cur.invalid(
            "hash listpack",
            "field/value/TTL triples",
            format!("{} elements", flat.len()),
        ));
    }
    let mut out = Vec::with_capacity(flat.len() / 3);
    let mut it = flat.into_iter();
    while let (Some(field), Some(value), Some(ttl)) = (it.next(), it.next(), it.next()) {
        let expire_ms = match ttl {
            Bytes::Int(0) => None,
            Bytes::Int(t) => Some(t),
            other => return Err(cur.invalid("hash field TTL", "an integer", format!("{other:?}"))),
        };
        out.push(HashField { field, value, expire_ms });
    }
    Ok(out)
}

/// Valkey's HASH_2: per field the field, the value and an 8-byte absolute TTL (-1 = none).
fn read_valkey_hash2<'a>(cur: &mut Cursor<'a>) -> Result<Vec<HashField<'a>>> {
    let n = read_len(cur)?;
    let mut out = Vec::with_capacity(capacity(n, cur));
    for _ in 0..n {
        let field = RdbStr::read_bytes(cur)?;
        let value = RdbStr::read_bytes(cur)?;
        let ttl = cur.i64_le("hash field expiry")?;
        out.push(HashField { field, value, expire_ms: (ttl != VALKEY_NO_TTL).then_some(ttl) });
    }
    Ok(out)
}

/// One element handed to a [`Visitor`]: bytes (borrowed from the file or from a scratch buffer
/// holding decompressed data) or an integer-encoded string.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Elem<'x> {
    /// The string's bytes.
    Bytes(&'x [u8]),
    /// An integer; its string form is its decimal text.
    Int(i64),
}

impl<'x> Elem<'x> {
    /// An element for borrowed or integer [`Bytes`] (owned bytes are borrowed too).
    #[inline]
    pub fn of(b: &'x Bytes<'_>) -> Elem<'x> {
        match b {
            Bytes::Borrowed(b) => Elem::Bytes(b),
            Bytes::Owned(b) => Elem::Bytes(b),
            Bytes::Int(i) => Elem::Int(*i),
        }
    }
}

/// Receives a value's contents as [`visit`] decodes them, without collecting them.
///
/// The shapes match [`Value`]: a string is one [`Visitor::string`] call; a list or set is
/// [`Visitor::begin`], an [`Visitor::item`] per element, [`Visitor::end`]; a sorted set uses
/// [`Visitor::scored`] and a hash [`Visitor::field`] between `begin` and `end`. Other types
/// (streams, modules, hashes with field expiry, zipmaps) arrive whole through
/// [`Visitor::value`].
pub trait Visitor {
    /// A string value.
    fn string(&mut self, s: Elem<'_>);
    /// The start of a collection.
    fn begin(&mut self);
    /// A list element or set member.
    fn item(&mut self, e: Elem<'_>);
    /// A sorted-set member and its score.
    fn scored(&mut self, member: Elem<'_>, score: f64);
    /// A hash field, its value and its expiry.
    fn field(&mut self, field: Elem<'_>, value: Elem<'_>, expire_ms: Option<i64>);
    /// The end of a collection.
    fn end(&mut self);
    /// A value decoded whole.
    fn value(&mut self, value: &Value<'_>);
    /// False when the visitor never looks at string bytes (a validating pass): LZF string
    /// values are then checked without being decompressed, and given as empty.
    fn wants_bytes(&self) -> bool {
        true
    }
}

/// Reusable buffers for decompressed strings and blobs, so that visiting allocates only when a
/// value is larger than any before it.
#[derive(Default)]
pub struct Scratch {
    a: Vec<u8>,
    b: Vec<u8>,
}

/// Buffers larger than this are given back after each value.
const SCRATCH_KEEP: usize = 4 << 20;

impl Scratch {
    /// Empty buffers.
    pub fn new() -> Scratch {
        Scratch::default()
    }

    fn trim(&mut self) {
        for buf in [&mut self.a, &mut self.b] {
            if buf.capacity() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
        }
    }
}

/// Decodes one value of encoding `enc` at the cursor, handing its contents to `visitor`.
///
/// Accepts exactly the values [`decode`] accepts and shows the same contents; on malformed data
/// it fails too, but not necessarily with the same error (callers wanting [`decode`]'s error
/// run it on the failing value). What the visitor was given before an error is meaningless.
#[inline]
pub fn visit<'a>(
    enc: Encoding,
    cur: &mut Cursor<'a>,
    visitor: &mut impl Visitor,
    scratch: &mut Scratch,
) -> Result<()> {
    if enc == Encoding::String {
        // The most common value, a plain string, without the general machinery.
        return match RdbStr::read(cur)? {
            RdbStr::Raw(s) => {
                visitor.string(Elem::Bytes(s));
                Ok(())
            }
            other => visit_string(other, visitor, scratch),
        };
    }
    visit_general(enc, cur, visitor, scratch)
}

#[inline(never)]
fn visit_string(s: RdbStr<'_>, visitor: &mut impl Visitor, scratch: &mut Scratch) -> Result<()> {
    if let RdbStr::Lzf { compressed, len, offset } = s
        && !visitor.wants_bytes()
    {
        super::lzf::validate(compressed, len, offset)?;
        visitor.string(Elem::Bytes(&[]));
        return Ok(());
    }
    let result = elem(s, &mut scratch.a).map(|e| visitor.string(e));
    scratch.trim();
    result
}

#[inline(never)]
fn visit_general<'a>(
    enc: Encoding,
    cur: &mut Cursor<'a>,
    visitor: &mut impl Visitor,
    scratch: &mut Scratch,
) -> Result<()> {
    let result = visit_inner(enc, cur, visitor, scratch);
    scratch.trim();
    result
}

fn visit_inner<'a>(
    enc: Encoding,
    cur: &mut Cursor<'a>,
    v: &mut impl Visitor,
    scratch: &mut Scratch,
) -> Result<()> {
    use Encoding::*;
    match enc {
        String => {
            let s = RdbStr::read(cur)?;
            v.string(elem(s, &mut scratch.a)?);
        }
        List | Set => {
            v.begin();
            let n = read_len(cur)?;
            for _ in 0..n {
                let s = RdbStr::read(cur)?;
                v.item(elem(s, &mut scratch.a)?);
            }
            v.end();
        }
        ZSet | ZSet2 => {
            v.begin();
            let n = read_len(cur)?;
            for _ in 0..n {
                let s = RdbStr::read(cur)?;
                let member = elem(s, &mut scratch.a)?;
                let score = if enc == ZSet2 { cur.f64_le("binary score")? } else { read_ascii_score(cur)? };
                v.scored(member, score);
            }
            v.end();
        }
        Hash => {
            v.begin();
            let n = read_len(cur)?;
            for _ in 0..n {
                let f = RdbStr::read(cur)?;
                let f = elem(f, &mut scratch.a)?;
                let value = RdbStr::read(cur)?;
                v.field(f, elem(value, &mut scratch.b)?, None);
            }
            v.end();
        }
        ListZiplist => {
            v.begin();
            let blob = read_blob_bytes(cur, &mut scratch.a)?;
            visit_ziplist_items(blob, v)?;
            v.end();
        }
        SetIntset => {
            v.begin();
            let blob = read_blob_bytes(cur, &mut scratch.a)?;
            for i in intset::iter(blob, 0)? {
                v.item(Elem::Int(i));
            }
            v.end();
        }
        SetListpack => {
            v.begin();
            let blob = read_blob_bytes(cur, &mut scratch.a)?;
            visit_listpack_items(blob, v)?;
            v.end();
        }
        ZSetZiplist | ZSetListpack => {
            v.begin();
            let blob = read_blob_bytes(cur, &mut scratch.a)?;
            let mut next = elements(blob, enc == ZSetListpack)?;
            while let Some(member) = next.next()? {
                let Some(score) = next.next()? else { return Err(odd(cur)) };
                let score = match score {
                    Bytes::Int(i) => i as f64,
                    other => other.with_bytes(parse_score).ok_or_else(|| odd(cur))?,
                };
                v.scored(Elem::of(&member), score);
            }
            v.end();
        }
        HashZiplist | HashListpack => {
            v.begin();
            let blob = read_blob_bytes(cur, &mut scratch.a)?;
            let mut next = elements(blob, enc == HashListpack)?;
            while let Some(field) = next.next()? {
                let Some(value) = next.next()? else { return Err(odd(cur)) };
                v.field(Elem::of(&field), Elem::of(&value), None);
            }
            v.end();
        }
        ListQuicklist => {
            v.begin();
            let nodes = read_len(cur)?;
            for _ in 0..nodes {
                let blob = read_blob_bytes(cur, &mut scratch.a)?;
                visit_ziplist_items(blob, v)?;
            }
            v.end();
        }
        ListQuicklist2 => {
            v.begin();
            let nodes = read_len(cur)?;
            for _ in 0..nodes {
                match read_len(cur)? {
                    CONTAINER_PLAIN => {
                        let s = RdbStr::read(cur)?;
                        v.item(elem(s, &mut scratch.a)?);
                    }
                    CONTAINER_PACKED => {
                        let blob = read_blob_bytes(cur, &mut scratch.a)?;
                        visit_listpack_items(blob, v)?;
                    }
                    _ => return Err(odd(cur)),
                }
            }
            v.end();
        }
        _ => v.value(&decode(enc, cur)?),
    }
    Ok(())
}

/// A placeholder error for malformed data found while visiting (callers report [`decode`]'s).
#[cold]
fn odd(cur: &Cursor<'_>) -> crate::Error {
    cur.invalid("value", "a well-formed value", "malformed data")
}

/// A string as an element, decompressing LZF data into `buf`.
#[inline]
fn elem<'x>(s: RdbStr<'x>, buf: &'x mut Vec<u8>) -> Result<Elem<'x>> {
    Ok(match s {
        RdbStr::Raw(b) => Elem::Bytes(b),
        RdbStr::Int(i) => Elem::Int(i),
        RdbStr::Lzf { compressed, len, offset } => {
            super::lzf::decompress_into(compressed, len, offset, buf)?;
            Elem::Bytes(buf)
        }
    })
}

/// Reads a string holding a blob: borrowed from the file, or decompressed into `buf`.
#[inline]
fn read_blob_bytes<'a: 'x, 'x>(cur: &mut Cursor<'a>, buf: &'x mut Vec<u8>) -> Result<&'x [u8]> {
    match RdbStr::read(cur)? {
        RdbStr::Raw(blob) => Ok(blob),
        RdbStr::Int(_) => Err(odd(cur)),
        RdbStr::Lzf { compressed, len, offset } => {
            super::lzf::decompress_into(compressed, len, offset, buf)?;
            Ok(buf)
        }
    }
}

/// The elements of a listpack or a ziplist, one at a time.
enum Elements<'x> {
    Listpack(listpack::Listpack<'x>),
    Ziplist(ziplist::Ziplist<'x>),
}

impl<'x> Elements<'x> {
    #[inline]
    fn next(&mut self) -> Result<Option<Bytes<'x>>> {
        match self {
            Elements::Listpack(lp) => lp.next(),
            Elements::Ziplist(zl) => zl.next(),
        }
    }
}

fn elements(blob: &[u8], is_listpack: bool) -> Result<Elements<'_>> {
    Ok(if is_listpack {
        Elements::Listpack(listpack::Listpack::new(blob, 0)?)
    } else {
        Elements::Ziplist(ziplist::Ziplist::new(blob, 0)?)
    })
}

fn visit_listpack_items(blob: &[u8], v: &mut impl Visitor) -> Result<()> {
    let mut lp = listpack::Listpack::new(blob, 0)?;
    while let Some(e) = lp.next()? {
        v.item(Elem::of(&e));
    }
    Ok(())
}

fn visit_ziplist_items(blob: &[u8], v: &mut impl Visitor) -> Result<()> {
    let mut zl = ziplist::Ziplist::new(blob, 0)?;
    while let Some(e) = zl.next()? {
        v.item(Elem::of(&e));
    }
    Ok(())
}
