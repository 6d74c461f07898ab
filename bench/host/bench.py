"""Host benchmark: Flick vs `cargo lambda watch`, one run, same function.

The function is the official `lambda_runtime` echo (conformance/functions/
rust-official), release build. Measured in one run, on this machine:

- cold start: process spawn to response, seen by the client (Flick: the first
  invoke of each of N identical functions, so every sample is a real cold start;
  cargo-lambda: the first invoke after it starts, a few times);
- warm invocation latency p50/p99 and throughput, 1 and 8 concurrent clients,
  with wrk on keep-alive connections;
- warm overhead: Flick's round trip minus the function's own Duration from the
  REPORT lines of the same requests (median of each);
- host RSS with 10 warm sandboxes.

Writes bench/host/RESULTS.md. Run with bench/host/run.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FLICK = REPO / "target" / "release" / "flick"
ECHO = REPO / "target" / "release" / "echo-official"
FUNCTION_DIR = REPO / "conformance" / "functions" / "rust-official"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
COLD_SAMPLES = int(os.environ.get("COLD_SAMPLES", "100"))
WARM_SECONDS = int(os.environ.get("WARM_SECONDS", "5"))
PAYLOAD = b'{"hello":"world"}'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def invoke(url):
    req = urllib.request.Request(url, data=PAYLOAD, method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
    elapsed = time.perf_counter() - t0
    assert body == PAYLOAD or json.loads(body) == json.loads(PAYLOAD), body
    return elapsed


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def wrk(url, connections, seconds):
    """Runs wrk with a POST body; returns (req/s, p50 ms, p99 ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write('wrk.method = "POST"\nwrk.body = \'%s\'\n' % PAYLOAD.decode())
        script = f.name
    threads = min(connections, 2)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
        capture_output=True, text=True, check=True,
    ).stdout
    os.unlink(script)

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return rps, ms("50"), ms("99")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        kb = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
    return kb / 1024


# ---------------------------------------------------------------------------
# Flick


def flick_manifest(folder, cold_functions):
    lines = ['[server]\nstate_dir = "state"\n']
    lines.append(f'[functions.echo]\ncommand = ["{ECHO}"]\nmax_concurrency = 16\nprovisioned = 10\n')
    for i in range(cold_functions):
        lines.append(f'[functions.cold-{i}]\ncommand = ["{ECHO}"]\nmax_concurrency = 1\n')
    (folder / "flick.toml").write_text("\n".join(lines))


