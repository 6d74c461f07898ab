"""`flick package`: the AWS SAM template of a manifest — each function with
its runtime, handler, memory, timeout, /tmp, environment and layers, its zip
from `flick build`, its HTTP routes as HttpApi events and its [async] table
as EventInvokeConfig — which AWS's own linter, cfn-lint, accepts. What SAM
cannot say is refused, naming the key."""

import json
import shutil
import subprocess

import pytest

from conftest import render_manifest


def package(flick_bin, folder, functions):
    manifest = folder / "flick.toml"
    manifest.write_text(render_manifest({"listen": "127.0.0.1:0"}, functions))
    return subprocess.run([flick_bin, "package", "--config", str(manifest)], capture_output=True, text=True,
                          timeout=60)


@pytest.fixture(scope="module")
def template(flick_bin, tmp_path_factory):
    folder = tmp_path_factory.mktemp("package")
    (folder / "layers" / "tools").mkdir(parents=True)
    proc = package(flick_bin, folder, {
        "api": {"command": ["bootstrap"], "artifact": {"rust": "example-http-api"}, "memory_mb": 256,
                "http": {"routes": ["GET /items/{id}", "POST /items"], "payload": "2.0"},
                "env": {"TABLE": "orders"}, "provisioned": 1, "layers": ["layers/tools"]},
        "worker": {"command": ["python3"], "handler": "app.handler", "artifact": {"python": "."},
                   "timeout_s": 30, "ephemeral_storage_mb": 1024,
                   "async": {"max_retry_attempts": 1, "on_failure": "function:dlq"}},
        "dlq": {"command": ["node"], "handler": "index.handler", "artifact": {"node": "."}},
        "local-only": {"command": ["x"]},
    })
    assert proc.returncode == 0, proc.stderr
    path = folder / "template.yaml"
    assert proc.stdout.strip() == str(path)
    return path, json.loads(path.read_text())


def test_each_function_with_an_artifact_is_in_the_template(template):
    _, t = template
    resources = t["Resources"]
    assert t["Transform"] == "AWS::Serverless-2016-10-31"
    assert set(resources) == {"ApiFunction", "WorkerFunction", "DlqFunction", "ToolsLayer1"}, sorted(resources)
    api = resources["ApiFunction"]["Properties"]
    assert (api["Runtime"], api["Handler"], api["MemorySize"], api["Timeout"]) == ("provided.al2023", "bootstrap", 256, 3)
    assert api["CodeUri"].endswith("flick/api.zip"), api["CodeUri"]  # the zip flick build makes
    assert api["Environment"] == {"Variables": {"TABLE": "orders"}}
    assert api["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 1}
    assert [e["Properties"] for e in api["Events"].values()] == [
        {"PayloadFormatVersion": "2.0", "Method": "get", "Path": "/items/{id}"},
        {"PayloadFormatVersion": "2.0", "Method": "post", "Path": "/items"},
    ]
    worker = resources["WorkerFunction"]["Properties"]
    assert (worker["Runtime"], worker["Handler"]) == ("python3.12", "app.handler")
    assert worker["EphemeralStorage"] == {"Size": 1024}
    assert worker["EventInvokeConfig"]["MaximumRetryAttempts"] == 1
    assert worker["EventInvokeConfig"]["DestinationConfig"]["OnFailure"] == \
        {"Type": "Lambda", "Destination": {"Fn::GetAtt": ["DlqFunction", "Arn"]}}
    layer_ref = api["Layers"][0]["Ref"]
    assert resources[layer_ref]["Type"] == "AWS::Serverless::LayerVersion"
    assert resources[layer_ref]["Properties"]["ContentUri"] == "layers/tools"


def test_cfn_lint_accepts_the_template(template):
    path, _ = template
    lint = shutil.which("cfn-lint")
    if lint is None:
        pytest.fail("cfn-lint not installed: run scripts/install-deps")
    proc = subprocess.run([lint, str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("extra,needle", [
    ({"per_sandbox_concurrency": 2}, "functions.f.per_sandbox_concurrency"),
    ({"tenancy": "per_tenant"}, "functions.f.tenancy"),
    ({"async": {"retry_delays_s": [5]}}, "functions.f.async.retry_delays_s"),
    ({"artifact": {"python": "."}}, "functions.f.handler is missing"),
])
def test_what_sam_cannot_say_is_refused_naming_the_key(flick_bin, tmp_path, extra, needle):
    spec = {"command": ["x"], "artifact": {"rust": "f"}, "max_concurrency": 4}
    spec.update(extra)
    proc = package(flick_bin, tmp_path, {"f": spec})
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert needle in proc.stderr, proc.stderr
    assert not (tmp_path / "template.yaml").exists()
