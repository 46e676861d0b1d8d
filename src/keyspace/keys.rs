//! Commands on keys and databases: deletion, expiry, renames, moves, copies, flushes (of
//! databases, or of a cluster hash slot), `RESTORE`, and the commands that leave the dataset as
//! it is. `MIGRATE` is logged as the
//! `DEL` it performs.

use super::apply::{Call, Handler};
use super::args::{Reject, int, is, uint};
use super::{Keyspace, Slot, Val};
use crate::cursor::Cursor;
use crate::rdb::{Encoding, Vendor, decode};

/// The handler for `name`, when this module has it.
pub(super) fn lookup(name: &str) -> Option<Handler> {
    Some(match name {
        "DEL" | "UNLINK" => del,
        "EXPIREAT" => |ks, c| expire_at(ks, c, 1000),
        "PEXPIREAT" => |ks, c| expire_at(ks, c, 1),
        "EXPIRE" | "PEXPIRE" | "SETEX" | "PSETEX" => relative_expiry,
        "PERSIST" => persist,
        "RENAME" => |ks, c| rename(ks, c, false),
        "RENAMENX" => |ks, c| rename(ks, c, true),
        "MOVE" => move_key,
        "COPY" => copy,
        "SWAPDB" => swapdb,
        "FLUSHDB" => flushdb,
        "FLUSHALL" => flushall,
        "CLUSTER" => cluster,
        "TRIMSLOTS" => trimslots,
        "RESTORE" | "RESTORE-ASKING" => restore,
        "MIGRATE" => |_, _| Err("servers log MIGRATE as the DEL of the keys it moved (or not at all)".into()),
        // The database switch is tracked by the reader; the rest leave the data as it is.
        "SELECT" | "PING" | "SCRIPT" => |_, _| Ok(()),
        _ => return None,
    })
}

fn del(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(2)?;
    for key in &c.args[1..] {
        ks.remove(c.db, key);
    }
    Ok(())
}

/// `EXPIREAT`/`PEXPIREAT key when [NX|XX|GT|LT]`. While loading, servers set a time in the
/// past rather than deleting the key; the key is then dropped when written out (or kept
/// for `--drop-expired` to decide).
fn expire_at(ks: &mut Keyspace, c: &Call<'_>, unit_ms: i64) -> Result<(), Reject> {
    let when = int(c.arg(2)?)?.checked_mul(unit_ms).ok_or("invalid expire time")?;
    let flag = c.args.get(3).copied();
    if c.args.len() > 4 {
        return Err("at most one of NX, XX, GT, LT".into());
    }
    let Some(slot) = ks.dbs.get_mut(&c.db).and_then(|db| db.get_mut(c.args[1])) else { return Ok(()) };
    let apply = match (flag, slot.expire_ms()) {
        (None, _) => true,
        (Some(f), current) if is(f, "NX") => current.is_none(),
        (Some(f), current) if is(f, "XX") => current.is_some(),
        (Some(f), current) if is(f, "GT") => current.is_some_and(|t| when > t),
        (Some(f), current) if is(f, "LT") => current.is_none_or(|t| when < t),
        (Some(_), _) => return Err("unsupported option".into()),
    };
    if apply {
        slot.set_expire_ms(Some(when));
        slot.written = c.stamp;
    }
    Ok(())
}

fn relative_expiry(_: &mut Keyspace, _: &Call<'_>) -> Result<(), Reject> {
    Err("a relative expiry: servers log absolute ones (PEXPIREAT, SET PXAT), and the time this \
         one was relative to is not in the log"
        .into())
}

fn persist(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    if let Some(slot) = ks.dbs.get_mut(&c.db).and_then(|db| db.get_mut(key))
        && slot.expire_ms().is_some()
    {
        slot.set_expire_ms(None);
        slot.written = c.stamp;
    }
    Ok(())
}

