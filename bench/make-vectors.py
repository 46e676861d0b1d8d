#!/usr/bin/env python3
"""Write a multi-part AOF directory of Redis 8 vector-set commands, for `rewrite` benches.

Usage:  python3 bench/make-vectors.py OUT_DIR [--scale F]

OUT_DIR gets `appendonly.aof.1.base.aof` (empty), `appendonly.aof.1.incr.aof` and the
manifest: the log Redis 8.6 writes (each VADD verbatim) for 20,000 VADDs of 768-component
FP32 vectors onto `big` and 50,000 of 128 components onto `small`, about 91 MB (times
--scale). Components are Gaussian from a fixed seed: the same bytes on every run. Python 3
standard library only.
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import sys


def command(*args: bytes) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        parts += [b"$%d\r\n" % len(a), a, b"\r\n"]
    return b"".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    rng = random.Random(1)
    with open(os.path.join(a.out_dir, "appendonly.aof.1.incr.aof"), "wb") as f:
        f.write(command(b"SELECT", b"0"))
        for key, dim, count in [(b"big", 768, 20000), (b"small", 128, 50000)]:
            for i in range(int(count * a.scale)):
                vector = struct.pack("<%df" % dim, *(rng.gauss(0, 1) for _ in range(dim)))
                f.write(command(b"VADD", key, b"FP32", vector, b"item:%d" % i))
    open(os.path.join(a.out_dir, "appendonly.aof.1.base.aof"), "wb").close()
    with open(os.path.join(a.out_dir, "appendonly.aof.manifest"), "w") as f:
        f.write("file appendonly.aof.1.base.aof seq 1 type b\n")
        f.write("file appendonly.aof.1.incr.aof seq 1 type i\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
