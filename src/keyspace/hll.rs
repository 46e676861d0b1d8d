//! HyperLogLog commands: `PFADD`, `PFMERGE`, the cache write of a logged `PFCOUNT`, and the
//! encoding changes of `PFDEBUG`, on the servers' exact string layout.
//!
//! The value is a string: a 16-byte header (`HYLL`, the encoding byte — 0 dense, 1 sparse —,
//! three unused bytes, then the cached cardinality as 8 little-endian bytes whose top bit
//! marks it stale) followed by 16384 six-bit registers. Dense packs them into 12288 bytes,
//! least significant bits first. Sparse writes runs: `00xxxxxx` is 1–64 zero registers,
//! `01xxxxxx yyyyyyyy` is 1–16384 zero registers, `1vvvvvxx` is 1–4 registers of value 1–32.
//! A sparse string is promoted to dense when a register needs more than 32 or when it would
//! grow past `hll-sparse-max-bytes` (3000, the default; the log does not carry the setting).
//!
//! A single-key `PFCOUNT` that finds the cache stale stores the estimate in it, and servers
//! log the command for that; it is applied here with the same estimator in the same
//! floating-point steps.

use super::apply::{Call, Handler, wrong_type};
use super::args::{Reject, is};
use super::{Keyspace, SmallBytes, Val};
use crate::rdb::Kind;

/// Registers: the low 14 bits of an element's hash pick one.
const REGISTERS: usize = 1 << 14;
/// Bits of the hash left after the register index.
const Q: u32 = 64 - 14;
/// Header bytes.
const HEADER: usize = 16;
/// Length of a dense string.
const DENSE_LEN: usize = HEADER + REGISTERS * 6 / 8;
/// Encoding byte values.
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// Largest value a sparse `VAL` run holds.
const SPARSE_VAL_MAX: u8 = 32;
/// Longest `VAL` and `ZERO` runs.
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
/// `hll-sparse-max-bytes` at its default.
const SPARSE_MAX_BYTES: usize = 3000;

/// The error servers give for a string that is not a HyperLogLog, or a corrupt one.
fn invalid() -> Reject {
    "WRONGTYPE Key is not a valid HyperLogLog string value.".into()
}

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "PFADD" => pfadd,
        "PFMERGE" => pfmerge,
        "PFCOUNT" => pfcount,
        "PFDEBUG" => pfdebug,
        _ => return None,
    })
}

/// MurmurHash2, 64-bit, reading 8-byte words little-endian.
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> 47;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= u64::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 47;
    h = h.wrapping_mul(M);
    h ^ (h >> 47)
}

/// The register an element updates and the value it offers.
fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> 14) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty sparse HyperLogLog: one run of 16384 zero registers.
fn empty_sparse() -> Vec<u8> {
    let mut s = b"HYLL".to_vec();
    s.extend_from_slice(&[SPARSE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    s.extend_from_slice(&xzero(REGISTERS));
    s
}

fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [(l >> 8) as u8 | 0x40, l as u8]
}

fn zero(len: usize) -> u8 {
    (len - 1) as u8
}

fn val(value: u8, len: usize) -> u8 {
    ((value - 1) << 2) | (len - 1) as u8 | 0x80
}

/// A sparse opcode's kind.
#[derive(Clone, Copy, PartialEq)]
enum Op {
    Zero,
    XZero,
    Val,
}

fn op(b: u8) -> Op {
    match b & 0xc0 {
        0 => Op::Zero,
        0x40 => Op::XZero,
        _ => Op::Val,
    }
}

/// The opcode at `p`: kind, registers covered, bytes. A two-byte opcode cut short by the end
/// reads a zero byte (the terminator the server's strings carry).
fn opcode(s: &[u8], p: usize) -> (Op, usize, usize) {
    let b = s[p];
    match op(b) {
        Op::Zero => (Op::Zero, usize::from(b & 0x3f) + 1, 1),
        Op::XZero => {
            let low = s.get(p + 1).copied().unwrap_or(0);
            (Op::XZero, ((usize::from(b & 0x3f) << 8) | usize::from(low)) + 1, 2)
        }
        Op::Val => (Op::Val, usize::from(b & 0x3) + 1, 1),
    }
}

fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}

