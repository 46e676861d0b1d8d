//! `aoftool check` judged by the real servers (Redis 7.0, Valkey 9.1) and by their own
//! `redis-check-aof` / `valkey-check-aof`.
//!
//! * **Harness** ([`fixtures_load_with_their_recorded_digests`]): every fixture (single files,
//!   multi-part directories, RDB) loads with the `DEBUG DIGEST` recorded when it was made, and
//!   `aoftool check` calls it valid.
//! * **Cuts** ([`cuts_of_a_small_synthetic_aof`], [`cuts_of_plain_aofs`],
//!   [`cuts_of_preamble_aofs`]): a known-good AOF cut at an offset is what a crash leaves. Every
//!   offset of a small synthetic AOF (SET/MULTI/EXEC/`#TS:`, SELECT inside a transaction, an
//!   annotation inside a transaction, a payload that looks like RESP) and ~150 chosen offsets of
//!   each fixture (plus every offset of its tail) are checked by the library against an
//!   independent model of the servers' loader (`loadSingleAppendOnlyFile`): a cut at an item
//!   boundary outside MULTI is valid; any other cut is truncated, and the repair keeps
//!   everything before the open MULTI or the torn item; a cut inside an RDB preamble, its magic
//!   and header included, cannot be repaired. One deliberate difference from the servers: a cut
//!   inside a last `#` annotation line is truncated (the repair drops the partial line). Servers
//!   read it with `fgets` and accept it, but the next command they append would be glued to it.
//!   For a subset, the real servers judge: the cut file with `aof-load-truncated no` must load
//!   exactly when we call it valid or it ends in a partial annotation line outside MULTI; for a
//!   truncated one, `aoftool check --fix` (the binary) must leave exactly the predicted prefix,
//!   which must load with `aof-load-truncated no` and give the same `DEBUG DIGEST` as the
//!   server's own load of the cut file with `aof-load-truncated yes`; an unrepairable one is
//!   refused by the server even with `aof-load-truncated yes`, and `--fix` exits 1 and leaves
//!   the file untouched.
//! * **Multi-part** ([`cuts_of_multipart_aofs`]): the same for the last incr file of both
//!   multi-part fixtures, the servers loading the directory and `--fix` given the directory;
//!   a cut base (not the last file) is refused by both.
//! * **Garbage** ([`garbage_mid_file`]): random bytes, a zeroed 512-byte block, a torn write
//!   (the first half of the next command) and a partial line, inserted at item boundaries:
//!   `--fix` truncates exactly where the server's own `*-check-aof --fix` does (file bytes
//!   compared), which is also the check's cut; `--salvage` gives back exactly the original
//!   (minus a transaction that the garbage split), with the fixture's `DEBUG DIGEST`, also when
//!   a torn half merges with the next command into one that parses, and when the garbage holds
//!   a `#`. Garbage right after an RDB preamble (aux `aof-base=1`) is a format error at the
//!   preamble's end, as for the servers (which refuse the file) and their checkers, not bytes
//!   after an RDB file.
//! * **Kill -9** ([`kill_during_fix_leaves_original_or_repaired`]): a ~120 MB damaged AOF,
//!   `--fix` killed at spread-out moments: the path always holds either the original or the
//!   complete repaired bytes, and a backup, when there is one, is the original.
//! * **Dry run and backups** ([`dry_run_changes_nothing_and_backups_keep_the_original`]):
//!   `--dry-run` changes nothing and reports the cut and ranges the repair then applies; the
//!   backup is the original; the repaired file keeps the original's permissions.
//!
//! Not covered: `--fix` refusing a file that grows while it works (a race; `safe_write::replace`
//! has a unit test for it).
//!
//! Servers are started by `tests/support/server.rs`; a missing server skips these tests with a
//! notice, or fails them when `CI` is set. Timings (2 cores, debug build): about 75 s for this
//! module, most of it about 1,200 server starts of 30-80 ms each.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aoftool::check::check_file;
use aoftool::rdb::crc::crc64;
use serde_json::Value;

use crate::fixtures::testdata;
use crate::support::XorShift;
use crate::support::server::{self, Aof, Digest, Kind, LoadFailure, load_aof};

const AOFTOOL: &str = env!("CARGO_BIN_EXE_aoftool");

/// Fixture offsets checked by the library (besides the structural ones, see [`sample_cuts`]).
const FIXTURE_CUTS: usize = 150;
/// Cuts of each multi-part directory's last incr file judged by the servers (at most).
const MULTIPART_CUTS: usize = 40;
/// Random fixture offsets also judged by the servers (the structural ones always are).
const FIXTURE_RANDOM_LOADS: usize = 12;
/// Server-judged cuts of the synthetic AOF: every item's start+1, middle and last byte, and
/// every boundary.
const SYNTHETIC_LOAD_EVERY_ITEM: bool = true;

// ---------------------------------------------------------------------------------------------
// Subjects: known-good AOFs and an independent model of their items.

/// A top-level item of a known-good RESP body.
#[derive(Clone, Debug)]
struct Item {
    start: usize,
    end: usize,
    /// Lowercase command name; `None` for an annotation.
    name: Option<Vec<u8>>,
}

impl Item {
    fn is(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name.as_bytes())
    }
}

/// A known-good AOF and what is known about it.
struct Subject {
    kind: Kind,
    name: String,
    data: Vec<u8>,
    /// Where the RESP body starts (after the RDB preamble; 0 without one).
    resp_start: usize,
    /// Length of the RDB magic (`REDIS` 5, `VALKEY` 6) when there is a preamble, else 0.
    magic_len: usize,
    items: Vec<Item>,
    /// `DEBUG DIGEST` of the whole file as the writing server reported it (fixtures only).
    digest: Option<Digest>,
}

impl Subject {
    fn fixture(kind: Kind, file: &str) -> Subject {
        let dir = testdata().join(kind.name());
        let data = fs::read(dir.join(file)).unwrap();
        let stem = file.trim_end_matches(".aof");
        let digest =
            Digest(fs::read_to_string(dir.join(format!("{stem}.digest"))).unwrap().trim().to_string());
        let (resp_start, magic_len) = if data.starts_with(b"REDIS") || data.starts_with(b"VALKEY") {
            let meta: Value = serde_json::from_slice(&fs::read(dir.join("server.json")).unwrap()).unwrap();
            let start =
                meta["fixtures"][file]["resp_tail_offset"].as_u64().expect("resp_tail_offset") as usize;
            (start, if data.starts_with(b"REDIS") { 5 } else { 6 })
        } else {
            (0, 0)
        };
        let items = parse_items(&data, resp_start);
        Subject {
            kind,
            name: format!("{}/{file}", kind.name()),
            data,
            resp_start,
            magic_len,
            items,
            digest: Some(digest),
        }
    }

