"""`flick new NAME --template T`: a function from a template in NAME/ beside
the manifest, added to it with its build command and its artifact table:
`flick serve` builds it and it answers at once. Never overwrites."""

import subprocess

import pytest

from conftest import raw_function


def new(flick_bin, manifest, name, template):
    return subprocess.run([flick_bin, "new", name, "--template", template, "--config", str(manifest)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def host(host_factory, flick_bin):
    """One host whose manifest `flick new` added four functions to; its start builds them."""
    host = host_factory({"existing": raw_function()}, start=False, name="new-host")
    for name, template in (("hello", "rust"), ("web", "rust-http"), ("py", "python"), ("gofn", "go")):
        proc = new(flick_bin, host.manifest, name, template)
        assert proc.returncode == 0, proc.stderr
        assert f"flick invoke {name}" in proc.stdout
    # The builds run before the host serves: compiling takes a while.
    host.start(timeout=900)
    yield host
    host.stop()


@pytest.mark.parametrize("name", ["hello", "py", "gofn"])
def test_a_new_function_answers_at_once(host, name):
    resp, result = host.invoke(name, {"name": "you"})
    assert "FunctionError" not in resp, result
    assert result == {"message": "hello, you"}


def test_the_http_template_is_behind_the_gateway(host):
    status, _, body = host.http("GET", "/hello/gateway")
    assert (status, body) == (200, b"hello, gateway")


def test_each_template_has_its_artifact_table_for_flick_build(host):
    text = host.manifest.read_text()
    for line in ('rust = "hello"', 'rust = "web"', 'python = "py"', 'go = "gofn"'):
        assert line in text, text


def test_the_node_template_is_a_module_with_the_official_client(flick_bin, tmp_path):
    # Built by `npm install` (aws-lambda-ric compiles native code: minutes), so
    # only its files and its manifest entry are checked here.
    manifest = tmp_path / "flick.toml"
    proc = new(flick_bin, manifest, "js", "node")
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run(["node", "--check", str(tmp_path / "js" / "index.mjs")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert '"aws-lambda-ric"' in (tmp_path / "js" / "package.json").read_text()
    text = manifest.read_text()
    assert '[functions.js]' in text and 'node = "js"' in text and "[server]" in text


@pytest.mark.parametrize("case,needle", [
    ("existing-folder", "already exists: flick new never overwrites"),
    ("existing-function", "already has a function existing"),
    ("bad-name", "a letter first"),
])
def test_it_never_overwrites_and_names_what_is_wrong(flick_bin, tmp_path, case, needle):
    manifest = tmp_path / "flick.toml"
    manifest.write_text('[server]\nlisten = "127.0.0.1:0"\n\n[functions.existing]\ncommand = ["x"]\n')
    name = {"existing-folder": "taken", "existing-function": "existing", "bad-name": "9lives"}[case]
    if case == "existing-folder":
        (tmp_path / "taken").mkdir()
        (tmp_path / "taken" / "mine.txt").write_text("keep me")
    before = manifest.read_text()
    proc = new(flick_bin, manifest, name, "rust")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert needle in proc.stderr, proc.stderr
    assert manifest.read_text() == before
    if case == "existing-folder":
        assert (tmp_path / "taken" / "mine.txt").read_text() == "keep me"


def test_an_unknown_template_is_refused(flick_bin, tmp_path):
    proc = new(flick_bin, tmp_path / "flick.toml", "x", "cobol")
    assert proc.returncode == 2 and "cobol" in proc.stderr
