#!/usr/bin/env bash
# The flick::http benchmark, one command, one run: the axum example
# (examples/http-axum) behind `flick serve`'s gateway (payload 2.0) versus the
# same binary serving HTTP itself on PORT, and versus the same app on the
# official lambda_http behind `cargo lambda watch`'s function URL emulation
# (the same kind of tool: HTTP in, a Lambda event through the Runtime API),
# with wrk (1 and 8 connections, warm); plus the binary size of the example
# against that lambda_http app, both with the workspace's `[profile.lambda]`.
# Writes bench/http/RESULTS.md.
#
# Needs: wrk (apt install wrk), a Rust toolchain, cargo-lambda (installed
# here when missing, as bench/host/run does). Env: DURATION (seconds per wrk
# run, default 10), PATHS (default "/hello /items/42?a=1").
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
duration="${DURATION:-10}"
paths="${PATHS:-/hello /items/42?a=1}"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    # cargo lambda watch runs in its own session: stop the whole group.
    [ -n "${cl_pid:-}" ] && kill -- "-$cl_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is needed: apt install wrk" >&2; exit 1; }
cargo lambda --version >/dev/null 2>&1 || cargo install cargo-lambda --locked

echo "building..." >&2
cargo build --quiet --release -p flick-cli -p example-http-axum -p example-echo
cargo build --quiet --profile lambda -p example-http-axum
cargo build --quiet --profile lambda --manifest-path bench/http/lambda-http-app/Cargo.toml \
    --target-dir "$target/http-bench"
flick_size=$(stat -c %s "$target/lambda/example-http-axum")
lambda_http_size=$(stat -c %s "$target/http-bench/lambda/lambda-http-app")

load_before=$(cut -d' ' -f1 /proc/loadavg)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
    local url="http://127.0.0.1:$1${2:-}/hello"
    for _ in $(seq "${3:-200}"); do
        curl -sf -o /dev/null -m 60 "$url" && return 0
        sleep 0.05
    done
    echo "nothing answers at $url" >&2; exit 1
}

gw_port=$(free_port)
cat > "$work/flick.toml" <<TOML
[server]
listen = "127.0.0.1:$gw_port"
state_dir = "$work/state"

[functions.api]
command = ["$target/release/example-http-axum"]
max_concurrency = 8
provisioned = 8
timeout_s = 10

[functions.api.http]
routes = ["\$default"]
payload = "2.0"

# The baseline: the SDK's plain JSON echo, no HTTP adapter, same gateway.
[functions.echo]
command = ["$target/release/example-echo"]
max_concurrency = 8
provisioned = 8

[functions.echo.http]
routes = ["GET /baseline"]
payload = "2.0"
TOML
"$target/release/flick" serve --config "$work/flick.toml" --no-build 2>"$work/serve.log" &
pids+=($!)
wait_up "$gw_port"

direct_port=$(free_port)
PORT=$direct_port "$target/release/example-http-axum" >"$work/direct.log" 2>&1 &
pids+=($!)
wait_up "$direct_port"

cl_port=$(free_port)
cl_prefix=/lambda-url/lambda-http-app
(cd bench/http/lambda-http-app && CARGO_TARGET_DIR="$target/http-bench" exec setsid cargo lambda watch \
    --release --invoke-port "$cl_port" --ignore-changes --concurrency 8) >"$work/cargo-lambda.log" 2>&1 &
cl_pid=$!
# The first request builds and starts the function: allow it minutes.
wait_up "$cl_port" "$cl_prefix" 6000

# wrk → "rps p50_us p99_us"
measure() {
    local url=$1 conns=$2
    wrk -t"$conns" -c"$conns" -d"${duration}s" --latency "$url" | awk '
        function us(v) {
            if (v ~ /us$/) return v + 0
            if (v ~ /ms$/) return v * 1000
            if (v ~ /s$/) return v * 1000000
            return v
        }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = us($2) }
        $1 == "99%" { p99 = us($2) }
        END { printf "%.0f %.0f %.0f\n", rps, p50, p99 }'
}

rows=""
cl_rows=""
for path in $paths; do
    for conns in 1 8; do
        # warm: every sandbox started and every connection open
        wrk -t"$conns" -c"$conns" -d2s "http://127.0.0.1:$gw_port$path" >/dev/null
        wrk -t"$conns" -c"$conns" -d2s "http://127.0.0.1:$direct_port$path" >/dev/null
        wrk -t"$conns" -c"$conns" -d2s "http://127.0.0.1:$cl_port$cl_prefix$path" >/dev/null
        read -r g_rps g_p50 g_p99 <<<"$(measure "http://127.0.0.1:$gw_port$path" "$conns")"
        read -r d_rps d_p50 d_p99 <<<"$(measure "http://127.0.0.1:$direct_port$path" "$conns")"
        read -r c_rps c_p50 c_p99 <<<"$(measure "http://127.0.0.1:$cl_port$cl_prefix$path" "$conns")"
        share=$(awk -v g="$g_rps" -v d="$d_rps" 'BEGIN { printf "%.0f%%", 100 * g / d }')
        vs_cl=$(awk -v g="$g_rps" -v c="$c_rps" 'BEGIN { printf "%.1fx", g / c }')
        added=$((g_p50 - d_p50))
        rows+="| \`$path\` | $conns | $g_rps | $g_p50 / $g_p99 | $d_rps | $d_p50 / $d_p99 | $share | $added |"$'\n'
        cl_rows+="| \`$path\` | $conns | $g_rps | $g_p50 / $g_p99 | $c_rps | $c_p50 / $c_p99 | $vs_cl |"$'\n'
        echo "$path c=$conns gateway $g_rps rps p50 $g_p50 p99 $g_p99 | direct $d_rps rps p50 $d_p50 p99 $d_p99 | cargo-lambda $c_rps rps p50 $c_p50 p99 $c_p99" >&2
    done
