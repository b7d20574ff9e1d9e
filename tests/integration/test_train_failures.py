"""`mls train`: how it fails (non-zero exit plus a readable output/failure), how it reads
hyperparameters and label columns, and that it is deterministic for a seed."""

from __future__ import annotations

import re

import pytest

import mls_testlib as lib


@pytest.fixture(scope="module")
def rows(small_rows):
    return small_rows[:1500]


@pytest.fixture(scope="module")
def train_csv(rows):
    return lib.training_csv(rows)


def assert_failed(res: lib.TrainResult, *patterns: str) -> str:
    assert res.returncode != 0, "training should have failed\n" + res.describe()
    assert res.failure is not None, "no output/failure file\n" + res.describe()
    assert res.failure.strip(), "output/failure is empty\n" + res.describe()
    head = res.failure[:1024]  # what SageMaker shows
    for p in patterns:
        assert re.search(p, head, re.IGNORECASE), \
            f"output/failure should match {p!r}; it says:\n{res.failure}"
    return res.failure


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------

def test_no_training_channel(tmp_path, train_csv):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "5"},
                            validation_files={"val.csv": train_csv})
    res = lib.run_train(tree, timeout=60)
    assert_failed(res, r"training")
    assert not (tree.model_dir / "forest.bin").exists(), "a failed run left a model behind"


def test_no_data_dir_at_all(tmp_path):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "5"}, channels=())
    (tree.data_dir).rmdir()
    res = lib.run_train(tree, timeout=60)
    assert_failed(res, r"training")


def test_empty_training_channel(tmp_path):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "5"}, training_files={})
    res = lib.run_train(tree, timeout=60)
    assert_failed(res)
    assert not (tree.model_dir / "forest.bin").exists(), "a failed run left a model behind"


def test_training_channel_with_only_hidden_files_is_empty(tmp_path, train_csv):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "5"},
                            training_files={".hidden.csv": train_csv})
    res = lib.run_train(tree, timeout=60)
    assert_failed(res)


def test_hidden_files_are_ignored(tmp_path, train_csv):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "5", "seed": "1"},
                            training_files={"train.csv": train_csv,
                                            ".notes": "this is not, a CSV file\nat all\n"})
    lib.train_ok(tree, timeout=60)


def test_non_numeric_cell_names_file_row_and_column(tmp_path, rows):
    bad_lines = [r.csv_with_label() for r in rows[:20]]
    cells = bad_lines[4].split(",")
    cells[2] = "abc"
    bad_lines[4] = ",".join(cells)  # row 5, column 3
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "5"}, training_files={
        "part1.csv": lib.training_csv(rows[20:500]),
        "broken.csv": "\n".join(bad_lines) + "\n"})
    res = lib.run_train(tree, timeout=60)
    assert_failed(res, r"broken\.csv", r"\brow\D{0,3}5\b", r"\bcolumn\D{0,3}3\b")


@pytest.mark.parametrize("key,value", [
    ("n_estimators", "abc"), ("n_estimators", "-3"), ("n_estimators", "0"),
    ("max_depth", "deep"), ("max_features", "bogus"), ("class_weight", "heavy"),
    ("bootstrap", "maybe"), ("min_samples_leaf", "-1"), ("label_column", "sideways"),
])
def test_bad_hyperparameter_is_named(tmp_path, train_csv, key, value):
    hp = {"n_estimators": "5", key: value}
    tree = lib.make_sm_tree(tmp_path, hp, training_files={"train.csv": train_csv})
    res = lib.run_train(tree, timeout=60)
    assert_failed(res, re.escape(key))


def test_invalid_hyperparameters_json(tmp_path, train_csv):
    tree = lib.make_sm_tree(tmp_path, {}, training_files={"train.csv": train_csv})
    (tree.config_dir / "hyperparameters.json").write_text('{"n_estimators": "5",')
    res = lib.run_train(tree, timeout=60)
    assert_failed(res, r"hyperparameters")


