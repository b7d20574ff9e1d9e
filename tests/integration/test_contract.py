"""The HTTP contract of `mls serve`: status codes and their JSON error texts, model routing,
body limits, chunked bodies, /execution-parameters, /metrics, keep-alive and pipelining."""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import mls_testlib as lib

GOOD_ROW = "140.5625,55.68378214,-0.234571412,-0.699648398,3.199832776,19.11042633,7.975531794,74.24222492"


# --------------------------------------------------------------------------------------------
# Fixtures: two small forests under one model root, a single-model and a multi-model server.
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_root(tmp_path_factory, small_model, small_rows):
    root = tmp_path_factory.mktemp("models") / "model"
    shutil.copytree(small_model, root / "pulsar")
    tree = lib.make_sm_tree(tmp_path_factory.mktemp("train_b"),
                            {"n_estimators": "10", "seed": "2", "max_depth": "2"},
                            training_files={"train.csv": lib.training_csv(small_rows)})
    lib.train_ok(tree, model_dir=root / "pulsar_b", timeout=120)
    return root


@pytest.fixture(scope="module")
def single(module_server_factory, model_root):
    return module_server_factory.start(model_root / "pulsar")


@pytest.fixture(scope="module")
def multi(module_server_factory, model_root):
    return module_server_factory.start(model_root)


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def assert_still_serving(session, server, what=""):
    r = lib.invoke(session, server, GOOD_ROW + "\n", "text/csv")
    assert r.status_code == 200, f"good request after {what} failed: {r.status_code} {r.text[:300]}"
    assert len(lib.predictions_of(r)) == 1


def rows_with(bad_row: int, bad_col: int, value: str, n_rows: int = 3) -> list[list[str]]:
    rows = [GOOD_ROW.split(",") for _ in range(n_rows)]
    rows[bad_row - 1][bad_col - 1] = value
    return rows


def csv_of(rows) -> str:
    return "".join(",".join(r) + "\n" for r in rows)


def json_of(rows, bad_row=None, bad_col=None, bad_json=None) -> str:
    out = []
    for i, r in enumerate(rows):
        cells = list(r)
        if bad_row is not None and i == bad_row - 1:
            cells[bad_col - 1] = bad_json
        out.append("[" + ",".join(cells) + "]")
    return '{"instances": [' + ",".join(out) + "]}"


