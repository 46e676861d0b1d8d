#!/usr/bin/env bash
# Side-by-side comparison on the benchmark RDBs, in one run.  See BENCHMARKS.md.
#
#   bench/compare.sh [FILE...]            (default: $BENCHDATA/strings.rdb $BENCHDATA/mixed.rdb)
#
# Environment: BENCHDATA (/work/benchdata), BENCHTOOLS (/work/benchtools: rdb crate CLI in
# bin/, rdb-py in venv/), CARGO_TARGET_DIR (/work/target-bench), REPS (3), ONLY (tool names,
# comma-separated; to-rdb-t1, to-resp-t1 and redis-save run only when named), BENCH_OUT (where
# the --to rdb|resp outputs go, /work/benchout), SETUP_PEERS=1 to install the peers first.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
BENCHDATA=${BENCHDATA:-/work/benchdata}
BENCHTOOLS=${BENCHTOOLS:-/work/benchtools}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-bench}

if [[ ${SETUP_PEERS:-0} == 1 ]]; then
  cargo install rdb --version 0.4.0 --locked --root "$BENCHTOOLS"
  python3 -m venv "$BENCHTOOLS/venv"
  "$BENCHTOOLS/venv/bin/pip" install rdb-py==0.4.0
fi

(cd "$repo" && cargo build --release --bin aoftool && cargo bench --no-run --bench decode_file) >&2
decode_file=$(cd "$repo" && cargo bench --no-run --bench decode_file --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "decode_file" and m.get("executable"):
        print(m["executable"])')

export AOFTOOL="$CARGO_TARGET_DIR/release/aoftool"
export DECODE_FILE="$decode_file"
export RDB_CLI="$BENCHTOOLS/bin/rdb"
export RDBPY_PYTHON="$BENCHTOOLS/venv/bin/python"

if [[ $# -eq 0 ]]; then
  set -- "$BENCHDATA/strings.rdb" "$BENCHDATA/mixed.rdb"
fi
stamp=$(date +%Y%m%d-%H%M%S)
args=(--reps "${REPS:-3}" --json "$BENCHDATA/results-$stamp.json")
[[ -n ${ONLY:-} ]] && args+=(--only "$ONLY")
python3 "$here/compare.py" "${args[@]}" "$@" | tee "$BENCHDATA/results-$stamp.md"
