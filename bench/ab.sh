#!/usr/bin/env bash
# Interleaved A/B of two builds of the tool on the same scaled source: each round runs A then B
# (then A2 … when given), each into a fresh copy of the Odoo 19 dump, and prints one line per run
# (wall seconds, seconds of the table copy from the JSON log, peak RSS, the load average
# before it) and the best of each at the end. The
# machine may be shared: interleaving spreads the others' load over both.
#
#   BIN_A=/path/old BIN_B=target/release/odoo-migrate bench/ab.sh FACTOR [ROUNDS]
#
# ARGS_A, ARGS_B: more options of `run` for each (e.g. ARGS_B="--slice-from 0"). The source is
# $(source_db FACTOR) (made by bench/run.sh, or BENCH_SOURCE_NAME), the targets are copies of
# $TARGET_TEMPLATE named ${TARGET_TEMPLATE}_ab, dropped at the end.
. "$(dirname "$0")/common.sh"
FACTOR="${1:?usage: bench/ab.sh FACTOR [ROUNDS]}"
ROUNDS="${2:-2}"
SRC=$(source_db "$FACTOR")
exists "$SRC" || { say "no source $SRC: make it with bench/run.sh $FACTOR"; exit 2; }
TGT="${TARGET_TEMPLATE}_ab"
declare -A best
echo "| round | build | wall s | copy s | peak RSS MiB | load before |"
echo "|---:|---|---:|---:|---:|---:|"
for round in $(seq "$ROUNDS"); do
    for side in A B; do
        bin_var="BIN_$side" args_var="ARGS_$side"
        BIN="${!bin_var:?set BIN_$side}"
        fresh_target "$TGT"
        load=$(cut -d' ' -f1 /proc/loadavg)
        # shellcheck disable=SC2086
        timed_run "$SRC" "$TGT" --jobs "$JOBS" ${!args_var:-}
        read -r rss wall < "$WORK/time"
        # The copy of the tables: from the log line "copying" to "every table copied".
        copy=$(jq -r 'select(.level == "INFO") | [.timestamp, (.message // .fields.message)] | @tsv' "$WORK/run.log" \
            | python3 -c '
import sys, datetime
at = {}
for line in sys.stdin:
    t, m = line.rstrip("\n").split("\t", 1)
    at.setdefault(m, datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
a, b = at.get("copying"), at.get("every table copied")
print(f"{b - a:.1f}" if a and b else "?")')
        printf '| %s | %s | %s | %s | %s | %s |\n' "$round" "$side" "$wall" "$copy" "$((rss / 1024))" "$load"
        if [ -z "${best[$side]:-}" ] || awk -v a="$wall" -v b="${best[$side]}" 'BEGIN { exit !(a < b) }'; then
            best[$side]=$wall
        fi
    done
done
q -d postgres -c "DROP DATABASE IF EXISTS $TGT"
say "best: A ${best[A]} s, B ${best[B]} s"