def has(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


# --------------------------------------------------------------------------------------------
# 400 with row and column
# --------------------------------------------------------------------------------------------

BAD_INPUTS = [
    # id, content type, body, patterns the error must match
    ("csv-non-numeric", "text/csv", csv_of(rows_with(2, 3, "abc")),
     [r"\brow 2\b", r"\bcolumn 3\b"]),
    ("csv-nan", "text/csv", csv_of(rows_with(3, 5, "nan")), [r"\brow 3\b", r"\bcolumn 5\b"]),
    ("csv-inf", "text/csv", csv_of(rows_with(1, 8, "inf")), [r"\brow 1\b", r"\bcolumn 8\b"]),
    ("csv-empty-cell", "text/csv", csv_of(rows_with(2, 1, "")), [r"\brow 2\b", r"\bcolumn 1\b"]),
    ("csv-7-columns", "text/csv", ",".join(GOOD_ROW.split(",")[:7]) + "\n",
     [r"\brow 1\b", r"\b8\b", r"\b7\b"]),
    ("csv-9-columns-row-2", "text/csv", GOOD_ROW + "\n" + GOOD_ROW + ",1.5\n",
     [r"\brow 2\b", r"\b8\b", r"\b9\b"]),
    ("json-string-cell", "application/json",
     json_of([GOOD_ROW.split(",")] * 3, 2, 4, '"x"'), [r"\brow 2\b", r"\bcolumn 4\b"]),
    ("json-null-cell", "application/json",
     json_of([GOOD_ROW.split(",")] * 2, 1, 6, "null"), [r"\brow 1\b", r"\bcolumn 6\b"]),
    ("json-short-row", "application/json",
     '{"instances": [[' + GOOD_ROW + "],[1,2,3]]}", [r"\brow 2\b", r"\b8\b", r"\b3\b"]),
    ("json-malformed", "application/json", '{"instances": [[1,2', []),
    ("json-wrong-shape", "application/json", '{"instances": 5}', []),
    ("jsonlines-bad-line-3", "application/jsonlines",
     f"[{GOOD_ROW}]\n[{GOOD_ROW}]\n[1,2,\"q\",4,5,6,7,8]\n", [r"\brow 3\b", r"\bcolumn 3\b"]),
    ("csv-empty-body", "text/csv", "", []),
    ("json-empty-body", "application/json", "", []),
    ("jsonlines-empty-body", "application/jsonlines", "", []),
]


@pytest.mark.parametrize("ctype,body,patterns", [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_400_naming_row_and_column(single, session, ctype, body, patterns):
    r = lib.invoke(session, single, body, ctype)
    assert r.status_code == 400, f"expected 400, got {r.status_code}: {r.text[:300]}"
    msg = lib.error_text(r)
    for p in patterns:
        assert has(p, msg), f"error {msg!r} should match {p!r}"
    assert_still_serving(session, single, "a 400")


def test_quoted_and_space_padded_csv_cells(single, session):
    cells = GOOD_ROW.split(",")
    plain = lib.predictions_of(lib.invoke(session, single, GOOD_ROW + "\n", "text/csv"))
    quoted = ",".join(f'"{c}"' for c in cells) + "\n"
    spaced = ",".join(f"  {c} " for c in cells) + "\n"
    for body in (quoted, spaced):
        got = lib.predictions_of(lib.invoke(session, single, body, "text/csv"))
        assert got == plain, f"body {body!r}: {got} vs {plain}"


# --------------------------------------------------------------------------------------------
# Other status codes
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [("GET", "/nope"), ("POST", "/nope"),
                                         ("GET", "/invocations/extra")])
def test_unknown_route_is_404(single, session, method, path):
    r = session.request(method, single.url(path), data=GOOD_ROW if method == "POST" else None,
                        headers={"Content-Type": "text/csv"}, timeout=10)
    assert r.status_code == 404, f"{method} {path}: {r.status_code} {r.text[:300]}"
    lib.error_text(r)
    assert_still_serving(session, single, f"{method} {path}")


@pytest.mark.parametrize("method,path", [("GET", "/invocations"), ("POST", "/ping"),
                                         ("PUT", "/invocations"), ("DELETE", "/ping")])
def test_wrong_method_is_405(single, session, method, path):
    r = session.request(method, single.url(path), data=GOOD_ROW if method in ("POST", "PUT") else None,
                        headers={"Content-Type": "text/csv"}, timeout=10)
    assert r.status_code == 405, f"{method} {path}: {r.status_code} {r.text[:300]}"
    lib.error_text(r)
    assert_still_serving(session, single, f"{method} {path}")


@pytest.mark.parametrize("accept", ["image/png", "application/xml"])
def test_unsupported_accept_is_406(single, session, accept):
    r = lib.invoke(session, single, GOOD_ROW + "\n", "text/csv", accept=accept)
    assert r.status_code == 406, f"Accept {accept}: {r.status_code} {r.text[:300]}"
    lib.error_text(r)
    assert_still_serving(session, single, "a 406")


@pytest.mark.parametrize("ctype", ["application/xml", "text/html"])
def test_unsupported_content_type_is_415(single, session, ctype):
    r = lib.invoke(session, single, "<rows/>", ctype)
    assert r.status_code == 415, f"Content-Type {ctype}: {r.status_code} {r.text[:300]}"
    lib.error_text(r)
    assert_still_serving(session, single, "a 415")


def test_long_custom_attributes_and_unknown_headers_are_fine(single, session):
    attrs = "trace=" + "a" * 1018  # 1024 printable characters, no model key
    assert len(attrs) == 1024
    r = lib.invoke(session, single, GOOD_ROW + "\n", "text/csv", headers={
        "X-Amzn-SageMaker-Custom-Attributes": attrs, "X-Foo": "bar",
        "X-Amzn-SageMaker-Inference-Id": "abc-123", "X-Amzn-SageMaker-Target-Variant": "v1"})
    assert len(lib.predictions_of(r)) == 1


# --------------------------------------------------------------------------------------------
# Routing between two models
# --------------------------------------------------------------------------------------------

def probs(preds):
    return [p["probabilities"] for p in preds]


@pytest.fixture(scope="module")
def references(module_server_factory, single, model_root, probe_rows):
    body = lib.features_csv(probe_rows)
    ref_a = lib.predictions_of(lib.invoke(None, single, body, "text/csv"))
    only_b = module_server_factory.start(model_root / "pulsar_b")
    ref_b = lib.predictions_of(lib.invoke(None, only_b, body, "text/csv"))
    only_b.kill()
    assert probs(ref_a) != probs(ref_b), "the two test models predict identically; routing untestable"
    return body, ref_a, ref_b


@pytest.mark.parametrize("headers,which", [
    ({"X-Amzn-SageMaker-Custom-Attributes": "model=pulsar_b"}, "b"),
    ({"X-Amzn-SageMaker-Custom-Attributes": "model=pulsar"}, "a"),
    ({"X-Amzn-SageMaker-Custom-Attributes": "foo=bar;model=pulsar"}, "a"),
    ({"X-Amzn-SageMaker-Custom-Attributes": "model=pulsar_b,foo=bar"}, "b"),
    ({"X-Amzn-SageMaker-Custom-Attributes": "foo=bar, model=pulsar_b"}, "b"),
    ({"X-Amzn-SageMaker-Target-Model": "pulsar_b"}, "b"),
    ({"X-Amzn-SageMaker-Target-Model": "pulsar"}, "a"),
], ids=["attr-b", "attr-a", "attr-semicolon-a", "attr-comma-b", "attr-comma-space-b",
        "target-b", "target-a"])
def test_routing_by_name(multi, session, references, headers, which):
    body, ref_a, ref_b = references
    got = lib.predictions_of(lib.invoke(session, multi, body, "text/csv", headers=headers))
    want = ref_a if which == "a" else ref_b
    assert probs(got) == probs(want), f"{headers} was not routed to model {which}"


def test_multi_model_ping_ready(multi, session):
    r = session.get(multi.url("/ping"), timeout=5)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("headers", [{}, {"X-Amzn-SageMaker-Custom-Attributes": "foo=bar"}],
                         ids=["no-header", "attr-without-model"])
def test_no_model_named_with_two_models_is_400(multi, session, headers):
    r = lib.invoke(session, multi, GOOD_ROW + "\n", "text/csv", headers=headers)
    assert r.status_code == 400, f"{r.status_code} {r.text[:300]}"
    assert has(r"model", lib.error_text(r))


@pytest.mark.parametrize("headers", [{"X-Amzn-SageMaker-Custom-Attributes": "model=nope"},
                                     {"X-Amzn-SageMaker-Target-Model": "nope"}],
                         ids=["attr", "target"])
def test_unknown_model_is_404_listing_models(multi, session, headers):
    r = lib.invoke(session, multi, GOOD_ROW + "\n", "text/csv", headers=headers)
    assert r.status_code == 404, f"{r.status_code} {r.text[:300]}"
    msg = lib.error_text(r)
    assert "pulsar_b" in msg and has(r"\bpulsar\b", msg), f"error should list the models: {msg!r}"
    ok = lib.invoke(session, multi, GOOD_ROW + "\n", "text/csv",
                    headers={"X-Amzn-SageMaker-Target-Model": "pulsar"})
    assert len(lib.predictions_of(ok)) == 1


# --------------------------------------------------------------------------------------------
# No model: 503
# --------------------------------------------------------------------------------------------

def test_empty_model_dir_is_503(server_factory, tmp_path):
    empty = tmp_path / "empty_model"
    empty.mkdir()
    srv = server_factory.start(empty, wait="responding")
    for _ in range(2):  # once as soon as it answers, once after loading has surely finished
        r = requests.get(srv.url("/ping"), timeout=5)
        assert r.status_code == 503, f"/ping on an empty model dir: {r.status_code} {r.text[:300]}"
        lib.error_text(r)
        time.sleep(1.0)
    r = lib.invoke(None, srv, GOOD_ROW + "\n", "text/csv")
    assert r.status_code == 503, f"/invocations with no model: {r.status_code} {r.text[:300]}"
    lib.error_text(r)
    assert srv.running(), "server should keep running (and answering 503) with no model"


# --------------------------------------------------------------------------------------------
# Body limit, chunked bodies
# --------------------------------------------------------------------------------------------

def csv_body_of_size(rows: list[lib.Row], size: int) -> tuple[bytes, int]:
    """A valid CSV body of exactly `size` bytes (rows cycled; leading spaces pad the last lines).
    Returns (body, number of rows)."""
    lines = []
    total = 0
    i = 0
    while True:
        line = rows[i % len(rows)].csv_features() + "\n"
        if total + len(line) > size - 200:
            break
        lines.append(line)
        total += len(line)
        i += 1
    pad = size - total
    # Spread the padding as leading spaces over the last lines, at most 40 per line.
    j = len(lines) - 1
    while pad > 0:
        n = min(40, pad)
        lines[j] = " " * n + lines[j]
        pad -= n
        j -= 1
    body = "".join(lines).encode()
    assert len(body) == size
    return body, len(lines)


@pytest.fixture(scope="module")
def body_6mib(probe_rows):
    return csv_body_of_size(probe_rows, lib.SIX_MIB)


def test_body_of_exactly_6mib_is_accepted(single, session, body_6mib):
    body, n_rows = body_6mib
    r = lib.invoke(session, single, body, "text/csv", accept="text/csv", timeout=120)
    assert r.status_code != 413, "a body of exactly 6,291,456 bytes must not be 413"
    assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"
    assert len(r.text.splitlines()) == n_rows


def test_body_of_6mib_plus_one_is_413(single, body_6mib):
    body, _ = body_6mib
    body = b" " + body
    assert len(body) == lib.SIX_MIB + 1
    try:
        r = lib.invoke(None, single, body, "text/csv", timeout=60)
    except requests.ConnectionError as exc:
        pytest.fail(f"the client never saw a 413: the connection broke while sending ({exc})")
    assert r.status_code == 413, f"{r.status_code} {r.text[:300]}"
    lib.error_text(r)
    with requests.Session() as s:
        assert_still_serving(s, single, "a 413")


def test_max_payload_env_raises_the_limit(server_factory, model_root, body_6mib):
    srv = server_factory.start(model_root / "pulsar", env={"SAGEMAKER_MAX_PAYLOAD_IN_MB": "8"})
    r = requests.get(srv.url("/execution-parameters"), timeout=5)
    assert r.status_code == 200 and r.json().get("MaxPayloadInMB") == 8, r.text
    body, n_rows = body_6mib
    body = b" " * 1000 + body
    r = lib.invoke(None, srv, body, "text/csv", accept="text/csv", timeout=120)
    assert r.status_code == 200, f"{len(body)} bytes under an 8 MB limit: {r.status_code} {r.text[:300]}"
    assert len(r.text.splitlines()) == n_rows


def test_chunked_body_is_accepted(single, session, probe_rows):
    rows = probe_rows * 4
    text = lib.features_csv(rows).encode()
    want = lib.predictions_of(lib.invoke(session, single, text, "text/csv"))

    def gen():
        for k in range(0, len(text), 4096):
            yield text[k:k + 4096]

    r = session.post(single.url("/invocations"), data=gen(),
                     headers={"Content-Type": "text/csv"}, timeout=60)
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    got = lib.predictions_of(r)
    assert got == want, "chunked body gave different predictions"


# --------------------------------------------------------------------------------------------
# /execution-parameters, /metrics
# --------------------------------------------------------------------------------------------

def test_execution_parameters(single, session):
    r = session.get(single.url("/execution-parameters"), timeout=5)
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    doc = r.json()
    assert isinstance(doc.get("MaxConcurrentTransforms"), int) and doc["MaxConcurrentTransforms"] >= 1, doc
    assert doc.get("BatchStrategy") == "MULTI_RECORD", doc
    assert isinstance(doc.get("MaxPayloadInMB"), int) and doc["MaxPayloadInMB"] == 6, doc


def scrape(session, server):
    r = session.get(server.url("/metrics"), timeout=5)
    assert r.status_code == 200, r.text[:300]
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    return list(text_string_to_metric_families(r.text))


def request_count(families, route, code):
    total = 0.0
    for fam in families:
        for s in fam.samples:
            if (s.name == "mls_http_requests_total" and s.labels.get("route") == route
                    and s.labels.get("code") == code):
                total += s.value
    return total


def test_metrics(single, session):
    before = scrape(session, single)
    assert_still_serving(session, single, "a scrape")
    r = lib.invoke(session, single, "1,2\n", "text/csv")
    assert r.status_code == 400
    after = scrape(session, single)

    assert request_count(after, "/invocations", "200") >= request_count(before, "/invocations", "200") + 1
    assert request_count(after, "/invocations", "400") >= request_count(before, "/invocations", "400") + 1
    samples = [s for fam in after for s in fam.samples if s.name == "mls_http_requests_total"]
    assert samples and all({"route", "code"} <= set(s.labels) for s in samples), samples
    assert any(s.labels.get("route") == "/invocations" and s.labels.get("model")
               for s in samples), f"no /invocations sample labelled with its model: {samples}"

    by_name = {fam.name: fam for fam in after}
    for hist in ("mls_http_request_duration_seconds", "mls_inference_duration_seconds"):
        assert hist in by_name and by_name[hist].type == "histogram", f"no histogram {hist}"
        assert any(s.name == hist + "_bucket" and s.labels.get("le") == "+Inf"
                   for s in by_name[hist].samples), f"{hist} has no +Inf bucket"
        assert any(s.name == hist + "_count" and s.value >= 1 for s in by_name[hist].samples), \
            f"{hist} counted nothing"
    loaded = [s for s in by_name["mls_model_loaded"].samples] if "mls_model_loaded" in by_name else []
    assert any(s.labels.get("model") and s.value == 1 for s in loaded), \
        f"mls_model_loaded{{model=...}} should be 1 for the loaded model: {loaded}"
    for gauge in ("process_resident_memory_bytes", "process_open_fds"):
        assert gauge in by_name and by_name[gauge].samples[0].value > 0, f"{gauge} missing or zero"


# --------------------------------------------------------------------------------------------
# Keep-alive and pipelining
# --------------------------------------------------------------------------------------------

def test_keep_alive_100_requests_one_connection(single):
    with requests.Session() as s:
        for i in range(100):
            if i % 2:
                r = s.get(single.url("/ping"), timeout=5)
            else:
                r = lib.invoke(s, single, GOOD_ROW + "\n", "text/csv", timeout=5)
            assert r.status_code == 200, f"request {i}: {r.status_code} {r.text[:200]}"
            assert r.headers.get("Connection", "").lower() != "close", f"request {i} closed"
        pool = s.get_adapter(single.base).poolmanager.connection_from_url(single.base)
        assert pool.num_connections == 1, f"{pool.num_connections} connections for 100 requests"


def test_keep_alive_after_errors(single):
    """Errors (400, 404, 405, 415) must not cost the client its connection."""
    with requests.Session() as s:
        s.post(single.url("/invocations"), data="x", headers={"Content-Type": "text/csv"}, timeout=5)
        s.get(single.url("/nope"), timeout=5)
        s.get(single.url("/invocations"), timeout=5)
        s.post(single.url("/invocations"), data="x", headers={"Content-Type": "application/xml"},
               timeout=5)
        assert_still_serving(s, single, "errors")
        pool = s.get_adapter(single.base).poolmanager.connection_from_url(single.base)
        assert pool.num_connections == 1, f"{pool.num_connections} connections for 5 requests"


def test_pipelining_three_requests_in_one_send(single, probe_rows):
    one = lib.features_csv(probe_rows[:1]).encode()
    three = lib.features_csv(probe_rows[1:4]).encode()
    payload = (lib.raw_request("POST", "/invocations", one, {"Content-Type": "text/csv"})
               + lib.raw_request("GET", "/ping")
               + lib.raw_request("POST", "/invocations", three,
                                 {"Content-Type": "text/csv", "Accept": "text/csv"}))
    with socket.create_connection(("127.0.0.1", single.port), timeout=10) as sock:
        sock.sendall(payload)
        f = sock.makefile("rb")
        r1 = lib.read_raw_response(f)
        r2 = lib.read_raw_response(f)
        r3 = lib.read_raw_response(f)
    assert r1.status == 200 and len(r1.json()["predictions"]) == 1, (r1.status, r1.body[:300])
    assert r2.status == 200 and r2.json().get("status") == "ready", (r2.status, r2.body[:300])
    assert r3.status == 200 and len(r3.body.decode().splitlines()) == 3, (r3.status, r3.body[:300])


def test_sequential_requests_on_raw_socket(single):
    with socket.create_connection(("127.0.0.1", single.port), timeout=10) as sock:
        f = sock.makefile("rb")
        for i in range(5):
            sock.sendall(lib.raw_request("POST", "/invocations", (GOOD_ROW + "\n").encode(),
                                         {"Content-Type": "text/csv"}))
            r = lib.read_raw_response(f)
            assert r.status == 200, (i, r.status, r.body[:300])
            assert len(json.loads(r.body)["predictions"]) == 1


# --------------------------------------------------------------------------------------------
# Concurrency: /ping stays fast while large requests are scored; concurrent results are right.
# --------------------------------------------------------------------------------------------

def test_ping_answers_while_large_requests_are_scored(single, htru2):
    rows = [htru2[i % len(htru2)] for i in range(50_000)]
    body = lib.features_csv(rows).encode()
    reference = lib.invoke(None, single, body, "text/csv", accept="text/csv", timeout=120)
    assert reference.status_code == 200, reference.text[:300]
    results: list = [None] * 4

    def worker(k):
        try:
            results[k] = lib.invoke(None, single, body, "text/csv", accept="text/csv", timeout=120)
        except Exception as exc:  # reported below
            results[k] = exc

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(results))]
    for t in threads:
        t.start()
    worst = 0.0
    pings = 0
    while any(t.is_alive() for t in threads):
        t0 = time.monotonic()
        r = requests.get(single.url("/ping"), timeout=5)  # a new connection each time
        worst = max(worst, time.monotonic() - t0)
        pings += 1
        assert r.status_code == 200, f"/ping under load: {r.status_code} {r.text[:200]}"
        time.sleep(0.01)
    for t in threads:
        t.join()
    assert worst < 1.0, f"/ping took {worst:.2f}s while requests were being scored"
    for k, res in enumerate(results):
        assert isinstance(res, requests.Response), f"concurrent request {k} raised {res!r}"
        assert res.status_code == 200, f"concurrent request {k}: {res.status_code} {res.text[:200]}"
        assert res.text == reference.text, f"concurrent request {k} differs from the sequential one"


