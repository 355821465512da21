#!/usr/bin/env bash
# Masked retraining's iteration time against unmasked training from the same weights on
# the simulated cluster: HOSTS hosts, one rank each, links shaped at RATE (where bytes
# cost time, unlike 8 ranks over shared memory). SqueezeNet v1.0 at 1000 classes (its
# real gradient size), 32 px Fashion-MNIST, --prune-sparsity 0.5, alternating.
# Usage: docs/experiments/masked-speed-cluster.sh WEIGHTS OUT [ROUNDS] [HOSTS] [RATE]   (as root, idle machine)
set -euo pipefail
cd "$(dirname "$0")/../.."
weights=$(realpath "${1:?usage: masked-speed-cluster.sh WEIGHTS OUT [ROUNDS] [HOSTS] [RATE]}"); out=${2:?usage}
rounds=${3:-2}; hosts=${4:-2}; rate=${5:-1gbit}
mkdir -p "$out"; out=$(realpath "$out")
cp "$(launch/build)/squeezenet-train" "$out/squeezenet-train"
name=sqmask
launch/cluster-up --name "$name" --hosts "$hosts" --slots 1 --rate "$rate" > /dev/null
trap 'launch/cluster-down --name "$name" > /dev/null 2>&1 || true' EXIT
for round in $(seq "$rounds"); do
  for mode in unmasked masked; do
    extra=(); [ "$mode" = masked ] && extra=(--prune-sparsity 0.5)
    cluster/sim/netns-cluster run --name "$name" -- "$out/squeezenet-train" --classes 1000 --init-weights "$weights" "${extra[@]}" \
      --iterations 200 --log-every 200 --test-limit 64 --output "$out/$mode-$round" --overwrite > "$out/$mode-$round.log" 2>&1
  done
done
python3 - "$out" "$rounds" "$hosts" "$rate" <<'PY'
import json, statistics, sys
out, rounds, hosts, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
print(f"measured: median over ranks and iterations 10-199, {hosts} simulated hosts x 1 rank, links {rate}")
for r in range(1, rounds + 1):
    m = {}
    for mode in ("unmasked", "masked"):
        recs = [json.loads(l) for l in open(f"{out}/{mode}-{r}/metrics.jsonl")]
        recs = [x for x in recs if x["iteration"] >= 10]
        m[mode] = {k: statistics.median(x[k] for x in recs) for k in ("iteration_seconds", "comm_seconds", "compute_seconds", "bytes_sent")}
    u, k = m["unmasked"], m["masked"]
    print(f"round {r}: unmasked {1000*u['iteration_seconds']:.1f} ms (comm {1000*u['comm_seconds']:.1f}, {u['bytes_sent']:.0f} B/rank), "
          f"masked {1000*k['iteration_seconds']:.1f} ms (comm {1000*k['comm_seconds']:.1f}, {k['bytes_sent']:.0f} B/rank), "
          f"masked/unmasked {k['iteration_seconds']/u['iteration_seconds']:.3f}")
PY
