#!/usr/bin/env python3
"""Side-by-side comparison of aoftool with its peers on the same RDB files, in one run.

Usage:  python3 bench/compare.py [--reps N] [--only NAME,...] [--json OUT] FILE...
        (bench/compare.sh builds everything first and then calls this)

For every FILE, each tool below runs --reps times (default 3; a tool whose first run
takes more than --slow seconds runs once), the page cache warmed first, standard output
to /dev/null.  The run with the lowest wall time is reported (on a shared machine noise only adds time),
with every run's wall time listed.  MB/s = file bytes / 1e6 /
wall seconds; keys/s = keys in the file / wall seconds (the same key count for every
tool, even those that skip streams).  Memory: see bench/measure.py and bench/redis_load.py.

The "write" tools (`convert --to rdb|resp`) write their output with `-o` to a file in
BENCH_OUT (default /work/benchout, on the same disk as the inputs); the file's size is
reported and the file removed after each run.  redis-save is redis-server loading the file
and then running SAVE (bench/redis_load.py --save): its wall time is SAVE's round trip, its
memory the server's peak over load and save.

Environment: AOFTOOL (release binary), DECODE_FILE (bench binary of benches/decode_file.rs),
RDB_CLI (the `rdb` crate's CLI), RDBPY_PYTHON (a python with rdb-py), REDIS_SERVER,
REDIS_CHECK_RDB, BENCH_OUT.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from measure import measure  # noqa: E402

AOFTOOL = os.environ.get("AOFTOOL", "/work/target-bench/release/aoftool")
DECODE_FILE = os.environ.get("DECODE_FILE", "/work/target-bench/release/decode_file")
RDB_CLI = os.environ.get("RDB_CLI", "/work/benchtools/bin/rdb")
RDBPY = os.environ.get("RDBPY_PYTHON", "/work/benchtools/venv/bin/python")
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
REDIS_CHECK_RDB = os.environ.get("REDIS_CHECK_RDB", "/usr/bin/redis-check-rdb")
BENCH_OUT = os.environ.get("BENCH_OUT", "/work/benchout")


def out_file(suffix: str) -> str:
    return os.path.join(BENCH_OUT, f"aoftool-bench-out.{suffix}")

# (name, group, description, argv builder).  group "convert" = writes JSON;
# "decode" = full decode with no output; "write" = writes an RDB file or RESP to a file
# (argv builder's output path is removed after each run).
TOOLS = [
    ("aoftool", "convert", "aoftool convert --to jsonl (2 threads, default)",
     lambda f: [AOFTOOL, "convert", f, "--to", "jsonl"]),
    ("aoftool-t1", "convert", "aoftool convert --to jsonl --threads 1",
     lambda f: [AOFTOOL, "convert", f, "--to", "jsonl", "--threads", "1"]),
    ("rdb-cli", "convert", "rdb --format json (rdb crate CLI)",
     lambda f: [RDB_CLI, "--format", "json", f]),
    ("rdb-py", "convert", "rdb-py, bench/rdbpy_json.py (JSON Lines)",
     lambda f: [RDBPY, os.path.join(HERE, "rdbpy_json.py"), f]),
    ("check", "decode", "aoftool check (full decode + CRC, no output, 2 threads, default)",
     lambda f: [AOFTOOL, "check", f]),
    ("check-t1", "decode", "aoftool check --threads 1",
     lambda f: [AOFTOOL, "check", f, "--threads", "1"]),
    ("decode", "decode", "aoftool full decode + CRC, no output, 1 thread (benches/decode_file.rs)",
     lambda f: [DECODE_FILE, f, "--threads", "1"]),
    ("decode-t2", "decode", "aoftool full decode + CRC, no output, 2 threads",
     lambda f: [DECODE_FILE, f, "--threads", "2"]),
    ("walk", "decode", "aoftool framing walk only, no CRC (benches/decode_file.rs --walk-only)",
     lambda f: [DECODE_FILE, f, "--walk-only", "--no-crc"]),
    ("redis-check-rdb", "decode", "redis-check-rdb 7.0",
     lambda f: [REDIS_CHECK_RDB, f]),
    ("rdb-cli-nil", "decode", "rdb --format nil (rdb crate CLI, parse only)",
     lambda f: [RDB_CLI, "--format", "nil", f]),
    ("rdb-py-iter", "decode", "rdb-py, iterate items only (bench/rdbpy_json.py --no-output)",
     lambda f: [RDBPY, os.path.join(HERE, "rdbpy_json.py"), f, "--no-output"]),
    ("redis-load", "load", "redis-server 7.0 loading the file at start-up",
     None),
    ("to-rdb", "write", "aoftool convert --to rdb -o FILE (2 threads, default)",
     lambda f: [AOFTOOL, "convert", f, "--to", "rdb", "-o", out_file("rdb")]),
    ("to-rdb-t1", "write", "aoftool convert --to rdb -o FILE --threads 1",
     lambda f: [AOFTOOL, "convert", f, "--to", "rdb", "-o", out_file("rdb"), "--threads", "1"]),
    ("to-resp", "write", "aoftool convert --to resp -o FILE (2 threads, default)",
     lambda f: [AOFTOOL, "convert", f, "--to", "resp", "-o", out_file("resp")]),
    ("to-resp-t1", "write", "aoftool convert --to resp -o FILE --threads 1",
     lambda f: [AOFTOOL, "convert", f, "--to", "resp", "-o", out_file("resp"), "--threads", "1"]),
    ("to-resp-restore", "write", "aoftool convert --to resp --restore -o FILE (2 threads)",
     lambda f: [AOFTOOL, "convert", f, "--to", "resp", "--restore", "-o", out_file("restore")]),
    ("redis-save", "write", "redis-server 7.0: load the file, then SAVE (time of SAVE)",
     None),
]

# Tools that are off unless named in --only (slow, or not about reading).
OPT_IN = {"to-rdb-t1", "to-resp-t1", "redis-save"}


def warm(path: str) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run_tool(name: str, argv, path: str) -> dict:
    warm(path)
    if argv is None:  # redis-server load (and SAVE)
        extra = ["--save"] if name == "redis-save" else []
        out = subprocess.run([sys.executable, os.path.join(HERE, "redis_load.py"), path,
                              "--server", REDIS_SERVER] + extra,
                             capture_output=True, text=True)
        if out.returncode != 0:
            return {"exit": out.returncode, "error": out.stderr[-2000:], "wall_s": None}
        return json.loads(out.stdout)
    cmd = argv(path)
    output = cmd[cmd.index("-o") + 1] if "-o" in cmd else None
    if output:
        os.makedirs(os.path.dirname(output), exist_ok=True)
    r = measure(cmd)
    if output and os.path.exists(output):
        r["output_bytes"] = os.path.getsize(output)
        os.remove(output)
    return r


def count_keys(path: str) -> int:
    meta = os.path.join(os.path.dirname(path), "inputs.json")
    if os.path.exists(meta):
        with open(meta) as f:
            for entry in json.load(f).values():
                if os.path.abspath(entry.get("file", "")) == os.path.abspath(path) \
                        and entry.get("bytes") == os.path.getsize(path):
                    return entry["keys"]
    out = subprocess.run([DECODE_FILE, path, "--walk-only", "--no-crc"],
                         capture_output=True, text=True, check=True).stdout
    return int(re.search(r"(\d+) keys", out).group(1))


def versions() -> dict:
    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    rdbpy = first_line([RDBPY, "-c", "import importlib.metadata as m; print('rdb-py', m.version('rdb-py'))"])
    return {
        "aoftool": first_line([AOFTOOL, "--version"]),
        "aoftool_source": first_line(["git", "-C", os.path.dirname(HERE), "describe", "--always",
                                      "--dirty"]),
        "rdb-cli": "rdb crate " + first_line(["sh", "-c", f"ls {os.path.dirname(os.path.dirname(RDB_CLI))}/.crates.toml >/dev/null 2>&1 && grep -o 'rdb [0-9.]*' {os.path.dirname(os.path.dirname(RDB_CLI))}/.crates.toml | head -1"]),
        "rdb-py": rdbpy,
        "redis-server": first_line([REDIS_SERVER, "--version"]),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                           if l.startswith("model name")), "?"),
    }


def mb(kb):
    return "" if kb is None else f"{kb / 1024:,.0f}"


def out_mb(n):
    return "" if n is None else f"{n / 1e6:,.0f}"


def table(file_results: dict, path: str, size: int, keys: int) -> str:
    rows = []
    head = ("| tool | what | best wall s | MB/s | keys/s | CPU s | MB/CPU-s | peak anon RSS MB | "
            "peak file RSS MB | peak total RSS MB | output MB | all runs, wall s |")
    rows.append(head)
    rows.append("|" + "---|" * 12)
    for name, group, desc, _ in TOOLS:
        r = file_results.get(name)
        if r is None:
            continue
        if r.get("wall_s") is None or r.get("exit") != 0:
            rows.append(f"| {name} | {desc} | failed (exit {r.get('exit')}) |" + " |" * 9)
            continue
        w = r["wall_s"]
        cpu_s = None if r.get("user_s") is None else r["user_s"] + r["sys_s"]
        cpu = "" if cpu_s is None else f"{cpu_s:.2f}"
        per_cpu = "" if not cpu_s else f"{size / 1e6 / cpu_s:,.0f}"
        if name == "redis-load" and r.get("log_load_s") is not None:
            desc = f"{desc} (server log: {r['log_load_s']:.2f} s; {r['keys']:,} keys)"
        if name == "redis-save":
            # CPU time and memory cover load + SAVE; MB/s is input bytes / SAVE time.
            cpu_s = None
            cpu = "(load+save) %.2f" % (r["user_s"] + r["sys_s"])
            per_cpu = ""
            if r.get("log_load_s") is not None:
                desc = (f"{desc}; load took {r['load_wall_s']:.2f} s (server log "
                        f"{r['log_load_s']:.2f} s); RSS over load + SAVE")
        runs = ", ".join(f"{x:.2f}" for x in r["all_walls"])
        rows.append(
            f"| {name} | {desc} | {w:.2f} | {size / 1e6 / w:,.0f} | {keys / w:,.0f} | {cpu} | "
            f"{per_cpu} | {mb(r.get('peak_anon_kb'))} | {mb(r.get('peak_file_kb'))} | "
            f"{mb(r.get('maxrss_kb'))} | {out_mb(r.get('output_bytes'))} | {runs} |")
    return "\n".join(rows)


def ratios(res: dict) -> list[str]:
    out = []
    def w(n):
        r = res.get(n)
        return r["wall_s"] if r and r.get("exit") == 0 and r.get("wall_s") else None
    peers = [(n, w(n)) for n in ("rdb-cli", "rdb-py") if w(n)]
    if w("aoftool") and peers:
        best = min(peers, key=lambda p: p[1])
        out.append(f"convert: aoftool is {best[1] / w('aoftool'):.1f}x the fastest peer ({best[0]})")
    for name, label in (("check", "aoftool check"), ("check-t1", "aoftool check --threads 1"),
                        ("decode", "full decode bench, 1 thread"),
                        ("decode-t2", "full decode bench, 2 threads")):
        if w(name) and w("redis-check-rdb"):
            out.append(f"{label}: {w('redis-check-rdb') / w(name):.1f}x redis-check-rdb")
    if w("aoftool") and w("redis-load"):
        out.append(f"convert vs redis-server load: {w('redis-load') / w('aoftool'):.1f}x")
    for name in ("to-rdb", "to-rdb-t1", "to-resp", "to-resp-t1", "to-resp-restore"):
        if w(name) and w("redis-save"):
            out.append(f"{name}: {w('redis-save') / w(name):.1f}x redis-server SAVE")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--slow", type=float, default=60.0)
    ap.add_argument("--only", help="comma-separated tool names")
    ap.add_argument("--json", help="write all raw results here")
    ap.add_argument("--render", action="store_true",
                    help="FILE... are results JSON files of earlier runs: print their tables")
    a = ap.parse_args()
    if a.render:
        for rpath in a.files:
            with open(rpath) as f:
                rep = json.load(f)
            print(f"# aoftool comparison, {rep['date']}\n")
            print("```\n" + json.dumps(rep["versions"], indent=1) + "\n```\n")
            for path, fr in rep["files"].items():
                for r in fr["results"].values():
                    r.setdefault("all_walls", [r["wall_s"]] if r.get("wall_s") else [])
                print(f"## {os.path.basename(path)}: {fr['bytes']:,} bytes, {fr['keys']:,} keys\n")
                print(table(fr["results"], path, fr["bytes"], fr["keys"]))
                print()
                for line in ratios(fr["results"]):
                    print(f"- {line}")
                print()
        return 0
    only = set(a.only.split(",")) if a.only else None
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "versions": versions(), "files": {}}
    print(f"# aoftool comparison, {report['date']}\n")
    print("```\n" + json.dumps(report["versions"], indent=1) + "\n```\n")
    for path in a.files:
        size = os.path.getsize(path)
        keys = count_keys(path)
        res = {}
        for name, group, desc, argv in TOOLS:
            if (only and name not in only) or (not only and name in OPT_IN):
                continue
            runs = []
            for i in range(a.reps):
                r = run_tool(name, argv, path)
                runs.append(r)
                took = "failed" if r.get("exit") else "%.2f s" % r["wall_s"]
                print(f"  {os.path.basename(path)} {name} run {i + 1}: {took} "
                      f"(load avg {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
                r["loadavg_after"] = os.getloadavg()[0]
                if r.get("exit") != 0 or r["wall_s"] > a.slow:
                    break
            ok = [r for r in runs if r.get("exit") == 0]
            if ok:
                # Best of N: on a shared machine the noise only ever adds time.
                best = min(ok, key=lambda r: r["wall_s"])
                best["all_walls"] = [r["wall_s"] for r in ok]
                res[name] = best
            else:
                res[name] = runs[-1]
        report["files"][path] = {"bytes": size, "keys": keys, "results": res}
        print(f"## {os.path.basename(path)}: {size:,} bytes, {keys:,} keys\n")
        print(table(res, path, size, keys))
        print()
        for line in ratios(res):
            print(f"- {line}")
        print(flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
