"""The AWS CLI against the host: invoke and list-functions."""

import base64
import json
import os
import shutil
import subprocess

import pytest

from conftest import python_function


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({"echo-python": python_function(), "other-python": python_function()})


@pytest.fixture(scope="module")
def aws():
    exe = shutil.which("aws")
    if exe is None:
        pytest.fail("aws CLI not installed: run scripts/install-deps")

    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout + \
        subprocess.run([exe, "--version"], capture_output=True, text=True).stderr
    # v2 reads blob arguments as base64 unless told otherwise; v1 takes them raw
    # and has no --cli-binary-format option.
    binary_format = ["--cli-binary-format", "raw-in-base64-out"] if "aws-cli/2" in version else []

    def run(host, *args, tmp=None):
        args = [a for arg in args for a in (binary_format if arg == "BINARY_FORMAT" else [arg])]
        env = dict(os.environ, AWS_ACCESS_KEY_ID="conformance", AWS_SECRET_ACCESS_KEY="conformance",
                   AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1", AWS_PAGER="",
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        proc = subprocess.run([exe, "--endpoint-url", host.endpoint, "--output", "json", *args],
                              capture_output=True, text=True, timeout=60, env=env, cwd=tmp)
        return proc

    return run


def test_cli_invoke(host, aws, tmp_path):
    out = tmp_path / "out.json"
    proc = aws(host, "lambda", "invoke", "--function-name", "echo-python",
               "--payload", '{"action":"echo","from":"cli"}', "BINARY_FORMAT",
               "--log-type", "Tail", str(out))
    assert proc.returncode == 0, proc.stderr
    meta = json.loads(proc.stdout)
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in meta
    assert "START RequestId" in base64.b64decode(meta["LogResult"]).decode()
    assert json.loads(out.read_text()) == {"action": "echo", "from": "cli"}


def test_cli_invoke_function_error(host, aws, tmp_path):
    out = tmp_path / "out.json"
    proc = aws(host, "lambda", "invoke", "--function-name", "echo-python",
               "--payload", '{"action":"error","message":"from cli"}', "BINARY_FORMAT",
               str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorMessage"] == "from cli"


def test_cli_unknown_function(host, aws, tmp_path):
    proc = aws(host, "lambda", "invoke", "--function-name", "nope", str(tmp_path / "out.json"))
    assert proc.returncode != 0
    assert "ResourceNotFoundException" in proc.stderr, proc.stderr


def test_cli_list_functions(host, aws):
    proc = aws(host, "lambda", "list-functions")
    assert proc.returncode == 0, proc.stderr
    names = {f["FunctionName"] for f in json.loads(proc.stdout)["Functions"]}
    assert names == {"echo-python", "other-python"}


def test_cli_get_function(host, aws):
    proc = aws(host, "lambda", "get-function", "--function-name", "other-python")
    assert proc.returncode == 0, proc.stderr
    conf = json.loads(proc.stdout)["Configuration"]
    assert conf["FunctionName"] == "other-python"
    assert conf["Timeout"] == 3 and conf["MemorySize"] == 128
