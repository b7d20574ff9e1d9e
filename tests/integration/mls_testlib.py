"""Shared helpers for the black-box integration tests of the `mls` binary.

Plain Python only (no numpy): paths, the HTRU2 loader, an /opt/ml-shaped training tree, a train
runner, a server process wrapper, a tiny raw HTTP/1.1 reader for pipelining tests, and the metrics
(rank AUC with averaged ties, F1).
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
MLS_BIN = Path(os.environ.get("MLS_BIN", str(REPO_ROOT / "build" / "release" / "server" / "mls"))).resolve()
DATA_DIR = Path(os.environ.get("MLS_DATA_DIR", str(REPO_ROOT.parent / "shared" / "data")))
HTRU2_CSV = DATA_DIR / "htru2" / "HTRU_2.csv"

NUM_FEATURES = 8
SIX_MIB = 6 * 1024 * 1024  # 6,291,456 bytes: SageMaker's real-time payload limit

# Every server started by this module, so conftest can attach logs to a failing test's report.
ALL_SERVERS: list["ServerProcess"] = []


# --------------------------------------------------------------------------------------------
# Environment and data
# --------------------------------------------------------------------------------------------

def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without SageMaker variables that could leak in from the caller, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("SAGEMAKER_") or k.startswith("SM_") or k == "LOG_LEVEL")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


@dataclass(frozen=True)
class Row:
    """One HTRU2 row: the 8 feature cells as written in the file, and the 0/1 label."""
    cells: tuple[str, ...]
    label: int

    @property
    def values(self) -> list[float]:
        return [float(c) for c in self.cells]

    def csv_features(self) -> str:
        return ",".join(self.cells)

    def csv_with_label(self, label_first: bool = False) -> str:
        if label_first:
            return f"{self.label}," + ",".join(self.cells)
        return ",".join(self.cells) + f",{self.label}"

    def json_features(self) -> str:
        # The file's own spellings are valid JSON numbers (e.g. 9.80E-05), so CSV and JSON
        # requests carry exactly the same decimal text.
        return "[" + ",".join(self.cells) + "]"


def load_htru2() -> list[Row]:
    if not HTRU2_CSV.is_file():
        raise FileNotFoundError(f"HTRU2 not found at {HTRU2_CSV} (set MLS_DATA_DIR)")
    rows = []
    with open(HTRU2_CSV, newline="") as f:
        for line in f.read().splitlines():
            if not line.strip():
                continue
            cells = [c.strip() for c in line.split(",")]
            assert len(cells) == NUM_FEATURES + 1, f"unexpected HTRU2 line: {line!r}"
            rows.append(Row(tuple(cells[:NUM_FEATURES]), int(float(cells[NUM_FEATURES]))))
    return rows


def split_rows(rows: list[Row], test_fraction: float, seed: int) -> tuple[list[Row], list[Row]]:
    """Seeded shuffle, then (train, test)."""
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    n_test = int(round(len(shuffled) * test_fraction))
    return shuffled[n_test:], shuffled[:n_test]


def features_csv(rows: list[Row], eol: str = "\n", final_eol: bool = True) -> str:
    body = eol.join(r.csv_features() for r in rows)
    return body + eol if final_eol else body


def features_json_instances(rows: list[Row], key: str = "instances") -> str:
    return '{"' + key + '": [' + ",".join(r.json_features() for r in rows) + "]}"


def features_jsonlines(rows: list[Row]) -> str:
    return "".join(r.json_features() + "\n" for r in rows)


def training_csv(rows: list[Row], label_first: bool = False) -> str:
    return "".join(r.csv_with_label(label_first) + "\n" for r in rows)


# --------------------------------------------------------------------------------------------
# Metrics (plain Python)
# --------------------------------------------------------------------------------------------

def auc(truth: list[int], scores: list[float]) -> float:
    """ROC AUC via the Mann-Whitney U statistic, ties given their average rank."""
    if len(truth) != len(scores):
        raise ValueError("truth and scores differ in length")
    n_pos = sum(1 for t in truth if t == 1)
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        avg_rank = (i + j) / 2.0 + 1.0  # ranks are 1-based
        for k in range(i, j + 1):
            ranks[order[k]] = avg_rank
        i = j + 1
    rank_sum_pos = sum(r for r, t in zip(ranks, truth) if t == 1)
    return (rank_sum_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def f1(truth: list[int], predicted: list[int], positive: int = 1) -> float:
    tp = sum(1 for t, p in zip(truth, predicted) if t == positive and p == positive)
    fp = sum(1 for t, p in zip(truth, predicted) if t != positive and p == positive)
    fn = sum(1 for t, p in zip(truth, predicted) if t == positive and p != positive)
    if tp == 0:
        return 0.0
    return 2.0 * tp / (2.0 * tp + fp + fn)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

@dataclass
class SmTree:
    """An /opt/ml-shaped directory tree for one training run."""
    root: Path

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    @property
    def training_dir(self) -> Path:
        return self.data_dir / "training"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"


def make_sm_tree(root: Path, hyperparameters: dict[str, str] | None = None,
                 training_files: dict[str, str] | None = None,
                 validation_files: dict[str, str] | None = None,
                 channels: tuple[str, ...] | None = None,
                 model_dir: Path | None = None) -> SmTree:
    """Lays out root like /opt/ml. training_files maps file name -> content; None creates no
    training channel at all, {} creates an empty one."""
    tree = SmTree(Path(root))
    tree.config_dir.mkdir(parents=True, exist_ok=True)
    tree.data_dir.mkdir(parents=True, exist_ok=True)
    tree.output_dir.mkdir(parents=True, exist_ok=True)
    tree.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    (model_dir or tree.model_dir).mkdir(parents=True, exist_ok=True)

    hp = hyperparameters if hyperparameters is not None else {}
    (tree.config_dir / "hyperparameters.json").write_text(json.dumps(hp))

    if channels is None:
        channels = tuple(c for c, files in (("training", training_files),
                                            ("validation", validation_files))
                         if files is not None)
    idc = {c: {"ContentType": "text/csv", "TrainingInputMode": "File",
               "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
           for c in channels}
    (tree.config_dir / "inputdataconfig.json").write_text(json.dumps(idc))
    (tree.config_dir / "resourceconfig.json").write_text(json.dumps(
        {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}))

    for channel, files in (("training", training_files), ("validation", validation_files)):
        if files is None:
            continue
        d = tree.data_dir / channel
        d.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (d / name).write_bytes(content.encode() if isinstance(content, str) else content)
    return tree


@dataclass
class TrainResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    failure: str | None
    elapsed: float

    @property
    def output(self) -> str:
        return self.stdout + "\n" + self.stderr

    def describe(self) -> str:
        return (f"command: {' '.join(self.args)}\nexit code: {self.returncode}\n"
                f"elapsed: {self.elapsed:.1f}s\n--- stdout ---\n{self.stdout[-6000:]}\n"
                f"--- stderr ---\n{self.stderr[-6000:]}\n--- output/failure ---\n{self.failure}")


def run_train(tree: SmTree, model_dir: Path | None = None, timeout: float = 300,
              extra_args: list[str] | None = None, env: dict[str, str] | None = None) -> TrainResult:
    args = [str(MLS_BIN), "train",
            "--input-dir", str(tree.input_dir),
            "--model-dir", str(model_dir or tree.model_dir),
            "--output-dir", str(tree.output_dir),
            "--checkpoint-dir", str(tree.checkpoint_dir)] + (extra_args or [])
    t0 = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          env=env or clean_env(), cwd=str(tree.root), errors="replace")
    failure = None
    if tree.failure_file.exists():
        failure = tree.failure_file.read_text(errors="replace")
    return TrainResult(args, proc.returncode, proc.stdout, proc.stderr, failure,
                       time.monotonic() - t0)


def train_ok(tree: SmTree, model_dir: Path | None = None, timeout: float = 300) -> TrainResult:
    res = run_train(tree, model_dir=model_dir, timeout=timeout)
    md = model_dir or tree.model_dir
    assert res.returncode == 0, "training failed\n" + res.describe()
    assert (md / "manifest.json").is_file(), "no manifest.json\n" + res.describe()
    assert (md / "forest.bin").is_file(), "no forest.bin\n" + res.describe()
    return res


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """One `mls` process with its output going to a log file."""
    args: list[str]
    port: int
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    _log_file: object = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> "ServerProcess":
        self._log_file = open(self.log_path, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        ALL_SERVERS.append(self)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, max_chars: int = 8000) -> str:
        text = self.log_text()
        return text if len(text) <= max_chars else "...\n" + text[-max_chars:]

    def describe(self) -> str:
        rc = None if self.proc is None else self.proc.poll()
        return (f"server: {' '.join(self.args)} (port {self.port}, exit code {rc})\n"
                f"--- server log ---\n{self.log_tail()}")

    def wait_responding(self, timeout: float = 10.0) -> requests.Response:
        """Polls /ping until the server answers anything; returns that response."""
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError("server exited before answering /ping\n" + self.describe())
            try:
                return requests.get(self.url("/ping"), timeout=2)
            except requests.RequestException as exc:
                last_exc = exc
                time.sleep(0.05)
        raise AssertionError(f"server did not answer /ping within {timeout}s ({last_exc})\n"
                             + self.describe())

    def wait_ready(self, timeout: float = 10.0) -> requests.Response:
        """Polls /ping until 200."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError("server exited before becoming ready\n" + self.describe())
            try:
                last = requests.get(self.url("/ping"), timeout=2)
                if last.status_code == 200:
                    return last
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.05)
        detail = last if not isinstance(last, requests.Response) else \
            f"{last.status_code} {last.text[:500]}"
        raise AssertionError(f"/ping not 200 within {timeout}s (last: {detail})\n" + self.describe())

    def terminate(self, sig: int = signal.SIGTERM) -> None:
        if self.running():
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Always safe: SIGKILL if still running, then reap and close the log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def server_command(model_dir: Path | None, port: int | None, subcommand: bool = True,
                   extra_args: list[str] | None = None) -> list[str]:
    args = [str(MLS_BIN)]
    if subcommand:
        args.append("serve")
    if port is not None:
        args += ["--port", str(port)]
    if model_dir is not None:
        args += ["--model-dir", str(model_dir)]
    return args + (extra_args or [])


