"""Faults: a damaged artifact next to a good model (forest and CNN: truncated or flipped weights, a
manifest that lies), unreadable model directories (run as an unprivileged user, since root reads
through chmod 000), a full disk while `train` writes its model, SIGTERM under load (the forest with
8 clients, the CNN with batching) and while a forest trains, and what the process may touch: no
shell-outs, no file written outside the directories it is given."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

import cnn_helpers as ch
import mls_testlib as lib

NOBODY = 65534  # the unprivileged user the permission and file-footprint tests run as


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def forest_model(small_model) -> Path:
    return small_model


@pytest.fixture(scope="module")
def npz_arrays() -> dict[str, ch.Array]:
    if not ch.NPZ.is_file():
        pytest.fail(f"PneumoniaMNIST not found at {ch.NPZ} (set MLS_DATA_DIR)", pytrace=False)
    return ch.read_npz(ch.NPZ)


@pytest.fixture(scope="module")
def cnn_model(tmp_path_factory, npz_arrays) -> Path:
    """A small CNN: 2 epochs on 600 balanced training images (seconds, not minutes)."""
    idx = ch.balanced(npz_arrays["train_labels"], 600)
    images, labels = ch.subset(npz_arrays["train_images"], npz_arrays["train_labels"], idx)
    npz = ch.npz_bytes({"train_images": images, "train_labels": labels}, deflate=False)
    tree = lib.make_sm_tree(tmp_path_factory.mktemp("faults_cnn"),
                            {"epochs": "2", "seed": "3", "conv1_channels": "8",
                             "conv2_channels": "8", "hidden_units": "16"},
                            training_files={"train.npz": npz})
    res = lib.run_train(tree, timeout=300)
    assert res.returncode == 0, "CNN training failed\n" + res.describe()
    assert (tree.model_dir / "cnn.bin").is_file(), res.describe()
    return tree.model_dir


@pytest.fixture(scope="module")
def probe_images(npz_arrays) -> bytes:
    """16 validation images as one N x 28 x 28 uint8 .npy body."""
    val = npz_arrays["val_images"]
    return ch.npy_bytes((16, val.shape[1], val.shape[2]),
                        b"".join(val.image(i) for i in range(16)))


def answers(srv: lib.ServerProcess, model: str, body: bytes | str, content_type: str) -> list:
    r = lib.invoke(None, srv, body, content_type, headers={
        "X-Amzn-SageMaker-Custom-Attributes": f"model={model}"})
    preds = lib.predictions_of(r)
    assert preds, r.text[:300]
    return preds


@pytest.fixture(scope="module")
def reference_answers(module_server_factory, tmp_path_factory, forest_model, cnn_model,
                      probe_rows, probe_images) -> dict[str, list]:
    """What each model answers when it is loaded alongside an undamaged other model."""
    root = tmp_path_factory.mktemp("faults_reference")
    shutil.copytree(forest_model, root / "pulsar")
    shutil.copytree(cnn_model, root / "xray")
    srv = module_server_factory.start(root, timeout=20)
    out = {"pulsar": answers(srv, "pulsar", lib.features_csv(probe_rows), "text/csv"),
           "xray": answers(srv, "xray", probe_images, "application/x-npy")}
    srv.kill()
    return out


# --------------------------------------------------------------------------------------------
# Damaged artifacts next to a good model
# --------------------------------------------------------------------------------------------

WEIGHTS = {"pulsar": "forest.bin", "xray": "cnn.bin"}


def rewrite_manifest(model_dir: Path, change) -> None:
    p = model_dir / "manifest.json"
    m = json.loads(p.read_text())
    change(m)
    p.write_text(json.dumps(m, indent=2))


def lie_about_input(m: dict) -> None:
    if m["model_type"] == "forest":
        m["input"]["num_features"] = 7
        m["input"]["feature_names"] = m["input"]["feature_names"][:7]
    else:
        m["input"]["num_features"] = 32 * 32
        m["input"]["image"]["height"] = m["input"]["image"]["width"] = 32


def lie_about_classes(m: dict) -> None:
    m["classes"]["labels"].append(2)
    m["classes"]["names"].append("two")


def lie_about_type(m: dict) -> None:
    m["model_type"] = "cnn" if m["model_type"] == "forest" else "forest"


def damage(model_dir: Path, weights: str, how: str) -> str:
    """Damages one model dir; returns a regex the reason must match."""
    w = model_dir / weights
    if how == "truncated-weights":
        data = w.read_bytes()
        w.write_bytes(data[: len(data) // 2])
        return re.escape(weights) + r": truncated or altered: \d+ bytes, manifest.json says \d+"
    if how == "flipped-bytes":
        data = bytearray(w.read_bytes())
        for i in range(len(data) // 2, len(data) // 2 + 16):
            data[i] ^= 0x5A
        w.write_bytes(bytes(data))
        return re.escape(weights) + r": corrupt: SHA-256 does not match manifest.json"
    if how == "manifest-lies-size":
        rewrite_manifest(model_dir, lambda m: m["weights"].update(
            size_bytes=m["weights"]["size_bytes"] + 4096))
        return re.escape(weights) + r": truncated or altered"
    if how == "manifest-lies-input":
        rewrite_manifest(model_dir, lie_about_input)
        return re.escape(weights) + r": .*disagree.* with manifest\.json"
    if how == "manifest-lies-classes":
        rewrite_manifest(model_dir, lie_about_classes)
        if weights == "cnn.bin":
            return re.escape(weights) + r": class labels do not match the network's outputs"
        return re.escape(weights) + r": classes or features disagree with manifest\.json"
    if how == "manifest-lies-type":
        rewrite_manifest(model_dir, lie_about_type)
        return re.escape(weights) + r": "
    raise ValueError(how)


HOWS = ["truncated-weights", "flipped-bytes", "manifest-lies-size", "manifest-lies-input",
        "manifest-lies-classes", "manifest-lies-type"]


def ping_json(srv: lib.ServerProcess) -> tuple[int, dict]:
    r = requests.get(srv.url("/ping"), timeout=5)
    assert "json" in r.headers.get("Content-Type", ""), r.headers
    return r.status_code, r.json()


def ping_after_loading(srv: lib.ServerProcess, timeout: float = 10) -> tuple[int, dict]:
    """/ping's status and body once start-up loading has finished (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = ping_json(srv)
        if body.get("status") != "loading" or time.monotonic() > deadline:
            return status, body
        time.sleep(0.05)


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("broken", ["pulsar", "xray"], ids=["forest-broken", "cnn-broken"])
def test_damaged_model_is_named_and_the_other_keeps_serving(
        server_factory, tmp_path, forest_model, cnn_model, reference_answers, probe_rows,
        probe_images, broken, how):
    root = tmp_path / "models"
    shutil.copytree(forest_model, root / "pulsar")
    shutil.copytree(cnn_model, root / "xray")
    pattern = damage(root / broken, WEIGHTS[broken], how)
    good = "xray" if broken == "pulsar" else "pulsar"

    srv = server_factory.start(root, timeout=20)
    status, body = ping_json(srv)
    assert status == 200, f"/ping with one good model: {status} {body}"
    assert body["status"] == "ready", body
    assert body["models"] == [good], body
    assert list(body.get("failed_models", {})) == [broken], body
    reason = body["failed_models"][broken]
    assert re.search(pattern, reason), f"reason {reason!r} should match {pattern!r}"
    assert str(root / broken) in reason, f"the reason should name the file's path: {reason!r}"
    assert f"model '{broken}' failed to load: {reason}" in srv.log_text(), srv.describe()

    # The good one answers exactly as it does next to an undamaged model.
    if good == "pulsar":
        got = answers(srv, good, lib.features_csv(probe_rows), "text/csv")
        # Routing by content type still works with one model of each kind down.
        r = lib.invoke(None, srv, lib.features_csv(probe_rows), "text/csv")
    else:
        got = answers(srv, good, probe_images, "application/x-npy")
        r = lib.invoke(None, srv, probe_images, "application/x-npy")
    assert got == reference_answers[good]
    assert lib.predictions_of(r) == reference_answers[good]

    # Naming the broken model: 404 with the reason it is not there.
    r = lib.invoke(None, srv, "1,2,3,4,5,6,7,8\n", "text/csv",
                   headers={"X-Amzn-SageMaker-Custom-Attributes": f"model={broken}"})
    assert r.status_code == 404, f"{r.status_code} {r.text[:300]}"
    msg = lib.error_text(r)
    assert msg.startswith(f"model '{broken}' failed to load: "), msg
    assert reason in msg and f"loaded models: {good}" in msg, msg

    # /metrics shows it as not loaded.
    metrics = requests.get(srv.url("/metrics"), timeout=5).text
    loaded = {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^mls_model_loaded\{model="([^"]+)"\} (\S+)$', metrics, re.MULTILINE)}
    assert loaded == {good: 1.0, broken: 0.0}, loaded


