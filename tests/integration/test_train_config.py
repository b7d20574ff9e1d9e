"""`train` and SageMaker's configuration files beyond hyperparameters: checkpointconfig.json's
LocalPath chooses the checkpoint directory when no flag or SM_CHECKPOINT_DIR does, and a failure
file left by an earlier run does not survive a later success."""

from __future__ import annotations

import json
import signal
import subprocess

import mls_testlib as lib

NPZ = lib.DATA_DIR / "pneumoniamnist" / "pneumoniamnist.npz"


def test_checkpointconfig_local_path_is_where_checkpoints_go(tmp_path):
    tree = lib.make_sm_tree(tmp_path, {"model_type": "cnn", "epochs": "3", "seed": "4"},
                            training_files={"data.npz": NPZ.read_bytes()})
    local = tmp_path / "spot-checkpoints"
    (tree.config_dir / "checkpointconfig.json").write_text(
        json.dumps({"LocalPath": str(local), "S3Uri": "s3://bucket/prefix"}))
    args = [str(lib.MLS_BIN), "train", "--input-dir", str(tree.input_dir),
            "--model-dir", str(tree.model_dir), "--output-dir", str(tree.output_dir)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=lib.clean_env(), cwd=str(tree.root), errors="replace")
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("epoch=2/"):
                # Epoch 1's end-of-epoch checkpoint is on disk by now.
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = "".join(seen)
    assert "checkpointconfig.json LocalPath" in log, log
    assert (local / "cnn-checkpoint.bin").is_file(), log
    assert not (tree.checkpoint_dir / "cnn-checkpoint.bin").exists()

    # A flag still wins over the file.
    flagged = tmp_path / "flagged"
    res = subprocess.run(args + ["--checkpoint-dir", str(flagged)], capture_output=True, text=True,
                         env=lib.clean_env(), cwd=str(tree.root), timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "LocalPath" not in res.stdout + res.stderr


def test_a_later_success_removes_the_failure_file(tmp_path, small_rows):
    tree = lib.make_sm_tree(tmp_path, {"n_estimators": "zero"},
                            training_files={"train.csv": lib.training_csv(small_rows[:500])})
    failed = lib.run_train(tree, timeout=120)
    assert failed.returncode == 1 and failed.failure and "n_estimators" in failed.failure
    (tree.config_dir / "hyperparameters.json").write_text(json.dumps({"n_estimators": "5"}))
    ok = lib.run_train(tree, timeout=120)
    assert ok.returncode == 0, ok.describe()
    assert not tree.failure_file.exists()
