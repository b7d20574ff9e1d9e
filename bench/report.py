#!/usr/bin/env python3
"""bench/report.py WORK_DIR RESULTS.md PLOTS_DIR: the issue-5 sections of RESULTS.md and the plots.

Called by bench/run.sh at the end of a run, after its own forest/CNN sections are written. Reads the
raw outputs in WORK_DIR (JSON from the in-process benches and peers, wrk's text output and the
servers' CPU seconds next to it), and rewrites in RESULTS.md the sections `goals` (every goal of issue 5:
ours, the peer, the ratio, met or missed), `peers` (forest and CNN kernels, single-row HTTP with the
INF2102 stack), `http` (1 000-row batches, connection and rows-per-request sweeps, start-up and memory)
and `train`, keeping every other section as it was. Parts the run did not measure are left out (their
old sections stay). Plots (matplotlib, Agg): throughput_vs_connections.png, latency_percentiles.png,
cost_vs_rows.png.
"""
import glob
import json
import os
import re
import statistics
import sys

med = statistics.median
work, out_path, plots_dir = sys.argv[1:4]
facts = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(work, "facts.txt")))
rounds = int(facts["rounds"])

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m.group(2) == "m":
        return float(m.group(1)) * 60e3
    return float(m.group(1)) * UNITS[m.group(2)]


def path(name):
    return os.path.join(work, name)


def have(name):
    return os.path.exists(path(name))