def test_both_damaged_is_503_with_every_reason(server_factory, tmp_path, forest_model, cnn_model):
    root = tmp_path / "models"
    shutil.copytree(forest_model, root / "pulsar")
    shutil.copytree(cnn_model, root / "xray")
    p_forest = damage(root / "pulsar", "forest.bin", "truncated-weights")
    p_cnn = damage(root / "xray", "cnn.bin", "flipped-bytes")
    srv = server_factory.start(root, wait="responding")
    status, body = ping_after_loading(srv)
    assert status == 503, body
    assert body["status"] == "unavailable" and body["models"] == [], body
    assert sorted(body["failed_models"]) == ["pulsar", "xray"], body
    assert re.search(p_forest, body["failed_models"]["pulsar"]), body
    assert re.search(p_cnn, body["failed_models"]["xray"]), body
    # The error alone (what a caller sees first) carries both reasons.
    err = body["error"]
    assert err.startswith(f"no model could be loaded from {root} (pulsar: "), err
    assert body["failed_models"]["pulsar"] in err and body["failed_models"]["xray"] in err, err
    r = lib.invoke(None, srv, "1,2,3,4,5,6,7,8\n", "text/csv")
    assert r.status_code == 503 and lib.error_text(r).startswith("not ready: no model could"), \
        r.text[:300]