# --------------------------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------------------------

def invoke(session: requests.Session | None, server: ServerProcess, body, content_type="text/csv",
           accept: str | None = None, headers: dict[str, str] | None = None,
           timeout: float = 60) -> requests.Response:
    h = {"Content-Type": content_type}
    if accept is not None:
        h["Accept"] = accept
    h.update(headers or {})
    post = session.post if session is not None else requests.post
    return post(server.url("/invocations"), data=body, headers=h, timeout=timeout)


def predictions_of(resp: requests.Response) -> list[dict]:
    assert resp.status_code == 200, f"expected 200, got {resp.status_code}: {resp.text[:500]}"
    doc = resp.json()
    assert isinstance(doc, dict) and "predictions" in doc, f"no 'predictions' in {resp.text[:300]}"
    return doc["predictions"]


def error_text(resp: requests.Response) -> str:
    """Asserts the response is a JSON error object and returns its message."""
    ctype = resp.headers.get("Content-Type", "")
    assert "json" in ctype.lower(), \
        f"error response should be JSON, Content-Type was {ctype!r}: {resp.text[:300]}"
    try:
        doc = resp.json()
    except ValueError as exc:
        raise AssertionError(f"error body is not JSON: {resp.text[:300]!r}") from exc
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"], \
        f"error body should be {{\"error\": \"...\"}}, got {resp.text[:300]!r}"
    return doc["error"]


def label_value(pred: dict) -> int:
    """The predicted label as an int (servers may write 1 or 1.0)."""
    v = float(pred["label"])
    assert v == int(v), f"label is not integral: {pred}"
    return int(v)


# --------------------------------------------------------------------------------------------
# Raw HTTP/1.1 (pipelining, partial sends)
# --------------------------------------------------------------------------------------------

def raw_request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                host: str = "127.0.0.1") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    h = dict(headers or {})
    if body or method in ("POST", "PUT"):
        h.setdefault("Content-Length", str(len(body)))
    lines += [f"{k}: {v}" for k, v in h.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def read_raw_response(f) -> RawResponse:
    """Reads one HTTP/1.1 response from a buffered binary file made from a socket."""
    status_line = f.readline()
    if not status_line:
        raise ConnectionError("connection closed before a status line")
    parts = status_line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("connection closed inside the headers")
        line = line.decode("latin-1").rstrip("\r\n")
        if not line:
            break
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size_line = f.readline().decode("latin-1").strip()
            size = int(size_line.split(";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += f.read(size)
            f.readline()
    else:
        n = int(headers.get("content-length", "0"))
        body = f.read(n) if n else b""
        if len(body) != n:
            raise ConnectionError(f"short body: {len(body)} of {n} bytes")
    return RawResponse(status, headers, body)


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes (or resets); and when the close came."""
    deadline = time.monotonic() + timeout
    data = b""
    sock.setblocking(False)
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, time.monotonic()
        if not chunk:
            return data, time.monotonic()
        data += chunk
    raise AssertionError(f"server did not close the connection within {timeout}s; got {data[:300]!r}")