    fn synthetic(kind: Kind) -> Subject {
        let data = synthetic_aof();
        let items = parse_items(&data, 0);
        Subject {
            kind,
            name: format!("synthetic ({})", kind.name()),
            data,
            resp_start: 0,
            magic_len: 0,
            items,
            digest: None,
        }
    }

    /// The open MULTI (its start) at boundary `pos`, if any.
    fn open_multi_at(&self, pos: usize) -> Option<usize> {
        let mut open = None;
        for item in self.items.iter().take_while(|i| i.end <= pos) {
            if item.is("multi") {
                open = Some(item.start);
            } else if item.is("exec") {
                open = None;
            }
        }
        open
    }

    /// The transaction `[MULTI start, EXEC end)` around boundary `pos`, if `pos` is inside one.
    fn transaction_at(&self, pos: usize) -> Option<(usize, usize)> {
        let multi = self.open_multi_at(pos)?;
        let exec = self.items.iter().find(|i| i.start >= pos && i.is("exec")).expect("EXEC after MULTI");
        Some((multi, exec.end))
    }
}

/// A RESP command as servers write it.
fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A small AOF (~1 KB) with the structures that matter for cuts: annotations (one inside a
/// transaction), MULTI/EXEC blocks (one with SELECT inside), an empty key name, a binary
/// payload that contains CRLF and looks like RESP, and an expiry far in the future.
fn synthetic_aof() -> Vec<u8> {
    let long = vec![b'x'; 200];
    let script: Vec<Vec<&[u8]>> = vec![
        vec![b"#TS:1700000000"],
        vec![b"SELECT", b"0"],
        vec![b"SET", b"k1", b"v1"],
        vec![b"SET", b"counter", b"10"],
        vec![b"MULTI"],
        vec![b"SET", b"k2", b"hello"],
        vec![b"INCR", b"counter"],
        vec![b"EXEC"],
        vec![b"#TS:1700000001"],
        vec![b"SET", b"", b"empty key name"],
        vec![b"RPUSH", b"list", b"a", b"b", b"c"],
        vec![b"SELECT", b"3"],
        vec![b"MULTI"],
        vec![b"SADD", b"s", b"x", b"y"],
        vec![b"#TS:1700000002"],
        vec![b"HSET", b"h", b"f", b"v"],
        vec![b"EXEC"],
        vec![b"SET", b"bin", b"\x00\xff\r\n*3\r\n$3\r\nSET\r\n#TS:1\r\n"],
        vec![b"SET", b"exp", b"v", b"PXAT", b"4102444800000"],
        vec![b"INCRBY", b"c3", b"5"],
        vec![b"MULTI"],
        vec![b"DEL", b"s"],
        vec![b"EXEC"],
        vec![b"SELECT", b"0"],
        vec![b"SET", b"long", &long],
        vec![b"APPEND", b"k1", b"more"],
        vec![b"ZADD", b"z", b"1", b"a", b"2.5", b"b"],
        vec![b"MULTI"],
        vec![b"SELECT", b"5"],
        vec![b"SET", b"in5", b"v"],
        vec![b"EXEC"],
        vec![b"#TS:1700000003"],
        vec![b"SET", b"last", b"done"],
    ];
    let mut file = Vec::new();
    for args in script {
        if args[0].starts_with(b"#") {
            file.extend_from_slice(&[args[0], b"\r\n"].concat());
        } else {
            file.extend_from_slice(&resp(&args));
        }
    }
    file
}

/// The items of a known-good RESP body from `pos` (a strict parser independent of the crate's).
fn parse_items(data: &[u8], mut pos: usize) -> Vec<Item> {
    let line_end = |p: usize| p + data[p..].windows(2).position(|w| w == b"\r\n").expect("CRLF");
    let number = |s: &[u8]| std::str::from_utf8(s).unwrap().parse::<usize>().unwrap();
    let mut items = Vec::new();
    while pos < data.len() {
        let start = pos;
        match data[pos] {
            b'#' => {
                pos += data[pos..].iter().position(|&b| b == b'\n').expect("annotation end") + 1;
                items.push(Item { start, end: pos, name: None });
            }
            b'*' => {
                let e = line_end(pos);
                let argc = number(&data[pos + 1..e]);
                pos = e + 2;
                let mut name = None;
                for i in 0..argc {
                    assert_eq!(data[pos], b'$', "bulk string at {pos}");
                    let e = line_end(pos);
                    let len = number(&data[pos + 1..e]);
                    pos = e + 2;
                    if i == 0 {
                        name = Some(data[pos..pos + len].to_ascii_lowercase());
                    }
                    assert_eq!(&data[pos + len..pos + len + 2], b"\r\n");
                    pos += len + 2;
                }
                items.push(Item { start, end: pos, name });
            }
            other => panic!("unexpected byte {other:#x} at {pos} in a known-good AOF"),
        }
    }
    items
}

// ---------------------------------------------------------------------------------------------
// Verdicts: the model's, the library's.

/// What a cut file is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// Loads as it is.
    Valid,
    /// Ends too early; a repair keeps `[0, cut)`.
    Truncated { cut: usize },
    /// Cannot be repaired by dropping bytes (a damaged RDB preamble).
    Unrepairable,
    /// Anything else (described).
    Other(String),
}

/// What `subject` cut to `c` bytes is: what the servers' loader makes of it, except that a cut
/// inside a last `#` annotation line is truncated (see [`loads_as_it_is`]).
fn model(s: &Subject, c: usize) -> Verdict {
    if c == 0 {
        return Verdict::Valid; // an empty AOF
    }
    if c < s.resp_start {
        return Verdict::Unrepairable;
    }
    let mut open = None;
    for item in &s.items {
        if item.end <= c {
            if item.is("multi") {
                open = Some(item.start);
            } else if item.is("exec") {
                open = None;
            }
            continue;
        }
        if item.start < c {
            // Inside a command, or inside an annotation line, which then has no line end.
            return Verdict::Truncated { cut: open.unwrap_or(item.start) };
        }
        break; // at a boundary
    }
    open.map_or(Verdict::Valid, |m| Verdict::Truncated { cut: m })
}

/// True when the servers load `subject` cut to `c` bytes as it is (`aof-load-truncated no`)
/// although the model calls it truncated: the cut is inside a last `#` annotation line, outside
/// MULTI. The servers read annotations with `fgets`, which returns the partial line; it is
/// skipped like a whole one, then the file ends. But the next command a server appends would be
/// glued to that line (`#TS:17*2\r\n...` is read as one annotation), so the check calls it
/// truncated and the repair drops the partial line (annotations carry no data: same digest).
fn loads_as_it_is(s: &Subject, c: usize) -> bool {
    s.items.iter().any(|i| i.name.is_none() && i.start < c && c < i.end) && s.open_multi_at(c).is_none()
}

