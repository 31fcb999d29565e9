#!/usr/bin/env bash
# The public API check: lists bearer-guard's public API with cargo-public-api
# (rustdoc JSON, on the nightly toolchain) and compares it with the listing
# committed in api/public-api.txt. Any difference fails, so an API change
# lands only together with the updated listing, where a reviewer sees it.
#
#   bash .ci/public-api.sh           # check
#   bash .ci/public-api.sh --bless   # record the current API as the listing
#
# It also fails when a type from a crate outside the allow-list appears in
# the API: only our own types, the standard library, and http, tower, axum
# and serde, where users plug in (DESIGN.md, "Public API"), and reqwest's
# `Client` for `Builder::http_client` (issue 17.2: users bring their own
# client; reqwest 0.13 is then a public dependency, and a reqwest major
# version is a bearer-guard breaking change).
#
# Features listed: the defaults plus `testing`, `metrics`, `redis` and `config`; `fuzzing` is not
# a stable API and is left out.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.52.0
if ! cargo public-api --version 2>/dev/null | grep -q "$VERSION"; then
  echo "public-api: installing cargo-public-api $VERSION" >&2
  cargo install cargo-public-api --version "$VERSION" --locked --quiet
fi

listing=$(mktemp)
trap 'rm -f "$listing"' EXIT
# -s: leave out blanket impls (`impl<T> From<T> for T` and the like), which
# say nothing about this crate.
cargo public-api --features testing,metrics,redis,config -s >"$listing" 2>/dev/null

if [ "${1:-}" = "--bless" ]; then
  cp "$listing" api/public-api.txt
  echo "public-api: recorded $(wc -l <api/public-api.txt) lines in api/public-api.txt"
  exit 0
fi

# Crate paths allowed in the API. pin_project_lite's private path shows up in
# the auto `Unpin` impl of a pin-projected future (RequireFuture is Unpin when
# the inner future is); it names no type a user can touch.
foreign=$(grep -oP '(?<![A-Za-z0-9_:])[a-z_][a-z0-9_]*(?=::)' "$listing" | sort -u |
  grep -vxE 'bearer_guard|core|alloc|std|http|tower|tower_service|tower_layer|axum|axum_core|serde|serde_core|pin_project_lite|__H|reqwest' || true)
if [ -n "$foreign" ]; then
  echo "public-api: types from these crates appear in the public API: $foreign" >&2
  grep -nP "(?<![A-Za-z0-9_:])($(echo $foreign | tr ' ' '|'))::" "$listing" >&2
  exit 1
fi
if grep -n 'pin_project_lite::' "$listing" | grep -v 'PinnedFieldsOf' >&2; then
  echo "public-api: pin_project_lite appears outside an auto Unpin impl" >&2
  exit 1
fi

if ! diff -u api/public-api.txt "$listing"; then
  cat >&2 <<'MSG'
public-api: the public API differs from api/public-api.txt (diff above).
If the change is intended, record it: bash .ci/public-api.sh --bless, and
commit api/public-api.txt with the change.
MSG
  exit 1
fi
echo "public-api: unchanged ($(wc -l <api/public-api.txt) lines), no foreign types"
