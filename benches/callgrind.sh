#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: deterministic, so
# it holds on a noisy shared machine. See BENCHMARKS.md.
#
#   bash benches/callgrind.sh
#
# For each token size and mode it runs `benches/instructions.rs` twice, with N
# and 2N requests, collecting only inside `callgrind_measured_section`; the
# figure per request is (Ir(2N) - Ir(N)) / N, which cancels any fixed cost in
# the section. Then it prints the ratios of the issue's targets and the top
# inclusive functions of the protected paths.
#
# Environment (all optional):
#   N=200          requests in the short run (the long run has 2N)
#   N_FIRST=100    the same for cold_first_sight (every token is minted under
#                  valgrind, which is slow: about 0.1 s per RSA signature)
#   SIZES="small entra"  token sizes (benches/support/mod.rs)
#   MODES="plain plain_layered raw_verify raw_verify_parsed raw_decode cold cold_first_sight cached
#          cold_claims cached_claims
#          bearer_cached dpop_cached bearer_cold dpop_cold raw_verify_proof
#          dpop_cached_eddsa dpop_cold_eddsa raw_verify_proof_eddsa
#          jwt_cached introspected_cached"
#          (the *_claims modes: a handler taking Claims<EntraClaims>,
#          benches/support/mod.rs; the bearer_* and dpop_* modes the same
#          handler behind a layer that also accepts DPoP, issue 15;
#          jwt_cached and introspected_cached the same handler behind a
#          layer that also introspects opaque tokens at a fake endpoint on
#          loopback, both caches on, issue 16)
#   JOBS=2         valgrind processes at once (the counts do not depend on it)
#   OUT=target/callgrind  where the callgrind files and annotations go
#   TOP=20         how many functions the annotations show
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
N_FIRST=${N_FIRST:-100}
SIZES=${SIZES:-small entra}
MODES=${MODES:-plain plain_layered raw_verify raw_verify_parsed raw_decode cold cold_first_sight cached cold_claims cached_claims bearer_cached dpop_cached bearer_cold dpop_cold raw_verify_proof dpop_cached_eddsa dpop_cold_eddsa raw_verify_proof_eddsa jwt_cached introspected_cached}
JOBS=${JOBS:-2}
OUT=${OUT:-target/callgrind}
TOP=${TOP:-20}

. benches/need.sh
need valgrind valgrind || { echo "callgrind.sh: valgrind is required (apt-get install valgrind)" >&2; exit 1; }