/// What the library reports for `data`.
fn ours(data: &[u8]) -> Verdict {
    let report = check_file(data, 1, None, &|_| {});
    let Some(p) = &report.problem else { return Verdict::Valid };
    let at = p.error.offset() as usize;
    match &p.cut {
        None => Verdict::Unrepairable,
        Some(cut) if p.truncated && cut.offset as usize <= at && at <= data.len() => {
            assert_eq!(cut.bytes as usize, data.len() - cut.offset as usize, "cut.bytes");
            Verdict::Truncated { cut: cut.offset as usize }
        }
        Some(cut) => Verdict::Other(format!(
            "problem at {at} (truncated: {}): {}; cut at {}",
            p.truncated, p.error, cut.offset
        )),
    }
}

/// Compares the library with the model at cut `c`.
fn compare_with_model(s: &Subject, c: usize) -> Result<(), String> {
    let expected = model(s, c);
    let got = ours(&s.data[..c]);
    if got == expected {
        return Ok(());
    }
    Err(format!("{} cut at {c}: model says {expected:?}, aoftool says {got:?}", s.name))
}

// ---------------------------------------------------------------------------------------------
// Running things.

/// Exit code and output of a process.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command, stdin: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `aoftool check <args> <path>`.
fn aoftool(args: &[&str], path: &Path) -> Run {
    run(Command::new(AOFTOOL).arg("check").args(args).arg(path), b"")
}

/// Runs `aoftool check <args> --no-backup` on a copy of `bytes`: exit code and the bytes after.
fn aoftool_on_copy(bytes: &[u8], args: &[&str]) -> (Run, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("appendonly.aof");
    fs::write(&path, bytes).unwrap();
    let mut all = args.to_vec();
    all.push("--no-backup");
    let r = aoftool(&all, &path);
    let after = fs::read(&path).unwrap();
    let names: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert_eq!(names, ["appendonly.aof"], "aoftool {args:?} left other files: {names:?}");
    (r, after)
}

/// Runs the server's own `*-check-aof --fix` on a copy of `bytes` (answering "y"): exit code and
/// the bytes after.
fn check_aof_fix(kind: Kind, bytes: &[u8]) -> (Run, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("appendonly.aof");
    fs::write(&path, bytes).unwrap();
    let tool = kind.check_aof().expect("check-aof available");
    let r = run(Command::new(tool).arg("--fix").arg(&path).current_dir(dir.path()), b"y\n");
    let after = fs::read(&path).unwrap();
    (r, after)
}

/// A load's identity: server, `aof-load-truncated`, CRC-64 and length of the file.
type LoadKey = (Kind, bool, u64, usize);

/// Loads and digests, remembering results by content.
#[derive(Default)]
struct Loads {
    count: AtomicUsize,
    cache: Mutex<HashMap<LoadKey, Result<Digest, String>>>,
}

impl Loads {
    fn load(&self, kind: Kind, bytes: &[u8], load_truncated: bool) -> Result<Digest, LoadFailure> {
        self.count.fetch_add(1, Ordering::Relaxed);
        load_aof(kind, Aof::File(bytes), load_truncated)
    }

    /// A load remembered by content (for files many cases share, like repaired prefixes).
    fn cached(&self, kind: Kind, bytes: &[u8], load_truncated: bool) -> Result<Digest, String> {
        let key = (kind, load_truncated, crc64(bytes), bytes.len());
        if let Some(r) = self.cache.lock().unwrap().get(&key) {
            return r.clone();
        }
        let r = self.load(kind, bytes, load_truncated).map_err(|f| match f.warnings() {
            w if w.is_empty() => f.to_string(),
            w => w.join("\n"),
        });
        self.cache.lock().unwrap().insert(key, r.clone());
        r
    }
}

