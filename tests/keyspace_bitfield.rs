//! The keyspace model's `BITFIELD` judged by real servers (see `keyspace_oracle`): random
//! commands on a few colliding keys (other string writes, wrong types and rejected commands
//! included), then each case once on keys of its own.

use crate::keyspace_oracle::{Cmd, cmd, on_every_server};
use crate::support::XorShift;

fn num(n: i128) -> String {
    n.to_string()
}

/// A type, sometimes one the servers refuse.
fn field_type(rng: &mut XorShift) -> (bool, u32, String) {
    match rng.below(30) {
        0 => (false, 64, "u64".into()),
        1 => (true, 65, "i65".into()),
        2 => (true, 0, "i0".into()),
        3 => (true, 8, "I8".into()),
        _ => {
            let signed = rng.below(2) == 0;
            let bits = match rng.below(5) {
                0 => 64 - u32::from(!signed),
                1 => 1,
                2 => 8,
                _ => 1 + rng.below(63) as u32,
            };
            (signed, bits, format!("{}{bits}", if signed { 'i' } else { 'u' }))
        }
    }
}

/// An offset, plain or `#N`, sometimes refused.
fn offset(rng: &mut XorShift) -> String {
    match rng.below(20) {
        0 => "-1".into(),
        1 => "#-1".into(),
        2 => "x".into(),
        3 => (rng.below(2000)).to_string(),
        4..=9 => format!("#{}", rng.below(8)),
        _ => rng.below(80).to_string(),
    }
}

/// A value near the type's limits, the i64 limits or small.
fn value(rng: &mut XorShift, signed: bool, bits: u32) -> String {
    let (min, max) = if signed {
        (-(1i128 << (bits.clamp(1, 64) - 1)), (1i128 << (bits.clamp(1, 64) - 1)) - 1)
    } else {
        (0, (1i128 << bits.min(64)) - 1)
    };
    match rng.below(12) {
        0 => num(max),
        1 => num(min),
        2 => num(max + 1),
        3 => num(min - 1),
        4 => num(i64::MIN.into()),
        5 => num(i64::MAX.into()),
        6 => "-1".into(),
        7 => "1x".into(),
        8 => num(max - rng.below(3) as i128),
        _ => num(rng.below(40) as i128 - 20),
    }
}

/// A random `BITFIELD` on `key` with one to four subcommands.
fn bitfield(rng: &mut XorShift, key: &str) -> Cmd {
    let mut words: Vec<String> = vec!["BITFIELD".into(), key.into()];
    let mut fail = false;
    for _ in 0..1 + rng.below(4) {
        if rng.below(3) == 0 {
            let mode = ["WRAP", "SAT", "FAIL", "sat", "fail", "BOGUS"][rng.below(6) as usize];
            fail |= mode.eq_ignore_ascii_case("FAIL");
            words.extend(["OVERFLOW".into(), mode.into()]);
        }
        let (signed, bits, ty) = field_type(rng);
        let at = offset(rng);
        match rng.below(8) {
            0 | 1 => words.extend(["GET".into(), ty, at]),
            2 | 3 => words.extend(["set".into(), ty, at, value(rng, signed, bits)]),
            4 => words.extend(["GET".into(), ty]),
            _ => words.extend(["INCRBY".into(), ty, at, value(rng, signed, bits)]),
        }
    }
    if fail {
        // When every write fails the servers still grow the string but do not log the command:
        // a write that cannot fail keeps the log complete.
        words.extend(["OVERFLOW", "WRAP", "INCRBY", "u1", "0", "0"].map(String::from));
    }
    words.into_iter().map(String::into_bytes).collect()
}

