#!/usr/bin/env python3
"""bench/soak.py: hold `mls serve` at a steady fraction of its capacity for a long time and check
that nothing degrades.

    bench/soak.py                      # 600 s at 80 % of the measured capacity (trains a forest)
    bench/soak.py --duration 60        # the CI version (ctest -L soak)
    bench/soak.py --model-dir DIR --rate 2000 --duration 300 --json out.json

Steps: start `mls serve` on the pulsar forest (trained here from HTRU2 unless --model-dir is given),
measure the capacity briefly (closed loop: every connection sends its next request as soon as the
answer arrives; the figure is what this load generator and the server reach together), then send
single-row text/csv requests at a constant rate (open loop: each request has a scheduled send time,
latency counts from it, so a stall shows up as latency instead of silently lowering the rate; a
connection more than 1 s behind skips the slots it missed and counts them) for
--duration seconds. Every --window seconds it samples: requests, errors (a status other than 200,
a connection failure or a timeout), p50/p99 latency, and the server's RSS (/proc/PID/status VmRSS)
and open file descriptors.

Exits non-zero when any request failed, when the RSS grew by --max-rss-growth percent (default 5)
or more from the end of the warm-up to the end, or when the server died. The p99 drift (last window
against the first) and the fd count are reported, not judged: on a shared machine the tail latency
moves with the neighbours.

Plain Python 3 (asyncio), no third-party packages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mls",
                   default=os.environ.get("MLS_BIN", str(ROOT / "build/release/server/mls")),
                   help="the mls executable (default: $MLS_BIN or build/release/server/mls)")
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/htru2/HTRU_2.csv"),
                   help="HTRU2 CSV: training data (when no --model-dir) and request rows")
    p.add_argument("--model-dir", help="a trained forest to serve (default: train one here)")
    p.add_argument("--trees", type=int, default=100, help="trees of the forest trained here")
    p.add_argument("--duration", type=float, default=600, help="seconds of steady load")
    p.add_argument("--load-fraction", type=float, default=0.8, help="share of the capacity to hold")
    p.add_argument("--rate", type=float, help="requests/s to hold (skips the capacity measurement)")
    p.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    p.add_argument("--capacity-seconds", type=float, default=5, help="length of the capacity run")
    p.add_argument("--warmup", type=float, default=10, help="seconds at the target rate before "
                   "the RSS baseline is taken")
    p.add_argument("--window", type=float, default=5, help="seconds per sample")
    p.add_argument("--timeout", type=float, default=10, help="per-request timeout (an error)")
    p.add_argument("--max-rss-growth", type=float, default=5.0, help="percent; fail at or above")
    p.add_argument("--server-args", default="", help="extra `mls serve` flags, space-separated")
    p.add_argument("--json", help="also write the samples and summary here")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------
# The server
# ------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_forest(mls: str, data: Path, work: Path, trees: int) -> Path:
    training = work / "input/data/training"
    training.mkdir(parents=True)
    (work / "input/config").mkdir(parents=True)
    (training / "train.csv").write_bytes(data.read_bytes())
    (work / "input/config/hyperparameters.json").write_text(json.dumps(
        {"n_estimators": str(trees), "seed": "1", "model_name": "pulsar",
         "class_names": "noise,pulsar"}))
    t0 = time.monotonic()
    p = subprocess.run([mls, "train", "--input-dir", str(work / "input"),
                        "--model-dir", str(work / "model"), "--output-dir", str(work / "output")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"soak: training failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    print(f"soak: trained a {trees}-tree forest in {time.monotonic() - t0:.1f} s", flush=True)
    return work / "model"


def start_server(mls: str, model_dir: Path, port: int, log: Path, extra: list[str]):
    logf = open(log, "wb")
    proc = subprocess.Popen([mls, "serve", "--port", str(port), "--model-dir", str(model_dir),
                             *extra], stdout=logf, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"soak: the server exited ({proc.returncode}) before /ping:\n"
                     + log.read_text(errors="replace")[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                if r.status == 200:
                    return proc, logf
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    sys.exit("soak: /ping was not 200 within 30 s")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# ------------------------------------------------------------------------------------------------
# The load generator
# ------------------------------------------------------------------------------------------------

class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ok = 0
        self.errors = 0
        self.error_kinds: dict[str, int] = {}
        self.missed = 0  # send slots skipped because this generator was over 1 s behind

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


class Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, port: int, bodies: list[bytes], timeout: float) -> None:
        self.port = port
        self.bodies = bodies
        self.timeout = timeout
        self.reader = None
        self.writer = None
        self.i = random.randrange(len(bodies))

    async def request(self) -> str | None:
        """Sends one request and reads the answer; returns an error kind or None."""
        try:
            async with asyncio.timeout(self.timeout):
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection("127.0.0.1",
                                                                             self.port)
                self.i = (self.i + 1) % len(self.bodies)
                self.writer.write(self.bodies[self.i])
                head = await self.reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                close = False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                if length:
                    await self.reader.readexactly(length)
            if close:
                self.close()
            return None if status == 200 else f"HTTP {status}"
        except TimeoutError:
            self.close()
            return "timeout"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError) as exc:
            self.close()
            return type(exc).__name__

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def closed_loop(clients: list[Client], seconds: float) -> float:
    """Requests/s with every connection busy all the time."""
    stats = Stats()
    end = time.monotonic() + seconds

    async def run(c: Client) -> None:
        while time.monotonic() < end:
            err = await c.request()
            if err:
                stats.error(err)
            else:
                stats.ok += 1

    t0 = time.monotonic()
    await asyncio.gather(*(run(c) for c in clients))
    if stats.errors:
        sys.exit(f"soak: {stats.errors} errors while measuring capacity: {stats.error_kinds}")
    return stats.ok / (time.monotonic() - t0)


async def open_loop(clients: list[Client], rate: float, seconds: float, window: float,
                    on_window) -> None:
    """Sends at `rate` requests/s for `seconds`; calls on_window(stats) every `window` s.

    Connection k owns the send slots start + (k + j * connections) / rate. A request's latency
    counts from its slot (one sent up to 1 ms early, from when it was sent),
    so a server stall shows up as latency. A connection more than 1 s
    behind its slots (this generator, or the server, could not keep up) skips the missed slots
    and counts them, rather than building an ever-growing backlog."""
    start = time.monotonic()
    end = start + seconds
    current = [Stats()]
    interval = len(clients) / rate

    async def worker(k: int, c: Client) -> None:
        slot = start + k / rate
        while slot < end:
            now = time.monotonic()
            if slot - now > 0.001:  # early: wait (up to 1 ms early is sent now: fewer wake-ups)
                await asyncio.sleep(slot - now)
            elif now - slot > 1.0:
                skip = int((now - slot) / interval)
                current[0].missed += skip
                slot += skip * interval
            sent = time.monotonic()
            err = await c.request()
            stats = current[0]
            if err:
                stats.error(err)
            else:
                stats.ok += 1
                stats.latencies.append(time.monotonic() - min(slot, sent))
            slot += interval

    async def sampler() -> None:
        next_at = start + window
        while next_at <= end + 1e-6:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            done, current[0] = current[0], Stats()
            on_window(done)
            next_at += window

    await asyncio.gather(sampler(), *(worker(k, c) for k, c in enumerate(clients)))


# ------------------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    args = parse_args(argv)
    data = Path(args.data)
    if not Path(args.mls).is_file():
        sys.exit(f"soak: no mls executable at {args.mls} (build it, or pass --mls)")
    if not data.is_file():
        sys.exit(f"soak: no HTRU2 at {data} (pass --data)")
    rows = [",".join(line.split(",")[:8]) for line in data.read_text().splitlines() if line]
    random.Random(1).shuffle(rows)
    port = free_port()
    bodies = [(f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Content-Type: text/csv\r\nContent-Length: {len(r) + 1}\r\n\r\n{r}\n").encode()
              for r in rows[:2000]]

    with tempfile.TemporaryDirectory(prefix="mls-soak-") as tmp:
        work = Path(tmp)
        model_dir = Path(args.model_dir) if args.model_dir else \
            train_forest(args.mls, data, work / "train", args.trees)
        log = work / "serve.log"
        proc, logf = start_server(args.mls, model_dir, port, log, args.server_args.split())
        try:
            return asyncio.run(soak(args, proc, port, bodies))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    rc = proc.wait(timeout=30)
                    print(f"soak: server exit code after SIGTERM: {rc}")
                except subprocess.TimeoutExpired:
                    proc.kill()
                    print("soak: the server did not exit within 30 s of SIGTERM")
            logf.close()
            tail = log.read_text(errors="replace").splitlines()
            errors = [line for line in tail if " error" in line.lower() or "[E]" in line]
            if errors:
                print("soak: server log error lines (last 10):\n  " + "\n  ".join(errors[-10:]))


async def soak(args, proc, port: int, bodies: list[bytes]) -> int:
    clients = [Client(port, bodies, args.timeout) for _ in range(args.connections)]
    if args.rate:
        rate = args.rate
        print(f"soak: holding the given rate of {rate:.0f} requests/s", flush=True)
    else:
        capacity = await closed_loop(clients, args.capacity_seconds)
        rate = capacity * args.load_fraction
        print(f"soak: capacity {capacity:.0f} requests/s over {args.connections} connections "
              f"(closed loop, {args.capacity_seconds:.0f} s); holding {args.load_fraction:.0%} = "
              f"{rate:.0f} requests/s for {args.duration:.0f} s after {args.warmup:.0f} s of "
              "warm-up", flush=True)

    warm = Stats()

    def on_warm(s: Stats) -> None:
        warm.ok += s.ok
        warm.errors += s.errors
        warm.missed += s.missed
        for k, v in s.error_kinds.items():
            warm.error_kinds[k] = warm.error_kinds.get(k, 0) + v

    if args.warmup > 0:
        await open_loop(clients, rate, args.warmup, min(args.window, args.warmup), on_warm)
    base_rss = rss_kib(proc.pid)
    base_fds = open_fds(proc.pid)
    print(f"soak: after warm-up: RSS {base_rss} KiB, {base_fds} open fds, "
          f"{warm.ok} requests, {warm.errors} errors", flush=True)
    print(f"{'t (s)':>6} {'req':>7} {'req/s':>7} {'err':>4} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'missed':>7} {'RSS KiB':>8} {'fds':>4}", flush=True)

    samples: list[dict] = []
    totals = Stats()
    t0 = time.monotonic()

    def on_window(s: Stats) -> None:
        alive = proc.poll() is None
        sample = {"t": round(time.monotonic() - t0, 1), "requests": s.ok + s.errors,
                  "errors": s.errors, "error_kinds": s.error_kinds,
                  "p50_ms": percentile(s.latencies, 0.50) * 1e3,
                  "p99_ms": percentile(s.latencies, 0.99) * 1e3, "missed": s.missed,
                  "rss_kib": rss_kib(proc.pid) if alive else 0,
                  "fds": open_fds(proc.pid) if alive else 0}
        samples.append(sample)
        totals.ok += s.ok
        totals.errors += s.errors
        totals.missed += s.missed
        for k, v in s.error_kinds.items():
            totals.error_kinds[k] = totals.error_kinds.get(k, 0) + v
        print(f"{sample['t']:6.0f} {sample['requests']:7d} "
              f"{sample['requests'] / args.window:7.0f} {s.errors:4d} {sample['p50_ms']:7.2f} "
              f"{sample['p99_ms']:7.2f} {s.missed:7d} {sample['rss_kib']:8d} {sample['fds']:4d}",
              flush=True)

    await open_loop(clients, rate, args.duration, args.window, on_window)
    for c in clients:
        c.close()

    alive = proc.poll() is None
    end_rss = samples[-1]["rss_kib"] if samples else 0
    growth = (end_rss - base_rss) * 100.0 / base_rss if base_rss else float("inf")
    first, last = samples[0]["p99_ms"], samples[-1]["p99_ms"]
    errors = totals.errors + warm.errors
    summary = {
        "rate_target": round(rate, 1), "duration_s": args.duration,
        "requests": totals.ok + totals.errors, "errors": errors,
        "error_kinds": {**warm.error_kinds, **totals.error_kinds},
        "achieved_rate": round((totals.ok + totals.errors) / args.duration, 1),
        "missed_slots": totals.missed,
        "p99_first_ms": round(first, 3), "p99_last_ms": round(last, 3),
        "p99_drift_pct": round((last - first) * 100.0 / first, 1) if first else None,
        "p99_max_ms": round(max(s["p99_ms"] for s in samples), 3),
        "p50_median_ms": round(sorted(s["p50_ms"] for s in samples)[len(samples) // 2], 3),
        "rss_base_kib": base_rss, "rss_end_kib": end_rss,
        "rss_max_kib": max(s["rss_kib"] for s in samples),
        "rss_growth_pct": round(growth, 2), "fds_base": base_fds, "fds_end": samples[-1]["fds"],
        "server_alive": alive,
    }
    print("soak: summary " + json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "samples": samples}, indent=1))

    failed = []
    if not alive:
        failed.append(f"the server died (exit code {proc.returncode})")
    if errors:
        failed.append(f"{errors} failed requests: {summary['error_kinds']}")
    if growth >= args.max_rss_growth:
        failed.append(f"RSS grew {growth:.2f} % ({base_rss} -> {end_rss} KiB), limit "
                      f"{args.max_rss_growth} %")
    if summary["achieved_rate"] < 0.9 * rate:
        print(f"soak: note: achieved {summary['achieved_rate']} requests/s of {rate:.0f} "
              "(the load generator or the machine fell behind)")
    if failed:
        print("soak: FAILED: " + "; ".join(failed))
        return 1
    print(f"soak: PASSED: {summary['requests']} requests, 0 errors, p99 {first:.2f} -> "
          f"{last:.2f} ms, RSS {base_rss} -> {end_rss} KiB ({growth:+.2f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