/// Runs `f` on every element with a few threads (server starts wait on processes).
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results.lock().unwrap().push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn fail_with(test: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{test}: {} failures:\n{}",
        failures.len(),
        failures.iter().take(25).cloned().collect::<Vec<_>>().join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The harness on the intact fixtures.

/// Every fixture loads in a fresh server of its kind with the `DEBUG DIGEST` recorded when it was
/// made (single-file AOFs migrated as old-style files, multi-part directories, RDB files), and
/// `aoftool check` calls each one valid. Also exercises a plain server: SET, DBSIZE, DIGEST.
#[test]
fn fixtures_load_with_their_recorded_digests() {
    for kind in Kind::ALL {
        if !server::available(kind, false) {
            continue;
        }
        let dir = testdata().join(kind.name());
        let recorded = |name: &str| {
            Digest(fs::read_to_string(dir.join(format!("{name}.digest"))).unwrap().trim().to_string())
        };
        // (path, how to load it, recorded digest)
        let cases = [
            ("plain.aof", "file", "plain"),
            ("preamble.aof", "file", "preamble"),
            ("aof-multipart", "dir", "aof-multipart"),
            ("aof-multipart-rdb", "dir", "preamble"),
            ("dump.rdb", "rdb", "dump"),
        ];
        let results = par_map(&cases, |&(name, how, _)| {
            let path = dir.join(name);
            match how {
                "file" => load_aof(kind, Aof::File(&fs::read(&path).unwrap()), false),
                "dir" => load_aof(kind, Aof::Dir(&path), false),
                _ => server::load_rdb(kind, &fs::read(&path).unwrap()),
            }
        });
        for ((name, _, digest), result) in cases.iter().zip(results) {
            let got = result.unwrap_or_else(|f| panic!("{}/{name} does not load: {f}", kind.name()));
            assert_eq!(got, recorded(digest), "{}/{name}: DEBUG DIGEST", kind.name());
            let r = aoftool(&[], &dir.join(name));
            assert_eq!(r.code, 0, "aoftool check {}/{name}:\n{}{}", kind.name(), r.stdout, r.stderr);
        }

        let empty = tempfile::tempdir().unwrap();
        let mut server = server::Server::start(kind, empty.path(), &["--appendonly", "no"]).unwrap();
        assert_eq!(server.digest(), Digest("0".repeat(40)), "empty dataset");
        assert_eq!(server.command(&["SET", "k", "v"]), server::Reply::Simple("OK".into()));
        assert_eq!(server.dbsize(), 1);
        assert_ne!(server.digest(), Digest("0".repeat(40)));
        assert!(server.pid() > 0 && server.port() > 0 && server.kind() == kind);
    }
}

// ---------------------------------------------------------------------------------------------
// (a) Cuts.

/// Offsets to cut `s` at: structural ones (around every MULTI/EXEC and annotation, the first and
/// last items, the preamble's edges) and seeded random ones up to `total`. Returns (offset,
/// judged by the servers too).
fn sample_cuts(s: &Subject, total: usize, random_loads: usize, seed: u64) -> Vec<(usize, bool)> {
    let len = s.data.len();
    let mut structural = BTreeSet::new();
    let around = |p: usize, set: &mut BTreeSet<usize>| {
        for q in [p.wrapping_sub(1), p, p + 1] {
            if q <= len {
                set.insert(q);
            }
        }
    };
    for &p in &[0, len] {
        around(p, &mut structural);
    }
    if s.resp_start > 0 {
        let r = s.resp_start;
        for p in [1, 4, 5, 6, 8, 9, 10, r / 2, r - 9, r - 8, r - 1, r, r + 1] {
            structural.insert(p);
        }
    }
    let n = s.items.len();
    for (i, item) in s.items.iter().enumerate() {
        let special = item.name.is_none() || item.is("multi") || item.is("exec") || i < 3 || i + 6 >= n;
        if special {
            around(item.start, &mut structural);
            around(item.end, &mut structural);
            structural.insert(item.end - 2);
            structural.insert((item.start + item.end) / 2);
        }
    }
    let mut rng = XorShift::new(seed);
    let mut cuts: BTreeMap<usize, bool> = structural.into_iter().map(|c| (c, true)).collect();
    let mut loads = 0;
    let target = total.max(cuts.len() + random_loads);
    while cuts.len() < target {
        // Half of the random cuts at item boundaries, half anywhere.
        let c = if rng.below(2) == 0 {
            s.items[rng.below(n as u64) as usize].end
        } else {
            rng.below(len as u64 + 1) as usize
        };
        if let std::collections::btree_map::Entry::Vacant(e) = cuts.entry(c) {
            e.insert(loads < random_loads);
            loads += 1;
        }
    }
    cuts.into_iter().collect()
}

/// The servers' judgement of cut `c` against ours.
fn judge_cut(s: &Subject, c: usize, loads: &Loads) -> Result<(), String> {
    let kind = s.kind;
    let cut = &s.data[..c];
    let what = format!("{} cut at {c} of {}", s.name, s.data.len());
    match ours(cut) {
        Verdict::Valid => {
            let d = loads
                .cached(kind, cut, false)
                .map_err(|w| format!("{what}: we say valid, the server refuses it:\n{w}"))?;
            if c == s.data.len()
                && let Some(expected) = &s.digest
                && &d != expected
            {
                return Err(format!("{what}: whole file digests {d}, fixture says {expected}"));
            }
            Ok(())
        }
        Verdict::Truncated { cut: keep } => {
            let as_is = loads.load(kind, cut, false);
            match (&as_is, loads_as_it_is(s, c)) {
                (Ok(d), false) => {
                    return Err(format!(
                        "{what}: we say truncated, the server loads it as it is (digest {d})"
                    ));
                }
                (Err(f), true) => {
                    return Err(format!(
                        "{what}: a cut inside a last annotation line, which servers load as it is; this one \
                         refuses it: {f}"
                    ));
                }
                _ => {}
            }
            let theirs = loads.load(kind, cut, true).map_err(|f| {
                format!("{what}: the server refuses it even with aof-load-truncated yes: {f}")
            })?;
            if let Ok(d) = &as_is
                && d != &theirs
            {
                return Err(format!(
                    "{what}: digests {d} with aof-load-truncated no, {theirs} with aof-load-truncated yes"
                ));
            }
            let (r, after) = aoftool_on_copy(cut, &["--fix"]);
            if r.code != 0 || after != s.data[..keep] {
                return Err(format!(
                    "{what}: --fix exited {} and left {} bytes, expected exit 0 and {keep} bytes\n{}{}",
                    r.code,
                    after.len(),
                    r.stdout,
                    r.stderr
                ));
            }
            let repaired = loads
                .cached(kind, &after, false)
                .map_err(|w| format!("{what}: the repaired file ({keep} bytes) does not load:\n{w}"))?;
            if repaired != theirs {
                return Err(format!(
                    "{what}: repaired file digests {repaired}, the server's own truncated load {theirs}"
                ));
            }
            Ok(())
        }
        Verdict::Unrepairable => {
            if let Ok(d) = loads.load(kind, cut, true) {
                return Err(format!("{what}: we say unrepairable, the server loads it (digest {d})"));
            }
            let (r, after) = aoftool_on_copy(cut, &["--fix"]);
            if r.code != 1 || after != cut {
                return Err(format!(
                    "{what}: unrepairable, but --fix exited {} (expected 1) and left {} bytes (had {c})\n{}",
                    r.code,
                    after.len(),
                    r.stderr
                ));
            }
            Ok(())
        }
        Verdict::Other(d) => Err(format!("{what}: {d}")),
    }
}

/// Checks `s` cut at every offset in `parse_cuts` against the model and, for `load_cuts`, against
/// the servers.
fn check_cuts(test: &str, s: &Subject, parse_cuts: &[usize], load_cuts: &[usize]) {
    let started = Instant::now();
    let mut failures: Vec<String> =
        parse_cuts.iter().filter_map(|&c| compare_with_model(s, c).err()).collect();
    let parsed = started.elapsed();
    let loads = Loads::default();
    failures.extend(par_map(load_cuts, |&c| judge_cut(s, c, &loads)).into_iter().filter_map(Result::err));
    eprintln!(
        "{test}: {}: {} bytes, {} items; {} cuts checked against the model ({parsed:.1?}), {} judged by \
         the server with {} server starts ({:.1?} in all)",
        s.name,
        s.data.len(),
        s.items.len(),
        parse_cuts.len(),
        load_cuts.len(),
        loads.count.load(Ordering::Relaxed),
        started.elapsed()
    );
    fail_with(test, &failures);
}

#[test]
fn cuts_of_a_small_synthetic_aof() {
    for kind in Kind::ALL {
        if !server::available(kind, false) {
            continue;
        }
        let s = Subject::synthetic(kind);
        let every: Vec<usize> = (0..=s.data.len()).collect();
        let mut judged = BTreeSet::new();
        for item in &s.items {
            judged.insert(item.end);
            if SYNTHETIC_LOAD_EVERY_ITEM {
                judged.extend([item.start + 1, (item.start + item.end) / 2, item.end - 1]);
            }
        }
        judged.insert(0);
        let judged: Vec<usize> = judged.into_iter().collect();
        check_cuts("cuts_of_a_small_synthetic_aof", &s, &every, &judged);
    }
}

#[test]
fn cuts_of_plain_aofs() {
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        if !server::available(kind, false) {
            continue;
        }
        let s = Subject::fixture(kind, "plain.aof");
        let cuts = sample_cuts(&s, FIXTURE_CUTS, FIXTURE_RANDOM_LOADS, 0x5eed_0001 + i as u64);
        // Every offset of the tail (the incr part: annotation, MULTI/EXEC) is cheap to parse.
        let tail = s.items[s.items.len() - 12].start;
        let mut parse: BTreeSet<usize> = cuts.iter().map(|&(c, _)| c).collect();
        parse.extend(tail..=s.data.len());
        let parse: Vec<usize> = parse.into_iter().collect();
        let load: Vec<usize> = cuts.iter().filter(|&&(_, l)| l).map(|&(c, _)| c).collect();
        check_cuts("cuts_of_plain_aofs", &s, &parse, &load);
    }
}

