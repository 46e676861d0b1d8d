//! String commands: sets with their options, counters, appends, ranges and bits.

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, int, is, uint};
use super::{Keyspace, Slot, SmallBytes, Val};
use crate::rdb::Kind;

/// Largest string a server builds (`proto-max-bulk-len`, 512 MB).
const MAX_STRING: u64 = 512 << 20;

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "SET" => set,
        "SETNX" => setnx,
        "MSET" => |ks, c| mset(ks, c, false),
        "MSETNX" => |ks, c| mset(ks, c, true),
        "GETSET" => getset,
        "GETDEL" => |ks, c| {
            ks.remove(c.db, c.arg(1)?);
            Ok(())
        },
        "GETEX" => getex,
        "APPEND" => append,
        "SETRANGE" => setrange,
        "INCR" => |ks, c| incr_by(ks, c, Some(1)),
        "DECR" => |ks, c| incr_by(ks, c, Some(-1)),
        "INCRBY" => |ks, c| incr_by(ks, c, None),
        "DECRBY" => decr_by,
        "INCRBYFLOAT" => |_, _| Err("INCRBYFLOAT: servers log it as SET … KEEPTTL with the result".into()),
        "SETBIT" => setbit,
        "BITOP" => bitop,
        _ => return None,
    })
}

/// The string at `key`, when there is one (a wrong type is an error).
fn get_str<'k>(ks: &'k Keyspace, c: &Call<'_>, key: &[u8]) -> Result<Option<&'k [u8]>, Reject> {
    match ks.get(c.db, key).map(|s| &s.val) {
        None => Ok(None),
        Some(Val::Str(s)) => Ok(Some(s.as_slice())),
        Some(_) => Err(wrong_type()),
    }
}

/// `SET key value [NX|XX] [GET] [EXAT s|PXAT ms|KEEPTTL]` (relative `EX`/`PX` are refused:
/// servers log them as `PXAT`).
fn set(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (key, value) = (c.arg(1)?, c.arg(2)?);
    let (mut nx, mut xx, mut keep_ttl, mut expire, mut get) = (false, false, false, None, false);
    let mut i = 3;
    while i < c.args.len() {
        let a = c.args[i];
        if is(a, "NX") {
            nx = true;
        } else if is(a, "XX") {
            xx = true;
        } else if is(a, "GET") {
            get = true;
        } else if is(a, "KEEPTTL") {
            keep_ttl = true;
        } else if is(a, "EXAT") || is(a, "PXAT") {
            i += 1;
            let n = int(c.arg(i)?)?;
            let unit = if is(a, "EXAT") { 1000 } else { 1 };
            if n <= 0 {
                return Err("invalid expire time in 'set' command".into());
            }
            expire = Some(n.checked_mul(unit).ok_or("invalid expire time in 'set' command")?);
        } else if is(a, "EX") || is(a, "PX") {
            return Err("a relative expiry: servers log SET with PXAT".into());
        } else {
            return Err("syntax error".into());
        }
        i += 1;
    }
    if (nx && xx) || (keep_ttl && expire.is_some()) {
        return Err("syntax error".into());
    }
    // Plain overwrites, the common case, need no look at the key first.
    let existing = if nx || xx || get || keep_ttl { ks.get(c.db, key) } else { None };
    if get && existing.is_some_and(|s| s.val.kind() != Kind::String) {
        return Err(wrong_type());
    }
    if (nx && existing.is_some()) || (xx && existing.is_none()) {
        return Ok(());
    }
    let ttl = if keep_ttl { existing.and_then(Slot::expire_ms) } else { expire };
    ks.put(c, key, Val::Str(value.into()), ttl);
    Ok(())
}

fn setnx(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (key, value) = (c.arg(1)?, c.arg(2)?);
    if ks.get(c.db, key).is_none() {
        ks.put(c, key, Val::Str(value.into()), None);
    }
    Ok(())
}

fn mset(ks: &mut Keyspace, c: &Call<'_>, nx: bool) -> Result<(), Reject> {
    if c.args.len() < 3 || c.args.len().is_multiple_of(2) {
        return Err("wrong number of arguments".into());
    }
    let pairs = c.args[1..].chunks(2);
    if nx && pairs.clone().any(|p| ks.get(c.db, p[0]).is_some()) {
        return Ok(());
    }
    for p in pairs {
        ks.put(c, p[0], Val::Str(p[1].into()), None);
    }
    Ok(())
}

fn getset(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (key, value) = (c.arg(1)?, c.arg(2)?);
    get_str(ks, c, key)?;
    ks.put(c, key, Val::Str(value.into()), None);
    Ok(())
}

