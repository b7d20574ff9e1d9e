"""The image with the real Docker engine, driven through local_test's own scripts.

Builds container/Dockerfile (creating the Debian base images first when the engine has none),
then, for the default (FROM scratch) image as root, as a non-root user and with a read-only root
filesystem, as uid 65534 (nobody: no home, no passwd entry in the image), and for the `slim`
target (bookworm-slim) as root: trains the forest and
the CNN with local_test/train_local.sh into a temporary copy of local_test/test_dir, serves both
with local_test/serve_local.sh, checks /ping and the predictions for local_test/payloads through
local_test/predict.sh, and stops the container under load: exit code 0, inside the grace period,
and every request the server answered reached its client.

Environment: MLS_IMAGE (default mls:test), MLS_SKIP_BUILD=1 to test an image already built,
MLS_BUILD_NICE (default 10) for the compile's priority inside the build.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
LOCAL_TEST = REPO / "local_test"
PAYLOADS = LOCAL_TEST / "payloads"
IMAGE = os.environ.get("MLS_IMAGE", "mls:test")
SLIM_IMAGE = IMAGE + "-slim"  # docker build --target slim
GRACE_SECONDS = 30  # SageMaker's wait between SIGTERM and SIGKILL

# Labels of the ready payloads: the pulsar files list theirs in expected_labels.txt; the X-ray
# PNGs are validation images 135 (normal) and 0 (pneumonia); xray_batch.npy is validation
# images 0-7, all pneumonia (payloads/ATTRIBUTION.md).
PULSAR_LABELS = [int(x) for x in (PAYLOADS / "expected_labels.txt").read_text().split()]

# name: (image, extra `docker run` arguments handed to the scripts as DOCKER_ARGS)
VARIANTS = {
    "root": (IMAGE, ""),
    "nonroot": (IMAGE, "--user 1000:1000"),
    "readonly": (IMAGE, "--read-only --tmpfs /tmp"),
    # The unprivileged user of Kubernetes' runAsUser examples; the mounted /opt/ml is its own.
    "nobody": (IMAGE, "--user 65534"),
    "slim": (SLIM_IMAGE, ""),
}


def run(cmd, timeout, env=None, check=True):
    """Runs a command, returning its output; on failure the output is in the assertion."""
    proc = subprocess.run(cmd, cwd=REPO, env=env, timeout=timeout, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check:
        assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout[-4000:]}"
    return proc


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def image():
    assert shutil.which("docker"), "docker is not installed (bash .ci/install-container-deps.sh)"
    run(["docker", "info"], timeout=60)
    if os.environ.get("MLS_SKIP_BUILD") != "1":
        run(["bash", ".ci/make-base-images.sh"], timeout=900)
        nice = f"NICE={os.environ.get('MLS_BUILD_NICE', '10')}"
        run(["docker", "build", "-f", "container/Dockerfile", "-t", IMAGE,
             "--build-arg", nice, "."], timeout=3600)
        # Every stage is in the layer cache by now: this only tags the slim one.
        run(["docker", "build", "-f", "container/Dockerfile", "-t", SLIM_IMAGE,
             "--target", "slim", "--build-arg", nice, "."], timeout=3600)
    inspect = json.loads(run(["docker", "image", "inspect", IMAGE], timeout=60).stdout)[0]
    return inspect


def test_image_metadata(image):
    config = image["Config"]
    assert config["Entrypoint"] == ["/usr/local/bin/mls"]  # exec form, no init wrapper
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.multi-models"] == "true"
    assert config["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/mls", "healthcheck"]
    # `serve` and `train` on PATH, as SageMaker's scikit-learn example expects.
    for img in (IMAGE, SLIM_IMAGE):
        for name, flag in (("serve", "--port"), ("train", "--input-dir")):
            out = run(["docker", "run", "--rm", "--entrypoint", name, img, "--help"], timeout=60)
            assert flag in out.stdout
    # No argument means serve; an unknown one is a usage error.
    bad = run(["docker", "run", "--rm", IMAGE, "frobnicate"], timeout=60, check=False)
    assert bad.returncode != 0


def test_make_base_images_is_quick_when_present(image):
    start = time.monotonic()
    out = run(["bash", ".ci/make-base-images.sh"], timeout=60)
    assert "exist" in out.stdout
    assert time.monotonic() - start < 5


def copy_test_dir(dest, variant):
    """A fresh copy of local_test/test_dir (inputs only), writable by the container's user."""
    shutil.copytree(LOCAL_TEST / "test_dir", dest,
                    ignore=shutil.ignore_patterns("model", "output", "checkpoints"))
    user = re.search(r"--user (\d+)(?::(\d+))?", VARIANTS[variant][1])
    if user:
        # What a user does for `--user`: the mounted /opt/ml belongs to that uid.
        for sub in ("model/pulsar", "model/xray", "output", "checkpoints"):
            (dest / sub).mkdir(parents=True, exist_ok=True)
        owner = f"{user.group(1)}:{user.group(2) or user.group(1)}"
        subprocess.run(["chown", "-R", owner, str(dest)], check=True)
    return dest