#[test]
fn cuts_of_preamble_aofs() {
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        if !server::available(kind, false) {
            continue;
        }
        let s = Subject::fixture(kind, "preamble.aof");
        let cuts = sample_cuts(&s, FIXTURE_CUTS, FIXTURE_RANDOM_LOADS, 0x5eed_0101 + i as u64);
        // Every offset of the RESP tail and of the RDB trailer, and the first bytes of the magic.
        let mut parse: BTreeSet<usize> = cuts.iter().map(|&(c, _)| c).collect();
        parse.extend(s.resp_start - 16..=s.data.len());
        parse.extend(0..=12);
        let parse: Vec<usize> = parse.into_iter().collect();
        let mut load: Vec<usize> = cuts.iter().filter(|&&(_, l)| l).map(|&(c, _)| c).collect();
        load.extend(1..s.magic_len);
        load.sort_unstable();
        load.dedup();
        check_cuts("cuts_of_preamble_aofs", &s, &parse, &load);
    }
}

/// A copy of the multi-part directory `src` in which `file` holds `bytes`.
fn multipart_copy(src: &Path, file: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    fs::write(dir.path().join(file), bytes).unwrap();
    dir
}

/// The files of a directory and their bytes.
fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap())
        })
        .collect()
}

/// The last incr file of a multi-part AOF cut at `c`: the server (loading the directory) agrees
/// with the check, and `check --fix DIR` truncates that file so that the directory loads with
/// `aof-load-truncated no` with the digest of the server's own truncated load.
fn judge_multipart_cut(
    s: &Subject,
    src: &Path,
    file: &str,
    c: usize,
    repaired: &Mutex<HashMap<usize, Digest>>,
) -> Result<(), String> {
    let kind = s.kind;
    let what = format!("{} cut at {c} of {}", s.name, s.data.len());
    let dir = multipart_copy(src, file, &s.data[..c]);
    let load = |d: &Path, yes: bool| load_aof(kind, Aof::Dir(d), yes);
    let check = aoftool(&[], dir.path());
    match model(s, c) {
        Verdict::Valid => {
            load(dir.path(), false)
                .map_err(|f| format!("{what}: valid by the model, the server refuses:\n{f}"))?;
            if check.code != 0 {
                return Err(format!(
                    "{what}: the server loads it, aoftool check exits {}\n{}",
                    check.code, check.stdout
                ));
            }
        }
        Verdict::Truncated { cut } => {
            if check.code != 1 {
                return Err(format!(
                    "{what}: truncated, aoftool check exits {}\n{}",
                    check.code, check.stdout
                ));
            }
            let as_is = load(dir.path(), false);
            match (&as_is, loads_as_it_is(s, c)) {
                (Ok(d), false) => {
                    return Err(format!(
                        "{what}: the server loads it with aof-load-truncated no (digest {d})"
                    ));
                }
                (Err(f), true) => {
                    return Err(format!(
                        "{what}: a cut inside a last annotation line, which servers load as it is; this one \
                         refuses it: {f}"
                    ));
                }
                _ => {}
            }
            let theirs = load(dir.path(), true)
                .map_err(|f| format!("{what}: refused with aof-load-truncated yes: {f}"))?;
            if let Ok(d) = &as_is
                && d != &theirs
            {
                return Err(format!(
                    "{what}: digests {d} with aof-load-truncated no, {theirs} with aof-load-truncated yes"
                ));
            }
            let before = snapshot_dir(dir.path());
            let r = aoftool(&["--fix", "--no-backup"], dir.path());
            let mut after = snapshot_dir(dir.path());
            let fixed = after.remove(file).unwrap_or_default();
            let mut others = before.clone();
            others.remove(file);
            if r.code != 0 || fixed != s.data[..cut] || after != others {
                return Err(format!(
                    "{what}: --fix exited {} and left {} bytes in {file} (expected {cut}), other files {}\n{}{}",
                    r.code,
                    fixed.len(),
                    if after == others { "unchanged" } else { "CHANGED" },
                    r.stdout,
                    r.stderr
                ));
            }
            let cached = repaired.lock().unwrap().get(&cut).cloned();
            let ours = match cached {
                Some(d) => d,
                None => {
                    let d = load(dir.path(), false)
                        .map_err(|f| format!("{what}: the repaired directory does not load: {f}"))?;
                    repaired.lock().unwrap().insert(cut, d.clone());
                    d
                }
            };
            if ours != theirs {
                return Err(format!(
                    "{what}: repaired directory digests {ours}, the server's truncated load {theirs}"
                ));
            }
        }
        other => return Err(format!("{what}: unexpected model verdict {other:?}")),
    }
    Ok(())
}

/// Multi-part AOF directories (RDB base + incr, RESP base + incr) with the last incr file cut at
/// ~40 structural offsets each (around every annotation, MULTI and EXEC, the first and last
/// items): judged by the servers loading the directory. A cut in the base (not the last file) is
/// refused by the servers even with `aof-load-truncated yes`; `--fix` without `--force` refuses
/// too (exit 1) and changes nothing.
#[test]
fn cuts_of_multipart_aofs() {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut judged = 0;
    for kind in Kind::ALL {
        if !server::available(kind, false) {
            continue;
        }
        for (name, incr) in [
            ("aof-multipart-rdb", "appendonly.aof.4.incr.aof"),
            ("aof-multipart", "appendonly.aof.2.incr.aof"),
        ] {
            let src = testdata().join(kind.name()).join(name);
            let data = fs::read(src.join(incr)).unwrap();
            let items = parse_items(&data, 0);
            let s = Subject {
                kind,
                name: format!("{}/{name}/{incr}", kind.name()),
                data,
                resp_start: 0,
                magic_len: 0,
                items,
                digest: None,
            };
            let all: Vec<usize> =
                sample_cuts(&s, 0, 4, 0x5eed_0201).into_iter().filter(|&(_, l)| l).map(|(c, _)| c).collect();
            // At most ~MULTIPART_CUTS per directory: every k-th of the structural offsets.
            let cuts: Vec<usize> = all.iter().copied().step_by(all.len().div_ceil(MULTIPART_CUTS)).collect();
            let repaired = Mutex::new(HashMap::new());
            judged += cuts.len();
            for r in par_map(&cuts, |&c| judge_multipart_cut(&s, &src, incr, c, &repaired)) {
                if let Err(e) = r {
                    failures.push(e);
                }
            }
        }
        // A damaged base: not the last file.
        let src = testdata().join(kind.name()).join("aof-multipart");
        let base = "appendonly.aof.2.base.aof";
        let data = fs::read(src.join(base)).unwrap();
        let dir = multipart_copy(&src, base, &data[..data.len() / 2]);
        if let Ok(d) = load_aof(kind, Aof::Dir(dir.path()), true) {
            failures.push(format!(
                "{}: a truncated base loads with aof-load-truncated yes (digest {d})",
                kind.name()
            ));
        }
        let before = snapshot_dir(dir.path());
        let r = aoftool(&["--fix"], dir.path());
        if r.code != 1 || snapshot_dir(dir.path()) != before {
            failures.push(format!(
                "{}: --fix on a truncated base exited {} (expected 1, nothing changed)\n{}",
                kind.name(),
                r.code,
                r.stdout
            ));
        }
    }
    eprintln!(
        "cuts_of_multipart_aofs: {judged} cuts of last incr files judged by the servers ({:.1?})",
        started.elapsed()
    );
    fail_with("cuts_of_multipart_aofs", &failures);
}

