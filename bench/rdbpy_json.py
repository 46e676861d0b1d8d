#!/usr/bin/env python3
"""rdb-py (PyPI `rdb-py`, import `rdb`) as an RDB-to-JSON-Lines converter, for the comparison.

Usage:  python3 bench/rdbpy_json.py FILE [--no-output]

rdb-py is a library (Python bindings of the `rdb` crate) with no command line of its own,
so this is the smallest faithful converter on top of it: one JSON object per key
({"db", "key", "type", "value", "expiry"}) on standard output, bytes decoded as UTF-8
with surrogateescape (escaped by json.dumps).  `--no-output` only iterates the decoder
(every item built as Python objects, nothing serialised).  rdb-py skips streams and
module values, so those keys are missing from its output.
"""

import json
import sys

import rdb


def main() -> int:
    path = sys.argv[1]
    no_output = "--no-output" in sys.argv[2:]
    decoder = rdb.RdbDecoder(path)
    if no_output:
        n = 0
        for _ in decoder:
            n += 1
        print(n, "items", file=sys.stderr)
        return 0

    def s(b):
        return b.decode("utf-8", "surrogateescape")

    dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
    out = open(sys.stdout.fileno(), "w", buffering=1 << 20, encoding="ascii", closefd=False)
    write = out.write
    db = 0
    for item in decoder:
        t = item["type"]
        if t == "string":
            v = s(item["value"])
        elif t == "hash":
            v = {s(k): s(x) for k, x in item["values"].items()}
        elif t == "list":
            v = [s(x) for x in item["values"]]
        elif t == "set":
            v = [s(x) for x in item["members"]]
        elif t == "sorted_set":
            v = [[s(m), sc] for sc, m in item["values"]]
        elif t == "select_db":
            db = item["db"]
            continue
        else:  # resize_db, aux_field, checksum
            continue
        write(dumps({"db": db, "key": s(item["key"]), "type": t, "value": v,
                     "expiry": item["expiry"]}))
        write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