# --------------------------------------------------------------------------------------------
# Unreadable model directories (as an unprivileged user: root reads through chmod 000)
# --------------------------------------------------------------------------------------------

def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to user 65534 (setpriv) and to mount tmpfs")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")


def as_nobody(args: list[str]) -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *args]


@pytest.fixture
def world_dir():
    """A fresh directory outside pytest's root-only tmp tree, reachable by user 65534."""
    d = Path(tempfile.mkdtemp(prefix="mls-faults-"))
    d.chmod(0o755)
    yield d
    for p in [d, *d.rglob("*")]:  # chmod 000 leftovers would stop rmtree walking
        try:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        except OSError:
            pass
    shutil.rmtree(d, ignore_errors=True)


def mls_binary_is_reachable_by_nobody() -> bool:
    return subprocess.run(as_nobody([str(lib.MLS_BIN), "--help"]), capture_output=True,
                          timeout=20).returncode == 0


@pytest.fixture
def nobody_servers(tmp_path):
    started: list[lib.ServerProcess] = []

    def start(model_dir: Path, wait: str = "ready", cwd_env: dict | None = None):
        require_root()
        if not mls_binary_is_reachable_by_nobody():
            pytest.skip(f"user {NOBODY} cannot run {lib.MLS_BIN} (a directory on the way is "
                        "not world-searchable)")
        port = lib.free_port()
        args = as_nobody(lib.server_command(model_dir, port))
        srv = lib.ServerProcess(args, port, tmp_path / f"nobody-{port}.log",
                                lib.clean_env(**(cwd_env or {})))
        started.append(srv)
        srv.start()
        if wait == "ready":
            srv.wait_ready(20)
        else:
            srv.wait_responding(20)
        return srv

    yield start
    for srv in started:
        srv.kill()