#[test]
fn bitfield_matches_the_servers() {
    let mut rng = XorShift::new(31);
    let mut commands = Vec::new();
    for _ in 0..400 {
        let key = format!("bf{}", rng.below(4));
        let k = key.as_str();
        let c = match rng.below(14) {
            0 => cmd(&["SET", k, ["abc", "", "\u{ff}\u{ff}", "12345678901"][rng.below(4) as usize]]),
            1 => cmd(&["SETBIT", k, &rng.below(100).to_string(), &rng.below(2).to_string()]),
            2 => cmd(&["APPEND", k, "xy"]),
            3 if rng.below(3) == 0 => cmd(&["DEL", k]),
            4 if rng.below(3) == 0 => cmd(&["RPUSH", k, "a"]),
            _ => bitfield(&mut rng, k),
        };
        commands.push(c);
    }
    // Each case once, on keys of their own.
    let fixed: &[&[&str]] = &[
        &["BITFIELD", "get-only", "GET", "u8", "0", "GET", "i64", "#3"],
        &["BITFIELD", "plain", "SET", "u8", "0", "255", "SET", "i5", "8", "-16", "INCRBY", "u3", "13", "5"],
        &["BITFIELD", "hash", "SET", "i16", "#2", "-2", "INCRBY", "u7", "#3", "100"],
        &["BITFIELD", "wrap", "SET", "i8", "0", "200", "INCRBY", "i8", "0", "100", "SET", "u4", "8", "-1"],
        &[
            "BITFIELD",
            "sat",
            "OVERFLOW",
            "SAT",
            "SET",
            "i8",
            "0",
            "200",
            "SET",
            "i8",
            "8",
            "-9223372036854775808",
        ],
        &["BITFIELD", "sat", "OVERFLOW", "SAT", "SET", "u8", "16", "-1", "INCRBY", "u8", "24", "-5"],
        &[
            "BITFIELD",
            "sat64",
            "OVERFLOW",
            "SAT",
            "SET",
            "i64",
            "3",
            "9223372036854775807",
            "INCRBY",
            "i64",
            "3",
            "1",
        ],
        &[
            "BITFIELD",
            "sat64",
            "OVERFLOW",
            "SAT",
            "INCRBY",
            "i64",
            "80",
            "-9223372036854775808",
            "INCRBY",
            "i64",
            "80",
            "-1",
        ],
        &["BITFIELD", "u63", "SET", "u63", "1", "9223372036854775807", "INCRBY", "u63", "1", "1"],
        &[
            "BITFIELD", "fail", "SET", "u8", "0", "7", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300", "SET",
            "u8", "8", "9",
        ],
        &[
            "BITFIELD",
            "fail-mixed",
            "OVERFLOW",
            "FAIL",
            "INCRBY",
            "i4",
            "100",
            "8",
            "OVERFLOW",
            "WRAP",
            "SET",
            "u1",
            "0",
            "1",
        ],
        &["BITFIELD", "modes", "OVERFLOW", "SAT", "OVERFLOW", "WRAP", "INCRBY", "i3", "0", "5"],
        &["BITFIELD", "empty"],
        &["SET", "grow", "a"],
        &["BITFIELD", "grow", "INCRBY", "u2", "#40", "1", "GET", "u8", "0"],
        &["BITFIELD", "far", "SET", "u1", "100000", "1"],
        &["SET", "same", "\u{7f}"],
        &["BITFIELD", "same", "SET", "i8", "0", "127"],
        &["RPUSH", "list", "a"],
        &["BITFIELD", "list", "GET", "u8", "0"],
        &["BITFIELD", "list", "SET", "u8", "0", "1"],
        &["BITFIELD", "bad", "SET", "u64", "0", "1"],
        &["BITFIELD", "bad", "SET", "u8", "-1", "1"],
        &["BITFIELD", "bad", "SET", "u8", "0", "1", "OVERFLOW", "MAYBE"],
        &["BITFIELD", "bad", "SET", "u8", "0", "1", "GET", "u8"],
        &["BITFIELD", "bad", "SET", "u8", "0", "01"],
        &["BITFIELD_RO", "bad", "SET", "u8", "0", "1"],
        &["BITFIELD_RO", "plain", "GET", "u8", "0"],
    ];
    commands.extend(fixed.iter().map(|c| cmd(c)));
    on_every_server(&commands);
}
