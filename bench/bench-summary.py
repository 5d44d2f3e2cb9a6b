#!/usr/bin/env python3
"""bench-summary: the table scripts/bench prints (issue 8), from its files.

Reads, in the directory given:
  peak.txt                    bench/peak's output (FMA limit, OpenBLAS sgemm
                              and the kernel OpenBLAS chose)
  gen-WL.json                 bench/bench-gen's last line for workload WL
                              (CPU-time split of one generation on one core)
  run-WL-npN/metrics.jsonl    the daemon's metrics for -np N
  rss-WL-npN.txt              bench/maxrss's lines, one per rank
  torch.json                  bench/torch_reference.py's JSON (optional)
  info.json                   the machine and the command (scripts/bench)

Medians over the generations after --warmup.  Prints the table and, as the
last line, one JSON object with every figure; also writes summary.json.
Standard library only.
"""

import argparse
import json
import os
import re
import statistics
import sys

WORKLOADS = ("recall", "coloring")
# issue 8 targets
TARGET = {
    "recall_seconds": 0.5,            # at -np 2
    "recall_gflops": 150.0,           # effective, -np 2
    "torch_tuned_ratio": 10.0,        # randes faster than tuned PyTorch
    "torch_installed_ratio": 30.0,    # recall, against as-installed PyTorch
    "efficiency": 0.9,
    "rss_mb": 200.0,                  # recall, per rank
    "es_overhead": 0.05,
}
HEADER_BYTES = 24      # struct worker_header
REPORT_BYTES = 80      # struct worker_report (measured: bytes_up - 8/pair)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def read_json_last(path):
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    return json.loads(lines[-1])


def read_metrics(path, warmup):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    rows.sort(key=lambda r: r["g"])
    return rows[warmup:] if len(rows) > warmup else rows