/// A logged rename always found its source.
fn rename(ks: &mut Keyspace, c: &Call<'_>, nx: bool) -> Result<(), Reject> {
    let (src, dst) = (c.arg(1)?, c.arg(2)?);
    if ks.get(c.db, src).is_none() {
        return Err("ERR no such key".into());
    }
    if src == dst || (nx && ks.get(c.db, dst).is_some()) {
        return Ok(());
    }
    let mut slot = ks.remove(c.db, src).ok_or("ERR no such key")?;
    slot.written = c.stamp;
    ks.db_mut(c.db).insert(dst, slot);
    Ok(())
}

fn move_key(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let key = c.arg(1)?;
    let to = uint(c.arg(2)?, i64::MAX as u64)?;
    if to == c.db || ks.get(to, key).is_some() {
        return Ok(());
    }
    if let Some(mut slot) = ks.remove(c.db, key) {
        slot.written = c.stamp;
        ks.db_mut(to).insert(key, slot);
    }
    Ok(())
}

/// `COPY src dst [DB n] [REPLACE]`.
fn copy(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (src, dst) = (c.arg(1)?, c.arg(2)?);
    let (mut to, mut replace, mut i) = (c.db, false, 3);
    while i < c.args.len() {
        if is(c.args[i], "REPLACE") {
            replace = true;
        } else if is(c.args[i], "DB") {
            i += 1;
            to = uint(c.arg(i)?, i64::MAX as u64)?;
        } else {
            return Err("syntax error".into());
        }
        i += 1;
    }
    let Some(slot) = ks.get(c.db, src) else { return Ok(()) };
    if (to == c.db && src == dst) || (!replace && ks.get(to, dst).is_some()) {
        return Ok(());
    }
    if slot.val.is_vector_set() {
        return Err("not supported for this module type (vector sets cannot be copied)".into());
    }
    let copied = Slot { written: c.stamp, ..slot.clone() };
    ks.db_mut(to).insert(dst, copied);
    Ok(())
}

fn swapdb(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let a = uint(c.arg(1)?, i64::MAX as u64)?;
    let b = uint(c.arg(2)?, i64::MAX as u64)?;
    let da = ks.dbs.remove(&a);
    let db = ks.dbs.remove(&b);
    for (n, d) in [(a, db), (b, da)] {
        if let Some(mut d) = d.filter(|d| !d.is_empty()) {
            d.values_mut().for_each(|s| s.written = c.stamp);
            ks.dbs.insert(n, d);
        }
    }
    Ok(())
}

fn flushdb(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    ks.dbs.remove(&c.db);
    Ok(())
}

fn flushall(ks: &mut Keyspace, _: &Call<'_>) -> Result<(), Reject> {
    ks.dbs.clear();
    Ok(())
}

/// `CLUSTER FLUSHSLOT slot` (Valkey 9, logged as given): deletes the keys of a hash slot from
/// every database. No other `CLUSTER` subcommand changes data.
fn cluster(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    if !is(c.arg(1)?, "FLUSHSLOT") {
        return Err("only CLUSTER FLUSHSLOT changes data: servers do not log the others".into());
    }
    c.exactly(3)?;
    let slot = slot_arg(c.args[2])?;
    let dbs: Vec<u64> = ks.dbs.keys().copied().collect();
    delete_slots(ks, &dbs, |s| s == slot);
    Ok(())
}

/// `TRIMSLOTS RANGES n start end …` (Redis 8.4+, cluster mode, logged as given): deletes the
/// keys of the slot ranges from database 0, the only one a Redis cluster node has.
fn trimslots(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    c.at_least(5)?;
    if !is(c.args[1], "RANGES") {
        return Err("missing ranges argument".into());
    }
    let n = int(c.args[2])?;
    let pairs = (c.args.len() - 3) / 2;
    if n < 1 || n > i64::from(SLOTS) || usize::try_from(n) != Ok(pairs) || c.args.len().is_multiple_of(2) {
        return Err("invalid number of ranges".into());
    }
    let chosen = slot_ranges(&c.args[3..])?;
    delete_slots(ks, &[0], |s| chosen[usize::from(s)]);
    Ok(())
}

