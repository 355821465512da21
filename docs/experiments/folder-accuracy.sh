#!/usr/bin/env bash
# Fashion-MNIST through the JPEG pipeline against the IDX reader, same recipe and
# iterations (10 epochs, 8 ranks, the defaults), back to back on one build.
# Usage: docs/experiments/folder-accuracy.sh OUT   (about 30 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: folder-accuracy.sh OUT}
mkdir -p "$out/bin"
# A copy of the build, so rebuilding during the runs cannot change them.
cp "$(launch/build)/squeezenet-train" "$out/bin/" && bin="$(cd "$out/bin" && pwd)"
git rev-parse --short HEAD > "$out/commit"
[ -d "$out/fashion-folder" ] || "$bin/squeezenet-train" make-image-folder "$out/fashion-folder"
launch/mpirun-local 8 "$bin/squeezenet-train" --epochs 10 --eval-every 937 --log-every 200 --output "$out/idx" > "$out/idx.log" 2>&1
launch/mpirun-local 8 "$bin/squeezenet-train" --epochs 10 --eval-every 937 --log-every 200 --output "$out/folder" \
  --dataset folder --data-dir "$out/fashion-folder" --transform resize --pixel-mean 0.2860 --pixel-std 0.3530 > "$out/folder.log" 2>&1
grep -H "test top-1" "$out/idx.log" "$out/folder.log"
