#!/usr/bin/env bash
# How long SqueezeNet v1.0 at 224 px waits for JPEG data under mpirun -np 2, with the
# background queue (--prefetch-batches 2) and, side by side, decoding in the step (0).
# 500x375 photographs written by bench-data; torchvision's transform with mirror.
# Usage: docs/experiments/pipeline-wait.sh OUT [ITERATIONS]   (a few minutes, idle machine)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: pipeline-wait.sh OUT [ITERATIONS]}
iterations=${2:-12}
bin=$(launch/build)
mkdir -p "$out"
[ -d "$out/photos" ] || "$bin/squeezenet-train" bench-data --make-folder "$out/photos" --images 512
for prefetch in 2 0; do
  for round in 1 2; do
    run="$out/prefetch$prefetch-$round"
    launch/mpirun-local 2 "$bin/squeezenet-train" --model v1.0 --input-size 224 --dataset folder --data-dir "$out/photos" \
      --transform torchvision --mirror --batch-size 16 --iterations "$iterations" --log-every "$iterations" \
      --prefetch-batches "$prefetch" --output "$run" --overwrite > "$run.log" 2>&1
  done
done
# Median over ranks and iterations (the first two left out: warm-up) of data_seconds,
# iteration_seconds and their ratio.
python3 - "$out" <<'PY'
import json, statistics, sys, glob
out = sys.argv[1]
print("measured: SqueezeNet v1.0, 224 px, 2 ranks on this 2-core machine, 8 images per rank, 500x375 JPEGs, torchvision transform + mirror")
print("prefetch  run  median data s  median iteration s  data share: median   largest (any rank, any iteration)")
for prefetch in (2, 0):
    for run in (1, 2):
        recs = [json.loads(l) for l in open(f"{out}/prefetch{prefetch}-{run}/metrics.jsonl")]
        recs = [r for r in recs if r["iteration"] >= 2]
        d = statistics.median(r["data_seconds"] for r in recs)
        it = statistics.median(r["iteration_seconds"] for r in recs)
        share = statistics.median(r["data_seconds"] / r["iteration_seconds"] for r in recs)
        worst = max(r["data_seconds"] / r["iteration_seconds"] for r in recs)
        print(f"{prefetch:8d} {run:4d} {d:14.4f} {it:19.3f} {100 * share:17.2f}% {100 * worst:9.2f}%")
PY