done

# CPU time per request (µs) of the processes serving it, 8 connections on
# /hello: what bounds throughput when both cores are busy. Ticks from
# /proc/PID/stat (utime + stime) around one wrk run; wrk's own share is the
# rest of the machine's and is not counted.
ticks() {
    local t=0 pid
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$t"
}
# cpu_per_request URL PID... → "rps µs_per_request"
cpu_per_request() {
    local url=$1; shift
    local before after rps
    before=$(ticks "$@")
    rps=$(wrk -t8 -c8 -d"${duration}s" "$url" | awk '/^Requests\/sec:/ { print $2 }')
    after=$(ticks "$@")
    awk -v t=$((after - before)) -v r="$rps" -v d="$duration" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f %.0f\n", r, t / hz * 1e6 / (r * d) }'
}
flick_pid=${pids[0]}
sandbox_pids=$(pgrep -P "$flick_pid" -f example-http-axum | tr '\n' ' ')
direct_pid=${pids[1]}
read -r _ host_cpu <<<"$(cpu_per_request "http://127.0.0.1:$gw_port/hello" "$flick_pid")"
# shellcheck disable=SC2086  # one pid per word
read -r _ sandbox_cpu <<<"$(cpu_per_request "http://127.0.0.1:$gw_port/hello" $sandbox_pids)"
read -r _ direct_cpu <<<"$(cpu_per_request "http://127.0.0.1:$direct_port/hello" "$direct_pid")"
echo "CPU µs/request: host $host_cpu, sandboxes $sandbox_cpu, direct app $direct_cpu" >&2

baseline=""
for conns in 1 8; do
    wrk -t"$conns" -c"$conns" -d2s "http://127.0.0.1:$gw_port/baseline" >/dev/null
    read -r b_rps b_p50 b_p99 <<<"$(measure "http://127.0.0.1:$gw_port/baseline" "$conns")"
    baseline+="| $conns | $b_rps | $b_p50 / $b_p99 |"$'\n'
    echo "/baseline (echo, no adapter) c=$conns gateway $b_rps rps p50 $b_p50 p99 $b_p99" >&2
done

size_share=$(awk -v f="$flick_size" -v l="$lambda_http_size" 'BEGIN { printf "%.0f%%", 100 * f / l }')
cat > bench/http/RESULTS.md <<MD
# flick::http benchmark — last run

\`bench/http/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(uname -m)), ${duration}s per wrk run,
load average $load_before before the run.
Run on a machine shared with other builds: treat the numbers as one sample.

## Throughput and latency (warm)

The axum example (\`examples/http-axum\`, release profile) behind \`flick serve\`'s
gateway (payload 2.0; 8 provisioned sandboxes, so up to 8 requests in
parallel) versus the same binary serving HTTP itself on \`PORT\` (hyper, one
current-thread tokio runtime). \`wrk -tN -cN --latency\`, N = connections.
Latencies in µs; "added p50" = gateway p50 − direct p50.

| path | conns | gateway req/s | gateway p50 / p99 | direct req/s | direct p50 / p99 | gateway / direct | added p50 (µs) |
|---|---:|---:|---:|---:|---:|---:|---:|
$rows
The same requests through \`cargo lambda watch\` (its function URL
emulation, \`--concurrency 8\`), in front of the same app written with
\`lambda_http\` (\`bench/http/lambda-http-app\`, release profile): a tool of
the same kind, where the app also sits behind a Runtime API.

| path | conns | Flick gateway req/s | p50 / p99 | cargo-lambda req/s | p50 / p99 | Flick / cargo-lambda |
|---|---:|---:|---:|---:|---:|---:|
$cl_rows
## Where the CPU goes (8 connections, \`/hello\`)

CPU time per request of the processes that serve it, from \`/proc/PID/stat\`
around one wrk run each (wrk's own share not counted):

| serving | CPU µs per request |
|---|---:|
| the host (\`flick serve\`: client HTTP, event, Runtime API) | $host_cpu |
| the sandboxes (the app behind the Runtime API) | $sandbox_cpu |
| the gateway path in all | $((host_cpu + sandbox_cpu)) |
| the app serving HTTP itself on \`PORT\` | $direct_cpu |

With both cores busy, throughput is the inverse of the CPU a request costs
all processes together, wrk included. Half the direct throughput therefore
needs gateway path + wrk ≤ 2 × (direct app + wrk): the gateway path could
cost the direct app's figure plus one wrk share, no more. Why it cannot, and
what was cut, is in [README.md](README.md).

The same gateway in front of the SDK's plain JSON echo (\`examples/echo\`, no
HTTP adapter, route \`GET /baseline\`): what the host's gateway path costs by
itself.

| conns | req/s | p50 / p99 |
|---:|---:|---:|
$baseline
## Binary size (\`[profile.lambda]\`: opt-level z, LTO, 1 CGU, panic=abort, strip)

| build | bytes |
|---|---:|
| \`examples/http-axum\` with \`flick::http\` | $flick_size |
| the same app with \`lambda_http\` (\`bench/http/lambda-http-app\`) | $lambda_http_size |
| flick / lambda_http | $size_share |
MD
echo "wrote bench/http/RESULTS.md" >&2
