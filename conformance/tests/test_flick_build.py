"""`flick build`: each function's artifact as Lambda wants it, from its
`[functions.NAME.artifact]` table: a static, stripped `bootstrap` for Rust
(the `lambda` profile) and Go (CGO_ENABLED=0, -s -w, lambda.norpc), sources
with their dependencies for Python and Node; each in target/flick/NAME/ and a
deterministic target/flick/NAME.zip; a size report (--json)."""

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import FUNCTIONS, REPO, render_manifest, traversable


def build(flick_bin, manifest, *args):
    return subprocess.run([flick_bin, "build", "--config", str(manifest), *args],
                          capture_output=True, text=True, timeout=900)


def manifest_with(folder, functions):
    path = folder / "flick.toml"
    path.write_text(render_manifest({"listen": "127.0.0.1:0", "state_dir": str(folder / "state")}, functions))
    return path


def report_of(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {r["function"]: r for r in json.loads(proc.stdout)}


def is_static(binary):
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    return "not a dynamic executable" in ldd.stdout + ldd.stderr or "statically linked" in ldd.stdout


def zip_entries(path):
    with zipfile.ZipFile(path) as z:
        return {i.filename: ((i.external_attr >> 16) & 0o777, i.date_time) for i in z.infolist()}


@pytest.fixture(scope="module")
def built(flick_bin, tmp_path_factory):
    """The Rust echo and the Go function, built once for the module."""
    folder = traversable(tmp_path_factory.mktemp("build"))
    manifest = manifest_with(folder, {
        "echo": {"command": ["bootstrap"], "workdir": str(REPO), "artifact": {"rust": "example-echo"}},
        "go-echo": {"command": ["bootstrap"], "artifact": {"go": str(FUNCTIONS / "go")}},
    })
    proc = build(flick_bin, manifest, "--json")
    return manifest, report_of(proc)


def test_a_rust_function_is_one_static_stripped_bootstrap_in_a_deterministic_zip(built):
    _, report = built
    r = report["echo"]
    bootstrap = Path(r["folder"]) / "bootstrap"
    assert is_static(bootstrap), "the Rust bootstrap must not need the machine's libraries"
    assert r["binary_bytes"] == bootstrap.stat().st_size
    entries = zip_entries(r["zip"])
    assert entries == {"bootstrap": (0o755, (1980, 1, 1, 0, 0, 0))}
    assert r["zip_bytes"] == Path(r["zip"]).stat().st_size
    crates = [c["name"] for c in r["contributors"]]
    # Read from the symbols before stripping: the standard library and the
    # crates the echo is made of are there, biggest first.
    assert {"core", "std"} & set(crates) and "serde_json" in crates, crates
    sizes = [c["bytes"] for c in r["contributors"]]
    assert sizes == sorted(sizes, reverse=True) and all(b > 0 for b in sizes)


def test_a_go_function_is_static_too(built):
    _, report = built
    assert is_static(Path(report["go-echo"]["folder"]) / "bootstrap")
    assert set(zip_entries(report["go-echo"]["zip"])) == {"bootstrap"}


def test_the_same_sources_give_the_same_zip_and_the_report_says_what_changed(flick_bin, built):
    manifest, report = built
    first = hashlib.sha256(Path(report["echo"]["zip"]).read_bytes()).hexdigest()
    again = report_of(build(flick_bin, manifest, "--json", "echo"))["echo"]
    assert hashlib.sha256(Path(again["zip"]).read_bytes()).hexdigest() == first
    assert again["zip_change_bytes"] == 0 and again["binary_change_bytes"] == 0


def test_the_built_bootstrap_serves(make_host, built):
    _, report = built
    host = make_host({"built": {"command": [str(Path(report["echo"]["folder"]) / "bootstrap")], "memory_mb": 128}},
                     name="built-host")
    resp, result = host.invoke("built", {"hello": "static"})
    assert "FunctionError" not in resp and result == {"hello": "static"}, result


def test_python_and_node_sources_go_with_their_dependencies(flick_bin, tmp_path):
    py, node = tmp_path / "py", tmp_path / "node"
    for d in (py, node):
        d.mkdir()
    (py / "app.py").write_text("def handler(event, context):\n    return event\n")
    (py / "requirements.txt").write_text("six==1.16.0\n")
    (py / ".venv").mkdir()
    (py / ".venv" / "junk").write_text("not shipped")
    (node / "index.js").write_text("exports.handler = async (e) => e;\n")
    (node / "package.json").write_text('{"name": "fn", "version": "1.0.0"}\n')
    manifest = manifest_with(tmp_path, {
        "py": {"command": ["python3"], "artifact": {"python": str(py)}},
        "node": {"command": ["node"], "artifact": {"node": str(node)}},
    })
    report = report_of(build(flick_bin, manifest, "--json"))
    py_entries = zip_entries(report["py"]["zip"])
    assert "app.py" in py_entries and "six.py" in py_entries, sorted(py_entries)
    assert not any(name.startswith(".venv") for name in py_entries)
    assert "index.js" in zip_entries(report["node"]["zip"])
    assert report["py"]["binary_bytes"] is None


@pytest.mark.parametrize("case,needle,code", [
    ("unknown", "no function nope", 2),
    ("no-artifact", "functions.plain.artifact is missing", 2),
    ("two-kinds", "give exactly one of rust, go, python, node", 2),
    ("no-package", "failed", 1),
])
def test_bad_input_is_named(flick_bin, tmp_path, case, needle, code):
    functions = {"plain": {"command": ["x"]}}
    if case == "two-kinds":
        functions["plain"]["artifact"] = {"rust": "a", "go": "b"}
    if case == "no-package":
        functions["plain"] = {"command": ["x"], "workdir": str(REPO), "artifact": {"rust": "no-such-package"}}
    manifest = manifest_with(tmp_path, functions)
    args = {"unknown": ["nope"], "no-artifact": ["plain"]}.get(case, [])
    proc = build(flick_bin, manifest, *args)
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert needle in proc.stderr, proc.stderr[-2000:]
