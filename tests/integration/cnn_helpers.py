"""Helpers for the CNN training tests, in plain Python (no numpy, no Pillow): .npy/.npz reading and
writing, a grayscale PNG encoder, class-folder trees, a train runner that can signal the process
mid-training, and parsers for the metric lines `mls train` prints."""

from __future__ import annotations

import ast
import io
import json
import re
import signal
import struct
import subprocess
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import mls_testlib as lib

NPZ = lib.DATA_DIR / "pneumoniamnist" / "pneumoniamnist.npz"
EPOCH_LINE = re.compile(r"^epoch=(\d+)/(\d+) (.*)$", re.MULTILINE)
METRIC = re.compile(r"([a-z_]+:[a-z_]+)=([0-9.eE+-]+)")


# --------------------------------------------------------------------------------------------
# .npy / .npz
# --------------------------------------------------------------------------------------------

@dataclass
class Array:
    """A uint8 array: shape and C-order bytes."""
    shape: tuple[int, ...]
    data: bytes

    def image(self, i: int) -> bytes:
        per = self.shape[1] * self.shape[2]
        return self.data[i * per:(i + 1) * per]

    def label(self, i: int) -> int:
        return self.data[i]

    def __len__(self) -> int:
        return self.shape[0]


def parse_npy(raw: bytes) -> Array:
    assert raw[:6] == b"\x93NUMPY", "not an .npy"
    major = raw[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", raw[8:10])
        start = 10
    else:
        (hlen,) = struct.unpack("<I", raw[8:12])
        start = 12
    header = ast.literal_eval(raw[start:start + hlen].decode("latin-1"))
    assert header["descr"] == "|u1" and not header["fortran_order"], header
    return Array(tuple(header["shape"]), raw[start + hlen:])


def npy_bytes(shape: tuple[int, ...], data: bytes) -> bytes:
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + dims + "), }"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def read_npz(path: Path) -> dict[str, Array]:
    with zipfile.ZipFile(path) as z:
        return {name[:-4]: parse_npy(z.read(name)) for name in z.namelist()
                if name.endswith(".npy")}


def npz_bytes(arrays: dict[str, Array], deflate: bool) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for key, a in arrays.items():
            z.writestr(key + ".npy", npy_bytes(a.shape, a.data))
    return buf.getvalue()


def balanced(labels: Array, n: int) -> list[int]:
    """n indices, half of each of classes 0 and 1, interleaved (the shared file is sorted by
    class, so its first n images are all of one)."""
    by_class = {0: [], 1: []}
    for i in range(len(labels)):
        by_class[labels.label(i)].append(i)
    return [i for pair in zip(by_class[0][:n // 2], by_class[1][:n // 2]) for i in pair]


def subset(images: Array, labels: Array, indices: list[int]) -> tuple[Array, Array]:
    """The images and labels at indices, as new arrays."""
    return (Array((len(indices),) + images.shape[1:], b"".join(images.image(i) for i in indices)),
            Array((len(indices),) + labels.shape[1:], bytes(labels.label(i) for i in indices)))


# --------------------------------------------------------------------------------------------
# PNG
# --------------------------------------------------------------------------------------------

def png_gray(width: int, height: int, pixels: bytes) -> bytes:
    """An 8-bit grayscale PNG (no filtering)."""
    assert len(pixels) == width * height

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write_class_folders(channel: Path, images: Array, labels: Array, names: list[str],
                        indices: list[int]) -> None:
    """The images at indices as PNG files in one sub-folder per class (label i -> names[i])."""
    h, w = images.shape[1], images.shape[2]
    for i in indices:
        folder = channel / names[labels.label(i)]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"img{i:05d}.png").write_bytes(png_gray(w, h, images.image(i)))


# --------------------------------------------------------------------------------------------
# Running and reading `mls train`
# --------------------------------------------------------------------------------------------

def train_args(tree: lib.SmTree) -> list[str]:
    return [str(lib.MLS_BIN), "train", "--input-dir", str(tree.input_dir),
            "--model-dir", str(tree.model_dir), "--output-dir", str(tree.output_dir),
            "--checkpoint-dir", str(tree.checkpoint_dir)]


@dataclass
class SignalledRun:
    result: lib.TrainResult
    signal_to_exit: float  # seconds from the signal to the process exit


def train_and_signal(tree: lib.SmTree, after_line: str, sig: int = signal.SIGTERM,
                     timeout: float = 300) -> SignalledRun:
    """Runs `mls train`, sends `sig` as soon as a stdout line starts with after_line, and waits
    for the exit. Fails if the line never comes (training ended first)."""
    args = train_args(tree)
    t0 = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=lib.clean_env(), cwd=str(tree.root), errors="replace")
    lines = []
    signalled_at = None
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(after_line):
                proc.send_signal(sig)
                signalled_at = time.monotonic()
                break
        rest_out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    ended = time.monotonic()
    failure = tree.failure_file.read_text(errors="replace") if tree.failure_file.exists() else None
    res = lib.TrainResult(args, proc.returncode, "".join(lines) + rest_out, err, failure,
                          ended - t0)
    assert signalled_at is not None, \
        f"training ended before printing {after_line!r}\n" + res.describe()
    return SignalledRun(res, ended - signalled_at)


def epoch_metrics(output: str) -> list[dict[str, float]]:
    """One dict per `epoch=` line: its name=value metrics plus 'epoch'."""
    out = []
    for m in EPOCH_LINE.finditer(output):
        values = {k: float(v) for k, v in METRIC.findall(m.group(3))}
        values["epoch"] = int(m.group(1))
        out.append(values)
    return out


def final_metric(output: str, name: str) -> float:
    """The value on the last line that is exactly `name=value` (the end-of-training summary)."""
    found = re.findall(r"^" + re.escape(name) + r"=([0-9.eE+-]+)$", output, re.MULTILINE)
    assert found, f"no {name}= line in the output"
    return float(found[-1])


def manifest(model_dir: Path) -> dict:
    return json.loads((model_dir / "manifest.json").read_text())
