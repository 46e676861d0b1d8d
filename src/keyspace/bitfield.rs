//! `BITFIELD`: integers of 1 to 64 bits at any bit offset of a string, read, set and
//! incremented with the servers' overflow handling.
//!
//! Servers log `BITFIELD` verbatim, and only when one of its writes changed the string (or the
//! string was created or grew); `BITFIELD_RO` only reads and is never logged. Bit 0 is the most
//! significant bit of the first byte. A `BITFIELD` with any `SET` or `INCRBY` first grows the
//! string with zero bytes to hold the farthest field written, even when an `OVERFLOW FAIL`
//! keeps every write from happening (servers then keep the grown string but do not log the
//! command: the log cannot show that growth).

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, int};
use super::{Keyspace, SmallBytes, Val};
use crate::rdb::Kind;

/// Largest string a server builds (`proto-max-bulk-len`, 512 MB): bit offsets beyond are
/// refused.
const MAX_STRING: u64 = 512 << 20;

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "BITFIELD" => bitfield,
        "BITFIELD_RO" => |_, _| Err("BITFIELD_RO only reads: servers never log it".into()),
        _ => return None,
    })
}

/// What a write does when the result does not fit the field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// Keep the low bits (two's complement for signed fields).
    Wrap,
    /// Clamp to the field's minimum or maximum.
    Sat,
    /// Leave the field as it was.
    Fail,
}

/// One subcommand after parsing.
#[derive(Clone, Copy)]
enum Op {
    /// `GET`: no effect on the keyspace.
    Get,
    /// `SET type offset value`.
    Set(Field, i64, Overflow),
    /// `INCRBY type offset increment`.
    IncrBy(Field, i64, Overflow),
}

/// A field: its bit offset, width and signedness.
#[derive(Clone, Copy)]
struct Field {
    offset: u64,
    bits: u32,
    signed: bool,
}

/// The argument up to its first NUL byte, as C string functions see it.
fn c_str(arg: &[u8]) -> &[u8] {
    arg.split(|b| *b == 0).next().unwrap_or(arg)
}

/// `c_str(arg)` equals `word` ignoring ASCII case (`strcasecmp`).
fn is_c(arg: &[u8], word: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(word.as_bytes())
}

/// A type `iN` (N 1..=64) or `uN` (N 1..=63).
fn field_type(arg: &[u8]) -> Result<(bool, u32), Reject> {
    let err =
        || "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err().into()),
    };
    let bits = int(c_str(&arg[1..])).map_err(|_| err())?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(err().into());
    }
    Ok((signed, bits as u32))
}

/// A bit offset, plain or `#N` (N fields of `bits` bits; the product wraps as in C).
fn bit_offset(arg: &[u8], bits: u32) -> Result<u64, Reject> {
    let err = || "bit offset is not an integer or out of range";
    let hash = arg.first() == Some(&b'#');
    let n = int(&arg[usize::from(hash)..]).map_err(|_| err())?;
    let offset = if hash { n.wrapping_mul(i64::from(bits)) } else { n };
    let offset = u64::try_from(offset).map_err(|_| err())?;
    if offset >> 3 >= MAX_STRING {
        return Err(err().into());
    }
    Ok(offset)
}

/// `BITFIELD key [GET type offset | SET type offset value | INCRBY type offset increment |
/// OVERFLOW WRAP|SAT|FAIL]…`: every subcommand is checked before any runs.
fn bitfield(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let mut overflow = Overflow::Wrap;
    let mut ops = Vec::new();
    let mut highest: Option<u64> = None;
    let mut j = 2;
    while j < c.args.len() {
        let (sub, remaining) = (c.args[j], c.args.len() - j - 1);
        if is_c(sub, "OVERFLOW") && remaining >= 1 {
            let mode = c.args[j + 1];
            overflow = if is_c(mode, "WRAP") {
                Overflow::Wrap
            } else if is_c(mode, "SAT") {
                Overflow::Sat
            } else if is_c(mode, "FAIL") {
                Overflow::Fail
            } else {
                return Err("Invalid OVERFLOW type specified".into());
            };
            j += 2;
            continue;
        }
        let get = is_c(sub, "GET") && remaining >= 2;
        let write = (is_c(sub, "SET") || is_c(sub, "INCRBY")) && remaining >= 3;
        if !get && !write {
            return Err("syntax error".into());
        }
        let (signed, bits) = field_type(c.args[j + 1])?;
        let offset = bit_offset(c.args[j + 2], bits)?;
        let field = Field { offset, bits, signed };
        if get {
            ops.push(Op::Get);
            j += 3;
            continue;
        }
        let last = offset + u64::from(bits) - 1;
        highest = Some(highest.map_or(last, |h| h.max(last)));
        let n = int(c.args[j + 3]).map_err(|_| "value is not an integer or out of range")?;
        ops.push(if is_c(sub, "SET") { Op::Set(field, n, overflow) } else { Op::IncrBy(field, n, overflow) });
        j += 4;
    }
    let existing = ks.get(c.db, key).map(|s| s.val.kind());
    if existing.is_some_and(|k| k != Kind::String) {
        return Err(wrong_type());
    }
    let Some(highest) = highest else { return Ok(()) };
    let Val::Str(s) = ks.or_insert(c, key, Kind::String, || Val::Str(SmallBytes::new()))? else {
        return Err(wrong_type());
    };
    let s = s.make_mut();
    let len = (highest >> 3) as usize + 1;
    if s.len() < len {
        s.resize(len, 0);
    }
    for op in ops {
        match op {
            Op::Get => {}
            Op::Set(f, value, mode) => {
                if let Some(v) = fit(f, value, 0, mode) {
                    write_bits(s, f, v);
                }
            }
            Op::IncrBy(f, by, mode) => {
                let old = read_bits(s, f);
                if let Some(v) = fit(f, old, by, mode) {
                    write_bits(s, f, v);
                }
            }
        }
    }
    Ok(())
}

