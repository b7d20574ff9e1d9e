#!/usr/bin/env python3
"""The PyTorch side of the CNN benchmark (bench/cnn_predict_bench.cc is ours).

    torch_cnn.py MODEL_DIR DUMP_DIR [--data IMAGES.npz] [--images KEY] [--batch N] [--repeats R]
                 [--single N] [--tolerance T] [--flatten nhwc|nchw]

Builds our network in PyTorch (eager, float32, eval mode, one thread) from MODEL_DIR's cnn.bin and
manifest.json, then:
  1. parity: runs the inputs our bench dumped (DUMP_DIR/inputs.npy, already preprocessed with the
     manifest's mean/std) and compares the probabilities with ours, computed as one batch
     (probs_batch.npy) and one image at a time (probs_single.npy). With --data it also redoes the
     preprocessing from the raw images and compares it with our inputs. Any difference above
     --tolerance prints the JSON anyway, says so on stderr and exits 1;
  2. timing: the same batch as ours (the first --batch images, cycled) and the same batch-of-one
     calls. Prints one JSON object with the same keys as ours.
--flatten nchw feeds the dense layer the pooled map in PyTorch's own order without reordering our
weights: a deliberately wrong port, to show the parity check catches layout mistakes.
"""
import argparse
import json
import os
import struct
import statistics
import sys
import time

# One thread for everything numeric, set before the libraries start their pools: PyTorch's
# OpenMP, and the OpenBLAS it calls for the dense layers and batch-1 convolutions.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

# cnn.bin header (models/cnn/cnn_io.cc): magic, version, input_size, num_classes, conv1_channels,
# conv2_channels, hidden, dropout, 7 reserved words, num_params; little-endian, 72 bytes.
HEADER = struct.Struct("<8s6If7IQ")
assert HEADER.size == 72


def load_ours(model_dir):
    manifest = json.load(open(os.path.join(model_dir, "manifest.json")))
    if manifest.get("model_type") != "cnn":
        sys.exit(f"{model_dir}: model_type is {manifest.get('model_type')!r}, not cnn")
    blob = open(os.path.join(model_dir, manifest["weights"]["file"]), "rb").read()
    magic, version, side, classes, c1, c2, hidden, _dropout, *rest = HEADER.unpack_from(blob)
    num_params = rest[-1]
    if magic != b"MLSCNN\0\0" or version != 1:
        sys.exit(f"{model_dir}: not a version-1 cnn.bin")
    params = np.frombuffer(blob, dtype="<f4", offset=HEADER.size).copy()
    if params.size != num_params:
        sys.exit(f"{model_dir}: header says {num_params} weights, file holds {params.size}")
    arch = dict(side=side, classes=classes, c1=c1, c2=c2, hidden=hidden)
    return manifest, arch, params


def build_torch(arch, params, flatten="nhwc"):
    """Our parameter vector (CnnLayout order) as an nn.Sequential with PyTorch's native layouts."""
    side, classes, c1, c2, hidden = (arch[k] for k in ("side", "classes", "c1", "c2", "hidden"))
    s3 = side // 2 // 2
    flat = s3 * s3 * c2
    at = 0

    def take(*shape):
        nonlocal at
        count = int(np.prod(shape))
        t = params[at:at + count].reshape(shape)
        at += count
        return t

    # Conv weights are stored [9 * c_in, c_out] with row (ky * 3 + kx) * c_in + ci (im2col order);
    # PyTorch wants [c_out, c_in, ky, kx]. Both are cross-correlations with zero padding 1.
    conv1_w = take(3, 3, 1, c1).transpose(3, 2, 0, 1)
    conv1_b = take(c1)
    conv2_w = take(3, 3, c1, c2).transpose(3, 2, 0, 1)
    conv2_b = take(c2)
    # Dense weights are [in, out]; nn.Linear wants [out, in]. Our pooled map is flattened NHWC
    # (index (y * s3 + x) * c2 + c); nn.Flatten on PyTorch's NCHW map gives (c * s3 + y) * s3 + x,
    # so the rows of fc1 are reordered once here rather than the activations on every call.
    fc1_w = take(flat, hidden)
    if flatten == "nhwc":
        fc1_w = fc1_w.reshape(s3, s3, c2, hidden).transpose(2, 0, 1, 3).reshape(flat, hidden)
    fc1_b = take(hidden)
    fc2_w = take(hidden, classes)
    fc2_b = take(classes)
    if at != params.size:
        sys.exit(f"parameter count {params.size} does not match the architecture ({at})")

    model = nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, classes), nn.Softmax(dim=1))
    with torch.no_grad():
        for layer, w, b in ((model[0], conv1_w, conv1_b), (model[3], conv2_w, conv2_b),
                            (model[7], fc1_w.T, fc1_b), (model[10], fc2_w.T, fc2_b)):
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            layer.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("dump_dir")
    ap.add_argument("--data", help="the .npz our bench read, to check its preprocessing too")
    ap.add_argument("--images", default="val_images")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--single", type=int, default=1000)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--flatten", choices=("nhwc", "nchw"), default="nhwc")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    manifest, arch, params = load_ours(args.model_dir)
    model = build_torch(arch, params, args.flatten)
    side = arch["side"]

    inputs = np.load(os.path.join(args.dump_dir, "inputs.npy"))
    ours_batch = np.load(os.path.join(args.dump_dir, "probs_batch.npy"))
    ours_single = np.load(os.path.join(args.dump_dir, "probs_single.npy"))
    n = inputs.shape[0]
    x_all = torch.from_numpy(np.ascontiguousarray(inputs.reshape(n, 1, side, side)))

    # Our preprocessing is (p / 255 - mean) / std in float32 for an image already side x side:
    # NumPy doing the same operations in the same precision must agree to the bit.
    input_diff = None
    if args.data:
        raw = np.load(args.data)[args.images]
        if raw.shape[1:] == (side, side):
            spec = manifest["input"]["image"]
            mine = (raw.astype(np.float32) / np.float32(255) - np.float32(spec["mean"])) \
                / np.float32(spec["std"])
            input_diff = float(np.abs(mine - inputs).max())

    with torch.inference_mode():
        theirs = model(x_all).numpy()
    diff_batch = float(np.abs(theirs - ours_batch).max())
    diff_single = float(np.abs(theirs - ours_single).max())
    parity_ok = max(diff_batch, diff_single) <= args.tolerance and \
        (input_diff is None or input_diff <= args.tolerance)

    # Timing: the same batch and the same single images as ours.
    batch = x_all[torch.arange(args.batch) % n].contiguous()
    singles = [x_all[i % n:i % n + 1].contiguous() for i in range(min(args.single, n))]
    with torch.inference_mode():
        out = model(batch)  # warm-up, untimed
        batch_ips = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = model(batch)
            batch_ips.append(args.batch / (time.perf_counter() - start))
        for one in singles[:20]:
            model(one)
        single_us = []
        for i in range(args.single):
            one = singles[i % len(singles)]
            start = time.perf_counter()
            model(one)
            single_us.append((time.perf_counter() - start) * 1e6)
    single_median = statistics.median(single_us)

    result = {
        "impl": "torch",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled),
        "flatten": args.flatten,
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
        "input_max_abs_diff": input_diff,
        "parity_ok": parity_ok,
    }
    print(json.dumps(result))
    if not parity_ok:
        print(f"torch_cnn.py: PARITY FAILED: max |torch - ours| = {diff_batch:.3g} (batch), "
              f"{diff_single:.3g} (one at a time), preprocessing {input_diff}; tolerance "
              f"{args.tolerance:g}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
