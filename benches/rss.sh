#!/usr/bin/env bash
# Resident memory at rest: the protected server against the plain server, both
# examples/bench_server.rs (release). See BENCHMARKS.md.
#
#   bash benches/rss.sh
#
# It starts `bench_server --issuer-only` first: the issuer the protected
# server trusts, a process of its own so that its memory is not counted. Then,
# in each of ROUNDS rounds, two fresh servers with the same tokio workers:
#   plain      bench_server --plain: no issuer and no bearer-guard, only
#              GET /plain (the baseline)
#   protected  bench_server --issuer URL: the routes of load.sh behind two
#              bearer-guard layers (token cache on and off), keys loaded
#              (warm_up) before it listens
# Each gets the same light traffic on GET /plain (REQUESTS requests over
# CONNECTIONS connections, with wrk for DURATION, which stops taking new
# responses after REQUESTS; or curl if wrk is missing), then, after
# SETTLE seconds, VmRSS, RssAnon, RssFile, VmHWM and Threads are read from
# /proc/PID/status. Printed: a table per round, then the median over rounds
# of each figure and of the per-round difference protected - plain (kB).
# /proc/PID/status, smaps_rollup and smaps of both servers of the last round
# are saved in OUT for later analysis. While the last round's servers are
# still alive, benches/rss_breakdown.py (python3, as root: it reads their
# /proc/PID/pagemap and /proc/PID/mem) breaks their memory down: resident
# pages of the binary's mappings, resident text by crate (symbols), .rodata,
# anonymous memory by kind and inside malloc's heaps (live, cached, free),
# the whole VmRSS by component. Its report is saved in OUT/breakdown.txt and
# printed after the figures.
#
# Environment (all optional):
#   ROUNDS=3                       rounds (fresh servers each)
#   WORKERS=2                      the servers' tokio worker threads
#   REQUESTS=2000 CONNECTIONS=8    the traffic to /plain before reading
#   DURATION=2s                    how long wrk runs (it sends no more once
#                                  REQUESTS responses are in)
#   SETTLE=1                       seconds between the traffic and the reading
#   OUT=target/rss                 where the last round's /proc files go
#   BREAKDOWN=1                    0: no rss_breakdown.py report
# The default takes about 15 seconds after the build. Traffic goes to
# 127.0.0.1 only; every process it starts is killed when it exits, and exits
# by itself 15 minutes after it starts anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-2}
REQUESTS=${REQUESTS:-2000}
CONNECTIONS=${CONNECTIONS:-8}
DURATION=${DURATION:-2s}
SETTLE=${SETTLE:-1}
OUT=${OUT:-target/rss}
BREAKDOWN=${BREAKDOWN:-1}

. benches/need.sh
if ! need wrk wrk; then
  command -v curl >/dev/null || { echo "rss.sh: wrk or curl is required (apt-get install wrk)" >&2; exit 1; }
  echo "rss.sh: wrk is missing, sending the traffic with curl" >&2
fi

echo "building examples/bench_server.rs (release)..." >&2
cargo build --release --example bench_server --quiet
SERVER=${CARGO_TARGET_DIR:-target}/release/examples/bench_server
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME PREFIX ARGS... -> runs bench_server ARGS in the background, waits
# for its line `PREFIX VALUE` on stdout; sets STARTED_PID and STARTED_VALUE.
start() {
  local name=$1 prefix=$2
  shift 2
  "$SERVER" "$@" --exit-after 900 >"$WORK/$name.out" 2>"$WORK/$name.err" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 1 600); do
    STARTED_VALUE=$(sed -n "s/^$prefix //p" "$WORK/$name.out")
    [ -n "$STARTED_VALUE" ] && break
    kill -0 "$STARTED_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$STARTED_VALUE" ]; then
    cat "$WORK/$name.err" >&2
    echo "rss.sh: $name did not start" >&2
    exit 1
  fi
  case "$STARTED_VALUE" in
    127.* | http://127.*) ;;
    *) echo "rss.sh: refusing a non-loopback address $STARTED_VALUE" >&2; exit 1 ;;
  esac
}

# stop PID: kills one server this script started, and forgets it.
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

# wrk's thread stops after REQUESTS responses (one thread, so the count is
# global; wrk itself still waits for DURATION); any other status than 200
# fails the run.
cat >"$WORK/requests.lua" <<'EOF'
local limit, seen = 0, 0
function init(args) limit = tonumber(args[1]) end
function response(status)
  if status ~= 200 then error("status " .. status) end
  seen = seen + 1
  if seen >= limit then wrk.thread:stop() end
end
EOF

