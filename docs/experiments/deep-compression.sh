#!/usr/bin/env bash
# Deep Compression of a trained SqueezeNet v1.0 (Fashion-MNIST) through the pipeline, under
# mpirun -np 8: prune + masked retraining, compress (weight sharing + Huffman), centroid
# fine-tuning, compress again; test top-1 from --eval-only at every stage.
# Usage: docs/experiments/deep-compression.sh DENSE_WEIGHTS OUT [RETRAIN_EPOCHS RETRAIN_LR TUNE_EPOCHS TUNE_LR]
set -euo pipefail
cd "$(dirname "$0")/../.."
dense=${1:?usage: deep-compression.sh DENSE_WEIGHTS OUT [RETRAIN_EPOCHS RETRAIN_LR TUNE_EPOCHS TUNE_LR]}
out=${2:?usage}
retrain_epochs=${3:-6}; retrain_lr=${4:-0.005}; tune_epochs=${5:-1}; tune_lr=${6:-0.0001}
mkdir -p "$out/bin"
cp "$(launch/build)/squeezenet-train" "$out/bin/" && bin="$(cd "$out/bin" && pwd)/squeezenet-train"
git rev-parse --short HEAD > "$out/commit"
eval_top1() { launch/mpirun-local 8 "$bin" --eval-only --init-weights "$1" | grep -o "test top-1 [0-9.]*%"; }
echo "dense: $(eval_top1 "$dense")" | tee "$out/summary.txt"
for config in "0.5 8" "0.45 6"; do
  set -- $config; s=$1; b=$2; r="$out/s$s-b$b"
  "$bin" compress "$dense" --sparsity "$s" --bits "$b" --output "$r-direct.sqzc" > /dev/null
  launch/mpirun-local 8 "$bin" --epochs "$retrain_epochs" --base-lr "$retrain_lr" --init-weights "$dense" --prune-sparsity "$s" \
    --log-every 500 --output "$r-retrain" > "$r-retrain.log" 2>&1
  "$bin" compress "$r-retrain/weights.bin" --bits "$b" --output "$r.sqzc" > "$r-compress.log"
  launch/mpirun-local 8 "$bin" --epochs "$tune_epochs" --base-lr "$tune_lr" --init-weights "$r.sqzc" --fine-tune-centroids \
    --log-every 500 --output "$r-tune" > "$r-tune.log" 2>&1
  "$bin" compress "$r-tune/weights.bin" --bits "$b" --output "$r-tuned.sqzc" > "$r-compress-tuned.log"
  {
    echo "sparsity $s, $b bits (retrain $retrain_epochs epochs at lr $retrain_lr, fine-tune $tune_epochs at lr $tune_lr):"
    echo "  pruned and shared, no retraining: $(eval_top1 "$r-direct.sqzc")"
    echo "  after masked retraining:          $(eval_top1 "$r-retrain/weights.bin")"
    echo "  compressed:                       $(eval_top1 "$r.sqzc")"
    echo "  after fine-tuning:                $(eval_top1 "$r-tune/weights.bin")"
    echo "  fine-tuned, compressed:           $(eval_top1 "$r-tuned.sqzc"), $(stat -c %s "$r-tuned.sqzc") bytes"
    echo "  decode = fine-tuned weights:      $("$bin" diff "$r-tuned.sqzc" "$r-tune/weights.bin" | tail -1)"
  } | tee -a "$out/summary.txt"
done
# The paper's Table 2 for these files, top-1 evaluated from each (compression-table).
"$bin" compression-table --markdown "$dense" "$out/s0.5-b8-retrain/weights.bin" "$out/s0.5-b8-tuned.sqzc" \
  "$out/s0.45-b6-retrain/weights.bin" "$out/s0.45-b6-tuned.sqzc" | tee -a "$out/summary.txt"
