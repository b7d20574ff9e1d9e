"""`mls train` for the CNN: the shared PneumoniaMNIST .npz (deflated members) and a MedMNIST-style
stored one, class folders of PNG files, the metric lines and the manifest, the held-out val_*
scores, SIGTERM -> checkpoint -> resume -> the same cnn.bin as an uninterrupted run (and the same
after a SIGKILL), and the failures (no images, bad hyperparameters, a corrupt .npz)."""

from __future__ import annotations

import json
import re
import signal

import pytest

import cnn_helpers as ch
import mls_testlib as lib

FAST = {"epochs": "3", "seed": "1"}


def is_sanitized_build() -> bool:
    """ASan builds run the CNN several times slower; the long default run is skipped there."""
    return b"__asan_init" in lib.MLS_BIN.read_bytes()


def assert_failed(res: lib.TrainResult, *patterns: str) -> None:
    assert res.returncode == 1, "training should have failed with exit 1\n" + res.describe()
    assert res.failure and res.failure.strip(), "no output/failure\n" + res.describe()
    for p in patterns:
        assert re.search(p, res.failure[:1024], re.IGNORECASE), \
            f"output/failure should match {p!r}; it says:\n{res.failure}"


@pytest.fixture(scope="module")
def npz_bytes() -> bytes:
    if not ch.NPZ.is_file():
        pytest.fail(f"PneumoniaMNIST not found at {ch.NPZ} (set MLS_DATA_DIR)", pytrace=False)
    return ch.NPZ.read_bytes()


@pytest.fixture(scope="module")
def arrays() -> dict[str, ch.Array]:
    return ch.read_npz(ch.NPZ)


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory, npz_bytes):
    """3 epochs on the shared file, model_type inferred from the data."""
    hp = dict(FAST, model_name="xray", frobnicate_level="11")
    tree = lib.make_sm_tree(tmp_path_factory.mktemp("cnn_npz"), hp,
                            training_files={"pneumoniamnist.npz": npz_bytes})
    res = lib.run_train(tree, timeout=300)
    assert res.returncode == 0, "training failed\n" + res.describe()
    return tree, res


# --------------------------------------------------------------------------------------------
# The shared .npz
# --------------------------------------------------------------------------------------------

def test_npz_writes_a_cnn_model(npz_run):
    tree, res = npz_run
    assert (tree.model_dir / "cnn.bin").is_file(), res.describe()
    m = ch.manifest(tree.model_dir)
    assert m["model_type"] == "cnn"
    assert m["name"] == "xray"
    image = m["input"]["image"]
    assert (image["height"], image["width"], image["channels"]) == (28, 28, 1)
    assert 0.3 < image["mean"] < 0.8 and 0.05 < image["std"] < 0.5, image
    assert m["input"]["num_features"] == 784
    assert m["classes"]["labels"] == [0, 1]
    metrics = m["training"]["metrics"]
    assert metrics["validation_source"] == "val_* arrays"
    assert metrics["epochs_trained"] == 3 and len(metrics["history"]) == 3
    assert 1 <= metrics["best_epoch"] <= 3
    for key in ("train:accuracy", "validation:accuracy", "validation:auc", "validation:log_loss"):
        assert 0 <= metrics[key] <= 1 or key.endswith("log_loss"), (key, metrics[key])
    assert m["training"]["hyperparameters"]["epochs"] == "3"
    assert not list(tree.checkpoint_dir.glob("cnn-checkpoint*")), \
        "the checkpoint should be removed once the model is written"


