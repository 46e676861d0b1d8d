//! String commands: sets with their options (and conditions), `MSETEX`, counters, appends,
//! ranges and bits. Servers log the conditional deletes (`DELIFEQ`, `DELEX`) as the `DEL` they
//! performed.

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
        "MSETEX" => msetex,
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
        "DELIFEQ" | "DELEX" => {
            |_, _| Err("servers log this conditional delete as the DEL it performed".into())
        }
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

/// `SET key value [NX|XX|IFEQ v|IFNE v|IFDEQ d|IFDNE d] [GET] [EXAT s|PXAT ms|KEEPTTL]`
/// (relative `EX`/`PX` are refused: servers log them as `PXAT`). The conditions (Valkey 8.1+
/// `IFEQ`; Redis 8.4+ all four) set only over a string: `IFEQ`/`IFDEQ` one equal to `v` or
/// whose digest is `d`, `IFNE`/`IFDNE` a missing key or a string that differs.
fn set(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (key, value) = (c.arg(1)?, c.arg(2)?);
    let mut options = WriteOptions::default();
    let mut get = false;
    let mut condition: Option<Condition<'_>> = None;
    let mut i = 3;
    while let Some(&a) = c.args.get(i) {
        if let Some(taken) = options.take(a, c.args.get(i + 1).copied(), "set") {
            i += taken?;
            continue;
        }
        if is(a, "GET") {
            get = true;
        } else if let Some(test) = ValueTest::from_option(a) {
            // The same condition may be repeated (the last value counts), not mixed.
            if condition.is_some_and(|held| held.test != test) {
                return Err("syntax error".into());
            }
            i += 1;
            condition = Some(Condition { test, operand: c.arg(i)? });
        } else {
            return Err("syntax error".into());
        }
        i += 1;
    }
    let WriteOptions { nx, xx, keep_ttl, expire } = options;
    if options.conflict() || ((nx || xx) && condition.is_some()) {
        return Err("syntax error".into());
    }
    // Plain overwrites, the common case, need no look at the key first.
    let existing = if nx || xx || get || keep_ttl || condition.is_some() { ks.get(c.db, key) } else { None };
    if (get || condition.is_some()) && existing.is_some_and(|s| s.val.kind() != Kind::String) {
        return Err(wrong_type());
    }
    let blocked = match condition {
        Some(cond) => !cond.holds(get_str(ks, c, key)?)?,
        None => (nx && existing.is_some()) || (xx && existing.is_none()),
    };
    if blocked {
        return Ok(());
    }
    let ttl = if keep_ttl { existing.and_then(Slot::expire_ms) } else { expire };
    ks.put(c, key, Val::Str(value.into()), ttl);
    Ok(())
}

/// What a `SET` condition compares the current value with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueTest {
    Equal,
    NotEqual,
    DigestEqual,
    DigestNotEqual,
}

impl ValueTest {
    fn from_option(opt: &[u8]) -> Option<ValueTest> {
        [
            ("IFEQ", ValueTest::Equal),
            ("IFNE", ValueTest::NotEqual),
            ("IFDEQ", ValueTest::DigestEqual),
            ("IFDNE", ValueTest::DigestNotEqual),
        ]
        .into_iter()
        .find_map(|(word, test)| is(opt, word).then_some(test))
    }
}

/// A `SET` condition and its operand (a value or a digest).
#[derive(Clone, Copy)]
struct Condition<'c> {
    test: ValueTest,
    operand: &'c [u8],
}

impl Condition<'_> {
    /// Whether the condition lets `SET` write over `current` (a missing key: `None`). A digest
    /// must be 16 characters, checked only when there is a value to compare.
    fn holds(&self, current: Option<&[u8]>) -> Result<bool, Reject> {
        let Some(current) = current else {
            return Ok(matches!(self.test, ValueTest::NotEqual | ValueTest::DigestNotEqual));
        };
        let digest_matches = || {
            if self.operand.len() != 16 {
                return Err("must be exactly 16 hexadecimal characters".to_string());
            }
            Ok(value_digest(current).as_bytes().eq_ignore_ascii_case(self.operand))
        };
        Ok(match self.test {
            ValueTest::Equal => current == self.operand,
            ValueTest::NotEqual => current != self.operand,
            ValueTest::DigestEqual => digest_matches()?,
            ValueTest::DigestNotEqual => !digest_matches()?,
        })
    }
}

