#!/usr/bin/env bash
# The authors' released Deep Compression SqueezeNet (ImageNet-trained v1.0, pruned and
# 8-bit shared: songhan/SqueezeNet-Deep-Compression, compressed_SqueezeNet.net, 675,763
# bytes) through this project's encoder: imported bit for bit, re-encoded at 8 bits (its
# own codebooks) and at 6 bits (k-means over its values; not fine-tuned), sizes measured.
# Usage: docs/experiments/release-sizes.sh compressed_SqueezeNet.net OUT   (python3, no numpy)
#   the file: https://github.com/songhan/SqueezeNet-Deep-Compression/raw/master/compressed_SqueezeNet.net
set -euo pipefail
cd "$(dirname "$0")/../.."
net=${1:?usage: release-sizes.sh compressed_SqueezeNet.net OUT}; out=${2:?usage}
mkdir -p "$out"
bin="$(launch/build)/squeezenet-train"
# A 1000-class v1.0 weight file for the header (names, shapes, order); its values are replaced.
"$bin" --model v1.0 --classes 1000 --input-size 224 --dataset synthetic --train-limit 4 --batch-size 2 --iterations 1 \
  --output "$out/template" --overwrite > /dev/null
python3 docs/experiments/import-deep-compression-release.py "$net" "$out/template/weights.bin" "$out/release.bin"
"$bin" compress "$out/release.bin" --bits 8 --output "$out/release-8bit.sqzc"
"$bin" diff "$out/release.bin" "$out/release-8bit.sqzc" | tail -1
"$bin" compress "$out/release.bin" --bits 8 --index-bits 4 --output "$out/release-8bit-4bit-indices.sqzc"
"$bin" compress "$out/release.bin" --bits 6 --output "$out/release-6bit.sqzc"
"$bin" compression-table --model v1.0 --classes 1000 --size-only "$out/release.bin" "$out/release-8bit.sqzc" "$out/release-6bit.sqzc"
