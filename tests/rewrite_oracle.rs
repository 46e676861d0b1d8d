//! `aoftool rewrite` judged by real servers: AOFs written by Redis 7.0, Redis 8.6 and Valkey
//! 9.1 (plain, RDB preamble, multi-part with AOF and RDB bases), rewritten in every form, load
//! with the digest of the original; the aof form is no larger than the server's own
//! BGREWRITEAOF.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::fixtures::testdata;
use crate::support::server::{self, Aof, Kind, Reply, Server};

const AOFS: [&str; 4] = ["plain.aof", "preamble.aof", "aof-multipart", "aof-multipart-rdb"];

/// Each server with its fixtures and its native RDB format (a plain AOF does not say which
/// server wrote it, and Valkey's hash field TTLs need its own format).
fn fixtures() -> Vec<(Kind, &'static str, &'static str)> {
    [(Kind::Redis7, "redis7", "10"), (Kind::Redis8, "redis8", "13"), (Kind::Valkey9, "valkey9", "valkey80")]
        .into_iter()
        .filter(|(kind, _, _)| server::available(*kind, false))
        .collect()
}

/// Runs `aoftool rewrite input -o output --format form [extra]`.
fn rewrite(input: &Path, output: &Path, form: &str, extra: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_aoftool"))
        .arg("rewrite")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(["--format", form])
        .args(extra)
        .status()
        .unwrap();
    assert!(status.success(), "rewrite {} --format {form} failed", input.display());
}

/// The digest the server reported for a fixture (`aof-multipart-rdb` holds the data of
/// `preamble.aof`, see testdata/gen.py).
fn digest_of(dir: &Path, name: &str) -> server::Digest {
    let name = match name.trim_end_matches(".aof") {
        "aof-multipart-rdb" => "preamble",
        other => other,
    };
    server::Digest(fs::read_to_string(dir.join(format!("{name}.digest"))).unwrap().trim().to_string())
}

/// Rewrites `input` in every form (with `extra` options) and checks that each loads in `kind`
/// with digest `want`; `what` names the input in messages.
fn check_every_form(kind: Kind, input: &Path, want: &server::Digest, extra: &[&str], what: &str) {
    let out = tempfile::tempdir().unwrap();
    for (form, file) in
        [("aof", "out.aof"), ("rdb", "out.rdb"), ("preamble", "out-preamble.aof"), ("multipart", "dir")]
    {
        let output = out.path().join(file);
        rewrite(input, &output, form, extra);
        let got = match form {
            "rdb" => server::load_rdb(kind, &fs::read(&output).unwrap()),
            "multipart" => server::load_aof(kind, Aof::Dir(&output), false),
            _ => server::load_aof(kind, Aof::File(&fs::read(&output).unwrap()), false),
        };
        assert_eq!(got.unwrap_or_else(|f| panic!("{what} as {form}: {f}")), *want, "{what} as {form}");
    }
}

#[test]
fn every_fixture_aof_rewrites_to_every_form_with_the_same_digest() {
    for (kind, dir_name, version) in fixtures() {
        let dir = testdata().join(dir_name);
        for name in AOFS {
            let what = format!("{dir_name}/{name}");
            check_every_form(
                kind,
                &dir.join(name),
                &digest_of(&dir, name),
                &["--rdb-version", version],
                &what,
            );
        }
    }
}

/// A Redis 8.6 multi-part AOF with an RDB base (written by `BGREWRITEAOF` half way through a
/// workload of every type, field TTLs, Redis 8 stream and string commands, several databases
/// and a transaction) rewrites to every form with the digest of the data, the aof form no
/// larger than the server's own rewrite.
#[test]
fn a_redis8_aof_with_an_rdb_base_rewrites_to_every_form() {
    if !server::available(Kind::Redis8, false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appenddirname", "aof", "--aof-use-rdb-preamble", "yes"];
    let mut srv = Server::start(Kind::Redis8, dir.path(), &args).unwrap();
    let workload = |srv: &mut Server, round: u32| {
        for i in 0..50u32 {
            let k = |t: &str| format!("{t}{round}:{}", i % 7);
            let ms = (4_102_444_800_000u64 + u64::from(i)).to_string();
            let commands: [&[&str]; 14] = [
                &["SET", &k("s"), &format!("v{i}"), "PXAT", &ms],
                &["SET", &k("s"), "w", "IFNE", "v3"],
                &["RPUSH", &k("l"), "a", &i.to_string()],
                &["SADD", &k("t"), &i.to_string(), "x"],
                &["ZADD", &k("z"), &format!("{}.5", i), &format!("m{i}")],
                &["HSET", &k("h"), &format!("f{i}"), "1", "g", "2"],
                &["HPEXPIREAT", &k("h"), &ms, "FIELDS", "1", "g"],
                &["XADD", &k("x"), "DELREF", "MAXLEN", "5", "*", "f", "v"],
                &["XGROUP", "CREATE", &k("x"), "g", "0"],
                &["XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", &k("x"), ">"],
                &["SELECT", "3"],
                &["INCRBY", &k("n"), "5"],
                &["SELECT", "0"],
                &["PFADD", &k("p"), &format!("e{i}")],
            ];
            for c in commands {
                srv.command(c);
            }
        }
        for c in [&["MULTI"][..], &["SET", "tx", "1"], &["LPUSH", "txl", "a"], &["EXEC"]] {
            srv.command(c);
        }
    };
    workload(&mut srv, 0);
    rewrite_aof(&mut srv);
    workload(&mut srv, 1);
    drop(srv);
    let aof = dir.path().join("aof");
    let base_is_rdb =
        fs::read_dir(&aof).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".base.rdb"));
    assert!(base_is_rdb, "the server wrote no RDB base");
    let want = server::load_aof(Kind::Redis8, Aof::Dir(&aof), false).unwrap();
    check_every_form(Kind::Redis8, &aof, &want, &[], "a Redis 8.6 multi-part AOF");
    let out = tempfile::tempdir().unwrap();
    let ours = out.path().join("out.aof");
    rewrite(&aof, &ours, "aof", &[]);
    let (ours, theirs) = (fs::read(&ours).unwrap().len(), server_rewrite(Kind::Redis8, &aof).len());
    assert!(ours <= theirs, "ours {ours} bytes, the server's BGREWRITEAOF {theirs} bytes");
}

