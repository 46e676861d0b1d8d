//! Hash commands: fields set, deleted and counted, and field expiry (Redis 7.4+, Valkey 9+).
//!
//! Servers log field expiry in absolute form: `HEXPIRE`/`HPEXPIRE`/`HEXPIREAT` become
//! `HPEXPIREAT`, `HGETEX` becomes `HPEXPIREAT`/`HPERSIST`/`HDEL`, `HGETDEL` becomes `HDEL`
//! (Redis) or stays (Valkey), `HSETEX` keeps its form with `PXAT`, times already past become
//! `HDEL`, and `HINCRBYFLOAT` becomes `HSET` (or, on Valkey, `HSETEX … PXAT` when the field has
//! an expiry, as does `HINCRBY`). While loading, servers set a past time rather than deleting.

use rustc_hash::FxHashMap;

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, int, is};
use super::{HashValue, Keyspace, SmallBytes, Val};
use crate::rdb::Kind;

/// Largest field expiry servers accept, Unix ms (`EB_EXPIRE_TIME_MAX`, 2^48 - 1).
const MAX_FIELD_EXPIRE_MS: i64 = (1 << 48) - 1;

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "HSET" | "HMSET" => hset,
        "HSETNX" => hsetnx,
        "HDEL" => hdel,
        "HINCRBY" => hincrby,
        "HINCRBYFLOAT" => |_, _| Err("HINCRBYFLOAT: servers log it as HSET with the result".into()),
        "HEXPIREAT" => |ks, c| hexpire_at(ks, c, 1000),
        "HPEXPIREAT" => |ks, c| hexpire_at(ks, c, 1),
        "HEXPIRE" | "HPEXPIRE" => |_, _| {
            Err("a relative field expiry: servers log it as HPEXPIREAT, and the time it was \
                 relative to is not in the log"
                .into())
        },
        "HPERSIST" => hpersist,
        "HSETEX" => hsetex,
        "HGETEX" => hgetex,
        "HGETDEL" => hgetdel,
        _ => return None,
    })
}

type Fields = FxHashMap<SmallBytes, HashValue>;

/// The hash at `key`, when there is one (a wrong type is an error).
fn get_hash<'k>(ks: &'k Keyspace, c: &Call<'_>, key: &[u8]) -> Result<Option<&'k Fields>, Reject> {
    match ks.get(c.db, key).map(|s| &s.val) {
        None => Ok(None),
        Some(Val::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(wrong_type()),
    }
}

/// The hash at `key` for writing, created empty when missing.
fn hash_or_insert<'k>(ks: &'k mut Keyspace, c: &Call<'_>, key: &[u8]) -> Result<&'k mut Fields, Reject> {
    match ks.or_insert(c, key, Kind::Hash, || Val::Hash(Box::default()))? {
        Val::Hash(h) => Ok(h),
        _ => Err(wrong_type()),
    }
}

/// The existing hash at `key` for writing.
fn hash_existing<'k>(
    ks: &'k mut Keyspace,
    c: &Call<'_>,
    key: &[u8],
) -> Result<Option<&'k mut Fields>, Reject> {
    match ks.existing(c, key, Kind::Hash)? {
        Some(Val::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(wrong_type()),
        None => Ok(None),
    }
}

/// Sets a field without expiry.
fn set_field(h: &mut Fields, field: &[u8], value: &[u8]) {
    h.insert(field.into(), HashValue::new(value.into(), None));
}

/// `HSET`/`HMSET key field value [field value …]`: overwritten fields lose their expiry.
fn hset(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    if c.args.len() < 4 || !c.args.len().is_multiple_of(2) {
        return Err("wrong number of arguments".into());
    }
    let h = hash_or_insert(ks, c, c.args[1])?;
    for pair in c.args[2..].chunks(2) {
        set_field(h, pair[0], pair[1]);
    }
    Ok(())
}

fn hsetnx(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (key, field, value) = (c.arg(1)?, c.arg(2)?, c.arg(3)?);
    if c.args.len() != 4 {
        return Err("wrong number of arguments".into());
    }
    if get_hash(ks, c, key)?.is_some_and(|h| h.contains_key(field)) {
        return Ok(());
    }
    set_field(hash_or_insert(ks, c, key)?, field, value);
    Ok(())
}

