#!/usr/bin/env python3
"""Training peers and the stopwatch the training comparison uses (Debian's python3: sklearn, torch).

    train_race.py split DATA.csv OUT_DIR [--seed N] [--test-fraction F]
        a seeded, class-stratified hold-out split of HTRU2: OUT_DIR/train.csv and OUT_DIR/test.csv
    train_race.py sklearn-forest TRAIN.csv TEST.csv [--seed N] [--jobs 2] [--trees 100]
        scikit-learn's forest (same hyperparameters as ours) with n_jobs=2; one JSON line: wall time
        of load + fit + scoring the held-out rows (imports excluded), fit alone, held-out ROC AUC
    train_race.py torch-cnn DATA.npz [--threads 2] [--target 0.99] [--max-epochs 15] [--seed N]
        the same CNN architecture as ours in PyTorch eager (Adam 1e-3, batch 64, dropout 0.5, shifts of
        up to 2 pixels as augmentation, normalised by the training pixels' mean/std), trained on
        train_images, scored on val_images after each epoch; prints one line per epoch in our format
        (... validation:auc=X ...), stops once the AUC reaches --target
    train_race.py race --target 0.99 -- COMMAND...
        runs COMMAND and timestamps its output lines; at the first line whose validation:auc= is at
        least --target it stops the command and prints one JSON line: seconds from launch to that line
        (process start, imports and data loading included, the same for every command), the epoch, the AUC
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

T0 = time.perf_counter()


def split(args):
    import numpy as np
    table = np.loadtxt(args.data, delimiter=",", dtype=np.float64, ndmin=2)
    rng = np.random.default_rng(args.seed)
    test = []
    for label in np.unique(table[:, -1]):
        idx = np.flatnonzero(table[:, -1] == label)
        rng.shuffle(idx)
        test.extend(idx[:int(round(len(idx) * args.test_fraction))])
    mask = np.zeros(len(table), bool)
    mask[test] = True
    os.makedirs(args.out_dir, exist_ok=True)
    fmt = ["%.10g"] * (table.shape[1] - 1) + ["%d"]
    np.savetxt(os.path.join(args.out_dir, "train.csv"), table[~mask], delimiter=",", fmt=fmt)
    np.savetxt(os.path.join(args.out_dir, "test.csv"), table[mask], delimiter=",", fmt=fmt)
    print(json.dumps({"train_rows": int((~mask).sum()), "test_rows": int(mask.sum())}))


def sklearn_forest(args):
    import numpy as np
    import sklearn
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    start = time.perf_counter()
    train = np.loadtxt(args.train, delimiter=",", dtype=np.float64, ndmin=2)
    test = np.loadtxt(args.test, delimiter=",", dtype=np.float64, ndmin=2)
    clf = RandomForestClassifier(n_estimators=args.trees, max_features="sqrt", bootstrap=True,
                                 random_state=args.seed, n_jobs=args.jobs)
    fit_start = time.perf_counter()
    clf.fit(train[:, :-1].astype(np.float32), train[:, -1].astype(np.int64))
    fit = time.perf_counter() - fit_start
    auc = roc_auc_score(test[:, -1], clf.predict_proba(test[:, :-1].astype(np.float32))[:, 1])
    total = time.perf_counter() - start
    print(json.dumps({"impl": "sklearn", "sklearn_version": sklearn.__version__, "jobs": args.jobs,
                      "seconds": round(total, 4), "fit_seconds": round(fit, 4), "auc": round(auc, 6),
                      "nodes": int(sum(t.tree_.node_count for t in clf.estimators_))}))


def torch_cnn(args):
    import numpy as np
    import torch
    from torch import nn
    from sklearn.metrics import roc_auc_score
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    data = np.load(args.data)
    xs = data["train_images"].astype(np.float32) / 255
    ys = data["train_labels"].reshape(-1).astype(np.int64)
    xv = data["val_images"].astype(np.float32) / 255
    yv = data["val_labels"].reshape(-1).astype(np.int64)
    mean, std = float(xs.mean()), float(xs.std())
    xs, xv = (xs - mean) / std, (xv - mean) / std
    side = xs.shape[1]
    x_train = torch.from_numpy(xs.reshape(-1, 1, side, side))
    x_val = torch.from_numpy(xv.reshape(-1, 1, side, side))
    y_train = torch.from_numpy(ys)
    classes = int(ys.max()) + 1
    s3 = side // 4
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * s3 * s3, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, classes))
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.max_epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.from_numpy(rng.permutation(len(x_train)))
        total = 0.0
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            xb = x_train[idx]
            dy, dx = (int(v) for v in rng.integers(-2, 3, size=2))  # one shift per mini-batch
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            opt.zero_grad()
            loss = loss_fn(model(xb), y_train[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        model.eval()
        with torch.inference_mode():
            p = torch.softmax(model(x_val), dim=1)[:, -1].numpy()
        auc = roc_auc_score(yv, p)
        print(f"epoch={epoch}/{args.max_epochs} train:loss={total / len(order):.6f} "
              f"validation:auc={auc:.6f} seconds={time.perf_counter() - start:.2f}", flush=True)
        if auc >= args.target:
            break


def race(args):
    cmd = args.command[1:] if args.command and args.command[0] == "--" else args.command
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    result = {"reached": False, "epochs": 0, "best_auc": 0.0}
    log = []
    for line in proc.stdout:
        log.append(line)
        m = re.search(r"validation:auc=([0-9.]+)", line)
        if not m or not line.startswith("epoch="):
            continue
        result["epochs"] += 1
        auc = float(m.group(1))
        result["best_auc"] = max(result["best_auc"], auc)
        if auc >= args.target:
            result.update(reached=True, seconds=round(time.perf_counter() - start, 3), auc=auc)
            break
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait()
    if not result["reached"]:
        result["seconds"] = round(time.perf_counter() - start, 3)
        sys.stderr.write("".join(log[-20:]))
    result["target"] = args.target
    print(json.dumps(result))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("split")
    p.add_argument("data")
    p.add_argument("out_dir")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p = sub.add_parser("sklearn-forest")
    p.add_argument("train")
    p.add_argument("test")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--trees", type=int, default=100)
    p = sub.add_parser("torch-cnn")
    p.add_argument("data")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--target", type=float, default=0.99)
    p.add_argument("--max-epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("race")
    p.add_argument("--target", type=float, default=0.99)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    {"split": split, "sklearn-forest": sklearn_forest, "torch-cnn": torch_cnn, "race": race}[args.cmd](args)


if __name__ == "__main__":
    main()
