#!/usr/bin/env bash
# Runs every fuzz target for a short, fixed time (default 30 s each; override
# with FUZZ_SECONDS). Installs cargo-fuzz if missing. Needs the nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-30}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
for target in $(cargo +nightly fuzz list); do
  echo "fuzz: $target for ${seconds}s"
  # A copy of the checked-in seeds, so a smoke run never writes into the repo.
  work=$(mktemp -d)
  cp corpus/"$target"/seed-* "$work"/ 2>/dev/null || true
  cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$seconds" -max_len=20000 2>&1 | tail -n 3
  rm -rf "$work"
done
