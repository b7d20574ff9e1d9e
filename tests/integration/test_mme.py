"""The SageMaker multi-model endpoint API over real HTTP: load, list (paginated), describe, invoke,
unload, with the status codes SageMaker expects (404, 409, 507), models loaded from under the
multi-model root only, and loads and unloads racing invocations of other models."""

from __future__ import annotations

import concurrent.futures
import io
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

import mls_testlib as lib

NPZ = lib.DATA_DIR / "pneumoniamnist" / "pneumoniamnist.npz"


@pytest.fixture(scope="module")
def small_cnn(tmp_path_factory) -> Path:
    """A one-epoch CNN: these tests need a working image model, not a good one."""
    root = tmp_path_factory.mktemp("mme_cnn")
    tree = lib.make_sm_tree(root, {"model_type": "cnn", "epochs": "1", "seed": "2"},
                            training_files={"data.npz": NPZ.read_bytes()})
    res = lib.run_train(tree, timeout=600)
    assert res.returncode == 0, res.describe()
    return tree.model_dir


@pytest.fixture
def mme_root(tmp_path, small_model, small_cnn) -> Path:
    """/opt/ml/models as SageMaker lays it out: <root>/<name>/model."""
    root = tmp_path / "models"
    shutil.copytree(small_model, root / "pulsar" / "model")
    shutil.copytree(small_cnn, root / "xray" / "model")
    return root


def start_mme(server_factory, root: Path, *extra: str):
    return server_factory.start(root.parent / "no-model-dir", timeout=10,
                                extra_args=["--multi-model", "--multi-model-root", str(root),
                                            *extra])


def load(srv, name: str, url: Path | str) -> requests.Response:
    return requests.post(srv.url("/models"), json={"model_name": name, "url": str(url)}, timeout=30)


def invoke(srv, name: str, body, content_type: str, **headers) -> requests.Response:
    return requests.post(srv.url(f"/models/{name}/invoke"), data=body,
                         headers={"Content-Type": content_type, **headers}, timeout=30)


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def xray_png() -> bytes:
    with np.load(NPZ) as d:
        return png(d["val_images"][0])


def test_empty_mme_is_ready_and_lists_nothing(server_factory, mme_root):
    srv = start_mme(server_factory, mme_root)
    assert requests.get(srv.url("/ping"), timeout=5).status_code == 200
    listing = requests.get(srv.url("/models"), timeout=5)
    assert listing.status_code == 200
    assert listing.json() == {"models": []}
    res = requests.post(srv.url("/invocations"), data="1,2,3,4,5,6,7,8\n",
                        headers={"Content-Type": "text/csv"}, timeout=5)
    assert res.status_code == 404 and "no model is loaded" in res.json()["error"]


def test_load_describe_invoke_unload(server_factory, mme_root, probe_rows, xray_png):
    srv = start_mme(server_factory, mme_root)
    url = mme_root / "pulsar" / "model"
    res = load(srv, "pulsar", url)
    assert res.status_code == 200, res.text
    assert load(srv, "pulsar", url).status_code == 409
    described = requests.get(srv.url("/models/pulsar"), timeout=5)
    assert described.status_code == 200
    assert described.json() == {"modelName": "pulsar", "modelUrl": str(url)}

    body = lib.features_csv(probe_rows[:5])
    ok = invoke(srv, "pulsar", body, "text/csv",
                **{"X-Amzn-SageMaker-Target-Model": "sub/dir/pulsar.tar.gz"})
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["predictions"]) == 5
    # /invocations reaches the same model (the only one loaded).
    same = requests.post(srv.url("/invocations"), data=body, headers={"Content-Type": "text/csv"},
                         timeout=5)
    assert same.json() == ok.json()

    assert load(srv, "xray", mme_root / "xray" / "model").status_code == 200
    img = invoke(srv, "xray", xray_png, "image/png")
    assert img.status_code == 200, img.text
    assert img.json()["predictions"][0]["class"] in ("0", "1", "normal", "pneumonia")
    wrong = invoke(srv, "pulsar", xray_png, "image/png")
    assert wrong.status_code == 415

    names = sorted(m["modelName"] for m in requests.get(srv.url("/models"), timeout=5)
                   .json()["models"])
    assert names == ["pulsar", "xray"]
    assert requests.delete(srv.url("/models/pulsar"), timeout=5).status_code == 200
    gone = invoke(srv, "pulsar", body, "text/csv")
    assert gone.status_code == 404 and "pulsar" in gone.json()["error"]
    assert requests.get(srv.url("/models/pulsar"), timeout=5).status_code == 404
    assert invoke(srv, "xray", xray_png, "image/png").status_code == 200
    # Loading it again after the unload works.
    assert load(srv, "pulsar", url).status_code == 200
    assert invoke(srv, "pulsar", body, "text/csv").status_code == 200
    metrics = requests.get(srv.url("/metrics"), timeout=5).text
    assert 'route="/models/{name}/invoke"' in metrics


