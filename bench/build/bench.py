"""Builds examples/echo with `flick build` and compares its cold start with
the ordinary release build's; writes RESULTS.md. See run."""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
FLICK = TARGET / "release" / "flick"
COLD, WARM = 40, 300


def flick_build():
    started = time.monotonic()
    run = subprocess.run([str(FLICK), "build", "--config", str(REPO / "examples" / "flick.toml"), "--json", "echo"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"flick build failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout)[0], time.monotonic() - started


def compare(static_bootstrap):
    with tempfile.TemporaryDirectory(dir=TARGET) as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        (folder / "flick.toml").write_text(f"""[server]
listen = "127.0.0.1:0"
state_dir = "{folder / 'state'}"

[functions.dynamic]
command = ["{TARGET / 'release' / 'example-echo'}"]

[functions.static]
command = ["{static_bootstrap}"]
""")
        run = subprocess.run([str(FLICK), "bench", "--config", str(folder / "flick.toml"), "dynamic",
                              "--compare", "static", "--cold", str(COLD), "--warm", str(WARM), "--json"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"flick bench failed:\n{run.stderr[-3000:]}")
    doc = json.loads(run.stdout)
    return {f["function"]: f for f in doc["functions"]}


def row(name, base, other):
    return (f"| {name} | {base['p50']:.3f} | {other['p50']:.3f} | {other['p50'] / base['p50']:.2f} "
            f"| {base['p99']:.3f} | {other['p99']:.3f} |")


def main():
    report, seconds = flick_build()
    runs = compare(Path(report["folder"]) / "bootstrap")
    d, s = runs["dynamic"], runs["static"]
    dynamic_size = (TARGET / "release" / "example-echo").stat().st_size
    lines = [
        "# flick build: the echo as Lambda gets it, against the ordinary release build",
        "",
        f"`bench/build/run`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f} at the end. `examples/echo` built by `flick build` (lambda profile, "
        "static, stripped) and by `cargo build --release` (dynamically linked); `flick bench --compare`, "
        f"{COLD} cold starts and {WARM} warm invocations each, alternately, on one host. Milliseconds.",
        "",
        f"`flick build --config examples/flick.toml echo` took {seconds:.1f} s (dependencies already compiled); "
        f"bootstrap {report['binary_bytes'] / 1024:.0f} KB, zip {report['zip_bytes'] / 1024:.0f} KB; "
        f"the release build's binary {dynamic_size / 1024:.0f} KB.",
        "",
        "| phase | p50 dynamic | p50 static | static / dynamic | p99 dynamic | p99 static |",
        "|---|---|---|---|---|---|",
        row("cold: exec → first /next (Init Duration)", d["cold"]["phases"]["report_init_duration"],
            s["cold"]["phases"]["report_init_duration"]),
        row("cold: total (client)", d["cold"]["phases"]["total"], s["cold"]["phases"]["total"]),
        row("warm: total (client)", d["warm"]["phases"]["total"], s["warm"]["phases"]["total"]),
        "",
        "Target (issue 14): the static build's exec → first /next at most 60% of the dynamic build's.",
        "",
    ]
    out = REPO / "bench" / "build" / "RESULTS.md"
    out.write_text("\n".join(lines))
    print(out.read_text())


if __name__ == "__main__":
    main()
