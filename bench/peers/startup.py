#!/usr/bin/env python3
"""Start-up time and idle memory of a server: process start -> first GET /ping answered 200.

    startup.py --port PORT [--repeats N] [--idle-seconds S] -- COMMAND...

Starts COMMAND (in its own process group) N times. Each time: polls GET /ping on 127.0.0.1:PORT as
fast as it can (a fresh connection per try, ~0.2 ms apart) until it answers 200, and takes the time
from just before the fork; then leaves the server idle for S seconds and sums VmRSS over the
process and all its descendants (every nginx and gunicorn worker for a multi-process stack); then
SIGTERM to the group. Prints one JSON line: every start-up time in ms, every RSS in MB, medians.
"""
import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time


def tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def rss_kb(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def ping(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/ping")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--idle-seconds", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command and args.command[0] == "--" else args.command
    if not cmd:
        ap.error("no COMMAND")
    startup_ms, rss_mb = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            while not ping(args.port):
                if proc.poll() is not None:
                    sys.exit(f"startup.py: {cmd[0]} exited ({proc.returncode}) before /ping answered 200")
                if time.perf_counter() - start > args.timeout:
                    sys.exit(f"startup.py: no 200 from /ping within {args.timeout} s")
                time.sleep(0.0002)
            startup_ms.append((time.perf_counter() - start) * 1e3)
            time.sleep(args.idle_seconds)
            rss_mb.append(rss_kb(proc.pid) / 1024)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        time.sleep(0.2)  # let the port go
    print(json.dumps({"startup_ms": [round(v, 2) for v in startup_ms],
                      "startup_ms_median": round(statistics.median(startup_ms), 2),
                      "rss_mb": [round(v, 2) for v in rss_mb],
                      "rss_mb_median": round(statistics.median(rss_mb), 2)}))


if __name__ == "__main__":
    main()
