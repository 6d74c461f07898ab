"""Queue benchmark: how fast the host accepts durable Event invocations.

Measured in one run, on this machine, against the release build:

- throughput: wrk with 64 keep-alive connections (2 threads) posts Event
  invocations for WRK_SECONDS; accepted = answers 202 (every 202 was committed
  with synchronous=FULL before it was sent). Two modes, interleaved, TRIALS
  each, a fresh state_dir per trial:
    group commit  the host as shipped: one writer commits every waiting
                  acceptance in one transaction (one fsync for the group);
    batch of 1    the same code with FLICK_QUEUE_MAX_BATCH=1: one commit, so
                  one fsync, per event: the baseline.
  The events are delivered meanwhile to the official Rust echo function
  (max_concurrency 2), so the host also does its delivery work.
- 202 → delivery start: LATENCY_EVENTS events sent one at a time, 20 ms apart,
  to an idle warm sandbox (the raw Python runtime, which stamps the time it
  receives each event); the delay is its stamp minus the client's time of the
  202, same clock.
- the store alone: the same two modes without HTTP, 64 tokio tasks calling
  the store directly (crates/flick-host/examples/queue_store.rs), to show what
  group commit itself buys once the HTTP server's CPU is out of the way.
- fsync: the cost of one write+fsync of the state_dir's file system, because
  it decides the baseline.

Writes bench/queue/RESULTS.md. Run with bench/queue/run.
"""

import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FLICK = REPO / "target" / "release" / "flick"
ECHO = REPO / "target" / "release" / "echo-official"
STORE_BENCH = REPO / "target" / "release" / "examples" / "queue_store"
RAW = REPO / "conformance" / "functions" / "python"
# The system's interpreter: a host running as root starts sandboxes as users
# of their own, who cannot read an interpreter under /root (pyenv's).
PROBE_PYTHON = "/usr/bin/python3"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TRIALS = int(os.environ.get("TRIALS", "3"))
WRK_SECONDS = int(os.environ.get("WRK_SECONDS", "5"))
LATENCY_EVENTS = int(os.environ.get("LATENCY_EVENTS", "300"))
CONNECTIONS = 64
PATH = "/2015-03-31/functions/{}/invocations"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml(v):
    return json.dumps(v) if not isinstance(v, dict) else "{ " + ", ".join(f"{k} = {toml(x)}" for k, x in v.items()) + " }"


class Host:
    def __init__(self, functions, env=None, server=None):
        self.root = Path(tempfile.mkdtemp(prefix="flick-queue-bench-"))
        self.port = free_port()
        lines = ["[server]", f'listen = "127.0.0.1:{self.port}"', 'state_dir = "state"']
        lines += [f"{k} = {toml(v)}" for k, v in (server or {}).items()]
        for name, spec in functions.items():
            lines.append(f"[functions.{name}]")
            lines += [f"{k} = {toml(v)}" for k, v in spec.items()]
        (self.root / "flick.toml").write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            [str(FLICK), "serve", "--config", str(self.root / "flick.toml"), "--no-build"],
            env=dict(os.environ, FLICK_LOG="warn", **(env or {})),
            stdout=subprocess.DEVNULL, stderr=open(self.root / "host.stderr", "wb"))
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/2015-03-31/functions")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("host not ready:\n" + (self.root / "host.stderr").read_text())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", str(self.root)])


def wrk_throughput(batch_of_one):
    host = Host({"sink": {"command": [str(ECHO)], "max_concurrency": 2, "async": {"max_queued": 10_000_000}}},
                env={"FLICK_QUEUE_MAX_BATCH": "1"} if batch_of_one else None)
    try:
        script = host.root / "post.lua"
        script.write_text('wrk.method = "POST"\nwrk.body = \'{"hello":"world"}\'\n'
                          'wrk.headers["X-Amz-Invocation-Type"] = "Event"\n')
        url = f"http://127.0.0.1:{host.port}" + PATH.format("sink")
        out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{WRK_SECONDS}s", "--latency", "-s", str(script), url],
                             capture_output=True, text=True, check=True).stdout
    finally:
        host.stop()
    return parse_wrk(out)


