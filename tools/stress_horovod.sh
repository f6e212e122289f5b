#!/usr/bin/env bash
# Start RUNS (default 20) back-to-back 2-rank horovodrun toy trainings (Gloo, CPU, default worker count), each in a
# fresh directory so every run also writes the toy data (local rank 0 writes, the other rank waits at a barrier).
# Prints one line per run and exits non-zero if any run failed; logs are kept under OUT (default runs/stress).
#   bash tools/stress_horovod.sh            RUNS=5 OUT=/tmp/stress bash tools/stress_horovod.sh
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
OUT=${OUT:-runs/stress}
BIN=${BIN:-.venv/bin}
rm -rf "$OUT"
mkdir -p "$OUT"
failed=0
for i in $(seq 1 "$RUNS"); do
  dir="$OUT/run-$i"
  start=$(date +%s)
  "$BIN/horovodrun" --gloo -np 2 -H localhost:2 "$BIN/python" scripts/train.py --toy --model resnest14 \
    --epochs 1 --batch-size 32 --input-size 32 --log-interval 0 --no-export --save-dir "$dir" \
    >"$OUT/run-$i.log" 2>&1
  rc=$?
  echo "run $i: exit $rc in $(( $(date +%s) - start )) s"
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    tail -5 "$OUT/run-$i.log"
  fi
done
echo "$failed of $RUNS runs failed"
[ "$failed" -eq 0 ]
