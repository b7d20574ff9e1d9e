"""End to end on HTRU2: train a 100-tree forest on 80 %, serve it, score the held-out 20 % in every
input format, and hold the predictions to quality bars and to each other."""

from __future__ import annotations

import json
import math
import re

import pytest
import requests

import mls_testlib as lib

SPLIT_SEED = 20240601
MIN_AUC = 0.97
MIN_F1 = 0.88


@pytest.fixture(scope="module")
def split(htru2):
    train, test = lib.split_rows(htru2, 0.2, SPLIT_SEED)
    assert sum(r.label for r in test) > 100, "held-out split has too few positives"
    return train, test


@pytest.fixture(scope="module")
def trained(tmp_path_factory, split):
    train, _ = split
    tree = lib.make_sm_tree(tmp_path_factory.mktemp("e2e"),
                            {"n_estimators": "100", "seed": "1"},
                            training_files={"train.csv": lib.training_csv(train)})
    res = lib.run_train(tree, timeout=300)
    return tree, res


@pytest.fixture(scope="module")
def server(trained, module_server_factory):
    tree, res = trained
    assert res.returncode == 0, "training failed, cannot serve\n" + res.describe()
    return module_server_factory.start(tree.model_dir)


@pytest.fixture(scope="module")
def session():
    with requests.Session() as s:
        yield s


@pytest.fixture(scope="module")
def csv_predictions(server, session, split):
    _, test = split
    return lib.predictions_of(lib.invoke(session, server, lib.features_csv(test), "text/csv"))


# --------------------------------------------------------------------------------------------

def test_training_succeeds_and_writes_artifacts(trained):
    tree, res = trained
    assert res.returncode == 0, res.describe()
    manifest = tree.model_dir / "manifest.json"
    weights = tree.model_dir / "forest.bin"
    assert manifest.is_file(), res.describe()
    assert weights.is_file() and weights.stat().st_size > 0, res.describe()
    doc = json.loads(manifest.read_text())
    assert isinstance(doc, dict), f"manifest.json is not an object: {doc!r}"
    assert not tree.failure_file.exists(), f"output/failure written on success: {res.failure}"


def test_training_prints_validation_auc(trained):
    _, res = trained
    m = re.search(r"validation:auc=([0-9.]+)", res.output)
    assert m, "no validation:auc=... line in training output\n" + res.describe()
    assert 0.5 < float(m.group(1)) <= 1.0, f"implausible validation AUC {m.group(1)}"
    assert re.search(r"validation:accuracy=([0-9.]+)", res.output), res.describe()


def test_ping_ready(server, session):
    r = session.get(server.url("/ping"), timeout=5)
    assert r.status_code == 200, r.text
    assert r.json().get("status") == "ready", r.text


def test_prediction_shape(csv_predictions, split):
    _, test = split
    assert len(csv_predictions) == len(test)
    for i, p in enumerate(csv_predictions):
        probs = p["probabilities"]
        assert len(probs) == 2, f"row {i}: {p}"
        assert all(0.0 <= x <= 1.0 for x in probs), f"row {i}: {p}"
        assert math.isclose(sum(probs), 1.0, abs_tol=1e-4), f"row {i}: probabilities {probs}"
        label = lib.label_value(p)
        assert label in (0, 1), f"row {i}: {p}"
        assert p["class"] == str(label), f"row {i}: class name should be the label's name: {p}"
        if probs[0] != probs[1]:
            assert label == (1 if probs[1] > probs[0] else 0), \
                f"row {i}: label is not the most probable class: {p}"


def test_quality_on_held_out(csv_predictions, split):
    _, test = split
    truth = [r.label for r in test]
    scores = [p["probabilities"][1] for p in csv_predictions]
    predicted = [lib.label_value(p) for p in csv_predictions]
    got_auc = lib.auc(truth, scores)
    got_f1 = lib.f1(truth, predicted)
    assert got_auc >= MIN_AUC, f"held-out AUC {got_auc:.4f} < {MIN_AUC}"
    assert got_f1 >= MIN_F1, f"held-out F1 {got_f1:.4f} < {MIN_F1}"