# traffic NAME ADDR: REQUESTS GETs of /plain over CONNECTIONS connections.
traffic() {
  local out n
  if command -v wrk >/dev/null; then
    out=$(wrk -t 1 -c "$CONNECTIONS" -d "$DURATION" -s "$WORK/requests.lua" "http://$2/plain" -- "$REQUESTS" 2>&1)
    if grep -qE 'Non-2xx|Socket errors|error' <<<"$out"; then
      echo "$out" >&2
      echo "rss.sh: traffic to $1 had errors (see above)" >&2
      exit 1
    fi
    n=$(awk '/requests in/ { print $1 }' <<<"$out")
    if [ "${n:-0}" -lt "$REQUESTS" ]; then
      echo "rss.sh: only ${n:-0} of $REQUESTS requests to $1 in $DURATION (raise DURATION)" >&2
      exit 1
    fi
  else
    n=$(curl -sS --no-progress-meter --parallel --parallel-max "$CONNECTIONS" -o /dev/null \
      -w '%{http_code}\n' "http://$2/plain?n=[1-$REQUESTS]" | grep -c '^200$' || true)
    if [ "$n" != "$REQUESTS" ]; then
      echo "rss.sh: only $n of $REQUESTS requests to $1 answered 200" >&2
      exit 1
    fi
  fi
  echo "  $1: $n requests to /plain" >&2
}

FIGURES=(VmRSS RssAnon RssFile VmHWM Threads)
# figures PID -> the FIGURES from /proc/PID/status, space-separated
figures() {
  awk '{ v[$1] = $2 } END { print v["VmRSS:"], v["RssAnon:"], v["RssFile:"], v["VmHWM:"], v["Threads:"] }' "/proc/$1/status"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

row() { printf '%-18s' "$1"; shift; printf ' %9s' "$@"; printf '\n'; }
header() { row "$1" "${FIGURES[@]}"; }

start issuer issuer --issuer-only --workers 1
ISSUER=$STARTED_VALUE
echo "issuer at $ISSUER; $ROUNDS rounds, $WORKERS workers, $REQUESTS requests over $CONNECTIONS connections" >&2
mkdir -p "$OUT"

declare -A ALL # "plain i", "protected i", "diff i" (i: index into FIGURES) -> values, one per round
for round in $(seq 1 "$ROUNDS"); do
  start plain "listening on" --plain --workers "$WORKERS"
  PLAIN_PID=$STARTED_PID PLAIN_ADDR=$STARTED_VALUE
  start protected "listening on" --issuer "$ISSUER" --workers "$WORKERS"
  PROTECTED_PID=$STARTED_PID PROTECTED_ADDR=$STARTED_VALUE
  traffic plain "$PLAIN_ADDR"
  traffic protected "$PROTECTED_ADDR"
  sleep "$SETTLE"
  read -r -a plain <<<"$(figures "$PLAIN_PID")"
  read -r -a protected <<<"$(figures "$PROTECTED_PID")"
  if [ "$round" = "$ROUNDS" ]; then
    for f in status smaps_rollup smaps; do
      rm -f "$OUT/plain.$f" "$OUT/protected.$f"
      cat "/proc/$PLAIN_PID/$f" >"$OUT/plain.$f"
      cat "/proc/$PROTECTED_PID/$f" >"$OUT/protected.$f"
    done
    rm -f "$OUT/breakdown.txt"
    if [ "$BREAKDOWN" != 0 ]; then
      if ! command -v python3 >/dev/null; then
        echo "rss.sh: python3 is missing: no breakdown" >"$OUT/breakdown.txt"
      elif ! python3 benches/rss_breakdown.py "$PLAIN_PID" "$PROTECTED_PID" "$SERVER" \
        >"$OUT/breakdown.txt" 2>"$WORK/breakdown.err"; then
        { cat "$OUT/breakdown.txt" "$WORK/breakdown.err"; echo "rss.sh: rss_breakdown.py failed"; } >"$WORK/breakdown.txt"
        mv "$WORK/breakdown.txt" "$OUT/breakdown.txt"
      fi
    fi
  fi
  stop "$PLAIN_PID"
  stop "$PROTECTED_PID"

  diff=()
  for i in "${!FIGURES[@]}"; do
    diff[i]=$((protected[i] - plain[i]))
    ALL["plain $i"]+="${plain[i]} "
    ALL["protected $i"]+="${protected[i]} "
    ALL["diff $i"]+="${diff[i]} "
  done
  echo
  header "round $round (kB)"
  row plain "${plain[@]}"
  row protected "${protected[@]}"
  row "protected - plain" "${diff[@]}"
done

echo
header "median of $ROUNDS (kB)"
for who in plain protected diff; do
  medians=()
  for i in "${!FIGURES[@]}"; do
    medians[i]=$(tr ' ' '\n' <<<"${ALL[$who $i]}" | grep . | median)
  done
  label=$who
  [ "$who" = diff ] && label="protected - plain"
  row "$label" "${medians[@]}"
done
echo "(Threads is a count, not kB; last round's /proc files in $OUT)"
echo "(target: protected - plain <= 1024 kB)"
if [ -s "$OUT/breakdown.txt" ]; then
  echo
  cat "$OUT/breakdown.txt"
fi
