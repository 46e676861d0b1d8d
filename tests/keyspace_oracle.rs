//! The keyspace model judged by real servers: commands are run on a server with an AOF; the
//! AOF the server wrote is applied to the keyspace; the keyspace, written as RDB and as RESP,
//! loads in a fresh server with the same `DEBUG DIGEST` and saves the same content.

use aoftool::dataset::Item;
use aoftool::emit::RespWriter;
use aoftool::keyspace::{Applier, Keyspace};
use aoftool::rdb::write::expect::read_back;
use aoftool::rdb::write::{FileOptions, Lossy, Target, ValueWriter};
use aoftool::rdb::{Reader, Value};
use aoftool::rewrite::{Inputs, write_rdb, write_resp};

use crate::support::XorShift;
use crate::support::server::{self, Aof, Kind, Reply, Server};

/// One command: its arguments, the name first.
pub(crate) type Cmd = Vec<Vec<u8>>;

/// Builds a command from text words.
pub(crate) fn cmd(words: &[&str]) -> Cmd {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// Every key and library of an RDB file, keys sorted and values canonically ordered.
fn content(rdb: &[u8]) -> Vec<Item<'static>> {
    let mut items = read_back(rdb).unwrap();
    items.sort_by_key(|i| match i {
        Item::Key(e) => (1, e.db, e.key.to_vec()),
        other => (0, 0, format!("{other:?}").into_bytes()),
    });
    items
}

/// Consumer seen and active times: the log does not carry them exactly, and a replay sets them
/// to its own time.
fn without_consumer_times(mut items: Vec<Item<'static>>) -> Vec<Item<'static>> {
    for item in &mut items {
        if let Item::Key(e) = item
            && let Value::Stream(s) = &mut e.value
        {
            for c in s.groups.iter_mut().flat_map(|g| g.consumers.iter_mut()) {
                c.seen_time_ms = 0;
                c.active_time_ms = c.active_time_ms.map(|_| 0);
            }
        }
    }
    items
}

/// `items` as a RESP replay rebuilds them: without the pending entries and remembered
/// idempotent ids whose stream entry is gone, and with the idempotent-id counters a replay
/// gives (the ids it records, no duplicates); and how many of each were changed (pending
/// entries, idempotent ids, streams whose counters changed).
fn as_replayed(mut items: Vec<Item<'static>>) -> (Vec<Item<'static>>, (u64, u64, u64)) {
    let mut lost = (0, 0, 0);
    for item in &mut items {
        if let Item::Key(e) = item
            && let Value::Stream(s) = &mut e.value
        {
            let live: std::collections::HashSet<_> = s.entries.iter().map(|e| e.id).collect();
            for g in &mut s.groups {
                let before = g.pending.len();
                g.pending.retain(|p| live.contains(&p.id));
                lost.0 += (before - g.pending.len()) as u64;
                for c in &mut g.consumers {
                    c.pending.retain(|id| live.contains(id));
                }
            }
            if let Some(idmp) = &mut s.idmp {
                let mut recorded = 0;
                for p in &mut idmp.producers {
                    let before = p.entries.len();
                    p.entries.retain(|(_, id)| live.contains(id));
                    lost.1 += (before - p.entries.len()) as u64;
                    recorded += p.entries.len() as u64;
                }
                idmp.producers.retain(|p| !p.entries.is_empty());
                if (idmp.iids_added, idmp.iids_duplicates) != (recorded, 0) {
                    lost.2 += 1;
                    (idmp.iids_added, idmp.iids_duplicates) = (recorded, 0);
                }
            }
        }
    }
    (items, lost)
}

/// Runs `commands` on a fresh `kind` with an AOF, then checks that the keyspace built from
/// that AOF writes an RDB file and RESP commands that load in fresh servers with the same
/// digest and content. Commands the server rejects are fine (they are not logged).
pub(crate) fn differential(kind: Kind, commands: &[Cmd]) -> Result<(), String> {
    differential_replies(kind, commands).map(drop)
}

/// [`differential`], returning the server's reply to each command (to check that the commands
/// a test is about were accepted).
pub(crate) fn differential_replies(kind: Kind, commands: &[Cmd]) -> Result<Vec<Reply>, String> {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--appenddirname",
        "aof",
        "--aof-timestamp-enabled",
        "yes",
        "--auto-aof-rewrite-percentage",
        "0",
    ];
    let mut origin = Server::start(kind, dir.path(), &args).map_err(|f| f.to_string())?;
    let replies: Vec<Reply> = commands.iter().map(|c| origin.command(c)).collect();
    let digest = origin.digest();
    let aof = dir.path().join("aof");
    if std::env::var_os("DEBUG_KEEP_AOF").is_some() {
        let _ =
            std::process::Command::new("cp").args(["-r", aof.to_str().unwrap(), "/tmp/kept-aof"]).status();
    }
    let inputs = Inputs::open(&aof).map_err(|e| e.to_string())?;
    // The test knows which server wrote the log, as a user can say with `--written-by`.
    let mut keyspace = Keyspace::new();
    keyspace.claims_create_consumers = Some(kind != Kind::Redis7);
    let mut applier = Applier::new(keyspace, 0);
    inputs.apply(&mut applier, 0, &|_| {}).map_err(|e| format!("applying the server's AOF: {e}"))?;
    let keyspace = applier.finish();
    drop(origin);
    // What the server itself loads from its AOF is the reference: a live server can hold what
    // it never logs (Redis 8.6 does not log a consumer that `XREADGROUP` created without
    // delivering anything to it).
    let (reloaded, reference) =
        server::load_aof_and_save(kind, Aof::Dir(&aof), false).map_err(|f| f.to_string())?;
    if reloaded != digest {
        return Err(format!("the server's own AOF reloads with digest {reloaded}, the server had {digest}"));
    }

    let native = Target::for_input(Reader::new(&reference).ok().map(|r| r.header()));
    let values = ValueWriter::new(native, Lossy::default());
    let mut rdb = Vec::new();
    write_rdb(&keyspace, values.clone(), FileOptions::default(), None, &mut rdb)
        .map_err(|e| e.to_string())?;
    let (ours, ours_saved) = server::load_rdb_and_save(kind, &rdb).map_err(|f| f.to_string())?;
    if ours != digest {
        return Err(format!("RDB from the keyspace: digest {ours}, the server had {digest}"));
    }
    // Consumer seen/active times are not in the log exactly (creations without a time,
    // a seen time set a moment before the logged delivery time): not compared.
    let want = without_consumer_times(content(&reference));
    let got = without_consumer_times(content(&ours_saved));
    if want != got {
        return Err(first_difference("RDB from the keyspace", &want, &got));
    }
    let mut resp = Vec::new();
    let written =
        write_resp(&keyspace, &RespWriter::new(values, false), None, &mut resp).map_err(|e| e.to_string())?;
    let (replayed, replayed_saved) = server::replay_resp(kind, &resp)?;
    if replayed != digest {
        return Err(format!("RESP from the keyspace: digest {replayed}, the server had {digest}"));
    }
    // RESP cannot carry everything (see `as_replayed`); the writer says what it left out, and
    // exactly that must be all that differs.
    let (want, lost) = as_replayed(want);
    let adj = &written.adjustments;
    let reported = (adj.pending_entries_dropped, adj.idempotent_ids_dropped, adj.idempotent_counters_reset);
    if reported != lost {
        return Err(format!(
            "RESP from the keyspace: reported lost (pending entries, idempotent ids, streams' \
             idempotent counters) {reported:?}, but {lost:?} cannot be replayed"
        ));
    }
    let got = without_consumer_times(content(&replayed_saved));
    if want != got {
        return Err(first_difference("RESP from the keyspace", &want, &got));
    }
    Ok(replies)
}

