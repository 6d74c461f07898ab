"""Durable-execution benchmark, measured from outside through the public
APIs on a fresh host (release build):

- checkpoints per second: the function `checkpointer.py` (no SDK, raw HTTP
  on one keep-alive connection, as an SDK's client does) makes COUNT
  checkpoints of one update each inside one invocation, then COUNT
  `GetDurableExecutionState` reads: the reads (no disk write) are the
  baseline that shows what durability costs, in the same invocation. One
  execution alone, then EIGHT at once (their checkpoints share the store).
  Every checkpoint is committed (synchronous=FULL) before it is answered.
- a wait's end to the function running again: the SDK handler
  `durable_app.wait` (a step, a 1 s wait, a step) run WAITS times; the
  overshoot is the time between the two steps minus the wait, i.e. the
  timer, the re-invocation of a warm sandbox and the SDK's replay. Measured
  the same way on the AWS durable-execution testing package's local executor
  (DurableFunctionTestRunner, real time), in the same run, as the baseline.

Writes bench/durable/RESULTS.md. Run with bench/durable/run.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
FLICK = REPO / "target" / "release" / "flick"
VENV_PYTHON = REPO / "conformance" / "functions" / "python" / ".venv" / "bin" / "python3"
FUNCTIONS = REPO / "conformance" / "functions" / "python"
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
COUNT = int(os.environ.get("COUNT", "1000"))
EIGHT = 8
WAITS = int(os.environ.get("WAITS", "20"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_host():
    root = Path(tempfile.mkdtemp(prefix="flick-durable-bench-"))
    port = free_port()
    python = str(VENV_PYTHON)
    manifest = f"""[server]
listen = "127.0.0.1:{port}"
state_dir = "state"

[functions.checkpointer]
command = ["{python}", "-m", "awslambdaric", "checkpointer.handler"]
workdir = "{HERE}"
timeout_s = 120
max_concurrency = {EIGHT}
durable = {{ execution_timeout_s = 600 }}

[functions.wait]
command = ["{python}", "-m", "awslambdaric", "durable_app.wait"]
workdir = "{FUNCTIONS}"
timeout_s = 30
durable = {{ execution_timeout_s = 600 }}
"""
    (root / "flick.toml").write_text(manifest)
    proc = subprocess.Popen([str(FLICK), "serve", "--config", str(root / "flick.toml"), "--no-build"],
                            env=dict(os.environ, FLICK_LOG="warn"), stdout=subprocess.DEVNULL,
                            stderr=open(root / "host.stderr", "wb"))
    client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="y",
                          config=Config(read_timeout=300, retries={"total_max_attempts": 1}))
    deadline = time.time() + 30
    while True:
        try:
            client.list_functions()
            return proc, client, root
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def checkpoints(client, executions):
    def one(_):
        resp = client.invoke(FunctionName="checkpointer", Payload=json.dumps({"count": COUNT}))
        body = json.loads(resp["Payload"].read())
        assert "FunctionError" not in resp, body
        return body

    t = time.perf_counter()
    with ThreadPoolExecutor(executions) as pool:
        results = list(pool.map(one, range(executions)))
    wall = time.perf_counter() - t
    writes = [w for r in results for w in r["writes"]]
    reads = [x for r in results for x in r["reads"]]
    return {
        "executions": executions,
        "checkpoints": len(writes),
        "per_second": len(writes) / sum(sum(r["writes"]) / executions for r in results) if executions == 1
        else len(writes) / max(sum(r["writes"]) for r in results),
        "write_p50_ms": statistics.median(writes) * 1000,
        "write_p99_ms": sorted(writes)[int(len(writes) * 0.99)] * 1000,
        "read_p50_ms": statistics.median(reads) * 1000,
        "wall_s": wall,
    }


def host_waits(client):
    out = []
    client.invoke(FunctionName="wait", Payload=json.dumps({"seconds": 1}))  # a warm sandbox first
    for _ in range(WAITS):
        resp = client.invoke(FunctionName="wait", Payload=json.dumps({"seconds": 1}))
        out.append(json.loads(resp["Payload"].read())["waited"] - 1.0)
    return out


LOCAL = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
import durable_app
out = []
with DurableFunctionTestRunner(handler=durable_app.wait, poll_interval=0.01, skip_time=False) as runner:
    for _ in range(int(sys.argv[2]) + 1):
        r = runner.run(input=json.dumps({"seconds": 1}), execution_timeout=60)
        out.append(json.loads(r.result)["waited"] - 1.0)
print(json.dumps(out[1:]))
"""


def local_waits():
    out = subprocess.run([str(VENV_PYTHON), "-c", LOCAL, str(FUNCTIONS), str(WAITS)],
                         capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, AWS_DEFAULT_REGION="us-east-1"))
    if out.returncode != 0:
        sys.exit(f"local executor failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout)


def ms(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] * 1000


def main():
    proc, client, root = start_host()
    try:
        alone = checkpoints(client, 1)
        together = checkpoints(client, EIGHT)
        host = host_waits(client)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    local = local_waits()
    load = os.getloadavg()[0]
    lines = [
        "# Durable executions: checkpoints and re-invocation",
        "",
        f"Measured by `bench/durable/run` on {time.strftime('%Y-%m-%d')} (2-core machine, load {load:.2f} after the run),",
        "release build, from outside through the Lambda API on a fresh host. See bench/durable/bench.py for the method.",
        "",
        "## Checkpoints (one update each, committed with synchronous=FULL before the answer)",
        "",
        "| executions at once | checkpoints | checkpoints/s | checkpoint p50 | checkpoint p99 | state read p50 (baseline) | ratio p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in (alone, together):
        lines.append(
            f"| {r['executions']} | {r['checkpoints']} | {r['per_second']:.0f} | {r['write_p50_ms']:.2f} ms | "
            f"{r['write_p99_ms']:.2f} ms | {r['read_p50_ms']:.2f} ms | {r['write_p50_ms'] / r['read_p50_ms']:.1f}x |")
    lines += [
        "",
        "## A wait's end to the function running again (1 s wait, SDK handler, warm sandbox)",
        "",
        "| runner | runs | overshoot p50 | overshoot p99 |",
        "|---|---|---|---|",
        f"| flick serve | {len(host)} | {ms(host, 0.5):.1f} ms | {ms(host, 0.99):.1f} ms |",
        f"| testing package's local executor (baseline) | {len(local)} | {ms(local, 0.5):.1f} ms | {ms(local, 0.99):.1f} ms |",
        "",
        f"Ratio of medians (host / local executor): {ms(host, 0.5) / ms(local, 0.5):.2f}.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
