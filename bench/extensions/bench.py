"""Runs `flick bench echo --compare echo-ext` and writes RESULTS.md: the
medians and p99 of each phase with and without one no-op extension, and
their ratio. See run for what is measured."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release"
COLD, WARM = 40, 500


def manifest(folder):
    layer = folder / "layer" / "extensions"
    layer.mkdir(parents=True)
    # Without EXT_RECORD_FILE the fixture only registers and loops on /next.
    shutil.copy(TARGET / "flick-conformance-extension", layer / "noop")
    text = f"""[server]
listen = "127.0.0.1:0"
state_dir = "{folder / 'state'}"

[functions.echo]
command = ["{TARGET / 'example-echo'}"]

[functions.echo-ext]
command = ["{TARGET / 'example-echo'}"]
layers = ["{folder / 'layer'}"]
"""
    (folder / "flick.toml").write_text(text)
    return folder / "flick.toml"


def row(name, phase, base, other):
    b, o = base[phase], other[phase]
    return (f"| {name} | {b['p50']:.3f} | {o['p50']:.3f} | {o['p50'] / b['p50']:.2f}× "
            f"| {b['p99']:.3f} | {o['p99']:.3f} |")


def main():
    # Under target/, which sandboxes see (each has a /tmp and /var/tmp of its own).
    with tempfile.TemporaryDirectory(dir=TARGET.parent) as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        config = manifest(folder)
        run = subprocess.run([str(TARGET / "flick"), "bench", "--config", str(config), "echo",
                              "--compare", "echo-ext", "--cold", str(COLD), "--warm", str(WARM), "--json"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"flick bench failed:\n{run.stderr[-3000:]}")
    doc = json.loads(run.stdout)
    base, other = (next(f for f in doc["functions"] if f["function"] == n) for n in ("echo", "echo-ext"))
    load = os.getloadavg()[0]
    lines = [
        "# Extensions: the cost of one no-op external extension",
        "",
        f"`bench/extensions/run`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} cores, load {load:.2f} at the end. The SDK's `examples/echo` "
        "alone (`echo`) and with a layer carrying one external extension built with the "
        "official `lambda-extension` crate that registers for INVOKE and SHUTDOWN and does "
        f"nothing else (`echo-ext`); `flick bench --compare`, {COLD} cold starts and "
        f"{WARM} warm invocations each, alternately, on one host. Milliseconds.",
        "",
        "| phase | p50 alone | p50 with extension | ratio | p99 alone | p99 with extension |",
        "|---|---|---|---|---|---|",
    ]
    for name, phase in [("cold: total (client)", "total"), ("cold: REPORT Init Duration", "report_init_duration"),
                        ("cold: host overhead", "host_overhead")]:
        lines.append(row(name, phase, base["cold"]["phases"], other["cold"]["phases"]))
    for name, phase in [("warm: total (client)", "total"), ("warm: invoke", "invoke"),
                        ("warm: host overhead", "host_overhead")]:
        lines.append(row(name, phase, base["warm"]["phases"], other["warm"]["phases"]))
    lines += [
        "",
        "A cold start with an extension starts two processes and waits for the "
        "extension's registration before the runtime's exec, as Lambda does; "
        "Init Duration covers both. Warm, the INVOKE goes to the extension as the "
        "event goes to the runtime, and the invoke phase (not the answer) waits for "
        "its next `/event/next`.",
        "",
    ]
    out = REPO / "bench" / "extensions" / "RESULTS.md"
    out.write_text("\n".join(lines))
    print(out.read_text())


if __name__ == "__main__":
    sys.exit(main())
