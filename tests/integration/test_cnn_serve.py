"""The CNN end to end over real HTTP: `mls train` on the shared PneumoniaMNIST arrays, then `serve`
with the validation images sent as PNG, JPEG, one N x H x W .npy and JSON; a model trained from
class folders of PNG files; a large RGB JPEG; both models in one process with every routing
rule; bad images; dynamic batching under concurrent load."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

import mls_testlib as lib
from bad_input_cases import jpeg_bytes, npy_bytes, png_bytes

NPZ = lib.DATA_DIR / "pneumoniamnist" / "pneumoniamnist.npz"
CLASS_NAMES = ["normal", "pneumonia"]


# --------------------------------------------------------------------------------------------
# Data and encoders
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    if not NPZ.is_file():
        pytest.fail(f"PneumoniaMNIST not found at {NPZ} (set MLS_DATA_DIR)", pytrace=False)
    with np.load(NPZ) as d:
        return {k: d[k] for k in d.files}


def train_cnn(root: Path, hyperparameters: dict[str, str], training: dict[str, bytes] | None,
              validation: dict[str, bytes] | None = None, timeout: float = 1200) -> lib.SmTree:
    tree = lib.make_sm_tree(root, hyperparameters, training_files=training,
                            validation_files=validation)
    res = lib.run_train(tree, timeout=timeout)
    assert res.returncode == 0, "CNN training failed\n" + res.describe()
    assert (tree.model_dir / "manifest.json").is_file(), res.describe()
    assert (tree.model_dir / "cnn.bin").is_file(), res.describe()
    return tree


def write_class_folders(channel: Path, images: np.ndarray, labels: np.ndarray) -> None:
    for name in ("NORMAL", "PNEUMONIA"):
        (channel / name).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels.reshape(-1))):
        folder = "PNEUMONIA" if int(label) == 1 else "NORMAL"
        (channel / folder / f"img{i:05d}.png").write_bytes(png_bytes(image))


# --------------------------------------------------------------------------------------------
# Models and servers (trained once per module)
# --------------------------------------------------------------------------------------------

HYPERPARAMETERS = {"model_type": "cnn", "model_name": "xray", "class_names": "normal,pneumonia",
                   "seed": "7"}


@pytest.fixture(scope="module")
def xray_tree(tmp_path_factory, arrays) -> lib.SmTree:
    """Default hyperparameters on the shared arrays (val_* is the validation set)."""
    return train_cnn(tmp_path_factory.mktemp("xray"), HYPERPARAMETERS,
                     {"pneumoniamnist.npz": NPZ.read_bytes()})


@pytest.fixture(scope="module")
def xray_server(module_server_factory, xray_tree):
    return module_server_factory.start(xray_tree.model_dir, timeout=20)


@pytest.fixture(scope="module")
def pulsar_model(tmp_path_factory, htru2) -> Path:
    root = tmp_path_factory.mktemp("pulsar")
    tree = lib.make_sm_tree(root, {"n_estimators": "10", "seed": "1", "model_name": "pulsar"},
                            training_files={"train.csv": lib.training_csv(htru2[:3000])})
    lib.train_ok(tree, timeout=120)
    return tree.model_dir


@pytest.fixture(scope="module")
def both_server(module_server_factory, tmp_path_factory, xray_tree, pulsar_model):
    root = tmp_path_factory.mktemp("both")
    shutil.copytree(pulsar_model, root / "pulsar")
    shutil.copytree(xray_tree.model_dir, root / "xray")
    return module_server_factory.start(root, timeout=20)


def post(server, body: bytes | str, content_type: str | None, accept: str | None = None,
         headers: dict[str, str] | None = None, timeout: float = 60) -> requests.Response:
    h = dict(headers or {})
    if content_type is not None:
        h["Content-Type"] = content_type
    if accept is not None:
        h["Accept"] = accept
    return requests.post(server.url("/invocations"), data=body, headers=h, timeout=timeout)


def predictions(res: requests.Response) -> list[dict]:
    assert res.status_code == 200, f"{res.status_code}: {res.text[:500]}"
    return res.json()["predictions"]


def probs_of(preds: list[dict]) -> np.ndarray:
    return np.array([p["probabilities"][1] for p in preds])


def labels_of(preds: list[dict]) -> list[int]:
    return [int(p["label"]) for p in preds]


def assert_same_answers(got: list[dict], expected: list[dict], tolerance: float = 0.0) -> None:
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g["label"] == e["label"] and g["class"] == e["class"], (i, g, e)
        diff = max(abs(a - b) for a, b in zip(g["probabilities"], e["probabilities"]))
        assert diff <= tolerance, (i, g, e)


def one_each(server, images, encode, content_type) -> list[dict]:
    """One request per image, eight at a time."""
    def send(image):
        preds = predictions(post(server, encode(image), content_type))
        assert len(preds) == 1
        return preds[0]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(send, images))


# --------------------------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------------------------

def test_training_wrote_an_image_manifest(xray_tree):
    m = json.loads((xray_tree.model_dir / "manifest.json").read_text())
    assert m["model_type"] == "cnn"
    assert m["input"]["kind"] == "image"
    assert m["input"]["image"]["height"] == 28 and m["input"]["image"]["width"] == 28
    assert m["input"]["image"]["std"] > 0
    assert m["classes"]["names"] == CLASS_NAMES


def test_every_image_form_gives_the_same_labels_and_the_scores_hold(xray_server, arrays):
    val, truth = arrays["val_images"], arrays["val_labels"].reshape(-1).astype(int).tolist()
    as_npy = predictions(post(xray_server, npy_bytes(val), "application/x-npy"))
    as_png = one_each(xray_server, val, png_bytes, "image/png")
    as_sniffed = one_each(xray_server, val[:20], png_bytes, "application/x-image")
    as_json = predictions(post(xray_server, json.dumps({"instances": val.tolist()}),
                               "application/json"))
    as_jpeg = one_each(xray_server, val, jpeg_bytes, "image/jpeg")
    assert len(as_npy) == len(as_png) == len(as_json) == len(as_jpeg) == len(val)

    # Lossless forms reach the model as the same floats, and the model runs every image through
    # the same calls whatever batch it shares, so the answers are bit-identical.
    assert_same_answers(as_png, as_npy)
    assert_same_answers(as_json, as_npy)
    assert_same_answers(as_sniffed, as_npy[:20])
    # JPEG (quality 95) moves pixels a little: labels agree except where the model is unsure.
    p_npy, p_jpeg = probs_of(as_npy), probs_of(as_jpeg)
    assert np.max(np.abs(p_npy - p_jpeg)) < 0.1, np.max(np.abs(p_npy - p_jpeg))
    confident = np.abs(p_npy - 0.5) > 0.1
    assert np.array_equal(np.array(labels_of(as_jpeg))[confident],
                          np.array(labels_of(as_npy))[confident])

    for p in as_npy:
        assert p["class"] == CLASS_NAMES[p["label"]]
        assert abs(sum(p["probabilities"]) - 1) < 1e-5
    auc = lib.auc(truth, p_npy.tolist())
    accuracy = float(np.mean(np.array(labels_of(as_npy)) == np.array(truth)))
    print(f"CNN validation over HTTP: AUC {auc:.4f}, accuracy {accuracy:.4f}")
    assert auc >= 0.99, f"validation AUC {auc:.4f} < 0.99"
    assert accuracy >= 0.95, f"validation accuracy {accuracy:.4f} < 0.95"


def test_large_rgb_jpeg_scores_like_the_original(xray_server, arrays):
    originals = arrays["val_images"][:12]
    small = predictions(post(xray_server, npy_bytes(originals), "application/x-npy"))
    for image, expected in zip(originals, small):
        big = Image.fromarray(image).convert("RGB").resize((1024, 1024), Image.BICUBIC)
        body = jpeg_bytes(big)
        assert len(body) > 8 * 1024  # large enough to go through the inference pool
        [got] = predictions(post(xray_server, body, "image/jpeg"))
        assert abs(got["probabilities"][1] - expected["probabilities"][1]) < 0.15, (got, expected)
        if abs(expected["probabilities"][1] - 0.5) > 0.15:
            assert got["label"] == expected["label"]


def test_class_folders_of_png_train_and_serve(tmp_path, arrays, server_factory):
    root = tmp_path / "folders"
    training = root / "input" / "data" / "training"
    validation = root / "input" / "data" / "validation"
    write_class_folders(training, arrays["train_images"], arrays["train_labels"])
    write_class_folders(validation, arrays["val_images"], arrays["val_labels"])
    tree = lib.make_sm_tree(root, {"seed": "3", "model_name": "xray"})
    (tree.config_dir / "inputdataconfig.json").write_text(json.dumps(
        {"training": {"ContentType": "image/png"}, "validation": {"ContentType": "image/png"}}))
    res = lib.run_train(tree, timeout=1200)
    assert res.returncode == 0, res.describe()
    manifest = json.loads((tree.model_dir / "manifest.json").read_text())
    assert manifest["model_type"] == "cnn"  # inferred from the data
    assert manifest["classes"]["names"] == ["NORMAL", "PNEUMONIA"]

    srv = server_factory.start(tree.model_dir, timeout=20)
    val, truth = arrays["val_images"], arrays["val_labels"].reshape(-1).astype(int).tolist()
    preds = one_each(srv, val, png_bytes, "image/png")
    auc = lib.auc(truth, probs_of(preds).tolist())
    accuracy = float(np.mean(np.array(labels_of(preds)) == np.array(truth)))
    print(f"CNN from class folders, over HTTP: AUC {auc:.4f}, accuracy {accuracy:.4f}")
    assert auc >= 0.99 and accuracy >= 0.95, (auc, accuracy)
    assert {p["class"] for p in preds} <= {"NORMAL", "PNEUMONIA"}


# --------------------------------------------------------------------------------------------
# Output forms
# --------------------------------------------------------------------------------------------

def test_csv_and_jsonlines_answer_one_line_per_image_in_order(xray_server, arrays):
    batch = arrays["val_images"][:7]
    expected = predictions(post(xray_server, npy_bytes(batch), "application/x-npy"))
    csv = post(xray_server, npy_bytes(batch), "application/x-npy", accept="text/csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert len(lines) == 7
    assert [int(line.split(",")[0]) for line in lines] == labels_of(expected)
    jl = post(xray_server, npy_bytes(batch), "application/x-npy", accept="application/jsonlines")
    assert jl.status_code == 200
    assert [json.loads(line) for line in jl.text.splitlines()] == expected


def test_float32_npy_and_single_hxw_array(xray_server, arrays):
    image = arrays["val_images"][3]
    [as_u8] = predictions(post(xray_server, npy_bytes(image), "application/x-npy"))
    # float32 in [0, 1] is the same image (p / 255 exactly is what uint8 becomes).
    [as_f32] = predictions(post(xray_server, npy_bytes((image / np.float32(255)).astype(np.float32)),
                                "application/x-npy"))
    assert as_f32["label"] == as_u8["label"]
    assert abs(as_f32["probabilities"][1] - as_u8["probabilities"][1]) < 1e-5
    as_bare_json = predictions(post(xray_server, json.dumps(image.tolist()), "application/json"))
    assert_same_answers(as_bare_json, [as_u8])


# --------------------------------------------------------------------------------------------
# Bad images: a 400 with a reason, and the server goes on serving
# --------------------------------------------------------------------------------------------

def png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\0" * 64)
    chunk = b"IDAT" + idat
    body += struct.pack(">I", len(idat)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return b"\x89PNG\r\n\x1a\n" + body


def lying_npy(image: np.ndarray) -> bytes:
    good = npy_bytes(image[None, ...].repeat(4, axis=0))
    return good.replace(b"(4, 28, 28)", b"(9, 28, 28)", 1)


@pytest.mark.parametrize("case", ["truncated-png", "huge-png-header", "random-jpeg",
                                  "lying-npy", "empty-png", "json-out-of-range", "ragged-json"])
def test_bad_images_are_400_with_a_reason(xray_server, arrays, case):
    image = arrays["val_images"][0]
    good_png = png_bytes(image)
    body, ctype, reason = {
        "truncated-png": (good_png[: len(good_png) // 2], "image/png", "PNG"),
        "huge-png-header": (png_header_only(100_000, 100_000), "image/png", "limit"),
        "random-jpeg": (os.urandom(4096), "image/jpeg", "not a PNG or JPEG"),
        "lying-npy": (lying_npy(image), "application/x-npy", "npy"),
        "empty-png": (b"", "image/png", "empty"),
        "json-out-of-range": (json.dumps({"instances": [[[0, 300], [1, 2]]]}), "application/json",
                              "0..255"),
        "ragged-json": (json.dumps({"instances": [[[0, 1], [2]]]}), "application/json", "row 1"),
    }[case]
    res = post(xray_server, body, ctype)
    assert res.status_code == 400, f"{case}: {res.status_code} {res.text[:300]}"
    assert res.headers["Content-Type"].startswith("application/json")
    message = res.json()["error"]
    assert reason.lower() in message.lower(), f"{case}: {message}"
    # ... and the server goes on serving.
    assert requests.get(xray_server.url("/ping"), timeout=5).status_code == 200
    assert len(predictions(post(xray_server, good_png, "image/png"))) == 1


def test_decompression_bomb_is_refused_before_decoding(xray_server):
    # A real, valid 20000 x 20000 gray PNG (400 megapixels) compresses to a few hundred KiB.
    raw = zlib.compress(b"".join(b"\0" + b"\0" * 20000 for _ in range(20000)), 9)
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    assert len(body) < 6 * 1024 * 1024
    t0 = time.monotonic()
    res = post(xray_server, body, "image/png")
    assert res.status_code == 400, res.text
    assert "limit" in res.json()["error"]
    assert time.monotonic() - t0 < 5


# --------------------------------------------------------------------------------------------
# Both models in one process: every routing rule
# --------------------------------------------------------------------------------------------

def test_both_models_load_and_ping_lists_them(both_server):
    ping = requests.get(both_server.url("/ping"), timeout=5)
    assert ping.status_code == 200
    assert sorted(ping.json()["models"]) == ["pulsar", "xray"]


def test_routing_by_content_type(both_server, arrays, htru2):
    image = png_bytes(arrays["val_images"][0])
    [img] = predictions(post(both_server, image, "image/png"))
    assert img["class"] in CLASS_NAMES
    [row] = predictions(post(both_server, htru2[0].csv_features() + "\n", "text/csv"))
    assert row["class"] not in CLASS_NAMES
    # application/json is tabular unless a model is named.
    [row_json] = predictions(post(both_server, "[" + htru2[0].json_features() + "]",
                                  "application/json"))
    assert row_json == row


@pytest.mark.parametrize("how", ["custom-attributes", "custom-attributes-semicolon",
                                 "target-model"])
def test_routing_by_name(both_server, arrays, htru2, how):
    image = arrays["val_images"][1]
    headers = {
        "custom-attributes": {"X-Amzn-SageMaker-Custom-Attributes": "trace=1,model=xray"},
        "custom-attributes-semicolon": {"X-Amzn-SageMaker-Custom-Attributes": "model=xray;a=b"},
        "target-model": {"X-Amzn-SageMaker-Target-Model": "xray"},
    }[how]
    by_type = predictions(post(both_server, png_bytes(image), "image/png"))
    named = predictions(post(both_server, json.dumps({"instances": [image.tolist()]}),
                             "application/json", headers=headers))
    assert_same_answers(named, by_type)
    pulsar_headers = {k: v.replace("xray", "pulsar") for k, v in headers.items()}
    [row] = predictions(post(both_server, htru2[0].csv_features(), "text/csv",
                             headers=pulsar_headers))
    assert row["class"] not in CLASS_NAMES


def test_wrong_pairings_say_why(both_server, arrays, htru2):
    image = png_bytes(arrays["val_images"][0])
    to_forest = post(both_server, image, "image/png",
                     headers={"X-Amzn-SageMaker-Custom-Attributes": "model=pulsar"})
    assert to_forest.status_code == 415, to_forest.text
    assert "tabular" in to_forest.json()["error"] and "image/png" in to_forest.json()["error"]
    to_cnn = post(both_server, htru2[0].csv_features(), "text/csv",
                  headers={"X-Amzn-SageMaker-Target-Model": "xray"})
    assert to_cnn.status_code == 415, to_cnn.text
    assert "images" in to_cnn.json()["error"]
    rows_as_images = post(both_server, "[" + htru2[0].json_features() + "]", "application/json",
                          headers={"X-Amzn-SageMaker-Custom-Attributes": "model=xray"})
    assert rows_as_images.status_code == 400, rows_as_images.text
    unknown = post(both_server, image, "image/png",
                   headers={"X-Amzn-SageMaker-Custom-Attributes": "model=nope"})
    assert unknown.status_code == 404
    assert "pulsar" in unknown.json()["error"] and "xray" in unknown.json()["error"]
    odd = post(both_server, b"GIF89a....", "image/gif")
    assert odd.status_code == 415, odd.text


# --------------------------------------------------------------------------------------------
# Dynamic batching
# --------------------------------------------------------------------------------------------

def batch_histogram(server) -> tuple[float, float]:
    """(batches, images) so far from mls_inference_batch_images for model xray."""
    text = requests.get(server.url("/metrics"), timeout=5).text
    count = total = 0.0
    for line in text.splitlines():
        if line.startswith("mls_inference_batch_images_count") and 'model="xray"' in line:
            count = float(line.split()[-1])
        if line.startswith("mls_inference_batch_images_sum") and 'model="xray"' in line:
            total = float(line.split()[-1])
    return count, total


def test_concurrent_requests_are_batched_and_answered_correctly(server_factory, xray_tree, arrays):
    srv = server_factory.start(xray_tree.model_dir, timeout=20,
                               extra_args=["--workers", "1", "--max-batch-size", "64"])
    images = arrays["val_images"][:200]
    expected = predictions(post(srv, npy_bytes(images), "application/x-npy"))
    batches0, images0 = batch_histogram(srv)
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        got = list(pool.map(
            lambda im: predictions(post(srv, png_bytes(im), "image/png"))[0], images))
    assert_same_answers(got, expected)
    batches1, images1 = batch_histogram(srv)
    assert images1 - images0 == len(images)
    # 32 clients against one compute thread: requests that arrive together share batches.
    assert batches1 - batches0 < len(images), (batches1 - batches0, len(images))


def test_batching_off_runs_one_request_per_batch(server_factory, xray_tree, arrays):
    srv = server_factory.start(xray_tree.model_dir, timeout=20,
                               extra_args=["--workers", "1", "--max-batch-size", "1"])
    images = arrays["val_images"][:40]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda im: predictions(post(srv, png_bytes(im), "image/png")), images))
    batches, total = batch_histogram(srv)
    assert batches == total == 40


def test_ping_stays_instant_while_the_compute_pool_is_busy(server_factory, xray_tree, arrays):
    srv = server_factory.start(xray_tree.model_dir, timeout=20, extra_args=["--workers", "1"])
    heavy = npy_bytes(np.repeat(arrays["val_images"], 8, axis=0))  # 2,160 images a request
    stop = threading.Event()
    statuses: list[int] = []

    def load():
        while not stop.is_set():
            statuses.append(post(srv, heavy, "application/x-npy").status_code)

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.5)
        worst = 0.0
        for _ in range(20):
            t0 = time.monotonic()
            assert requests.get(srv.url("/ping"), timeout=5).status_code == 200
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.05)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=120)
    assert statuses and all(s in (200, 503) for s in statuses), statuses
    assert worst < 0.5, f"/ping took {worst:.3f} s under load"