def assert_same_predictions(expected: list[dict], got: list[dict], what: str) -> None:
    assert len(got) == len(expected), f"{what}: {len(got)} predictions for {len(expected)} rows"
    for i, (e, g) in enumerate(zip(expected, got)):
        assert lib.label_value(g) == lib.label_value(e) and g["probabilities"] == e["probabilities"], \
            f"{what}: row {i + 1} differs: {g} vs CSV/LF {e}"


def test_json_instances_match_csv(server, session, split, csv_predictions):
    _, test = split
    r = lib.invoke(session, server, lib.features_json_instances(test), "application/json")
    assert_same_predictions(csv_predictions, lib.predictions_of(r), "JSON {instances}")


def test_json_features_key_matches_csv(server, session, split, csv_predictions):
    _, test = split
    r = lib.invoke(session, server, lib.features_json_instances(test[:50], key="features"),
                   "application/json")
    assert_same_predictions(csv_predictions[:50], lib.predictions_of(r), "JSON {features}")


def test_json_list_of_rows_and_bare_row(server, session, split, csv_predictions):
    _, test = split
    body = "[" + ",".join(r.json_features() for r in test[:20]) + "]"
    r = lib.invoke(session, server, body, "application/json")
    assert_same_predictions(csv_predictions[:20], lib.predictions_of(r), "JSON list of rows")
    r = lib.invoke(session, server, test[3].json_features(), "application/json")
    assert_same_predictions(csv_predictions[3:4], lib.predictions_of(r), "JSON bare row")


def test_jsonlines_input_matches_csv(server, session, split, csv_predictions):
    _, test = split
    r = lib.invoke(session, server, lib.features_jsonlines(test), "application/jsonlines")
    assert_same_predictions(csv_predictions, lib.predictions_of(r), "JSON Lines input")


@pytest.mark.parametrize("eol,final", [("\r", True), ("\r\n", True), ("\r", False), ("\n", False)],
                         ids=["CR", "CRLF", "CR-no-final", "LF-no-final"])
def test_line_endings_match(server, session, split, csv_predictions, eol, final):
    _, test = split
    body = lib.features_csv(test, eol=eol, final_eol=final)
    r = lib.invoke(session, server, body, "text/csv")
    assert_same_predictions(csv_predictions, lib.predictions_of(r), f"CSV with {eol!r} line ends")


def test_csv_output_one_line_per_row(server, session, split, csv_predictions):
    _, test = split
    r = lib.invoke(session, server, lib.features_csv(test), "text/csv", accept="text/csv")
    assert r.status_code == 200, r.text[:500]
    assert r.headers.get("Content-Type", "").startswith("text/csv"), r.headers
    lines = r.text.splitlines()
    assert len(lines) == len(test), f"{len(lines)} output lines for {len(test)} rows"
    for i, (line, p) in enumerate(zip(lines, csv_predictions)):
        fields = line.split(",")
        assert len(fields) == 3, f"line {i + 1}: expected label,p0,p1, got {line!r}"
        assert float(fields[0]) == lib.label_value(p), f"line {i + 1}: {line!r} vs JSON {p}"
        for got, want in zip(fields[1:], p["probabilities"]):
            assert math.isclose(float(got), want, abs_tol=1e-5), f"line {i + 1}: {line!r} vs {p}"


def test_jsonlines_output(server, session, split, csv_predictions):
    _, test = split
    r = lib.invoke(session, server, lib.features_csv(test), "text/csv",
                   accept="application/jsonlines")
    assert r.status_code == 200, r.text[:500]
    lines = [ln for ln in r.text.split("\n") if ln.strip()]
    assert len(lines) == len(test), f"{len(lines)} JSON lines for {len(test)} rows"
    assert_same_predictions(csv_predictions, [json.loads(ln) for ln in lines], "JSON Lines output")


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_default_accept_is_json(server, session, split, accept, csv_predictions):
    _, test = split
    r = lib.invoke(session, server, lib.features_csv(test[:5]), "text/csv", accept=accept)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    assert_same_predictions(csv_predictions[:5], lib.predictions_of(r), f"Accept {accept}")
