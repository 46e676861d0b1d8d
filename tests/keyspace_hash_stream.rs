//! The keyspace model's hash and stream commands judged by real servers (see
//! `keyspace_oracle`): random sequences on colliding keys, then each command on keys of its own.

use crate::keyspace_oracle::{Cmd, cmd, differential, far_ms, key, on_every_server, value};
use crate::support::XorShift;
use crate::support::server::{self, Kind};

/// Builds a command from mixed text and byte arguments.
fn words(parts: &[&[u8]]) -> Cmd {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn field(rng: &mut XorShift) -> Vec<u8> {
    format!("f{}", rng.below(5)).into_bytes()
}

fn num(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// Runs `commands` on the servers with hash field expiry (not Redis 7.0).
fn on_field_expiry_servers(commands: &[Cmd]) {
    for kind in [Kind::Redis8, Kind::Valkey9] {
        if !server::available(kind, false) {
            eprintln!("skipping {}: not installed", kind.name());
            continue;
        }
        if let Err(e) = differential(kind, commands) {
            panic!("{}: {e}", kind.name());
        }
    }
}

/// A random command of the hashes every server has.
fn hash_command(rng: &mut XorShift) -> Cmd {
    let k = key(rng, "h");
    let (f, f2, v) = (field(rng), field(rng), value(rng));
    match rng.below(12) {
        0 | 1 => words(&[b"HSET", &k, &f, &v, &f2, &value(rng)]),
        2 => words(&[b"HMSET", &k, &f, &v]),
        3 => words(&[b"HSETNX", &k, &f, &v]),
        4 => words(&[b"HDEL", &k, &f, &f2]),
        5 => words(&[b"HINCRBY", &k, &f, &num(rng.below(100) as i64 - 50)]),
        6 => words(&[b"HINCRBYFLOAT", &k, &f, b"1.25"]),
        7 => words(&[b"HINCRBY", &k, &f, b"9223372036854775807"]),
        8 => words(&[b"SET", &k, &v]),
        9 => words(&[b"DEL", &k]),
        10 => words(&[b"HSET", &k, &f]),
        _ => words(&[b"RENAME", &k, &key(rng, "h")]),
    }
}

/// A random field-expiry command (Valkey 9, Redis 7.4+).
fn hash_ttl_command(rng: &mut XorShift) -> Cmd {
    let k = key(rng, "h");
    let (f, f2, v) = (field(rng), field(rng), value(rng));
    let at = far_ms(rng).into_bytes();
    let cond: &[u8] = [&b"NX"[..], b"XX", b"GT", b"LT"][rng.below(4) as usize];
    match rng.below(12) {
        0 => words(&[b"HEXPIRE", &k, b"100000", b"FIELDS", b"2", &f, &f2]),
        1 => words(&[b"HPEXPIRE", &k, b"100000000", cond, b"FIELDS", b"1", &f]),
        2 => words(&[b"HPEXPIREAT", &k, &at, cond, b"FIELDS", b"2", &f, &f2]),
        3 => words(&[b"HEXPIREAT", &k, b"4102444800", b"FIELDS", b"1", &f]),
        4 => words(&[b"HPERSIST", &k, b"FIELDS", b"2", &f, &f2]),
        5 => words(&[b"HSETEX", &k, b"PXAT", &at, b"FIELDS", b"2", &f, &v, &f2, &v]),
        6 => words(&[
            b"HSETEX",
            &k,
            [&b"FNX"[..], b"FXX"][rng.below(2) as usize],
            b"KEEPTTL",
            b"FIELDS",
            b"1",
            &f,
            &v,
        ]),
        7 => words(&[b"HSETEX", &k, b"EX", b"1000", b"FIELDS", b"1", &f, &v]),
        8 => words(&[b"HGETEX", &k, b"PX", b"100000000", b"FIELDS", b"1", &f]),
        9 => words(&[b"HGETEX", &k, b"PERSIST", b"FIELDS", b"2", &f, &f2]),
        10 => words(&[b"HGETDEL", &k, b"FIELDS", b"2", &f, &f2]),
        _ => words(&[b"HPEXPIRE", &k, b"0", b"FIELDS", b"1", &f]),
    }
}

#[test]
fn hashes_match_the_servers() {
    let mut rng = XorShift::new(11);
    let mut commands: Vec<Cmd> = (0..400).map(|_| hash_command(&mut rng)).collect();
    for fixed in [
        &["HSET", "fh:set", "a", "1", "b", "2"][..],
        &["HMSET", "fh:set", "c", "3"],
        &["HSETNX", "fh:set", "a", "9"],
        &["HSETNX", "fh:set", "d", "4"],
        &["HDEL", "fh:set", "b", "zz"],
        &["HINCRBY", "fh:n", "x", "-7"],
        &["HINCRBY", "fh:n", "x", "10"],
        &["HINCRBYFLOAT", "fh:n", "y", "2.5"],
        &["HINCRBYFLOAT", "fh:n", "y", "1e3"],
        &["HSET", "fh:gone", "a", "1"],
        &["HDEL", "fh:gone", "a"],
    ] {
        commands.push(cmd(fixed));
    }
    on_every_server(&commands);
}

#[test]
fn hash_field_expiry_matches_the_servers() {
    let mut rng = XorShift::new(12);
    let mut commands: Vec<Cmd> = (0..500)
        .map(|i| if i % 2 == 0 { hash_command(&mut rng) } else { hash_ttl_command(&mut rng) })
        .collect();
    for fixed in [
        &["HSET", "ft:a", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"][..],
        &["HEXPIRE", "ft:a", "100000", "FIELDS", "2", "a", "zz"],
        &["HPEXPIRE", "ft:a", "100000000", "NX", "FIELDS", "1", "b"],
        &["HEXPIREAT", "ft:a", "4102444800", "FIELDS", "1", "c"],
        &["HPEXPIREAT", "ft:a", "4102444800123", "GT", "FIELDS", "2", "c", "d"],
        &["HPEXPIREAT", "ft:a", "4102444800001", "LT", "FIELDS", "2", "c", "e"],
        &["HPERSIST", "ft:a", "FIELDS", "1", "a"],
        &["HPEXPIRE", "ft:a", "0", "FIELDS", "1", "e"],
        &["HINCRBY", "ft:a", "c", "5"],
        &["HINCRBYFLOAT", "ft:a", "c", "0.5"],
        &["HSET", "ft:a", "b", "new"],
        &["HSETEX", "ft:s", "EX", "1000", "FIELDS", "2", "a", "1", "b", "2"],
        &["HSETEX", "ft:s", "FNX", "PX", "100000", "FIELDS", "1", "c", "3"],
        &["HSETEX", "ft:s", "FXX", "KEEPTTL", "FIELDS", "1", "a", "11"],
        &["HSETEX", "ft:s", "FIELDS", "1", "b", "22"],
        &["HSETEX", "ft:s", "XX", "EXAT", "4102444800", "FIELDS", "1", "d", "4"],
        &["HSETEX", "ft:s", "NX", "EXAT", "4102444800", "FIELDS", "1", "e", "5"],
        &["HSETEX", "ft:s", "PXAT", "1", "FIELDS", "1", "d", "4"],
        &["HSETEX", "ft:new", "NX", "PXAT", "4102444800000", "FIELDS", "1", "a", "1"],
        &["HGETEX", "ft:s", "EX", "5000", "FIELDS", "2", "a", "zz"],
        &["HGETEX", "ft:s", "PERSIST", "FIELDS", "1", "c"],
        &["HGETEX", "ft:s", "PXAT", "1", "FIELDS", "1", "b"],
        &["HGETDEL", "ft:new", "FIELDS", "2", "a", "zz"],
    ] {
        commands.push(cmd(fixed));
    }
    on_field_expiry_servers(&commands);
}

/// A random stream command on colliding keys, groups and consumers.
fn stream_command(rng: &mut XorShift) -> Cmd {
    let k = key(rng, "x");
    let g = format!("g{}", rng.below(2)).into_bytes();
    let consumer = format!("c{}", rng.below(3)).into_bytes();
    let id = format!("{}-{}", rng.below(40) + 1, rng.below(3)).into_bytes();
    let n = num(rng.below(6) as i64);
    let v = value(rng);
    match rng.below(20) {
        0..=3 => words(&[b"XADD", &k, b"*", b"f", &v]),
        4 => words(&[b"XADD", &k, &id, b"f", &v, b"g", b"1"]),
        5 => words(&[b"XADD", &k, b"MAXLEN", b"~", &n, b"*", b"f", &v]),
        6 => words(&[b"XADD", &k, b"NOMKSTREAM", b"MAXLEN", b"=", &n, b"*", b"f", &v]),
        7 => words(&[b"XTRIM", &k, b"MAXLEN", [&b"="[..], b"~"][rng.below(2) as usize], &n]),
        8 => words(&[b"XTRIM", &k, b"MINID", &id]),
        9 => words(&[b"XDEL", &k, &id]),
        10 => words(&[b"XGROUP", b"CREATE", &k, &g, [&b"$"[..], b"0"][rng.below(2) as usize], b"MKSTREAM"]),
        11 => words(&[b"XGROUP", b"SETID", &k, &g, b"0"]),
        12 => words(&[b"XGROUP", b"DESTROY", &k, &g]),
        13 | 14 => words(&[b"XREADGROUP", b"GROUP", &g, &consumer, b"COUNT", b"2", b"STREAMS", &k, b">"]),
        15 => words(&[b"XACK", &k, &g, &id]),
        16 => words(&[b"XAUTOCLAIM", &k, &g, &consumer, b"0", b"0-0", b"COUNT", b"2"]),
        17 => words(&[b"XSETID", &k, b"99999999999999-0"]),
        18 => words(&[b"SET", &k, &v]),
        _ => words(&[b"DEL", &k]),
    }
}

#[test]
fn streams_match_the_servers() {
    let mut rng = XorShift::new(13);
    let mut commands: Vec<Cmd> = (0..300).map(|_| stream_command(&mut rng)).collect();
    for fixed in [
        &["XADD", "fx:a", "1-1", "a", "1"][..],
        &["XADD", "fx:a", "1-*", "b", "2"],
        &["XADD", "fx:a", "2", "c", "3"],
        &["XADD", "fx:a", "*", "d", "4"],
        &["XADD", "fx:a", "MINID", "=", "1-2", "*", "e", "5"],
        &["XDEL", "fx:a", "2-0"],
        &["XGROUP", "CREATE", "fx:a", "g", "0", "ENTRIESREAD", "0"],
        &["XGROUP", "CREATE", "fx:a", "g2", "$"],
        &["XGROUP", "CREATE", "fx:new", "g", "$", "MKSTREAM"],
        &["XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "fx:a", ">"],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "fx:a", ">"],
        &["XCLAIM", "fx:a", "g", "carol", "0", "1-2", "JUSTID"],
        &["XAUTOCLAIM", "fx:a", "g", "dave", "0", "0-0", "COUNT", "1"],
        &["XACK", "fx:a", "g", "1-1"],
        &["XGROUP", "DELCONSUMER", "fx:a", "g", "dave"],
        &["XADD", "fx:b", "5-5", "a", "1"],
        &["XADD", "fx:b", "6-0", "a", "2"],
        &["XGROUP", "CREATE", "fx:b", "g", "0"],
        &["XREADGROUP", "GROUP", "g", "erin", "NOACK", "COUNT", "1", "STREAMS", "fx:b", ">"],
        // The consumer NOACK created is logged without its time; a delivery sets it.
        &["XREADGROUP", "GROUP", "g", "erin", "STREAMS", "fx:b", ">"],
        &["XGROUP", "SETID", "fx:b", "g", "5-5", "ENTRIESREAD", "1"],
        &["XSETID", "fx:b", "7-0", "ENTRIESADDED", "9", "MAXDELETEDID", "6-5"],
        &["XTRIM", "fx:b", "MAXLEN", "1"],
        &["XGROUP", "DESTROY", "fx:new", "g"],
    ] {
        commands.push(cmd(fixed));
    }
    on_every_server(&commands);
}