def parse_wrk(out):
    """Accepted (non-refused) requests per second, refusals, and the p50/p99
    latencies as wrk prints them and in milliseconds (`p99_ms`)."""
    total, secs = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out).groups()[:2]
    secs = float(secs) if "ms" not in out.split("requests in")[1].split(",")[0] else float(secs) / 1000
    non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    number, unit = re.match(r"([\d.]+)(\w+)", lat.get("99", "0ms")).groups()
    return {"accepted_per_s": (int(total) - non2xx) / secs, "refused": non2xx, "p50": lat.get("50"),
            "p99": lat.get("99"), "p99_ms": float(number) * scale.get(unit, 1.0)}


def deliveries_file():
    """Where the probe appends its deliveries: a folder the sandboxes' own
    users may reach and write in, outside /tmp (a sandbox has its own)."""
    parent = REPO / "target" / "bench-queue"
    parent.mkdir(parents=True, exist_ok=True)
    for folder in (parent, *parent.parents):
        folder.chmod(folder.stat().st_mode | 0o111)
    folder = Path(tempfile.mkdtemp(prefix="deliveries-", dir=parent))
    folder.chmod(0o1777)
    return folder / "d.jsonl"


def delivery_latency():
    deliveries = deliveries_file()
    host = Host({"probe": {"command": [PROBE_PYTHON, "-u", "raw_runtime.py"], "workdir": str(RAW),
                           "env": {"RAW_DELIVERY_FILE": str(deliveries)}, "provisioned": 1, "max_concurrency": 1}})
    try:
        return send_one_at_a_time([host.port], deliveries)
    finally:
        host.stop()


def send_one_at_a_time(ports, deliveries):
    """LATENCY_EVENTS events to `probe`, 20 ms apart, to each port in turn;
    the delays from each 202 to the runtime's stamp of its delivery."""
    acked = {}
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for port in ports]
    for i in range(LATENCY_EVENTS + 10):
        conn = conns[i % len(conns)]
        conn.request("POST", PATH.format("probe"), json.dumps({"action": "echo", "i": i}).encode(),
                     {"X-Amz-Invocation-Type": "Event"})
        resp = conn.getresponse()
        resp.read()
        t = time.time()
        assert resp.status == 202, resp.status
        if i >= 10:  # the first ten warm the path up
            acked[resp.getheader("x-amzn-requestid")] = t
        time.sleep(0.02)
    deadline = time.time() + 30
    while time.time() < deadline:
        seen = {}
        for line in deliveries.read_text().splitlines():
            d = json.loads(line)
            seen.setdefault(d["rid"], d["t"])
        if set(acked) <= set(seen):
            break
        time.sleep(0.1)
    delays = sorted((seen[rid] - t) * 1000 for rid, t in acked.items())
    return {"p50": statistics.median(delays), "p99": delays[int(len(delays) * 0.99) - 1], "max": delays[-1], "n": len(delays)}


