#!/usr/bin/env python3
"""Wire-versus-counted bytes and measured-versus-modelled communication time for
runs on the simulated cluster (cluster/sim/netns-cluster). Standard library only.

  analyze.py wire RUN [--baseline RUN1] [--json]
      RUN holds metrics.jsonl (from --output) and wire.json (netns-cluster run --wire).
      With --baseline (the same job with --iterations 1), the per-iteration wire bytes
      are (wire(RUN) - wire(RUN1)) / (iterations(RUN) - 1): the startup broadcast of the
      weights, the option check, metrics gathers, evaluation and Open MPI's launch and
      shutdown traffic appear in both runs and cancel.
  analyze.py compare DIR   every DIR/<rate>/<model>/<algorithm>/ run -> DIR/results.md, results.json

Who sends what to whom follows docs/metrics.md (ring chunk partition, binomial tree,
parameter server), so each rank's counted bytes_sent can be split into bytes to
ranks on its own host (loopback, never on the wire) and bytes to other hosts (eth0).
Ranks are placed by slot (mpirun --map-by slot): host 0 gets ranks 0..s-1, and so on.
"""
import json, math, os, statistics, sys

HEADER_BYTES = 14 + 20 + 32   # Ethernet + IPv4 + TCP with timestamps, per segment
MSS = 1448                    # payload per 1500-byte MTU segment with TCP timestamps
PRESETS = {"1gbit": ("1gbe", 50e-6, 8 / 1e9), "10gbit": ("10gbe", 20e-6, 8 / 10e9)}