fn hdel(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(3)?;
    let key = c.args[1];
    delete_fields(ks, c, key, &c.args[2..])
}

/// Deletes `fields` from the hash at `key` (when there is one), and the key when it is left
/// empty.
fn delete_fields(ks: &mut Keyspace, c: &Call<'_>, key: &[u8], fields: &[&[u8]]) -> Result<(), Reject> {
    if let Some(h) = hash_existing(ks, c, key)? {
        for f in fields {
            h.remove(*f);
        }
        ks.drop_if_empty(c.db, key);
    }
    Ok(())
}

/// `HINCRBY key field n`: the field keeps its expiry.
fn hincrby(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (key, field) = (c.arg(1)?, c.arg(2)?);
    if c.args.len() != 4 {
        return Err("wrong number of arguments".into());
    }
    let by = int(c.args[3])?;
    let current = get_hash(ks, c, key)?.and_then(|h| h.get(field));
    let old = match current {
        None => 0,
        Some(v) => int(&v.value).map_err(|_| "hash value is not an integer")?,
    };
    let next = old.checked_add(by).ok_or("increment or decrement would overflow")?;
    let expire_ms = current.and_then(HashValue::expire_ms);
    let value = itoa::Buffer::new().format(next).as_bytes().into();
    hash_or_insert(ks, c, key)?.insert(field.into(), HashValue::new(value, expire_ms));
    Ok(())
}

/// An absolute field expiry in `unit_ms` (1 or 1000), as servers bound it.
fn field_time(arg: &[u8], unit_ms: i64) -> Result<i64, Reject> {
    let t = int(arg)?;
    if t < 0 {
        return Err("invalid expire time, must be >= 0".into());
    }
    t.checked_mul(unit_ms).filter(|ms| *ms <= MAX_FIELD_EXPIRE_MS).ok_or_else(|| "invalid expire time".into())
}

/// The fields after `FIELDS numfields` at `at`: the count must match what follows,
/// `per_field` arguments each.
fn fields_at<'a>(c: &'a Call<'_>, at: usize, per_field: usize) -> Result<&'a [&'a [u8]], Reject> {
    let bad = || "numfields should be greater than 0 and match the provided number of fields".to_string();
    if !c.args.get(at).is_some_and(|a| is(a, "FIELDS")) {
        return Err("Mandatory argument FIELDS is missing or not at the right position".into());
    }
    let n = int(c.arg(at + 1)?).map_err(|_| bad())?;
    let rest = &c.args[at + 2..];
    if n < 1
        || u64::try_from(n).ok() != u64::try_from(rest.len() / per_field).ok()
        || !rest.len().is_multiple_of(per_field)
    {
        return Err(bad());
    }
    Ok(rest)
}

/// `HEXPIREAT`/`HPEXPIREAT key time [NX|XX|GT|LT] FIELDS n field…`: sets the expiry of each
/// existing field that meets the condition.
fn hexpire_at(ks: &mut Keyspace, c: &Call<'_>, unit_ms: i64) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let when = field_time(c.arg(2)?, unit_ms)?;
    let cond = c.arg(3)?;
    let (cond, at) =
        if ["NX", "XX", "GT", "LT"].iter().any(|w| is(cond, w)) { (Some(cond), 4) } else { (None, 3) };
    let fields = fields_at(c, at, 1)?;
    let Some(h) = hash_existing(ks, c, key)? else { return Ok(()) };
    for f in fields {
        let Some(v) = h.get_mut(*f) else { continue };
        let apply = match (cond, v.expire_ms()) {
            (None, _) => true,
            (Some(w), current) if is(w, "NX") => current.is_none(),
            (Some(w), current) if is(w, "XX") => current.is_some(),
            (Some(w), current) if is(w, "GT") => current.is_some_and(|t| when > t),
            (Some(_), current) => current.is_none_or(|t| when < t),
        };
        if apply {
            v.set_expire_ms(Some(when));
        }
    }
    Ok(())
}

