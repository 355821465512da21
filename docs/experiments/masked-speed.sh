#!/usr/bin/env bash
# Masked retraining's iteration time against unmasked training from the same weights,
# alternating, under mpirun -np 8 (SqueezeNet v1.0, Fashion-MNIST, 32 px, the defaults).
# Usage: docs/experiments/masked-speed.sh WEIGHTS OUT [ROUNDS] [BINARY...]   (idle machine)
set -euo pipefail
cd "$(dirname "$0")/../.."
weights=${1:?usage: masked-speed.sh WEIGHTS OUT [ROUNDS] [BINARY...]}; out=${2:?usage}; rounds=${3:-2}
shift $(( $# >= 3 ? 3 : 2 ))
binaries=("$@"); [ ${#binaries[@]} -gt 0 ] || binaries=("$(launch/build)/squeezenet-train")
mkdir -p "$out"
for round in $(seq "$rounds"); do
  for b in "${!binaries[@]}"; do
    for mode in unmasked masked; do
      extra=(); [ "$mode" = masked ] && extra=(--prune-sparsity 0.5)
      launch/mpirun-local 8 "${binaries[$b]}" --init-weights "$weights" "${extra[@]}" --iterations 300 --log-every 300 \
        --output "$out/bin$b-$mode-$round" --overwrite > "$out/bin$b-$mode-$round.log" 2>&1
    done
  done
done
python3 - "$out" "${#binaries[@]}" "$rounds" "${binaries[@]}" <<'PY'
import json, statistics, sys
out, nb, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print("measured: median iteration_seconds over ranks and iterations 10-299, 8 ranks on 2 cores")
for b in range(nb):
    for r in range(1, rounds + 1):
        m = {}
        for mode in ("unmasked", "masked"):
            recs = [json.loads(l) for l in open(f"{out}/bin{b}-{mode}-{r}/metrics.jsonl")]
            m[mode] = statistics.median(x["iteration_seconds"] for x in recs if x["iteration"] >= 10)
        print(f"{sys.argv[4 + b]} round {r}: unmasked {1000*m['unmasked']:.2f} ms, masked {1000*m['masked']:.2f} ms, masked/unmasked {m['masked']/m['unmasked']:.3f}")
PY
