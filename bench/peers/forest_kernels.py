#!/usr/bin/env python3
"""Compiled and ONNX forest kernels on the scikit-learn forest: treelite + tl2cgen, ONNX Runtime.

    forest_kernels.py DATA.csv CACHE_DIR [--seed N] [--trees N] [--repeats R] [--batch N]
                      [--single-rows N] [--kernels tl2cgen,onnxruntime]

Run with the bench venv's python (bench/run.sh makes it; it sees Debian's scikit-learn). The first
call trains the same forest as peers/sklearn_forest.py (same data, hyperparameters and seed), then
compiles it with tl2cgen to CACHE_DIR/forest.so (gcc) and converts it with skl2onnx to
CACHE_DIR/forest.onnx; later calls reuse them. Each kernel then runs on one thread:
  tl2cgen.Predictor(nthread=1) on a tl2cgen.DMatrix (float32);
  onnxruntime.InferenceSession with intra_op_num_threads=1, inter_op_num_threads=1,
  sequential execution, on a float32 array (skl2onnx's TreeEnsembleClassifier, zipmap off).
Timing as ours: batch = the first --batch rows, one untimed warm-up call, then --repeats timed calls;
batch of 1: rows 0, 1, 2 ... each call timed alone (the DMatrix / input wrapping included, as a
user pays it). Prints one JSON object per kernel, one per line, with the keys of forest_predict_bench.
"""
import argparse
import json
import os
import pickle
import statistics
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402


def forest(args, x, y):
    path = os.path.join(args.cache_dir, "forest.pkl")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)
    clf = RandomForestClassifier(n_estimators=args.trees, max_features="sqrt", bootstrap=True,
                                 random_state=args.seed, n_jobs=2)
    clf.fit(x, y)
    clf.n_jobs = 1
    with open(path, "wb") as f:
        pickle.dump(clf, f)
    return clf


def timed(fn_batch, fn_one, batch, args):
    out = fn_batch(batch)  # warm-up
    rows_per_s = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        out = fn_batch(batch)
        rows_per_s.append(len(batch) / (time.perf_counter() - start))
    for i in range(50):
        fn_one(batch[i:i + 1])
    single_us = []
    for i in range(args.single_rows):
        one = batch[i % len(batch):i % len(batch) + 1]
        start = time.perf_counter()
        fn_one(one)
        single_us.append((time.perf_counter() - start) * 1e6)
    return out, rows_per_s, single_us


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("cache_dir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--single-rows", type=int, default=2000)
    ap.add_argument("--kernels", default="tl2cgen,onnxruntime")
    args = ap.parse_args()
    os.makedirs(args.cache_dir, exist_ok=True)

    table = np.loadtxt(args.data, delimiter=",", dtype=np.float64, ndmin=2)
    x, y = table[:, :-1].astype(np.float32), table[:, -1].astype(np.int64)
    clf = forest(args, x, y)
    batch = np.ascontiguousarray(x[np.arange(args.batch) % len(x)])
    reference = clf.predict_proba(batch)[:, -1]
    sk_nodes = int(sum(t.tree_.node_count for t in clf.estimators_))
    common = {"seed": args.seed, "rows": int(len(x)), "features": int(x.shape[1]),
              "trees": len(clf.estimators_), "sklearn_nodes": sk_nodes, "batch": args.batch,
              "repeats": args.repeats, "single_rows": args.single_rows,
              "python_version": sys.version.split()[0], "numpy_version": np.__version__}

    for kernel in args.kernels.split(","):
        info = {}
        if kernel == "tl2cgen":
            import treelite
            import tl2cgen
            lib = os.path.join(args.cache_dir, "forest.so")
            model = treelite.sklearn.import_model(clf)
            if not os.path.exists(lib):
                start = time.perf_counter()
                tl2cgen.export_lib(model, toolchain="gcc", libpath=lib,
                                   params={"parallel_comp": os.cpu_count() or 1}, verbose=False)
                info["compile_seconds"] = round(time.perf_counter() - start, 2)
            predictor = tl2cgen.Predictor(lib, nthread=1, verbose=False)
            nodes = sum(len(t["nodes"]) for t in json.loads(model.dump_as_json())["trees"])

            def run(rows):
                return predictor.predict(tl2cgen.DMatrix(rows, dtype="float32"))
            info.update(version=f"treelite {treelite.__version__}, tl2cgen {tl2cgen.__version__}",
                        nodes=int(nodes), nthread=1)
        elif kernel == "onnxruntime":
            import onnxruntime as ort
            import skl2onnx
            path = os.path.join(args.cache_dir, "forest.onnx")
            if not os.path.exists(path):
                onx = skl2onnx.to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}},
                                       target_opset={"": 17, "ai.onnx.ml": 3})
                with open(path, "wb") as f:
                    f.write(onx.SerializeToString())
            import onnx
            graph = onnx.load(path).graph
            nodes = 0
            for node in graph.node:
                if node.op_type.startswith("TreeEnsemble"):
                    for a in node.attribute:
                        if a.name == "nodes_nodeids":
                            nodes += len(a.ints)
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            in_name = sess.get_inputs()[0].name
            prob_name = sess.get_outputs()[1].name

            def run(rows):
                return sess.run([prob_name], {in_name: rows})[0]
            info.update(version=f"onnxruntime {ort.__version__}, skl2onnx {skl2onnx.__version__}",
                        nodes=int(nodes), intra_op_threads=1)
        else:
            sys.exit(f"unknown kernel {kernel}")
        out, rows_per_s, single_us = timed(run, run, batch, args)
        out = np.asarray(out).reshape(len(batch), -1)
        p1 = out[:, -1]
        info.update(common)
        info.update({
            "impl": kernel,
            "rows_per_s_median": round(statistics.median(rows_per_s), 1),
            "rows_per_s_min": round(min(rows_per_s), 1),
            "rows_per_s_max": round(max(rows_per_s), 1),
            "rows_per_s": [round(v, 1) for v in rows_per_s],
            "single_row_us_median": round(statistics.median(single_us), 3),
            "checksum": round(float(p1.sum()), 6),
            "max_abs_diff_vs_sklearn": float(np.abs(p1 - reference).max()),
        })
        print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