@contextlib.contextmanager
def flick_host(cold_functions):
    """A running `flick serve` with `echo` (10 provisioned) and N cold
    functions; yields (process, base URL, state folder)."""
    folder = Path(tempfile.mkdtemp(prefix="flick-bench-"))
    flick_manifest(folder, cold_functions)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    host = subprocess.Popen(
        [str(FLICK), "serve", "--config", str(folder / "flick.toml"), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"{base}/2015-03-31/functions")
        yield host, base, folder
    finally:
        host.send_signal(signal.SIGTERM)
        host.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def invoke_url(base, name):
    return f"{base}/2015-03-31/functions/{name}/invocations"


def bench_flick():
    with flick_host(COLD_SAMPLES) as (_, base, folder):
        cold = [invoke(invoke_url(base, f"cold-{i}")) * 1000 for i in range(COLD_SAMPLES)]
        # The cold functions' sandboxes stay until idle_s, so the RSS figure
        # comes from a host of its own (bench_flick_rss) with just echo's 10.
        echo = invoke_url(base, "echo")
        warm = {}
        invoke(echo)
        log = folder / "state" / "logs" / "echo.log"
        time.sleep(0.2)  # the host writes logs in batches a few ms apart
        before = len(report_durations(log))
        warm[1] = wrk(echo, 1, WARM_SECONDS)
        # Durations of the single-client run only: they pair with its round trips.
        time.sleep(0.5)
        durations = report_durations(log)[before:]
        warm[8] = wrk(echo, 8, WARM_SECONDS)
        return {"cold_ms": cold, "warm": warm, "echo_duration_ms": durations}


def bench_flick_rss():
    with flick_host(0) as (host, base, _):
        wrk(invoke_url(base, "echo"), 10, 2)  # every one of the 10 sandboxes has served
        return rss_mb(host.pid)


def report_durations(log):
    text = log.read_text()
    return [float(m) for m in re.findall(r"REPORT RequestId: \S+\tDuration: ([\d.]+) ms", text)]


# ---------------------------------------------------------------------------
# cargo lambda watch


def bench_cargo_lambda(cold_runs=5):
    cold, warm = [], {}
    for run in range(cold_runs):
        port = free_port()
        proc = subprocess.Popen(
            # --concurrency 8: cargo-lambda's best configuration for the 8-client row
            # (its default runs one invocation at a time).
            ["cargo", "lambda", "watch", "--release", "--invoke-port", str(port), "--ignore-changes",
             "--concurrency", "8"],
            cwd=FUNCTION_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_port(port)
            url = f"{base}/2015-03-31/functions/echo-official/invocations"
            cold.append(invoke(url) * 1000)
            if run == cold_runs - 1:
                for clients in (1, 8):
                    warm[clients] = wrk(url, clients, WARM_SECONDS)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return {"cold_ms": cold, "warm": warm}


def wait_port(port, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


# ---------------------------------------------------------------------------


def main():
    load_before = os.getloadavg()[0]
    flick = bench_flick()
    rss = bench_flick_rss()
    cl = bench_cargo_lambda()
    f_cold, c_cold = flick["cold_ms"], cl["cold_ms"]
    duration_p50 = statistics.median(flick["echo_duration_ms"])
    rows = []
    for clients in (1, 8):
        f_rps, f_p50, f_p99 = flick["warm"][clients]
        c_rps, c_p50, c_p99 = cl["warm"][clients]
        rows.append((clients, f_rps, f_p50, f_p99, c_rps, c_p50, c_p99))
    overhead_us = (flick["warm"][1][1] - duration_p50) * 1000
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Host benchmark: Flick vs cargo lambda watch",
        "",
        f"Run `bench/host/run` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {cpu}; "
        f"1-minute load average {load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after).",
        "Function: the official `lambda_runtime` echo (conformance/functions/rust-official), release build, both hosts.",
        "Warm figures: wrk on keep-alive connections, "
        f"{WARM_SECONDS} s per row; cold figures: client-side time of the first invoke of a fresh sandbox.",
        "",
        "## Cold start (process spawn to response)",
        "",
        "| host | samples | p50 | p99 |",
        "|---|---|---|---|",
        f"| Flick | {len(f_cold)} | {pct(f_cold, 50):.2f} ms | {pct(f_cold, 99):.2f} ms |",
        f"| cargo lambda watch | {len(c_cold)} | {pct(c_cold, 50):.2f} ms | {pct(c_cold, 99):.2f} ms |",
        "",
        f"Ratio cargo-lambda / Flick (p50): {pct(c_cold, 50) / pct(f_cold, 50):.1f}x. Target: Flick p50 ≤ 5 ms.",
        "",
        "## Warm invocations",
        "",
        "| clients | Flick req/s | Flick p50 | Flick p99 | cargo-lambda req/s | cargo-lambda p50 | cargo-lambda p99 | throughput ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for clients, f_rps, f_p50, f_p99, c_rps, c_p50, c_p99 in rows:
        lines.append(
            f"| {clients} | {f_rps:.0f} | {f_p50 * 1000:.0f} µs | {f_p99 * 1000:.0f} µs | {c_rps:.0f} | "
            f"{c_p50 * 1000:.0f} µs | {c_p99 * 1000:.0f} µs | {f_rps / c_rps:.1f}x |"
        )
    lines += [
        "",
        "Target: throughput ≥ 3x cargo-lambda's at both concurrencies.",
        "",
        "## Warm overhead and memory",
        "",
        f"- Flick warm round trip p50 (1 client): {flick['warm'][1][1] * 1000:.0f} µs; the function's own "
        f"Duration p50 from REPORT (dispatch to response, includes the runtime's HTTP calls): {duration_p50 * 1000:.0f} µs;",
        f"  overhead p50 = {overhead_us:.0f} µs (target ≤ 150 µs).",
        f"- Host RSS with 10 warm sandboxes: {rss:.1f} MB (target ≤ 30 MB).",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
