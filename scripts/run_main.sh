#!/usr/bin/env bash
# The README's main job: set up, train resnest14 on the embedded toy set with horovodrun -np 2 (Gloo, CPU),
# export symbol/params, then reload the export in a separate process (no training code) and classify
# validation images. SAVE_DIR (default runs/toy) and EPOCHS (default 5) may be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
SAVE_DIR=${SAVE_DIR:-runs/toy}
EPOCHS=${EPOCHS:-5}
rm -rf "$SAVE_DIR"
.venv/bin/horovodrun --gloo -np 2 -H localhost:2 .venv/bin/python scripts/train.py --toy --model resnest14 \
  --epochs "$EPOCHS" --batch-size 32 --lr 0.02 --warmup-epochs 1 --min-random-area 0.3 --last-gamma --no-wd \
  --log-interval 0 --save-dir "$SAVE_DIR"
.venv/bin/python scripts/predict.py "$SAVE_DIR/resnest14" --rec "$SAVE_DIR/toy_data/toy_val.rec" --count 10