def wrk(name):
    text = open(path(name)).read()
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        sys.exit(f"report.py: {name} has no Requests/sec:\n{text}")
    total = re.search(r"(\d+) requests in", text)
    cpu = float(open(path(name + ".cpu")).read()) if have(name + ".cpu") else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errs = re.search(r"Socket errors:.*", text)
    lat = {int(p): ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", text, re.M)}
    n = int(total.group(1))
    return {"rps": float(m.group(1)), "requests": n, "cpu_us": 1e6 * cpu / max(n, 1),
            "non2xx": int(bad.group(1)) if bad else 0, "errors": errs.group(0) if errs else "",
            "p50": lat.get(50), "p75": lat.get(75), "p90": lat.get(90), "p99": lat.get(99)}


def wrk_rounds(impl):
    names = [f"wrk_{impl}_{i}.txt" for i in range(1, rounds + 1)]
    return [wrk(n) for n in names] if all(have(n) for n in names) else None


def json_rounds(pattern):
    names = [pattern.format(i) for i in range(1, rounds + 1)]
    return [json.load(open(path(n))) for n in names] if all(have(n) for n in names) else None


def kernel_rounds():
    names = [f"forest_kernels_{i}.json" for i in range(1, rounds + 1)]
    if not all(have(n) for n in names):
        return None
    out = {}
    for n in names:
        for line in open(path(n)):
            if line.strip():
                r = json.loads(line)
                out.setdefault(r["impl"], []).append(r)
    return out


k = lambda v: f"{v / 1000:,.1f} k" if v >= 1000 else f"{v:,.0f}"
us = lambda v: f"{v:,.2f} µs" if v < 1000 else f"{v / 1000:,.2f} ms"
msf = lambda v: "–" if v is None else (f"{v * 1000:.0f} µs" if v < 0.1 else f"{v:.2f} ms")
x2 = lambda v: f"{v:,.2f}×" if v < 100 else f"{v:,.0f}×"
sec = lambda v: f"{v:.2f} s"


def spread(vals, fmt):
    return f"{fmt(min(vals))}–{fmt(max(vals))}" if len(vals) > 1 else fmt(vals[0])


def ratio_spread(a, b):
    r = [x / y for x, y in zip(a, b)]
    return spread(r, x2)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def verdict(ok, miss=""):
    return "**met**" if ok else "**missed**" + (f" ({miss})" if miss else "")


machine = (f"{facts['cpu']}, {facts['cores']} cores, Linux {facts['kernel']}; other work used "
           f"{facts['busy_before']} % / {facts['busy_after']} % of the cores just before / after measuring")
stamp = f"{facts['date']}; commit {facts['commit']}; {facts['compiler']}"
quick = ("\n\n**A short run** (" + f"{rounds} round{'s' if rounds > 1 else ''}, wrk {facts['wrk_duration']}" +
         "): noisy, indicative only; the goals need a full `bench/run.sh` on a quiet machine.") if rounds < 3 else ""

goals = []  # (goal, ours, peer, ratio/value, spread, verdict)
sections = {}

# ------------------------------------------------------------------ forest kernels
ours_f, sk_f, kern = json_rounds("forest_ours_{}.json"), json_rounds("forest_sklearn_{}.json"), kernel_rounds()
forest_rows = []
if ours_f and sk_f:
    o_rps = med([v for r in ours_f for v in r["rows_per_s"]])
    o_pr = [r["rows_per_s_median"] for r in ours_f]
    o_1 = med([r["single_row_us_median"] for r in ours_f])
    impls = [("scikit-learn predict_proba", sk_f, ours_f[0]["nodes"])]
    if kern:
        for name, label in (("tl2cgen", "treelite + tl2cgen compiled C"), ("onnxruntime", "ONNX Runtime TreeEnsemble")):
            if name in kern:
                impls.append((label, kern[name], None))
    forest_rows.append(("**ours** (`RandomForest::predict_proba`)", k(o_rps), spread(o_pr, k), us(o_1),
                        f"{ours_f[0]['nodes']:,}", "", ""))
    targets = {"scikit-learn predict_proba": 8.0, "treelite + tl2cgen compiled C": 1.0, "ONNX Runtime TreeEnsemble": 1.5}
    for label, runs, _ in impls:
        p_rps = med([v for r in runs for v in r["rows_per_s"]])
        p_pr = [r["rows_per_s_median"] for r in runs]
        p_1 = med([r["single_row_us_median"] for r in runs])
        ratio = o_rps / p_rps
        forest_rows.append((label, k(p_rps), spread(p_pr, k), us(p_1), f"{runs[0]['nodes']:,}",
                            f"**{x2(ratio)}** ({ratio_spread(o_pr, p_pr)})", f"{p_1 / o_1:,.1f}×"))
        t = targets[label]
        goals.append((f"Forest predict, 1 thread, batch 10 000: ≥ {t:.1f}× {label.split(' predict')[0]}",
                      f"{k(o_rps)} rows/s", f"{k(p_rps)} rows/s", f"**{x2(ratio)}**",
                      ratio_spread(o_pr, p_pr), verdict(ratio >= t, f"{ratio / t:.0%} of the goal")))
    goals.append(("Forest predict, batch of 1 (100 trees): ≤ 5 µs", us(o_1), "", us(o_1),
                  spread([r["single_row_us_median"] for r in ours_f], us), verdict(o_1 <= 5, f"{o_1 / 5:.1f}× the goal")))

# ------------------------------------------------------------------ CNN kernels
ours_c, torch_c, onnx_c = (json_rounds("cnn_ours_{}.json"), json_rounds("cnn_torch_{}.json"),
                           json_rounds("cnn_onnx_{}.json"))
cnn_rows = []
if ours_c and torch_c:
    ob = med([v for r in ours_c for v in r["batch_images_per_s"]])
    o1 = med([r["single_images_per_s"] for r in ours_c])
    obr = [r["batch_images_per_s_median"] for r in ours_c]
    o1r = [r["single_images_per_s"] for r in ours_c]
    batch = ours_c[0]["batch"]
    cnn_rows.append(("**ours** (`ConvNet::predict_proba`)", k(ob), spread(obr, k), k(o1), spread(o1r, k), "", "", "0 (reference)"))
    for label, runs, t in (("PyTorch eager", torch_c, 4.0), ("ONNX Runtime", onnx_c, 1.2)):
        if not runs:
            continue
        pb = med([v for r in runs for v in r["batch_images_per_s"]])
        p1 = med([r["single_images_per_s"] for r in runs])
        pbr = [r["batch_images_per_s_median"] for r in runs]
        p1r = [r["single_images_per_s"] for r in runs]
        parity = max(max(r["parity_max_abs_diff_batch"], r["parity_max_abs_diff_single"]) for r in runs)
        cnn_rows.append((label, k(pb), spread(pbr, k), k(p1), spread(p1r, k), f"**{x2(ob / pb)}**",
                         f"**{x2(o1 / p1)}**", f"{parity:.1e}"))
        for what, o, p, orr, prr in ((f"batch {batch}", ob, pb, obr, pbr), ("batch 1", o1, p1, o1r, p1r)):
            goals.append((f"CNN, 1 thread, {what}: ≥ {t:g}× {label}", f"{k(o)} images/s", f"{k(p)} images/s",
                          f"**{x2(o / p)}**", ratio_spread(orr, prr), verdict(o / p >= t, f"{o / p / t:.0%} of the goal")))

# ------------------------------------------------------------------ single-row HTTP
w_ours, w_ng, w_inf = wrk_rounds("ours"), wrk_rounds("nginx"), wrk_rounds("inf2102")
http_rows = []
warnings = []


def wrk_warn(name, runs):
    if not runs:
        return
    bad = sum(r["non2xx"] for r in runs)
    if bad:
        warnings.append(f"{name} answered {bad} non-2xx responses under wrk: its figures do not count.")
    errs = [r["errors"] for r in runs if r["errors"]]
    if errs:
        warnings.append(f"{name}: wrk reported {errs[0]}")


if w_ours:
    o = med([r["rps"] for r in w_ours])
    orr = [r["rps"] for r in w_ours]
    o_p99 = med([r["p99"] for r in w_ours])
    http_rows.append(("**ours** (`mls serve`)", k(o), spread(orr, k), msf(med([r["p50"] for r in w_ours])),
                      msf(o_p99), us(med([r["cpu_us"] for r in w_ours])), ""))
    for label, runs, t in (("nginx floor (fixed 200)", w_ng, 0.7), ("INF2102 stack", w_inf, 100.0)):
        if not runs:
            continue
        p = med([r["rps"] for r in runs])
        prr = [r["rps"] for r in runs]
        http_rows.append((label, k(p), spread(prr, k), msf(med([r["p50"] for r in runs])),
                          msf(med([r["p99"] for r in runs])), us(med([r["cpu_us"] for r in runs])),
                          f"**{x2(o / p)}** ({ratio_spread(orr, prr)})"))
        goals.append((f"`/invocations` one CSV row, {facts['wrk_connections']} connections: ≥ {t:g}× {label}",
                      f"{k(o)} req/s", f"{k(p)} req/s", f"**{x2(o / p)}**", ratio_spread(orr, prr),
                      verdict(o / p >= t, f"{o / p / t:.0%} of the goal")))
    goals.append((f"`/invocations` one CSV row, {facts['wrk_connections']} connections: p99 ≤ 2 ms", msf(o_p99), "",
                  msf(o_p99), spread([r["p99"] for r in w_ours], msf), verdict(o_p99 <= 2, f"{o_p99 / 2:.1f}× the goal")))
    for n, r in (("mls serve", w_ours), ("nginx", w_ng), ("INF2102 stack", w_inf)):
        wrk_warn(n, r)

# ------------------------------------------------------------------ PNG over HTTP (the cnn part's (d))
w_png = wrk_rounds("cnn_batched")
if w_png:
    p = med([r["rps"] for r in w_png])
    goals.append((f"HTTP 28×28 PNG, {facts['wrk_connections']} connections, dynamic batching on: ≥ 10 000 req/s",
                  f"{k(p)} req/s", "", f"{k(p)} req/s", spread([r["rps"] for r in w_png], k),
                  verdict(p >= 10000, f"{p / 10000:.0%} of the goal")))

# ------------------------------------------------------------------ 1 000-row batches, sweeps, start-up
b_ours, b_inf = wrk_rounds("batch_ours"), wrk_rounds("batch_inf2102")
http_more = []
if b_ours and b_inf:
    o = 1000 * med([r["rps"] for r in b_ours])
    p = 1000 * med([r["rps"] for r in b_inf])
    orr, prr = [1000 * r["rps"] for r in b_ours], [1000 * r["rps"] for r in b_inf]
    http_more += [f"**(e) 1 000-row CSV batches** (`post_csv_file.lua`, Accept text/csv, `-t{facts['wrk_threads']} "
                  f"-c{facts['wrk_connections']} -d{facts['wrk_duration']}`, {rounds} alternating rounds):", ""]
    http_more += table(["Server", "rows/s (median)", "per round", "p50", "p99", "server CPU per request", "ours ÷ peer"], [
        ("**ours**", k(o), spread(orr, k), msf(med([r["p50"] for r in b_ours])), msf(med([r["p99"] for r in b_ours])),
         us(med([r["cpu_us"] for r in b_ours])), ""),
        ("INF2102 stack", k(p), spread(prr, k), msf(med([r["p50"] for r in b_inf])), msf(med([r["p99"] for r in b_inf])),
         us(med([r["cpu_us"] for r in b_inf])), f"**{x2(o / p)}** ({ratio_spread(orr, prr)})")]) + [""]
    goals.append(("`/invocations` 1 000-row CSV batches: ≥ 20× the INF2102 stack in rows/s", f"{k(o)} rows/s",
                  f"{k(p)} rows/s", f"**{x2(o / p)}**", ratio_spread(orr, prr), verdict(o / p >= 20, f"{o / p / 20:.0%} of the goal")))
    wrk_warn("mls serve (1 000-row batches)", b_ours)
    wrk_warn("INF2102 stack (1 000-row batches)", b_inf)

conn = sorted({int(m) for f in glob.glob(path("wrk_conn_ours_*.txt")) for m in re.findall(r"_(\d+)\.txt$", f)})
conn_data = {}
if conn:
    conn_data = {c: (wrk(f"wrk_conn_ours_{c}.txt"), wrk(f"wrk_conn_nginx_{c}.txt")) for c in conn}
    http_more += [f"**(f) Single-row requests/s against connections** (`-d{facts['sweep_duration']}` each, ours then nginx, one pass):", ""]
    http_more += table(["Connections", "ours req/s", "nginx req/s", "ours ÷ nginx", "ours p50 / p99", "nginx p50 / p99"], [
        (c, k(o["rps"]), k(n["rps"]), x2(o["rps"] / n["rps"]), f"{msf(o['p50'])} / {msf(o['p99'])}",
         f"{msf(n['p50'])} / {msf(n['p99'])}") for c, (o, n) in conn_data.items()]) + [""]
    for c, (o, n) in conn_data.items():
        wrk_warn(f"mls serve ({c} connections)", [o])
        wrk_warn(f"nginx ({c} connections)", [n])

rows_n = sorted({int(m) for f in glob.glob(path("wrk_rows_ours_*.txt")) for m in re.findall(r"_(\d+)\.txt$", f)})
rows_data = {}
if rows_n:
    rows_data = {n: (wrk(f"wrk_rows_ours_{n}.txt"), wrk(f"wrk_rows_inf2102_{n}.txt")) for n in rows_n}
    http_more += [f"**(g) Cost per request against rows per request** ({facts['sweep_rows_connections']} connections, "
                  f"`-d{facts['sweep_duration']}` each, one pass; CPU = the server's user + system time, all its "
                  "processes, ÷ requests answered):", ""]
    http_more += table(["Rows / request", "ours rows/s", "INF2102 rows/s", "ratio", "ours CPU / request",
                        "INF2102 CPU / request", "ours CPU / row", "INF2102 CPU / row"], [
        (n, k(o["rps"] * n), k(i["rps"] * n), x2(o["rps"] / i["rps"]), us(o["cpu_us"]), us(i["cpu_us"]),
         us(o["cpu_us"] / n), us(i["cpu_us"] / n)) for n, (o, i) in rows_data.items()]) + [""]
    for n, (o, i) in rows_data.items():
        wrk_warn(f"mls serve ({n} rows)", [o])
        wrk_warn(f"INF2102 stack ({n} rows)", [i])

if have("startup_ours.json"):
    so = json.load(open(path("startup_ours.json")))
    si = json.load(open(path("startup_inf2102.json"))) if have("startup_inf2102.json") else None
    http_more += ["**(h) Start-up and idle memory** (process start → first `GET /ping` 200, polled every ~0.2 ms on a "
                  "fresh connection; then 1 s idle and VmRSS summed over the process and all its descendants):", ""]
    rows = [("**ours**: `mls serve` on a directory holding the forest (`pulsar/`) and the CNN (`xray/`)",
             f"{so['startup_ms_median']:.1f} ms", spread(so["startup_ms"], lambda v: f"{v:.1f}"),
             f"{so['rss_mb_median']:.1f} MB", spread(so["rss_mb"], lambda v: f"{v:.1f}"))]
    if si:
        rows.append(("INF2102 stack (nginx + gunicorn master + workers; forest only)", f"{si['startup_ms_median']:.0f} ms",
                     spread(si["startup_ms"], lambda v: f"{v:.0f}"), f"{si['rss_mb_median']:.1f} MB",
                     spread(si["rss_mb"], lambda v: f"{v:.1f}")))
    http_more += table(["Server", "start-up (median)", "runs (ms)", "idle RSS (median)", "runs (MB)"], rows) + [""]
    goals.append(("Start-up, process start → `/ping` 200 with both models: ≤ 20 ms", f"{so['startup_ms_median']:.1f} ms",
                  f"{si['startup_ms_median']:.0f} ms (INF2102, forest only)" if si else "", f"{so['startup_ms_median']:.1f} ms",
                  spread(so["startup_ms"], lambda v: f"{v:.1f} ms"), verdict(so["startup_ms_median"] <= 20,
                                                                           f"{so['startup_ms_median'] / 20:.1f}× the goal")))
    goals.append(("Idle resident memory, both models loaded: ≤ 20 MB", f"{so['rss_mb_median']:.1f} MB",
                  f"{si['rss_mb_median']:.0f} MB (INF2102)" if si else "", f"{so['rss_mb_median']:.1f} MB",
                  spread(so["rss_mb"], lambda v: f"{v:.1f} MB"), verdict(so["rss_mb_median"] <= 20,
                                                                       f"{so['rss_mb_median'] / 20:.1f}× the goal")))

# ------------------------------------------------------------------ training
train_lines = []
tr = int(facts.get("train_rounds", "0") or 0)


def train_rounds(pattern):
    names = [pattern.format(i) for i in range(1, tr + 1)]
    return [json.load(open(path(n))) for n in names] if tr and all(have(n) for n in names) else None


t_of, t_sf, t_oc, t_tc = (train_rounds("train_forest_ours_{}.json"), train_rounds("train_forest_sklearn_{}.json"),
                          train_rounds("train_cnn_ours_{}.json"), train_rounds("train_cnn_torch_{}.json"))
if t_of and t_sf:
    split = json.load(open(path("train_split.json")))
    o, p = med([r["seconds"] for r in t_of]), med([r["seconds"] for r in t_sf])
    oa, pa = t_of[0]["auc"], t_sf[0]["auc"]
    train_lines += [f"**Forest** (100 trees, max_features=sqrt, seed {facts['seed']}; {split['train_rows']:,} training rows, "
                    f"AUC on {split['test_rows']:,} held-out rows of a seeded stratified 80/20 split; {tr} alternating rounds):", ""]
    train_lines += table(["", "wall time (median)", "per round", "held-out ROC AUC", "nodes", "ours ÷ peer time"], [
        ("**ours**: `mls train` process, start to exit (reads the CSVs, trains with `n_jobs=2`, scores the validation "
         "channel, writes the model)", sec(o), spread([r["seconds"] for r in t_of], sec), f"{oa:.4f}",
         f"{t_of[0]['nodes']:,}" if t_of[0].get("nodes") else "", ""),
        ("scikit-learn `n_jobs=2`: np.loadtxt of both CSVs + fit + predict_proba on the held-out rows (imports not "
         "counted)", sec(p), spread([r["seconds"] for r in t_sf], sec), f"{pa:.4f}", f"{t_sf[0]['nodes']:,}",
         f"**{o / p:.2f}×** ({ratio_spread([r['seconds'] for r in t_of], [r['seconds'] for r in t_sf])})"),
    ]) + [""]
    ok = o / p <= 0.5 and oa >= pa - 0.003
    goals.append(("Training, forest: ≤ 0.5× scikit-learn's wall time, held-out AUC within 0.003",
                  f"{sec(o)}, AUC {oa:.4f}", f"{sec(p)}, AUC {pa:.4f}", f"**{o / p:.2f}×** the time, ΔAUC {oa - pa:+.4f}",
                  ratio_spread([r["seconds"] for r in t_of], [r["seconds"] for r in t_sf]),
                  verdict(ok, "time" if o / p > 0.5 else "AUC")))
if t_oc and t_tc:
    target = float(facts["cnn_target_auc"])
    reached = all(r["reached"] for r in t_oc + t_tc)
    o, p = med([r["seconds"] for r in t_oc]), med([r["seconds"] for r in t_tc])
    train_lines += [f"**CNN to validation AUC {target}** (PneumoniaMNIST `train_images`, AUC on `val_images` after each "
                    f"epoch; time from launching the process to the line of the first epoch at or above the target, "
                    f"`peers/train_race.py race` timing both the same way; {tr} alternating rounds):", ""]
    train_lines += table(["", "time to target (median)", "per round", "epochs", "AUC then", "ours ÷ peer"], [
        ("**ours**: `mls train` (model_type=cnn, its defaults: Adam 1e-3, batch 64, augmentation)", sec(o),
         spread([r["seconds"] for r in t_oc], sec), "/".join(str(r["epochs"]) for r in t_oc),
         "/".join(f"{r.get('auc', r['best_auc']):.4f}" for r in t_oc), ""),
        ("PyTorch eager, 2 threads, same architecture (Adam 1e-3, batch 64, dropout 0.5, shifts)", sec(p),
         spread([r["seconds"] for r in t_tc], sec), "/".join(str(r["epochs"]) for r in t_tc),
         "/".join(f"{r.get('auc', r['best_auc']):.4f}" for r in t_tc),
         f"**{o / p:.2f}×** ({ratio_spread([r['seconds'] for r in t_oc], [r['seconds'] for r in t_tc])})"),
    ]) + [""]
    if not reached:
        warnings.append(f"a CNN training run did not reach validation AUC {target}; its time is the whole run.")
    goals.append((f"Training, CNN to validation AUC {target}: ≤ 0.5× PyTorch's wall time", sec(o), sec(p),
                  f"**{o / p:.2f}×**", ratio_spread([r["seconds"] for r in t_oc], [r["seconds"] for r in t_tc]),
                  verdict(o / p <= 0.5 and reached, f"{o / p / 0.5:.1f}× the goal")))

# ------------------------------------------------------------------ versions
versions = []
if kern:
    for name in ("tl2cgen", "onnxruntime"):
        if name in kern:
            versions.append(kern[name][0]["version"])
if onnx_c:
    versions.append(f"ONNX Runtime {onnx_c[0]['onnxruntime_version']} (CNN, exported by torch.onnx.export from "
                    f"PyTorch {onnx_c[0]['torch_version']}, opset 13)")
if sk_f:
    versions.append(f"scikit-learn {sk_f[0]['sklearn_version']}, numpy {sk_f[0]['numpy_version']}, "
                    f"Python {sk_f[0]['python_version']}")
if torch_c:
    versions.append(f"PyTorch {torch_c[0]['torch_version']}")
versions += [facts.get("nginx", ""), facts.get("gunicorn", ""), f"Flask {facts.get('flask', '')}", facts.get("wrk", "")]
versions = [v for v in versions if v and v.strip() not in ("Flask",)]
if facts.get("peers_skip"):
    warnings.append(f"tl2cgen / ONNX Runtime peers skipped: {facts['peers_skip']}")
busy = max(int(facts["busy_before"]), int(facts["busy_after"]))
if busy > 20:
    warnings.append(f"other work kept the cores {busy} % busy just before or after measuring: expect more noise "
                    "than usual (ratios hold better than absolute numbers).")

# ------------------------------------------------------------------ sections
common = [f"- Machine: {machine}.", f"- Date: {stamp}; whole run {int(facts['seconds_total']) // 60} min "
          f"{int(facts['seconds_total']) % 60} s (build and training included).",
          "- Versions: " + "; ".join(versions) + "."]
if goals:
    lines = ["## Issue 5 goals: every ratio from this one run" + quick, "",
             "Medians over alternating rounds; \"spread\" is the range of the per-round values (of the per-round "
             "ratios for a ratio). Ours ÷ peer > 1 is better for throughput, < 1 for time.", ""]
    lines += table(["Goal", "Ours", "Peer", "Ratio / value", "Spread", "Verdict"], goals)
    lines += [""] + common
    if warnings:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in warnings]
    sections["goals"] = "\n".join(lines)