def read_metrics(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


def ring_chunks(count, p):
    return [count // p + (1 if i < count % p else 0) for i in range(p)]


def tree_children(r, p):
    if r == 0:
        k, out = 1, []
        while k < p:
            out.append(k); k <<= 1
        return out
    low = r & -r
    return [r + (1 << k) for k in range(low.bit_length() - 1) if r + (1 << k) < p]


def tree_parent(r):
    return r - (r & -r)


def sends(algorithm, p, count, e=4):
    """{rank: [(destination, bytes), ...]} for one allreduce, per docs/metrics.md."""
    n = count * e
    out = {r: [] for r in range(p)}
    if p == 1:
        return out
    if algorithm in ("ring", "mpi"):      # mpi: modelled as Open MPI's ring (> 10 KB)
        c = ring_chunks(count, p)
        for r in range(p):
            out[r].append(((r + 1) % p, e * (2 * count - c[(r + 1) % p] - c[(r + 2) % p])))
    elif algorithm == "tree":
        for r in range(p):
            if r > 0:
                out[r].append((tree_parent(r), n))
            for ch in tree_children(r, p):
                out[r].append((ch, n))
    elif algorithm == "ps":
        for r in range(1, p):
            out[r].append((0, n)); out[0].append((r, n))
    else:
        raise ValueError(algorithm)
    return out


def host_of_rank(wire):
    hosts = []
    for h in wire["hosts"]:
        hosts += [h["host"]] * h["slots"]
    return hosts


def per_iteration_counted(records):
    """{rank: mean bytes_sent per iteration}, iterations, and one record for facts."""
    by_rank = {}
    for r in records:
        by_rank.setdefault(r["rank"], []).append(r["bytes_sent"])
    iters = len({r["iteration"] for r in records})
    return {k: sum(v) / len(v) for k, v in by_rank.items()}, iters


def wire_check(run, baseline=None):
    recs = read_metrics(os.path.join(run, "metrics.jsonl"))
    wire = json.load(open(os.path.join(run, "wire.json")))
    first = recs[0]
    p, alg, count = first["world_size"], first["algorithm"], first["parameters"]
    counted = all(r["bytes_counted"] for r in recs)
    per_rank, iters = per_iteration_counted(recs)
    host = host_of_rank(wire)
    if len(host) < p:
        raise SystemExit(f"{run}: {p} ranks but only {len(host)} slots in wire.json")
    plan = sends(alg, p, count)
    base = None
    if baseline:
        bw = json.load(open(os.path.join(baseline, "wire.json")))
        brecs = read_metrics(os.path.join(baseline, "metrics.jsonl"))
        base = ({h["host"]: h for h in bw["hosts"]}, len({r["iteration"] for r in brecs}))
    rows = []
    for h in wire["hosts"]:
        name = h["host"]
        ranks = [r for r in range(p) if host[r] == name]
        sent = sum(per_rank.get(r, 0) for r in ranks)
        modelled = sum(b for r in ranks for _, b in plan[r])
        cross_model = sum(b for r in ranks for d, b in plan[r] if host[d] != name)
        # The counted bytes, split by destination host in the proportions of the schedule.
        cross = sum(per_rank.get(r, 0) * (sum(b for d, b in plan[r] if host[d] != name) /
                                          max(1, sum(b for _, b in plan[r]))) for r in ranks)
        row = {"host": name, "ranks": ranks, "counted_sent_per_iter": sent, "modelled_sent_per_iter": modelled,
               "counted_cross_host_per_iter": cross, "modelled_cross_host_per_iter": cross_model,
               "wire_tx_total": h["tx_bytes"], "wire_rx_total": h["rx_bytes"], "iterations": iters,
               "counted_cross_host_total": cross * iters}
        row["whole_run_overhead"] = (h["tx_bytes"] / (cross * iters) - 1) if cross > 0 else None
        if base:
            bh, biters = base
            if iters > biters:
                w = (h["tx_bytes"] - bh[name]["tx_bytes"]) / (iters - biters)
                row["wire_tx_per_iter"] = w
                row["overhead"] = (w / cross - 1) if cross > 0 else None
                # Upper bound for headers: one per MSS-sized segment (no segmentation offload).
                row["header_bound"] = HEADER_BYTES * math.ceil(cross / MSS)
        rows.append(row)
    return {"run": run, "algorithm": alg, "model": first["model"], "world_size": p, "parameters": count,
            "bytes_counted": counted, "rate": wire.get("rate"), "method": "difference to --iterations 1" if base else "whole run",
            "hosts": rows}


def comm_seconds(recs):
    """Report rule (docs/metrics.md): per iteration the slowest rank, median over iterations, first skipped if > 2."""
    by_iter = {}
    for r in recs:
        by_iter[r["iteration"]] = max(by_iter.get(r["iteration"], 0.0), r["comm_seconds"])
    vals = [by_iter[k] for k in sorted(by_iter)]
    if len(vals) > 2:
        vals = vals[1:]
    return statistics.median(vals)


def model_seconds(alg, p, n, alpha, beta):
    if p <= 1:
        return 0.0
    L = math.ceil(math.log2(p))
    if alg == "tree":
        return 2 * L * (alpha + n * beta)
    if alg == "ring":
        return 2 * (p - 1) * alpha + 2 * ((p - 1) / p) * n * beta
    if alg == "ps":
        return 2 * (p - 1) * (alpha + n * beta)
    if alg == "mpi":  # Open MPI tuned, classic: ring above 10,000 bytes, recursive doubling below
        if n >= 10000:
            return 2 * (p - 1) * alpha + 2 * ((p - 1) / p) * n * beta
        pp = 1 << int(math.floor(math.log2(p)))
        return (int(math.log2(pp)) + (2 if p - pp else 0)) * (alpha + n * beta)
    raise ValueError(alg)


def fmt_mb(b):
    return f"{b / 1e6:,.2f}"


def compare(root):
    results = []
    for rate in sorted(os.listdir(root)):
        rdir = os.path.join(root, rate)
        if not os.path.isdir(rdir) or rate not in PRESETS:
            continue
        for model in sorted(os.listdir(rdir)):
            for alg in ("tree", "ring", "mpi", "ps"):
                run = os.path.join(rdir, model, alg)
                if not os.path.exists(os.path.join(run, "metrics.jsonl")):
                    continue
                recs = read_metrics(os.path.join(run, "metrics.jsonl"))
                base = os.path.join(rdir, model, alg + "-baseline")
                wc = wire_check(run, base if os.path.exists(os.path.join(base, "wire.json")) else None)
                preset, alpha, beta = PRESETS[rate]
                p, n = recs[0]["world_size"], recs[0]["gradient_bytes"]
                measured = comm_seconds(recs)
                modelled = model_seconds(alg, p, n, alpha, beta)
                # Busiest simulated link, one direction, per iteration: a lower bound on time at this rate.
                host = host_of_rank(json.load(open(os.path.join(run, "wire.json"))))
                plan = sends(alg, p, recs[0]["parameters"])
                tx, rx = {}, {}
                for r in range(p):
                    for d, b in plan[r]:
                        if host[d] != host[r]:
                            tx[host[r]] = tx.get(host[r], 0) + b; rx[host[d]] = rx.get(host[d], 0) + b
                link = max(list(tx.values()) + list(rx.values()) + [0]) * beta
                results.append({"rate": rate, "model": recs[0]["model"], "algorithm": alg, "world_size": p,
                                "hosts": len(set(host[:p])), "gradient_bytes": n, "iterations": len(recs) // p,
                                "measured_comm_s": measured, "modelled_comm_s": modelled, "preset": preset,
                                "link_bound_s": link, "wire": wc,
                                "compute_s": statistics.median(r["compute_seconds"] for r in recs)})
    json.dump(results, open(os.path.join(root, "results.json"), "w"), indent=1)
    md = render(results)
    open(os.path.join(root, "results.md"), "w").write(md)
    open(os.path.join(root, "comm.svg"), "w").write(svg(results))
    return md


def svg(results):
    """Grouped bars, log scale: measured (filled) and modelled (outline) comm seconds per iteration."""
    if not results:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    lo = min(min(r["measured_comm_s"], r["modelled_comm_s"]) for r in results)
    hi = max(max(r["measured_comm_s"], r["modelled_comm_s"]) for r in results)
    lo, hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
    W, H, left, top, bottom, bw = 40 + 34 * len(results) + 60, 360, 60, 20, 110, 12
    y = lambda v: top + (H - top - bottom) * (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' font-family='sans-serif' font-size='10'>",
             f"<text x='{left}' y='12'>comm seconds per iteration (log): filled = measured, outline = modelled</text>"]
    e = lo
    while e <= hi * 1.0001:
        parts.append(f"<line x1='{left}' x2='{W - 10}' y1='{y(e):.1f}' y2='{y(e):.1f}' stroke='#ddd'/>"
                     f"<text x='4' y='{y(e) + 3:.1f}'>{e:g} s</text>")
        e *= 10
    colors = {"tree": "#1f77b4", "ring": "#2ca02c", "mpi": "#9467bd", "ps": "#d62728"}
    for i, r in enumerate(results):
        x = left + 10 + 34 * i
        c = colors.get(r["algorithm"], "#555")
        for dx, v, fill in ((0, r["measured_comm_s"], c), (bw, r["modelled_comm_s"], "none")):
            parts.append(f"<rect x='{x + dx}' y='{y(v):.1f}' width='{bw}' height='{H - bottom - y(v):.1f}' fill='{fill}' stroke='{c}'/>")
        label = f"{r['rate']} {'AlexNet' if 'alexnet' in r['model'] else 'SqzNet'} {r['algorithm']}"
        parts.append(f"<text transform='translate({x + bw},{H - bottom + 8}) rotate(60)'>{label}</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def render(results):
    out = ["# SqueezeNet v1.0 vs AlexNet payload on the simulated cluster", ""]
    if results:
        r0 = results[0]
        out += [f"{r0['hosts']} hosts x {r0['world_size'] // r0['hosts']} ranks (p = {r0['world_size']}), network namespaces + veth + "
                "tbf per host link in both directions; no latency can be added (no netem in this kernel).", ""]
    out += ["## Communication time per iteration", "",
            "measured: slowest rank's comm_seconds per iteration, median over iterations (first skipped when > 2). "
            "modelled: critical path of docs/metrics.md with the named preset (alpha, beta = 8 / line rate); "
            "`mpi` is Open MPI's own choice, modelled as its classic ring. link bound: the busiest host link's "
            "cross-host bytes x beta (measured placement: --map-by slot), a lower bound at that rate.", "",
            "| rate | model | algorithm | iterations | measured comm s/iter | modelled s/iter (preset) | measured / modelled | link bound s | compute s/iter |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        out.append(f"| {r['rate']} | {r['model']} | {r['algorithm']} | {r['iterations']} | {r['measured_comm_s']:.4f} | "
                   f"{r['modelled_comm_s']:.4f} ({r['preset']}) | {r['measured_comm_s'] / r['modelled_comm_s']:.2f}x | "
                   f"{r['link_bound_s']:.4f} | {r['compute_s']:.4f} |")
    ratios = []
    for r in results:
        if "alexnet" in r["model"]:
            for s in results:
                if s["model"].startswith("v1.") and s["rate"] == r["rate"] and s["algorithm"] == r["algorithm"]:
                    ratios.append(f"| {r['rate']} | {r['algorithm']} | {r['measured_comm_s'] / s['measured_comm_s']:.1f}x | "
                                  f"{r['modelled_comm_s'] / s['modelled_comm_s']:.1f}x |")
    if ratios:
        out += ["", "## AlexNet / SqueezeNet v1.0, communication time per iteration", "",
                "| rate | algorithm | measured ratio | modelled ratio |", "|---|---|---|---|"] + ratios
    out += ["", "## Wire bytes versus counted bytes, per host and iteration", "",
            "counted: the metrics' bytes_sent of the ranks on the host (tree/ring/ps: counted at the sends; "
            "mpi: modelled, labelled so), split by destination host with the schedule of docs/metrics.md; only "
            "cross-host bytes reach eth0 (same-host ranks talk over loopback). wire: eth0 tx_bytes delta, per "
            "iteration = (run - same run with --iterations 1) / (iterations - 1). overhead = wire / counted - 1.", "",
            "| rate | model | algorithm | host | counted sent MB/iter (all) | counted cross-host MB/iter | wire tx MB/iter | overhead | whole-run wire MB | whole-run overhead |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        w = r["wire"]
        label = "" if w["bytes_counted"] else " (modelled)"
        for h in w["hosts"]:
            per = fmt_mb(h["wire_tx_per_iter"]) if "wire_tx_per_iter" in h else "-"
            ov = f"{100 * h['overhead']:+.2f}%" if h.get("overhead") is not None else "-"
            wov = f"{100 * h['whole_run_overhead']:+.1f}%" if h.get("whole_run_overhead") is not None else "-"
            out.append(f"| {r['rate']} | {r['model']} | {r['algorithm']}{label} | {h['host']} | {fmt_mb(h['counted_sent_per_iter'])} | "
                       f"{fmt_mb(h['counted_cross_host_per_iter'])} | {per} | {ov} | {fmt_mb(h['wire_tx_total'])} | {wov} |")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) >= 2 and argv[0] == "wire":
        base = argv[argv.index("--baseline") + 1] if "--baseline" in argv else None
        res = wire_check(argv[1], base)
        if "--json" in argv:
            print(json.dumps(res, indent=1))
        else:
            print(f"{res['model']} {res['algorithm']} p={res['world_size']} rate={res['rate']} ({res['method']})")
            for h in res["hosts"]:
                per = h.get("wire_tx_per_iter")
                print(f"  {h['host']}: counted cross-host {h['counted_cross_host_per_iter']:.0f} B/iter"
                      + (f", wire {per:.0f} B/iter, overhead {100 * h['overhead']:+.3f}%" if per is not None else "")
                      + f"; whole run wire {h['wire_tx_total']} B vs counted {h['counted_cross_host_total']:.0f} B")
        return 0
    if len(argv) == 2 and argv[0] == "compare":
        print(compare(argv[1]), end="")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