/// Runs `BGREWRITEAOF` on `srv` and waits until it is done.
fn rewrite_aof(srv: &mut Server) {
    srv.command(&["BGREWRITEAOF"]);
    let started = Instant::now();
    loop {
        let Reply::Bulk(Some(info)) = srv.command(&["INFO", "persistence"]) else { panic!("INFO") };
        let info = String::from_utf8(info).unwrap();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "BGREWRITEAOF did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The server's own rewrite of `aof` with `aof-use-rdb-preamble no`: the base file it writes.
fn server_rewrite(kind: Kind, aof: &Path) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("appendonlydir");
    fs::create_dir(&src).unwrap();
    for entry in fs::read_dir(aof).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), src.join(entry.file_name())).unwrap();
    }
    let args = ["--appendonly", "yes", "--appenddirname", "appendonlydir", "--aof-use-rdb-preamble", "no"];
    let mut srv = Server::start(kind, dir.path(), &args).unwrap();
    rewrite_aof(&mut srv);
    let base: PathBuf = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".base.aof"))
        .expect("a base AOF after the rewrite");
    fs::read(base).unwrap()
}

#[test]
fn the_aof_form_is_no_larger_than_the_servers_own_rewrite() {
    for (kind, dir_name, _) in fixtures() {
        let input = testdata().join(dir_name).join("aof-multipart");
        let out = tempfile::tempdir().unwrap();
        let ours = out.path().join("out.aof");
        rewrite(&input, &ours, "aof", &[]);
        let ours = fs::read(&ours).unwrap();
        let theirs = server_rewrite(kind, &input);
        assert!(
            ours.len() <= theirs.len(),
            "{dir_name}: ours {} bytes, the server's BGREWRITEAOF {} bytes",
            ours.len(),
            theirs.len()
        );
    }
}

/// Redis 8's vector sets (a module type) in an RDB base pass through every form untouched and
/// load with the digest of the data; a `VADD` in the log after them stops the rewrite by name.
#[test]
fn redis8_vector_sets_in_an_rdb_base_pass_through() {
    if !server::available(Kind::Redis8, false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appenddirname", "aof", "--aof-use-rdb-preamble", "yes"];
    let mut srv = Server::start(Kind::Redis8, dir.path(), &args).unwrap();
    for c in [
        &["VADD", "vs", "VALUES", "3", "0.1", "0.2", "0.3", "a"][..],
        &["VADD", "vs", "VALUES", "3", "0.5", "-0.2", "0.9", "b", "SETATTR", "{\"x\":1}"],
        &["SET", "k", "v"],
    ] {
        assert!(!matches!(srv.command(c), Reply::Error(_)), "{c:?}");
    }
    rewrite_aof(&mut srv);
    srv.command(&["SET", "k2", "v2"]);
    drop(srv);
    let aof = dir.path().join("aof");
    let want = server::load_aof(Kind::Redis8, Aof::Dir(&aof), false).unwrap();
    check_every_form(Kind::Redis8, &aof, &want, &[], "a Redis 8.6 AOF with a vector set in its base");

    let incr = fs::read_dir(&aof)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .unwrap();
    let mut log = fs::read(&incr).unwrap();
    // VADD vs VALUES 3 0.1 0.1 0.1 c
    log.extend_from_slice(
        b"*8\r\n$4\r\nVADD\r\n$2\r\nvs\r\n$6\r\nVALUES\r\n$1\r\n3\r\n$3\r\n0.1\r\n$3\r\n0.1\r\n$3\r\n0.1\r\n$1\r\nc\r\n",
    );
    fs::write(&incr, log).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aoftool"))
        .arg("rewrite")
        .arg(&aof)
        .arg("-o")
        .arg(dir.path().join("refused.aof"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("VADD"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
