#!/usr/bin/env bash
# The flick::http benchmark, one command, one run: the axum example
# (examples/http-axum) behind `flick serve`'s gateway (payload 2.0) versus the
# same binary serving HTTP itself on PORT, with wrk (1 and 8 connections,
# warm), plus the binary size of that example against the same app on the
# official lambda_http, both with the workspace's `[profile.lambda]`.
# Writes bench/http/RESULTS.md.
#
# Needs: wrk (apt install wrk), a Rust toolchain. Env: DURATION (seconds per
# wrk run, default 10), PATHS (default "/hello /items/42?a=1").
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
    rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is needed: apt install wrk" >&2; exit 1; }

echo "building..." >&2
cargo build --quiet --release -p flick-cli -p example-http-axum -p example-echo
cargo build --quiet --profile lambda -p example-http-axum
cargo build --quiet --profile lambda --manifest-path bench/http/lambda-http-app/Cargo.toml \
    --target-dir "$target/http-bench"
flick_size=$(stat -c %s "$target/lambda/example-http-axum")
lambda_http_size=$(stat -c %s "$target/http-bench/lambda/lambda-http-app")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
    for _ in $(seq 200); do
        curl -sf -o /dev/null "http://127.0.0.1:$1/hello" && return 0
        sleep 0.05
    done
    echo "nothing answers on port $1" >&2; exit 1
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
for path in $paths; do
    for conns in 1 8; do
        # warm: every sandbox started and every connection open
        wrk -t"$conns" -c"$conns" -d2s "http://127.0.0.1:$gw_port$path" >/dev/null
        wrk -t"$conns" -c"$conns" -d2s "http://127.0.0.1:$direct_port$path" >/dev/null
        read -r g_rps g_p50 g_p99 <<<"$(measure "http://127.0.0.1:$gw_port$path" "$conns")"
        read -r d_rps d_p50 d_p99 <<<"$(measure "http://127.0.0.1:$direct_port$path" "$conns")"
        share=$(awk -v g="$g_rps" -v d="$d_rps" 'BEGIN { printf "%.0f%%", 100 * g / d }')
        added=$((g_p50 - d_p50))
        rows+="| \`$path\` | $conns | $g_rps | $g_p50 / $g_p99 | $d_rps | $d_p50 / $d_p99 | $share | $added |"$'\n'
        echo "$path c=$conns gateway $g_rps rps p50 $g_p50 p99 $g_p99 | direct $d_rps rps p50 $d_p50 p99 $d_p99" >&2
    done
done

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

\`bench/http/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(uname -m)), ${duration}s per wrk run.
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