def test_npz_prints_one_line_per_epoch_and_the_final_scores(npz_run):
    _, res = npz_run
    assert "training a cnn" in res.output
    epochs = ch.epoch_metrics(res.stdout)
    assert [e["epoch"] for e in epochs] == [1, 2, 3], res.stdout
    for e in epochs:
        for key in ("train:loss", "validation:loss", "validation:accuracy", "validation:auc"):
            assert key in e, f"{key} missing from the epoch line: {e}"
        assert 0 < e["train:loss"] < 2
    best = max(epochs, key=lambda e: e["validation:auc"])
    # The kept weights are the best epoch's, so the summary repeats its scores.
    assert ch.final_metric(res.stdout, "validation:auc") == pytest.approx(best["validation:auc"],
                                                                         abs=1e-6)
    assert ch.final_metric(res.stdout, "validation:accuracy") >= 0.90, res.stdout
    assert ch.final_metric(res.stdout, "validation:auc") >= 0.97, res.stdout
    assert 0.8 <= ch.final_metric(res.stdout, "train:accuracy") <= 1.0


def test_unknown_hyperparameter_is_logged(npz_run):
    _, res = npz_run
    assert "frobnicate_level" in res.output, res.describe()


@pytest.mark.skipif(is_sanitized_build(), reason="15 epochs are slow under ASan; release runs it")
def test_defaults_reach_the_accuracy_goal(tmp_path, npz_bytes):
    """Default hyperparameters (15 epochs) on the shared file: held-out val_* AUC >= 0.99 and
    accuracy >= 0.95, as printed."""
    tree = lib.make_sm_tree(tmp_path, {"model_type": "cnn"},
                            training_files={"pneumoniamnist.npz": npz_bytes})
    res = lib.run_train(tree, timeout=600)
    assert res.returncode == 0, res.describe()
    assert len(ch.epoch_metrics(res.stdout)) >= 6, "early stopping came implausibly soon"
    assert ch.final_metric(res.stdout, "validation:auc") >= 0.99, res.stdout
    assert ch.final_metric(res.stdout, "validation:accuracy") >= 0.95, res.stdout


def test_stored_medmnist_layout_with_test_arrays_and_a_channel_dimension(tmp_path, arrays):
    """MedMNIST's own files store their members uncompressed and carry test_*; N x H x W x 1
    images and N labels must read as well."""
    imgs, labels = ch.subset(arrays["train_images"], arrays["train_labels"],
                             ch.balanced(arrays["train_labels"], 600))
    val_imgs, val_labels = ch.subset(arrays["val_images"], arrays["val_labels"],
                                     ch.balanced(arrays["val_labels"], 100))
    stored = ch.npz_bytes({
        "train_images": ch.Array(imgs.shape + (1,), imgs.data),
        "train_labels": ch.Array((600,), labels.data),
        "val_images": val_imgs, "val_labels": val_labels,
        "test_images": ch.Array((2, 5, 5), bytes(50)), "test_labels": ch.Array((2,), b"\x07\x07"),
    }, deflate=False)
    assert imgs.data[:784] in stored, "the members should really be stored"
    tree = lib.make_sm_tree(tmp_path, {"model_type": "cnn", "epochs": "1", "seed": "2"},
                            training_files={"medmnist.npz": stored})
    res = lib.run_train(tree, timeout=300)
    assert res.returncode == 0, res.describe()
    assert "600 images" in res.output and "validation: 100 images" in res.output, res.output


# --------------------------------------------------------------------------------------------
# Class folders of PNG files
# --------------------------------------------------------------------------------------------

def test_class_folders_of_png(tmp_path, arrays):
    tree = lib.make_sm_tree(tmp_path, {"epochs": "2", "seed": "3", "image_size": "32",
                                       "validation_fraction": "0.2"}, training_files={})
    ch.write_class_folders(tree.training_dir, arrays["train_images"], arrays["train_labels"],
                           ["NORMAL", "PNEUMONIA"], ch.balanced(arrays["train_labels"], 400))
    res = lib.run_train(tree, timeout=300)
    assert res.returncode == 0, res.describe()
    m = ch.manifest(tree.model_dir)
    assert m["classes"]["names"] == ["NORMAL", "PNEUMONIA"]
    assert m["classes"]["labels"] == [0, 1]
    assert m["input"]["image"]["height"] == 32
    assert m["training"]["metrics"]["validation_source"] == "held-out training images"
    assert "320 images" in res.output and "validation: 80 images" in res.output, res.output
    epochs = ch.epoch_metrics(res.stdout)
    assert len(epochs) == 2 and "validation:auc" in epochs[0], res.stdout