/// The field's bits as stored (bytes past the end read as zero), sign-extended for a signed
/// field: an `i64` for signed fields, the unsigned value reinterpreted otherwise.
fn read_bits(s: &[u8], f: Field) -> i64 {
    let mut v: u64 = 0;
    for i in 0..u64::from(f.bits) {
        let at = f.offset + i;
        let byte = s.get((at >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | u64::from((byte >> (7 - (at & 7))) & 1);
    }
    if f.signed && f.bits < 64 && (v >> (f.bits - 1)) & 1 == 1 {
        v |= u64::MAX << f.bits;
    }
    v as i64
}

/// Stores the low `f.bits` bits of `v` in the field (the string already holds it).
fn write_bits(s: &mut [u8], f: Field, v: i64) {
    let v = v as u64;
    for i in 0..u64::from(f.bits) {
        let at = f.offset + i;
        let bit = (v >> (u64::from(f.bits) - 1 - i)) & 1;
        let mask = 0x80u8 >> (at & 7);
        let byte = &mut s[(at >> 3) as usize];
        *byte = if bit == 1 { *byte | mask } else { *byte & !mask };
    }
}

/// The value a write stores for `value + incr` (a `SET` passes its value and 0), or `None`
/// when it overflows under `FAIL`: the servers' range checks, quirks included (a signed `SET`
/// of a value far below the minimum counts as an overflow upwards, so `SAT` stores the maximum).
fn fit(f: Field, value: i64, incr: i64, mode: Overflow) -> Option<i64> {
    let bits = f.bits;
    let overflows = if f.signed {
        let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
        let min = -max - 1;
        let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
        let min_incr = min.wrapping_sub(value);
        if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
            Some(max)
        } else if value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr)
        {
            Some(min)
        } else {
            None
        }
    } else {
        let (uvalue, max) = (value as u64, (1u64 << bits) - 1);
        let max_incr = max.wrapping_sub(uvalue) as i64;
        let min_incr = (uvalue as i64).wrapping_neg();
        if uvalue > max || (incr > 0 && incr > max_incr) {
            Some(max as i64)
        } else if incr < 0 && incr < min_incr {
            Some(0)
        } else {
            None
        }
    };
    let sum = (value as u64).wrapping_add(incr as u64);
    match (overflows, mode) {
        (None, _) => Some(sum as i64),
        (Some(_), Overflow::Fail) => None,
        (Some(limit), Overflow::Sat) => Some(limit),
        // The low bits: writing them stores the wrapped value, signed or not.
        (Some(_), Overflow::Wrap) => Some(sum as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(signed: bool, bits: u32) -> Field {
        Field { offset: 0, bits, signed }
    }

    #[test]
    fn overflow_handling_follows_the_servers() {
        let (i8, u8) = (field(true, 8), field(false, 8));
        assert_eq!(fit(i8, 127, 1, Overflow::Wrap).map(|v| v as i8), Some(-128));
        assert_eq!(fit(i8, 127, 1, Overflow::Sat), Some(127));
        assert_eq!(fit(i8, 127, 1, Overflow::Fail), None);
        assert_eq!(fit(i8, -128, -1, Overflow::Sat), Some(-128));
        assert_eq!(fit(u8, 255, 1, Overflow::Wrap).map(|v| v as u8), Some(0));
        assert_eq!(fit(u8, 0, -1, Overflow::Sat), Some(0));
        assert_eq!(fit(u8, -1, 0, Overflow::Sat), Some(255));
        // A SET far below an i8's minimum saturates to the maximum, as on the servers.
        assert_eq!(fit(i8, i64::MIN, 0, Overflow::Sat), Some(127));
        assert_eq!(fit(i8, -200, 0, Overflow::Sat), Some(-128));
        let i64f = field(true, 64);
        assert_eq!(fit(i64f, i64::MAX, 1, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(fit(i64f, i64::MIN, -1, Overflow::Sat), Some(i64::MIN));
    }

    #[test]
    fn bits_are_most_significant_first() {
        let mut s = vec![0u8; 2];
        let f = Field { offset: 4, bits: 8, signed: true };
        write_bits(&mut s, f, -1);
        assert_eq!(s, [0x0f, 0xf0]);
        assert_eq!(read_bits(&s, f), -1);
        assert_eq!(read_bits(&s, Field { offset: 4, bits: 8, signed: false }), 255);
        assert_eq!(read_bits(&s, Field { offset: 12, bits: 8, signed: false }), 0);
    }
}
