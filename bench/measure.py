#!/usr/bin/env python3
"""Run one command and report its wall time, CPU time and memory as one JSON line.

Usage:  python3 bench/measure.py [--stdout FILE] [--interval S] -- CMD ARGS...

* wall time: monotonic clock around fork/exec .. wait4 (process start-up included).
* user/sys CPU from wait4's rusage.
* peak total RSS: the kernel's high-water mark VmHWM (anonymous + file-backed + shmem
  resident pages) of the exec'd image, read from /proc/PID/status at every sample (the
  last sample is at most --interval before exit).  ru_maxrss is not used: Linux carries
  the forking parent's RSS over exec, so it would never be below Python's ~16 MB.
* peak RssAnon / RssFile: /proc/PID/status sampled every --interval seconds (default
  0.005), max over samples.  RssAnon is the anonymous memory (heap, stacks, buffers);
  RssFile counts the file's pages that a memory-mapping reader has touched (page-cache
  pages, shared and reclaimable), which is why it is reported beside, not in, the
  anonymous figure.  Sampling can miss a spike shorter than the interval.
Standard output of the command goes to --stdout (default /dev/null); stderr is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time


def read_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:", "VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])  # kB
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def measure(cmd: list[str], stdout_path: str = "/dev/null", interval: float = 0.005) -> dict:
    peak = {"RssAnon": 0, "RssFile": 0, "VmRSS": 0, "VmHWM": 0}
    stop = threading.Event()
    with open(stdout_path, "wb") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stdin=subprocess.DEVNULL)

        def sample():
            while not stop.is_set():
                s = read_status(proc.pid)
                for k in peak:
                    if s.get(k, 0) > peak[k]:
                        peak[k] = s[k]
                stop.wait(interval)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        stop.set()
        th.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "cmd": cmd,
        "exit": proc.returncode,
        "wall_s": wall,
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        # VmHWM: the kernel's high-water mark of total RSS for the exec'd image, as last
        # sampled.  (ru_maxrss is not used: it keeps the forking Python's RSS as a floor.)
        "maxrss_kb": max(peak["VmHWM"], peak["VmRSS"]),
        "ru_maxrss_kb": ru.ru_maxrss,
        "peak_anon_kb": peak["RssAnon"],
        "peak_file_kb": peak["RssFile"],
        "peak_sampled_rss_kb": peak["VmRSS"],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stdout", default="/dev/null")
    ap.add_argument("--interval", type=float, default=0.005)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command")
    print(json.dumps(measure(cmd, a.stdout, a.interval)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