def make_readable_tree(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


@pytest.mark.parametrize("what", ["directory", "weights-file"])
def test_unreadable_model_is_named_and_the_other_keeps_serving(
        nobody_servers, world_dir, forest_model, cnn_model, reference_answers, probe_rows, what):
    root = world_dir / "models"
    shutil.copytree(forest_model, root / "pulsar")
    shutil.copytree(cnn_model, root / "xray")
    make_readable_tree(root)
    if what == "directory":
        (root / "xray").chmod(0o000)
        pattern = re.escape(f"cannot read {root}/xray/manifest.json: Permission denied")
    else:
        (root / "xray" / "cnn.bin").chmod(0o000)
        pattern = re.escape(f"{root}/xray/cnn.bin: cannot open: Permission denied")
    srv = nobody_servers(root)
    status, body = ping_json(srv)
    assert status == 200 and body["models"] == ["pulsar"], body
    reason = body["failed_models"]["xray"]
    assert re.fullmatch(pattern, reason), f"{reason!r} should be {pattern!r}"
    assert f"model 'xray' failed to load: {reason}" in srv.log_text(), srv.describe()
    assert answers(srv, "pulsar", lib.features_csv(probe_rows), "text/csv") == \
        reference_answers["pulsar"]


@pytest.mark.parametrize("what", ["directory", "manifest-search"])
def test_unreadable_model_root_is_503_with_the_reason(nobody_servers, world_dir, forest_model,
                                                      what):
    root = world_dir / "model"
    shutil.copytree(forest_model, root)
    make_readable_tree(root)
    if what == "directory":
        root.chmod(0o000)
        expected = f"cannot read model directory {root}: Permission denied"
    else:  # listable but not searchable: the manifest cannot be looked at
        root.chmod(0o644)
        expected = f"cannot read {root}/manifest.json: Permission denied"
    srv = nobody_servers(root, wait="responding")
    status, body = ping_after_loading(srv)
    assert status == 503, body
    assert body["error"] == expected, body
    assert f"not ready: {body['error']}" in srv.log_text(), srv.describe()


# --------------------------------------------------------------------------------------------
# A full disk while `train` writes the model
# --------------------------------------------------------------------------------------------

@pytest.fixture
def small_tmpfs():
    """Mounts tmpfs file systems of a given size; unmounts them afterwards."""
    mounts: list[Path] = []

    def mount(size_bytes: int) -> Path:
        require_root()
        d = Path(tempfile.mkdtemp(prefix="mls-full-"))
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0755",
                            "tmpfs", str(d)], capture_output=True, text=True)
        if p.returncode != 0:
            d.rmdir()
            pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()}")
        mounts.append(d)
        return d

    yield mount
    for d in mounts:
        subprocess.run(["umount", str(d)], check=False)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def full_disk_data(small_rows):
    """Training data and the size of the weights file it gives (seeded: the same every run)."""
    return lib.training_csv(small_rows), {"n_estimators": "40", "seed": "5"}


@pytest.fixture(scope="module")
def full_disk_weights_size(tmp_path_factory, full_disk_data) -> int:
    csv, hp = full_disk_data
    tree = lib.make_sm_tree(tmp_path_factory.mktemp("full_disk_ref"), hp,
                            training_files={"train.csv": csv})
    lib.train_ok(tree, timeout=120)
    size = (tree.model_dir / "forest.bin").stat().st_size
    assert size > 64 * 1024, f"the reference forest is too small ({size} bytes) to fill a disk"
    return size


def leftovers(model_dir: Path) -> list[str]:
    return sorted(p.name for p in model_dir.iterdir())