fn first_difference(what: &str, want: &[Item<'static>], got: &[Item<'static>]) -> String {
    let at = want.iter().zip(got).position(|(w, g)| w != g).unwrap_or(want.len().min(got.len()));
    format!(
        "{what}: {} items, the server had {}; first difference:\n server: {:?}\n ours:   {:?}",
        got.len(),
        want.len(),
        want.get(at),
        got.get(at)
    )
}

/// Runs [`differential`] on every installed server.
pub(crate) fn on_every_server(commands: &[Cmd]) {
    for kind in Kind::ALL {
        if !server::available(kind, false) {
            eprintln!("skipping {}: not installed", kind.name());
            continue;
        }
        if let Err(e) = differential(kind, commands) {
            panic!("{}: {e}", kind.name());
        }
    }
}

/// A random key from a small set (so commands collide), sometimes binary.
pub(crate) fn key(rng: &mut XorShift, prefix: &str) -> Vec<u8> {
    let mut k = format!("{prefix}{}", rng.below(6)).into_bytes();
    if rng.below(8) == 0 {
        k.extend_from_slice(b"\x00\xff");
    }
    k
}

/// A random short value: numbers, text, binary, sometimes long.
pub(crate) fn value(rng: &mut XorShift) -> Vec<u8> {
    match rng.below(6) {
        0 => (rng.below(200) as i64 - 100).to_string().into_bytes(),
        1 => {
            let len = rng.below(8) as usize;
            rng.bytes(len)
        }
        2 => vec![b'x'; 100 + rng.below(200) as usize],
        3 => u64::MAX.to_string().into_bytes(),
        _ => format!("v{}", rng.below(20)).into_bytes(),
    }
}

