"""Layers, as on Lambda: the folders (or .zip archives) a function names in
`layers` are merged read-only at /opt inside its sandbox, later layers over
earlier ones; /opt/bin and /opt/lib join PATH and LD_LIBRARY_PATH, and a
managed runtime's own folder (/opt/python for python3.X) its search path. A
function without layers sees an empty /opt, never the host's."""

import os
import zipfile
from pathlib import Path

import pytest

from conftest import raw_function, render_manifest, traversable
from test_manifest import serve_bad

HOST_CANARY = Path("/opt/flick-conformance-canary")


def layer(root, name, files):
    folder = root / name
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    return folder


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    root = traversable(tmp_path_factory.mktemp("layers"))
    first = layer(root, "first", {"first.txt": "from first\n", "shared.txt": "first\n",
                                  "python/layer_mod.py": "WHERE = 'first'\n"})
    second = layer(root, "second-src", {"shared.txt": "second\n", "bin/tool": "#!/bin/sh\n"})
    archive = root / "second.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in second.rglob("*"):
            if path.is_file():
                z.write(path, path.relative_to(second))
    for path in root.rglob("*"):
        path.chmod(path.stat().st_mode | 0o755)
    return first, archive


@pytest.fixture(scope="module")
def host(make_host, layers):
    first, archive = layers
    # Something of the host's own at /opt, which no sandbox may see.
    made = not HOST_CANARY.exists()
    if made:
        HOST_CANARY.write_text("host\n")
    yield make_host({
        "layered": raw_function(layers=[str(first), str(archive)], runtime="python3.12"),
        "plain": raw_function(),
    })
    if made:
        HOST_CANARY.unlink()


def files(host, function, **what):
    resp, result = host.invoke(function, {"action": "files", **what})
    assert "FunctionError" not in resp, result
    return result


def test_two_layers_merge_at_opt_the_later_over_the_earlier(host):
    result = files(host, "layered", read=["/opt/first.txt", "/opt/shared.txt", "/opt/bin/tool"],
                   list=["/opt"])
    assert result["read"] == {"/opt/first.txt": "from first\n", "/opt/shared.txt": "second\n",
                              "/opt/bin/tool": "#!/bin/sh\n"}
    assert result["list"]["/opt"] == ["bin", "first.txt", "python", "shared.txt"], \
        "only the layers' files: none of the host's /opt"


def test_opt_is_read_only(host):
    result = files(host, "layered", write=["/opt/new.txt", "/opt/shared.txt"])
    assert result["write"] == {"/opt/new.txt": "EROFS", "/opt/shared.txt": "EROFS"}


def test_a_function_without_layers_sees_an_empty_opt(host):
    assert os.listdir("/opt"), "the host's /opt has something to hide"
    result = files(host, "plain", list=["/opt"], read=[str(HOST_CANARY)])
    assert result["list"]["/opt"] == []
    assert result["read"][str(HOST_CANARY)] == "ENOENT"


def test_opt_folders_are_on_the_search_paths(host):
    result = files(host, "layered", env=["PATH", "LD_LIBRARY_PATH", "PYTHONPATH"])
    env = result["env"]
    assert "/opt/bin" in env["PATH"].split(":")
    assert env["LD_LIBRARY_PATH"] == "/opt/lib"
    assert env["PYTHONPATH"].split(":")[-1] == "/opt/python"
    plain = files(host, "plain", env=["LD_LIBRARY_PATH", "PYTHONPATH"])["env"]
    assert plain == {"LD_LIBRARY_PATH": None, "PYTHONPATH": None}, "no layers, nothing added"


@pytest.mark.parametrize("case", ["missing", "not-a-layer", "broken-zip"])
def test_a_bad_layer_is_refused_at_start_naming_it(flick_bin, tmp_path, case):
    path = tmp_path / {"missing": "nowhere", "not-a-layer": "notes.txt", "broken-zip": "broken.zip"}[case]
    if case != "missing":
        path.write_text("not a layer")
    text = render_manifest({"listen": "127.0.0.1:0", "state_dir": str(tmp_path / ".flick")},
                           {"f": raw_function(layers=[str(path)])})
    proc = serve_bad(flick_bin, tmp_path, text)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "functions.f.layers" in proc.stderr and str(path) in proc.stderr, proc.stderr


def test_more_than_five_layers_is_refused(flick_bin, tmp_path):
    folders = [str(layer(tmp_path, f"l{i}", {"x": "x"})) for i in range(6)]
    text = render_manifest({"listen": "127.0.0.1:0", "state_dir": str(tmp_path / ".flick")},
                           {"f": raw_function(layers=folders)})
    proc = serve_bad(flick_bin, tmp_path, text)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "layers" in proc.stderr and "5" in proc.stderr, proc.stderr