/// A string value's digest as Redis 8.4+ shows it (`DIGEST key`): XXH3-64, 16 hex digits.
fn value_digest(value: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(value))
}

/// The options `SET` and `MSETEX` share.
#[derive(Clone, Copy, Default)]
struct WriteOptions {
    nx: bool,
    xx: bool,
    keep_ttl: bool,
    /// An absolute expiry, Unix ms.
    expire: Option<i64>,
}

impl WriteOptions {
    /// Takes `opt` (and `value` after it, for an expiry) when it is `NX`, `XX`, `KEEPTTL` or an
    /// expiry of `command`; returns how many arguments it used, `None` for another option.
    fn take(&mut self, opt: &[u8], value: Option<&[u8]>, command: &str) -> Option<Result<usize, Reject>> {
        if is(opt, "NX") {
            self.nx = true;
        } else if is(opt, "XX") {
            self.xx = true;
        } else if is(opt, "KEEPTTL") {
            self.keep_ttl = true;
        } else {
            let at = expire_at(opt, value, command)?;
            return Some(at.map(|at| {
                self.expire = Some(at);
                2
            }));
        }
        Some(Ok(1))
    }

    /// Whether options exclude each other (`NX` with `XX`, `KEEPTTL` with an expiry).
    fn conflict(&self) -> bool {
        (self.nx && self.xx) || (self.keep_ttl && self.expire.is_some())
    }
}