def test_unknown_names_are_404(server_factory, mme_root):
    srv = start_mme(server_factory, mme_root)
    assert invoke(srv, "zz", "1,2", "text/csv").status_code == 404
    assert requests.get(srv.url("/models/zz"), timeout=5).status_code == 404
    assert requests.delete(srv.url("/models/zz"), timeout=5).status_code == 404


@pytest.mark.parametrize("case", ["not-json", "no-url", "relative-url", "outside-root",
                                  "dot-dot", "missing-dir", "not-a-model"])
def test_bad_loads_say_why(server_factory, mme_root, tmp_path, case):
    srv = start_mme(server_factory, mme_root)
    (mme_root / "junk" / "model").mkdir(parents=True)
    (mme_root / "junk" / "model" / "manifest.json").write_text("{not json")
    outside = tmp_path / "elsewhere"
    shutil.copytree(mme_root / "pulsar" / "model", outside)
    body, status, words = {
        "not-json": ("{", 400, "model_name"),
        "no-url": ({"model_name": "a"}, 400, "url"),
        "relative-url": ({"model_name": "a", "url": "pulsar/model"}, 400, "absolute"),
        "outside-root": ({"model_name": "a", "url": str(outside)}, 400, "outside"),
        "dot-dot": ({"model_name": "a", "url": f"{mme_root}/../elsewhere"}, 400, "outside"),
        "missing-dir": ({"model_name": "a", "url": f"{mme_root}/nope/model"}, 404, "no model"),
        "not-a-model": ({"model_name": "a", "url": f"{mme_root}/junk/model"}, 400, "manifest"),
    }[case]
    if isinstance(body, str):
        res = requests.post(srv.url("/models"), data=body,
                            headers={"Content-Type": "application/json"}, timeout=5)
    else:
        res = requests.post(srv.url("/models"), json=body, timeout=5)
    assert res.status_code == status, res.text
    assert words in res.json()["error"], res.text
    assert requests.get(srv.url("/models/a"), timeout=5).status_code == 404
    assert requests.get(srv.url("/ping"), timeout=5).status_code == 200


def test_memory_budget_gives_507_and_leaves_no_state(server_factory, mme_root):
    srv = start_mme(server_factory, mme_root, "--model-memory-budget-mb", "1")
    big = mme_root / "big" / "model"
    shutil.copytree(mme_root / "pulsar" / "model", big)
    with open(big / "padding.bin", "wb") as f:  # counts against the budget like weights would
        f.write(b"\0" * (2 << 20))
    res = load(srv, "big", big)
    assert res.status_code == 507, res.text
    assert "budget" in res.json()["error"]
    assert requests.get(srv.url("/models/big"), timeout=5).status_code == 404
    assert load(srv, "pulsar", mme_root / "pulsar" / "model").status_code == 200


def test_listing_paginates_over_150_models(server_factory, mme_root):
    for i in range(150):
        shutil.copytree(mme_root / "pulsar" / "model", mme_root / f"m{i:03d}" / "model")
    srv = start_mme(server_factory, mme_root)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda i: load(srv, f"m{i:03d}", mme_root / f"m{i:03d}" / "model")
                              .status_code, range(150)))
    assert codes == [200] * 150
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"next_page_token": token} if token else {}
        page = requests.get(srv.url("/models"), params=params, timeout=5).json()
        assert len(page["models"]) <= 100
        seen += [m["modelName"] for m in page["models"]]
        pages += 1
        token = page.get("nextPageToken")
        if token is None:
            break
    assert pages == 2
    assert sorted(seen) == [f"m{i:03d}" for i in range(150)] and len(set(seen)) == 150
    bad = requests.get(srv.url("/models"), params={"next_page_token": "abc"}, timeout=5)
    assert bad.status_code == 400


def test_loads_and_unloads_race_invocations_of_another_model(server_factory, mme_root,
                                                              probe_rows):
    srv = start_mme(server_factory, mme_root)
    assert load(srv, "pulsar", mme_root / "pulsar" / "model").status_code == 200
    body = lib.features_csv(probe_rows[:3])
    stop = threading.Event()
    statuses: list[int] = []

    def hammer():
        while not stop.is_set():
            statuses.append(invoke(srv, "pulsar", body, "text/csv").status_code)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(15):
            assert load(srv, "xray", mme_root / "xray" / "model").status_code == 200
            assert requests.delete(srv.url("/models/xray"), timeout=10).status_code == 200
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert statuses and set(statuses) == {200}


def test_models_api_is_off_unless_asked(server_factory, small_model):
    srv = server_factory.start(small_model)
    res = requests.get(srv.url("/models"), timeout=5)
    assert res.status_code == 404 and "--multi-model" in res.json()["error"]
    res = requests.post(srv.url("/models/x/invoke"), data="1", timeout=5)
    assert res.status_code == 404