peer_lines = []
if forest_rows:
    peer_lines += [f"**Forest kernels, one thread** (the same HTRU2 data and hyperparameters, seed {facts['seed']}; "
                   "tl2cgen and ONNX Runtime run *the very scikit-learn forest* of the row above them, compiled / "
                   "converted; batch = the first 10 000 rows; batch of 1 = one row per call, each call timed):", ""]
    peer_lines += table(["Kernel", "rows/s, batch 10 000", "per round", "batch of 1 (median call)", "nodes",
                         "ours ÷ kernel (per round)", "ours faster at batch 1"], forest_rows) + [""]
    if kern:
        diffs = {n: max(r["max_abs_diff_vs_sklearn"] for r in v) for n, v in kern.items()}
        peer_lines += ["Agreement with scikit-learn's probabilities on the batch: " +
                       ", ".join(f"{n} {d:.1e}" for n, d in diffs.items()) + ". tl2cgen: `Predictor(nthread=1)` on a "
                       "float32 `DMatrix` (built inside the timed call, as a caller pays it); ONNX Runtime: "
                       "`intra_op_num_threads=1`, skl2onnx `TreeEnsembleClassifier`, zipmap off.", ""]
if cnn_rows:
    peer_lines += [f"**CNN kernels, one thread** (the same network and weights, from our cnn.bin; batch = the first "
                   f"{ours_c[0]['batch']} validation images; batch 1 = 1 / the median single-image call; parity = largest "
                   "|difference| from our probabilities over all 270 validation images, as one batch and one at a time):", ""]
    peer_lines += table(["Kernel", f"images/s, batch {ours_c[0]['batch']}", "per round", "images/s, batch 1", "per round",
                         f"ours ÷, batch {ours_c[0]['batch']}", "ours ÷, batch 1", "parity"], cnn_rows) + [""]
