#!/usr/bin/env python3
"""Time redis-server loading an RDB file (and, on request, saving it or digesting it).

Usage:  python3 bench/redis_load.py FILE [--server /usr/bin/redis-server]
        python3 bench/redis_load.py FILE --save       load, then SAVE
        python3 bench/redis_load.py FILE --digest     load, then DEBUG DIGEST
        python3 bench/redis_load.py --pipe RESP       empty server, `redis-cli --pipe < RESP`,
                                                      then DEBUG DIGEST

Starts the server on 127.0.0.1 on a free port, with its own temporary --dir holding FILE
(a symlink as --dbfilename; with --save a copy named dump.rdb, since SAVE writes there),
`--save ''` and `--appendonly no` (`--enable-debug-command yes` for --digest and --pipe).
Polls PING every 5 ms until it stops answering -LOADING, samples /proc/PID/status every
5 ms for the server's whole life, then reads INFO, sends SHUTDOWN NOSAVE and waits for
its own PID (killing that PID only if needed).

Prints one JSON line: wall_s (load: exec to first PONG; --save: SAVE's round trip from the
client, which is the whole save because SAVE blocks the server and replies when the file is
renamed into place; --pipe: redis-cli --pipe's run), load_wall_s, log_load_s (the server's
own "DB loaded from disk: X seconds"), keys (sum of the keyspace), peak RssAnon/RssFile
(sampled), VmHWM, CPU time (all read before SHUTDOWN), used_memory, and for --save the
"DB saved on disk" log line and the saved file's size, for --digest/--pipe the digest.
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
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import read_status  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, *args: str, timeout: float = 30) -> bytes:
    msg = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
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


def wait_ready(proc: subprocess.Popen, port: int, log: str) -> float:
    """Polls PING every 5 ms until the server answers +PONG (it has loaded its data); returns
    the monotonic time it did. Raises if the server exits first."""
    while proc.poll() is None:
        try:
            if request(port, "PING").startswith(b"+PONG"):
                return time.monotonic()
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"server exited with {proc.returncode}; see {log}")


class Sampler:
    """Peak RssAnon / RssFile / VmRSS of one PID, sampled every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.005):
        self.pid = pid
        self.peak = {"RssAnon": 0, "RssFile": 0, "VmRSS": 0, "VmHWM": 0}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, args=(interval,), daemon=True)
        self.thread.start()

    def sample(self) -> None:
        s = read_status(self.pid)
        for k in self.peak:
            self.peak[k] = max(self.peak[k], s.get(k, 0))

    def run(self, interval: float) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(interval)

    def finish(self) -> dict:
        self.stop.set()
        self.thread.join()
        self.sample()
        return self.peak


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?")
    ap.add_argument("--server", default="/usr/bin/redis-server")
    ap.add_argument("--cli", default="/usr/bin/redis-cli")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--save", action="store_true", help="load, then time SAVE")
    mode.add_argument("--digest", action="store_true", help="load, then DEBUG DIGEST")
    mode.add_argument("--pipe", metavar="RESP", help="pipe RESP into an empty server, then digest")
    a = ap.parse_args()
    if not a.pipe and not a.file:
        ap.error("FILE or --pipe RESP")
    tmp = tempfile.mkdtemp(prefix="aoftool-bench-load-")
    dbfile = "dump.rdb" if a.save else "load.rdb"
    if a.save:
        shutil.copyfile(a.file, os.path.join(tmp, dbfile))
    elif a.file and not a.pipe:
        os.symlink(os.path.abspath(a.file), os.path.join(tmp, dbfile))
    port = free_port()
    log = os.path.join(tmp, "server.log")
    argv = [a.server, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp,
            "--dbfilename", dbfile, "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--logfile", log, "--databases", "16"]
    if a.digest or a.pipe:
        argv += ["--enable-debug-command", "yes"]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    sampler = Sampler(proc.pid)
    try:
        load_wall = wait_ready(proc, port, log) - t0
        result = {"cmd": [a.server, "(load)", a.file], "exit": 0, "wall_s": load_wall,
                  "load_wall_s": load_wall}
        if a.save:
            t1 = time.monotonic()
            reply = request(port, "SAVE", timeout=3600)
            result["wall_s"] = time.monotonic() - t1
            result["cmd"] = [a.server, "(load, SAVE)", a.file]
            if not reply.startswith(b"+OK"):
                raise RuntimeError(f"SAVE: {reply[:200]!r}")
            result["output_bytes"] = os.path.getsize(os.path.join(tmp, dbfile))
        if a.pipe:
            t1 = time.monotonic()
            with open(a.pipe, "rb") as f:
                out = subprocess.run([a.cli, "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                                     stdin=f, capture_output=True, text=True)
            result["wall_s"] = time.monotonic() - t1
            result["cmd"] = [a.cli, "--pipe", a.pipe]
            result["pipe_output"] = out.stdout.strip().splitlines()[-2:]
            if out.returncode != 0:
                raise RuntimeError(f"redis-cli --pipe: exit {out.returncode}: {out.stdout[-500:]}")
        if a.digest or a.pipe:
            t1 = time.monotonic()
            reply = request(port, "DEBUG", "DIGEST", timeout=3600)
            result["digest_s"] = time.monotonic() - t1
            result["digest"] = reply.decode().strip().lstrip("+")
        peak = sampler.finish()
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        user_s, sys_s = int(fields[11]) / tick, int(fields[12]) / tick
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
        saved = re.search(r"^.*DB saved on disk.*$", text, re.M)
        result.update({
            "log_load_s": float(m.group(1)) if m else None,
            "save_log_line": saved.group(0) if saved else None,
            "keys": keys,
            "used_memory": used,
            "peak_anon_kb": peak["RssAnon"],
            "peak_file_kb": peak["RssFile"],
            "peak_sampled_rss_kb": peak["VmRSS"],
            "maxrss_kb": max(peak["VmHWM"], peak["VmRSS"]),
            "user_s": user_s,
            "sys_s": sys_s,
        })
        print(json.dumps(result))
        return 0
    finally:
        sampler.stop.set()
        if proc.poll() is None:
            proc.kill()  # our own PID only
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