/// Which slots pairs of `start end` arguments select, checked as servers check them: sorted
/// by start, a range that begins right after the previous one's end is merged into it (even
/// one whose end is before its start), then no merged range may be reversed or overlap.
fn slot_ranges(args: &[&[u8]]) -> Result<Vec<bool>, Reject> {
    let mut ranges =
        args.chunks(2).map(|r| Ok((slot_arg(r[0])?, slot_arg(r[1])?))).collect::<Result<Vec<_>, Reject>>()?;
    if ranges.len() >= usize::from(SLOTS) {
        return Err(format!("invalid number of slot ranges: {}", ranges.len()));
    }
    ranges.sort_by_key(|r: &(u16, u16)| r.0);
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if last.1 + 1 == start => last.1 = end,
            _ => merged.push((start, end)),
        }
    }
    let mut chosen = vec![false; usize::from(SLOTS)];
    for &(start, end) in &merged {
        if start > end {
            return Err(format!("start slot number {start} is greater than end slot number {end}"));
        }
        for slot in start..=end {
            if std::mem::replace(&mut chosen[usize::from(slot)], true) {
                return Err(format!("Slot {slot} specified multiple times"));
            }
        }
    }
    Ok(chosen)
}

/// A hash slot argument.
fn slot_arg(arg: &[u8]) -> Result<u16, Reject> {
    uint(arg, u64::from(SLOTS - 1)).map(|s| s as u16).map_err(|_| "Invalid or out of range slot".into())
}

/// Deletes, from each of `dbs`, the keys whose hash slot `doomed` picks.
fn delete_slots(ks: &mut Keyspace, dbs: &[u64], doomed: impl Fn(u16) -> bool) {
    for db in dbs {
        let Some(db) = ks.dbs.get_mut(db) else { continue };
        let keys: Vec<Vec<u8>> =
            db.iter().filter(|(key, _)| doomed(hash_slot(key))).map(|(key, _)| key.to_vec()).collect();
        for key in keys {
            db.remove(&key);
        }
    }
    ks.dbs.retain(|_, db| !db.is_empty());
}

/// Hash slots of a cluster.
const SLOTS: u16 = 16384;

/// The cluster hash slot of `key`: CRC-16/XMODEM of its hash tag (what is between the first `{`
/// and the first `}` after it, when not empty) or else of the whole key, modulo 16384.
fn hash_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter().position(|&b| b == b'}').filter(|&len| len > 0).map(|len| &rest[..len])
    });
    crc16_xmodem(tagged.unwrap_or(key)) % SLOTS
}

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection), a byte at a time.
fn crc16_xmodem(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &byte| (crc << 8) ^ CRC16_TABLE[usize::from((crc >> 8) as u8 ^ byte)])
}

