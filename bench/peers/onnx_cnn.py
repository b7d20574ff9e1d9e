#!/usr/bin/env python3
"""The ONNX Runtime side of the CNN benchmark: the PyTorch port of our network, exported to ONNX.

    onnx_cnn.py MODEL_DIR DUMP_DIR [--batch N] [--repeats R] [--single N] [--tolerance T]

Run with the bench venv's python (bench/run.sh makes it; it sees Debian's PyTorch). Builds the same
nn.Sequential as peers/torch_cnn.py from MODEL_DIR's cnn.bin (same weights), exports it with
torch.onnx.export (opset 13, dynamic batch axis) to DUMP_DIR/cnn.onnx, and runs it in ONNX Runtime
on one thread (intra_op_num_threads=1, inter_op_num_threads=1, sequential, all graph optimisations).
Parity: the inputs our bench dumped, against our probabilities as one batch and one at a time; a
difference above --tolerance (1e-4) prints the JSON, says so on stderr and exits 1. Timing: the same
batch and batch-of-one calls as ours and torch_cnn.py; the same JSON keys.
"""
import argparse
import json
import os
import statistics
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_cnn import build_torch, load_ours  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("dump_dir")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--single", type=int, default=1000)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()

    torch.set_num_threads(1)
    _manifest, arch, params = load_ours(args.model_dir)
    side = arch["side"]
    path = os.path.join(args.dump_dir, "cnn.onnx")
    if not os.path.exists(path):
        model = build_torch(arch, params)
        torch.onnx.export(model, torch.zeros(1, 1, side, side), path, opset_version=13,
                          input_names=["images"], output_names=["probabilities"],
                          dynamic_axes={"images": {0: "n"}, "probabilities": {0: "n"}})
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    def run(x):
        return sess.run(None, {"images": x})[0]

    inputs = np.load(os.path.join(args.dump_dir, "inputs.npy"))
    ours_batch = np.load(os.path.join(args.dump_dir, "probs_batch.npy"))
    ours_single = np.load(os.path.join(args.dump_dir, "probs_single.npy"))
    n = inputs.shape[0]
    x_all = np.ascontiguousarray(inputs.reshape(n, 1, side, side).astype(np.float32))
    theirs = run(x_all)
    diff_batch = float(np.abs(theirs - ours_batch).max())
    diff_single = float(np.abs(theirs - ours_single).max())
    parity_ok = max(diff_batch, diff_single) <= args.tolerance

    batch = np.ascontiguousarray(x_all[np.arange(args.batch) % n])
    singles = [np.ascontiguousarray(x_all[i:i + 1]) for i in range(min(args.single, n))]
    out = run(batch)  # warm-up
    batch_ips = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        out = run(batch)
        batch_ips.append(args.batch / (time.perf_counter() - start))
    for one in singles[:20]:
        run(one)
    single_us = []
    for i in range(args.single):
        one = singles[i % len(singles)]
        start = time.perf_counter()
        run(one)
        single_us.append((time.perf_counter() - start) * 1e6)
    single_median = statistics.median(single_us)
    print(json.dumps({
        "impl": "onnxruntime",
        "onnxruntime_version": ort.__version__,
        "torch_version": torch.__version__,
        "image_size": side,
        "images": n,
        "batch": args.batch,
        "repeats": args.repeats,
        "batch_images_per_s_median": round(statistics.median(batch_ips), 1),
        "batch_images_per_s_min": round(min(batch_ips), 1),
        "batch_images_per_s_max": round(max(batch_ips), 1),
        "batch_images_per_s": [round(v, 1) for v in batch_ips],
        "single_us_median": round(single_median, 3),
        "single_images_per_s": round(1e6 / single_median, 1),
        "single_calls": args.single,
        "checksum": round(float(out[:, -1].sum()), 6),
        "parity_tolerance": args.tolerance,
        "parity_max_abs_diff_batch": diff_batch,
        "parity_max_abs_diff_single": diff_single,
        "parity_ok": parity_ok,
    }))
    if not parity_ok:
        print(f"onnx_cnn.py: PARITY FAILED: max |onnxruntime - ours| = {diff_batch:.3g} (batch), "
              f"{diff_single:.3g} (one at a time); tolerance {args.tolerance:g}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