if http_rows:
    peer_lines += [f"**`POST /invocations`, one CSV row, {facts['wrk_connections']} connections** (`wrk -t{facts['wrk_threads']} "
                   f"-c{facts['wrk_connections']} -d{facts['wrk_duration']} --latency -s peers/post_csv.lua`, keep-alive; "
                   f"{rounds} alternating rounds):", ""]
    peer_lines += table(["Server", "req/s (median)", "per round", "p50", "p99", "server CPU / request", "ours ÷ peer"],
                        http_rows) + [""]
    peer_lines += ["The INF2102 stack: `bench/peers/inf2102/` — nginx (1 worker, access log on, as the container ships "
                   f"it) → gunicorn, {facts['cores']} sync workers on a Unix socket → Flask `predictor.py` (parse the CSV "
                   "body with NumPy, `predict`, answer one label per line) → a scikit-learn 100-tree forest trained on "
                   "the same data with the same seed.", ""]
if peer_lines:
    sections["peers"] = "\n".join(["## Peers side by side: kernels and single-row HTTP" + quick, ""] + peer_lines + common)
if http_more:
    sections["http"] = "\n".join(["## HTTP: batches, connections, rows per request, start-up" + quick, ""] + http_more + common)
if train_lines:
    sections["train"] = "\n".join(["## Training: wall time and quality" + quick, ""] + train_lines + common)

