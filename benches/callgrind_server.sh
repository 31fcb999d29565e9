#!/usr/bin/env bash
# Instructions per request over the whole server, counted by callgrind: the
# HTTP server (hyper, tokio, axum) included, as the issue 13 targets define
# them. See BENCHMARKS.md. benches/callgrind.sh counts in-process instead
# (router only, no HTTP parsing), which is stricter and more detailed.
#
#   bash benches/callgrind_server.sh
#
# It builds examples/bench_server.rs (release), starts the test issuer in a
# process of its own (`bench_server --issuer-only`, natively: it also signs
# the tokens), and for each scenario runs `bench_server --issuer URL
# --workers 1` under callgrind twice: a client on one keep-alive connection
# sends WARM requests, then N (or 2N) more, all answered 200, then the server
# is stopped (SIGTERM: callgrind writes its counts). Everything the server
# does counts: start-up, key fetch, the warm-up requests and the stop are
# the same in both runs, so (Ir(2N) - Ir(N)) / N is the cost of one request.
#
# Scenarios (route, token):
#   plain                GET /plain, small token sent and ignored (the baseline)
#   plain_entra          GET /plain, Entra-sized token sent and ignored (the
#                        baseline with the same request as the Entra scenarios)
#   cached_small         GET /protected, one small token repeated (cache hits;
#                        the handler takes no claims)
#   cached_entra_claims  GET /me, one Entra-sized token repeated (cache hits;
#                        the handler takes Claims<EntraClaims>)
#   cold_small           GET /protected-nocache, small token (cache off: a full
#                        validation every time)
#   cold_entra           GET /me-nocache, Entra-sized token (cache off;
#                        Claims<EntraClaims> deserialized every time)
#
# Environment (all optional):
#   N=200 WARM=20 JOBS=2 OUT=target/callgrind-server
#   SCENARIOS="plain plain_entra cached_small cached_entra_claims cold_small cold_entra"
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
WARM=${WARM:-20}
JOBS=${JOBS:-2}
OUT=${OUT:-target/callgrind-server}
SCENARIOS=${SCENARIOS:-plain plain_entra cached_small cached_entra_claims cold_small cold_entra}

. benches/need.sh
need valgrind valgrind || { echo "callgrind_server.sh: valgrind is required (apt-get install valgrind)" >&2; exit 1; }

echo "building examples/bench_server.rs (release)..." >&2
cargo build --release --example bench_server --quiet
SERVER=${CARGO_TARGET_DIR:-target}/release/examples/bench_server
mkdir -p "$OUT"
rm -f "$OUT"/cg.* "$OUT"/log.*
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# wait_line FILE PREFIX PID: the rest of the first line of FILE that starts
# with PREFIX, once the process PID has printed it (up to 5 minutes).
wait_line() {
  for _ in $(seq 1 3000); do
    if grep -q "^$2" "$1" 2>/dev/null; then
      sed -n "s/^$2//p" "$1" | head -n1
      return
    fi
    kill -0 "$3" 2>/dev/null || { echo "callgrind_server.sh: the server exited (see $1)" >&2; return 1; }
    sleep 0.1
  done
  echo "callgrind_server.sh: no '$2' line in $1" >&2
  return 1
}

"$SERVER" --issuer-only --tokens "$WORK/small.txt" --entra-tokens "$WORK/entra.txt" --pool 1 \
  --exit-after 3600 >"$WORK/issuer.out" 2>"$WORK/issuer.err" &
PIDS+=($!)
ISSUER=$(wait_line "$WORK/issuer.out" "issuer " "$!")
case "$ISSUER" in http://127.*) ;; *) echo "callgrind_server.sh: unexpected issuer $ISSUER" >&2; exit 1 ;; esac