// ---------------------------------------------------------------------------------------------
// (b) Garbage in the middle.

/// Shapes of damage inserted at a boundary.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// 37 seeded random bytes (the first one never `*` or `#`, so the damage starts right there).
    Random,
    /// A 512-byte block of zeros.
    Zeros,
    /// The first half of the command that follows (a write torn by a crash, then more writes).
    Torn,
    /// A partial line: `*3\r\n$3\r\nSE`.
    Partial,
}

impl Shape {
    const ALL: [Shape; 4] = [Shape::Random, Shape::Zeros, Shape::Torn, Shape::Partial];

    fn bytes(self, s: &Subject, at: usize, rng: &mut XorShift) -> Vec<u8> {
        match self {
            Shape::Random => {
                let mut b = rng.bytes(37);
                if matches!(b[0], b'*' | b'#') {
                    b[0] = b'!';
                }
                b
            }
            Shape::Zeros => vec![0; 512],
            Shape::Torn => {
                let next = s.items.iter().find(|i| i.start >= at && i.name.is_some());
                match next {
                    Some(i) => s.data[i.start..i.start + (i.end - i.start) / 2].to_vec(),
                    None => resp(&[b"SET", b"torn", b"write"])[..15].to_vec(),
                }
            }
            Shape::Partial => b"*3\r\n$3\r\nSE".to_vec(),
        }
    }
}

/// Boundaries to damage `s` at: the start of the body, a few command boundaries, right after a
/// MULTI, before an EXEC, after an annotation, and the end.
fn damage_points(s: &Subject) -> Vec<usize> {
    let mut points = BTreeSet::from([s.resp_start, s.data.len()]);
    let n = s.items.len();
    for i in [1, n / 3, n / 2, n - 2] {
        points.insert(s.items[i].start);
    }
    if let Some(m) = s.items.iter().find(|i| i.is("multi")) {
        points.insert(m.end);
    }
    if let Some(e) = s.items.iter().rev().find(|i| i.is("exec")) {
        points.insert(e.start);
    }
    if let Some(a) = s.items.iter().skip(1).find(|i| i.name.is_none()) {
        points.insert(a.end);
    }
    points.into_iter().collect()
}

#[test]
fn garbage_mid_file() {
    let mut failures = Vec::new();
    let started = Instant::now();
    let loads = Loads::default();
    let mut cases = 0;
    for kind in Kind::ALL {
        if !server::available(kind, true) {
            continue;
        }
        let subjects = [
            Subject::synthetic(kind),
            Subject::fixture(kind, "plain.aof"),
            Subject::fixture(kind, "preamble.aof"),
        ];
        let mut jobs = Vec::new();
        for (si, s) in subjects.iter().enumerate() {
            let mut rng = XorShift::new(0xdead_0000 + si as u64);
            for at in damage_points(s) {
                for shape in Shape::ALL {
                    jobs.push((s, at, shape, shape.bytes(s, at, &mut rng)));
                }
            }
        }
        cases += jobs.len();
        let results =
            par_map(&jobs, |(s, at, shape, garbage)| judge_garbage(s, *at, *shape, garbage, &loads));
        failures.extend(results.into_iter().filter_map(Result::err));
    }
    eprintln!(
        "garbage_mid_file: {cases} damaged files, {} server starts, {:.1?}",
        loads.count.load(Ordering::Relaxed),
        started.elapsed()
    );
    fail_with("garbage_mid_file", &failures);
}

/// Runs the server's checker `--fix` on `damaged`. `valkey-check-aof` 9.1 does not recognise its
/// own `VALKEY` preamble (it reports a format error at offset 0 and `--fix` empties the file), so
/// for a Valkey preamble only the RESP tail goes through it, as it does after a preamble it
/// recognises.
fn checker_fix(s: &Subject, damaged: &[u8]) -> (Run, Vec<u8>) {
    if s.data.starts_with(b"VALKEY") {
        let (r, tail) = check_aof_fix(s.kind, &damaged[s.resp_start..]);
        (r, [&damaged[..s.resp_start], &tail[..]].concat())
    } else {
        check_aof_fix(s.kind, damaged)
    }
}

