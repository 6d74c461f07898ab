"""`flick bench`: cold and warm starts measured through the Invoke API.

The real binary, on a function built with Flick's SDK (examples/echo) in
embedded mode (the bench starts and stops its own host), and on the Python
and Node functions of the official runtime clients against a running host
(--endpoint): the JSON document's shape, phases that add up to the
client's total, statistics that agree with the samples, the SDK's startup
trace, --compare's interleaving and ratios, bad input, a function that dies
at init, SigV4, and the HTML report rendered by headless Chromium and held
against the --json output of the same run.
"""

import json
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import pytest

from conftest import all_runtime_functions, cargo_bin, cmdline, function_python, need, python_function, raw_function

COLD_PHASES = ["total", "sandbox", "init", "invoke", "host_overhead", "report_init_duration", "report_duration"]
WARM_PHASES = ["total", "invoke", "host_overhead"]
STATS = ["count", "min", "p50", "p90", "p99", "max"]
TRACE_PHASES = ["process_start_to_main", "runtime_env", "config", "state", "first_next", "total"]
# What the host may add to a cold start beyond its own phases (HTTP, scheduling,
# the wait for the runtime's next /next that completes the log tail).
OVERHEAD_LIMIT_MS = 50.0


@pytest.fixture(scope="session")
def sdk_echo_bin():
    """examples/echo (crate example-echo), a function built with Flick's SDK."""
    return cargo_bin("example-echo")


def bench(flick_bin, *args, env=None, cwd=None, timeout=180):
    """Runs `flick bench ARGS`; in a host's folder (`cwd`), the embedded host and
    its sandboxes can be found there afterwards (see leftovers)."""
    return subprocess.run([flick_bin, "bench", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})), cwd=cwd)


def bench_json(flick_bin, *args, **kwargs):
    proc = bench(flick_bin, *args, "--json", **kwargs)
    assert proc.returncode == 0, f"flick bench {args} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout)


