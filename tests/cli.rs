//! The `aoftool` binary: `convert` options, outputs and exit statuses.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::fixtures::testdata;

fn aoftool(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aoftool"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.unwrap_or_default().to_vec();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || pipe.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().ok();
    out
}

fn dump() -> String {
    testdata().join("redis7/dump.rdb").display().to_string()
}

/// Runs `convert` on the Redis 7.0 dump and parses the JSON Lines it prints.
fn lines(extra: &[&str]) -> Vec<Value> {
    let dump = dump();
    let mut args = vec!["convert", dump.as_str(), "--to", "jsonl"];
    args.extend_from_slice(extra);
    let out = aoftool(&args, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn keys(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r.get("key").is_some()).collect()
}

#[test]
fn jsonl_has_a_header_meta_records_and_every_key() {
    let all = lines(&[]);
    assert_eq!(all[0]["rdb"]["version"], 10);
    assert!(all.iter().any(|r| r["aux"]["name"] == "redis-ver"));
    assert!(all.iter().any(|r| r["function"]["code"].as_str().is_some_and(|c| c.starts_with("#!lua"))));
    assert_eq!(keys(&all).len(), 100);
    let only_keys = lines(&["--keys-only"]);
    assert_eq!(only_keys.len(), 100);
}

#[test]
fn json_is_one_array_of_the_same_records() {
    let out = aoftool(&["convert", &dump(), "--to", "json"], None);
    let doc: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc, lines(&[]));
}

#[test]
fn filters_select_keys() {
    let db1 = lines(&["--keys-only", "--db", "1"]);
    assert!(!db1.is_empty() && db1.iter().all(|r| r["db"] == 1));
    let two_dbs = lines(&["--keys-only", "--db", "1", "--db", "2"]);
    assert!(two_dbs.len() > db1.len());
    let glob = lines(&["--keys-only", "--key", "zset:*"]);
    assert!(!glob.is_empty() && glob.iter().all(|r| r["key"].as_str().unwrap().starts_with("zset:")));
    assert_eq!(lines(&["--keys-only", "--key-regex", "^zset:"]), glob);
    let hashes = lines(&["--keys-only", "--type", "hash"]);
    assert!(!hashes.is_empty() && hashes.iter().all(|r| r["type"] == "hash"));
    let expiring = lines(&["--keys-only"]).into_iter().filter(|r| r.get("expire_ms").is_some()).count();
    assert!(expiring > 0);
    assert_eq!(lines(&["--keys-only", "--skip-expired", "0"]).len(), 100);
    assert_eq!(lines(&["--keys-only", "--skip-expired", "99999999999999"]).len(), 100 - expiring);
}

#[test]
fn standard_input_threads_and_files_give_the_same_bytes() {
    let data = std::fs::read(dump()).unwrap();
    let from_file = aoftool(&["convert", &dump(), "--to", "jsonl", "--threads", "1"], None);
    let from_stdin = aoftool(&["convert", "-", "--to", "jsonl", "--threads", "2"], Some(&data));
    assert!(from_file.status.success() && from_stdin.status.success());
    assert!(from_file.stdout == from_stdin.stdout);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let to_file = aoftool(&["convert", &dump(), "--to", "jsonl", "-o", path.to_str().unwrap()], None);
    assert!(to_file.status.success());
    assert!(std::fs::read(&path).unwrap() == from_file.stdout);
}