/// `GETEX key [EXAT s|PXAT ms|PERSIST]` (servers log it as `PEXPIREAT` or `PERSIST`, but
/// accept it as written too).
fn getex(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    get_str(ks, c, key)?;
    let Some(opt) = c.args.get(2) else { return Ok(()) };
    let expire = if is(opt, "PERSIST") {
        None
    } else if is(opt, "EXAT") || is(opt, "PXAT") {
        let unit = if is(opt, "EXAT") { 1000 } else { 1 };
        Some(int(c.arg(3)?)?.checked_mul(unit).ok_or("invalid expire time")?)
    } else {
        return Err("a relative expiry: servers log GETEX as PEXPIREAT".into());
    };
    if let Some(slot) = ks.dbs.get_mut(&c.db).and_then(|db| db.get_mut(key)) {
        slot.set_expire_ms(expire);
        slot.written = c.stamp;
    }
    Ok(())
}

fn append(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (key, tail) = (c.arg(1)?, c.arg(2)?);
    let len = get_str(ks, c, key)?.map_or(0, <[u8]>::len);
    if (len + tail.len()) as u64 > MAX_STRING {
        return Err("string exceeds maximum allowed size".into());
    }
    let Val::Str(s) = ks.or_insert(c, key, Val::Str(SmallBytes::new()))? else { return Err(wrong_type()) };
    s.make_mut().extend_from_slice(tail);
    Ok(())
}

fn setrange(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let offset = uint(c.arg(2)?, MAX_STRING).map_err(|_| "offset is out of range")?;
    let value = c.arg(3)?;
    get_str(ks, c, key)?;
    if value.is_empty() {
        return Ok(());
    }
    if offset + value.len() as u64 > MAX_STRING {
        return Err("string exceeds maximum allowed size".into());
    }
    let Val::Str(s) = ks.or_insert(c, key, Val::Str(SmallBytes::new()))? else { return Err(wrong_type()) };
    let s = s.make_mut();
    let end = offset as usize + value.len();
    if s.len() < end {
        s.resize(end, 0);
    }
    s[offset as usize..end].copy_from_slice(value);
    Ok(())
}

fn decr_by(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let by = int(c.arg(2)?)?;
    let by = by.checked_neg().ok_or("decrement would overflow")?;
    apply_increment(ks, c, by)
}

fn incr_by(ks: &mut Keyspace, c: &Call<'_>, by: Option<i64>) -> Result<(), Reject> {
    let by = match by {
        Some(b) => b,
        None => int(c.arg(2)?)?,
    };
    apply_increment(ks, c, by)
}

/// Adds `by` to the integer at the key (0 when missing), keeping its expiry.
fn apply_increment(ks: &mut Keyspace, c: &Call<'_>, by: i64) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let current = match get_str(ks, c, key)? {
        None => 0,
        Some(s) => int(s).map_err(|_| "value is not an integer or out of range")?,
    };
    let next = current.checked_add(by).ok_or("increment or decrement would overflow")?;
    let Val::Str(s) = ks.or_insert(c, key, Val::Str(SmallBytes::new()))? else { return Err(wrong_type()) };
    *s = SmallBytes::from(itoa::Buffer::new().format(next).as_bytes());
    Ok(())
}

/// `SETBIT key offset 0|1`: bit 0 is the most significant bit of the first byte.
fn setbit(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let offset =
        uint(c.arg(2)?, MAX_STRING * 8 - 1).map_err(|_| "bit offset is not an integer or out of range")?;
    let bit = match c.arg(3)? {
        b"0" => false,
        b"1" => true,
        _ => return Err("bit is not an integer or out of range".into()),
    };
    get_str(ks, c, key)?;
    let Val::Str(s) = ks.or_insert(c, key, Val::Str(SmallBytes::new()))? else { return Err(wrong_type()) };
    let s = s.make_mut();
    let byte = (offset / 8) as usize;
    if s.len() <= byte {
        s.resize(byte + 1, 0);
    }
    let mask = 0x80u8 >> (offset % 8);
    if bit {
        s[byte] |= mask;
    } else {
        s[byte] &= !mask;
    }
    Ok(())
}

/// `BITOP AND|OR|XOR|NOT dest key…`: the result is as long as the longest source (missing
/// keys count as empty, shorter ones are padded with zeros); an empty result deletes `dest`.
fn bitop(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(4)?;
    let (op, dest) = (c.args[1], c.args[2]);
    let sources: Vec<&[u8]> = c.args[3..]
        .iter()
        .map(|k| get_str(ks, c, k).map(Option::unwrap_or_default))
        .collect::<Result<_, _>>()?;
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let byte = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let result: Vec<u8> = if is(op, "NOT") {
        if sources.len() != 1 {
            return Err("BITOP NOT must be called with a single source key".into());
        }
        sources[0].iter().map(|b| !b).collect()
    } else {
        let fold: fn(u8, u8) -> u8 = match op {
            o if is(o, "AND") => |a, b| a & b,
            o if is(o, "OR") => |a, b| a | b,
            o if is(o, "XOR") => |a, b| a ^ b,
            _ => return Err("syntax error: BITOP takes AND, OR, XOR or NOT".into()),
        };
        (0..len)
            .map(|i| sources[1..].iter().fold(byte(sources[0], i), |acc, s| fold(acc, byte(s, i))))
            .collect()
    };
    if result.is_empty() {
        ks.remove(c.db, dest);
    } else {
        ks.put(c, dest, Val::Str(result.into()), None);
    }
    Ok(())
}
