#!/usr/bin/env bash
# End-to-end load over loopback: the plain route against protected routes, in
# interleaved rounds, as ratios to the plain route. See BENCHMARKS.md.
#
#   bash benches/load.sh
#
# Scenarios (each round runs all of SCENARIOS, one after the other, for
# DURATION):
#   plain                 GET /plain, no authentication (the baseline)
#   cached_1_token        GET /protected, one token repeated (cache hits)
#   cached_1000           GET /protected, 1,000 distinct tokens in turn (cache
#                         on: after the warm-up round they are all cache hits too)
#   nocache_1000          GET /protected-nocache, 1,000 tokens, cache off: every
#                         request is a full RS256 validation
#   cached_entra_claims   GET /me, one Entra-sized token (about 1 KB of claims)
#                         repeated, cache on; the handler takes
#                         Claims<EntraClaims> (benches/support), as users do
#   nocache_entra_claims  GET /me-nocache, 1,000 Entra-sized tokens, cache off
#   plain_entra           GET /plain, with the Entra-sized tokens' headers: the
#                         baseline for the two scenarios above
# The first four scenarios (plain too) send an Authorization header from the
# same pool of small tokens, so wrk does the same work in each; the Entra
# scenarios send the server's pool of Entra-sized tokens (--entra-tokens),
# about 2 KB a header, and plain_entra sends the same headers to the plain
# route, so that the bigger request's own cost (reading and parsing 2 KB in
# hyper and wrk) is in the baseline too. The figure per scenario is the median
# over rounds of its requests/s, and the medians of its ratios to the plain
# and plain_entra runs of the same round.
#
# Environment (all optional):
#   ROUNDS=3 DURATION=5s WARMUP=2s   rounds, seconds per run, warm-up per scenario
#   THREADS=1 CONNECTIONS=32         wrk's threads and connections
#   WORKERS=2                        the server's tokio worker threads
#   SCENARIOS="plain cached_1_token cached_1000 nocache_1000 plain_entra cached_entra_claims nocache_entra_claims"
# The default takes about 2 minutes. Traffic goes to 127.0.0.1 only, and the
# server exits by itself 15 minutes after it starts if this script is killed.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-2s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
WORKERS=${WORKERS:-2}
SCENARIOS=${SCENARIOS:-plain cached_1_token cached_1000 nocache_1000 plain_entra cached_entra_claims nocache_entra_claims}

. benches/need.sh
need wrk wrk || { echo "load.sh: wrk is required and could not be installed (apt-get install wrk)" >&2; exit 1; }

echo "building examples/bench_server.rs (release)..." >&2
cargo build --release --example bench_server --quiet
SERVER=${CARGO_TARGET_DIR:-target}/release/examples/bench_server
WORK=$(mktemp -d)
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

TOKENS="$WORK/tokens.txt"
ENTRA_TOKENS="$WORK/entra-tokens.txt"
"$SERVER" --tokens "$TOKENS" --entra-tokens "$ENTRA_TOKENS" --pool 1000 --workers "$WORKERS" --exit-after 900 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 600); do
  grep -q '^listening on ' "$WORK/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; echo "load.sh: the server exited" >&2; exit 1; }
  sleep 0.1
done
ADDR=$(sed -n 's/^listening on //p' "$WORK/server.out")
[ -n "$ADDR" ] || { echo "load.sh: the server did not start" >&2; exit 1; }
case "$ADDR" in 127.*) ;; *) echo "load.sh: refusing a non-loopback address $ADDR" >&2; exit 1 ;; esac

# run SCENARIO DURATION -> prints requests/s; fails on any non-2xx response
run() {
  local path count file=$TOKENS
  case "$1" in
    plain) path=/plain count=1000 ;;
    cached_1_token) path=/protected count=1 ;;
    cached_1000) path=/protected count=1000 ;;
    nocache_1000) path=/protected-nocache count=1000 ;;
    plain_entra) path=/plain count=1000 file=$ENTRA_TOKENS ;;
    cached_entra_claims) path=/me count=1 file=$ENTRA_TOKENS ;;
    nocache_entra_claims) path=/me-nocache count=1000 file=$ENTRA_TOKENS ;;
    *) echo "load.sh: unknown scenario $1" >&2; exit 1 ;;
  esac
  local out
  out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$2" -s benches/load/tokens.lua \
    "http://$ADDR$path" -- "$file" "$count")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "$out" >&2
    echo "load.sh: $1 had errors (see above)" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "server on $ADDR; wrk -t$THREADS -c$CONNECTIONS; $ROUNDS rounds of $DURATION per scenario" >&2
for s in $SCENARIOS; do
  run "$s" "$WARMUP" >/dev/null
done
declare -A RPS RATIO RATIO_E
for round in $(seq 1 "$ROUNDS"); do
  declare -A this=()
  for s in $SCENARIOS; do
    this[$s]=$(run "$s" "$DURATION")
    RPS[$s]+="${this[$s]} "
    echo "round $round: $s ${this[$s]} req/s" >&2
  done
  if [ -n "${this[plain]:-}" ]; then
    for s in $SCENARIOS; do
      RATIO[$s]+="$(awk -v a="${this[$s]}" -v b="${this[plain]}" 'BEGIN { print a / b }') "
    done
  fi
  if [ -n "${this[plain_entra]:-}" ]; then
    for s in $SCENARIOS; do
      RATIO_E[$s]+="$(awk -v a="${this[$s]}" -v b="${this[plain_entra]}" 'BEGIN { print a / b }') "
    done
  fi
done

echo
printf '%-20s %14s %14s %14s   %s\n' scenario "median req/s" "median ×plain" "×plain_entra" "per round (req/s)"
for s in $SCENARIOS; do
  m=$(tr ' ' '\n' <<<"${RPS[$s]}" | grep . | median)
  r=-
  e=-
  [ -n "${RATIO[$s]:-}" ] && r=$(tr ' ' '\n' <<<"${RATIO[$s]}" | grep . | median | awk '{ printf "%.3f", $1 }')
  [ -n "${RATIO_E[$s]:-}" ] && e=$(tr ' ' '\n' <<<"${RATIO_E[$s]}" | grep . | median | awk '{ printf "%.3f", $1 }')
  printf '%-20s %14.0f %14s %14s   %s\n' "$s" "$m" "$r" "$e" "${RPS[$s]}"
done
echo "(target: cached_entra_claims >= 0.85 × the plain route; ×plain_entra sends it the same headers)"
