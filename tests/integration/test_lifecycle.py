"""Process lifecycle: the command line, the serve defaults, SIGTERM draining, and loading saved
artifacts (bit-identical reloads, refusal of damaged ones)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time

import pytest
import requests

import mls_testlib as lib


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([str(lib.MLS_BIN), *args], capture_output=True, text=True,
                              timeout=timeout, env=lib.clean_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mls {' '.join(args)} did not exit within {timeout}s "
                    f"(output: {exc.stdout!r} {exc.stderr!r})")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def test_help_lists_subcommands():
    p = run_cli("--help")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "serve" in out and "train" in out, out


@pytest.mark.parametrize("sub,flags", [
    ("serve", ["--port", "--model-dir", "--log-level"]),
    ("train", ["--input-dir", "--model-dir", "--output-dir", "--checkpoint-dir"]),
])
def test_subcommand_help_lists_flags(sub, flags):
    p = run_cli(sub, "--help")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    for f in flags:
        assert f in out, f"`mls {sub} --help` does not mention {f}:\n{out}"


def test_unknown_subcommand_fails_with_usage():
    p = run_cli("bogus")
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "usage" in out.lower(), f"no usage text:\n{out}"


def test_unknown_flag_fails():
    p = run_cli("serve", "--no-such-flag")
    assert p.returncode != 0, p.stdout + p.stderr


# --------------------------------------------------------------------------------------------
# Serve defaults
# --------------------------------------------------------------------------------------------

def test_no_argument_means_serve(server_factory, small_model):
    port = lib.free_port()
    srv = server_factory.start(None, port=port, use_port_flag=False, subcommand=False,
                               env={"SAGEMAKER_BIND_TO_PORT": str(port),
                                    "SM_MODEL_DIR": str(small_model)})
    assert srv.args == [str(lib.MLS_BIN)]
    r = lib.invoke(None, srv, "1,2,3,4,5,6,7,8\n", "text/csv")
    assert len(lib.predictions_of(r)) == 1


def test_bind_to_port_env(server_factory, small_model):
    port = lib.free_port()
    srv = server_factory.start(small_model, port=port, use_port_flag=False,
                               env={"SAGEMAKER_BIND_TO_PORT": str(port)})
    assert "--port" not in srv.args
    assert requests.get(srv.url("/ping"), timeout=5).status_code == 200


def test_log_level_debug_flag(server_factory, small_model):
    srv = server_factory.start(small_model, extra_args=["--log-level", "debug"])
    assert requests.get(srv.url("/ping"), timeout=5).status_code == 200


# --------------------------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_idle_exits_0(server_factory, small_model, sig):
    srv = server_factory.start(small_model)
    with requests.Session() as s:  # leave an idle keep-alive connection open
        assert s.get(srv.url("/ping"), timeout=5).status_code == 200
        t0 = time.monotonic()
        srv.terminate(sig)
        rc = srv.wait_exit(5)
        assert rc is not None, f"still running 5 s after {sig.name}\n" + srv.describe()
        assert rc == 0, f"exit code {rc} after {sig.name}\n" + srv.describe()
        assert time.monotonic() - t0 < 5


def test_sigterm_with_request_in_flight(server_factory, small_model, htru2):
    n_rows = 50_000
    rows = [htru2[i % len(htru2)] for i in range(n_rows)]
    body = lib.features_csv(rows).encode()
    assert len(body) < lib.SIX_MIB
    srv = server_factory.start(small_model)
    request = lib.raw_request("POST", "/invocations", body,
                              {"Content-Type": "text/csv", "Accept": "text/csv"})
    with socket.create_connection(("127.0.0.1", srv.port), timeout=60) as sock:
        # Everything but the last byte: the request is in flight when SIGTERM arrives.
        sock.sendall(request[:-1])
        time.sleep(0.3)
        srv.terminate(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.running(), "server exited with a request in flight\n" + srv.describe()
        # It should no longer accept new connections.
        new_conn_answer = None
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=2) as other:
                other.sendall(lib.raw_request("GET", "/ping"))
                new_conn_answer = lib.read_raw_response(other.makefile("rb")).status
        except OSError:
            pass
        sock.sendall(request[-1:])
        resp = lib.read_raw_response(sock.makefile("rb"))
    assert resp.status == 200, f"in-flight request got {resp.status}: {resp.body[:300]!r}"
    lines = resp.body.decode().splitlines()
    assert len(lines) == n_rows, f"{len(lines)} result lines for {n_rows} rows"
    rc = srv.wait_exit(10)
    assert rc == 0, f"exit code {rc} after draining\n" + srv.describe()
    assert new_conn_answer in (None, 503), \
        f"a new connection after SIGTERM was served with {new_conn_answer}"


# --------------------------------------------------------------------------------------------
# Artifacts: reload and damage
# --------------------------------------------------------------------------------------------

def test_reload_gives_bit_identical_predictions(server_factory, small_model, probe_rows):
    body = lib.features_csv(probe_rows)
    results = []
    for _ in range(2):
        srv = server_factory.start(small_model)
        r_json = lib.invoke(None, srv, body, "text/csv")
        r_csv = lib.invoke(None, srv, body, "text/csv", accept="text/csv")
        assert r_csv.status_code == 200, r_csv.text[:300]
        results.append(([p["probabilities"] for p in lib.predictions_of(r_json)], r_csv.text))
        srv.terminate()
        assert srv.wait_exit(10) == 0, srv.describe()
    assert results[0][0] == results[1][0], "probabilities differ between two loads of one artifact"
    assert results[0][1] == results[1][1], "CSV output differs between two loads of one artifact"


def damage(model_dir, how: str) -> str:
    """Damages a copied model dir; returns the name of the file the error should mention."""
    if how == "truncate-forest":
        p = model_dir / "forest.bin"
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
        return "forest.bin"
    if how == "missing-forest":
        (model_dir / "forest.bin").unlink()
        return "forest.bin"
    if how == "flip-byte-forest":
        p = model_dir / "forest.bin"
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF
        p.write_bytes(bytes(data))
        return "forest.bin"
    if how == "garbage-manifest":
        (model_dir / "manifest.json").write_text("{ this is not json")
        return "manifest.json"
    raise ValueError(how)


@pytest.mark.parametrize("how", ["truncate-forest", "missing-forest", "flip-byte-forest",
                                 "garbage-manifest"])
def test_damaged_artifact_is_refused(server_factory, small_model, tmp_path, how):
    broken = tmp_path / "broken_model"
    shutil.copytree(small_model, broken)
    file_name = damage(broken, how)
    srv = server_factory.start(broken, wait="responding")
    deadline = time.monotonic() + 10
    named = False
    while time.monotonic() < deadline:
        r = requests.get(srv.url("/ping"), timeout=5)
        assert r.status_code == 503, f"/ping with a damaged model: {r.status_code} {r.text[:300]}"
        msg = lib.error_text(r)
        if file_name in msg or file_name in srv.log_text():
            named = True
            break
        time.sleep(0.2)
    assert named, f"neither /ping ({msg!r}) nor the log names {file_name}"
    r = lib.invoke(None, srv, "1,2,3,4,5,6,7,8\n", "text/csv")
    assert r.status_code == 503, f"/invocations with no usable model: {r.status_code} {r.text[:300]}"


def test_broken_model_does_not_take_others_down(server_factory, small_model, tmp_path):
    root = tmp_path / "model"
    shutil.copytree(small_model, root / "good")
    shutil.copytree(small_model, root / "broken")
    damage(root / "broken", "truncate-forest")
    srv = server_factory.start(root)
    r = lib.invoke(None, srv, "1,2,3,4,5,6,7,8\n", "text/csv",
                   headers={"X-Amzn-SageMaker-Target-Model": "good"})
    assert len(lib.predictions_of(r)) == 1
    deadline = time.monotonic() + 5
    while "broken" not in srv.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "broken" in srv.log_text(), "the model that failed to load is not reported by name"
