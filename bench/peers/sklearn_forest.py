#!/usr/bin/env python3
"""The scikit-learn side of the forest benchmark (bench/forest_predict_bench.cc is ours).

    sklearn_forest.py DATA.csv [--seed N] [--trees N] [--repeats R] [--batch N] [--single-rows N]

Same data (label in the last column, no header), same hyperparameters (n_estimators, max_features="sqrt",
bootstrap, no depth limit), same batch (the first --batch rows, cycled). Trains with n_jobs=2, then
sets n_jobs=1 and times predict_proba on one thread. Prints one JSON object, the same keys as ours.
"""
import argparse
import json
import os
import statistics
import sys
import time

# One thread for everything numeric: predict_proba must not borrow a second core behind our back.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--single-rows", type=int, default=200)
    ap.add_argument("--train-jobs", type=int, default=2)
    args = ap.parse_args()

    table = np.loadtxt(args.data, delimiter=",", dtype=np.float64, ndmin=2)
    x, y = table[:, :-1].astype(np.float32), table[:, -1]

    clf = RandomForestClassifier(n_estimators=args.trees, max_features="sqrt", bootstrap=True,
                                 random_state=args.seed, n_jobs=args.train_jobs)
    start = time.perf_counter()
    clf.fit(x, y)
    train_seconds = time.perf_counter() - start
    clf.n_jobs = 1

    batch = np.ascontiguousarray(x[np.arange(args.batch) % len(x)])
    out = clf.predict_proba(batch)  # warm-up, untimed
    rows_per_s = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        out = clf.predict_proba(batch)
        rows_per_s.append(args.batch / (time.perf_counter() - start))

    # Batch of one: rows 0, 1, 2 ... of the batch, each call timed on its own; the median call.
    single_us = []
    for i in range(args.single_rows):
        r = i % args.batch
        one = batch[r:r + 1]
        start = time.perf_counter()
        clf.predict_proba(one)
        single_us.append((time.perf_counter() - start) * 1e6)

    trees = clf.estimators_
    nodes = sum(t.tree_.node_count for t in trees)
    # decision_path marks every node a row visits in every tree (leaf included).
    indicator, _ = clf.decision_path(batch)
    mean_path_length = indicator.nnz / (args.batch * len(trees))

    print(json.dumps({
        "impl": "sklearn",
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "seed": args.seed,
        "rows": int(len(x)),
        "features": int(x.shape[1]),
        "trees": len(trees),
        "nodes": int(nodes),
        "mean_path_length": round(mean_path_length, 3),
        "batch": args.batch,
        "repeats": args.repeats,
        "rows_per_s_median": round(statistics.median(rows_per_s), 1),
        "rows_per_s_min": round(min(rows_per_s), 1),
        "rows_per_s_max": round(max(rows_per_s), 1),
        "rows_per_s": [round(v, 1) for v in rows_per_s],
        "single_row_us_median": round(statistics.median(single_us), 3),
        "single_rows": args.single_rows,
        "train_seconds": round(train_seconds, 4),
        "train_threads": args.train_jobs,
        "checksum": round(float(out[:, -1].sum()), 6),
    }))


if __name__ == "__main__":
    main()