/// Register `i` of dense registers.
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let (byte, fb) = (i * 6 / 8, (i * 6) % 8);
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

/// Sets register `i` of dense registers to `v`.
fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let (byte, fb) = (i * 6 / 8, (i * 6) % 8);
    let v = u16::from(v);
    regs[byte] &= !((63u16 << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next &= !((63u16 >> (8 - fb)) as u8);
        *next |= (v >> (8 - fb)) as u8;
    }
}

/// Raises dense register `i` to `count`; true when it changed.
fn dense_set(s: &mut [u8], i: usize, count: u8) -> bool {
    let regs = &mut s[HEADER..];
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// Marks the cached cardinality stale.
fn invalidate(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// A string the servers accept as a HyperLogLog.
fn valid(s: &[u8]) -> bool {
    s.len() >= HEADER && &s[..4] == b"HYLL" && s[4] <= SPARSE && (s[4] != DENSE || s.len() == DENSE_LEN)
}

/// The HyperLogLog string at `key`, when there is one (checked as the servers check).
fn get_hll<'k>(ks: &'k Keyspace, c: &Call<'_>, key: &[u8]) -> Result<Option<&'k [u8]>, Reject> {
    match ks.get(c.db, key).map(|s| &s.val) {
        None => Ok(None),
        Some(Val::Str(s)) if valid(s) => Ok(Some(s.as_slice())),
        Some(Val::Str(_)) => Err(invalid()),
        Some(_) => Err(wrong_type()),
    }
}

/// Converts a sparse string to dense (the header, cache included, is kept); an error for a
/// sparse string whose runs do not cover exactly every register.
fn to_dense(s: &mut Vec<u8>) -> Result<(), Reject> {
    if s[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER].copy_from_slice(&s[..HEADER]);
    dense[4] = DENSE;
    let (mut p, mut idx) = (HEADER, 0);
    while p < s.len() {
        let (kind, run, bytes) = opcode(s, p);
        if kind == Op::Val {
            if idx + run > REGISTERS {
                break;
            }
            let v = val_value(s[p]);
            for i in idx..idx + run {
                dense_put(&mut dense[HEADER..], i, v);
            }
        }
        idx += run;
        p += bytes;
    }
    if idx != REGISTERS {
        return Err(invalid());
    }
    *s = dense;
    Ok(())
}

/// Raises sparse register `index` to `count`, splitting and merging runs as the servers do,
/// promoting to dense when needed; true when it changed. An error for a corrupt string.
fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Reject> {
    if count <= SPARSE_VAL_MAX
        && let Some(changed) = sparse_update(s, index, count)?
    {
        return Ok(changed);
    }
    to_dense(s)?;
    if !dense_set(s, index, count) {
        return Err("the register did not change after promotion".into());
    }
    Ok(true)
}

/// The sparse update proper: `None` when the string must be promoted.
fn sparse_update(s: &mut Vec<u8>, index: usize, count: u8) -> Result<Option<bool>, Reject> {
    let end = s.len();
    let (mut p, mut first, mut prev, mut span) = (HEADER, 0, None, 0);
    while p < end {
        let (_, run, bytes) = opcode(s, p);
        span = run;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += bytes;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(invalid());
    }
    let (kind, runlen, oldlen) = opcode(s, p);
    if kind == Op::Val {
        if val_value(s[p]) >= count {
            return Ok(Some(false));
        }
        if runlen == 1 {
            s[p] = val(count, 1);
            merge_runs(s, prev);
            return Ok(Some(true));
        }
    }
    if kind == Op::Zero && runlen == 1 {
        s[p] = val(count, 1);
        merge_runs(s, prev);
        return Ok(Some(true));
    }
    let last = first + span - 1;
    let mut seq = Vec::with_capacity(5);
    let zeros = |seq: &mut Vec<u8>, len: usize| {
        if len > ZERO_MAX_LEN {
            seq.extend_from_slice(&xzero(len));
        } else {
            seq.push(zero(len));
        }
    };
    if kind == Op::Val {
        let current = val_value(s[p]);
        if index != first {
            seq.push(val(current, index - first));
        }
        seq.push(val(count, 1));
        if index != last {
            seq.push(val(current, last - index));
        }
    } else {
        if index != first {
            zeros(&mut seq, index - first);
        }
        seq.push(val(count, 1));
        if index != last {
            zeros(&mut seq, last - index);
        }
    }
    let new_len = end + seq.len() - oldlen;
    if seq.len() > oldlen && new_len > SPARSE_MAX_BYTES {
        return Ok(None);
    }
    // A two-byte run cut short by the end loses the tail of its replacement, as on servers.
    let tail = s[(p + oldlen).min(end)..].to_vec();
    s.truncate(p);
    s.extend_from_slice(&seq);
    s.extend_from_slice(&tail);
    s.truncate(new_len);
    merge_runs(s, prev);
    Ok(Some(true))
}

/// Merges adjacent `VAL` runs of one value, scanning five opcodes from `prev` (or the start),
/// then marks the cache stale.
fn merge_runs(s: &mut Vec<u8>, prev: Option<usize>) {
    let mut p = prev.unwrap_or(HEADER);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        match op(s[p]) {
            Op::XZero => {
                p += 2;
                continue;
            }
            Op::Zero => {
                p += 1;
                continue;
            }
            Op::Val => {}
        }
        if let Some(&next) = s.get(p + 1)
            && op(next) == Op::Val
        {
            let v = val_value(s[p]);
            let len = usize::from(s[p] & 3) + usize::from(next & 3) + 2;
            if v == val_value(next) && len <= VAL_MAX_LEN {
                s[p + 1] = val(v, len);
                s.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate(s);
}

/// Raises `max` to the registers of a valid HyperLogLog; an error for a corrupt sparse one.
fn merge_into(max: &mut [u8], s: &[u8]) -> Result<(), Reject> {
    if s[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&s[HEADER..], i));
        }
        return Ok(());
    }
    let (mut p, mut i) = (HEADER, 0);
    while p < s.len() {
        let (kind, run, bytes) = opcode(s, p);
        if kind == Op::Val {
            if i + run > REGISTERS {
                break;
            }
            let v = val_value(s[p]);
            for m in &mut max[i..i + run] {
                *m = (*m).max(v);
            }
        }
        i += run;
        p += bytes;
    }
    if i == REGISTERS { Ok(()) } else { Err(invalid()) }
}

/// `PFADD key element…`: creates the key as an empty sparse HyperLogLog when missing.
fn pfadd(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let mut s = match get_hll(ks, c, key)? {
        Some(s) => s.to_vec(),
        None => empty_sparse(),
    };
    let mut updated = ks.get(c.db, key).is_none();
    for element in &c.args[2..] {
        let (index, count) = pattern(element);
        updated |=
            if s[4] == DENSE { dense_set(&mut s, index, count) } else { sparse_set(&mut s, index, count)? };
    }
    if updated {
        invalidate(&mut s);
        store(ks, c, key, s)?;
    }
    Ok(())
}

/// Writes `s` to `key`, keeping an existing key's expiry.
fn store(ks: &mut Keyspace, c: &Call<'_>, key: &[u8], s: Vec<u8>) -> Result<(), Reject> {
    let Val::Str(v) = ks.or_insert(c, key, Kind::String, || Val::Str(SmallBytes::new()))? else {
        return Err(wrong_type());
    };
    *v = SmallBytes::from(s);
    Ok(())
}

/// `PFMERGE dest source…`: the register-wise maximum of every key named (`dest` included)
/// written to `dest`; dense when any of them is dense, else set register by register into the
/// sparse `dest` (which may promote it).
fn pfmerge(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(2)?;
    let mut max = vec![0u8; REGISTERS];
    let mut use_dense = false;
    for key in &c.args[1..] {
        let Some(s) = get_hll(ks, c, key)? else { continue };
        use_dense |= s[4] == DENSE;
        merge_into(&mut max, s)?;
    }
    let dest = c.args[1];
    let mut s = match get_hll(ks, c, dest)? {
        Some(s) => s.to_vec(),
        None => empty_sparse(),
    };
    if use_dense {
        to_dense(&mut s)?;
    }
    for (i, &m) in max.iter().enumerate().filter(|(_, m)| **m != 0) {
        if s[4] == DENSE {
            dense_set(&mut s, i, m);
        } else {
            // The servers ignore the result here: the sources were checked above.
            let _ = sparse_set(&mut s, i, m);
        }
    }
    invalidate(&mut s);
    store(ks, c, dest, s)
}

/// `PFCOUNT key…`: with one key whose cache is stale, stores the estimate in the cache (what
/// servers log it for); otherwise it changes nothing (the keys are still checked).
fn pfcount(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(2)?;
    if c.args.len() > 2 {
        let mut max = vec![0u8; REGISTERS];
        for key in &c.args[1..] {
            if let Some(s) = get_hll(ks, c, key)? {
                merge_into(&mut max, s)?;
            }
        }
        return Ok(());
    }
    let key = c.args[1];
    let Some(s) = get_hll(ks, c, key)? else { return Ok(()) };
    if s[15] & 0x80 == 0 {
        return Ok(());
    }
    let card = estimate(&histogram(s).ok_or_else(invalid)?);
    let mut s = s.to_vec();
    s[8..16].copy_from_slice(&card.to_le_bytes());
    store(ks, c, key, s)
}

/// How many registers hold each value; `None` for a sparse string whose runs do not cover
/// exactly every register.
fn histogram(s: &[u8]) -> Option<[u32; 64]> {
    let mut h = [0u32; 64];
    if s[4] == DENSE {
        for i in 0..REGISTERS {
            h[usize::from(dense_get(&s[HEADER..], i))] += 1;
        }
        return Some(h);
    }
    let (mut p, mut idx) = (HEADER, 0);
    while p < s.len() {
        let (kind, run, bytes) = opcode(s, p);
        let v = if kind == Op::Val { usize::from(val_value(s[p])) } else { 0 };
        h[v] += run as u32;
        idx += run;
        p += bytes;
    }
    (idx == REGISTERS).then_some(h)
}

/// Ertl's estimator from a register histogram, in the servers' floating-point steps.
fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(h[Q as usize + 1])) / m);
    for j in (1..=Q as usize).rev() {
        z += f64::from(h[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(h[0]) / m);
    #[allow(clippy::excessive_precision)]
    let alpha_inf = 0.721347520444481703680_f64;
    (alpha_inf * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// `PFDEBUG GETREG|TODENSE key` convert a sparse key to dense (servers log them then);
/// `ENCODING` and `DECODE` change nothing.
fn pfdebug(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (sub, key) = (c.arg(1)?, c.arg(2)?);
    let Some(s) = get_hll(ks, c, key)? else { return Err("The specified key does not exist".into()) };
    c.exactly(3)?;
    if is(sub, "GETREG") || is(sub, "TODENSE") {
        if s[4] == SPARSE {
            let mut s = s.to_vec();
            to_dense(&mut s)?;
            store(ks, c, key, s)?;
        }
        Ok(())
    } else if is(sub, "ENCODING") {
        Ok(())
    } else if is(sub, "DECODE") {
        if s[4] == SPARSE { Ok(()) } else { Err("HLL encoding is not sparse".into()) }
    } else {
        Err("Unknown PFDEBUG subcommand".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_sparse_string_is_the_servers() {
        let s = empty_sparse();
        assert_eq!(s.len(), 18);
        assert_eq!(&s[16..], &[0x7f, 0xff]);
        assert_eq!(histogram(&s).map(|h| estimate(&h)), Some(0));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; REGISTERS * 6 / 8];
        for i in (0..REGISTERS).step_by(7) {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), if i % 7 == 0 { (i % 64) as u8 } else { 0 });
        }
    }
}