# The client: one keep-alive connection, WARM + n requests, each must be 200.
cat >"$WORK/client.py" <<'EOF'
import http.client, sys
addr, path, token_file, warm, n = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
token = open(token_file).readline().strip()
conn = http.client.HTTPConnection(host, int(port), timeout=600)
for i in range(int(warm) + int(n)):
    conn.request("GET", path, headers={"Authorization": "Bearer " + token})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        sys.exit(f"request {i}: {response.status} {body[:200]!r}")
conn.close()
EOF

# run SCENARIO N: one callgrind run of the server.
run() {
  local path tokens
  case "$1" in
    plain) path=/plain tokens=small ;;
    plain_entra) path=/plain tokens=entra ;;
    cached_small) path=/protected tokens=small ;;
    cached_entra_claims) path=/me tokens=entra ;;
    cold_small) path=/protected-nocache tokens=small ;;
    cold_entra) path=/me-nocache tokens=entra ;;
    *) echo "callgrind_server.sh: unknown scenario $1" >&2; return 1 ;;
  esac
  local log="$OUT/log.$1.$2"
  valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$1.$2" \
    "$SERVER" --issuer "$ISSUER" --workers 1 --exit-after 3600 >"$log.out" 2>"$log.err" &
  local pid=$!
  local addr
  addr=$(wait_line "$log.out" "listening on " "$pid") || { kill "$pid" 2>/dev/null; return 1; }
  python3 "$WORK/client.py" "$addr" "$path" "$WORK/$tokens.txt" "$WARM" "$2" ||
    { kill "$pid" 2>/dev/null; echo "callgrind_server.sh: $1 $2 failed" >&2; return 1; }
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  [ -s "$OUT/cg.$1.$2" ] || { echo "callgrind_server.sh: no callgrind output for $1 $2 (see $log.err)" >&2; return 1; }
}
export -f run wait_line
export OUT SERVER ISSUER WORK WARM

jobs=()
for s in $SCENARIOS; do jobs+=("$s $N" "$s $((2 * N))"); done
echo "issuer at $ISSUER; ${#jobs[@]} callgrind runs, $JOBS at a time..." >&2
printf '%s\n' "${jobs[@]}" | xargs -P "$JOBS" -L 1 bash -c 'run "$0" "$1"'

# Ir of one output file: the sum over its threads' parts (callgrind writes one
# file, or one per thread with --separate-threads; here one).
ir() { sed -n 's/^totals: *//p' "$OUT/cg.$1.$2" | awk '{ s += $1 } END { print s }'; }
declare -A PER
printf '\n%-20s %6s %14s %14s %16s\n' scenario N "Ir(N)" "Ir(2N)" "(Ir(2N)-Ir(N))/N"
for s in $SCENARIOS; do
  a=$(ir "$s" "$N")
  b=$(ir "$s" $((2 * N)))
  PER[$s]=$(((b - a) / N))
  printf '%-20s %6d %14d %14d %16d\n' "$s" "$N" "$a" "$b" "${PER[$s]}"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
p=${PER[plain]:-}
if [ -n "$p" ]; then
  echo
  echo "ratios to plain (instructions per request over the whole server):"
  [ -n "${PER[cached_small]:-}" ] &&
    echo "  cached_small / plain = $(ratio "${PER[cached_small]}" "$p")   (target <= 1.2)"
  [ -n "${PER[cached_entra_claims]:-}" ] &&
    echo "  cached_entra_claims / plain = $(ratio "${PER[cached_entra_claims]}" "$p")   (target <= 1.3)"
  pe=${PER[plain_entra]:-}
  if [ -n "$pe" ]; then
    for s in cached_entra_claims cold_entra; do
      [ -n "${PER[$s]:-}" ] &&
        echo "  $s / plain_entra = $(ratio "${PER[$s]}" "$pe")   (the same request to the plain route)"
    done
  fi
  for s in cold_small cold_entra; do
    [ -n "${PER[$s]:-}" ] && echo "  $s / plain = $(ratio "${PER[$s]}" "$p")"
  done
fi
