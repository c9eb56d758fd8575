#!/usr/bin/env bash
# A/B of two commands on a noisy machine: runs them alternately N times (A B A B ...), takes one
# number from each run's output, and prints every pair, the ratio B/A per pair, and the median
# and range of those ratios. A shared VM's memory bandwidth drifts by +-20 % within minutes
# (bench/README.md); alternating and taking the median of per-pair ratios cancels the drift that
# two separate runs would read as a speed-up or a slow-down.
#
#   bench/ab.sh 'CMD_A' 'CMD_B'
#
# Environment: AB_N (pairs; 6), AB_PATTERN (an extended regex whose first parenthesized group is
# the number; default 'GEMV ([0-9.]+)', matmul_bench --decode's GB/s; for g4run decode tok/s:
# '^decode: .* = ([0-9.]+) tok/s'). Higher is taken as better only in the wording of the
# summary. Exits 1 when a run fails or prints no match.
#
# Example (two builds of matmul_bench, the decode sweep at Q4_0):
#   AB_N=8 bench/ab.sh '/tmp/mb_base --decode=q4_0 --packed' 'build/bin/matmul_bench --decode=q4_0 --packed'
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
N=${AB_N:-6}
PATTERN=${AB_PATTERN:-'GEMV ([0-9.]+)'}

measure() {  # $1: command; prints the number
  local out
  out=$(bash -c "$1" 2>&1) || { echo "ab.sh: failed: $1" >&2; echo "$out" | tail -5 >&2; return 1; }
  local v
  local d=$'\001' lead='.*'  # a delimiter no pattern holds (tok/s has a slash)
  [ "${PATTERN:0:1}" = "^" ] && lead=''
  v=$(echo "$out" | sed -nE "s${d}${lead}${PATTERN}.*${d}\\1${d}p" | tail -1)
  [ -n "$v" ] || { echo "ab.sh: no match for /$PATTERN/ in the output of: $1" >&2; return 1; }
  echo "$v"
}

echo "A: $1"
echo "B: $2"
echo "pairs: $N; pattern: /$PATTERN/; load $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=()
as=()
bs=()
for i in $(seq 1 "$N"); do
  a=$(measure "$1")
  b=$(measure "$2")
  r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
  echo "pair $i: A $a  B $b  B/A $r"
  ratios+=("$r")
  as+=("$a")
  bs+=("$b")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
lo=$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)
hi=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)
echo "median A $(median "${as[@]}"), median B $(median "${bs[@]}")"
echo "B/A: median $(median "${ratios[@]}"), range $lo .. $hi over $N pairs"