def read_rss(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            m = re.match(r"rank (\S+) maxrss_kb (\d+) status (\d+)"
                         r"(?: cpu_s ([\d.]+) wall_s ([\d.]+))?", line)
            if m:
                share = None
                if m.group(4) and float(m.group(5)) > 0:
                    share = float(m.group(4)) / float(m.group(5))
                out.append((m.group(1), int(m.group(2)) / 1024.0,
                            int(m.group(3)), share))
    return out


def read_peak(path):
    res = {}
    if not os.path.exists(path):
        return res
    text = open(path).read()
    m = re.search(r"fma\s+avx512\s+([\d.]+)", text) or \
        re.search(r"fma\s+avx2\s+([\d.]+)", text)
    if m:
        res["fma_gflops_core"] = float(m.group(1))
    m = re.search(r"mul\+add\s+avx512\s+([\d.]+)", text) or \
        re.search(r"mul\+add\s+avx2\s+([\d.]+)", text)
    if m:
        res["muladd_gflops_core"] = float(m.group(1))
    m = re.search(r"sgemm\s+OpenBLAS (\d+)\^3, core '([^']*)':\s+([\d.]+)",
                  text)
    if m:
        res["sgemm_n"] = int(m.group(1))
        res["openblas_core"] = m.group(2)
        res["sgemm_gflops_core"] = float(m.group(3))
    m = re.search(r"ordered\s+randes (\d+)\^3, isa (\S+):\s+([\d.]+)", text)
    if m:
        res["ordered_gflops_core"] = float(m.group(3))
        res["isa"] = m.group(2)
    return res


def torch_result(torch, config, workload, algebra="issue8"):
    if not torch:
        return None
    for c in torch.get("configs", [torch]):
        for r in c.get("results", []):
            if (r.get("config") == config and r.get("workload") == workload
                    and r.get("algebra") == algebra):
                return r
    return None


def torch_seconds(torch, config, workload, algebra="issue8"):
    r = torch_result(torch, config, workload, algebra)
    return r["seconds_per_generation"] if r else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    d = a.dir
    info = {}
    if os.path.exists(os.path.join(d, "info.json")):
        info = json.load(open(os.path.join(d, "info.json")))
    peak = read_peak(os.path.join(d, "peak.txt"))
    torch = None
    tp = os.path.join(d, "torch.json")
    if os.path.exists(tp) and os.path.getsize(tp) > 0:
        try:
            torch = read_json_last(tp)
        except (ValueError, IndexError):
            torch = None

    out = {"bench": "randes", "info": info, "peak": peak, "workloads": {},
           "targets": TARGET}
    say = print
    say("")
    say("== randes benchmark summary (medians of the generations after %d "
        "warm-up)" % a.warmup)
    if info:
        say("machine: %s, %s cores, load (1 min) %s at start, %s at end; "
            "build %s" % (info.get("cpu", "?"), info.get("cores", "?"),
                          info.get("load_start", "?"),
                          info.get("load_end", "?"), info.get("build", "?")))
    if peak:
        say("limits per core: FMA %.1f GFLOP/s (mul+add %.1f); OpenBLAS "
            "sgemm %d^3 %.1f GFLOP/s with kernel '%s'; randes' ordered GEMM "
            "%.1f GFLOP/s" % (peak.get("fma_gflops_core", float("nan")),
                              peak.get("muladd_gflops_core", float("nan")),
                              peak.get("sgemm_n", 0),
                              peak.get("sgemm_gflops_core", float("nan")),
                              peak.get("openblas_core", "?"),
                              peak.get("ordered_gflops_core", float("nan"))))

    for wl in WORKLOADS:
        gp = os.path.join(d, "gen-%s.json" % wl)
        if not os.path.exists(gp):
            continue
        gen = read_json_last(gp)
        P, D = gen["P"], gen["D"]
        members = P + 1                       # + the centre
        seqs = members * gen["seqs_per_member"]
        flop = 2.0 * gen["macs_per_seq"] * seqs
        w = {"P": P, "D": D, "members_scored": members,
             "sequences_per_generation": seqs,
             "paper_gflop_per_generation": flop / 1e9, "cpu_split": gen,
             "np": {}}
        say("")
        say("-- %s: P = %d (+ centre), %d sequences per member, D = %d; "
            "paper-formulation work %.1f GFLOP per generation"
            % (wl, P, gen["seqs_per_member"], D, flop / 1e9))
        say("   one core, CPU time (bench-gen): prepare %.4f s, noise %.4f s, "
            "scoring %.4f s (%.2f ms/member), update %.4f s"
            % (gen["prepare"], gen["noise"], gen["score"],
               1e3 * gen["member"], gen["update"]))
        say("   %-4s %8s %9s %10s %8s %8s %8s %8s %8s %8s %7s %7s %9s %8s"
            " %6s" % ("np", "s/gen", "fwd/s", "eff.GF/s", "eval", "noise",
                      "update", "comm", "(wait)", "other", "ES ovh",
                      "(+wait)", "rss MB", "down B", "up B"))
        for np_ in (1, 2):
            mp = os.path.join(d, "run-%s-np%d" % (wl, np_), "metrics.jsonl")
            if not os.path.exists(mp):
                continue
            rows = read_metrics(mp, a.warmup)
            sec = median([r["seconds"] for r in rows])
            t_eval = median([r["t_eval"] for r in rows])
            t_comm = median([r["t_comm"] for r in rows])
            t_upd = median([r["t_update"] for r in rows])
            down = median([r["bytes_down"] for r in rows])
            up = median([r["bytes_up"] for r in rows])
            # the noise of a rank's own pairs sits inside t_eval: take it
            # from bench-gen's CPU split, the share of the busiest rank
            pairs = P // 2
            busiest = -(-pairs // np_)
            noise = gen["noise"] * busiest / pairs
            ev = max(t_eval - noise, 0.0)
            other = max(sec - t_eval - t_comm - t_upd, 0.0)
            # rank 0's t_comm includes its wait in the gather for the
            # busiest rank: the centre (member P+1) is scored on the last
            # rank, so with np > 1 rank 0 waits about one member.  That is
            # evaluation imbalance, not communication: shown apart.
            m0 = 2 * (pairs // np_ + (1 if pairs % np_ else 0))
            mlast = 2 * (pairs // np_) + 1
            wait = max(mlast - m0, 0) * gen["member"] if np_ > 1 else 0.0
            comm = max(t_comm - wait, 0.0)
            es_ovh = (noise + t_upd + comm) / sec
            es_ovh_all = (noise + t_upd + t_comm) / sec
            rss = read_rss(os.path.join(d, "rss-%s-np%d.txt" % (wl, np_)))
            rss_max = max([r[1] for r in rss]) if rss else float("nan")
            remote_pairs = pairs - (pairs // np_ + (1 if pairs % np_ else 0)) \
                if np_ > 1 else 0
            # static blocks: rank 0 holds the first (largest) block
            want_down = (HEADER_BYTES + 4 * D) * (np_ - 1)
            want_up = 8 * remote_pairs + REPORT_BYTES * (np_ - 1)
            e = {"seconds": sec, "seconds_all": [r["seconds"] for r in rows],
                 "generations": len(rows),
                 "forward_passes_per_second": seqs / sec,
                 "effective_gflops": flop / sec / 1e9,
                 "t_eval": t_eval, "noise": noise, "eval_minus_noise": ev,
                 "t_update": t_upd, "t_comm": t_comm, "other": other,
                 "imbalance_wait": wait, "comm_net": comm,
                 "es_overhead": es_ovh, "es_overhead_with_wait": es_ovh_all,
                 "peak_rss_mb_per_rank": rss,
                 "peak_rss_mb": rss_max, "bytes_down": down, "bytes_up": up,
                 "bytes_down_expected": want_down,
                 "bytes_up_expected": want_up}
            w["np"][np_] = e
            say("   %-4d %8.4f %9.3g %10.1f %8.4f %8.4f %8.4f %8.4f %8.4f "
                "%8.4f %6.1f%% %6.1f%% %9.1f %8.0f %6.0f"
                % (np_, sec, seqs / sec, flop / sec / 1e9, ev, noise, t_upd,
                   comm, wait, other, 100 * es_ovh, 100 * es_ovh_all,
                   rss_max, down, up))
        # What an idle machine would give, from CPU time alone: the
        # busiest rank's members and noise, then rank 0's update (no
        # communication, no scheduling by other processes).
        for np_ in (1, 2):
            pairs = P // 2
            busiest_pairs = -(-pairs // np_)
            members = 2 * (pairs // np_) + 1 if np_ > 1 else members
            if np_ > 1:
                members = max(members, 2 * busiest_pairs)
            # rank 0 keeps the noise of its own pairs (the first,
            # largest block); it builds the others' while it waits in the
            # gather for the rank that also scores the centre (one member
            # more), and the update rebuilds the rest
            rebuild = gen.get("rebuild", 0.0) * (pairs - busiest_pairs)
            slack = max(members - 2 * busiest_pairs, 0) * gen["member"] \
                if np_ > 1 else 0.0
            update = gen["update"] + max(rebuild - slack, 0.0)
            proj = members * gen["member"] + \
                gen["noise"] * busiest_pairs / pairs + update + \
                gen["prepare"]
            w.setdefault("cpu_projection", {})[np_] = {
                "seconds": proj, "effective_gflops": flop / proj / 1e9,
                "es_overhead": (gen["noise"] * busiest_pairs / pairs +
                                update) / proj}
        cp = w["cpu_projection"]
        say("   from CPU time alone (an idle machine): %.4f s at -np 1, %.4f "
            "s at -np 2 (%.0f effective GFLOP/s, efficiency %.2f, noise + "
            "update %.1f%%)" % (cp[1]["seconds"], cp[2]["seconds"],
                                cp[2]["effective_gflops"],
                                cp[1]["seconds"] / (2 * cp[2]["seconds"]),
                                100 * cp[2]["es_overhead"]))
        for np_ in (1, 2):
            e = w["np"].get(np_)
            shares = [r[3] for r in (e or {}).get("peak_rss_mb_per_rank", [])
                      if len(r) > 3 and r[3] is not None]
            if shares:
                e["cpu_share_per_rank"] = shares
                say("   -np %d: each rank got %s of a core over its run (CPU "
                    "seconds / wall seconds; below 1 the machine is shared)"
                    % (np_, ", ".join("%.2f" % x for x in shares)))
        if 1 in w["np"] and 2 in w["np"]:
            eff = w["np"][1]["seconds"] / (2.0 * w["np"][2]["seconds"])
            w["parallel_efficiency"] = eff
            say("   parallel efficiency np1 -> np2: %.2f" % eff)
        if 2 in w["np"]:
            e2 = w["np"][2]
            say("   bytes per generation at np2: down %d (header %d + theta "
                "4 x %d = %d expected), up %d (8 x %d remote pairs + one "
                "%d-byte report = %d expected)"
                % (e2["bytes_down"], HEADER_BYTES, D,
                   e2["bytes_down_expected"], e2["bytes_up"],
                   (e2["bytes_up_expected"] - REPORT_BYTES) // 8,
                   REPORT_BYTES, e2["bytes_up_expected"]))
        best = w["np"].get(2) or w["np"].get(1)
        if best:
            # wall clock against wall clock (both suffer from a busy
            # machine), and CPU seconds per generation against bench-gen's
            # (robust under load; randes' also counts the centre, P + 1)
            for cfg, lv in (("installed", "issue8"), ("tuned", "issue8"),
                            ("tuned", "folded"), ("tuned", "lut")):
                r = torch_result(torch, cfg, wl, lv)
                if not r:
                    continue
                ts = r["seconds_per_generation"]
                tc = r.get("cpu_seconds_per_generation")
                key = "torch_%s" % cfg + ("" if lv == "issue8" else "_" + lv)
                w[key + "_seconds"] = ts
                w[key + "_ratio"] = ts / best["seconds"]
                text = ("   PyTorch %-9s (%s algebra): %.3f s/gen -> randes "
                        "-np 2 is %.1fx faster" % (cfg, lv, ts,
                                                   ts / best["seconds"]))
                if tc:
                    w[key + "_cpu_seconds"] = tc
                    w[key + "_cpu_ratio"] = tc / gen["total"]
                    text += ("; CPU %.3f s/gen against randes' %.3f: %.1fx"
                             % (tc, gen["total"], tc / gen["total"]))
                say(text)
        out["workloads"][wl] = w

    # targets
    say("")
    say("-- targets (issue 8)")
    checks = []

    def check(name, ok, text):
        checks.append({"target": name, "met": bool(ok), "text": text})
        say("   %-4s %s" % ("met" if ok else "MISS", text))

    r = out["workloads"].get("recall", {})
    c = out["workloads"].get("coloring", {})
    r2 = r.get("np", {}).get(2)
    if r2:
        check("recall_seconds", r2["seconds"] <= TARGET["recall_seconds"],
              "recall generation at -np 2: %.3f s (target <= %.1f s)"
              % (r2["seconds"], TARGET["recall_seconds"]))
        check("recall_gflops", r2["effective_gflops"] >= TARGET["recall_gflops"],
              "recall effective GFLOP/s at -np 2: %.0f (target >= %.0f)"
              % (r2["effective_gflops"], TARGET["recall_gflops"]))
        check("recall_rss", r2["peak_rss_mb"] <= TARGET["rss_mb"],
              "recall peak RSS per rank: %.1f MB (target <= %.0f MB)"
              % (r2["peak_rss_mb"], TARGET["rss_mb"]))
    for name, w in (("recall", r), ("coloring", c)):
        if "torch_tuned_ratio" in w:
            check(name + "_vs_torch_tuned",
                  w["torch_tuned_ratio"] >= TARGET["torch_tuned_ratio"],
                  "%s vs hand-tuned PyTorch: %.1fx (target >= %.0fx)"
                  % (name, w["torch_tuned_ratio"],
                     TARGET["torch_tuned_ratio"]))
        if name == "recall" and "torch_installed_ratio" in w:
            check("recall_vs_torch_installed",
                  w["torch_installed_ratio"] >= TARGET["torch_installed_ratio"],
                  "recall vs as-installed PyTorch: %.1fx (target >= %.0fx)"
                  % (w["torch_installed_ratio"],
                     TARGET["torch_installed_ratio"]))
        if "parallel_efficiency" in w:
            check(name + "_efficiency",
                  w["parallel_efficiency"] >= TARGET["efficiency"],
                  "%s parallel efficiency np1 -> np2: %.2f (target >= %.1f)"
                  % (name, w["parallel_efficiency"], TARGET["efficiency"]))
        w2 = w.get("np", {}).get(2)
        if w2:
            check(name + "_es_overhead",
                  w2["es_overhead"] < TARGET["es_overhead"],
                  "%s ES overhead (noise + update + communication) at -np 2: "
                  "%.1f%% (target < %.0f%%); %.1f%% counting rank 0's wait "
                  "for the centre's rank as communication"
                  % (name, 100 * w2["es_overhead"],
                     100 * TARGET["es_overhead"],
                     100 * w2["es_overhead_with_wait"]))
            check(name + "_bytes",
                  w2["bytes_down"] == w2["bytes_down_expected"]
                  and w2["bytes_up"] == w2["bytes_up_expected"],
                  "%s bytes per generation at -np 2: down %d / %d expected, "
                  "up %d / %d expected" % (name, w2["bytes_down"],
                                           w2["bytes_down_expected"],
                                           w2["bytes_up"],
                                           w2["bytes_up_expected"]))
    out["checks"] = checks
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(out, f, indent=1)
    say("")
    say("(files: %s; summary.json there)" % d)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
