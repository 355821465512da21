#!/usr/bin/env bash
# The loss curve per codec on one plot (docs/img/compression-loss.png) from the accuracy
# runs' metrics.jsonl: usage docs/experiments/compression-accuracy-plot.sh RUNS_DIR
# where RUNS_DIR holds one folder per codec (none, fp16, int8, topk-0.001, powersgd-2).
set -euo pipefail
runs=${1:?usage: $0 RUNS_DIR}; out=$(cd "$(dirname "$0")/.." && pwd)/img/compression-loss.png
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
plot=""
for c in none fp16 int8 topk-0.001 topk-0.001-localclip powersgd-2 bf16; do
  [ -f "$runs/$c/metrics.jsonl" ] || continue
  # Mean loss over ranks per iteration, smoothed over 100 iterations.
  python3 - "$runs/$c/metrics.jsonl" > "$tmp/$c.dat" <<'PY'
import json, sys
loss = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if isinstance(r.get("loss"), (int, float)): loss.setdefault(r["iteration"], []).append(r["loss"])
its = sorted(loss); w = 100
for k in range(0, len(its) - w + 1, 25):
    window = its[k:k + w]
    print(window[-1], sum(sum(loss[i]) / len(loss[i]) for i in window) / w)
PY
  plot+="${plot:+, }'$tmp/$c.dat' using 1:2 with lines lw 2 title '$c'"
done
gnuplot <<GP
set terminal pngcairo size 900,520
set output '$out'
set title 'SqueezeNet v1.0, Fashion-MNIST, 8 ranks, 10 epochs: training loss per codec (measured; mean over ranks, 100-iteration window)' font ',10'
set xlabel 'iteration'; set ylabel 'loss'; set logscale y; set grid
plot $plot
GP
echo "$out"