echo "building the instructions bench (release profile)..." >&2
BIN=$(cargo bench --bench instructions --no-run --message-format=json 2>/dev/null |
  grep '"name":"instructions"' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
[ -x "$BIN" ] || { echo "callgrind.sh: could not build benches/instructions.rs" >&2; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT"/cg.*

# One job per line: "mode size n".
jobs=()
for size in $SIZES; do
  for mode in $MODES; do
    n=$N
    [ "$mode" = cold_first_sight ] && n=$N_FIRST
    jobs+=("$mode $size $n" "$mode $size $((2 * n))")
  done
done
echo "running ${#jobs[@]} callgrind runs, $JOBS at a time..." >&2
export BIN OUT
printf '%s\n' "${jobs[@]}" | xargs -P "$JOBS" -L 1 bash -c '
  valgrind --tool=callgrind --toggle-collect="*callgrind_measured_section*" \
    --callgrind-out-file="$OUT/cg.$0.$1.$2" "$BIN" "$0" "$2" "$1" \
    >"$OUT/log.$0.$1.$2" 2>&1 || { echo "failed: $0 $1 $2 (see $OUT/log.$0.$1.$2)" >&2; exit 255; }'

ir() { sed -n 's/^totals: *//p' "$OUT/cg.$1.$2.$3"; }
# Per-request figure of a mode: (Ir(2N) - Ir(N)) / N.
declare -A PER
printf '\n%-18s %-6s %6s %14s %14s %16s\n' mode size N "Ir(N)/N" "Ir(2N)/2N" "(Ir(2N)-Ir(N))/N"
for size in $SIZES; do
  for mode in $MODES; do
    n=$N
    [ "$mode" = cold_first_sight ] && n=$N_FIRST
    a=$(ir "$mode" "$size" "$n")
    b=$(ir "$mode" "$size" $((2 * n)))
    [ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ] ||
      { echo "callgrind.sh: no collection for $mode $size (is the toggle matching?)" >&2; exit 1; }
    PER[$mode.$size]=$(((b - a) / n))
    printf '%-18s %-6s %6d %14d %14d %16d\n' "$mode" "$size" "$n" $((a / n)) $((b / (2 * n))) "${PER[$mode.$size]}"
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
echo
echo "ratios (instructions per request, from the (Ir(2N)-Ir(N))/N column):"
for size in $SIZES; do
  p=${PER[plain.$size]:-}
  v=${PER[raw_verify.$size]:-}
  vp=${PER[raw_verify_parsed.$size]:-}
  d=${PER[raw_decode.$size]:-}
  [ -n "$p" ] || continue
  for m in cold cold_first_sight cold_claims; do
    [ -n "${PER[$m.$size]:-}" ] || continue
    [ -n "$vp" ] &&
      echo "  $size: $m / (plain + raw_verify_parsed) = $(ratio "${PER[$m.$size]}" $((p + vp)))   (target <= 1.10: a bare aws-lc verify, key parsed once)"
    [ -n "$v" ] &&
      echo "  $size: $m / (plain + raw_verify) = $(ratio "${PER[$m.$size]}" $((p + v)))   (jsonwebtoken's verify, which re-imports the key)"
    [ -n "$d" ] &&
      echo "  $size: $m / (plain + raw_decode) = $(ratio "${PER[$m.$size]}" $((p + d)))   (a hand-written jsonwebtoken middleware)"
  done
  [ -n "${PER[cached.$size]:-}" ] &&
    echo "  $size: cached / plain = $(ratio "${PER[cached.$size]}" "$p")   (target <= 1.2, no claims extractor)"
  l=${PER[plain_layered.$size]:-}
  if [ -n "$l" ]; then
    for m in cached cached_claims; do
      [ -n "${PER[$m.$size]:-}" ] &&
        echo "  $size: $m - plain_layered = $((PER[$m.$size] - l)) instructions   (bearer-guard's own share; axum's two route layers cost $((l - p)))"
    done
  fi
  [ -n "${PER[cached_claims.$size]:-}" ] &&
    echo "  $size: cached_claims / plain = $(ratio "${PER[cached_claims.$size]}" "$p")   (target <= 1.3 for entra, Claims<T>)"
done
# DPoP (issue 15): each proof algorithm against its own bare verify.
for size in $SIZES; do
  bc=${PER[bearer_cached.$size]:-}
  bk=${PER[bearer_cold.$size]:-}
  for alg in "" _eddsa; do
    v=${PER[raw_verify_proof$alg.$size]:-}
    dc=${PER[dpop_cached$alg.$size]:-}
    dk=${PER[dpop_cold$alg.$size]:-}
    [ -n "$v" ] || continue
    if [ -n "$dc" ]; then
      echo "  $size: dpop_cached$alg / raw_verify_proof$alg = $(ratio "$dc" "$v")   (target <= 1.15)"
      [ -n "$bc" ] && {
        echo "  $size: dpop_cached$alg / bearer_cached = $(ratio "$dc" "$bc")"
        echo "  $size: dpop_cached$alg - bearer_cached - raw_verify_proof$alg = $((dc - bc - v)) instructions   (what DPoP adds beyond the proof's signature)"
      }
    fi
    [ -n "$dk" ] && [ -n "$bk" ] && {
      echo "  $size: dpop_cold$alg / (bearer_cold + raw_verify_proof$alg) = $(ratio "$dk" $((bk + v)))   (target <= 1.10)"
      echo "  $size: dpop_cold$alg - bearer_cold - raw_verify_proof$alg = $((dk - bk - v)) instructions"
    }
  done
done
# Introspection (issue 16): a cached answer next to a cached JWT.
for size in $SIZES; do
  j=${PER[jwt_cached.$size]:-}
  i=${PER[introspected_cached.$size]:-}
  [ -n "$j" ] && [ -n "$i" ] || continue
  echo "  $size: introspected_cached / jwt_cached = $(ratio "$i" "$j")   (an answer cache hit against a verified-token cache hit)"
  echo "  $size: introspected_cached - jwt_cached = $((i - j)) instructions"
  p=${PER[plain.$size]:-}
  [ -n "$p" ] && echo "  $size: jwt_cached / plain = $(ratio "$j" "$p"), introspected_cached / plain = $(ratio "$i" "$p")"
done

# top FILE REQUESTS yes|no: cost per request of each function, inclusive or
# exclusive, leaving out the frames above the measured section (all 100%).
top() {
  callgrind_annotate --inclusive="$3" "$1" 2>/dev/null |
    awk -v n="$2" '
      /^-+$/ { dash++; next }
      dash >= 5 && /^ *[0-9,]+ \(/ {
        ir = $1; gsub(",", "", ir)
        fn = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", fn); sub(/ \[[^]]*\]$/, "", fn); sub(/^[^:]*:/, "", fn)
        if (fn ~ /libc_start|below main|^0x|^main$|lang_start|begin_short_backtrace|::main$|callgrind_measured_section|block_on|enter_runtime|Scoped<T>::set|Context::enter|^instructions::/) next
        printf "%10d  %s\n", ir / n, fn
      }'
}

# delta FILE_N FILE_2N N: the inclusive cost per request of every function,
# (Ir(2N) - Ir(N)) / N as for the totals, so that a fixed cost in the section
# (a lazy initialisation, a cache's housekeeping that valgrind's slow clock
# makes fire at its start) is not spread over the requests; all functions
# (--threshold=100), largest first.
delta() {
  raw() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
      awk '
        /^-+$/ { dash++; next }
        dash >= 5 && /^ *[0-9,]+ \(/ {
          ir = $1; gsub(",", "", ir)
          fn = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", fn); sub(/ \[[^]]*\]$/, "", fn); sub(/^[^:]*:/, "", fn)
          if (fn ~ /libc_start|below main|^0x|^main$|lang_start|begin_short_backtrace|::main$|callgrind_measured_section|block_on|enter_runtime|Scoped<T>::set|Context::enter|^instructions::/) next
          sum[fn] += ir
        }
        END { for (f in sum) printf "%s\t%s\n", sum[f], f }'
  }
  awk -F '\t' -v n="$3" 'NR == FNR { a[$2] = $1; next } { d = ($1 - a[$2]) / n; if (d >= 1) printf "%10d  %s\n", d, $2 }' \
    <(raw "$1") <(raw "$2") | sort -rn
}

echo
for size in $SIZES; do
  for mode in cold cold_first_sight cached cold_claims cached_claims \
    bearer_cached dpop_cached bearer_cold dpop_cold dpop_cached_eddsa dpop_cold_eddsa \
    jwt_cached introspected_cached; do
    n=$N
    [ "$mode" = cold_first_sight ] && n=$N_FIRST
    f="$OUT/cg.$mode.$size.$((2 * n))"
    [ -f "$f" ] || continue
    top "$f" $((2 * n)) yes >"$OUT/top.$mode.$size.txt"
    top "$f" $((2 * n)) no >"$OUT/self.$mode.$size.txt"
    delta "$OUT/cg.$mode.$size.$n" "$f" "$n" >"$OUT/delta.$mode.$size.txt"
    echo "top $TOP inclusive functions, $mode ($size tokens), instructions per request"
    echo "(in full: $OUT/top.$mode.$size.txt; exclusive costs: $OUT/self.$mode.$size.txt;"
    echo " inclusive, (Ir(2N) - Ir(N)) / N: $OUT/delta.$mode.$size.txt):"
    head -n "$TOP" "$OUT/top.$mode.$size.txt"
    echo
  done
done
