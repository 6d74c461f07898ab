#!/usr/bin/env bash
# What each SDK feature costs a function, in bytes, one command: the echo
# example built with the `lambda` profile (stripped) without features, then
# with each feature enabled but unused (what enabling it alone costs), and the
# example that uses each feature. Writes bench/sdk/FEATURES.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out=bench/sdk/FEATURES.md
size() { stat -c %s "target/lambda/$1"; }

cargo build --quiet --profile lambda -p example-echo
base=$(size example-echo)
rows=""
for feature in metrics batch idempotency idempotency-dynamodb http opentelemetry; do
  cargo build --quiet --profile lambda -p example-echo --features "flick/$feature"
  with=$(size example-echo)
  rows+="| \`$feature\` enabled, unused (echo) | $with | $((with - base)) |"$'\n'
done
# package:feature[:cargo flags]; example-idempotency's default feature adds
# the DynamoDB store, so its Redis/memory build is measured without it.
for example in example-metrics:metrics example-batch:batch \
    "example-idempotency:idempotency:--no-default-features" \
    example-idempotency:idempotency-dynamodb example-http-axum:http \
    example-otel-traces:opentelemetry; do
  IFS=: read -r name feature flags <<<"$example"
  # shellcheck disable=SC2086 # flags is empty or one flag
  cargo build --quiet --profile lambda -p "$name" $flags
  used=$(size "$name")
  rows+="| \`$feature\` used (\`$name\`) | $used | $((used - base)) |"$'\n'
done
# Leave the plain echo built, as bench/sdk/run.sh expects it.
cargo build --quiet --profile lambda -p example-echo
test "$(size example-echo)" = "$base"

{
  echo "# What each SDK feature costs"
  echo
  echo "Measured by \`bench/sdk/features.sh\` on $(date -u +%Y-%m-%d), rustc $(rustc --version | cut -d' ' -f2),"
  echo "\`lambda\` profile (opt-level z, LTO, one codegen unit, panic=abort, strip). Sizes of the stripped binaries."
  echo
  echo "| build | bytes | over the echo |"
  echo "|---|---:|---:|"
  echo "| \`examples/echo\`, no features | $base | 0 |"
  printf "%s" "$rows"
  echo
  echo "A feature that is enabled but unused costs what its code the linker keeps; a function"
  echo "that does not enable it carries none of it (the first row is the echo of bench/sdk/RESULTS.md)."
  echo "\`opentelemetry\` has no unused state: enabled, it installs the exporter and traces every"
  echo "invocation, so its echo row is the cost of tracing a function that opens no spans itself."
} > "$out"
cat "$out"
