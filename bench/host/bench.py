"""Host benchmark: Flick beside `cargo lambda watch` and AWS's Runtime
Interface Emulator, one run, the same function, measured from outside as a
user meets the host.

Function: the official `lambda_runtime` echo (conformance/functions/
rust-official), release build.

- Cold starts, client time of an invoke on a raw socket (connect included):
  the first invoke after `flick serve` starts, at once and 1 s later; the
  first after the sandbox was reaped for idleness (idle_s = 1); scale-out,
  4 concurrent invokes on a fresh host (4 cold starts at once). cargo-lambda and the RIE: the first
  invoke after each starts (both exec the runtime themselves: cargo-lambda
  on that first request, the RIE when it boots, so its first invoke includes
  no exec; compare with care, see README.md).
- Idle wake-up: warm invokes back to back against each after 1 s of a quiet
  machine, Flick and the RIE: what the machine adds to any request that
  follows idleness.
- Init Duration (REPORT) against an outside clock: the kernel's event trace
  of the runtime's exec and of its first connect to the Runtime API.
- Warm: wrk on keep-alive connections, 1 and 8 clients (the RIE takes one
  invocation at a time: 1 client only); host overhead = Flick's round trip
  p50 minus the p50 of the function's own part (Server-Timing `invoke`).
- Streaming: time to the first byte of InvokeWithResponseStream against a
  buffered Invoke of the same function (two chunks 100 ms apart).
- Load: 2,000 clients at once against max_concurrency = 10 (only 200s and
  429s may come back), and the host's RSS.

Writes bench/host/RESULTS.md. Run with bench/host/run.
"""

import base64
import contextlib
import http.client
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
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FLICK = REPO / "target" / "release" / "flick"
ECHO = REPO / "target" / "release" / "echo-official"
RAW = REPO / "conformance" / "functions" / "python"
PYTHON = RAW / ".venv" / "bin" / "python3"
FUNCTION_DIR = REPO / "conformance" / "functions" / "rust-official"
RIE = Path(os.environ.get("RIE", Path.home() / "go" / "bin" / "aws-lambda-rie"))
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SAMPLES = int(os.environ.get("SAMPLES", "30"))
WARM_SECONDS = int(os.environ.get("WARM_SECONDS", "5"))
PAYLOAD = b'{"hello":"world"}'
INVOKE = "/2015-03-31/functions/{}/invocations"


