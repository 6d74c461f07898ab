"""Sandboxes are isolated from each other and from the host (issue 17): a
hostile but fair function — conformance/functions/python/hostile_probe.py, run
by the raw runtime's `probe` action — tries what the issue's reporter did, and
reports what it could do:

- read a sibling's /proc/PID/environ (a secret in its env) or the host's, see
  their pids in /proc, signal them;
- take a sibling's events from its Runtime API (/next) and post forged answers;
- find the Invoke API in /proc/net/tcp and list, read and invoke every other
  function without credentials;
- read the host's state folder (logs, queue.db);
- with `network = "none"`, reach anything at all; with a private network
  (the default), reach the host's loopback services or a sibling, or be kept
  from a port a sibling listens on too.

One host runs the victim (the raw runtime, a secret in its env), the hostile
function — both on the host's network, where sandboxes share the most — a
function without network and one with a private network, with
FLICK_AUTH_KEYS set, as a host whose Lambda API is reachable by its own
functions must be run."""

import importlib.util
import json
import os
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config

from conftest import FUNCTIONS, REGION, HostExited, descendants, raw_function

KEY_ID = "flickisolation"
SECRET = "isolation-" + uuid.uuid4().hex
VICTIM_SECRET = "victim-secret-" + uuid.uuid4().hex
HOST_CANARY = "leak-canary"  # conftest's Host puts it in the host's environment


@pytest.fixture(scope="module")
def host(make_host):
    host = make_host({
        "victim": raw_function(env={"RAW_MODE": "normal", "VICTIM_SECRET": VICTIM_SECRET},
                               network="host", max_concurrency=1, timeout_s=10),
        "hostile": raw_function(network="host", timeout_s=60, max_concurrency=2),
        "private": raw_function(timeout_s=30, max_concurrency=2),
        "isolated": raw_function(env={"RAW_MODE": "normal", "VICTIM_SECRET": VICTIM_SECRET},
                                 network="none", timeout_s=30, max_concurrency=1),
    }, start=False, extra_env={"FLICK_AUTH_KEYS": f"{KEY_ID}:{SECRET}"}, name="isolation")
    host._client = boto3.session.Session().client(
        "lambda", endpoint_url=host.endpoint, region_name=REGION,
        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=90,
                      connect_timeout=5, max_pool_connections=8),
    )
    host.start(wait=False)
    # conftest's readiness check lists the functions unsigned: here any answer means up.
    deadline = time.time() + 30
    while True:
        if host.proc.poll() is not None:
            raise HostExited(f"flick serve exited with {host.proc.returncode}:\n{host.stderr()}")
        try:
            status, _, _ = host.http("GET", "/2015-03-31/functions", timeout=2)
            if status in (200, 403):
                break
        except OSError:
            pass
        assert time.time() < deadline, f"flick serve not ready:\n{host.stderr()}"
        time.sleep(0.05)
    assert status == 403, "with FLICK_AUTH_KEYS, an unsigned ListFunctions must be refused"
    return host


def call(host, name, event):
    resp, result = host.invoke(name, event)
    assert "FunctionError" not in resp, resp["RawPayload"][:2000]
    return result


def probe(host, name="hostile", **event):
    result = call(host, name, dict(event, action="probe"))
    text = json.dumps(result)
    for secret, what in ((VICTIM_SECRET, "the victim's secret"), (SECRET, "the host's auth secret"),
                         (HOST_CANARY, "the host's environment")):
        assert secret not in text, f"the {name} function got hold of {what}: {text[:3000]}"
    return result


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def uid_of_or_none(pid):
    try:
        return uid_of(pid)
    except OSError:
        return None


def host_listeners(host):
    """The loopback TCP listeners the host process holds (the Invoke API and
    every sandbox's Runtime API on the host's network), seen from outside."""
    inodes = set()
    fd_dir = f"/proc/{host.proc.pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"{fd_dir}/{fd}"))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    found = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            ip_hex, port_hex = fields[1].split(":")
            if fields[3] == "0A" and ip_hex == "0100007F" and fields[9] in inodes:
                found.add(f"127.0.0.1:{int(port_hex, 16)}")
    return sorted(found)