/// The CRC-16/XMODEM of each byte value shifted into the top of the register.
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = (byte as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
};

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]` (and `RESTORE-ASKING`, the
/// form a cluster migration sends, logged as it came): the payload is a
/// value in RDB encoding, its format version and a CRC-64.
fn restore(ks: &mut Keyspace, c: &Call<'_>) -> Result<(), Reject> {
    let (key, ttl, payload) = (c.arg(1)?, int(c.arg(2)?)?, c.arg(3)?);
    let (mut replace, mut absolute, mut i) = (false, false, 4);
    while i < c.args.len() {
        match c.args[i] {
            a if is(a, "REPLACE") => replace = true,
            a if is(a, "ABSTTL") => absolute = true,
            a if is(a, "IDLETIME") || is(a, "FREQ") => i += 1,
            _ => return Err("syntax error".into()),
        }
        i += 1;
    }
    if ttl != 0 && !absolute {
        return Err("a relative TTL: servers log RESTORE with ABSTTL".into());
    }
    if !replace && ks.get(c.db, key).is_some() {
        return Err("BUSYKEY Target key name already exists".into());
    }
    let val = decode_payload(payload)?;
    ks.put(c, key, val, (ttl != 0).then_some(ttl));
    Ok(())
}

/// Decodes a DUMP payload after checking its footer.
pub(super) fn decode_payload(payload: &[u8]) -> Result<Val, Reject> {
    let bad = |why: &str| format!("ERR DUMP payload version or checksum are wrong ({why})");
    let body_len = payload.len().checked_sub(10).ok_or_else(|| bad("too short"))?;
    let (body, footer) = payload.split_at(body_len);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..10].try_into().map_err(|_| bad("footer"))?);
    if crc != 0 && crc != crate::rdb::crc::crc64(&payload[..body_len + 2]) {
        return Err(bad("checksum"));
    }
    let vendor = if version >= 80 { Vendor::Valkey } else { Vendor::Redis };
    let code = *body.first().ok_or_else(|| bad("no type"))?;
    let enc = Encoding::from_code(code, vendor).ok_or_else(|| bad("type"))?;
    let mut cur = Cursor::new(&body[1..], 0);
    let value = decode::decode(enc, &mut cur).map_err(|e| format!("ERR Bad data format: {e}"))?;
    if cur.remaining() != 0 {
        return Err(bad("trailing bytes"));
    }
    Ok(Val::from_value(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Applier;
    use crate::keyspace::test_log::load;

    #[test]
    fn hash_slots_match_the_servers() {
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
        // CLUSTER KEYSLOT on Valkey 9.1.
        assert_eq!(hash_slot(b"foo"), 12182);
        assert_eq!(hash_slot(b"bar"), 5061);
        assert_eq!(hash_slot(b"{foo}y"), 12182);
        assert_eq!(hash_slot(b"{user1000}.following"), hash_slot(b"user1000"));
        // An empty tag, or none closed, hashes the whole key.
        assert_eq!(hash_slot(b"{}foo"), crc16_xmodem(b"{}foo") % SLOTS);
        assert_eq!(hash_slot(b"{foo"), crc16_xmodem(b"{foo") % SLOTS);
    }

    #[test]
    fn flushslot_empties_the_slot_in_every_database() {
        // The log Valkey 9.1 wrote in cluster mode (cluster-databases 4); afterwards it had no
        // key in database 0 and only `bar` in database 1.
        let log = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$1\r\n1\r\n\
            *2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$1\r\n2\r\n\
            *3\r\n$3\r\nSET\r\n$6\r\n{foo}y\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$3\r\nbar\r\n$1\r\n4\r\n\
            *3\r\n$7\r\nCLUSTER\r\n$9\r\nFLUSHSLOT\r\n$5\r\n12182\r\n";
        let mut applier = Applier::new(Keyspace::new(), 0);
        applier.load_file(log, 0, &|_| {}).unwrap();
        let ks = applier.finish();
        let keys: Vec<(u64, &[u8])> = ks.keys(None).map(|(db, key, _)| (db, key)).collect();
        assert_eq!(keys, [(1, &b"bar"[..])]);
        let mut applier = Applier::new(Keyspace::new(), 0);
        let bad = b"*3\r\n$7\r\nCLUSTER\r\n$9\r\nflushslot\r\n$5\r\n16384\r\n";
        let e = applier.load_file(bad, 0, &|_| {}).unwrap_err();
        assert!(e.to_string().contains("out of range slot"), "{e}");
    }

    #[test]
    fn trimslots_arguments_are_checked_as_the_servers_do() {
        let set: &[&str] = &["SET", "foo", "1"];
        for (command, want) in [
            (&["TRIMSLOTS", "SLOTS", "1", "0", "1"][..], "missing ranges argument"),
            (&["TRIMSLOTS", "RANGES", "2", "0", "1"], "invalid number of ranges"),
            (&["TRIMSLOTS", "RANGES", "1", "0", "16384"], "Invalid or out of range slot"),
            (
                &["TRIMSLOTS", "RANGES", "1", "9", "3"],
                "start slot number 9 is greater than end slot number 3",
            ),
            (&["TRIMSLOTS", "RANGES", "2", "0", "5", "5", "9"], "Slot 5 specified multiple times"),
        ] {
            let e = load(&[set, command]).map(drop).unwrap_err().to_string();
            assert!(e.contains(want), "{command:?}: {e}");
        }
        // Sorted by start, a range beginning right after another's end is merged into it, end
        // and all: (12183, 12182) alone would be refused; merged, 12100 to 12182 go.
        let ks = load(&[set, &["TRIMSLOTS", "RANGES", "2", "12183", "12182", "12100", "12182"]]).unwrap();
        assert_eq!(ks.keys(None).count(), 0);
    }
}