/// `s` with `garbage` inserted at boundary `at`: `--fix` truncates where `*-check-aof --fix`
/// does, which is also the check's cut; `--salvage` gives back the original (minus a
/// transaction the garbage split), with the original's digest. Garbage that is not RESP right
/// after an RDB preamble (aux `aof-base=1`) is a format error at the preamble's end, not bytes
/// after an RDB file: the server refuses the file even with `aof-load-truncated yes`.
fn judge_garbage(s: &Subject, at: usize, shape: Shape, garbage: &[u8], loads: &Loads) -> Result<(), String> {
    let kind = s.kind;
    let what = format!("{} with {shape:?} garbage ({} bytes) at {at}", s.name, garbage.len());
    let damaged = [&s.data[..at], garbage, &s.data[at..]].concat();
    // What the garbage destroys: nothing, or the transaction it splits.
    let (expected, naive_keep) = match s.transaction_at(at) {
        Some((multi, exec_end)) => ([&s.data[..multi], &s.data[exec_end..]].concat(), multi),
        None => (s.data.clone(), at),
    };

    // --fix truncates exactly where the server's own checker does, and where the check says.
    let report = check_file(&damaged, 1, None, &|_| {});
    let (ours_run, ours_fixed) = aoftool_on_copy(&damaged, &["--fix"]);
    let (theirs_run, theirs_fixed) = checker_fix(s, &damaged);
    if report.trailing_bytes != 0 {
        return Err(format!("{what}: reported {} bytes after an RDB file", report.trailing_bytes));
    }
    if s.resp_start > 0
        && at == s.resp_start
        && !matches!(garbage[0], b'*' | b'#')
        && let Ok(d) = loads.load(kind, &damaged, true)
    {
        return Err(format!("{what}: the server loads an RDB preamble followed by garbage (digest {d})"));
    }
    if ours_fixed != theirs_fixed || ours_run.code != 0 {
        return Err(format!(
            "{what}: --fix left {} bytes (exit {}), {}-check-aof --fix left {} bytes (exit {}):\n{}",
            ours_fixed.len(),
            ours_run.code,
            kind.name(),
            theirs_fixed.len(),
            theirs_run.code,
            theirs_run.stdout
        ));
    }
    let cut = report.problem.as_ref().and_then(|p| p.cut.as_ref()).map(|c| c.offset as usize);
    if cut != Some(ours_fixed.len()) {
        return Err(format!("{what}: the check reports a cut at {cut:?}, --fix kept {}", ours_fixed.len()));
    }
    // Both checkers can read the first half of a torn command plus the start of the next one as
    // one well-formed command (the torn half ends inside a payload whose declared length the
    // next bytes happen to complete, CRLF included). Then truncation keeps that merged command.
    let merged = ours_fixed.len() != naive_keep;
    if merged && !(matches!(shape, Shape::Torn) && ours_fixed.len() > naive_keep) {
        return Err(format!("{what}: both checkers cut at {}, expected {naive_keep}", ours_fixed.len()));
    }

    // --salvage gives back the expected file, which has the expected digest.
    let (r, salvaged) = aoftool_on_copy(&damaged, &["--salvage"]);
    if r.code != 0 {
        return Err(format!("{what}: --salvage exited {}\n{}{}", r.code, r.stdout, r.stderr));
    }
    let got = loads
        .cached(kind, &salvaged, false)
        .map_err(|w| format!("{what}: the salvaged file does not load:\n{w}"))?;
    let want = match (&s.digest, expected.len() == s.data.len()) {
        (Some(d), true) => d.clone(),
        _ => loads
            .cached(kind, &expected, false)
            .map_err(|w| format!("{what}: expected file does not load:\n{w}"))?,
    };
    if salvaged != expected {
        return Err(format!(
            "{what}: --salvage left {} bytes; expected {} bytes (the original{}){}\n{}",
            salvaged.len(),
            expected.len(),
            if expected.len() == s.data.len() { "" } else { " minus the split transaction" },
            if merged { "; the torn half merged with the next command" } else { "" },
            r.stdout
        ));
    }
    if got != want {
        return Err(format!("{what}: the salvaged file digests {got}, the original {want}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// (c) kill -9 during --fix.

/// Builds a damaged AOF of about `target` bytes: SETs of 64 KiB values (cheap to parse even in
/// a debug build, so most of a `--fix` run is writing the repaired copy), INCRs and MULTI
/// blocks, then half a command. Returns the bytes and the length a fix keeps.
fn big_damaged_aof(target: usize) -> (Vec<u8>, usize) {
    let mut data = Vec::with_capacity(target + (1 << 20));
    let mut value = vec![0u8; 64 << 10];
    let mut i = 0u64;
    while data.len() < target {
        if i.is_multiple_of(100) {
            data.extend_from_slice(format!("#TS:{}\r\n", 1_700_000_000 + i).as_bytes());
        }
        value.iter_mut().for_each(|b| *b = b'a' + (i % 26) as u8);
        let key = format!("key:{i}");
        data.extend(resp(&[b"SET", key.as_bytes(), &value]));
        data.extend(resp(&[b"INCR", b"counter"]));
        if i.is_multiple_of(10) {
            data.extend(resp(&[b"MULTI"]));
            data.extend(resp(&[b"RPUSH", b"list", key.as_bytes()]));
            data.extend(resp(&[b"EXEC"]));
        }
        i += 1;
    }
    let keep = data.len();
    data.extend_from_slice(&resp(&[b"SET", b"torn", &value])[..1000]);
    (data, keep)
}

/// Temporary files `aoftool` left in `dir`.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".aoftool-"))
        .collect();
    v.sort();
    v
}

/// `check --fix` on a damaged ~120 MB AOF, killed with SIGKILL at moments spread over a run (a
/// few measured from the start, most from the moment the temporary copy appears, to land in the
/// write / sync / link / rename steps): the path holds the original or the complete repaired
/// file, never anything else; a backup, when present, is the original, and is present whenever
/// the file was replaced (unless `--no-backup`). A kill before the rename leaves a temporary
/// `.aoftool-*.tmp` file next to it (always a prefix of the repaired bytes); nothing removes it,
/// the original stays valid and in place, and a later run is unaffected by it.
#[test]
fn kill_during_fix_leaves_original_or_repaired() {
    const SIZE: usize = 120 << 20;
    const ITERATIONS: u32 = 12;
    let (original, keep) = big_damaged_aof(SIZE);
    let repaired = &original[..keep];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("appendonly.aof");
    let bak = dir.path().join("appendonly.aof.bak");
    // Identities for the messages (a byte comparison decides).
    let (crc_orig, crc_repaired) = (crc64(&original), crc64(repaired));

    // Two complete runs (the second with warm caches): the repaired bytes, and the durations used
    // to spread the kills (only that; nothing is asserted about time).
    let mut full = std::time::Duration::ZERO;
    let mut writing = std::time::Duration::ZERO;
    for _ in 0..2 {
        for entry in fs::read_dir(dir.path()).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
        fs::write(&path, &original).unwrap();
        let t0 = Instant::now();
        let mut child =
            Command::new(AOFTOOL).arg("check").arg("--fix").arg(&path).stdout(Stdio::null()).spawn().unwrap();
        let mut tmp_seen = None;
        let status = loop {
            if tmp_seen.is_none() && !temp_files(dir.path()).is_empty() {
                tmp_seen = Some(t0.elapsed());
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        full = t0.elapsed();
        writing = full - tmp_seen.unwrap_or_default();
        assert!(status.success(), "complete --fix: {status}");
        assert!(fs::read(&path).unwrap() == repaired, "complete --fix result");
        assert!(fs::read(&bak).unwrap() == original, "backup of a complete --fix");
        assert!(temp_files(dir.path()).is_empty(), "a complete --fix leaves no temporary file");
    }
    // Kill points: (measured from the temporary file's appearance, fraction of the duration).
    let schedule: [(bool, f64); ITERATIONS as usize] = [
        (false, 0.0),
        (false, 0.3),
        (false, 0.6),
        (true, 0.0),
        (true, 0.1),
        (true, 0.2),
        (true, 0.35),
        (true, 0.5),
        (true, 0.65),
        (true, 0.8),
        (true, 0.95),
        (true, 1.1),
    ];

    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..ITERATIONS {
        for entry in fs::read_dir(dir.path()).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
        fs::write(&path, &original).unwrap();
        let backup = i.is_multiple_of(2);
        let mut cmd = Command::new(AOFTOOL);
        cmd.arg("check").arg("--fix").arg(&path).stdout(Stdio::null()).stderr(Stdio::null());
        if !backup {
            cmd.arg("--no-backup");
        }
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap();
        let (from_tmp, fraction) = schedule[i as usize];
        if from_tmp {
            // From the moment the temporary file appears (or the run ends).
            while temp_files(dir.path()).is_empty() && child.try_wait().unwrap().is_none() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            std::thread::sleep(writing.mul_f64(fraction));
        } else {
            std::thread::sleep(full.mul_f64(fraction));
        }
        child.kill().ok(); // SIGKILL to this child, by its PID (through the handle)
        let status = child.wait().unwrap();
        let when = started.elapsed();

        let now = fs::read(&path).unwrap();
        let state = if now == original {
            "original"
        } else if now == repaired {
            "repaired"
        } else {
            panic!(
                "iteration {i}: after kill -9 the file has {} bytes, crc {:#x}; neither the original ({} bytes, \
                 crc {crc_orig:#x}) nor the repaired file ({keep} bytes, crc {crc_repaired:#x})",
                now.len(),
                crc64(&now),
                original.len()
            );
        };
        let backup_state = match fs::read(&bak) {
            Ok(b) if b == original => "backup = original",
            Ok(b) => panic!("iteration {i}: the backup has {} bytes and is not the original", b.len()),
            Err(_) => "no backup",
        };
        if state == "repaired" && backup {
            assert_eq!(
                backup_state, "backup = original",
                "iteration {i}: replaced without the requested backup"
            );
        }
        if !backup {
            assert_eq!(backup_state, "no backup", "iteration {i}: a backup despite --no-backup");
        }
        let temps = temp_files(dir.path());
        for tmp in &temps {
            let bytes = fs::read(tmp).unwrap();
            assert!(
                bytes.len() <= keep && bytes == repaired[..bytes.len()],
                "iteration {i}: leftover {} ({} bytes) is not a prefix of the repaired file",
                tmp.display(),
                bytes.len()
            );
        }
        let others: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "appendonly.aof" && n != "appendonly.aof.bak" && !n.starts_with(".aoftool-"))
            .collect();
        assert!(others.is_empty(), "iteration {i}: unexpected files {others:?}");
        let exit = if status.success() { "finished" } else { "killed" };
        let key = format!("{exit}: file = {state}, {backup_state}, {} temporary file(s)", temps.len());
        eprintln!("  iteration {i}: {key} (after {when:.2?})");
        *states.entry(key).or_default() += 1;
    }
    eprintln!(
        "kill_during_fix_leaves_original_or_repaired: {} MB file, a complete --fix takes {full:.2?} ({writing:.2?} \
         from the temporary file's creation); outcomes: {states:#?}",
        original.len() >> 20
    );
}

// ---------------------------------------------------------------------------------------------
// (d) --dry-run and backups.

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("JSON output: {e}\n{}{}", r.stdout, r.stderr))
}

#[test]
fn dry_run_changes_nothing_and_backups_keep_the_original() {
    let damaged = testdata().join("damaged");
    // (file, repair flag, dropped ranges expected)
    type Case = (&'static str, &'static str, &'static [(u64, u64)]);
    let cases: [Case; 4] = [
        ("truncated.aof", "--fix", &[(9270, 9295)]),
        ("open-multi.aof", "--fix", &[(17018, 17107)]),
        ("garbage-mid.aof", "--fix", &[(9270, 17038)]),
        ("garbage-mid.aof", "--salvage", &[(9270, 9290)]),
    ];
    for (file, flag, dropped) in cases {
        let original = fs::read(damaged.join(file)).unwrap();
        let expected: Vec<u8> = {
            let mut out = Vec::new();
            let mut pos = 0;
            for &(a, b) in dropped {
                out.extend_from_slice(&original[pos..a as usize]);
                pos = b as usize;
            }
            out.extend_from_slice(&original[pos..]);
            out
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file);
        fs::write(&path, &original).unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
        let before = fs::metadata(&path).unwrap();
        let listing = || -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into())
                .collect();
            v.sort();
            v
        };

        // Plain check and --dry-run: nothing changes, the same cut is reported.
        let check = aoftool(&["--json"], &path);
        assert_eq!(check.code, 1, "{file}: check of a damaged file");
        let dry = aoftool(&[flag, "--dry-run", "--json"], &path);
        assert_eq!(dry.code, 1, "{file} {flag} --dry-run: {}", dry.stderr);
        let (check, dry) = (json(&check), json(&dry));
        assert_eq!(check["problem"], dry["problem"], "{file}: --dry-run reports the same problem and cut");
        assert_eq!(dry["repair"]["dry_run"], true);
        let want: Vec<Value> = dropped.iter().map(|&(a, b)| serde_json::json!([a, b])).collect();
        assert_eq!(
            dry["repair"]["dropped"],
            Value::Array(want.clone()),
            "{file} {flag} --dry-run: dropped ranges"
        );
        if flag == "--fix" {
            assert_eq!(dry["problem"]["cut"]["offset"], dropped[0].0, "{file}: cut offset");
        }
        assert!(fs::read(&path).unwrap() == original, "{file}: --dry-run changed the file");
        let after = fs::metadata(&path).unwrap();
        assert_eq!(
            (after.len(), after.modified().unwrap()),
            (before.len(), before.modified().unwrap()),
            "{file}: --dry-run touched the file"
        );
        assert_eq!(listing(), [file], "{file}: --dry-run created files");

        // The repair: a backup identical to the original, the file repaired with its permissions.
        let fixed = aoftool(&[flag, "--json"], &path);
        assert_eq!(fixed.code, 0, "{file} {flag}: {}", fixed.stderr);
        assert_eq!(
            json(&fixed)["repair"]["dropped"],
            Value::Array(want),
            "{file} {flag}: the same ranges as --dry-run"
        );
        assert!(fs::read(&path).unwrap() == expected, "{file} {flag}: repaired bytes");
        let bak = dir.path().join(format!("{file}.bak"));
        assert!(fs::read(&bak).unwrap() == original, "{file} {flag}: the backup is the original");
        assert_eq!(
            listing(),
            [file.to_string(), format!("{file}.bak")],
            "{file} {flag}: files after the repair"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640,
            "{file} {flag}: the repaired file keeps the original's permissions"
        );
        // Repairing a valid file changes nothing and keeps no backup.
        let again = aoftool(&[flag], &path);
        assert_eq!(again.code, 0, "{file} {flag} on the repaired file: {}", again.stdout);
        assert_eq!(
            listing(),
            [file.to_string(), format!("{file}.bak")],
            "{file}: a second repair made files"
        );

        // --no-backup: no backup.
        fs::remove_file(&bak).unwrap();
        fs::write(&path, &original).unwrap();
        let fixed = aoftool(&[flag, "--no-backup"], &path);
        assert_eq!(fixed.code, 0, "{file} {flag} --no-backup: {}", fixed.stderr);
        assert!(fs::read(&path).unwrap() == expected, "{file} {flag} --no-backup: repaired bytes");
        assert_eq!(listing(), [file], "{file} {flag} --no-backup: files after the repair");
    }
}
