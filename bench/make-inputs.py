#!/usr/bin/env python3
"""Build the two ~1 GB benchmark RDBs with a real redis-server 7.0.

Usage:  python3 bench/make-inputs.py [--out /work/benchdata] [--only strings|mixed]
                                     [--scale F] [--server /usr/bin/redis-server]

Writes into --out (default $AOFTOOL_BENCHDATA or /work/benchdata, never the repo):

  strings.rdb   tens of millions of small string keys (10-20-byte printable values)
  mixed.rdb     every type and encoding Redis 7.0 writes: int-encoded, short,
                medium and large strings (LZF-compressed and incompressible),
                listpack and hashtable hashes, intsets and hashtable sets,
                listpack and skiplist sorted sets, small and many-node quicklists,
                streams with deleted entries and consumer groups with pending
                entries; about a quarter of the keys carry an expiry (after 2100)
  inputs.json   counts per kind, DBSIZE, file size, SAVE time, server version
  <name>.server.log  the server's log

The data is generated inside the server by bench/gen.lua (EVALSHA in chunks),
so nothing large crosses the socket.  Every key and value is a pure function of
its kind and index: the key set and contents are the same on every run.  The
byte order of the file is not: Redis seeds its hash function randomly at start,
so the order of keys in the file (and stream delivery times, LRU) differ.

The server is started on 127.0.0.1 on a free port with its own temporary --dir,
`--save ''` and `--appendonly no`, and is stopped with SHUTDOWN NOSAVE, then by
its own PID if needed.  Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (kind, count at scale 1.0, keys per EVALSHA call, db).  Sizes were calibrated
# so that each file is about 1 GB (see BENCHMARKS.md for the measured sizes).
STRINGS_PLAN = [("strings", 39_000_000, 200_000, 0)]
MIXED_PLAN = [
    ("int", 2_000_000, 100_000, 0),
    ("short", 3_200_000, 100_000, 0),
    ("short", 1_000_000, 100_000, 1),  # a second database
    ("medium", 200_000, 20_000, 0),
    ("large", 1_500, 100, 0),
    ("hsmall", 220_000, 5_000, 0),
    ("hlarge", 1_000, 20, 0),
    ("sint", 100_000, 2_000, 0),
    ("sstr", 1_000, 20, 0),
    ("zsmall", 100_000, 2_000, 0),
    ("zlarge", 1_000, 20, 0),
    ("lsmall", 150_000, 5_000, 0),
    ("llarge", 500, 10, 0),
    ("stream", 200, 5, 0),
]


class Client:
    """Minimal synchronous RESP2 client."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=3600)
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"bad reply {line!r}")

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += [b"$%d\r\n" % len(a), a, b"\r\n"]
        self.sock.sendall(b"".join(out))
        return self._reply()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_version(server: str) -> str:
    return subprocess.run([server, "--version"], capture_output=True, text=True).stdout.strip()


def build(name: str, plan, scale: float, out_dir: str, server: str) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"aoftool-bench-{name}-")
    port = free_port()
    log = os.path.join(tmp, "server.log")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp,
         "--dbfilename", f"{name}.rdb", "--save", "", "--appendonly", "no",
         "--daemonize", "no", "--logfile", log, "--busy-reply-threshold", "600000",
         "--databases", "16"],
        stdin=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                c = Client(port)
                c.call("PING")
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("server did not start; see " + log)
        with open(os.path.join(HERE, "gen.lua"), "rb") as f:
            sha = c.call("SCRIPT", "LOAD", f.read()).decode()
        counts = {}
        t0 = time.monotonic()
        for kind, total, chunk, db in plan:
            total = max(1, int(total * scale))
            chunk = max(1, min(chunk, total))
            c.call("SELECT", db)
            made = 0
            for first in range(0, total, chunk):
                made += c.call("EVALSHA", sha, 0, kind, first, min(chunk, total - first))
            counts[f"{kind}@db{db}"] = made
            print(f"  {name}: {kind}@db{db}: {made} keys ({time.monotonic() - t0:.0f} s)",
                  file=sys.stderr)
        fill_s = time.monotonic() - t0
        dbsize = {}
        for db in range(16):
            c.call("SELECT", db)
            n = c.call("DBSIZE")
            if n:
                dbsize[db] = n
        info = c.call("INFO", "memory").decode()
        used_memory = int(next(l.split(":")[1] for l in info.splitlines()
                               if l.startswith("used_memory:")))
        t0 = time.monotonic()
        c.call("SAVE")
        save_s = time.monotonic() - t0
        try:
            c.call("SHUTDOWN", "NOSAVE")
        except (ConnectionError, OSError):
            pass
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()  # this PID only
            proc.wait()
        os.makedirs(out_dir, exist_ok=True)
        dest = os.path.join(out_dir, f"{name}.rdb")
        shutil.move(os.path.join(tmp, f"{name}.rdb"), dest)
        shutil.copy(log, os.path.join(out_dir, f"{name}.server.log"))
        with open(log) as f:
            saved_line = next((l.strip() for l in f if "DB saved on disk" in l), "")
        return {
            "file": dest,
            "bytes": os.path.getsize(dest),
            "keys": sum(dbsize.values()),
            "dbsize": dbsize,
            "counts": counts,
            "scale": scale,
            "fill_seconds": round(fill_s, 1),
            "save_seconds": round(save_s, 2),
            "save_log_line": saved_line,
            "used_memory_before_save": used_memory,
            "server": server_version(server),
        }
    finally:
        if proc.poll() is None:
            proc.kill()  # this PID only
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.environ.get("AOFTOOL_BENCHDATA", "/work/benchdata"))
    ap.add_argument("--only", choices=["strings", "mixed"])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every key count (0.01 for a quick ~10 MB try)")
    ap.add_argument("--server", default=os.environ.get("AOFTOOL_REDIS_SERVER",
                                                       "/usr/bin/redis-server"))
    args = ap.parse_args()
    meta_path = os.path.join(args.out, "inputs.json")
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    for name, plan in (("strings", STRINGS_PLAN), ("mixed", MIXED_PLAN)):
        if args.only and args.only != name:
            continue
        print(f"building {name}.rdb (scale {args.scale})", file=sys.stderr)
        meta[name] = build(name, plan, args.scale, args.out, args.server)
        print(json.dumps(meta[name], indent=1), file=sys.stderr)
        os.makedirs(args.out, exist_ok=True)
        with open(meta_path, "w") as f:
            json.dump(meta, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