@pytest.mark.parametrize("room", ["no-room-for-weights", "no-room-for-manifest"])
def test_full_disk_fails_cleanly_and_leaves_no_model(
        tmp_path, small_tmpfs, full_disk_data, full_disk_weights_size, server_factory, room):
    csv, hp = full_disk_data
    page = 4096
    weights_pages = -(-full_disk_weights_size // page)
    # tmpfs counts whole pages: room for half the weights, or for the weights and not one page
    # more (the manifest needs one).
    size = (weights_pages // 2) * page if room == "no-room-for-weights" else weights_pages * page
    model_dir = small_tmpfs(size)
    tree = lib.make_sm_tree(tmp_path / "sm", hp, training_files={"train.csv": csv})
    res = lib.run_train(tree, model_dir=model_dir, timeout=120)
    assert res.returncode == 1, "a full disk must fail the job\n" + res.describe()
    assert res.failure is not None, "no output/failure\n" + res.describe()
    name = "forest.bin" if room == "no-room-for-weights" else "manifest.json"
    assert re.search(re.escape(str(model_dir / name)) + r"\.tmp-\d+: cannot write: "
                     r"No space left on device", res.failure), res.describe()
    assert "training failed: " in res.stdout + res.stderr, res.describe()
    # Nothing that looks like a model, and no temporary file, is left.
    assert leftovers(model_dir) == [], res.describe()
    # A server given the directory afterwards has nothing to load.
    srv = server_factory.start(model_dir, wait="responding")
    status, body = ping_after_loading(srv)
    assert status == 503 and body["error"] == f"no model found in {model_dir}", body


def test_full_disk_does_not_corrupt_the_previous_model(tmp_path, small_tmpfs, full_disk_data,
                                                       full_disk_weights_size, small_model,
                                                       server_factory, probe_rows):
    """An earlier model in the directory: a failed write of a bigger one leaves it loadable."""
    csv, hp = full_disk_data
    old_size = sum(p.stat().st_size for p in small_model.iterdir())
    assert old_size < full_disk_weights_size // 2
    model_dir = small_tmpfs(-(-(old_size + full_disk_weights_size // 2) // 4096) * 4096 + 8192)
    for p in small_model.iterdir():
        shutil.copy2(p, model_dir / p.name)
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    tree = lib.make_sm_tree(tmp_path / "sm", hp, training_files={"train.csv": csv})
    res = lib.run_train(tree, model_dir=model_dir, timeout=120)
    assert res.returncode == 1 and "No space left on device" in (res.failure or ""), \
        res.describe()
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before, \
        "the failed run changed the model that was there"
    srv = server_factory.start(model_dir)
    assert len(lib.predictions_of(lib.invoke(None, srv, lib.features_csv(probe_rows[:5]),
                                             "text/csv"))) == 5


# --------------------------------------------------------------------------------------------
# SIGTERM under load: every request the server took is answered, then exit 0
# --------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    rid: str
    conn: int
    seq_on_conn: int       # 0: the first request on its connection
    sent_at: float         # when the whole request had been written
    status: int | None     # None: no response
    error: str = ""
    echoed_id: str = ""
    body: bytes = b""
    conn_close: bool = False


def load_client(port: int, cid: int, body: bytes, headers: dict[str, str], stop: threading.Event,
                out: list[Outcome], deadline: float) -> None:
    """Keeps one request in flight on a keep-alive connection until the server stops accepting
    (connection refused). Records every request it wrote and what came back."""
    sock = None
    f = None
    conn_no = 0
    seq = 0
    n = 0
    while not stop.is_set() and time.monotonic() < deadline:
        if sock is None:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            except OSError:
                return  # not accepting any more: nothing was sent
            sock.settimeout(30)
            f = sock.makefile("rb")
            conn_no += 1
            seq = 0
        rid = f"c{cid}-{n}"
        n += 1
        req = lib.raw_request("POST", "/invocations", body,
                              dict(headers, **{"X-Amzn-SageMaker-Inference-Id": rid}))
        rec = Outcome(rid, conn_no, seq, 0.0, None)
        seq += 1
        try:
            sock.sendall(req)
            rec.sent_at = time.monotonic()
            resp = lib.read_raw_response(f)
        except (OSError, ConnectionError, ValueError) as exc:
            rec.error = f"{type(exc).__name__}: {exc}"
            if rec.sent_at == 0.0:
                rec.sent_at = time.monotonic()
            out.append(rec)
            sock.close()
            sock = None
            continue
        rec.status = resp.status
        rec.echoed_id = resp.headers.get("x-amzn-sagemaker-inference-id", "")
        rec.body = resp.body
        rec.conn_close = resp.headers.get("connection", "").lower() == "close"
        out.append(rec)
        if rec.conn_close:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()


def sigterm_under_load(srv: lib.ServerProcess, body: bytes, headers: dict[str, str],
                       expected_body: bytes, clients: int, warm_seconds: float,
                       drain_limit: float) -> dict:
    stop = threading.Event()
    outs: list[list[Outcome]] = [[] for _ in range(clients)]
    deadline = time.monotonic() + warm_seconds + 60 + drain_limit + 30
    threads = [threading.Thread(target=load_client, daemon=True,
                                args=(srv.port, i, body, headers, stop, outs[i], deadline))
               for i in range(clients)]
    for t in threads:
        t.start()
    # Under load: at least warm_seconds, and until every client has had a few answers (slow,
    # sanitized builds take longer to get there).
    time.sleep(warm_seconds)
    warm_until = time.monotonic() + 60
    while sum(len(out) for out in outs) < clients * 3 and time.monotonic() < warm_until:
        time.sleep(0.1)
    sig_at = time.monotonic()
    srv.terminate(signal.SIGTERM)
    rc = srv.wait_exit(drain_limit)
    exited_after = time.monotonic() - sig_at
    stop.set()
    for t in threads:
        t.join(35)
    assert not any(t.is_alive() for t in threads), "a load client hung"
    assert rc == 0, f"exit code {rc} {exited_after:.1f} s after SIGTERM under load\n" + \
        srv.describe()

    records = [r for out in outs for r in out]
    answered = [r for r in records if r.status is not None]
    unanswered = [r for r in records if r.status is None]
    # Every answer is a 200 with the right predictions, for the request it answers.
    bad = [(r.rid, r.status, r.body[:200]) for r in answered
           if r.status != 200 or r.body != expected_body]
    assert not bad, f"{len(bad)} wrong answers, e.g. {bad[:3]}"
    mismatched = [(r.rid, r.echoed_id) for r in answered if r.echoed_id != r.rid]
    assert not mismatched, f"answers carry the wrong inference id: {mismatched[:5]}"
    # A request fully written before SIGTERM was accepted: it must be answered.
    lost = [(r.rid, r.error) for r in unanswered if r.sent_at < sig_at]
    assert not lost, f"{len(lost)} requests sent before SIGTERM got no answer: {lost[:5]}\n" + \
        srv.describe()
    # One written after SIGTERM may only be refused on a connection the server closed idle (it
    # read no byte of it): never a reset in the middle of an answer.
    late = [r for r in unanswered if r.sent_at >= sig_at]
    assert all("closed before a status line" in r.error or "reset" in r.error.lower()
               or "broken pipe" in r.error.lower() for r in late), [r.error for r in late]
    # Answered while draining (the server says Connection: close from the moment the drain
    # begins, which may be a little after the signal is sent).
    in_flight = [r for r in answered if r.conn_close]
    before = sum(1 for r in records if r.sent_at < sig_at)
    assert before >= clients * 3, f"only {before} requests before SIGTERM: no load"
    # Several requests were inside the server when the drain began (the clients share 2 cores
    # and the GIL with it, so not always all 8).
    assert len(in_flight) >= 3, \
        f"only {len(in_flight)} requests were in flight at SIGTERM: the drain was not exercised"
    return {"sent": len(records), "answered": len(answered), "sent_before": before,
            "in_flight": len(in_flight), "late_refused": len(late), "exit_s": exited_after}


def test_sigterm_under_load_forest_answers_every_accepted_request(
        server_factory, small_model, htru2):
    rows = htru2[:16000]
    body = lib.features_csv(rows).encode()
    srv = server_factory.start(small_model)
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
    expected = requests.post(srv.url("/invocations"), data=body, headers=headers, timeout=30)
    assert expected.status_code == 200 and expected.text.count("\n") == len(rows)
    stats = sigterm_under_load(srv, body, headers, expected.content, clients=8, warm_seconds=3.0,
                               drain_limit=25.0)
    assert stats["exit_s"] < 10, stats
    print("forest SIGTERM under load:", stats)


def test_sigterm_under_load_cnn_batched_answers_every_accepted_request(
        server_factory, cnn_model, npz_arrays):
    val = npz_arrays["val_images"]
    n = 256  # images per request: enough work that a request is in the server most of the time
    body = ch.npy_bytes((n, val.shape[1], val.shape[2]), b"".join(val.image(i) for i in range(n)))
    # Two requests' images per batch, and a request waits up to 20 ms in the batcher for company.
    srv = server_factory.start(cnn_model, extra_args=["--max-batch-size", str(2 * n),
                                                      "--max-batch-delay-us", "20000"],
                               timeout=20)
    headers = {"Content-Type": "application/x-npy", "Accept": "text/csv"}
    expected = requests.post(srv.url("/invocations"), data=body, headers=headers, timeout=30)
    assert expected.status_code == 200 and expected.text.count("\n") == n, expected.text[:300]
    stats = sigterm_under_load(srv, body, headers, expected.content, clients=8,
                               warm_seconds=3.0, drain_limit=25.0)
    assert stats["exit_s"] < 10, stats
    print("cnn SIGTERM under load:", stats)


# --------------------------------------------------------------------------------------------
# SIGTERM while a forest trains
# --------------------------------------------------------------------------------------------

def test_sigterm_while_a_forest_trains_writes_no_model(tmp_path, htru2):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "1000", "n_jobs": "1", "seed": "2"},
                            training_files={"train.csv": lib.training_csv(htru2)})
    args = ch.train_args(tree)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=lib.clean_env(), cwd=str(tree.root), errors="replace")
    lines = []
    signalled_at = None
    try:
        for line in proc.stdout:
            lines.append(line)
            if re.search(r"forest: \d+/1000 trees", line):  # the first progress line (10 %)
                proc.send_signal(signal.SIGTERM)
                signalled_at = time.monotonic()
                break
        rest, _ = proc.communicate(timeout=60)
        lines.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines)
    assert signalled_at is not None, "no progress line before training ended:\n" + out[-3000:]
    took = time.monotonic() - signalled_at
    assert proc.returncode == 1, f"exit {proc.returncode}\n{out[-3000:]}"
    assert took < 5, f"{took:.1f} s from SIGTERM to exit"
    failure = tree.failure_file.read_text()
    assert failure == "training stopped by a signal before it finished; no model was written\n", \
        failure
    assert leftovers(tree.model_dir) == [], "a stopped forest left files in the model dir"
    assert not re.search(r"forest: 1000/1000", out), "training ran to the end despite SIGTERM"


# --------------------------------------------------------------------------------------------
# Hardening: no shell-outs, no files outside the paths given
# --------------------------------------------------------------------------------------------

def test_the_binary_cannot_shell_out():
    """No system(), popen(), exec*(), fork() or posix_spawn() in what the executable imports."""
    if shutil.which("nm") is None:
        pytest.skip("nm (binutils) is not installed")
    p = subprocess.run(["nm", "-D", "--undefined-only", str(lib.MLS_BIN)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    symbols = {line.split()[-1].split("@")[0] for line in p.stdout.splitlines() if line.strip()}
    assert "pthread_create" in symbols or "malloc" in symbols, "nm output looks empty"
    forbidden = {"system", "popen", "execl", "execlp", "execle", "execv", "execve", "execvp",
                 "execvpe", "fexecve", "fork", "vfork", "posix_spawn", "posix_spawnp", "clone"}
    assert not symbols & forbidden, f"the binary imports {sorted(symbols & forbidden)}"


def owned_by_nobody(roots: list[Path], since: float) -> list[str]:
    found = []
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if st.st_uid == NOBODY and max(st.st_ctime, st.st_mtime) >= since:
                    found.append(p)
    return found


def test_serve_and_train_write_nothing_outside_their_directories(
        tmp_path, world_dir, small_rows, probe_rows):
    """As user 65534 (who can write only to world-writable places and what we hand over), with
    HOME and the working directory empty and writable: after a train and a serve, the only new
    files of that user are in the model and output directories."""
    require_root()
    if not mls_binary_is_reachable_by_nobody():
        pytest.skip(f"user {NOBODY} cannot run {lib.MLS_BIN}")
    tree = lib.make_sm_tree(world_dir / "ml", {"n_estimators": "5", "seed": "1"},
                            training_files={"train.csv": lib.training_csv(small_rows[:500])})
    make_readable_tree(world_dir / "ml")
    home, cwd = world_dir / "home", world_dir / "cwd"
    for d in (home, cwd, tree.model_dir, tree.output_dir, tree.checkpoint_dir):
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, NOBODY, NOBODY)
    env = lib.clean_env(HOME=str(home), TMPDIR=str(home / "no-such-tmp"))
    writable = [Path(p) for p in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")]
    since = time.time() - 1

    res = subprocess.run(as_nobody(ch.train_args(tree)), capture_output=True, text=True,
                         timeout=120, env=env, cwd=cwd)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (tree.model_dir / "manifest.json").is_file()

    port = lib.free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(as_nobody(lib.server_command(tree.model_dir, port)),
                                stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            r = requests.post(f"http://127.0.0.1:{port}/invocations",
                              data=lib.features_csv(probe_rows[:10]),
                              headers={"Content-Type": "text/csv"}, timeout=10)
            assert r.status_code == 200 and len(r.json()["predictions"]) == 10, r.text[:300]
            assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    assert list(home.iterdir()) == [] and list(cwd.iterdir()) == [], \
        f"files in HOME or the working directory: {list(home.iterdir()) + list(cwd.iterdir())}"
    allowed = (str(tree.model_dir), str(tree.output_dir), str(tree.checkpoint_dir))
    stray = [p for p in owned_by_nobody(writable + [world_dir], since)
             if not p.startswith(allowed) and p not in (str(home), str(cwd))]
    assert not stray, f"files written outside the model/output directories: {stray}"
    assert {p.name for p in tree.model_dir.iterdir()} == {"manifest.json", "forest.bin"}
    assert stat.S_IMODE(tree.model_dir.stat().st_mode) == 0o755