def test_class_folders_with_a_validation_channel_and_class_names(tmp_path, arrays):
    tree = lib.make_sm_tree(tmp_path, {"epochs": "1", "seed": "3",
                                       "class_names": "healthy, sick"},
                            training_files={}, validation_files={})
    names = ["NORMAL", "PNEUMONIA"]
    ch.write_class_folders(tree.training_dir, arrays["train_images"], arrays["train_labels"],
                           names, ch.balanced(arrays["train_labels"], 200))
    ch.write_class_folders(tree.data_dir / "validation", arrays["val_images"],
                           arrays["val_labels"], names, ch.balanced(arrays["val_labels"], 60))
    res = lib.run_train(tree, timeout=300)
    assert res.returncode == 0, res.describe()
    m = ch.manifest(tree.model_dir)
    assert m["classes"]["names"] == ["healthy", "sick"]
    assert m["training"]["metrics"]["validation_source"] == "validation channel"
    assert "validation: 60 images" in res.output


# --------------------------------------------------------------------------------------------
# SIGTERM, SIGKILL and resuming
# --------------------------------------------------------------------------------------------

RESUME_HP = {"model_type": "cnn", "epochs": "5", "seed": "11", "batch_size": "48"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, npz_bytes):
    tree = lib.make_sm_tree(tmp_path_factory.mktemp("cnn_ref"), RESUME_HP,
                            training_files={"pneumoniamnist.npz": npz_bytes})
    res = lib.run_train(tree, timeout=300)
    assert res.returncode == 0, res.describe()
    return tree


def test_sigterm_checkpoints_and_a_rerun_resumes_to_the_same_model(tmp_path, npz_bytes,
                                                                   uninterrupted):
    tree = lib.make_sm_tree(tmp_path, RESUME_HP, training_files={"pneumoniamnist.npz": npz_bytes})
    run = ch.train_and_signal(tree, "epoch=2/", signal.SIGTERM)
    res = run.result
    assert res.returncode == 1, "SIGTERM: exit 1 with output/failure, as the forest\n" + \
        res.describe()
    assert run.signal_to_exit < 5, f"took {run.signal_to_exit:.1f} s to stop\n" + res.describe()
    stop = re.search(r"stopped by a signal at epoch (\d)/5, mini-batch (\d+)/51", res.failure or "")
    assert stop, res.describe()
    stopped_in = int(stop.group(1))
    assert stopped_in >= 3, "the signal came after epoch 2\n" + res.describe()
    assert "checkpoint written" in res.failure
    assert (tree.checkpoint_dir / "cnn-checkpoint.bin").is_file()
    assert not (tree.model_dir / "manifest.json").exists(), "a stopped run wrote a model"

    resumed = lib.run_train(tree, timeout=300)
    assert resumed.returncode == 0, resumed.describe()
    assert "resuming from the checkpoint" in resumed.output, resumed.describe()
    assert [e["epoch"] for e in ch.epoch_metrics(resumed.stdout)] == \
        list(range(stopped_in, 6)), resumed.stdout
    assert (tree.model_dir / "cnn.bin").read_bytes() == \
        (uninterrupted.model_dir / "cnn.bin").read_bytes(), \
        "the resumed run should end bit-identical to the uninterrupted one"
    assert (tree.model_dir / "manifest.json").read_text() == \
        (uninterrupted.model_dir / "manifest.json").read_text()
    assert not (tree.checkpoint_dir / "cnn-checkpoint.bin").exists()