def probe_module():
    spec = importlib.util.spec_from_file_location("hostile_probe", FUNCTIONS / "python" / "hostile_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_sandbox_runs_as_an_unprivileged_user_of_its_own(host):
    victim = call(host, "victim", {"action": "whoami"})
    hostile = call(host, "hostile", {"action": "whoami"})
    isolated = call(host, "isolated", {"action": "whoami"})
    for who, me in (("victim", victim), ("hostile", hostile), ("isolated", isolated)):
        assert me["uid"] != 0 and me["gid"] != 0, f"{who} runs as root: {me}"
        assert 0 not in me["groups"], f"{who} keeps root's group: {me}"
        assert uid_of(me["pid"]) == me["uid"], "the kernel agrees on the process's owner"
    assert len({victim["uid"], hostile["uid"], isolated["uid"]}) == 3, (victim, hostile, isolated)
    assert uid_of(host.proc.pid) == 0, "the suite runs the host as root, where sandboxes get users"


def test_a_function_cannot_see_read_or_signal_a_sibling_or_the_host(host):
    victim = call(host, "victim", {"action": "whoami"})
    assert call(host, "victim", {"action": "echo", "n": 1}) == {"action": "echo", "n": 1}
    # Control: there is something to steal (seen as root, from outside).
    with open(f"/proc/{victim['pid']}/environ", "rb") as f:
        assert VICTIM_SECRET.encode() in f.read()
    with open(f"/proc/{host.proc.pid}/environ", "rb") as f:
        assert SECRET.encode() in f.read()
    others = {host.proc.pid, victim["pid"], *descendants(host.proc.pid)}
    result = probe(host, pids=sorted(others))
    me = result["self"]
    assert me["uid"] != victim["uid"] and me["uid"] != 0, me
    targets = {int(p): r for p, r in result["pids"].items()}
    foreign = [p for p in others if p in targets and uid_of_or_none(p) not in (None, me["uid"])]
    assert victim["pid"] in foreign and host.proc.pid in foreign, (victim, me, foreign)
    for pid in foreign:
        seen = targets[pid]
        what = "the host" if pid == host.proc.pid else "the victim" if pid == victim["pid"] else f"pid {pid}"
        assert seen["environ"] is None, f"the hostile function read {what}'s environment: {seen['environ'][:500]}"
        assert not seen["visible"], f"{what} (uid {uid_of_or_none(pid)}) is visible in the hostile function's /proc"
        assert seen["signal"] in ("PermissionError", "ProcessLookupError"), \
            f"the hostile function may signal {what}: os.kill({pid}, 0) → {seen['signal']}"
    listed = {int(p): uid for p, uid in result["proc"].items()}
    assert me["pid"] in listed
    strangers = {p: uid for p, uid in listed.items() if uid not in (None, me["uid"])}
    assert not strangers, f"the hostile function's /proc lists other users' processes: {strangers}"
    assert victim["pid"] not in listed and host.proc.pid not in listed


def test_a_function_cannot_take_or_answer_a_siblings_events(host):
    victim = call(host, "victim", {"action": "whoami"})
    listeners = host_listeners(host)
    assert victim["runtime_api"] in listeners, (victim, listeners)
    # Every listener of the host but the Lambda API: the victim's Runtime API,
    # and those of the other (and prepared) sandboxes.
    targets = [a for a in listeners if a != f"127.0.0.1:{host.port}"]
    answers, throttled, stop = [], [], threading.Event()

    def invoke_victim():
        while not stop.is_set():
            event = {"action": "echo", "nonce": uuid.uuid4().hex}
            sent = time.time()
            try:
                resp, result = host.invoke("victim", event)
            except host.client.exceptions.TooManyRequestsException:
                # One sandbox, called back to back: a call that comes before the
                # runtime's next /next (the host waits 20 ms for it) is throttled,
                # attack or not. Not what this test is about: call again.
                throttled.append(sent)
                time.sleep(0.05)
                continue
            answers.append((sent, time.time(), event, result, resp.get("FunctionError")))
            time.sleep(0.01)

    with ThreadPoolExecutor(2) as pool:
        # Each attempt may wait 5 s for an answer: one that gets none in that
        # time was let in (a waiting /next), not turned away.
        attack = pool.submit(probe, host, runtime_apis=targets, hammer_s=4, attempt_timeout_s=5)
        time.sleep(0.3)
        victim_calls = pool.submit(invoke_victim)
        try:
            result = attack.result(timeout=120)
        finally:
            stop.set()
        victim_calls.result(timeout=30)
    assert not result["stolen"], f"the hostile function took events meant for others: {result['stolen']}"
    assert result["attempts"] >= len(targets)
    for addr, outcomes in result["runtime_apis"].items():
        whose = "the victim's" if addr == victim["runtime_api"] else "another sandbox's"
        assert set(outcomes) <= {"closed", "refused"}, \
            f"GET /next on {whose} Runtime API {addr} from the hostile function's user was not closed at " \
            f"once: {outcomes}; unusual attempts: {result['unusual']}; victim at {victim['runtime_api']}"
    assert sum(result["runtime_apis"][victim["runtime_api"]].values()) >= 3, result["runtime_apis"]
    during = [a for a in answers if a[0] < result["ended"] and a[1] > result["began"]]
    assert len(during) >= 3, \
        f"too few victim invocations overlapped the attack: {len(during)} of {len(answers)} ({len(throttled)} throttled)"
    for _, _, event, answer, error in answers:
        assert error is None and answer == event, f"the victim's answer is not its own: {answer!r} for {event!r}"
    assert call(host, "victim", {"action": "echo", "after": "attack"}) == {"action": "echo", "after": "attack"}


def test_the_lambda_api_refuses_unsigned_calls_from_a_function(host):
    starts = host.log_text("victim").count("START RequestId")
    result = probe(host, invoke_api=host.endpoint, victim="victim", key_id=KEY_ID)
    api = result["lambda_api"]
    assert f"127.0.0.1:{host.port}" in result["listeners"], \
        "the reporter found the Invoke API in /proc/net/tcp (reproduced: it is there to be found)"
    for call_name in ("invoke_unsigned", "invoke_event_unsigned", "stream_unsigned", "list_unsigned",
                      "configuration_unsigned"):
        got = api[call_name]
        assert (got["status"], got["type"]) == (403, "MissingAuthenticationTokenException"), (call_name, got)
        assert json.loads(got["body"]) == {"message": "Missing Authentication Token"}, (call_name, got)
    assert (api["invoke_guessed_secret"]["status"], api["invoke_guessed_secret"]["type"]) == \
        (403, "InvalidSignatureException"), api["invoke_guessed_secret"]
    assert (api["invoke_unknown_key"]["status"], api["invoke_unknown_key"]["type"]) == \
        (403, "UnrecognizedClientException"), api["invoke_unknown_key"]
    for call_name, got in api.items():
        if call_name.startswith("invoke_path_"):
            assert got["status"] is not None and got["status"] >= 400, \
                f"an unsigned Invoke spelled {got['path']} was served: {got}"
    time.sleep(0.5)
    assert host.log_text("victim").count("START RequestId") == starts, "a refused call ran the victim"
    # Control: the probe's signer is right, so the guessed secret was refused for being wrong.
    signer = probe_module()
    url = f"{host.endpoint}/2015-03-31/functions/victim/invocations"
    body = json.dumps({"action": "echo", "signed": True}).encode()
    status, _, answer = host.http("POST", "/2015-03-31/functions/victim/invocations", body,
                                  signer.sigv4_headers("POST", url, body, KEY_ID, SECRET, REGION))
    assert (status, json.loads(answer)) == (200, {"action": "echo", "signed": True}), answer[:500]


@pytest.fixture(scope="module")
def outside_listener():
    """A TCP listener of the test's own on every address (connects to it succeed
    from the backlog, unaccepted): something outside a sandbox to reach for."""
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


def non_loopback_address():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def test_a_function_without_network_reaches_nothing_but_answers(host, outside_listener):
    assert call(host, "isolated", {"action": "echo", "n": 1}) == {"action": "echo", "n": 1}
    victim = call(host, "victim", {"action": "whoami"})
    isolated = call(host, "isolated", {"action": "whoami"})
    targets = [f"127.0.0.1:{host.port}", victim["runtime_api"], f"127.0.0.1:{outside_listener}"]
    outside = non_loopback_address()
    if outside:
        targets.append(f"{outside}:{outside_listener}")
    # A port of its own namespace that happens to have the same number is no escape.
    own_port = isolated["runtime_api"].rsplit(":", 1)[1]
    targets = [t for t in targets if not t.endswith(":" + own_port)]
    control = probe(host, connect=targets)
    assert control["connect"][f"127.0.0.1:{outside_listener}"] == "connected", \
        f"control: a function on the host's network reaches the test's listener: {control['connect']}"
    result = probe(host, "isolated", connect=targets)
    reached = {addr: how for addr, how in result["connect"].items() if how == "connected"}
    assert not reached, f"a network = \"none\" function connected out: {result['connect']}"
    me = result["self"]
    assert me["uid"] not in (0, victim["uid"]), me
    listed = {int(p): uid for p, uid in result["proc"].items()}
    assert me["pid"] in listed
    strangers = {p: uid for p, uid in listed.items() if uid not in (None, me["uid"])}
    assert not strangers, f"the isolated function's /proc lists other users' processes: {strangers}"
    assert f"127.0.0.1:{host.port}" not in result["listeners"], result["listeners"]
    assert call(host, "isolated", {"action": "echo", "n": 2}) == {"action": "echo", "n": 2}


def test_a_function_cannot_read_the_hosts_state_folder(host):
    assert call(host, "victim", {"action": "echo", "logged": True})
    state = host.root / host.server["state_dir"]
    paths = [state, state / "logs", host.log_path("victim"), host.log_path("hostile"), state / "queue.db",
             state / "tmp"]
    for path in (state, state / "logs", host.log_path("victim"), state / "queue.db"):
        assert path.exists(), f"{path} is missing: nothing to keep from the function"
    assert oct(state.stat().st_mode & 0o777) == "0o700", oct(state.stat().st_mode)
    result = probe(host, paths=[str(p) for p in paths])
    got = result["paths"]
    for path in paths:
        if path.exists():
            assert got[str(path)] == "PermissionError", f"the hostile function could open {path}: {got[str(path)]}"


def test_a_private_network_reaches_out_but_not_the_hosts_loopback_nor_a_sibling(host, outside_listener):
    victim = call(host, "victim", {"action": "whoami"})
    targets = [victim["runtime_api"], f"127.0.0.1:{outside_listener}", f"127.0.0.1:{host.port}",
               f"sandbox.localdomain:{host.port}", f"sandbox:{host.port}"]
    outside = non_loopback_address()
    if outside:
        targets.append(f"{outside}:{outside_listener}")
    private = call(host, "private", {"action": "whoami"})
    # A port of its own namespace that happens to have the same number is no escape.
    own_port = private["runtime_api"].rsplit(":", 1)[1]
    result = probe(host, "private", connect=[t for t in targets if not t.endswith(":" + own_port)])
    reached = result["connect"]
    assert reached.get(victim["runtime_api"], "ECONNREFUSED") == "ECONNREFUSED", reached
    assert reached[f"127.0.0.1:{outside_listener}"] == "ECONNREFUSED", \
        f"a private network reached a service on the host's loopback: {reached}"
    if outside:
        assert reached[f"{outside}:{outside_listener}"] == "connected", \
            f"a private network could not reach out (the host's outside address): {reached}"
    # The host's Lambda API is served inside, at the host's loopback address
    # and under the sandbox names, and still wants a signature.
    for name in ("127.0.0.1", "sandbox.localdomain", "sandbox"):
        assert reached[f"{name}:{host.port}"] == "connected", reached
    assert result["self"]["uid"] not in (0, victim["uid"]), result["self"]


def test_the_lambda_api_inside_a_private_network_wants_a_signature(host):
    starts = host.log_text("victim").count("START RequestId")
    result = probe(host, "private", invoke_api=f"http://127.0.0.1:{host.port}", victim="victim", key_id=KEY_ID)
    api = result["lambda_api"]
    for call_name in ("invoke_unsigned", "invoke_event_unsigned", "list_unsigned"):
        got = api[call_name]
        assert (got["status"], got["type"]) == (403, "MissingAuthenticationTokenException"), (call_name, got)
    assert api["invoke_unknown_key"]["type"] == "UnrecognizedClientException", api["invoke_unknown_key"]
    time.sleep(0.5)
    assert host.log_text("victim").count("START RequestId") == starts, "a refused call ran the victim"


def test_sandboxes_with_private_networks_listen_on_the_same_port(host):
    """Two sandboxes of one function, at once, each listening on port 8080 (a
    web app behind the Web Adapter, an extension's fixed port)."""
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(call, host, "private", {"action": "bind", "port": 8080, "hold_ms": 1500})
                 for _ in range(2)]
        results = [c.result(timeout=60) for c in calls]
    assert results[0]["pid"] != results[1]["pid"], "the two calls must run in two sandboxes"
    assert [r["bound"] for r in results] == ["ok", "ok"], results
