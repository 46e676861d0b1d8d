//! The keyspace model's HyperLogLog commands judged by real servers (see `keyspace_oracle`):
//! `PFADD` of random elements to a few keys (small ones staying sparse, one promoted to
//! dense), `PFMERGE` combinations, `PFCOUNT` (logged when it refreshes the cached
//! cardinality), wrong types and corrupt strings, then a fixed block of edge cases.

use crate::keyspace_oracle::{Cmd, cmd, on_every_server};
use crate::support::XorShift;

/// A command from its name and arguments.
fn mk(name: &str, args: Vec<Vec<u8>>) -> Cmd {
    let mut c = vec![name.as_bytes().to_vec()];
    c.extend(args);
    c
}

/// A random element: short text, binary of every tail length, sometimes long.
fn element(rng: &mut XorShift) -> Vec<u8> {
    match rng.below(4) {
        0 => format!("e{}", rng.below(5000)).into_bytes(),
        1 => {
            let len = rng.below(24) as usize;
            rng.bytes(len)
        }
        2 => vec![b'x'; 30 + rng.below(100) as usize],
        _ => rng.below(100_000).to_string().into_bytes(),
    }
}

/// MurmurHash2 64-bit with the servers' seed, only to choose elements by register.
fn register_of(data: &[u8]) -> usize {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    let mut h = 0xadc8_3b19 ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes(w.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> 47;
        h = (h ^ k.wrapping_mul(M)).wrapping_mul(M);
    }
    if !words.remainder().is_empty() {
        for (i, b) in words.remainder().iter().enumerate() {
            h ^= u64::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 47;
    h = h.wrapping_mul(M);
    ((h ^ (h >> 47)) & 16383) as usize
}

/// `n` elements whose registers fall below `below`.
fn crowded(below: usize, n: usize) -> Vec<Vec<u8>> {
    (0..).map(|i| format!("c{i}").into_bytes()).filter(|e| register_of(e) < below).take(n).collect()
}

/// A dense HyperLogLog string with register `reg` set to `value` (cache valid, zero).
fn dense_with(reg: usize, value: u8) -> Vec<u8> {
    let mut s = b"HYLL\x00\x00\x00\x00".to_vec();
    s.extend_from_slice(&[0; 8]);
    let mut regs = vec![0u8; 12288];
    let (byte, fb) = (reg * 6 / 8, reg * 6 % 8);
    let v = u16::from(value) << fb;
    regs[byte] |= v as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next |= (v >> 8) as u8;
    }
    s.extend(regs);
    s
}

#[test]
fn hyperloglogs_match_the_servers() {
    let mut rng = XorShift::new(29);
    let mut commands = Vec::new();
    // The big key: thousands of elements, promoted to dense on the way.
    for _ in 0..60 {
        let elements = (0..60).map(|_| element(&mut rng)).collect();
        commands.push(mk("PFADD", [vec![b"big".to_vec()], elements].concat()));
        if rng.below(3) == 0 {
            commands.push(cmd(&["PFCOUNT", "big"]));
        }
    }
    // Growing sparse keys, copied at every size (up to promotion past 3000 bytes), and one
    // crowded into the first registers so that runs split and merge.
    // Batches first, then one element at a time around the promotion (about 1700
    // elements), each size copied.
    for step in 0..500 {
        let n = if step < 14 { 100 } else { 1 };
        let elements = (0..n).map(|i| format!("g{step}-{i}").into_bytes()).collect();
        commands.push(mk("PFADD", [vec![b"grow".to_vec()], elements].concat()));
        commands.push(mk("COPY", vec![b"grow".to_vec(), format!("grow:{step}").into_bytes()]));
    }
    let crowded = crowded(400, 600);
    for (step, chunk) in crowded.chunks(7).enumerate() {
        commands.push(mk("PFADD", [vec![b"crowd".to_vec()], chunk.to_vec()].concat()));
        if step % 10 == 0 {
            commands.push(mk("COPY", vec![b"crowd".to_vec(), format!("crowd:{step}").into_bytes()]));
            commands.push(mk("PFMERGE", vec![format!("crowdm:{step}").into_bytes(), b"crowd".to_vec()]));
        }
    }
    let keys = ["h0", "h1", "h2", "big", "missing", "plain", "list"];
    let pick = |rng: &mut XorShift| keys[rng.below(keys.len() as u64) as usize].as_bytes().to_vec();
    commands.push(cmd(&["SET", "plain", "not an hll"]));
    commands.push(cmd(&["RPUSH", "list", "a"]));
    for _ in 0..400 {
        let c = match rng.below(10) {
            0..=4 => {
                let key = format!("h{}", rng.below(3)).into_bytes();
                let n = rng.below(6) as usize;
                let elements = (0..n).map(|_| element(&mut rng)).collect();
                mk("PFADD", [vec![key], elements].concat())
            }
            5 | 6 => {
                let n = 1 + rng.below(3) as usize;
                let sources = (0..n).map(|_| pick(&mut rng)).collect();
                let dest = if rng.below(2) == 0 {
                    format!("m{}", rng.below(3)).into_bytes()
                } else {
                    pick(&mut rng)
                };
                mk("PFMERGE", [vec![dest], sources].concat())
            }
            7 => mk("PFCOUNT", vec![pick(&mut rng)]),
            8 => mk("PFCOUNT", vec![pick(&mut rng), pick(&mut rng)]),
            _ => mk("PFADD", vec![pick(&mut rng), element(&mut rng)]),
        };
        commands.push(c);
    }
    for k in ["h0", "h1", "h2", "big", "m0", "m1", "m2"] {
        commands.push(cmd(&["PFCOUNT", k]));
    }
    commands.extend(fixed());
    on_every_server(&commands);
}

/// Each case once, on keys of its own.
fn fixed() -> Vec<Cmd> {
    let mut c = vec![
        // Creation with no elements, then nothing to add.
        cmd(&["PFADD", "f:empty"]),
        cmd(&["PFADD", "f:empty"]),
        cmd(&["PFCOUNT", "f:empty"]),
        cmd(&["PFCOUNT", "f:empty"]),
        cmd(&["PFCOUNT", "f:none"]),
        // Expiry kept across a write.
        cmd(&["PFADD", "f:ttl", "a", "b"]),
        cmd(&["PEXPIREAT", "f:ttl", "4102444800000"]),
        cmd(&["PFADD", "f:ttl", "c", "d", "e"]),
        cmd(&["PFMERGE", "f:ttl", "f:empty"]),
        cmd(&["PFCOUNT", "f:ttl"]),
        // Merging only missing keys creates an empty one.
        cmd(&["PFMERGE", "f:new", "f:none1", "f:none2"]),
        cmd(&["PFMERGE", "f:new2"]),
        // Dense by encoding change, then merged into sparse and new keys.
        cmd(&["PFADD", "f:dense", "a", "b", "c"]),
        cmd(&["PFDEBUG", "TODENSE", "f:dense"]),
        cmd(&["PFDEBUG", "TODENSE", "f:dense"]),
        cmd(&["PFADD", "f:getreg", "x"]),
        cmd(&["PFDEBUG", "GETREG", "f:getreg"]),
        cmd(&["PFADD", "f:sparse", "q", "r"]),
        cmd(&["PFCOUNT", "f:sparse"]),
        cmd(&["PFMERGE", "f:sparse", "f:dense"]),
        cmd(&["PFMERGE", "f:fromdense", "f:dense", "f:ttl"]),
        cmd(&["PFADD", "f:dense", "d", "e"]),
        cmd(&["PFCOUNT", "f:dense"]),
        // Wrong types and strings that are not HyperLogLogs.
        cmd(&["SET", "f:str", "hello"]),
        cmd(&["PFADD", "f:str", "a"]),
        cmd(&["PFMERGE", "f:str", "f:dense"]),
        cmd(&["PFMERGE", "f:x", "f:str"]),
        cmd(&["PFCOUNT", "f:str"]),
        cmd(&["SADD", "f:set", "a"]),
        cmd(&["PFADD", "f:set", "a"]),
        cmd(&["PFMERGE", "f:set", "f:dense"]),
        cmd(&["SET", "f:int", "12345678901234567"]),
        cmd(&["PFADD", "f:int", "a"]),
    ];
    // A register above 32: a sparse destination is promoted.
    c.push(vec![b"SET".to_vec(), b"f:high".to_vec(), dense_with(100, 40)]);
    c.push(cmd(&["PFADD", "f:promote", "a"]));
    c.push(cmd(&["PFMERGE", "f:promote", "f:high"]));
    c.push(cmd(&["PFADD", "f:promote2", "a"]));
    c.push(cmd(&["PFMERGE", "f:promote2", "f:promote2"]));
    c.push(cmd(&["PFCOUNT", "f:high"]));
    c.push(cmd(&["PFCOUNT", "f:high", "f:promote"]));
    // The last register of a dense string.
    c.push(vec![b"SET".to_vec(), b"f:last".to_vec(), dense_with(16383, 7)]);
    c.push(cmd(&["PFADD", "f:last", "z"]));
    c.push(cmd(&["PFCOUNT", "f:last"]));
    // A corrupt sparse string: its runs stop one register short.
    let mut short = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    short.extend_from_slice(&[0x7f, 0xfe]);
    c.push(vec![b"SET".to_vec(), b"f:short".to_vec(), short]);
    for e in ["a", "b", "c", "d"] {
        c.push(cmd(&["PFADD", "f:short", e]));
    }
    c.push(cmd(&["PFCOUNT", "f:short"]));
    c.push(cmd(&["PFMERGE", "f:y", "f:short"]));
    c
}
