"""Fixtures for the black-box integration tests: the binary, HTRU2, small trained models, and
server factories that always kill what they started and attach server logs to failing tests."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

import mls_testlib as lib


# --------------------------------------------------------------------------------------------
# Attach the logs of relevant servers to a failing test's report.
# --------------------------------------------------------------------------------------------

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._mls_t0 = time.monotonic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    t0 = getattr(item, "_mls_t0", 0.0)
    for srv in lib.ALL_SERVERS:
        if srv.started_at >= t0 or srv.running():
            rep.sections.append((f"mls server log: {' '.join(srv.args[1:])}", srv.log_tail()))


# --------------------------------------------------------------------------------------------
# Binary and data
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def mls_bin() -> Path:
    if not lib.MLS_BIN.is_file():
        pytest.fail(f"mls binary not found at {lib.MLS_BIN}: build it "
                    "(cmake --build build/release) or set MLS_BIN", pytrace=False)
    return lib.MLS_BIN


@pytest.fixture(scope="session")
def htru2() -> list[lib.Row]:
    rows = lib.load_htru2()
    assert len(rows) > 10000, f"HTRU2 looks truncated: {len(rows)} rows"
    return rows


@pytest.fixture(scope="session")
def small_rows(htru2) -> list[lib.Row]:
    """3,000 rows of HTRU2 (seeded shuffle) for the small forests used outside the e2e test."""
    rows = list(htru2)
    random.Random(11).shuffle(rows)
    return rows[:3000]


@pytest.fixture(scope="session")
def probe_rows(htru2) -> list[lib.Row]:
    """Rows to send to small models: both classes, deterministic."""
    pos = [r for r in htru2 if r.label == 1][:60]
    neg = [r for r in htru2 if r.label == 0][:240]
    mixed = []
    for i in range(len(neg)):
        mixed.append(neg[i])
        if i % 4 == 0 and i // 4 < len(pos):
            mixed.append(pos[i // 4])
    return mixed


@pytest.fixture(scope="session")
def small_model(tmp_path_factory, small_rows) -> Path:
    """A 10-tree forest (seed 1) trained once per session; returns its model dir."""
    root = tmp_path_factory.mktemp("small_model")
    tree = lib.make_sm_tree(root, {"n_estimators": "10", "seed": "1"},
                            training_files={"train.csv": lib.training_csv(small_rows)})
    lib.train_ok(tree, timeout=120)
    return tree.model_dir


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------

class ServerFactory:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.servers: list[lib.ServerProcess] = []

    def start(self, model_dir: Path | None, *, port: int | None = None, use_port_flag: bool = True,
              env: dict[str, str] | None = None, extra_args: list[str] | None = None,
              subcommand: bool = True, wait: str | None = "ready",
              timeout: float = 10.0) -> lib.ServerProcess:
        """wait: "ready" (/ping 200), "responding" (/ping answers anything) or None."""
        port = port or lib.free_port()
        args = lib.server_command(model_dir, port if use_port_flag else None,
                                  subcommand=subcommand, extra_args=extra_args)
        log = self.log_dir / f"server-{len(self.servers)}-{port}.log"
        srv = lib.ServerProcess(args, port, log, lib.clean_env(**(env or {})))
        self.servers.append(srv)
        srv.start()
        if wait == "ready":
            srv.wait_ready(timeout)
        elif wait == "responding":
            srv.wait_responding(timeout)
        return srv

    def cleanup(self) -> None:
        for srv in self.servers:
            srv.kill()


@pytest.fixture
def server_factory(tmp_path):
    factory = ServerFactory(tmp_path)
    yield factory
    factory.cleanup()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory.mktemp("server_logs"))
    yield factory
    factory.cleanup()
