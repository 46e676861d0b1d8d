//! `aoftool rewrite` judged by real servers: AOFs written by Redis 7.0 and Valkey 9.1 (plain,
//! RDB preamble, multi-part with AOF and RDB bases), rewritten in every form, load with the
//! digest of the original; the aof form is no larger than the server's own BGREWRITEAOF.

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
    [(Kind::Redis7, "redis7", "10"), (Kind::Valkey9, "valkey9", "valkey80")]
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

#[test]
fn every_fixture_aof_rewrites_to_every_form_with_the_same_digest() {
    for (kind, dir_name, version) in fixtures() {
        let dir = testdata().join(dir_name);
        let rewrite = |input: &Path, output: &Path, form: &str, extra: &[&str]| {
            rewrite(input, output, form, &[&["--rdb-version", version], extra].concat())
        };
        for name in AOFS {
            let want = digest_of(&dir, name);
            let out = tempfile::tempdir().unwrap();
            let input = dir.join(name);
            let what = |form: &str| format!("{dir_name}/{name} as {form}");
            let aof = out.path().join("out.aof");
            rewrite(&input, &aof, "aof", &[]);
            let got = server::load_aof(kind, Aof::File(&fs::read(&aof).unwrap()), false);
            assert_eq!(got.unwrap_or_else(|f| panic!("{}: {f}", what("aof"))), want, "{}", what("aof"));
            let rdb = out.path().join("out.rdb");
            rewrite(&input, &rdb, "rdb", &[]);
            let got = server::load_rdb(kind, &fs::read(&rdb).unwrap());
            assert_eq!(got.unwrap_or_else(|f| panic!("{}: {f}", what("rdb"))), want, "{}", what("rdb"));
            let preamble = out.path().join("out-preamble.aof");
            rewrite(&input, &preamble, "preamble", &[]);
            let got = server::load_aof(kind, Aof::File(&fs::read(&preamble).unwrap()), false);
            assert_eq!(
                got.unwrap_or_else(|f| panic!("{}: {f}", what("preamble"))),
                want,
                "{}",
                what("preamble")
            );
            let multipart = out.path().join("dir");
            rewrite(&input, &multipart, "multipart", &[]);
            let got = server::load_aof(kind, Aof::Dir(&multipart), false);
            assert_eq!(
                got.unwrap_or_else(|f| panic!("{}: {f}", what("multipart"))),
                want,
                "{}",
                what("multipart")
            );
        }
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
