"""Fixtures of the Flick conformance suite.

Every test talks to the real host binary (env FLICK_BIN, default
target/release/flick) started on a free loopback port with a manifest generated
into a temporary folder, and to functions run by the official runtime clients of
Python (awslambdaric), Node.js (aws-lambda-ric), Go (aws-lambda-go), Rust
(lambda_runtime) and Java (aws-lambda-java-runtime-interface-client), plus a raw
urllib runtime that probes the Runtime API.
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = REPO / "conformance" / "functions"
RUNTIMES = ["python", "node", "go", "rust"]
REGION = "us-east-1"

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REPORT_RE = re.compile(
    r"REPORT RequestId: (?P<id>" + UUID + r")\tDuration: (?P<duration>\d+\.\d{2}) ms"
    r"\tBilled Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB"
    r"\tMax Memory Used: (?P<used>\d+) MB\t(?:Init Duration: (?P<init>\d+\.\d{2}) ms\t)?$",
    re.M,
)
START_RE = re.compile(r"START RequestId: (?P<id>" + UUID + r") Version: \$LATEST$", re.M)
# Each record of a function's log file: TIME<TAB>REQUEST_ID<TAB>text.
LOG_RECORD_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t\n]*)\t", re.M)
END_RE = re.compile(r"END RequestId: (?P<id>" + UUID + r")$", re.M)


# Folders every sandbox has a private copy of, as on Lambda (/tmp) or as
# the host adds (/var/tmp, /dev/shm).
SANDBOX_PRIVATE = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))


def pytest_configure(config):
    """Files the suite shares with its functions (manifests, delivery logs,
    state) must live where sandboxes see the host's files, so the suite's
    temporary folders go under target/ (numbered per run, as pytest numbers
    them, so runs side by side keep theirs) — or, for a checkout that itself
    lies in a sandbox-private folder (a CI checkout under /tmp), under
    /var/cache."""
    root = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")).resolve() / "conformance-tmp"
    if any(root.is_relative_to(private) for private in SANDBOX_PRIVATE):
        root = Path("/var/cache/flick-conformance")
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(root))


# ---------------------------------------------------------------------------
# process helpers


def pid_alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def wait_dead(pids, timeout=5.0):
    """Waits until none of `pids` is alive; returns the ones still alive."""
    deadline = time.time() + timeout
    alive = [p for p in pids if pid_alive(p)]
    while alive and time.time() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if pid_alive(p)]
    return alive


def descendants(root_pid):
    """All live descendants of root_pid (by walking /proc's parent links)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# manifest writing (TOML by hand: the suite needs no extra package for it)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def render_manifest(server, functions):
    """The manifest's TOML. A table among `server`'s values becomes a table of
    its own, as a manifest is written by hand (`auth` → `[server.auth]`, its
    `keys` an array of inline tables); a function's tables stay inline. A
    `server` value of None is left out (`store=None`: the embedded store,
    whatever FLICK_TEST_STORE says)."""
    lines = ["[server]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in server.items() if v is not None and not isinstance(v, dict)]
    for k, table in server.items():
        if isinstance(table, dict):
            lines += ["", f"[server.{k}]" if re.fullmatch(r"[A-Za-z0-9_-]+", k) else f"[server.{json.dumps(k)}]"]
            lines += [f"{key} = {toml_value(v)}" for key, v in table.items()]
    for name, spec in functions.items():
        lines += ["", f"[functions.{json.dumps(name)}]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in spec.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# the functions


@pytest.fixture(scope="session")
def flick_bin():
    path = Path(os.environ.get("FLICK_BIN", REPO / "target" / "release" / "flick"))
    if not path.is_file():
        pytest.fail(f"host binary {path} not found: build it (cargo build --release -p flick-cli) or set FLICK_BIN")
    return str(path)


def go_build(source, out, what):
    """`go build` of `source` into `out`; skips the test if the Go module proxy
    cannot be reached (the only thing the suite may not have), fails otherwise."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("go toolchain not installed")
    env = dict(os.environ, CGO_ENABLED="0")
    proc = subprocess.run([go, "build", "-o", str(out), "."], cwd=source, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        text = proc.stderr + proc.stdout
        if re.search(r"dial tcp|lookup .*: |i/o timeout|connection refused|proxy\.golang|no such host|TLS handshake", text):
            pytest.skip(f"Go module proxy unreachable, cannot build {what}: {text.strip()[:300]}")
        pytest.fail(f"go build of {source} failed:\n{text}")
    return str(out)


@pytest.fixture(scope="session")
def go_bootstrap(tmp_path_factory):
    return go_build(FUNCTIONS / "go", shared_dir(tmp_path_factory, "go") / "bootstrap", "the Go function")


def cargo_bin(package):
    """Builds the workspace member `package` (release) and returns its binary."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "release" / package
    proc = subprocess.run(["cargo", "build", "--release", "-q", "-p", package], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        if binary.is_file():
            # e.g. another workspace member is mid-edit: use the binary built before.
            sys.stderr.write(f"warning: cargo build -p {package} failed, using existing {binary}\n")
            return str(binary)
        pytest.fail(f"cargo build -p {package} failed:\n{proc.stderr}")
    return str(binary)


@pytest.fixture(scope="session")
def rust_bin():
    if os.environ.get("FLICK_RUST_FUNCTION"):
        return os.environ["FLICK_RUST_FUNCTION"]
    return cargo_bin("echo-official")


@pytest.fixture(scope="session")
def rust_extension_bin():
    """An external extension built with the official lambda-extension crate."""
    return cargo_bin("flick-conformance-extension")


@pytest.fixture(scope="session")
def node_bin():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not installed")
    ric = FUNCTIONS / "node" / "node_modules" / "aws-lambda-ric" / "dist" / "rapid-client.node"
    if not ric.is_file():
        pytest.fail(f"{ric} missing: run scripts/install-deps (npm ci in conformance/functions/node)")
    return os.path.realpath(node)


JAVA_JAR = FUNCTIONS / "java" / "target" / "flick-conformance-java.jar"
JAVA_HANDLER = "dev.flick.conformance.Handler::handleRequest"


def java_jar_path():
    """The Java function's shaded jar (built by scripts/install-deps); fails the
    test if it is missing or older than the function's sources."""
    if not JAVA_JAR.is_file():
        pytest.fail(f"{JAVA_JAR} missing: run scripts/install-deps (mvn -q -B package in conformance/functions/java)")
    sources = [FUNCTIONS / "java" / "pom.xml", *(FUNCTIONS / "java" / "src").rglob("*")]
    newer = [str(f) for f in sources if f.is_file() and f.stat().st_mtime > JAVA_JAR.stat().st_mtime]
    if newer:
        pytest.fail(f"{JAVA_JAR} is older than {newer[0]}: run scripts/install-deps to rebuild it")
    return str(JAVA_JAR)


def java_bin():
    """The real `java` (symlinks resolved: /usr/bin/java is a chain of links into the JDK)."""
    java = shutil.which("java")
    if java is None:
        pytest.fail("java not installed (scripts/install-deps installs openjdk-17-jdk-headless)")
    return os.path.realpath(java)


@pytest.fixture(scope="session")
def java_jar():
    return java_jar_path()


def java_function(**extra):
    """The Java function run by the official Java runtime interface client:
    `java -cp JAR com.amazonaws.services.lambda.runtime.api.client.AWSLambda HANDLER`
    (the client's main class; HANDLER is `package.Class::method`)."""
    spec = {
        "command": [java_bin(), "-cp", java_jar_path(),
                    "com.amazonaws.services.lambda.runtime.api.client.AWSLambda", JAVA_HANDLER],
        "workdir": str(FUNCTIONS / "java"),
        "handler": JAVA_HANDLER,
        "memory_mb": 128,
        "timeout_s": 3,
    }
    spec.update(extra)
    return spec


# The interpreter of the Python functions: a virtual environment of Debian's
# python3 (scripts/install-deps), since each sandbox runs as a user of its own,
# who may not read root's home where pyenv keeps the suite's own Python.
FUNCTION_PYTHON = FUNCTIONS / "python" / ".venv" / "bin" / "python3"


def function_python():
    if not FUNCTION_PYTHON.exists():
        pytest.fail(f"{FUNCTION_PYTHON} missing: run scripts/install-deps")
    return str(FUNCTION_PYTHON)


def python_function(handler="app.handler", **extra):
    spec = {
        "command": [function_python(), "-m", "awslambdaric", handler],
        "workdir": str(FUNCTIONS / "python"),
        "handler": handler,
        "memory_mb": 128,
        "timeout_s": 3,
    }
    spec.update(extra)
    return spec


def raw_function(mode="normal", state_file=None, **extra):
    env = {"RAW_MODE": mode}
    if state_file:
        env["RAW_STATE_FILE"] = str(state_file)
    spec = {
        "command": [function_python(), "-u", "raw_runtime.py"],
        "workdir": str(FUNCTIONS / "python"),
        "env": env,
        "memory_mb": 128,
        "timeout_s": 3,
    }
    spec.update(extra)
    return spec


def delivery_function(deliveries, async_config=None, **extra):
    """The raw runtime, appending every delivery to the file `deliveries` (see
    raw_runtime.py); `async_config` becomes its `[functions.NAME.async]` table."""
    spec = raw_function(**extra)
    spec["env"] = dict(spec["env"], RAW_DELIVERY_FILE=str(deliveries))
    if async_config is not None:
        spec["async"] = async_config
    return spec


def shared_dir(tmp_path_factory, name):
    """A new folder that the sandboxes' own users may write in (each sandbox
    runs as a user of its own): for files a test and its functions share."""
    path = traversable(tmp_path_factory.mktemp(name))
    path.chmod(0o1777)
    return path


def traversable(path):
    """Lets the sandboxes' users pass through `path` and the folders above it,
    which pytest makes for its own user only (a function's workdir, by
    default its manifest's folder, must be reachable)."""
    root = Path(os.environ["PYTEST_DEBUG_TEMPROOT"])
    for folder in (path, *path.parents):
        folder.chmod(folder.stat().st_mode | 0o111)
        if folder == root:
            break
    return path


def read_deliveries(path):
    """The JSON lines raw_runtime.py appended to RAW_DELIVERY_FILE (a line cut
    short by a killed process is skipped)."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return out


def wait_deliveries(path, done, timeout=15.0):
    """Waits until done(deliveries) is true; returns the deliveries either way."""
    deadline = time.time() + timeout
    while True:
        found = read_deliveries(path)
        if done(found) or time.time() > deadline:
            return found
        time.sleep(0.05)


class Runtimes:
    """Builds the manifest entry of a runtime's conformance function on demand,
    so that a test only needs the toolchains of the runtimes it uses."""

    def __init__(self, request):
        self.request = request

    def spec(self, runtime, **extra):
        extra = dict({"memory_mb": 128, "timeout_s": 3}, **extra)
        if runtime == "python":
            return python_function(**extra)
        if runtime == "node":
            node = self.request.getfixturevalue("node_bin")
            spec = {"command": [node, "node_modules/aws-lambda-ric/bin/index.mjs", "index.handler"],
                    "workdir": str(FUNCTIONS / "node"), "handler": "index.handler"}
        elif runtime == "go":
            spec = {"command": [self.request.getfixturevalue("go_bootstrap")], "workdir": str(FUNCTIONS / "go"),
                    "handler": "bootstrap"}
        elif runtime == "rust":
            spec = {"command": [self.request.getfixturevalue("rust_bin")],
                    "workdir": str(FUNCTIONS / "rust-official"), "handler": "bootstrap"}
        else:
            raise ValueError(runtime)
        spec.update(extra)
        return spec


@pytest.fixture(scope="session")
def runtimes(request):
    return Runtimes(request)


# ---------------------------------------------------------------------------
# the SDK clients (conformance/clients): one program per SDK, one call per run

CLIENTS = REPO / "conformance" / "clients"
JS_DIR = CLIENTS / "js"
GO_DIR = CLIENTS / "go"


@pytest.fixture(scope="session")
def js_client_cmd():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not installed")
    sdk = JS_DIR / "node_modules" / "@aws-sdk" / "client-lambda" / "package.json"
    if not sdk.is_file():
        pytest.fail(f"{sdk} missing: run scripts/install-deps (npm ci in conformance/clients/js)")
    return [os.path.realpath(node), str(JS_DIR / "lambda-call.mjs")]


@pytest.fixture(scope="session")
def go_client_cmd(tmp_path_factory):
    out = tmp_path_factory.mktemp("go-sdk") / "lambda-call-go"
    return [go_build(GO_DIR, out, "the Go SDK client")]


class SdkClient:
    """Runs one SDK client program per call: `client(op, **params)` → its JSON result."""

    def __init__(self, sdk, cmd, endpoint):
        self.sdk = sdk
        self.cmd = cmd
        self.endpoint = endpoint

    def __call__(self, op, timeout=120, hint="", **params):
        """`hint`, if given, is added to the failure message when the program dies."""
        request = dict(params, endpoint=self.endpoint, op=op)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            # No profile, file or host credentials: the programs use fixed dummy ones.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NODE_NO_WARNINGS": "1",
        }
        try:
            proc = subprocess.run(self.cmd, input=json.dumps(request), capture_output=True, text=True,
                                  timeout=timeout, env=env)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"{self.sdk} client: {op} gave no result within {timeout}s "
                        f"(stderr: {(e.stderr or b'')[-2000:]!r})")
        if proc.returncode != 0:
            pytest.fail(f"{self.sdk} client process died (exit {proc.returncode}) during {op}: the SDK did not "
                        f"surface the host's answer as a result or an error. {hint}\nstdout: {proc.stdout[-2000:]}\n"
                        f"stderr: {proc.stderr[-4000:]}")
        lines = proc.stdout.strip().splitlines()
        try:
            return json.loads(lines[-1])
        except (IndexError, ValueError):
            pytest.fail(f"{self.sdk} client printed no JSON result for {op}:\nstdout: {proc.stdout[-2000:]}\n"
                        f"stderr: {proc.stderr[-2000:]}")


# ---------------------------------------------------------------------------
# the host


class HostExited(Exception):
    pass


class Host:
    """One `flick serve` process with its own manifest, port and state dir."""

    def __init__(self, flick_bin, root, functions, server=None, extra_env=None):
        self.flick_bin = flick_bin
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.server = {"listen": f"127.0.0.1:{self.port}", "state_dir": ".flick", "region": REGION}
        self.server.update(server or {})
        self.functions = functions
        self.manifest = self.root / "flick.toml"
        self.manifest.write_text(render_manifest(self.server, functions))
        self.stdout_path = self.root / "host.stdout"
        self.stderr_path = self.root / "host.stderr"
        self.extra_env = extra_env or {}
        self.serve_args = []  # more `flick serve` arguments, e.g. ["--grace", "1"]
        # False: no `--listen` argument, so the manifest's `listen` is used.
        self.listen_arg = True
        self.proc = None
        self.seen_pids = set()
        self._client = None

    # lifecycle ------------------------------------------------------------

    def start(self, wait=True, timeout=30.0, cwd=None):
        env = dict(os.environ)
        # A variable only the host has: it must never reach a sandbox.
        env["FLICK_CONFORMANCE_HOST_ONLY"] = "leak-canary"
        env.update(self.extra_env)
        listen = ["--listen", f"127.0.0.1:{self.port}"] if self.listen_arg else []
        self.proc = subprocess.Popen(
            [self.flick_bin, "serve", "--config", str(self.manifest), *listen, *self.serve_args],
            stdout=open(self.stdout_path, "wb"), stderr=open(self.stderr_path, "wb"),
            stdin=subprocess.DEVNULL, cwd=cwd or self.root, env=env,
        )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise HostExited(f"flick serve exited with {self.proc.returncode} before it was ready:\n{self.stderr()}")
            try:
                status, _, body = self.http("GET", "/2015-03-31/functions", timeout=2)
                # A host with access keys refuses the unsigned probe: still an answer.
                if status == 200 or (status == 403 and b"Missing Authentication Token" in body):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"flick serve not ready after {timeout}s:\n{self.stderr()}")

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def sandbox_pids(self):
        return descendants(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stops the host; asserts it exits 0 (on SIGTERM) and leaves no process behind."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        tracked = set(self.sandbox_pids()) | self.seen_pids
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"flick serve did not exit within {timeout}s of {sig!r}:\n{self.stderr()[-3000:]}")
        left = wait_dead(tracked, timeout=3.0)
        for pid in left:  # clean up for the next tests, then fail
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        assert not left, f"processes left behind after the host stopped: {[(p, cmdline(p)) for p in left]}"
        if sig == signal.SIGTERM:
            assert rc == 0, f"flick serve exited {rc} on SIGTERM:\n{self.stderr()[-3000:]}"
        return rc

    def kill_hard(self):
        if self.proc and self.proc.poll() is None:
            pids = self.sandbox_pids()
            self.proc.kill()
            self.proc.wait()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    # clients --------------------------------------------------------------

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self):
        if self._client is None:
            self._client = make_client(self.endpoint)
        return self._client

    def http(self, method, path, body=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def invoke(self, name, payload=None, raw=None, **kwargs):
        """boto3 Invoke; returns (response, decoded payload or None). Records reported pids."""
        body = raw if raw is not None else json.dumps({} if payload is None else payload).encode()
        resp = self.client.invoke(FunctionName=name, Payload=body, **kwargs)
        data = resp["Payload"].read()
        resp["RawPayload"] = data
        try:
            result = json.loads(data) if data else None
        except ValueError:
            result = None
        if isinstance(result, dict):
            for key in ("pid", "child_pid"):
                if isinstance(result.get(key), int):
                    self.seen_pids.add(result[key])
        return resp, result

    def send_event(self, name, payload=None, raw=None, headers=None):
        """One raw `InvocationType: Event` call; returns (status, headers, body)."""
        body = raw if raw is not None else json.dumps({} if payload is None else payload).encode()
        return self.http("POST", f"/2015-03-31/functions/{name}/invocations", body,
                         dict({"X-Amz-Invocation-Type": "Event"}, **(headers or {})))

    def flick(self, *args):
        """Runs the host binary with ARGS (e.g. `queue --config MANIFEST list`) in
        the host's folder; returns the CompletedProcess."""
        return subprocess.run([self.flick_bin, *args], capture_output=True, text=True, timeout=30, cwd=self.root)

    def log_path(self, name):
        return self.root / self.server["state_dir"] / "logs" / f"{name}.log"

    def log_text(self, name):
        """The function's log as its lines, without each record's time and
        request id (see log_records for those)."""
        try:
            return LOG_RECORD_PREFIX.sub("", self.log_path(name).read_text(errors="replace"))
        except FileNotFoundError:
            return ""

    def log_records(self, name):
        """The function's log file as (time, request id or None, text) records."""
        records = []
        text = self.log_path(name).read_text(errors="replace") if self.log_path(name).exists() else ""
        for line in text.splitlines():
            m = LOG_RECORD_PREFIX.match(line)
            if m:
                request_id = m.group(2)
                records.append([m.group(1), None if request_id == "-" else request_id, line[m.end():]])
            elif records:
                records[-1][2] += "\n" + line
        return [tuple(r) for r in records]

    def wait_log(self, name, pattern, timeout=5.0):
        """Waits until the function's log file matches `pattern`; returns the match."""
        rx = re.compile(pattern, re.M)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.log_text(name))
            if m or time.time() > deadline:
                return m
            time.sleep(0.05)


def make_client(endpoint, attempts=1):
    """A boto3 Lambda client; `attempts` > 1: it retries as the SDK's
    standard mode does (5xx, throttles, connection errors)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "lambda", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="conformance", aws_secret_access_key="conformance",
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}, read_timeout=30,
                      connect_timeout=5, max_pool_connections=32),
    )


# FLICK_TEST_STORE=postgres: every host a test makes without a `store` of
# its own keeps its queue in a database of its own on the session's
# PostgreSQL cluster, so the same tests run against the shared store.
TEST_STORE = os.environ.get("FLICK_TEST_STORE", "sqlite")


@pytest.fixture(scope="session")
def pg_cluster():
    """One PostgreSQL server for the session (conformance/tests/postgres_local.py)."""
    from postgres_local import PgCluster

    cluster = PgCluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def host_factory(flick_bin, tmp_path_factory, request):
    """host_factory(functions, server=None) → a started Host; all are stopped (and
    checked for leftover processes) at the end of the module that made them."""
    hosts = []
    databases = iter(range(1_000_000))

    def make(functions, server=None, start=True, extra_env=None, name="host"):
        if TEST_STORE == "postgres" and "store" not in (server or {}):
            cluster = request.getfixturevalue("pg_cluster")
            server = dict(server or {}, store=cluster.create_database(f"db{next(databases)}"))
        root = traversable(tmp_path_factory.mktemp(name))
        host = Host(flick_bin, root, functions, server=server, extra_env=extra_env)
        hosts.append(host)
        if start:
            try:
                host.start()
            except Exception:
                host.kill_hard()
                raise
        return host

    make.hosts = hosts
    yield make
    for host in hosts:
        host.kill_hard()


@pytest.fixture(scope="module")
def make_host(host_factory):
    """Module-scoped: the hosts a module starts are stopped by SIGTERM at its end,
    asserting a clean exit and that no sandbox process is left."""
    before = len(host_factory.hosts)
    yield host_factory
    errors = []
    for host in host_factory.hosts[before:]:
        try:
            host.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("host teardown: " + "\n".join(errors))


UNAVAILABLE = {}  # runtime -> (skip?, reason) when its function could not be built


def all_runtime_functions(runtimes, prefix="echo", only=RUNTIMES, **extra):
    """Manifest entries `echo-python`, `echo-node`, `echo-go`, `echo-rust`. A runtime
    whose function cannot be built is left out: its tests skip (Go proxy unreachable)
    or fail with the build error, while the other runtimes' tests still run."""
    functions = {}
    for rt in only:
        try:
            functions[f"{prefix}-{rt}"] = runtimes.spec(rt, **extra)
        except pytest.skip.Exception as e:
            UNAVAILABLE[rt] = (True, str(e))
        except pytest.fail.Exception as e:
            UNAVAILABLE[rt] = (False, str(e))
    return functions


def need(host, name):
    if name not in host.functions:
        rt = name.rsplit("-", 1)[-1]
        skip, reason = UNAVAILABLE.get(rt, (True, "not configured"))
        if skip:
            pytest.skip(f"{name}: {reason}")
        pytest.fail(f"{name} unavailable: {reason}")
    return name


def invocation_lines(text, request_id):
    """The lines between the START and END lines of `request_id` in a log text."""
    lines = text.splitlines()
    starts = [i for i, l in enumerate(lines) if (m := START_RE.search(l)) and m.group("id") == request_id]
    ends = [i for i, l in enumerate(lines) if (m := END_RE.search(l)) and m.group("id") == request_id]
    assert len(starts) == 1 and len(ends) == 1, f"no single START..END for {request_id}:\n{text[-3000:]}"
    assert starts[0] < ends[0], text[-3000:]
    return lines[starts[0] + 1:ends[0]]


def decode_tail(resp):
    assert "LogResult" in resp, "LogType=Tail asked but no X-Amz-Log-Result in the response"
    return base64.b64decode(resp["LogResult"]).decode(errors="replace")


def read_state(path, timeout=5.0):
    """The key=value lines raw_runtime.py appended to its RAW_STATE_FILE."""
    deadline = time.time() + timeout
    while True:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            text = ""
        if text or time.time() > deadline:
            return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        time.sleep(0.05)


def report_lines(text, request_id=None):
    out = []
    for line in text.splitlines():
        m = REPORT_RE.search(line)
        if m and (request_id is None or m.group("id") == request_id):
            out.append(m)
    return out


def request_id_of(resp):
    """The invocation's request id as the Invoke API reports it (x-amzn-RequestId)."""
    return resp["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")


def http_request(port, method, path, headers=(), body=None):
    """One request with http.client, so that a header can be sent twice;
    returns (status, header list, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def timed_lines_get(port, path):
    """GET `path` and note when each line of the body arrives: returns
    (status, header list, [(line, seconds since the request was sent)])."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        began = time.monotonic()
        conn.request("GET", path)
        resp = conn.getresponse()
        lines = []
        while line := resp.readline():
            lines.append((line, time.monotonic() - began))
        return resp.status, resp.getheaders(), lines
    finally:
        conn.close()


def assert_sent_as_written(lines, expected):
    """`lines` from timed_lines_get are `expected`, two lines that the
    function writes 1.5 s apart: the first must arrive well before the pause
    ends, or the stream was collected instead of passed on."""
    assert [line for line, _ in lines] == expected
    (_, first_at), (_, last_at) = lines
    assert last_at >= 1.4, last_at
    assert first_at < 1.0, f"the first line came after {first_at:.2f} s, with the last"


def cut_off_get(port, path):
    """GET `path` from a server that cuts its response off midway (a chunked
    body without its last chunk); returns (status, the body bytes that came).
    Fails the test if the body ends normally."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead) as cut:
            resp.read()
        return resp.status, cut.value.partial
    finally:
        conn.close()


def header_values(header_list, name):
    """Every value of header `name` (lower case) in an http.client header list."""
    return [v for k, v in header_list if k.lower() == name]
