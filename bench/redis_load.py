#!/usr/bin/env python3
"""Time how long redis-server takes to load an RDB file, and its memory while doing so.

Usage:  python3 bench/redis_load.py FILE [--server /usr/bin/redis-server]

Starts the server on 127.0.0.1 on a free port, with its own temporary --dir holding a
symlink to FILE as --dbfilename, `--save ''` and `--appendonly no`.  Polls PING every 5 ms
until it stops answering -LOADING, samples /proc/PID/status meanwhile, then reads INFO,
sends SHUTDOWN NOSAVE and waits for its own PID (killing that PID only if needed).
Prints one JSON line: wall_s (exec to first PONG), log_load_s (the server's own
"DB loaded from disk: X seconds"), keys (sum of the keyspace), peak RssAnon/RssFile
(sampled), VmHWM, CPU time (all read before SHUTDOWN) and used_memory after loading.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import read_status  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, *args: str) -> bytes:
    msg = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(msg)
        data = b""
        while True:
            chunk = s.recv(1 << 16)
            data += chunk
            if not chunk or (data.startswith((b"+", b"-", b":")) and data.endswith(b"\r\n")):
                return data
            if data.startswith(b"$"):
                head, _, rest = data.partition(b"\r\n")
                if len(rest) >= int(head[1:]) + 2:
                    return data


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--server", default="/usr/bin/redis-server")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="aoftool-bench-load-")
    os.symlink(os.path.abspath(a.file), os.path.join(tmp, "load.rdb"))
    port = free_port()
    log = os.path.join(tmp, "server.log")
    peak = {"RssAnon": 0, "RssFile": 0, "VmRSS": 0}
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [a.server, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp,
         "--dbfilename", "load.rdb", "--save", "", "--appendonly", "no",
         "--daemonize", "no", "--logfile", log, "--databases", "16"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        wall = None
        while proc.poll() is None:
            s = read_status(proc.pid)
            for k in peak:
                peak[k] = max(peak[k], s.get(k, 0))
            try:
                if request(port, "PING").startswith(b"+PONG"):
                    wall = time.monotonic() - t0
                    break
            except OSError:
                pass
            time.sleep(0.005)
        if wall is None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
        s = read_status(proc.pid)
        for k in peak:
            peak[k] = max(peak[k], s.get(k, 0))
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        user_s, sys_s = int(fields[11]) / tick, int(fields[12]) / tick
        hwm = read_status(proc.pid).get("VmHWM")
        info = request(port, "INFO").decode(errors="replace")
        keys = sum(int(m) for m in re.findall(r"^db\d+:keys=(\d+)", info, re.M))
        used = int(re.search(r"^used_memory:(\d+)", info, re.M).group(1))
        try:
            request(port, "SHUTDOWN", "NOSAVE")
        except OSError:
            pass
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()  # our own PID only
            proc.wait()
        with open(log) as f:
            text = f.read()
        m = re.search(r"DB loaded from disk: ([\d.]+) seconds", text)
        print(json.dumps({
            "cmd": [a.server, "(load)", a.file],
            "exit": 0,
            "wall_s": wall,
            "log_load_s": float(m.group(1)) if m else None,
            "keys": keys,
            "used_memory": used,
            "peak_anon_kb": peak["RssAnon"],
            "peak_file_kb": peak["RssFile"],
            "peak_sampled_rss_kb": peak["VmRSS"],
            "maxrss_kb": hwm,
            "user_s": user_s,
            "sys_s": sys_s,
        }))
        return 0
    finally:
        if proc.poll() is None:
            proc.kill()  # our own PID only
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