def store_alone(batch_of_one):
    state = tempfile.mkdtemp(prefix="flick-queue-store-")
    events = 10_000 if batch_of_one else 100_000
    try:
        out = subprocess.run([str(STORE_BENCH), state, str(events), "1" if batch_of_one else "8192"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run(["rm", "-rf", state])
    return json.loads(out)


def fsync_ms():
    """Median cost of what a WAL commit asks of the disk: overwrite a page of a
    file that already has its size, then fdatasync."""
    path = Path(tempfile.mkdtemp(prefix="flick-fsync-")) / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    os.write(fd, b"\0" * (1 << 20))
    os.fsync(fd)
    costs = []
    for i in range(500):
        t = time.perf_counter()
        os.pwrite(fd, b"x" * 4096, (i * 4096) % (1 << 20))
        os.fdatasync(fd)
        costs.append((time.perf_counter() - t) * 1000)
    os.close(fd)
    path.unlink()
    path.parent.rmdir()
    return statistics.median(costs)


def main():
    fsync = fsync_ms()
    runs = {"group commit": [], "batch of 1": []}
    for trial in range(TRIALS):
        for mode in runs:
            r = wrk_throughput(mode == "batch of 1")
            runs[mode].append(r)
            print(f"trial {trial + 1} {mode}: {r['accepted_per_s']:.0f} accepted/s (p50 {r['p50']}, p99 {r['p99']}, refused {r['refused']})",
                  file=sys.stderr)
    store = {"group commit": [], "batch of 1": []}
    for trial in range(TRIALS):
        for mode in store:
            r = store_alone(mode == "batch of 1")
            store[mode].append(r)
            print(f"store alone, trial {trial + 1} {mode}: {r}", file=sys.stderr)
    store_med = {m: statistics.median(r["events_per_s"] for r in rs) for m, rs in store.items()}
    store_ratio = store_med["group commit"] / store_med["batch of 1"]
    latency = delivery_latency()
    print(f"202 -> delivery start: {latency}", file=sys.stderr)
    med = {m: statistics.median(r["accepted_per_s"] for r in rs) for m, rs in runs.items()}
    ratio = med["group commit"] / med["batch of 1"]
    fs = subprocess.run(["df", "-T", tempfile.gettempdir()], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    load = os.getloadavg()
    lines = [
        "# Queue benchmark — durable Event invocations",
        "",
        f"`bench/queue/run`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores "
        f"(load average before: {load[0]:.2f}, shared with other work), state_dir on {fs}, "
        f"a 4 KB overwrite + fdatasync there (what a WAL commit costs the disk): {fsync:.2f} ms (median). wrk, {CONNECTIONS} keep-alive connections, "
        f"{WRK_SECONDS} s per trial, {TRIALS} trials per mode, interleaved; median shown.",
        "",
        "| mode | accepted events/s (median) | trials | client p50 / p99 (last trial) |",
        "|---|---|---|---|",
    ]
    for mode, rs in runs.items():
        trials = ", ".join(f"{r['accepted_per_s']:.0f}" for r in rs)
        lines.append(f"| {mode} | **{med[mode]:.0f}** | {trials} | {rs[-1]['p50']} / {rs[-1]['p99']} |")
    lines += [
        "",
        f"Group commit accepts **{ratio:.1f}×** the events per second of one fsync per event.",
        "",
        "The store alone (no HTTP; 64 tasks enqueueing directly, durable commits):",
        "",
        "| mode | events/s (median) | trials | events per commit (last trial) |",
        "|---|---|---|---|",
    ]
    for mode, rs in store.items():
        trials = ", ".join(str(r["events_per_s"]) for r in rs)
        lines.append(f"| {mode} | **{store_med[mode]:.0f}** | {trials} | {rs[-1]['events'] / rs[-1]['commits']:.1f} |")
    lines += [
        "",
        f"Group commit in the store alone: **{store_ratio:.1f}×** one fsync per event.",
        "",
        f"202 → delivery start, idle warm sandbox, {latency['n']} events one at a time: "
        f"p50 **{latency['p50']:.2f} ms**, p99 **{latency['p99']:.2f} ms**, max {latency['max']:.2f} ms "
        "(near 0 is possible: the commit that releases the 202 also wakes the worker).",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| ≥ 5,000 accepted events/s, 64 clients, full durability | {med['group commit']:.0f}/s | {'yes' if med['group commit'] >= 5000 else 'no'} |",
        f"| ≥ 10× one fsync per event | {ratio:.1f}× | {'yes' if ratio >= 10 else 'no'} |",
        f"| p99 202 → delivery start ≤ 20 ms, idle workers | {latency['p99']:.2f} ms | {'yes' if latency['p99'] <= 20 else 'no'} |",
        "",
        "Every 202 was sent after its event's commit (`synchronous=FULL`, WAL). The events are",
        "delivered to the official Rust echo function while wrk runs, so the host's CPU also goes",
        "to delivery. The baseline is the same host with `FLICK_QUEUE_MAX_BATCH=1`. How far apart",
        "the two are depends on the disk: the fsync cost above is what one event pays alone.",
        "This VM's disk acknowledges a sync in about a tenth of a millisecond (it has a write",
        "cache), so one fsync per event still allows several thousand events/s, and through HTTP",
        "group commit is then bound by the 2 shared cores (wrk, the host, the deliveries), not by",
        "the disk: the ratio through HTTP stays under 10× here, while the store alone shows what",
        "grouping saves. On a disk whose sync takes milliseconds the baseline is bound to about",
        "1/sync events/s, and group commit pays that sync once per batch (tens of events above).",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
