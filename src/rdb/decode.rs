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
    use Encoding::*;
    match enc {
        String | HashZipmap | ListZiplist | SetIntset | ZSetZiplist | HashZiplist | HashListpack
        | ZSetListpack | SetListpack | HashListpackExPreGa => RdbStr::skip(cur),
        List | Set | ListQuicklist => skip_strings(cur, 1),
        Hash => skip_strings(cur, 2),
        ZSet => repeat(cur, |cur| {
            RdbStr::skip(cur)?;
            read_ascii_score(cur).map(drop)
        }),
        ZSet2 => repeat(cur, |cur| {
            RdbStr::skip(cur)?;
            cur.skip(8, "binary score")
        }),
        ListQuicklist2 => repeat(cur, |cur| {
            read_len(cur)?;
            RdbStr::skip(cur)
        }),
        HashListpackEx => {
            cur.skip(8, "hash minimum field expiry")?;
            RdbStr::skip(cur)
        }
        HashMetadata => {
            cur.skip(8, "hash minimum field expiry")?;
            skip_ttl_fields(cur)
        }
        HashMetadataPreGa => skip_ttl_fields(cur),
        ValkeyHash2 => repeat(cur, |cur| {
            skip_strings_n(cur, 2)?;
            cur.skip(8, "hash field expiry")
        }),
        Module2 => ModuleValue::read(cur).map(drop),
        ModulePreGa => Err(module_pre_ga(cur)),
        StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 | StreamListpacks5 => {
            decode(enc, cur).map(drop)
        }
    }
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

fn skip_strings_n(cur: &mut Cursor<'_>, n: u64) -> Result<()> {
    (0..n).try_for_each(|_| RdbStr::skip(cur))
}

fn skip_strings(cur: &mut Cursor<'_>, per_item: u64) -> Result<()> {
    repeat(cur, |cur| skip_strings_n(cur, per_item))
}

fn skip_ttl_fields(cur: &mut Cursor<'_>) -> Result<()> {
    repeat(cur, |cur| {
        read_len(cur)?;
        skip_strings_n(cur, 2)
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