# ------------------------------------------------------------------ plots
plots = []
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(plots_dir, exist_ok=True)
    if conn_data:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        cs = list(conn_data)
        ax.plot(cs, [conn_data[c][0]["rps"] for c in cs], "o-", label="ours (mls serve)")
        ax.plot(cs, [conn_data[c][1]["rps"] for c in cs], "s--", label="nginx floor (fixed 200)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(cs, [str(c) for c in cs])
        ax.set_xlabel("concurrent connections (keep-alive)")
        ax.set_ylabel("requests/s, one CSV row each")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(f"POST /invocations throughput vs connections ({facts['cores']} cores, {facts['date']})", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(plots_dir, "throughput_vs_connections.png"), dpi=110)
        plt.close(fig)
        plots.append("throughput_vs_connections.png")
    if w_ours:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        pct = [50, 75, 90, 99]
        for label, runs, style in (("ours (mls serve)", w_ours, "o-"), ("nginx floor", w_ng, "s--"),
                                   ("INF2102 stack", w_inf, "^-.")):
            if runs:
                ax.plot(pct, [med([r[f"p{p}"] for r in runs]) for p in pct], style, label=label)
        ax.set_yscale("log")
        ax.set_xticks(pct, [f"p{p}" for p in pct])
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_xlabel(f"percentile, one CSV row, {facts['wrk_connections']} connections (median over rounds)")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        ax.set_title("POST /invocations latency percentiles under load", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(plots_dir, "latency_percentiles.png"), dpi=110)
        plt.close(fig)
        plots.append("latency_percentiles.png")
    if rows_data:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.5))
        ns = list(rows_data)
        for idx, (label, style) in enumerate((("ours (mls serve)", "o-"), ("INF2102 stack", "^-."))):
            a1.plot(ns, [rows_data[n][idx]["cpu_us"] for n in ns], style, label=label)
            a2.plot(ns, [rows_data[n][idx]["cpu_us"] / n for n in ns], style, label=label)
        for ax, ylabel in ((a1, "server CPU per request (µs)"), (a2, "server CPU per row (µs)")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("rows per request (CSV)")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3, which="both")
            ax.legend()
        fig.suptitle(f"Cost per request vs rows per request ({facts['sweep_rows_connections']} connections)", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(plots_dir, "cost_vs_rows.png"), dpi=110)
        plt.close(fig)
        plots.append("cost_vs_rows.png")
