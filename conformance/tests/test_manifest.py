"""Manifest validation: a bad flick.toml makes `flick serve` exit 2 naming key and line."""

import os
import re
import subprocess

import pytest

from conftest import FUNCTIONS, Host, function_python, python_function, render_manifest, traversable


def serve_bad(flick_bin, tmp_path, text):
    manifest = tmp_path / "flick.toml"
    manifest.write_text(text)
    proc = subprocess.run([flick_bin, "serve", "--config", str(manifest), "--listen", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=20, cwd=tmp_path)
    return proc


def line_of(text, needle):
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise ValueError(needle)


def names_line(stderr, line):
    return re.search(rf"\bline {line}\b", stderr, re.I) or re.search(rf":{line}:\d+", stderr)


def base(tmp_path, **fields):
    spec = {"command": ["python3", "-m", "awslambdaric", "app.handler"], "workdir": str(FUNCTIONS / "python"),
            "timeout_s": 3, "memory_mb": 128}
    spec.update(fields)
    return render_manifest({"listen": "127.0.0.1:0", "state_dir": str(tmp_path / ".flick")}, {"f": spec})


CASES = {
    "unknown-key": (dict(colour="blue"), "colour"),
    "wrong-type": (dict(timeout_s="three"), "timeout_s"),
    "zero-timeout": (dict(timeout_s=0), "timeout_s"),
    "negative-memory": (dict(memory_mb=-5), "memory_mb"),
    "command-not-a-list": (dict(command=42), "command"),
    "small-tmp": (dict(ephemeral_storage_mb=100), "ephemeral_storage_mb"),
    "huge-tmp": (dict(ephemeral_storage_mb=10241), "ephemeral_storage_mb"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_function_field(flick_bin, tmp_path, case):
    fields, key = CASES[case]
    text = base(tmp_path, **fields)
    proc = serve_bad(flick_bin, tmp_path, text)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert key in proc.stderr, proc.stderr
    line = line_of(text, f"{key} =")
    assert names_line(proc.stderr, line), f"stderr must name line {line}:\n{proc.stderr}\n---\n{text}"


@pytest.mark.parametrize("setting", [
    "max_retry_attempts = 3",
    "max_event_age_s = 30",
    "max_event_age_s = 21601",
    'on_failure = "function:nowhere"',
    'on_success = "f"',
    "max_queued = 0",
])
def test_invalid_async_setting(flick_bin, tmp_path, setting):
    """[functions.NAME.async]: Lambda's ranges, destinations naming a function of the manifest."""
    text = base(tmp_path) + f"\n[functions.f.async]\n{setting}\n"
    proc = serve_bad(flick_bin, tmp_path, text)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    key = setting.split(" =")[0]
    assert f"functions.f.async.{key}" in proc.stderr, proc.stderr
    assert names_line(proc.stderr, line_of(text, setting)), proc.stderr


def test_missing_command(flick_bin, tmp_path):
    text = render_manifest({"listen": "127.0.0.1:0"}, {"f": {"workdir": str(FUNCTIONS / "python"), "timeout_s": 3}})
    proc = serve_bad(flick_bin, tmp_path, text)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "command" in proc.stderr, proc.stderr


def test_unknown_server_key(flick_bin, tmp_path):
    text = render_manifest({"listen": "127.0.0.1:0", "turbo": True}, {"f": python_function()})
    proc = serve_bad(flick_bin, tmp_path, text)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "turbo" in proc.stderr
    assert names_line(proc.stderr, line_of(text, "turbo =")), proc.stderr


def test_not_toml(flick_bin, tmp_path):
    proc = serve_bad(flick_bin, tmp_path, "[server\nlisten = \n")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert names_line(proc.stderr, 1), proc.stderr


def test_missing_manifest(flick_bin, tmp_path):
    proc = subprocess.run([flick_bin, "serve", "--config", str(tmp_path / "nope.toml")],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0
    assert "nope.toml" in proc.stderr, proc.stderr


def test_defaults_and_relative_paths(flick_bin, tmp_path):
    """Only `command` given; workdir and state_dir relative to the manifest's folder,
    whatever the current directory. Defaults as on Lambda: 128 MB, 3 s."""
    root = tmp_path / "project"
    root.mkdir()
    traversable(root)  # the relative workdir passes through it
    rel = os.path.relpath(FUNCTIONS / "python", root)
    host = Host(flick_bin, root, {"min": {"command": [function_python(), "-m", "awslambdaric", "app.handler"],
                                          "workdir": rel}},
                server={"state_dir": "state"})
    host.start(cwd="/")
    try:
        _, result = host.invoke("min", {"action": "pid"})
        host.seen_pids.add(result["pid"])
        assert os.path.realpath(result["cwd"]) == os.path.realpath(FUNCTIONS / "python")
        conf = host.client.get_function(FunctionName="min")["Configuration"]
        assert conf["MemorySize"] == 128 and conf["Timeout"] == 3, conf
        assert host.wait_log("min", r"REPORT RequestId"), f"no log at {host.log_path('min')}"
        assert str(host.log_path("min")).startswith(str(root / "state"))
    finally:
        host.stop()


def test_build_runs_once_before_serving(flick_bin, tmp_path):
    count = tmp_path / "build.count"
    functions = {"built": python_function(build=f"echo built >> {count}")}
    host = Host(flick_bin, tmp_path / "h", functions)
    host.start()
    try:
        assert count.read_text() == "built\n", "build must run exactly once, before serving"
        host.invoke("built", {"action": "echo"})
        host.invoke("built", {"action": "echo"})
        assert count.read_text() == "built\n"
    finally:
        host.stop()


def test_failing_build_stops_serve(flick_bin, tmp_path):
    functions = {"broken-build": python_function(build="echo build-went-wrong >&2; exit 7")}
    host = Host(flick_bin, tmp_path / "h", functions)
    host.start(wait=False)
    try:
        rc = host.proc.wait(30)
    except subprocess.TimeoutExpired:
        host.kill_hard()
        pytest.fail("flick serve kept running although a build failed")
    assert rc != 0
    assert "broken-build" in host.stderr(), host.stderr()