/// Far-future absolute times, in ms, so nothing expires during a test.
pub(crate) fn far_ms(rng: &mut XorShift) -> String {
    (4_102_444_800_000 + rng.below(1_000_000)).to_string()
}

#[test]
fn strings_and_keys_match_the_servers() {
    let mut rng = XorShift::new(7);
    let mut commands = Vec::new();
    for round in 0..600 {
        let k = key(&mut rng, "s");
        let k2 = key(&mut rng, "s");
        let v = value(&mut rng);
        let c: Cmd = match rng.below(22) {
            0 => vec![b"SET".to_vec(), k, v],
            1 => vec![b"SET".to_vec(), k, v, b"PX".to_vec(), b"100000000".to_vec()],
            2 => vec![b"SET".to_vec(), k, v, b"NX".to_vec(), b"GET".to_vec()],
            3 => vec![b"SET".to_vec(), k, v, b"XX".to_vec(), b"KEEPTTL".to_vec()],
            4 => vec![b"APPEND".to_vec(), k, v],
            5 => vec![b"INCRBY".to_vec(), k, (rng.below(100) as i64 - 50).to_string().into_bytes()],
            6 => vec![b"DECR".to_vec(), k],
            7 => vec![b"SETRANGE".to_vec(), k, rng.below(40).to_string().into_bytes(), v],
            8 => vec![
                b"SETBIT".to_vec(),
                k,
                rng.below(300).to_string().into_bytes(),
                (rng.below(2)).to_string().into_bytes(),
            ],
            9 => vec![
                b"BITOP".to_vec(),
                [&b"AND"[..], b"OR", b"XOR"][rng.below(3) as usize].to_vec(),
                k,
                k2.clone(),
                k2,
            ],
            10 => vec![b"BITOP".to_vec(), b"NOT".to_vec(), k, k2],
            11 => vec![b"DEL".to_vec(), k, k2],
            12 => vec![b"EXPIRE".to_vec(), k, "100000".into()],
            13 => vec![
                b"PEXPIREAT".to_vec(),
                k,
                far_ms(&mut rng).into_bytes(),
                [&b"NX"[..], b"XX", b"GT", b"LT"][rng.below(4) as usize].to_vec(),
            ],
            14 => vec![b"PERSIST".to_vec(), k],
            15 => vec![b"RENAME".to_vec(), k, k2],
            16 => vec![b"RENAMENX".to_vec(), k, k2],
            17 => vec![
                b"COPY".to_vec(),
                k,
                k2,
                b"DB".to_vec(),
                rng.below(3).to_string().into_bytes(),
                b"REPLACE".to_vec(),
            ],
            18 => vec![b"MOVE".to_vec(), k, rng.below(3).to_string().into_bytes()],
            19 => vec![b"SELECT".to_vec(), rng.below(3).to_string().into_bytes()],
            20 => vec![b"GETEX".to_vec(), k, b"EX".to_vec(), b"5000".to_vec()],
            _ => match round % 3 {
                0 => vec![b"MSET".to_vec(), k, v.clone(), k2, v],
                1 => vec![b"INCRBYFLOAT".to_vec(), k, b"1.5".to_vec()],
                _ => vec![b"GETSET".to_vec(), k, v],
            },
        };
        commands.push(c);
    }
    // Each command once more on keys of its own, so that none is hidden by later writes.
    for fixed in [
        &["SETBIT", "f:bit", "13", "1"][..],
        &["SETRANGE", "f:range", "5", "ab"],
        &["APPEND", "f:append", "x"],
        &["APPEND", "f:append", "y"],
        &["INCRBY", "f:n", "-7"],
        &["SET", "f:a", "\x0f\x70"],
        &["BITOP", "XOR", "f:xor", "f:a", "f:bit"],
        &["SET", "f:ttl", "v", "PXAT", "4102444800123"],
        &["SET", "f:keep", "v", "EX", "1000"],
        &["SET", "f:keep", "w", "KEEPTTL"],
        &["COPY", "f:ttl", "f:copy"],
        &["RENAME", "f:copy", "f:renamed"],
        &["MSETNX", "f:m1", "1", "f:m2", "2"],
        &["SETNX", "f:nx", "1"],
    ] {
        commands.push(cmd(fixed));
    }
    commands.push(cmd(&["SWAPDB", "0", "1"]));
    commands.push(cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
    ]));
    commands.push(cmd(&["SELECT", "2"]));
    commands.push(cmd(&["FLUSHDB"]));
    commands.push(cmd(&["MULTI"]));
    commands.push(cmd(&["SET", "tx", "1"]));
    commands.push(cmd(&["INCR", "tx"]));
    commands.push(cmd(&["EXEC"]));
    on_every_server(&commands);
}

