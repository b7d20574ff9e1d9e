"""Optional TLS: --tls-cert/--tls-key (MLS_TLS_CERT/MLS_TLS_KEY) make the port HTTPS only, TLS 1.2
and 1.3; older versions, plain HTTP and silent clients are refused or closed; unusable
certificate or key files stop the start-up with a clear message."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

import mls_testlib as lib

GOOD_ROW = "140.5625,55.68378214,-0.234571412,-0.699648398,3.199832776,19.11042633,7.975531794,74.24222492"

# OpenSSL's own defaults (security level 1 and up) already refuse TLS 1.0/1.1. This configuration
# permits every version and cipher, for both the server and the clients of the version tests, so
# that only the server's own settings can refuse: a control server (openssl s_server) under the
# same configuration accepts TLS 1.1, proving the test would see it if we did not refuse it.
PERMISSIVE_CNF = """openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1
CipherString = DEFAULT:@SECLEVEL=0
"""


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
                    "-subj", "/CN=mls-test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(d / "other-key.pem"), "-out", str(d / "other-cert.pem"),
                    "-days", "2", "-subj", "/CN=other"], check=True, capture_output=True, timeout=60)
    (d / "permissive.cnf").write_text(PERMISSIVE_CNF)
    return d


def wait_https_ready(srv: lib.ServerProcess, cacert: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        assert srv.running(), "server exited\n" + srv.describe()
        try:
            last = requests.get(f"https://127.0.0.1:{srv.port}/ping", verify=str(cacert), timeout=2)
            if last.status_code == 200:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"no HTTPS /ping 200 within {timeout}s: {last}\n" + srv.describe())


def start_tls(factory, model_dir, tls_dir, extra_args=(), env=None, via_env=False):
    args = list(extra_args)
    env = dict(env or {})
    if via_env:
        env.update(MLS_TLS_CERT=str(tls_dir / "cert.pem"), MLS_TLS_KEY=str(tls_dir / "key.pem"))
    else:
        args += ["--tls-cert", str(tls_dir / "cert.pem"), "--tls-key", str(tls_dir / "key.pem")]
    srv = factory.start(model_dir, extra_args=args, env=env, wait=None)
    wait_https_ready(srv, tls_dir / "cert.pem")
    return srv


@pytest.fixture(scope="module")
def tls_srv(module_server_factory, small_model, tls_dir):
    return start_tls(module_server_factory, small_model, tls_dir,
                     env={"OPENSSL_CONF": str(tls_dir / "permissive.cnf")})


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True,
                          text=True, timeout=20)


def s_client(port: int, *args: str, cnf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20,
                          env=lib.clean_env(OPENSSL_CONF=str(cnf)))


def test_start_up_log_names_the_certificate(tls_srv, tls_dir):
    assert f"TLS on, cert CN=mls-test, from {tls_dir / 'cert.pem'}" in tls_srv.log_text(), \
        tls_srv.log_tail()


def test_curl_ping_and_invocations_over_https(tls_srv, tls_dir, server_factory, small_model):
    base = f"https://127.0.0.1:{tls_srv.port}"
    r = curl("--cacert", str(tls_dir / "cert.pem"), "-w", "\n%{http_code}", base + "/ping")
    assert r.returncode == 0, r.stderr
    body, code = r.stdout.rsplit("\n", 1)
    assert code == "200" and json.loads(body)["status"] == "ready", r.stdout
    r = curl("--cacert", str(tls_dir / "cert.pem"), "-H", "Content-Type: text/csv",
             "--data-binary", GOOD_ROW, "-w", "\n%{http_code}", base + "/invocations")
    assert r.returncode == 0, r.stderr
    body, code = r.stdout.rsplit("\n", 1)
    assert code == "200", r.stdout
    plain = server_factory.start(small_model)
    expected = lib.predictions_of(lib.invoke(None, plain, GOOD_ROW, "text/csv"))
    assert json.loads(body)["predictions"] == expected
    # An error is an error over TLS too.
    r = curl("-k", "-H", "Content-Type: text/csv", "--data-binary", "1,2,abc,4,5,6,7,8",
             "-w", "\n%{http_code}", base + "/invocations")
    assert r.stdout.rsplit("\n", 1)[1] == "400", r.stdout


def test_keep_alive_over_tls(tls_srv, tls_dir):
    with requests.Session() as s:
        base = f"https://127.0.0.1:{tls_srv.port}"
        for i in range(30):
            r = s.post(base + "/invocations", data=GOOD_ROW, headers={"Content-Type": "text/csv"},
                       verify=str(tls_dir / "cert.pem"), timeout=5)
            assert r.status_code == 200, (i, r.text[:200])
        pool = s.get_adapter(base).poolmanager.connection_from_url(base)
        assert pool.num_connections == 1, f"{pool.num_connections} connections for 30 requests"


def test_plain_http_is_not_served(tls_srv):
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_srv.port}/ping", timeout=5)


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_tls_1_2_and_1_3_are_accepted(tls_srv, tls_dir, version):
    r = s_client(tls_srv.port, version, cnf=tls_dir / "permissive.cnf")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    name = "TLSv1.2" if version == "-tls1_2" else "TLSv1.3"
    assert re.search(rf"New, {re.escape(name)}, Cipher is (ECDHE-\S+|TLS_\S+)", r.stdout), \
        r.stdout[-2000:]


@pytest.mark.parametrize("version", ["-tls1_1", "-tls1"])
def test_tls_1_1_and_1_0_are_refused_by_the_server(tls_srv, tls_dir, version):
    cnf = tls_dir / "permissive.cnf"
    # Control: under the same OpenSSL configuration, a server without our settings accepts it.
    port = lib.free_port()
    control = subprocess.Popen(
        ["openssl", "s_server", "-accept", str(port), "-cert", str(tls_dir / "cert.pem"),
         "-key", str(tls_dir / "key.pem"), "-cipher", "DEFAULT:@SECLEVEL=0"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=lib.clean_env(OPENSSL_CONF=str(cnf)))
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "openssl s_server did not start"
                time.sleep(0.05)
        r = s_client(port, version, "-cipher", "DEFAULT:@SECLEVEL=0", cnf=cnf)
    finally:
        control.kill()
        control.wait(10)
    assert r.returncode == 0, "control: openssl s_server should accept " + version + "\n" + \
        r.stdout[-1500:] + r.stderr[-1500:]
    r = s_client(tls_srv.port, version, "-cipher", "DEFAULT:@SECLEVEL=0", cnf=cnf)
    assert r.returncode != 0, f"{version} was accepted:\n{r.stdout[-1500:]}"
    assert "alert protocol version" in r.stdout + r.stderr, r.stdout[-1500:] + r.stderr[-1500:]
    assert tls_srv.running()


def test_plain_http_request_to_the_tls_port_is_closed_quickly(tls_srv):
    with socket.create_connection(("127.0.0.1", tls_srv.port), timeout=5) as sock:
        t0 = time.monotonic()
        sock.sendall(lib.raw_request("GET", "/ping"))
        data, closed = lib.read_until_closed(sock, 5)
    assert closed - t0 < 1.0, f"closed after {closed - t0:.2f}s"
    assert not data.startswith(b"HTTP/"), data[:200]
    assert tls_srv.running()


def test_silent_client_is_closed_at_the_handshake_deadline(server_factory, small_model, tls_dir):
    srv = start_tls(server_factory, small_model, tls_dir, extra_args=["--request-timeout", "2"])
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        t0 = time.monotonic()
        data, closed = lib.read_until_closed(sock, 10)
    assert data == b"", data[:200]
    assert 1.5 <= closed - t0 <= 4.0, f"closed after {closed - t0:.2f}s, deadline 2 s"


def test_tls_from_environment_and_healthcheck(server_factory, small_model, tls_dir):
    srv = start_tls(server_factory, small_model, tls_dir, via_env=True)
    run = lambda *a, **env: subprocess.run(  # noqa: E731
        [str(lib.MLS_BIN), "healthcheck", "--port", str(srv.port), *a], capture_output=True,
        text=True, timeout=20, env=lib.clean_env(**env))
    ok = run("--tls")
    assert ok.returncode == 0, ok.stderr
    implied = run(MLS_TLS_CERT=str(tls_dir / "cert.pem"))
    assert implied.returncode == 0, implied.stderr
    plain = run("--timeout-ms", "3000")
    assert plain.returncode == 1, plain.stderr


@pytest.mark.parametrize("case", ["key is garbage", "key is missing", "key of another cert",
                                  "cert is garbage", "cert without key"])
def test_unusable_certificate_or_key_stops_the_start_up(tls_dir, small_model, tmp_path, case):
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    args = {"key is garbage": ["--tls-cert", str(cert), "--tls-key", str(garbage)],
            "key is missing": ["--tls-cert", str(cert), "--tls-key", str(tmp_path / "nope.pem")],
            "key of another cert": ["--tls-cert", str(cert),
                                    "--tls-key", str(tls_dir / "other-key.pem")],
            "cert is garbage": ["--tls-cert", str(garbage), "--tls-key", str(key)],
            "cert without key": ["--tls-cert", str(cert)]}[case]
    expected = {"key is garbage": f"cannot use TLS key {garbage}",
                "key is missing": f"cannot read TLS key file {tmp_path / 'nope.pem'}",
                "key of another cert": f"cannot use TLS key {tls_dir / 'other-key.pem'}: "
                                       "error:05800074:x509 certificate routines::key values "
                                       "mismatch",
                "cert is garbage": f"cannot use TLS certificate {garbage}",
                "cert without key": "TLS needs both --tls-cert and --tls-key"}[case]
    t0 = time.monotonic()
    r = subprocess.run(lib.server_command(small_model, lib.free_port(), extra_args=args),
                       capture_output=True, text=True, timeout=20, env=lib.clean_env())
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert expected in out, out
    assert time.monotonic() - t0 < 5, "start-up failure should be immediate"