def script_env(test_dir, variant, **extra):
    env = dict(os.environ, TEST_DIR=str(test_dir), DOCKER_ARGS=VARIANTS[variant][1])
    env.update({k: str(v) for k, v in extra.items()})
    return env


def predict(port, payload, content_type, accept="application/json"):
    out = run([str(LOCAL_TEST / "predict.sh"), str(PAYLOADS / payload), content_type, accept],
              timeout=60, env=dict(os.environ, PORT=str(port)))
    return out.stdout


def labels_of(json_text):
    return [p["label"] for p in json.loads(json_text)["predictions"]]


def wait_ready(port, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve_local.sh exited {proc.returncode}"
        try:
            r = requests.get(f"http://127.0.0.1:{port}/ping", timeout=2)
            if r.status_code == 200:
                return r.json()
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"/ping not 200 within {timeout} s")


def big_csv(rows):
    lines = (PAYLOADS / "pulsar.csv").read_text().strip().splitlines()
    labels = PULSAR_LABELS * (rows // len(lines))
    return "\n".join(lines * (rows // len(lines))) + "\n", labels


def load_and_stop(port, name):
    """Keeps 4 clients busy with ~4 ms forest requests, then `docker stop`s the container.

    Each request carries its own X-Amzn-SageMaker-Inference-Id, which `--log-requests` logs when
    the server answers it: so "no request lost" is checked exactly - every id the server
    answered reached its client as a complete, correct 200. A request the server never read
    (refused or reset once the listener closed) is no loss: its client knows it failed.
    """
    body, labels = big_csv(2000)
    received, failed = {}, {}
    done = threading.Event()
    lock = threading.Lock()

    def client(cid):
        session = requests.Session()
        n = 0
        while not done.is_set():
            rid = f"c{cid}-{n}"
            n += 1
            try:
                r = session.post(f"http://127.0.0.1:{port}/invocations", data=body, timeout=20,
                                 headers={"Content-Type": "text/csv", "Accept": "text/csv",
                                          "X-Amzn-SageMaker-Inference-Id": rid})
                got = [int(float(line.split(",")[0])) for line in r.text.splitlines()]
                with lock:
                    received[rid] = (r.status_code, got == labels, time.monotonic())
            except (requests.ConnectionError, requests.Timeout) as e:
                with lock:
                    failed[rid] = (time.monotonic(), repr(e))
                session = requests.Session()
                time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop_started = time.monotonic()
    run(["docker", "stop", "-t", str(GRACE_SECONDS), name], timeout=GRACE_SECONDS + 30)
    stop_seconds = time.monotonic() - stop_started
    time.sleep(0.3)  # let the clients see the closed port
    done.set()
    for t in threads:
        t.join(timeout=30)
    return received, failed, stop_started, stop_seconds


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_train_serve_predict_stop(image, tmp_path, variant):
    test_dir = copy_test_dir(tmp_path / "test_dir", variant)
    image_name = VARIANTS[variant][0]

    # Train both models with the user's own script; the artifacts land on the host.
    for kind, name in (("forest", "pulsar"), ("cnn", "xray")):
        out = run([str(LOCAL_TEST / "train_local.sh"), image_name, kind], timeout=900,
                  env=script_env(test_dir, variant))
        assert re.search(r"validation:accuracy=0\.9", out.stdout), out.stdout[-2000:]
        manifest = json.loads((test_dir / "model" / name / "manifest.json").read_text())
        assert manifest["model_type"] == {"pulsar": "forest", "xray": "cnn"}[name]
        assert manifest["name"] == name

    # Serve both side by side, with the user's script, on a free port.
    port = free_port()
    name = f"mls-test-{variant}-{os.getpid()}"
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(LOCAL_TEST / "serve_local.sh"), image_name, "--log-requests"],
                                env=script_env(test_dir, variant, PORT=port, NAME=name),
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        ping = wait_ready(port, proc)
        assert sorted(ping["models"]) == ["pulsar", "xray"], ping

        # The ready payloads, through predict.sh; content type alone picks the model.
        assert labels_of(predict(port, "pulsar.csv", "text/csv")) == PULSAR_LABELS
        assert labels_of(predict(port, "pulsar.json", "application/json")) == PULSAR_LABELS
        jl = predict(port, "pulsar.jsonl", "application/jsonlines", "application/jsonlines")
        assert [json.loads(line)["label"] for line in jl.splitlines()] == PULSAR_LABELS
        csv = predict(port, "pulsar.csv", "text/csv", "text/csv")
        assert [int(float(line.split(",")[0])) for line in csv.splitlines()] == PULSAR_LABELS
        assert labels_of(predict(port, "xray_normal.png", "image/png")) == [0]
        assert labels_of(predict(port, "xray_pneumonia.png", "image/png")) == [1]
        assert labels_of(predict(port, "xray_batch.npy", "application/x-npy")) == [1] * 8

        if variant in ("root", "slim"):
            # The HEALTHCHECK (`mls healthcheck`: no shell or curl in the image) turns healthy.
            deadline = time.monotonic() + 40
            status = ""
            while time.monotonic() < deadline and status != "healthy":
                status = run(["docker", "inspect", "-f", "{{.State.Health.Status}}", name],
                             timeout=30).stdout.strip()
                time.sleep(0.5)
            assert status == "healthy"

        received, failed, stop_started, stop_seconds = load_and_stop(port, name)
        code = proc.wait(timeout=GRACE_SECONDS + 30)
    finally:
        if proc.poll() is None:
            subprocess.run(["docker", "kill", name], check=False, capture_output=True)
            proc.wait(timeout=30)
    log = log_path.read_text()
    during = sum(1 for v in received.values() if v[2] > stop_started)
    print(f"{variant}: {len(received)} answered ({during} after `docker stop` began), "
          f"{len(failed)} refused after SIGTERM, docker stop {stop_seconds:.2f} s")

    assert code == 0, f"serve exited {code}:\n{log[-3000:]}"
    assert stop_seconds < 10, f"docker stop took {stop_seconds:.1f} s"
    assert received, "no request got through before the stop"
    bad = {k: v for k, v in received.items() if v[0] != 200 or not v[1]}
    assert not bad, f"wrong or failed answers: {list(bad.items())[:5]}"
    early = {k: v for k, v in failed.items() if v[0] < stop_started}
    assert not early, f"requests failed before the stop: {list(early.items())[:5]}"
    answered = set(re.findall(r"inference_id=(c\d+-\d+)", log))
    lost = answered - set(received)
    assert not lost, f"answered by the server but not received: {sorted(lost)[:10]}"
    assert answered >= set(received)
