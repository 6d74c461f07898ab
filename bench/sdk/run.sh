#!/usr/bin/env bash
# The SDK benchmark, one command: builds Flick's echo and the official
# lambda_runtime echo with the same `lambda` profile, runs both against the
# same Runtime API server in one run, and writes bench/sdk/RESULTS.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# Two builds, not one: built together, cargo would unify features across
# both and hand Flick the `std` features lambda_runtime enables in `tracing`.
cargo build --quiet --profile lambda -p example-echo
cargo build --quiet --profile lambda -p echo-official
cargo run --quiet --release \
    --manifest-path bench/sdk/Cargo.toml --target-dir target/sdk-bench -- \
    target/lambda/example-echo target/lambda/echo-official bench/sdk/RESULTS.md