def nearest_rank(values, p):
    ordered = sorted(values)
    rank = -(-p * len(ordered) // 100)  # ceil
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def check_document(doc, name, cold, warm, mode):
    """The schema, the counts, and statistics that agree with the samples."""
    assert doc["schema"] == "flick-bench/1"
    assert doc["mode"] == mode
    assert doc["requested"] == {"cold": cold, "warm": warm}
    assert doc["endpoint"].startswith("http://127.0.0.1:")
    [f] = [f for f in doc["functions"] if f["function"] == name]
    for kind, count, phases in (("cold", cold, COLD_PHASES), ("warm", warm, WARM_PHASES)):
        part = f[kind]
        assert part["count"] == count == len(part["samples"])
        assert list(part["phases"]) and set(part["phases"]) == set(phases), part["phases"].keys()
        for phase, stats in part["phases"].items():
            assert set(stats) == set(STATS)
            values = [s["phases"][phase] for s in part["samples"]]
            assert stats["count"] == count
            assert stats["min"] == min(values) and stats["max"] == max(values), (phase, stats, values)
            for p in (50, 90, 99):
                assert stats[f"p{p}"] == pytest.approx(nearest_rank(values, p), abs=0.002), (phase, p, stats)
        for s in part["samples"]:
            assert set(s) == {"request_id", "phases", "report", "startup_trace"}
            assert len(s["request_id"]) == 36
    return f


def check_phases_add_up(f):
    for s in f["cold"]["samples"]:
        p = s["phases"]
        parts = p["sandbox"] + p["init"] + p["invoke"]
        assert parts <= p["total"] + 0.003, s
        assert p["total"] - parts < OVERHEAD_LIMIT_MS, s
        assert p["host_overhead"] == pytest.approx(p["total"] - parts, abs=0.003)
        # REPORT's Init Duration is the same exec → first /next, to 10 µs.
        assert p["report_init_duration"] == pytest.approx(p["init"], abs=0.011), s
        assert s["report"]["init_duration"] is not None and s["report"]["max_memory_used_mb"] >= 1
    for s in f["warm"]["samples"]:
        p = s["phases"]
        assert 0 < p["invoke"] <= p["total"] + 0.003, s
        assert p["host_overhead"] == pytest.approx(p["total"] - p["invoke"], abs=0.003)
        assert s["report"] is None
    cold_peaks = [s["report"]["max_memory_used_mb"] for s in f["cold"]["samples"]]
    assert f["max_memory_used_mb"] >= max(cold_peaks + [1])


def leftovers(root):
    """Processes of a test's manifest folder: the embedded host (by its
    --config) and its sandboxes (prepared ones keep the host's working
    directory, which bench() makes that folder; runtimes run in it)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        mine = cwd == str(root) or cwd.startswith(f"{root}/")
        if mine or any(a.startswith(f"{root}/") for a in cmdline(int(entry))):
            found.append((int(entry), cmdline(int(entry))))
    return found


# ---------------------------------------------------------------------------
# embedded mode, on the SDK's echo: --json and --html from one run


@pytest.fixture(scope="module")
def sdk_run(host_factory, sdk_echo_bin):
    """One embedded run: 5 cold starts, 20 warm; the JSON document and the HTML report."""
    host = host_factory({"echo-sdk": {"command": [sdk_echo_bin], "memory_mb": 128}}, start=False, name="bench-sdk")
    html = host.root / "report.html"
    proc = bench(host.flick_bin, "echo-sdk", "--config", str(host.manifest), "--cold", "5", "--warm", "20",
                 "--json", "--html", str(html), cwd=host.root)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return host, json.loads(proc.stdout), html


def test_embedded_json_document(sdk_run):
    host, doc, _ = sdk_run
    f = check_document(doc, "echo-sdk", 5, 20, "embedded")
    assert doc["config"] == str(host.manifest)
    assert doc["payload"] == {}
    assert doc["compare"] is None
    assert doc["host_memory"]["rss_kb"] > 0
    assert doc["host_memory"]["peak_rss_kb"] >= doc["host_memory"]["rss_kb"]
    check_phases_add_up(f)


def test_embedded_sdk_startup_trace(sdk_run):
    _, doc, _ = sdk_run
    [f] = doc["functions"]
    assert list(f["cold"]["startup_trace"]) and set(TRACE_PHASES) <= set(f["cold"]["startup_trace"])
    for s in f["cold"]["samples"]:
        trace = s["startup_trace"]
        assert trace is not None and set(TRACE_PHASES) <= set(trace), s
        assert all(v >= 0 for v in trace.values())
        assert trace["total"] >= trace["runtime_env"] + trace["first_next"]
    assert f["warm"]["startup_trace"] == {}
    assert all(s["startup_trace"] is None for s in f["warm"]["samples"])


def test_embedded_host_stopped(sdk_run):
    host, _, _ = sdk_run
    assert leftovers(host.root) == []


def test_terminal_table(host_factory, sdk_echo_bin):
    host = host_factory({"echo-sdk": {"command": [sdk_echo_bin]}}, start=False, name="bench-table")
    proc = bench(host.flick_bin, "echo-sdk", "--config", str(host.manifest), "--cold", "2", "--warm", "3",
                 cwd=host.root)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in ("echo-sdk: 2 cold starts", "echo-sdk: 3 warm invocations", "sandbox ready",
                 "exec → first /next", "first response", "host overhead", "REPORT Init Duration",
                 "startup trace (SDK)", "round trip", "Max Memory Used", "host: RSS"):
        assert text in out, out
    assert leftovers(host.root) == []


# ---------------------------------------------------------------------------
# against a running host: the official Python and Node runtime clients


@pytest.fixture(scope="module")
def host(make_host, runtimes):
    functions = all_runtime_functions(runtimes, only=["python", "node"])
    functions["dies-at-init"] = raw_function(
        command=[function_python(), "-c", "import sys; print('dying at init'); sys.exit(3)"])
    return make_host(functions)


@pytest.mark.parametrize("runtime", ["python", "node"])
def test_endpoint_runtime_clients(host, runtime):
    name = need(host, f"echo-{runtime}")
    doc = bench_json(host.flick_bin, name, "--endpoint", host.endpoint, "--cold", "3", "--warm", "5",
                     "--payload", '{"action":"echo","n":1}')
    f = check_document(doc, name, 3, 5, "endpoint")
    assert doc["config"] is None and doc["host_memory"] is None
    assert doc["payload"] == {"action": "echo", "n": 1}
    check_phases_add_up(f)
    # Not built with Flick's SDK: no startup trace.
    assert f["cold"]["startup_trace"] == {}
    assert all(s["startup_trace"] is None for s in f["cold"]["samples"])
    # Every cold sample was a cold start of its own sandbox, in the host's log.
    ids = [s["request_id"] for s in f["cold"]["samples"]]
    assert len(set(ids)) == 3
    assert host.proc.poll() is None


def test_compare_interleaves_and_prints_ratios(host):
    a, b = need(host, "echo-python"), need(host, "echo-node")
    doc = bench_json(host.flick_bin, a, "--compare", b, "--endpoint", host.endpoint, "--cold", "3", "--warm", "4")
    assert [f["function"] for f in doc["functions"]] == [a, b]
    fa, fb = doc["functions"]
    check_document(doc, a, 3, 4, "endpoint")
    check_document(doc, b, 3, 4, "endpoint")
    ratios = doc["compare"]["ratios"]
    assert doc["compare"]["base"] == a and doc["compare"]["other"] == b
    for kind, phases in (("cold", COLD_PHASES), ("warm", WARM_PHASES)):
        assert set(ratios[kind]) == set(phases)
        for phase in phases:
            pa, pb = fa[kind]["phases"][phase]["p50"], fb[kind]["phases"][phase]["p50"]
            if pa > 0.01:
                assert ratios[kind][phase] == pytest.approx(pb / pa, rel=0.01, abs=0.01), (kind, phase)
    # Cold starts alternate A B A B in the host's log.
    log = host.stderr()
    cold_ids = [(s["request_id"], a) for s in fa["cold"]["samples"]] + [(s["request_id"], b) for s in fb["cold"]["samples"]]
    order = [name for rid, name in sorted(cold_ids, key=lambda x: log.index(f"START RequestId: {x[0]}"))]
    assert order == [a, b, a, b, a, b], order

    proc = bench(host.flick_bin, a, "--compare", b, "--endpoint", host.endpoint, "--cold", "1", "--warm", "2")
    assert proc.returncode == 0, proc.stderr
    assert f"p50: {b} / {a}" in proc.stdout, proc.stdout
    assert "ratio" in proc.stdout and "cold total" in proc.stdout and "warm round trip" in proc.stdout
    assert "×" in proc.stdout


# ---------------------------------------------------------------------------
# bad input and failing functions


def test_unknown_function_is_exit_2(host):
    for args in (["--cold", "1", "--warm", "1"], ["--cold", "0", "--warm", "1"]):
        proc = bench(host.flick_bin, "no-such-function", "--endpoint", host.endpoint, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "no function no-such-function" in proc.stderr, proc.stderr
    proc = bench(host.flick_bin, need(host, "echo-python"), "--compare", "nope", "--endpoint", host.endpoint,
                 "--cold", "1", "--warm", "0")
    assert proc.returncode == 2 and "no function nope" in proc.stderr, proc.stderr


def test_nothing_to_measure_or_bad_payload_is_exit_2(host):
    proc = bench(host.flick_bin, "echo-python", "--endpoint", host.endpoint, "--cold", "0", "--warm", "0")
    assert proc.returncode == 2
    assert "--cold" in proc.stderr and "--warm" in proc.stderr, proc.stderr
    proc = bench(host.flick_bin, "echo-python", "--endpoint", host.endpoint, "--payload", "{not json")
    assert proc.returncode == 2
    assert "--payload" in proc.stderr, proc.stderr


def test_function_dying_at_init_is_exit_1_and_host_serves_on(host):
    proc = bench(host.flick_bin, "dies-at-init", "--endpoint", host.endpoint, "--cold", "2", "--warm", "2")
    assert proc.returncode == 1, proc.stderr
    assert "dies-at-init failed on its cold start 1 of 2" in proc.stderr, proc.stderr
    assert "Runtime.ExitError" in proc.stderr and "exit status 3" in proc.stderr, proc.stderr
    assert "dying at init" in proc.stderr, proc.stderr  # its log
    assert host.proc.poll() is None
    _, result = host.invoke(need(host, "echo-python"), {"action": "echo", "after": "failure"})
    assert result == {"action": "echo", "after": "failure"}


def test_embedded_bad_manifest_is_exit_2(tmp_path, flick_bin):
    manifest = tmp_path / "flick.toml"
    manifest.write_text("[server]\nbogus = 1\n")
    proc = bench(flick_bin, "echo", "--config", str(manifest))
    assert proc.returncode == 2, proc.stderr
    assert "bogus" in proc.stderr, proc.stderr


def test_signed_requests(host_factory):
    key = {"access_key_id": "AKIDBENCH", "secret_access_key": "bench-secret"}
    host = host_factory({"echo-python": python_function()}, server={"auth": {"keys": [key]}}, start=False,
                        name="bench-auth")
    signed = {"AWS_ACCESS_KEY_ID": key["access_key_id"], "AWS_SECRET_ACCESS_KEY": key["secret_access_key"],
              "AWS_REGION": "us-east-1"}
    doc = bench_json(host.flick_bin, "echo-python", "--config", str(host.manifest), "--cold", "1", "--warm", "2",
                     env=signed, cwd=host.root)
    assert doc["functions"][0]["cold"]["count"] == 1
    env = {k: v for k, v in os.environ.items() if k not in signed}
    proc = subprocess.run([host.flick_bin, "bench", "echo-python", "--config", str(host.manifest),
                           "--cold", "1", "--warm", "0"], capture_output=True, text=True, timeout=120, env=env,
                          cwd=host.root)
    assert proc.returncode == 1, proc.stderr
    assert "MissingAuthenticationTokenException" in proc.stderr and "AWS_ACCESS_KEY_ID" in proc.stderr
    assert leftovers(host.root) == []


# ---------------------------------------------------------------------------
# the HTML report in headless Chromium


class Elements(HTMLParser):
    """Every element of a page as (tag, attributes)."""

    def __init__(self):
        super().__init__()
        self.elements = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def find(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag and all(a.get(k.replace("_", "-")) == v
                                                                for k, v in attrs.items())]


def chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not installed (scripts/install-deps installs it)")
    return exe


def render(page, *extra):
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", *extra, page.as_uri()],
            capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_html_report_matches_json(sdk_run):
    _, doc, html = sdk_run
    dom = Elements()
    dom.feed(render(html, "--dump-dom"))
    [f] = doc["functions"]
    cold = f["cold"]
    totals = [s["phases"]["total"] for s in cold["samples"]]

    [hist] = dom.find("svg", id="histogram-echo-sdk")
    assert int(hist["data-count"]) == cold["count"] == len(totals)
    assert float(hist["data-min"]) == cold["phases"]["total"]["min"]
    assert float(hist["data-max"]) == cold["phases"]["total"]["max"]
    bins = [b for b in dom.find("rect") if "bin" in b.get("class", "").split()]
    assert len(bins) == int(hist["data-bins"]) >= 1
    assert sum(int(b["data-count"]) for b in bins) == len(totals)
    for i, b in enumerate(bins):
        lo, hi = float(b["data-lo"]), float(b["data-hi"])
        last = i == len(bins) - 1
        inside = [t for t in totals if lo <= t and (t <= hi if last else t < hi)]
        assert int(b["data-count"]) == len(inside), (b, totals)
        assert float(b["height"]) > 0 or int(b["data-count"]) == 0

    [bar] = dom.find("svg", id="phases-echo-sdk")
    assert float(bar["data-total-p50"]) == cold["phases"]["total"]["p50"]
    parts = [r for r in dom.find("rect") if "phase" in r.get("class", "").split()]
    assert [r["data-phase"] for r in parts] == ["sandbox", "init", "invoke", "host_overhead"]
    for r in parts:
        assert float(r["data-p50"]) == cold["phases"][r["data-phase"]]["p50"], r
    # Drawn to one scale, left to right in order.
    widths = [(float(r["width"]), float(r["data-p50"])) for r in parts if float(r["data-p50"]) > 0.05]
    scales = [w / p for w, p in widths]
    assert max(scales) == pytest.approx(min(scales), rel=0.1, abs=1.0), widths
    xs = [float(r["x"]) for r in parts]
    assert xs == sorted(xs)

    # Every table cell against the JSON statistics.
    for kind in ("cold", "warm"):
        assert dom.find("table", data_kind=kind, data_function="echo-sdk")
    cells, current, row = {}, None, None
    for tag, attrs in dom.elements:
        if tag == "table":
            current = attrs.get("data-kind")
        elif tag == "tr" and "data-phase" in attrs:
            row = attrs["data-phase"]
        elif tag == "td" and "data-stat" in attrs:
            cells[(current, row, attrs["data-stat"])] = float(attrs["data-ms"])
    for kind in ("cold", "warm"):
        for phase, stats in f[kind]["phases"].items():
            for stat in ("p50", "p90", "p99", "min", "max"):
                assert cells[(kind, phase, stat)] == stats[stat], (kind, phase, stat)
    for name, stats in cold["startup_trace"].items():
        assert cells[("cold", f"startup_trace.{name}", "p50")] == stats["p50"]

    png = html.with_suffix(".png")
    render(html, f"--screenshot={png}", "--window-size=900,1600")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
