"""The MetricDefinitions' regexes against what `mls train` prints: sample lines from the README and the
CNN's printf format, and — when the build's executable and the reference data are there (ctest sets
MLS_BIN and MLS_DATA_DIR) — the stdout of real training runs. SageMaker applies each regex to every log
line and keeps group 1 as the value, which is what these tests do."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, SAGEMAKER_DIR


def definitions(kind):
    out = subprocess.run(["bash", "-c", f". '{SAGEMAKER_DIR}/metrics.sh'; {kind}_metric_definitions"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return {d["Name"]: d["Regex"] for d in json.loads(out.stdout)}


def scrape(regexes, lines):
    """name -> every value SageMaker would record from these lines."""
    found = {}
    for name, regex in regexes.items():
        pattern = re.compile(regex)
        for line in lines:
            for m in pattern.finditer(line):
                found.setdefault(name, []).append(float(m.group(1)))
    return found


FOREST_LINES = [  # the README's example, one metric per line as train prints them
    "train:accuracy=1.000000", "train:auc=1.000000", "train:f1=1.000000", "train:log_loss=0.014175",
    "train:seconds=1.493", "validation:accuracy=0.979190", "validation:auc=0.965064",
    "validation:f1=0.879936", "validation:log_loss=0.205690",
]  # fmt: skip
CNN_EPOCH = "epoch=3/15 train:loss=0.2113 validation:loss=0.1624 validation:accuracy=0.9370 validation:auc=0.9861 seconds=0.6"
# server/train/cnn_job.cc's format: "epoch=%zu/%zu train:loss=%.6f validation:loss=%.6f ... seconds=%.2f[ best]"
CNN_EPOCH_PRINTF = "epoch=%d/%d train:loss=%.6f validation:loss=%.6f validation:accuracy=%.6f validation:auc=%.6f seconds=%.2f best" % (
    12, 15, 0.0731, 0.1012, 0.97, 0.9986, 0.53)  # fmt: skip


def test_forest_regexes_on_the_readme_lines():
    found = scrape(definitions("forest"), FOREST_LINES)
    assert found == {
        "validation:accuracy": [0.979190], "validation:auc": [0.965064], "validation:f1": [0.879936],
        "validation:log_loss": [0.205690], "train:accuracy": [1.0], "train:seconds": [1.493],
    }  # fmt: skip


def test_cnn_regexes_on_epoch_lines():
    found = scrape(definitions("cnn"), [CNN_EPOCH, CNN_EPOCH_PRINTF])
    assert found["train:loss"] == [0.2113, 0.0731]
    assert found["validation:loss"] == [0.1624, 0.1012]
    assert found["validation:accuracy"] == [0.9370, 0.97]
    assert found["validation:auc"] == [0.9861, 0.9986]
    # validation:loss must not pick up validation:log_loss, nor train:loss train:log_loss.
    assert "validation:loss" not in scrape(definitions("cnn"), FOREST_LINES)
    assert "train:loss" not in scrape(definitions("cnn"), FOREST_LINES)
    assert scrape(definitions("cnn"), ["epoch=1/15 train:loss=1.5e-05"])["train:loss"] == [1.5e-05]


def test_regexes_are_the_readmes():
    """The README's MetricDefinitions table is what users copy; the scripts must agree with it."""
    table = dict(re.findall(r"^\| `([a-z_:]+)`(?: \([^)]*\))? \| `([^`]+)` \|$", (REPO / "README.md").read_text(), re.M))
    assert table, "README.md lost its MetricDefinitions table"
    ours = definitions("cnn")
    for name, regex in table.items():
        assert ours.get(name) == regex, name


def mls_train(tmp_path, data_file, hyperparameters):
    binary = os.environ.get("MLS_BIN")
    if not binary or not Path(binary).exists():
        pytest.skip("MLS_BIN not set (ctest sets it to the built mls)")
    if not data_file.exists():
        pytest.skip(f"no reference data at {data_file}")
    root = tmp_path / "ml"
    (root / "input/data/training").mkdir(parents=True)
    (root / "input/config").mkdir(parents=True)
    (root / "input/config/hyperparameters.json").write_text(json.dumps(hyperparameters))
    return root, binary


def run_train(root, binary):
    result = subprocess.run(
        [binary, "train", "--input-dir", root / "input", "--model-dir", root / "model",
         "--output-dir", root / "output", "--checkpoint-dir", root / "checkpoints"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # SageMaker reads both streams of the container into CloudWatch; the regexes see both.
    return (result.stdout + result.stderr).splitlines()


def data_dir():
    return Path(os.environ.get("MLS_DATA_DIR", REPO.parent / "shared" / "data"))


def test_forest_regexes_on_real_train_output(tmp_path):
    source = data_dir() / "htru2" / "HTRU_2.csv"
    root, binary = mls_train(tmp_path, source, {"n_estimators": "20", "class_names": "noise,pulsar"})
    rows = source.read_text().splitlines()[:3000]
    (root / "input/data/training/htru2.csv").write_text("\n".join(rows) + "\n")
    found = scrape(definitions("forest"), run_train(root, binary))
    assert set(found) == set(definitions("forest")), found
    for name, values in found.items():
        assert len(values) == 1, (name, values)
    assert 0.5 < found["validation:auc"][0] <= 1.0


def test_cnn_regexes_on_real_train_output(tmp_path):
    source = data_dir() / "pneumoniamnist" / "pneumoniamnist.npz"
    root, binary = mls_train(tmp_path, source, {"epochs": "2", "model_type": "cnn"})
    (root / "input/data/training/pneumoniamnist.npz").symlink_to(source)
    found = scrape(definitions("cnn"), run_train(root, binary))
    assert set(found) == set(definitions("cnn")), found
    assert len(found["train:loss"]) == 2  # one per epoch
    assert len(found["validation:loss"]) == 2
    assert len(found["validation:auc"]) == 3  # two epochs, then the final score