#[test]
fn damaged_input_exits_1_with_the_offset_and_missing_input_exits_2() {
    let bad = testdata().join("damaged/truncated.rdb");
    let out = aoftool(&["convert", bad.to_str().unwrap(), "--to", "jsonl"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("offset 19879") && err.contains("hll:dense"), "{err}");
    let crc = testdata().join("damaged/bad-crc.rdb");
    let out = aoftool(&["convert", crc.to_str().unwrap(), "--to", "jsonl"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CRC-64 mismatch"));
    let warned = aoftool(&["convert", crc.to_str().unwrap(), "--to", "jsonl", "--ignore-checksum"], None);
    assert_eq!(warned.status.code(), Some(1));
    assert!(!warned.stdout.is_empty());
    let missing = aoftool(&["convert", "/nonexistent/dump.rdb", "--to", "jsonl"], None);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn check_reports_rdb_and_aof_files_with_exit_statuses() {
    let ok = aoftool(&["check", &dump(), "--json"], None);
    assert_eq!(ok.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!((report["kind"].as_str(), report["rdb"]["total_keys"].as_u64()), (Some("rdb"), Some(100)));
    let truncated = testdata().join("damaged/truncated.aof");
    let bad = aoftool(&["check", truncated.to_str().unwrap(), "--json"], None);
    assert_eq!(bad.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(report["problem"]["truncated"], true);
    assert_eq!(report["problem"]["cut"]["offset"], 9270);
    let strict = aoftool(&["check", testdata().join("redis7/plain.aof").to_str().unwrap(), "--strict"], None);
    assert_eq!(strict.status.code(), Some(0), "{}", String::from_utf8_lossy(&strict.stdout));
}

/// `--strict redis8` knows Redis 8's commands, vector sets included; the other tables do not.
#[test]
fn check_strict_knows_redis8_commands() {
    let commands: [&[&str]; 4] = [
        &["SELECT", "0"],
        &["VADD", "vs", "VALUES", "2", "1", "2", "a"],
        &["VSETATTR", "vs", "a", "{}"],
        &["HSETEX", "h", "PX", "1000", "FIELDS", "1", "f", "v"],
    ];
    let mut log = Vec::new();
    for args in commands {
        log.extend(format!("*{}\r\n", args.len()).bytes());
        for a in args {
            log.extend(format!("${}\r\n{a}\r\n", a.len()).bytes());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redis8.aof");
    std::fs::write(&path, log).unwrap();
    let findings = |server: &str, status: i32| -> Vec<String> {
        let out = aoftool(&["check", path.to_str().unwrap(), "--json", "--strict", server], None);
        assert_eq!(out.status.code(), Some(status), "{server}: {}", String::from_utf8_lossy(&out.stdout));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let found = report["resp"]["strict_findings"].as_array().unwrap().iter();
        found.map(|f| format!("{} {}", f["name"].as_str().unwrap(), f["verdict"].as_str().unwrap())).collect()
    };
    assert_eq!(findings("redis8", 0), Vec::<String>::new());
    assert_eq!(findings("any", 0), Vec::<String>::new());
    let vectors = ["VADD UnknownCommand", "VSETATTR UnknownCommand"];
    assert_eq!(findings("valkey9", 1), vectors);
    assert_eq!(findings("redis7", 1), [vectors[0], vectors[1], "HSETEX UnknownCommand"]);
    // Each server's own log passes its own table.
    for server in ["redis7", "redis8", "valkey9"] {
        let plain = testdata().join(server).join("plain.aof");
        let out = aoftool(&["check", plain.to_str().unwrap(), "--strict", server], None);
        assert_eq!(out.status.code(), Some(0), "{server}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn convert_writes_rdb_and_resp_and_refuses_what_a_target_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.rdb");
    let out_arg = out.to_str().unwrap();
    let ok = aoftool(&["convert", &dump(), "--to", "rdb", "--rdb-version", "10", "-o", out_arg], None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(std::fs::read(&out).unwrap().starts_with(b"REDIS0010"));
    assert!(String::from_utf8_lossy(&ok.stderr).contains("wrote 100 of 100 keys"));
    // The Redis 7.0 dump has a function library: RDB 9 cannot hold it unless told to drop it.
    let refused = aoftool(&["convert", &dump(), "--to", "rdb", "--rdb-version", "9", "-o", out_arg], None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--drop-functions"));
    let dropped = aoftool(
        &["convert", &dump(), "--to", "rdb", "--rdb-version", "9", "--drop-functions", "-o", out_arg],
        None,
    );
    assert!(dropped.status.success());
    assert!(String::from_utf8_lossy(&dropped.stderr).contains("1 function libraries dropped"));
    let bad_version = aoftool(&["convert", &dump(), "--to", "rdb", "--rdb-version", "8"], None);
    assert_eq!(bad_version.status.code(), Some(2));
    let resp = aoftool(&["convert", &dump(), "--to", "resp", "--type", "string"], None);
    assert!(resp.status.success() && resp.stdout.starts_with(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n"));
    assert!(String::from_utf8_lossy(&resp.stderr).contains("as RESP"));
    // JSON back to RDB, from standard input.
    let json = aoftool(&["convert", &dump(), "--to", "jsonl"], None).stdout;
    let back = aoftool(&["convert", "-", "--to", "rdb", "-o", out_arg], Some(&json));
    assert!(back.status.success(), "{}", String::from_utf8_lossy(&back.stderr));
    let again = aoftool(&["convert", out_arg, "--to", "jsonl", "--keys-only"], None).stdout;
    let direct = aoftool(&["convert", &dump(), "--to", "jsonl", "--keys-only"], None).stdout;
    assert_eq!(again.iter().filter(|&&b| b == b'\n').count(), direct.iter().filter(|&&b| b == b'\n').count());
}

#[test]
fn rewrite_writes_each_form_refuses_unknown_commands_and_never_replaces_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let aof = testdata().join("redis7/aof-multipart").display().to_string();
    let out = dir.path().join("out.aof");
    let ok = aoftool(&["rewrite", &aof, "-o", out.to_str().unwrap()], None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stderr).contains("keys"));
    assert!(std::fs::read(&out).unwrap().starts_with(b"*3\r\n$8\r\nFUNCTION\r\n"));
    let multipart = dir.path().join("mp");
    let args = ["rewrite", &aof, "-o", multipart.to_str().unwrap(), "--format", "multipart"];
    assert!(aoftool(&args, None).status.success());
    let mut names: Vec<String> = std::fs::read_dir(&multipart)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]);
    let again = aoftool(&args, None);
    assert_eq!(again.status.code(), Some(2), "an existing directory is not replaced");
    let same = aoftool(&["rewrite", out.to_str().unwrap(), "-o", out.to_str().unwrap()], None);
    assert_eq!(same.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&same.stderr).contains("would replace the input"));
    let unknown = dir.path().join("eval.aof");
    std::fs::write(&unknown, b"*2\r\n$4\r\nEVAL\r\n$1\r\nx\r\n").unwrap();
    let refused = aoftool(&["rewrite", unknown.to_str().unwrap(), "-o", out.to_str().unwrap()], None);
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("offset 0") && message.contains("EVAL"), "{message}");
}

/// `rewrite --written-by` decides what the log alone cannot: whether an `XCLAIM` that claims
/// nothing creates its consumer.
#[test]
fn rewrite_written_by_settles_what_servers_load_differently() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.aof");
    let mut log = Vec::new();
    for c in [
        &["XADD", "s", "1-1", "f", "v"][..],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XCLAIM", "s", "g", "newc", "0", "9-9", "TIME", "5", "FORCE", "JUSTID"],
    ] {
        log.extend(format!("*{}\r\n", c.len()).bytes());
        for a in c {
            log.extend(format!("${}\r\n{a}\r\n", a.len()).bytes());
        }
    }
    std::fs::write(&input, log).unwrap();
    let input = input.display().to_string();
    let run = |out: &str, extra: &[&str]| {
        let out = dir.path().join(out).display().to_string();
        let mut args = vec!["rewrite", input.as_str(), "-o", out.as_str()];
        args.extend_from_slice(extra);
        (aoftool(&args, None), out)
    };
    let (refused, _) = run("none.aof", &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not say which server wrote it"));
    for (server, creates, magic) in [
        ("redis7", false, &b"REDIS0010"[..]),
        ("redis8", true, b"REDIS0013"),
        ("valkey9", true, b"VALKEY080"),
    ] {
        let (done, out) = run(&format!("{server}.aof"), &["--written-by", server]);
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
        let text = std::fs::read(out).unwrap();
        assert_eq!(text.windows(14).any(|w| w == b"CREATECONSUMER"), creates, "{server}");
        // It also names the RDB format, which the log does not.
        let (done, out) = run(&format!("{server}.rdb"), &["--written-by", server, "--format", "rdb"]);
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
        assert!(std::fs::read(out).unwrap().starts_with(magic), "{server}");
    }
}
