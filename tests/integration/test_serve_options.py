"""Serve options beyond the defaults: bad-record placeholders, JSON logs, HEAD, Expect: 100-continue,
the request-row limit and the inference id."""

from __future__ import annotations

import json
import socket
import time

import requests

import mls_testlib as lib


def test_placeholder_keeps_one_answer_per_row_in_every_output(server_factory, small_model, probe_rows):
    srv = server_factory.start(small_model, extra_args=["--bad-record", "placeholder"])
    good = [r.csv_features() for r in probe_rows[:4]]
    body = "\n".join([good[0], "1,2,abc,4,5,6,7,8", good[1], "1,2,3", good[2]]) + "\n"

    csv_lines = lib.invoke(None, srv, body, accept="text/csv").text.splitlines()
    assert len(csv_lines) == 5, csv_lines
    assert "row 2, column 3" in csv_lines[1] and csv_lines[1].startswith('"error: '), csv_lines[1]
    assert "row 4: expected 8 columns, got 3" in csv_lines[3], csv_lines[3]

    preds = lib.predictions_of(lib.invoke(None, srv, body))
    assert len(preds) == 5
    assert set(preds[1]) == {"error"} and "column 3" in preds[1]["error"]
    assert set(preds[3]) == {"error"}
    # The good rows score exactly as they do alone.
    alone = lib.predictions_of(lib.invoke(None, srv, "\n".join(good[:3]) + "\n"))
    assert [preds[0], preds[2], preds[4]] == alone

    lines = ["[" + ",".join(probe_rows[0].cells) + "]", "[1,2]", "not json"]
    out = lib.invoke(None, srv, "\n".join(lines), content_type="application/jsonlines",
                     accept="application/jsonlines").text.splitlines()
    assert len(out) == 3
    assert "probabilities" in json.loads(out[0])
    assert "expected 8 columns, got 2" in json.loads(out[1])["error"]
    assert "invalid JSON" in json.loads(out[2])["error"]


def test_without_placeholder_one_bad_row_fails_the_request(server_factory, small_model, probe_rows):
    srv = server_factory.start(small_model)
    body = probe_rows[0].csv_features() + "\n1,2,abc,4,5,6,7,8\n"
    resp = lib.invoke(None, srv, body)
    assert resp.status_code == 400
    assert "row 2, column 3" in lib.error_text(resp)


def test_json_log_format_writes_one_object_per_line(server_factory, small_model):
    srv = server_factory.start(small_model, extra_args=["--log-format", "json", "--log-requests"])
    requests.get(srv.url("/ping"), timeout=5)
    srv.terminate()
    assert srv.wait_exit(10) == 0
    lines = [line for line in srv.log_text().splitlines() if line.strip()]
    assert lines, "no log output"
    records = [json.loads(line) for line in lines]  # every line must be JSON
    assert all({"time", "level", "message"} <= set(r) for r in records)
    assert any("listening on" in r["message"] for r in records)
    assert any("/ping" in r["message"] for r in records), "--log-requests logged no request"


def test_head_ping_has_no_body(server_factory, small_model):
    srv = server_factory.start(small_model)
    resp = requests.head(srv.url("/ping"), timeout=5)
    assert resp.status_code == 200
    assert resp.content == b""


def test_expect_100_continue_gets_an_interim_response(server_factory, small_model, probe_rows):
    srv = server_factory.start(small_model)
    body = lib.features_csv(probe_rows[:3]).encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        head = lib.raw_request("POST", "/invocations", b"", {
            "Content-Type": "text/csv", "Content-Length": str(len(body)), "Expect": "100-continue"})
        s.sendall(head)
        interim = s.recv(4096)
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
        s.sendall(body)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"]}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]


def test_oversized_content_length_is_refused_before_the_body(server_factory, small_model):
    srv = server_factory.start(small_model)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(lib.raw_request("POST", "/invocations", b"", {
            "Content-Type": "text/csv", "Content-Length": str(50 << 20)}))
        reply = s.recv(4096)  # answered without waiting for 50 MB that never comes
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"over the limit" in reply


def test_max_rows_limit(server_factory, small_model, probe_rows):
    srv = server_factory.start(small_model, extra_args=["--max-rows", "5"])
    assert lib.invoke(None, srv, lib.features_csv(probe_rows[:5])).status_code == 200
    resp = lib.invoke(None, srv, lib.features_csv(probe_rows[:6]))
    assert resp.status_code == 413
    assert "more than 5 rows" in lib.error_text(resp)


def test_max_json_depth_limit(server_factory, small_model, probe_rows):
    srv = server_factory.start(small_model, extra_args=["--max-json-depth", "3"])
    row = probe_rows[0].json_features()
    # {"instances": [[...]]} nests three deep: allowed; one more level is refused with the limit.
    assert lib.invoke(None, srv, '{"instances": [' + row + "]}",
                      content_type="application/json").status_code == 200
    resp = lib.invoke(None, srv, '{"x": [[[1]]], "instances": [' + row + "]}",
                      content_type="application/json")
    assert resp.status_code == 400
    assert lib.error_text(resp) == "JSON nested deeper than 3 levels"


def test_inference_id_is_echoed(server_factory, small_model, probe_rows):
    srv = server_factory.start(small_model)
    resp = lib.invoke(None, srv, probe_rows[0].csv_features(),
                      headers={"X-Amzn-SageMaker-Inference-Id": "abc-123"})
    assert resp.status_code == 200
    assert resp.headers.get("X-Amzn-SageMaker-Inference-Id") == "abc-123"


def test_emf_lines_count_requests_errors_and_latency(server_factory, small_model, probe_rows):
    srv = server_factory.start(small_model, extra_args=["--emf-interval", "1"])
    for row in probe_rows[:3]:
        assert lib.invoke(None, srv, row.csv_features()).status_code == 200
    assert lib.invoke(None, srv, "1,2,abc,4,5,6,7,8").status_code == 400
    time.sleep(1.5)
    srv.terminate()
    assert srv.wait_exit(10) == 0
    emf = [json.loads(line) for line in srv.log_text().splitlines()
           if line.startswith('{') and '"_aws"' in line]
    assert emf, "no EMF line in the output"
    directive = emf[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Route"]]
    assert {"Requests", "ClientErrors", "LatencyP99"} <= {m["Name"] for m in directive["Metrics"]}
    assert sum(e["Requests"] for e in emf) == 4
    assert sum(e["ClientErrors"] for e in emf) == 1
    assert sum(e["ServerErrors"] for e in emf) == 0
    busy = [e for e in emf if e["Requests"] > 0]
    assert all(0 < e["LatencyP50"] <= e["LatencyP99"] < 1000 for e in busy), busy
