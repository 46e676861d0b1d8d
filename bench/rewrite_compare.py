#!/usr/bin/env python3
"""Time `aoftool rewrite` beside redis-server loading the same AOF and running BGREWRITEAOF.

Usage:  python3 bench/rewrite_compare.py AOF_DIR [--aoftool target/release/aoftool]
                                         [--server /usr/bin/redis-server] [--reps 1]
                                         [--load-only] [--aoftool-arg ARG]...

AOF_DIR is a multi-part AOF directory (manifest + files). For each repetition:

* aoftool: `aoftool rewrite AOF_DIR -o OUT --format aof` under bench/measure.py (wall, CPU,
  peak RSS), and the output's size.
* redis-server: started on 127.0.0.1 on a free port with its own temporary --dir whose
  appenddirname holds symlinks to AOF_DIR's files and a copy of its manifest, with
  `--appendonly yes --aof-use-rdb-preamble no --save ''`. Load time: exec to first PONG, and
  the server's own "DB loaded from append only file: X seconds". Then BGREWRITEAOF: wall time
  until INFO shows no rewrite in progress or scheduled, the log's rewrite timing lines, and
  the new base file's size. Peak RSS of the server process (sampled; the forked rewrite child
  is not counted, its pages are shared copy-on-write) and used_memory. The server is stopped
  with SHUTDOWN NOSAVE and waited for by its own PID.

--load-only stops the server after loading, for logs its BGREWRITEAOF cannot rewrite (Redis
8.6's crashes on a vector set without an RDB preamble); --aoftool-arg passes an option to
`aoftool rewrite` (`--written-by redis8` for a log that does not name its server).

Prints one JSON line per tool and repetition. With --warmup, an unreported aoftool run goes
first, so that aoftool's first reported run, like every server run, follows a run of the other
tool.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import measure  # noqa: E402
from redis_load import Sampler, free_port, request, wait_ready  # noqa: E402


def run_aoftool(aoftool: str, aof_dir: str, extra: list[str]) -> dict:
    out = tempfile.mkdtemp(prefix="aoftool-bench-rewrite-")
    try:
        target = os.path.join(out, "rewritten.aof")
        result = measure([aoftool, "rewrite", aof_dir, "-o", target, "--format", "aof", *extra])
        result["output_bytes"] = os.path.getsize(target) if os.path.exists(target) else None
        result["tool"] = "aoftool rewrite"
        return result
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run_server(server: str, aof_dir: str, load_only: bool) -> dict:
    tmp = tempfile.mkdtemp(prefix="aoftool-bench-bgrewrite-")
    proc = None
    try:
        dst = os.path.join(tmp, "appendonlydir")
        os.mkdir(dst)
        for name in os.listdir(aof_dir):
            src = os.path.join(os.path.abspath(aof_dir), name)
            if name.endswith(".manifest"):
                shutil.copyfile(src, os.path.join(dst, name))
            else:
                os.symlink(src, os.path.join(dst, name))
        port = free_port()
        log = os.path.join(tmp, "server.log")
        argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "",
                "--appendonly", "yes", "--appenddirname", "appendonlydir",
                "--aof-use-rdb-preamble", "no", "--auto-aof-rewrite-percentage", "0",
                "--daemonize", "no", "--logfile", log]
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        sampler = Sampler(proc.pid)
        load_wall = wait_ready(proc, port, log) - t0
        t1 = time.monotonic()
        if not load_only:
            reply = request(port, "BGREWRITEAOF")
            if not reply.startswith(b"+"):
                raise RuntimeError(f"BGREWRITEAOF: {reply[:200]!r}")
            while True:
                info = request(port, "INFO", "persistence").decode(errors="replace")
                if "aof_rewrite_in_progress:0" in info and "aof_rewrite_scheduled:0" in info:
                    break
                time.sleep(0.01)
        rewrite_wall = time.monotonic() - t1
        peak = sampler.finish()
        info = request(port, "INFO").decode(errors="replace")
        used = int(re.search(r"^used_memory:(\d+)", info, re.M).group(1))
        keys = sum(int(m) for m in re.findall(r"^db\d+:keys=(\d+)", info, re.M))
        base = [n for n in os.listdir(dst) if n.endswith(".base.aof") and not os.path.islink(os.path.join(dst, n))]
        try:
            request(port, "SHUTDOWN", "NOSAVE")
        except OSError:
            pass
        proc.wait(timeout=300)
        with open(log) as f:
            text = f.read()
        m = re.search(r"DB loaded from append only file: ([\d.]+) seconds", text)
        return {
            "tool": "redis-server load" + ("" if load_only else " + BGREWRITEAOF"),
            "load_wall_s": load_wall,
            "log_load_s": float(m.group(1)) if m else None,
            "rewrite_wall_s": rewrite_wall,
            "wall_s": load_wall + rewrite_wall,
            "output_bytes": os.path.getsize(os.path.join(dst, base[0])) if base else None,
            "keys": keys,
            "used_memory": used,
            "peak_anon_kb": peak["RssAnon"],
            "maxrss_kb": max(peak["VmHWM"], peak["VmRSS"]),
            "rewrite_log": re.findall(r"^.*(?:rewrite|Rewrite).*$", text, re.M)[-4:],
        }
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()  # our own PID only
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("aof_dir")
    ap.add_argument("--aoftool", default="target/release/aoftool")
    ap.add_argument("--server", default="/usr/bin/redis-server")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--warmup", action="store_true",
                    help="run aoftool once, unreported, first: on a virtual machine the first "
                         "run after an idle spell pays for the host mapping fresh pages, which "
                         "each later run (of either tool) is spared by the one before it")
    ap.add_argument("--load-only", action="store_true")
    ap.add_argument("--aoftool-arg", action="append", default=[])
    a = ap.parse_args()
    if a.warmup:
        run_aoftool(a.aoftool, a.aof_dir, a.aoftool_arg)
    for _ in range(a.reps):
        print(json.dumps(run_aoftool(a.aoftool, a.aof_dir, a.aoftool_arg)), flush=True)
        print(json.dumps(run_server(a.server, a.aof_dir, a.load_only)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