except ImportError as e:
    warnings.append(f"no plots: {e}")
if plots and "http" in sections:
    rel = os.path.relpath(plots_dir, os.path.dirname(os.path.abspath(out_path)))
    sections["http"] += "\n\nPlots: " + ", ".join(f"![{p}]({rel}/{p})" for p in plots)

# ------------------------------------------------------------------ write
HEAD = """# Benchmark results

Written by `bench/run.sh`; see `bench/README.md` for what each number means and how it is measured. A run
rewrites only the sections it measured (`PARTS=cnn bench/run.sh` leaves the other sections alone), so the
sections may come from different runs: each names its own date and commit."""
old = open(out_path).read() if os.path.exists(out_path) else ""
kept = dict(re.findall(r"<!-- bench:(\w+) -->\n(.*?)\n<!-- /bench:\1 -->", old, re.S))
kept.update(sections)
order = ["goals", "peers", "http", "train", "forest", "cnn"]
order += sorted(set(kept) - set(order))
text = HEAD + "\n" + "".join(f"\n<!-- bench:{name} -->\n{kept[name]}\n<!-- /bench:{name} -->\n"
                             for name in order if name in kept)
open(out_path, "w").write(text)
print("\n\n".join(sections[s] for s in ("goals", "peers", "http", "train") if s in sections))
