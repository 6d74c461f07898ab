"""Shutdown: SIGTERM stops the host cleanly and leaves no process behind."""

import signal
import threading
import time

from conftest import all_runtime_functions, descendants, raw_function, wait_dead


def start_all(host_factory, runtimes, name):
    functions = all_runtime_functions(runtimes)
    functions["stubborn"] = raw_function("ignore_sigterm")
    host = host_factory(functions, name=name)
    pids = set()
    for fn in functions:
        resp, result = host.invoke(fn, {"action": "pid"})
        assert "FunctionError" not in resp, (fn, result)
        pids.add(result["pid"])
    _, spawned = host.invoke("echo-python", {"action": "spawn"})
    pids.add(spawned["child_pid"])
    return host, pids


def test_sigterm_stops_everything(host_factory, runtimes):
    host, pids = start_all(host_factory, runtimes, "sigterm")
    assert set(descendants(host.proc.pid)) >= pids
    t0 = time.time()
    host.stop(signal.SIGTERM, timeout=10)  # asserts exit 0 and no process left
    assert time.time() - t0 < 5, "shutdown took too long (grace is meant to be short)"
    assert not wait_dead(pids, 0.1)
    assert (host.root / ".flick" / "logs" / "echo-python.log").is_file()


def test_sigterm_during_invocation(host_factory, runtimes):
    host, pids = start_all(host_factory, runtimes, "sigterm-busy")
    outcome = {}

    def call():
        try:
            outcome["resp"] = host.invoke("echo-python", {"action": "sleep", "ms": 20000})
        except Exception as e:  # a closed connection is an acceptable answer
            outcome["error"] = e

    t = threading.Thread(target=call)
    t.start()
    deadline = time.time() + 5
    while host.log_text("echo-python").count("START RequestId") < 3 and time.time() < deadline:
        time.sleep(0.02)
    t0 = time.time()
    host.stop(signal.SIGTERM, timeout=10)
    assert time.time() - t0 < 5
    t.join(10)
    assert not t.is_alive(), "the in-flight client was left hanging after the host exited"


def test_sigkill_leaves_no_orphans(host_factory, runtimes):
    """Sandboxes die with the host even when it cannot clean up (DESIGN.md)."""
    host, pids = start_all(host_factory, runtimes, "sigkill")
    host.stop(signal.SIGKILL, timeout=10)  # asserts every tracked process is gone
    assert not wait_dead(pids, 0.1)