/// The absolute expiry, Unix ms, of an expiry option `opt` of `command` with its `value`
/// (`EXAT s`, `PXAT ms`); relative ones (`EX`, `PX`) are refused: servers log them as `PXAT`.
/// `None` when `opt` is no expiry option.
fn expire_at(opt: &[u8], value: Option<&[u8]>, command: &str) -> Option<Result<i64, Reject>> {
    let unit = match opt {
        o if is(o, "EXAT") => 1000,
        o if is(o, "PXAT") => 1,
        o if is(o, "EX") || is(o, "PX") => {
            return Some(Err(format!("a relative expiry: servers log {command} with PXAT")));
        }
        _ => return None,
    };
    let invalid = || format!("invalid expire time in '{command}' command");
    Some(value.ok_or("syntax error".to_string()).and_then(|v| {
        let n = int(v)?;
        if n <= 0 {
            return Err(invalid());
        }
        n.checked_mul(unit).ok_or_else(invalid)
    }))
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

/// `MSETEX numkeys key value… [NX|XX] [EXAT s|PXAT ms|KEEPTTL]` (Valkey 9.1, Redis 8.4):
/// with `NX` nothing is set if any key exists, with `XX` unless all do; values of any type are
/// replaced. Relative expiries are refused (servers log them as `PXAT`).
fn msetex(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(4)?;
    let n = int(c.args[1])?;
    let n = usize::try_from(n).ok().filter(|n| *n >= 1).ok_or("invalid numkeys value or out of range")?;
    let end = n.checked_mul(2).and_then(|m| m.checked_add(2)).filter(|end| *end <= c.args.len());
    let end = end.ok_or("syntax error")?;
    let pairs = &c.args[2..end];
    let mut options = WriteOptions::default();
    let mut i = end;
    while let Some(&a) = c.args.get(i) {
        i += options.take(a, c.args.get(i + 1).copied(), "msetex").ok_or("syntax error")??;
    }
    if options.conflict() {
        return Err("syntax error".into());
    }
    let WriteOptions { nx, xx, keep_ttl, expire } = options;
    let exists = |k: &&[u8]| ks.get(c.db, k).is_some();
    if (nx && pairs.iter().step_by(2).any(exists)) || (xx && !pairs.iter().step_by(2).all(exists)) {
        return Ok(());
    }
    for p in pairs.chunks(2) {
        let ttl = if keep_ttl { ks.get(c.db, p[0]).and_then(Slot::expire_ms) } else { expire };
        ks.put(c, p[0], Val::Str(p[1].into()), ttl);
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
    let Val::Str(s) = ks.or_insert(c, key, Kind::String, || Val::Str(SmallBytes::new()))? else {
        return Err(wrong_type());
    };
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
    let Val::Str(s) = ks.or_insert(c, key, Kind::String, || Val::Str(SmallBytes::new()))? else {
        return Err(wrong_type());
    };
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
    let Val::Str(s) = ks.or_insert(c, key, Kind::String, || Val::Str(SmallBytes::new()))? else {
        return Err(wrong_type());
    };
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
    let Val::Str(s) = ks.or_insert(c, key, Kind::String, || Val::Str(SmallBytes::new()))? else {
        return Err(wrong_type());
    };
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

/// How `BITOP` combines its sources.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
    /// Bits of the first source in none of the others (Redis 8.2).
    Diff,
    /// Bits in some other source but not in the first (Redis 8.2).
    Diff1,
    /// Bits of the first source also in some other (Redis 8.2).
    AndOr,
    /// Bits in exactly one source (Redis 8.2).
    One,
}

impl BitOp {
    fn parse(arg: &[u8]) -> Result<BitOp, Reject> {
        let ops = [
            ("AND", BitOp::And),
            ("OR", BitOp::Or),
            ("XOR", BitOp::Xor),
            ("NOT", BitOp::Not),
            ("DIFF", BitOp::Diff),
            ("DIFF1", BitOp::Diff1),
            ("ANDOR", BitOp::AndOr),
            ("ONE", BitOp::One),
        ];
        ops.iter().find(|(name, _)| is(arg, name)).map(|(_, op)| *op).ok_or_else(|| "syntax error".into())
    }

    /// The result byte from the first source's byte and the other sources' bytes.
    fn combine(self, first: u8, others: impl Iterator<Item = u8>) -> u8 {
        match self {
            BitOp::And => others.fold(first, |a, b| a & b),
            BitOp::Or => others.fold(first, |a, b| a | b),
            BitOp::Xor => others.fold(first, |a, b| a ^ b),
            BitOp::Not => !first,
            BitOp::Diff => first & !others.fold(0, |a, b| a | b),
            BitOp::Diff1 => !first & others.fold(0, |a, b| a | b),
            BitOp::AndOr => first & others.fold(0, |a, b| a | b),
            BitOp::One => {
                // Bits seen an odd number of times, less those seen more than once.
                let (odd, many) = others.fold((first, 0), |(odd, many), b| (odd ^ b, many | (odd & b)));
                odd & !many
            }
        }
    }
}

/// `BITOP op dest key…`: the result is as long as the longest source (missing keys count as
/// empty, shorter ones are padded with zeros); an empty result deletes `dest`. `NOT` takes one
/// source, `DIFF`, `DIFF1` and `ANDOR` two or more.
fn bitop(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(4)?;
    let (op, dest) = (BitOp::parse(c.args[1])?, c.args[2]);
    let sources: Vec<&[u8]> = c.args[3..]
        .iter()
        .map(|k| get_str(ks, c, k).map(Option::unwrap_or_default))
        .collect::<Result<_, _>>()?;
    if op == BitOp::Not && sources.len() != 1 {
        return Err("BITOP NOT must be called with a single source key".into());
    }
    if matches!(op, BitOp::Diff | BitOp::Diff1 | BitOp::AndOr) && sources.len() < 2 {
        return Err("BITOP DIFF, DIFF1 and ANDOR must be called with at least two source keys".into());
    }
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let byte = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let result: Vec<u8> =
        (0..len).map(|i| op.combine(byte(sources[0], i), sources[1..].iter().map(|s| byte(s, i)))).collect();
    if result.is_empty() {
        ks.remove(c.db, dest);
    } else {
        ks.put(c, dest, Val::Str(result.into()), None);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_operations_combine_as_defined() {
        let (a, rest) = (0b1111_0000, [0b1100_1100, 0b1010_1010]);
        let run = |op| BitOp::combine(op, a, rest.into_iter());
        assert_eq!(run(BitOp::And), 0b1000_0000);
        assert_eq!(run(BitOp::Or), 0b1111_1110);
        assert_eq!(run(BitOp::Xor), 0b1001_0110);
        assert_eq!(BitOp::Not.combine(a, std::iter::empty()), 0b0000_1111);
        assert_eq!(run(BitOp::Diff), 0b0001_0000);
        assert_eq!(run(BitOp::Diff1), 0b0000_1110);
        assert_eq!(run(BitOp::AndOr), 0b1110_0000);
        assert_eq!(run(BitOp::One), 0b0001_0110);
        assert_eq!(BitOp::One.combine(0b1010, [0b1010, 0b1010].into_iter()), 0);
    }
}