/// `HPERSIST key FIELDS n field…`.
fn hpersist(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let fields = fields_at(c, 2, 1)?;
    if let Some(h) = hash_existing(ks, c, key)? {
        for f in fields {
            if let Some(v) = h.get_mut(*f) {
                v.set_expire_ms(None);
            }
        }
    }
    Ok(())
}

/// `HSETEX key [NX|XX] [FNX|FXX] [EXAT s|PXAT ms|KEEPTTL] FIELDS n field value…` (`NX`/`XX`
/// on the key are Valkey's; servers log relative times as `PXAT`).
fn hsetex(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let (mut key_cond, mut field_cond, mut ttl): (Option<&str>, Option<&str>, Option<Option<i64>>) =
        (None, None, None);
    let mut i = 2;
    while i < c.args.len() && !is(c.args[i], "FIELDS") {
        let a = c.args[i];
        if is(a, "NX") || is(a, "XX") {
            if key_cond.replace(if is(a, "NX") { "NX" } else { "XX" }).is_some() {
                return Err("syntax error".into());
            }
        } else if is(a, "FNX") || is(a, "FXX") {
            if field_cond.replace(if is(a, "FNX") { "FNX" } else { "FXX" }).is_some() {
                return Err("Only one of FXX or FNX arguments can be specified".into());
            }
        } else if is(a, "KEEPTTL") || is(a, "EXAT") || is(a, "PXAT") {
            let t = if is(a, "KEEPTTL") {
                None
            } else {
                i += 1;
                Some(field_time(c.arg(i)?, if is(a, "EXAT") { 1000 } else { 1 })?)
            };
            if ttl.replace(t).is_some() {
                return Err("Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified".into());
            }
        } else if is(a, "EX") || is(a, "PX") {
            return Err("a relative field expiry: servers log HSETEX with PXAT".into());
        } else {
            return Err(format!("unknown argument: {}", super::args::show(a)));
        }
        i += 1;
    }
    let pairs = fields_at(c, i, 2)?;
    let existing = get_hash(ks, c, key)?;
    match (key_cond, existing) {
        (Some("NX"), Some(_)) | (Some("XX"), None) => return Ok(()),
        _ => {}
    }
    let has = |f: &[u8]| existing.is_some_and(|h| h.contains_key(f));
    let fails = match field_cond {
        Some("FNX") => pairs.chunks(2).any(|p| has(p[0])),
        Some(_) => pairs.chunks(2).any(|p| !has(p[0])),
        None => false,
    };
    if fails {
        return Ok(());
    }
    let h = hash_or_insert(ks, c, key)?;
    for p in pairs.chunks(2) {
        let expire_ms = match ttl {
            Some(Some(t)) => Some(t),
            Some(None) => h.get(p[0]).and_then(HashValue::expire_ms),
            None => None,
        };
        h.insert(p[0].into(), HashValue::new(p[1].into(), expire_ms));
    }
    Ok(())
}

/// `HGETEX key [EXAT s|PXAT ms|PERSIST] FIELDS n field…` (servers log it as `HPEXPIREAT`,
/// `HPERSIST` or `HDEL`, but accept it as written too).
fn hgetex(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let opt = c.arg(2)?;
    let (change, at): (Option<Option<i64>>, usize) = if is(opt, "PERSIST") {
        (Some(None), 3)
    } else if is(opt, "EXAT") || is(opt, "PXAT") {
        (Some(Some(field_time(c.arg(3)?, if is(opt, "EXAT") { 1000 } else { 1 })?)), 4)
    } else if is(opt, "EX") || is(opt, "PX") {
        return Err("a relative field expiry: servers log HGETEX as HPEXPIREAT".into());
    } else {
        (None, 2)
    };
    let fields = fields_at(c, at, 1)?;
    get_hash(ks, c, key)?;
    let Some(change) = change else { return Ok(()) };
    if let Some(h) = hash_existing(ks, c, key)? {
        for f in fields {
            if let Some(v) = h.get_mut(*f) {
                v.set_expire_ms(change);
            }
        }
    }
    Ok(())
}

/// `HGETDEL key FIELDS n field…`.
fn hgetdel(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let fields = fields_at(c, 2, 1)?;
    delete_fields(ks, c, key, fields)
}
