#!/usr/bin/env python3
"""Train the INF2102 stack's model: a scikit-learn 100-tree forest on HTRU2, pickled to MODEL_DIR.

    train.py DATA.csv MODEL_DIR [--seed N] [--trees N] [--jobs N]

Same data (label in the last column, no header) and hyperparameters as the rest of the bench
(max_features="sqrt", bootstrap, no depth limit). Writes MODEL_DIR/model.pkl, as the container's
training script leaves its model under /opt/ml/model.
"""
import argparse
import os
import pickle

import numpy as np
from sklearn.ensemble import RandomForestClassifier


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("model_dir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    table = np.loadtxt(args.data, delimiter=",", dtype=np.float64, ndmin=2)
    clf = RandomForestClassifier(n_estimators=args.trees, max_features="sqrt", bootstrap=True,
                                 random_state=args.seed, n_jobs=args.jobs)
    clf.fit(table[:, :-1].astype(np.float32), table[:, -1].astype(np.int64))
    clf.n_jobs = 1  # serving: one request per gunicorn worker, one core each
    os.makedirs(args.model_dir, exist_ok=True)
    with open(os.path.join(args.model_dir, "model.pkl"), "wb") as f:
        pickle.dump(clf, f)


if __name__ == "__main__":
    main()
