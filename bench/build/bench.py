"""Builds examples/echo with `flick build` and compares its cold start with
the ordinary release build's; times `flick new` + `flick serve` to the
first answer of the Rust template, and `flick serve --watch` from a saved
edit to the first answer of the new build; writes RESULTS.md. See run."""

import json
import os
import signal
import socket
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invoke(port, name):
    run = subprocess.run([str(FLICK), "invoke", name, "--endpoint", f"http://127.0.0.1:{port}", "--data",
                          '{"name":"bench"}'], capture_output=True, text=True)
    return run.stdout if run.returncode == 0 else None


def new_then_watch():
    """Seconds from `flick new` to the Rust template's first answer (its
    build included, from an empty target folder), and from a saved edit to
    the first answer of the rebuilt function under --watch (median of 5)."""
    with tempfile.TemporaryDirectory(dir=TARGET) as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        manifest = folder / "flick.toml"
        started = time.monotonic()
        subprocess.run([str(FLICK), "new", "hello", "--template", "rust", "--config", str(manifest)],
                       check=True, capture_output=True)
        port = free_port()
        host = subprocess.Popen([str(FLICK), "serve", "--config", str(manifest), "--listen", f"127.0.0.1:{port}",
                                 "--watch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while invoke(port, "hello") is None:
                time.sleep(0.05)
            first = time.monotonic() - started
            source = folder / "hello" / "src" / "main.rs"
            edits = []
            for i in range(5):
                text = source.read_text()
                source.write_text(text.replace('format!("hello', f'format!("edit {i} hello', 1)
                                  .replace(f'format!("edit {i - 1} hello', f'format!("edit {i} hello', 1))
                saved = time.monotonic()
                while f"edit {i} hello" not in (invoke(port, "hello") or ""):
                    time.sleep(0.02)
                edits.append(time.monotonic() - saved)
        finally:
            host.send_signal(signal.SIGTERM)
            host.wait()
    return first, sorted(edits)[len(edits) // 2]


def row(name, base, other):
    return (f"| {name} | {base['p50']:.3f} | {other['p50']:.3f} | {other['p50'] / base['p50']:.2f} "
            f"| {base['p99']:.3f} | {other['p99']:.3f} |")


def main():
    first_answer, edit_to_answer = new_then_watch()
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
        "## The local loop",
        "",
        f"- `flick new hello --template rust`, then `flick serve --watch` (which builds it, the Flick SDK and "
        f"its dependencies from an empty target folder, in release mode), to the first answer of "
        f"`flick invoke hello`: {first_answer:.1f} s.",
        f"- `flick serve --watch`: from saving an edit of `hello/src/main.rs` to the first answer of the "
        f"rebuilt function (incremental cargo build, then a cold start), median of 5: {edit_to_answer:.2f} s.",
        "",
    ]
    out = REPO / "bench" / "build" / "RESULTS.md"
    out.write_text("\n".join(lines))
    print(out.read_text())


if __name__ == "__main__":
    main()
