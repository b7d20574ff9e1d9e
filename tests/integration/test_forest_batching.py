"""Dynamic batching of large tabular requests: requests over --inline-max-bytes that arrive together
share one forest pass, and each still gets exactly the answer it gets alone, bad-record placeholders
included; --max-batch-rows 0 turns it off."""

from __future__ import annotations

import concurrent.futures
import random

import requests

import mls_testlib as lib

# Requests of 150 rows: about 13 KB of CSV, over the 8 KiB --inline-max-bytes, so each is decoded
# on an inference thread and queued for the forest's batcher.
ROWS_PER_REQUEST = 150
REQUESTS = 12


def large_bodies(htru2: list[lib.Row]) -> list[str]:
    rows = list(htru2)
    random.Random(5).shuffle(rows)
    bodies = []
    for i in range(REQUESTS):
        chunk = rows[i * ROWS_PER_REQUEST:(i + 1) * ROWS_PER_REQUEST]
        bodies.append(lib.features_csv(chunk))
    assert all(len(b) > 8192 for b in bodies), [len(b) for b in bodies]
    return bodies


def batch_requests_histogram(server: lib.ServerProcess) -> tuple[float, float]:
    """(batches, requests) so far from mls_inference_batch_requests for model 'model'."""
    text = requests.get(server.url("/metrics"), timeout=5).text
    count = total = 0.0
    for line in text.splitlines():
        if line.startswith("mls_inference_batch_requests_count"):
            count = float(line.split()[-1])
        if line.startswith("mls_inference_batch_requests_sum"):
            total = float(line.split()[-1])
    return count, total


def concurrently(server: lib.ServerProcess, bodies: list[str], accept: str = "text/csv"
                 ) -> list[requests.Response]:
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda b: lib.invoke(None, server, b, accept=accept), bodies))


def test_large_requests_arriving_together_share_a_pass_and_keep_their_answers(
        server_factory, small_model, htru2):
    bodies = large_bodies(htru2)
    unbatched = server_factory.start(small_model, extra_args=["--max-batch-rows", "0"])
    expected = [lib.invoke(None, unbatched, b, accept="text/csv") for b in bodies]
    assert all(r.status_code == 200 for r in expected)
    assert all(len(r.text.splitlines()) == ROWS_PER_REQUEST for r in expected)

    # One compute thread that waits up to a second for company: requests sent together must join.
    batched = server_factory.start(
        small_model, extra_args=["--workers", "1", "--max-batch-delay-us", "1000000"])
    got = concurrently(batched, bodies)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g.status_code == 200, (i, g.status_code, g.text[:300])
        assert g.text == e.text, f"request {i} answered differently when batched"
    batches, total = batch_requests_histogram(batched)
    assert total == REQUESTS, total
    assert batches < REQUESTS, f"{REQUESTS} concurrent requests ran as {batches} batches"
    assert "large requests batched up to 16384 rows" in batched.log_text()


def test_small_requests_are_not_batched(server_factory, small_model, probe_rows):
    srv = server_factory.start(small_model, extra_args=["--max-batch-delay-us", "1000000"])
    body = lib.features_csv(probe_rows[:20])  # well under --inline-max-bytes
    resp = lib.invoke(None, srv, body, accept="text/csv", timeout=0.9)
    assert resp.status_code == 200 and len(resp.text.splitlines()) == 20
    assert batch_requests_histogram(srv) == (0.0, 0.0)


def test_placeholders_stay_on_their_rows_when_batched(server_factory, small_model, htru2):
    bodies = large_bodies(htru2)[:6]
    bad_at = [7, 0, ROWS_PER_REQUEST - 1, 42, 99, 3]
    broken = []
    for body, row in zip(bodies, bad_at):
        lines = body.splitlines()
        lines[row] = "1,2,abc,4,5,6,7,8"
        broken.append("\n".join(lines) + "\n")
    reference = server_factory.start(small_model, extra_args=["--max-batch-rows", "0"])
    alone = [lib.invoke(None, reference, b, accept="text/csv").text.splitlines() for b in bodies]

    srv = server_factory.start(small_model, extra_args=[
        "--bad-record", "placeholder", "--workers", "1", "--max-batch-delay-us", "1000000"])
    got = concurrently(srv, broken)
    for i, (resp, row) in enumerate(zip(got, bad_at)):
        assert resp.status_code == 200, (i, resp.text[:300])
        lines = resp.text.splitlines()
        assert len(lines) == ROWS_PER_REQUEST
        assert lines[row].startswith('"error: ') and f"row {row + 1}, column 3" in lines[row], \
            lines[row]
        # Every other row scores exactly as it does in the unbroken request alone.
        assert lines[:row] + lines[row + 1:] == alone[i][:row] + alone[i][row + 1:], i
    batches, total = batch_requests_histogram(srv)
    assert total == len(broken) and batches < len(broken), (batches, total)


def test_batching_off_runs_every_large_request_alone(server_factory, small_model, htru2):
    srv = server_factory.start(small_model, extra_args=["--max-batch-rows", "0"])
    got = concurrently(srv, large_bodies(htru2))
    assert all(r.status_code == 200 for r in got)
    assert batch_requests_histogram(srv) == (0.0, 0.0)
    assert "batched" not in srv.log_text()