# --------------------------------------------------------------------------------------------
# Hyperparameter spellings, label column, determinism: compared through forest.bin bytes
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trainer(tmp_path_factory, rows):
    """train(hp, label_first=False) -> forest.bin bytes, each run in a fresh tree."""
    def train(hp: dict[str, str], label_first: bool = False) -> bytes:
        tree = lib.make_sm_tree(tmp_path_factory.mktemp("variant"), hp, training_files={
            "train.csv": lib.training_csv(rows, label_first=label_first)})
        lib.train_ok(tree, timeout=120)
        return (tree.model_dir / "forest.bin").read_bytes()
    return train


@pytest.fixture(scope="module")
def reference_bytes(trainer):
    return trainer({"n_estimators": "20", "seed": "3"})


def test_same_seed_gives_identical_artifact(trainer, reference_bytes):
    again = trainer({"n_estimators": "20", "seed": "3"})
    assert again == reference_bytes, "two runs with the same seed wrote different forest.bin"


def test_different_seed_or_size_gives_different_artifact(trainer, reference_bytes):
    assert trainer({"n_estimators": "20", "seed": "4"}) != reference_bytes, "seed is ignored"
    assert trainer({"n_estimators": "10", "seed": "3"}) != reference_bytes, "n_estimators is ignored"


def test_json_quoted_values(trainer, reference_bytes):
    got = trainer({"n_estimators": '"20"', "seed": '"3"'})
    assert got == reference_bytes, 'n_estimators "\\"20\\"" should mean 20'


def test_number_of_estimators_alias(trainer, reference_bytes):
    got = trainer({"number_of_estimators": "20", "seed": "3"})
    assert got == reference_bytes, "number_of_estimators should mean n_estimators"


@pytest.mark.parametrize("spelling", ["first", "0"])
def test_label_column_first(trainer, reference_bytes, spelling):
    got = trainer({"n_estimators": "20", "seed": "3", "label_column": spelling}, label_first=True)
    assert got == reference_bytes, \
        f"label_column={spelling} on label-first data should equal label-last training"


def test_label_column_last_explicit(trainer, reference_bytes):
    assert trainer({"n_estimators": "20", "seed": "3", "label_column": "last"}) == reference_bytes


def test_unknown_hyperparameter_is_logged_and_ignored(tmp_path, train_csv, reference_bytes):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "20", "seed": "3",
                                       "frobnicate_level": "11"},
                            training_files={"train.csv": train_csv})
    res = lib.train_ok(tree, timeout=120)
    assert "frobnicate_level" in res.output, \
        "the unknown hyperparameter should be logged\n" + res.describe()
    assert (tree.model_dir / "forest.bin").read_bytes() == reference_bytes


def test_class_names_reach_predictions(tmp_path, train_csv, server_factory, probe_rows):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "5", "seed": "1",
                                       "class_names": "noise,pulsar"},
                            training_files={"train.csv": train_csv})
    lib.train_ok(tree, timeout=60)
    srv = server_factory.start(tree.model_dir)
    preds = lib.predictions_of(lib.invoke(None, srv, lib.features_csv(probe_rows), "text/csv"))
    names = {0: "noise", 1: "pulsar"}
    assert {lib.label_value(p) for p in preds} == {0, 1}, "probe rows should get both labels"
    for p in preds:
        assert p["class"] == names[lib.label_value(p)], p


def test_validation_channel_metrics(tmp_path, rows):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "10", "seed": "1"},
                            training_files={"train.csv": lib.training_csv(rows[:1000])},
                            validation_files={"val.csv": lib.training_csv(rows[1000:])})
    res = lib.train_ok(tree, timeout=60)
    m = re.search(r"validation:auc=([0-9.]+)", res.output)
    assert m and 0.5 < float(m.group(1)) <= 1.0, res.describe()