def test_sigkill_resumes_from_the_last_epoch_checkpoint(tmp_path, npz_bytes, uninterrupted):
    tree = lib.make_sm_tree(tmp_path, RESUME_HP, training_files={"pneumoniamnist.npz": npz_bytes})
    run = ch.train_and_signal(tree, "epoch=3/", signal.SIGKILL)
    assert run.result.returncode == -signal.SIGKILL
    assert (tree.checkpoint_dir / "cnn-checkpoint.bin").is_file()
    resumed = lib.run_train(tree, timeout=300)
    assert resumed.returncode == 0, resumed.describe()
    first = ch.epoch_metrics(resumed.stdout)[0]["epoch"]
    assert first in (3, 4), "resumes after the last finished epoch\n" + resumed.stdout
    assert (tree.model_dir / "cnn.bin").read_bytes() == \
        (uninterrupted.model_dir / "cnn.bin").read_bytes()


def test_checkpoint_of_another_job_is_ignored(tmp_path, npz_bytes, uninterrupted):
    tree = lib.make_sm_tree(tmp_path, dict(RESUME_HP, epochs="6"),
                            training_files={"pneumoniamnist.npz": npz_bytes})
    run = ch.train_and_signal(tree, "epoch=1/", signal.SIGTERM)
    assert run.result.returncode == 1, run.result.describe()
    # Now the 5-epoch job of the reference run: another fingerprint.
    (tree.config_dir / "hyperparameters.json").write_text(json.dumps(RESUME_HP))
    res = lib.run_train(tree, timeout=300)
    assert res.returncode == 0, res.describe()
    assert "ignoring the checkpoint" in res.output, res.describe()
    assert (tree.model_dir / "cnn.bin").read_bytes() == \
        (uninterrupted.model_dir / "cnn.bin").read_bytes()


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------

def test_no_images(tmp_path):
    tree = lib.make_sm_tree(tmp_path, {"model_type": "cnn"},
                            training_files={"notes.txt": "nothing to see"})
    res = lib.run_train(tree, timeout=60)
    assert_failed(res, r"training channel", r"no \.npz files and no PNG/JPEG")
    assert not (tree.model_dir / "manifest.json").exists()


@pytest.mark.parametrize("key,value", [("epochs", "0"), ("learning_rate", "fast"),
                                       ("batch_size", "-4"), ("dropout", "1.5"),
                                       ("augment", "sometimes"), ("image_size", "2")])
def test_bad_hyperparameter(tmp_path, npz_bytes, key, value):
    tree = lib.make_sm_tree(tmp_path, {"model_type": "cnn", key: value},
                            training_files={"pneumoniamnist.npz": npz_bytes})
    res = lib.run_train(tree, timeout=60)
    assert_failed(res, rf"hyperparameter {key}='{re.escape(value)}'")


def test_class_names_count_must_match(tmp_path, npz_bytes):
    tree = lib.make_sm_tree(tmp_path, {"model_type": "cnn", "class_names": "a,b,c"},
                            training_files={"pneumoniamnist.npz": npz_bytes})
    assert_failed(lib.run_train(tree, timeout=60), r"class_names has 3 names for 2 classes")


def test_corrupt_npz(tmp_path, npz_bytes):
    cut = npz_bytes[:len(npz_bytes) // 2]
    tree = lib.make_sm_tree(tmp_path, {}, training_files={"broken.npz": cut})
    assert_failed(lib.run_train(tree, timeout=60), r"broken\.npz")


def test_npz_without_train_arrays(tmp_path, arrays):
    only_val = ch.npz_bytes({"val_images": arrays["val_images"],
                             "val_labels": arrays["val_labels"]}, deflate=True)
    tree = lib.make_sm_tree(tmp_path, {}, training_files={"val_only.npz": only_val})
    assert_failed(lib.run_train(tree, timeout=60), r"val_only\.npz", r"train_images")
