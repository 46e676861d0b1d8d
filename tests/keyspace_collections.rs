//! The keyspace model's list, set and sorted-set commands judged by real servers (see
//! `keyspace_oracle`): random commands on a few colliding keys (wrong types and rejected
//! commands included), then each command and option once on keys of its own.

use crate::keyspace_oracle::{Cmd, cmd, far_ms, key, on_every_server, value};
use crate::support::XorShift;

/// A command from its name and arguments.
fn mk(name: &str, args: Vec<Vec<u8>>) -> Cmd {
    let mut c = vec![name.as_bytes().to_vec()];
    c.extend(args);
    c
}

fn num(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// One of `words`.
fn pick(rng: &mut XorShift, words: &[&str]) -> Vec<u8> {
    words[rng.below(words.len() as u64) as usize].as_bytes().to_vec()
}

/// A short member from a small alphabet (so members repeat), sometimes binary.
fn member(rng: &mut XorShift) -> Vec<u8> {
    match rng.below(10) {
        0 => num(rng.below(20) as i64 - 5),
        1 => vec![b'm', 0, 0xff],
        _ => vec![b'a' + rng.below(8) as u8],
    }
}

/// A score: small numbers, halves, signed zeros, infinities, exponents, and some the servers
/// refuse.
fn score(rng: &mut XorShift) -> Vec<u8> {
    let s = match rng.below(14) {
        0 => "inf".to_string(),
        1 => "-inf".to_string(),
        2 => "-0".to_string(),
        3 => format!("{}.5", rng.below(10) as i64 - 5),
        4 => "1e3".to_string(),
        5 => "nan".to_string(),
        6 => "1x".to_string(),
        7 => "+Infinity".to_string(),
        8 => "0.1".to_string(),
        _ => (rng.below(10) as i64 - 3).to_string(),
    };
    s.into_bytes()
}

/// A score-range bound, sometimes exclusive.
fn bound(rng: &mut XorShift) -> Vec<u8> {
    let mut b = if rng.below(3) == 0 { b"(".to_vec() } else { Vec::new() };
    b.extend(score(rng));
    b
}

/// A lex-range bound.
fn lex(rng: &mut XorShift) -> Vec<u8> {
    match rng.below(6) {
        0 => b"-".to_vec(),
        1 => b"+".to_vec(),
        2 => b"x".to_vec(),
        n => {
            let mut b = if n == 3 { b"(".to_vec() } else { b"[".to_vec() };
            b.extend(member(rng));
            b
        }
    }
}

/// A small index, negative about half the time.
fn index(rng: &mut XorShift) -> Vec<u8> {
    num(rng.below(12) as i64 - 6)
}

/// Commands that leave other types on the test's keys, expire or delete them.
fn disturb(rng: &mut XorShift, k: Vec<u8>, prefix: &str) -> Cmd {
    match rng.below(4) {
        0 => mk("SET", vec![k, value(rng)]),
        1 => mk("PEXPIREAT", vec![k, far_ms(rng).into_bytes()]),
        2 => mk("DEL", vec![k]),
        _ => mk("RENAME", vec![k, key(rng, prefix)]),
    }
}

#[test]
fn lists_match_the_servers() {
    let mut rng = XorShift::new(11);
    let mut commands = Vec::new();
    for _ in 0..300 {
        let (k, k2) = (key(&mut rng, "l"), key(&mut rng, "l"));
        let v = if rng.below(3) == 0 { value(&mut rng) } else { member(&mut rng) };
        let c = match rng.below(16) {
            0 | 1 => mk("RPUSH", vec![k, v, member(&mut rng), member(&mut rng)]),
            2 => mk("LPUSH", vec![k, v]),
            3 => mk(if rng.below(2) == 0 { "LPUSHX" } else { "RPUSHX" }, vec![k, v]),
            4 => mk("LPOP", vec![k]),
            5 => mk("RPOP", vec![k, num(rng.below(4) as i64)]),
            6 => mk(
                "LMOVE",
                vec![k, k2, pick(&mut rng, &["LEFT", "RIGHT"]), pick(&mut rng, &["left", "RIGHT"])],
            ),
            7 => mk("RPOPLPUSH", vec![k, k2]),
            8 => mk("LINSERT", vec![k, pick(&mut rng, &["BEFORE", "AFTER", "MIDDLE"]), member(&mut rng), v]),
            9 => mk("LSET", vec![k, index(&mut rng), v]),
            10 => mk("LREM", vec![k, index(&mut rng), member(&mut rng)]),
            11 => mk("LTRIM", vec![k, index(&mut rng), index(&mut rng)]),
            12 => mk(["BLPOP", "BRPOP"][rng.below(2) as usize], vec![k, k2, b"0.01".to_vec()]),
            13 => mk("BLMOVE", vec![k, k2, b"RIGHT".to_vec(), b"LEFT".to_vec(), b"0.01".to_vec()]),
            14 => mk(
                "LMPOP",
                vec![b"2".to_vec(), k, k2, pick(&mut rng, &["LEFT", "RIGHT"]), b"COUNT".to_vec(), num(2)],
            ),
            _ => disturb(&mut rng, k, "l"),
        };
        commands.push(c);
    }
    for fixed in [
        &["RPUSH", "f:l", "a", "b", "c", "b", "a", "b"][..],
        &["LREM", "f:l", "-2", "b"],
        &["LINSERT", "f:l", "AFTER", "b", "x"],
        &["LINSERT", "f:l", "before", "a", "y"],
        &["LSET", "f:l", "-1", "z"],
        &["LPUSH", "f:l", "p", "q"],
        &["LPUSHX", "f:l", "r"],
        &["RPUSHX", "f:none", "r"],
        &["LTRIM", "f:l", "1", "-2"],
        &["RPUSH", "f:pop", "1", "2", "3", "4", "5"],
        &["LPOP", "f:pop", "2"],
        &["RPOP", "f:pop"],
        &["RPUSH", "f:all", "1", "2"],
        &["RPOP", "f:all", "9"],
        &["RPUSH", "f:rot", "1", "2", "3"],
        &["LMOVE", "f:rot", "f:rot", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "f:rot", "f:dst"],
        &["BLMOVE", "f:rot", "f:dst2", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "f:rot", "f:dst3", "0"],
        &["RPUSH", "f:b", "1", "2", "3"],
        &["BLPOP", "f:none", "f:b", "0"],
        &["LMPOP", "2", "f:none", "f:b", "RIGHT", "COUNT", "5"],
        &["RPUSH", "f:bm", "1", "2", "3"],
        &["BLMPOP", "0", "1", "f:bm", "LEFT", "COUNT", "2"],
        &["RPUSH", "f:trim", "1"],
        &["LTRIM", "f:trim", "1", "0"],
        &["RPUSH", "f:rem", "x", "x"],
        &["LREM", "f:rem", "0", "x"],
    ] {
        commands.push(cmd(fixed));
    }
    on_every_server(&commands);
}

#[test]
fn sets_match_the_servers() {
    let mut rng = XorShift::new(12);
    let mut commands = Vec::new();
    for _ in 0..300 {
        let (k, k2, k3) = (key(&mut rng, "s"), key(&mut rng, "s"), key(&mut rng, "s"));
        let c = match rng.below(10) {
            0..=2 => mk("SADD", vec![k, member(&mut rng), member(&mut rng), member(&mut rng)]),
            3 => mk("SREM", vec![k, member(&mut rng), member(&mut rng)]),
            4 => mk("SMOVE", vec![k, k2, member(&mut rng)]),
            5 => mk("SPOP", if rng.below(2) == 0 { vec![k] } else { vec![k, num(rng.below(4) as i64)] }),
            6 => mk("SINTERSTORE", vec![k, k2, k3]),
            7 => mk("SUNIONSTORE", vec![k, k2, k3]),
            8 => mk("SDIFFSTORE", vec![k, k2, k3]),
            _ => disturb(&mut rng, k, "s"),
        };
        commands.push(c);
    }
    for fixed in [
        &["SADD", "f:a", "1", "2", "3", "x"][..],
        &["SADD", "f:b", "2", "3", "y"],
        &["SREM", "f:b", "y", "nope"],
        &["SINTERSTORE", "f:inter", "f:a", "f:b"],
        &["SUNIONSTORE", "f:union", "f:a", "f:b", "f:none"],
        &["SDIFFSTORE", "f:diff", "f:a", "f:b"],
        &["SET", "f:gone", "v"],
        &["SINTERSTORE", "f:gone", "f:a", "f:none"],
        &["SMOVE", "f:a", "f:moved", "x"],
        &["SADD", "f:one", "1"],
        &["SMOVE", "f:one", "f:moved", "1"],
        &["SADD", "f:spop", "1", "2", "3", "4", "5", "6", "7", "8"],
        &["SPOP", "f:spop"],
        &["SPOP", "f:spop", "3"],
        &["SADD", "f:spop2", "a", "b"],
        &["SPOP", "f:spop2", "5"],
    ] {
        commands.push(cmd(fixed));
    }
    on_every_server(&commands);
}

#[test]
fn sorted_sets_match_the_servers() {
    on_every_server(&zset_commands());
}

/// Random sorted-set commands, then each command and option on keys of its own.
fn zset_commands() -> Vec<Cmd> {
    let mut rng = XorShift::new(13);
    let mut commands = Vec::new();
    for _ in 0..400 {
        let (k, k2, k3) = (key(&mut rng, "z"), key(&mut rng, "z"), key(&mut rng, "z"));
        let c = match rng.below(22) {
            0..=2 => {
                mk("ZADD", vec![k, score(&mut rng), member(&mut rng), score(&mut rng), member(&mut rng)])
            }
            3 => {
                let opts = ["NX", "XX", "GT", "LT", "CH", "INCR"];
                let mut args = vec![k];
                for _ in 0..rng.below(3) {
                    args.push(pick(&mut rng, &opts));
                }
                args.extend([score(&mut rng), member(&mut rng)]);
                mk("ZADD", args)
            }
            4 => mk("ZINCRBY", vec![k, score(&mut rng), member(&mut rng)]),
            5 => mk("ZREM", vec![k, member(&mut rng), member(&mut rng)]),
            6 => mk("ZREMRANGEBYRANK", vec![k, index(&mut rng), index(&mut rng)]),
            7 => mk("ZREMRANGEBYSCORE", vec![k, bound(&mut rng), bound(&mut rng)]),
            8 => mk("ZREMRANGEBYLEX", vec![k, lex(&mut rng), lex(&mut rng)]),
            9 => mk(
                ["ZPOPMIN", "ZPOPMAX"][rng.below(2) as usize],
                if rng.below(2) == 0 { vec![k] } else { vec![k, num(rng.below(4) as i64)] },
            ),
            10 => mk("BZPOPMIN", vec![k, k2, b"0.01".to_vec()]),
            11 => mk(
                "ZMPOP",
                vec![b"2".to_vec(), k, k2, pick(&mut rng, &["MIN", "MAX"]), b"COUNT".to_vec(), num(2)],
            ),
            12 | 13 => {
                let name = ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"][rng.below(3) as usize];
                let mut args = vec![k, num(2), k2, k3];
                if name != "ZDIFFSTORE" {
                    if rng.below(2) == 0 {
                        args.extend([b"WEIGHTS".to_vec(), score(&mut rng), score(&mut rng)]);
                    }
                    if rng.below(2) == 0 {
                        args.extend([b"AGGREGATE".to_vec(), pick(&mut rng, &["SUM", "MIN", "MAX"])]);
                    }
                }
                mk(name, args)
            }
            14 | 15 => {
                let by = rng.below(3);
                let (min, max) = match by {
                    0 => (index(&mut rng), index(&mut rng)),
                    1 => (bound(&mut rng), bound(&mut rng)),
                    _ => (lex(&mut rng), lex(&mut rng)),
                };
                let mut args = vec![k, k2, min, max];
                match by {
                    1 => args.push(b"BYSCORE".to_vec()),
                    2 => args.push(b"BYLEX".to_vec()),
                    _ => {}
                }
                if rng.below(2) == 0 {
                    args.push(b"REV".to_vec());
                }
                if by != 0 && rng.below(2) == 0 {
                    args.extend([
                        b"LIMIT".to_vec(),
                        num(rng.below(4) as i64 - 1),
                        num(rng.below(5) as i64 - 1),
                    ]);
                }
                mk("ZRANGESTORE", args)
            }
            16 => mk("SADD", vec![k, member(&mut rng)]),
            17 => mk(
                "GEOADD",
                vec![
                    k,
                    format!("{}.{}", rng.below(360) as i64 - 180, rng.below(1000)).into_bytes(),
                    format!("{}.{}", rng.below(170) as i64 - 85, rng.below(1000)).into_bytes(),
                    member(&mut rng),
                ],
            ),
            _ => disturb(&mut rng, k, "z"),
        };
        commands.push(c);
    }
    for fixed in [
        &["ZADD", "f:z", "1", "a", "2", "b", "3", "c", "-0", "d", "inf", "e", "-inf", "f"][..],
        &["ZADD", "f:z", "0", "d"],
        &["ZADD", "f:z", "NX", "9", "a", "9", "n"],
        &["ZADD", "f:z", "XX", "CH", "5", "b", "5", "nope"],
        &["ZADD", "f:z", "GT", "1", "c", "8", "c"],
        &["ZADD", "f:z", "LT", "XX", "7", "e"],
        &["ZADD", "f:z", "INCR", "2.5", "a"],
        &["ZINCRBY", "f:z", "-1e3", "b"],
        &["ZINCRBY", "f:z", "inf", "n"],
        &["ZREM", "f:z", "d"],
        // A member longer than 64 bytes makes a skiplist, which keeps -0 (a listpack stores 0).
        // (With short members too, a RESP rewrite's ZADD would need the long one first.)
        &["ZADD", "f:big", "-0", &"x".repeat(70)],
        &["ZINCRBY", "f:big", "-0", &"x".repeat(70)],
        &["ZUNIONSTORE", "f:neg", "1", "f:big", "WEIGHTS", "1"],
        &["ZADD", "f:small", "-0", "a"],
        &["ZINCRBY", "f:small", "-0", "a"],
        &["ZADD", "f:rank", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZREMRANGEBYRANK", "f:rank", "-3", "-2"],
        &["ZADD", "f:score", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZREMRANGEBYSCORE", "f:score", "(1", "3"],
        &["ZADD", "f:lex", "0", "a", "0", "b", "0", "c", "0", "d"],
        &["ZREMRANGEBYLEX", "f:lex", "(a", "[c"],
        &["ZADD", "f:pop", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"],
        &["ZPOPMIN", "f:pop"],
        &["ZPOPMAX", "f:pop", "2"],
        &["BZPOPMAX", "f:none", "f:pop", "0"],
        &["ZMPOP", "1", "f:pop", "MIN", "COUNT", "9"],
        &["ZADD", "f:bz", "1", "a", "2", "b", "3", "c"],
        &["BZMPOP", "0", "1", "f:bz", "MAX", "COUNT", "2"],
        &["ZADD", "f:u1", "1", "a", "2", "b", "inf", "c"],
        &["ZADD", "f:u2", "10", "b", "-inf", "c", "5", "d"],
        &["SADD", "f:s", "a", "d", "x"],
        &["ZUNIONSTORE", "f:union", "3", "f:u1", "f:u2", "f:s", "WEIGHTS", "1", "2", "0.5"],
        &["ZUNIONSTORE", "f:umax", "2", "f:u1", "f:u2", "AGGREGATE", "MAX"],
        &["ZINTERSTORE", "f:inter", "2", "f:u1", "f:u2", "WEIGHTS", "0", "1", "AGGREGATE", "SUM"],
        &["ZINTERSTORE", "f:imin", "3", "f:u1", "f:u2", "f:s", "AGGREGATE", "MIN"],
        &["ZDIFFSTORE", "f:diff", "2", "f:u1", "f:u2"],
        // Sums are added up smallest source first: inf + -inf is 0, then 1 is added.
        &["ZADD", "f:c1", "inf", "m"],
        &["ZADD", "f:c2", "-inf", "m", "1", "x"],
        &["ZADD", "f:c3", "1", "m", "1", "y", "1", "z"],
        &["ZUNIONSTORE", "f:order", "3", "f:c3", "f:c2", "f:c1"],
        &["SET", "f:negoff", "v"],
        &["ZRANGESTORE", "f:negoff", "f:c3", "-inf", "inf", "BYSCORE", "LIMIT", "-1", "2"],
        &["SET", "f:empty", "v"],
        &["ZINTERSTORE", "f:empty", "2", "f:u1", "f:none"],
        &["ZADD", "f:r", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"],
        &["ZRANGESTORE", "f:r1", "f:r", "1", "-2"],
        &["ZRANGESTORE", "f:r2", "f:r", "0", "1", "REV"],
        &["ZRANGESTORE", "f:r3", "f:r", "(1", "inf", "BYSCORE", "LIMIT", "1", "2"],
        &["ZRANGESTORE", "f:r4", "f:r", "4", "(1", "BYSCORE", "REV"],
        &["ZRANGESTORE", "f:r5", "f:lex", "[d", "-", "BYLEX", "REV", "LIMIT", "0", "1"],
        &["GEOADD", "f:geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
        &["GEOADD", "f:geo", "XX", "CH", "-180", "-85.05112878", "Palermo", "180", "85.05112878", "Nowhere"],
        &["GEOADD", "f:geo", "NX", "0", "0", "Origin"],
    ] {
        commands.push(cmd(fixed));
    }
    commands
}
