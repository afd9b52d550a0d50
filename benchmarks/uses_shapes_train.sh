#!/bin/sh
# Train the runs behind the disentanglement table of BENCHMARKS.md (--data shapes, NINE over sigma).
# Usage: sh benchmarks/uses_shapes_train.sh OUT_DIR [EPOCHS]
set -e
OUT=$1; EPOCHS=${2:-10}
for S in 1.0 0 0.5 2.0; do
  [ -f "$OUT/shapes-s$S/model.safetensors" ] || infomatch train --data shapes --views digits --encoder convnet --dim 8 --view-fraction 1 \
    --batch-size 256 --lr 3e-3 --precision auto --threads 1 --progress none --sigma $S --epochs $EPOCHS --out "$OUT/shapes-s$S"
done