/// Long runs of commands on one key each — applied on two threads, each to its hash half of
/// the keyspace — between commands that need the whole keyspace.
#[test]
fn long_runs_of_single_key_commands_match_the_servers() {
    let mut rng = XorShift::new(11);
    let mut commands = Vec::new();
    for block in 0..8 {
        for _ in 0..400 {
            let n = rng.below(300);
            let key = |kind: &str| format!("{kind}{n}").into_bytes();
            let v = value(&mut rng);
            let c: Cmd = match rng.below(16) {
                0 => vec![b"SET".to_vec(), key("s"), v],
                1 => vec![b"INCRBY".to_vec(), key("n"), rng.below(100).to_string().into_bytes()],
                2 => vec![b"APPEND".to_vec(), key("s"), v],
                3 => vec![b"EXPIRE".to_vec(), key("s"), b"100000".to_vec()],
                4 => vec![b"LPUSH".to_vec(), key("l"), v],
                5 => vec![b"RPOP".to_vec(), key("l")],
                6 => vec![b"SADD".to_vec(), key("set"), v],
                7 => vec![b"SREM".to_vec(), key("set"), v],
                8 => vec![b"ZADD".to_vec(), key("z"), rng.below(50).to_string().into_bytes(), v],
                9 => vec![b"ZINCRBY".to_vec(), key("z"), b"1.5".to_vec(), v],
                10 => vec![b"HSET".to_vec(), key("h"), v.clone(), v],
                11 => vec![b"HINCRBY".to_vec(), key("h"), b"count".to_vec(), b"2".to_vec()],
                12 => vec![b"PFADD".to_vec(), key("hll"), v],
                // Redis 8 only (the others refuse them, so they are not logged).
                13 => cmd(&["XADD", &format!("x{n}"), "DELREF", "MAXLEN", "5", "IDMP", "p"])
                    .into_iter()
                    .chain([format!("m{}", rng.below(9)).into_bytes(), b"*".to_vec(), b"f".to_vec(), v])
                    .collect(),
                14 => cmd(&["XCFGSET", &format!("x{n}"), "IDMP-MAXSIZE", "3"]),
                _ => vec![b"DEL".to_vec(), key(["s", "l", "set", "z", "h", "x"][rng.below(6) as usize])],
            };
            commands.push(c);
        }
        let (a, b) = (format!("s{}", rng.below(300)), format!("s{}", rng.below(300)));
        match block % 4 {
            0 => {
                commands.push(cmd(&["SET", &a, "renamed"]));
                commands.push(cmd(&["RENAME", &a, &b]));
            }
            1 => {
                commands.push(cmd(&["MULTI"]));
                commands.push(cmd(&["INCR", "n1"]));
                commands.push(cmd(&["SADD", "set1", "in a transaction"]));
                commands.push(cmd(&["EXEC"]));
            }
            2 => commands.push(cmd(&["SWAPDB", "0", "1"])),
            _ => commands.push(cmd(&["SELECT", if block == 3 { "1" } else { "0" }])),
        }
    }
    on_every_server(&commands);
}

#[test]
fn an_unknown_command_stops_with_its_name_and_offset() {
    let aof = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$4\r\nEVAL\r\n$1\r\nx\r\n";
    let mut applier = Applier::new(Keyspace::new(), 0);
    let e = applier.load_file(aof, 0, &|_| {}).unwrap_err();
    assert_eq!(e.offset(), 27);
    assert!(e.to_string().contains("EVAL"), "{e}");
}

#[test]
fn command_names_are_matched_in_any_case_every_time() {
    let aof = b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$4\r\nIncr\r\n$1\r\nn\r\n\
                *2\r\n$4\r\nIncr\r\n$1\r\nn\r\n*3\r\n$6\r\nAPPEND\r\n$1\r\nk\r\n$1\r\nw\r\n\
                *2\r\n$4\r\neval\r\n$1\r\nx\r\n";
    let mut applier = Applier::new(Keyspace::new(), 0);
    let e = applier.load_file(aof, 0, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("EVAL") && e.to_string().contains("does not know"), "{e}");
    let keyspace = applier.finish();
    let string = |key: &[u8]| match keyspace.get(0, key).map(|slot| slot.val.to_value()) {
        Some(aoftool::rdb::Value::String(s)) => s.to_vec(),
        other => panic!("{other:?}"),
    };
    assert_eq!(string(b"k"), b"vw");
    assert_eq!(string(b"n"), b"2");
}