# --------------------------------------------------------------------------------------------
# CSV header: a first line equal to the model's feature names is skipped.
# --------------------------------------------------------------------------------------------

FEATURE_NAMES = ["mean_ip", "sd_ip", "kurt_ip", "skew_ip", "mean_dm", "sd_dm", "kurt_dm", "skew_dm"]


@pytest.fixture(scope="module")
def named_server(tmp_path_factory, small_rows, module_server_factory):
    header = ",".join(FEATURE_NAMES) + ",label\n"
    tree = lib.make_sm_tree(tmp_path_factory.mktemp("named"), {"n_estimators": "5", "seed": "1"},
                            training_files={"train.csv": header + lib.training_csv(small_rows)})
    lib.train_ok(tree, timeout=60)
    return module_server_factory.start(tree.model_dir)


def test_csv_header_equal_to_feature_names_is_skipped(named_server, session, probe_rows):
    rows = probe_rows[:5]
    plain = lib.predictions_of(lib.invoke(session, named_server, lib.features_csv(rows), "text/csv"))
    for eol in ("\n", "\r\n", "\r"):
        body = ",".join(FEATURE_NAMES) + eol + lib.features_csv(rows, eol=eol)
        got = lib.predictions_of(lib.invoke(session, named_server, body, "text/csv"))
        assert got == plain, f"header line with {eol!r} line ends was not skipped cleanly"


