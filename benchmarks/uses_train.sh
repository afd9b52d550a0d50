#!/bin/sh
# Train the runs behind the "uses" tables of BENCHMARKS.md (generation, outlier scores).
# Usage: sh benchmarks/uses_train.sh MNIST_IDX_DIR OUT_DIR [gen|outlier|all]
set -e
MNIST=$1; OUT=$2; WHAT=${3:-all}
THREADS=${THREADS:-2}
COMMON="--dim 16 --view-fraction 1 --batch-size 512 --lr 3e-3 --precision auto --threads $THREADS --progress none"
if [ "$WHAT" = gen ] || [ "$WHAT" = all ]; then
  for S in 1.0 0; do
    [ -f "$OUT/gen-s$S/model.safetensors" ] || infomatch train --data "$MNIST" $COMMON --sigma $S --epochs 20 --out "$OUT/gen-s$S"
  done
fi
if [ "$WHAT" = outlier ] || [ "$WHAT" = all ]; then
  python benchmarks/uses_data.py --mnist "$MNIST" --classes 0,1,2,3,4 --out "$OUT/data"
  for SEED in 0 1 2; do
    for S in 1.0 0; do
      [ -f "$OUT/ood-s$S-seed$SEED/model.safetensors" ] || infomatch train --data "$OUT/data/inliers.npz" $COMMON --sigma $S \
        --epochs 10 --seed $SEED --split-seed $SEED --out "$OUT/ood-s$S-seed$SEED"
    done
  done
fi