# ---------------------------------------------------------------------------
# measuring


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_post(port, path, body=PAYLOAD, headers=()):
    """One POST on a fresh connection; returns (ms, status, response headers, body)."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}",
            "Connection: close", *headers]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    ms = (time.perf_counter() - t0) * 1000
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    found = {}
    for line in lines[1:]:
        name, sep, value = line.partition(": ")
        if sep:
            found[name.lower()] = value
    return ms, status, found, rest


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(values):
    return {"n": len(values), "p50": pct(values, 50), "p90": pct(values, 90), "p99": pct(values, 99)}


def wait_port(port, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def wrk(url, connections, seconds):
    """Runs wrk with a POST body; returns (req/s, p50 ms, p99 ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write('wrk.method = "POST"\nwrk.body = \'%s\'\n' % PAYLOAD.decode())
        script = f.name
    out = subprocess.run(
        ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
        capture_output=True, text=True, check=True,
    ).stdout
    os.unlink(script)

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError(f"wrk saw error responses:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), ms("50"), ms("99")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


# ---------------------------------------------------------------------------
# Flick


def manifest(functions, server=""):
    lines = [f'[server]\nstate_dir = "state"\n{server}']
    for name, spec in functions.items():
        lines.append(f"[functions.{name}]\n{spec}")
    return "\n".join(lines)


@contextlib.contextmanager
def flick(functions, server="", under=()):
    """A running `flick serve` (started under `under`, e.g. strace); yields
    (its pid, port, state folder)."""
    folder = Path(tempfile.mkdtemp(prefix="flick-bench-"))
    os.chmod(folder, 0o755)
    (folder / "flick.toml").write_text(manifest(functions, server))
    port = free_port()
    command = [str(FLICK), "serve", "--config", str(folder / "flick.toml"), "--no-build",
               "--listen", f"127.0.0.1:{port}"]
    wrapper = subprocess.Popen([*under, *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host_pid = wrapper.pid
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/2015-03-31/functions", timeout=1).read()
                break
            except OSError:
                if time.time() > deadline or wrapper.poll() is not None:
                    raise RuntimeError("flick serve did not start")
                time.sleep(0.005)
        if under:
            host_pid = child_pid(wrapper.pid)
        yield host_pid, port, folder / "state"
    finally:
        # SIGTERM to the host itself: a tracer would detach and leave it running.
        with contextlib.suppress(ProcessLookupError):
            os.kill(host_pid, signal.SIGTERM)
        wrapper.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def child_pid(pid):
    """The one child of a wrapper process (strace's tracee)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0])


ECHO_SPEC = f'command = ["{ECHO}"]\n'


def cold_after_start(pause=0.0):
    """The first invoke on a fresh host, `pause` seconds after it answers."""
    samples = []
    for _ in range(SAMPLES):
        with flick({"echo": ECHO_SPEC}) as (_, port, _):
            time.sleep(pause)
            samples.append(timed_post(port, INVOKE.format("echo"))[0])
    return samples


IDLE = 1.0


def idle_wakeup(port, name, samples=10):
    """Warm invokes back to back, and each after IDLE s of a quiet machine:
    what waking idle CPUs adds to any request (a VM's vCPUs halt when idle)."""
    path = INVOKE.format(name)
    timed_post(port, path)
    busy = [timed_post(port, path)[0] for _ in range(samples)]
    idle = []
    for _ in range(samples):
        time.sleep(IDLE)
        idle.append(timed_post(port, path)[0])
    return busy, idle


def cold_after_reaping():
    samples = []
    with flick({"echo": ECHO_SPEC + "idle_s = 1\n"}) as (_, port, _):
        timed_post(port, INVOKE.format("echo"))
        for _ in range(SAMPLES):
            # Reaped: the host has no sandbox of the function left.
            deadline = time.time() + 10
            time.sleep(1.0)
            while sandboxes() and time.time() < deadline:
                time.sleep(0.05)
            samples.append(timed_post(port, INVOKE.format("echo"))[0])
    return samples


def sandboxes():
    """Runtimes the host has running (not the shells it keeps prepared)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == str(ECHO):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def cold_scale_out(width=4):
    samples = []
    for _ in range(max(1, SAMPLES // width)):
        spec = ECHO_SPEC + f"max_concurrency = {width}\nprepared = {width}\n"
        with flick({"echo": spec}) as (_, port, _):
            results = [None] * width
            start = threading.Barrier(width)

            def one(i):
                start.wait()
                results[i] = timed_post(port, INVOKE.format("echo"))[0]

            threads = [threading.Thread(target=one, args=(i,)) for i in range(width)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            samples += results
    return samples


TRACEFS = Path("/sys/kernel/tracing")
TRACE_EVENTS = ("sched/sched_process_exec", "syscalls/sys_enter_execve", "syscalls/sys_enter_connect")


@contextlib.contextmanager
def kernel_trace():
    """The kernel's own event trace (ftrace) of every exec and connect,
    stamped on one monotonic clock; nothing traced is stopped or slowed, as
    it would be under strace. Yields a function that returns the trace
    since the last call, or None without tracefs (not root, or no kernel
    support)."""
    if not (TRACEFS / "trace").exists():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], capture_output=True)
    if not (TRACEFS / "trace").exists():
        yield None
        return
    settings = {"trace_clock": "mono", "options/record-tgid": "1"}
    saved = {name: (TRACEFS / name).read_text() for name in settings}
    saved["trace_clock"] = re.search(r"\[(\w+)\]", saved["trace_clock"]).group(1)
    for name, value in settings.items():
        (TRACEFS / name).write_text(value)
    for event in TRACE_EVENTS:
        (TRACEFS / "events" / event / "enable").write_text("1")

    def since_last():
        text = (TRACEFS / "trace").read_text()
        (TRACEFS / "trace").write_text("")
        return text

    try:
        since_last()
        yield since_last
    finally:
        for event in TRACE_EVENTS:
            (TRACEFS / "events" / event / "enable").write_text("0")
        for name, value in saved.items():
            (TRACEFS / name).write_text(value.strip())


def init_against_kernel():
    """REPORT's Init Duration beside the kernel's clock: from the shell's
    execve of the runtime to the runtime's first connect (to the Runtime
    API, for its first /next)."""
    pairs = []
    with kernel_trace() as trace:
        if trace is None:
            return pairs
        for _ in range(min(SAMPLES, 20)):
            with flick({"echo": ECHO_SPEC}) as (_, port, _):
                trace()
                _, _, headers, _ = timed_post(port, INVOKE.format("echo"), headers=["X-Amz-Log-Type: Tail"])
                tail = base64.b64decode(headers["x-amz-log-result"]).decode()
                init = float(re.search(r"Init Duration: ([\d.]+) ms", tail).group(1))
                pairs.append((init, exec_to_connect(trace())))
    return pairs


def exec_to_connect(trace):
    """ms from the start of the echo's execve to its first connect (any thread)."""
    execd = re.search(rf"\(\s*(\d+)\).*? ([\d.]+): sched_process_exec: filename={re.escape(str(ECHO))} ", trace)
    tgid, done = execd.group(1), float(execd.group(2))
    entries = re.findall(rf"\(\s*{tgid}\).*? ([\d.]+): sys_execve\(", trace)
    start = max(float(t) for t in entries if float(t) <= done)
    connects = re.finditer(rf"\(\s*{tgid}\).*? ([\d.]+): sys_connect\(", trace)
    return (float(next(connects).group(1)) - start) * 1000


def warm():
    spec = ECHO_SPEC + "max_concurrency = 16\nprovisioned = 10\n"
    with flick({"echo": spec}) as (host_pid, port, _):
        url = f"http://127.0.0.1:{port}" + INVOKE.format("echo")
        wakeup = idle_wakeup(port, "echo")
        one = wrk(url, 1, WARM_SECONDS)
        handling = function_time(port, INVOKE.format("echo"))
        eight = wrk(url, 8, WARM_SECONDS)
        wrk(url, 10, 2)
        rss = rss_mb(host_pid)
    return {1: one, 8: eight}, statistics.median(handling), rss, wakeup


def function_time(port, path, n=200):
    """ms of the function's own part of n warm invokes on one keep-alive
    connection: Server-Timing's invoke (the event's hand-over to the runtime
    → its answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    found = []
    for _ in range(n):
        conn.request("POST", path, body=PAYLOAD)
        response = conn.getresponse()
        response.read()
        found.append(float(re.search(r"invoke;dur=([\d.]+)", response.getheader("Server-Timing")).group(1)))
    conn.close()
    return found


def streaming():
    spec = f'command = ["{PYTHON}", "-u", "raw_runtime.py"]\nworkdir = "{RAW}"\n'
    event = json.dumps({"action": "stream", "chunks": ["first ", "second"], "pause_ms": 100}).encode()
    first, buffered = [], []
    with flick({"raw": spec}) as (_, port, _):
        first_byte(port, event)  # the cold start, not measured
        for _ in range(min(SAMPLES, 20)):
            first.append(first_byte(port, event))
            buffered.append(timed_post(port, INVOKE.format("raw"), event)[0])
    return first, buffered


def first_byte(port, event):
    """ms to the first PayloadChunk of InvokeWithResponseStream."""
    path = "/2021-11-15/functions/raw/response-streaming-invocations"
    request = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(event)}\r\nConnection: close\r\n\r\n"
               .encode() + event)
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(request)
        data = b""
        while b"PayloadChunk" not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("the stream ended before its first chunk")
            data += chunk
        took = (time.perf_counter() - t0) * 1000
        while s.recv(65536):
            pass
    return took


def load(clients=2000):
    spec = (f'command = ["{PYTHON}", "-u", "raw_runtime.py"]\nworkdir = "{RAW}"\n'
            "max_concurrency = 10\nprovisioned = 10\n")
    body = json.dumps({"action": "sleep", "ms": 200}).encode()
    statuses = {}
    lock = threading.Lock()
    with flick({"raw": spec}) as (host_pid, port, _):
        start = threading.Barrier(clients)
        peak = [rss_mb(host_pid)]

        def one():
            start.wait()
            try:
                status = timed_post(port, INVOKE.format("raw"), body)[1]
            except OSError as e:
                status = type(e).__name__
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                peak[0] = max(peak[0], rss_mb(host_pid))

        threading.stack_size(256 * 1024)
        threads = [threading.Thread(target=one) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return statuses, peak[0]


# ---------------------------------------------------------------------------
# the peers


def cargo_lambda():
    cold, warm_rows = [], {}
    for run in range(5):
        port = free_port()
        proc = subprocess.Popen(
            ["cargo", "lambda", "watch", "--release", "--invoke-port", str(port), "--ignore-changes",
             "--concurrency", "8"],
            cwd=FUNCTION_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            wait_port(port)
            cold.append(timed_post(port, INVOKE.format("echo-official"))[0])
            if run == 4:
                url = f"http://127.0.0.1:{port}" + INVOKE.format("echo-official")
                warm_rows = {c: wrk(url, c, WARM_SECONDS) for c in (1, 8)}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return cold, warm_rows


def rie():
    cold, warm_row = [], None
    for run in range(min(SAMPLES, 20)):
        port, api = free_port(), free_port()
        proc = subprocess.Popen([str(RIE), "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
                                 "--runtime-api-address", f"127.0.0.1:{api}", str(ECHO)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            cold.append(timed_post(port, INVOKE.format("function"))[0])
            if run == 0:
                warm_row = wrk(f"http://127.0.0.1:{port}" + INVOKE.format("function"), 1, WARM_SECONDS)
                wakeup = idle_wakeup(port, "function")
        finally:
            proc.terminate()
            proc.wait(10)
    return cold, warm_row, wakeup


# ---------------------------------------------------------------------------


def init_row(gaps):
    if not gaps:
        return "Not measured: no tracefs here (the row needs root and /sys/kernel/tracing)."
    return (f"REPORT's Init Duration minus the runtime's exec → first connect, both from the kernel's event "
            f"trace (sys_enter_execve, sys_enter_connect; ftrace, mono clock), over {len(gaps)} cold starts: "
            f"median {statistics.median(gaps):.3f} ms, smallest {min(gaps):.3f} ms, largest {max(gaps):.3f} ms "
            f"(target: median ≤ 0.5 ms, none below 0: Init Duration starts when the host lets the prepared shell "
            f"exec, and ends when the first /next has been read).")


def wakeup_row(name, samples):
    busy, idle = pct(samples[0], 50), pct(samples[1], 50)
    return f"| {name} | {busy:.2f} ms | {idle:.2f} ms | {idle - busy:.2f} ms |"


def row(name, values):
    s = summary(values)
    return f"| {name} | {s['n']} | {s['p50']:.2f} ms | {s['p90']:.2f} ms | {s['p99']:.2f} ms |"


def main():
    load_before = os.getloadavg()[0]
    after_start = cold_after_start()
    after_start_idle = cold_after_start(IDLE)
    after_reaping = cold_after_reaping()
    scale_out = cold_scale_out()
    init_pairs = init_against_kernel()
    flick_warm, handling_p50, rss, flick_wakeup = warm()
    first, buffered = streaming()
    statuses, peak_rss = load()
    cl_cold, cl_warm = cargo_lambda()
    rie_cold, rie_warm, rie_wakeup = rie()
    gaps = [init - trace for init, trace in init_pairs]
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    lines = [
        "# Host benchmark: Flick, cargo lambda watch, AWS's Runtime Interface Emulator",
        "",
        f"Run `bench/host/run` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {cpu}; 1-minute load "
        f"average {load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after). Function: the official "
        "`lambda_runtime` echo, release build. Client: a raw socket per invoke (connect included). "
        "See README.md for what each row means.",
        "",
        "## Cold starts, as a user meets them",
        "",
        "| case | samples | p50 | p90 | p99 |",
        "|---|---|---|---|---|",
        row("Flick, first invoke at once after `flick serve` started", after_start),
        row(f"Flick, first invoke {IDLE:g} s after `flick serve` started", after_start_idle),
        row("Flick, first invoke after the sandbox was reaped (idle ≥ 1 s)", after_reaping),
        row("Flick, scale-out: 4 cold starts at once on a fresh host", scale_out),
        row("cargo lambda watch, first invoke after it started", cl_cold),
        row("RIE, first invoke after it started (runtime exec'd at its boot)", rie_cold),
        "",
        f"Targets: Flick p50 ≤ 2 ms and p99 ≤ 6 ms in each Flick row. "
        f"cargo-lambda / Flick (p50, after start): {pct(cl_cold, 50) / pct(after_start, 50):.1f}x; "
        f"RIE / Flick: {pct(rie_cold, 50) / pct(after_start, 50):.1f}x.",
        "",
        "## What a quiet machine adds to any request",
        "",
        f"Warm invokes of the same echo, back to back and each after {IDLE:g} s of a quiet machine (p50 of 10): "
        f"the difference is the machine waking its idle CPUs (this VM's vCPUs halt when idle), and it is in every "
        f"cold start that follows idleness: after reaping, or {IDLE:g} s after start.",
        "",
        "| host | back to back | after idle | added |",
        "|---|---|---|---|",
        wakeup_row("Flick", flick_wakeup),
        wakeup_row("RIE", rie_wakeup),
        "",
        "## Init Duration against the kernel's clock",
        "",
        init_row(gaps),
        "",
        "## Warm invocations",
        "",
        "| clients | Flick req/s | Flick p50 | Flick p99 | cargo-lambda req/s | cargo-lambda p50 | RIE req/s | RIE p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for clients in (1, 8):
        f_rps, f_p50, f_p99 = flick_warm[clients]
        c_rps, c_p50, _ = cl_warm[clients]
        r = rie_warm if clients == 1 else None
        r_cells = f"{r[0]:.0f} | {r[1] * 1000:.0f} µs" if r else "— | — (one at a time)"
        lines.append(f"| {clients} | {f_rps:.0f} | {f_p50 * 1000:.0f} µs | {f_p99 * 1000:.0f} µs | {c_rps:.0f} | "
                     f"{c_p50 * 1000:.0f} µs | {r_cells} |")
    lines += [
        "",
        f"Flick's warm overhead: round trip p50 {flick_warm[1][1] * 1000:.0f} µs (wrk, 1 client) minus the "
        f"function's own part, p50 {handling_p50 * 1000:.0f} µs (Server-Timing `invoke`, the event's hand-over → "
        f"its answer, 200 keep-alive invokes) = {(flick_warm[1][1] - handling_p50) * 1000:.0f} µs. "
        f"Host RSS with 10 warm sandboxes: {rss:.1f} MB.",
        "",
        "## Streaming",
        "",
        "A function writing two chunks 100 ms apart:",
        "",
        "| call | samples | p50 | p90 | p99 |",
        "|---|---|---|---|---|",
        row("InvokeWithResponseStream, time to the first chunk", first),
        row("Invoke (buffered), time to the whole answer", buffered),
        "",
        "## 2,000 clients at once",
        "",
        f"2,000 concurrent invokes of a function with max_concurrency = 10 (each sleeps 200 ms): answers "
        f"{json.dumps({str(k): v for k, v in sorted(statuses.items(), key=str)})}; host RSS peak {peak_rss:.1f} MB.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