def test_csv_other_text_first_line_is_400(named_server, session, probe_rows):
    body = "a,b,c,d,e,f,g,h\n" + lib.features_csv(probe_rows[:3])
    r = lib.invoke(session, named_server, body, "text/csv")
    assert r.status_code == 400, f"{r.status_code} {r.text[:300]}"
    assert has(r"\brow 1\b", lib.error_text(r))


# --------------------------------------------------------------------------------------------
# Robustness: hostile or odd bodies are a 4xx, never a 5xx, a crash or a hang.
# --------------------------------------------------------------------------------------------

HOSTILE = [
    ("binary-garbage", "text/csv", b"\x00\xff\xfe\x01" * 256),
    ("overflow-to-inf", "text/csv", ("1e999," + ",".join(["1"] * 7) + "\n").encode()),
    ("only-newlines", "text/csv", b"\n\n\r\n\r"),
    ("trailing-comma", "text/csv", (GOOD_ROW + ",\n").encode()),
    ("deeply-nested-json", "application/json", b"[" * 200_000),
    ("json-huge-number", "application/json", ("[1e400," + ",".join(["1"] * 7) + "]").encode()),
    ("json-object-without-rows", "application/json", b'{"foo": [[1,2,3,4,5,6,7,8]]}'),
    ("jsonlines-garbage", "application/jsonlines", b"{not json}\n"),
    ("one-very-long-line", "text/csv", b"1," * 500_000 + b"1\n"),
]


@pytest.mark.parametrize("ctype,body", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_bodies_are_4xx(single, session, ctype, body):
    r = lib.invoke(session, single, body, ctype, timeout=30)
    assert 400 <= r.status_code < 500, f"{r.status_code} {r.text[:300]}"
    lib.error_text(r)
    assert single.running(), "server died\n" + single.describe()
    assert_still_serving(session, single, "a hostile body")


@pytest.mark.parametrize("ctype", ["text/csv; charset=utf-8", "Text/CSV", "text/csv;header=absent"])
def test_content_type_parameters_and_case(single, session, ctype):
    r = lib.invoke(session, single, GOOD_ROW + "\n", ctype)
    assert len(lib.predictions_of(r)) == 1, f"Content-Type {ctype!r}"


def test_json_content_type_with_charset(single, session):
    r = lib.invoke(session, single, "[" + GOOD_ROW + "]", "application/json; charset=utf-8")
    assert len(lib.predictions_of(r)) == 1
