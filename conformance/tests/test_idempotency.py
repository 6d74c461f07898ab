"""`flick::idempotency` (feature `idempotency`): a charge made once per
order id, its result replayed to repeats, with a real Redis server (Debian's
redis-server, started here on a free port) shared by every sandbox, and with
the in-memory store. Checked: the replayed result is the stored one (same
charge id), a repeat with another amount is refused, a failed charge leaves
nothing (the retry charges), a concurrent repeat is refused while the first
runs, a missing key is a clear error. The function is examples/idempotency."""

import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import cargo_bin, free_port


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server missing: run scripts/install-deps")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.time() > deadline:
            proc.kill()
            pytest.fail("redis-server did not answer PING within 10 s")
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def host(make_host, redis):
    binary = cargo_bin("example-idempotency")
    return make_host({
        # Redis on the host's loopback: the function shares the host's network.
        "charge": {"command": [binary], "env": {"REDIS_ADDR": redis}, "network": "host",
                   "timeout_s": 10, "max_concurrency": 4},
        "charge-memory": {"command": [binary], "timeout_s": 10, "max_concurrency": 1},
    }, name="idempotency")


def charge(host, fn, **order):
    resp, result = host.invoke(fn, order)
    return resp.get("FunctionError"), result


@pytest.mark.parametrize("fn", ["charge", "charge-memory"])
def test_a_repeat_gets_the_first_result_not_a_second_charge(host, fn):
    key = f"order-{fn}-1"
    error, first = charge(host, fn, order_id=key, amount=42)
    assert error is None and first["amount"] == 42, first
    error, again = charge(host, fn, order_id=key, amount=42)
    assert again == first, "the stored result, same charge id"
    error, other = charge(host, fn, order_id=f"{key}-b", amount=42)
    assert other["charge_id"] != first["charge_id"], "another key is another charge"
    error, refused = charge(host, fn, order_id=key, amount=43)
    assert error == "Unhandled" and refused["errorType"] == "IdempotencyValidationError", refused


@pytest.mark.parametrize("fn", ["charge", "charge-memory"])
def test_a_failed_charge_leaves_nothing_and_a_missing_key_is_named(host, fn):
    key = f"order-{fn}-fail"
    error, failed = charge(host, fn, order_id=key, amount=5, fail=True)
    assert error == "Unhandled" and failed["errorType"] == "ProcessorUnavailable"
    error, retried = charge(host, fn, order_id=key, amount=5)
    assert error is None and retried["amount"] == 5, "the retry ran the charge"
    error, missing = charge(host, fn, amount=5)
    assert missing["errorType"] == "IdempotencyKeyError" and "/order_id" in missing["errorMessage"]


def test_a_concurrent_repeat_is_refused_while_the_first_runs(host):
    """Two sandboxes, one Redis: the second request finds the key in progress."""
    results = {}

    def slow():
        results["first"] = charge(host, "charge", order_id="order-slow", amount=1, sleep_ms=1500)

    first = threading.Thread(target=slow)
    first.start()
    time.sleep(0.5)
    error, second = charge(host, "charge", order_id="order-slow", amount=1, sleep_ms=1500)
    first.join()
    assert results["first"][0] is None, results
    assert error == "Unhandled" and second["errorType"] == "IdempotencyAlreadyInProgressError", second
    error, later = charge(host, "charge", order_id="order-slow", amount=1)
    assert later == results["first"][1], "once done, the result is replayed"
