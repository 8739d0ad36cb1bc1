#!/usr/bin/env bash
# Exactly-once under kill -9 at random moments, on a scaled source (not in CI: slow):
#   1. one uninterrupted `odoo-migrate run` into a fresh target: the reference;
#   2. TRIALS times: a run into a fresh target killed with SIGKILL after a random delay within the
#      reference's duration, then resumed (and killed again as long as the delay falls inside the
#      resumed run, at most KILLS times), then run to its end;
#   3. each trial's target compared with the reference, table by table (an MD5 of every row of
#      every public table) and mapping by mapping (odoo_migrate.id_map).
# Prints one line per trial and exits 1 if any differs.
#
#   bench/kill_trials.sh [FACTOR]          default 1000; the scaled source must exist (bench/run.sh)
#
# Settings (environment) as for bench/run.sh, and TRIALS (default 20), KILLS (default 1),
# CHUNK (the runs' --chunk-size, default the tool's).
. "$(dirname "$0")/common.sh"
FACTOR="${1:-1000}"
TRIALS="${TRIALS:-20}"
KILLS="${KILLS:-1}"
src="$(source_db "$FACTOR")"
exists "$src" || { say "no $src: run bench/run.sh $FACTOR first"; exit 2; }
build_release
options=(--jobs "$JOBS")
[ -n "${CHUNK:-}" ] && options+=(--chunk-size "$CHUNK")

# digest DB: "table md5" lines for every public table, then the mappings.
digest() {
    local table
    for table in $(q -d "$1" -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"); do
        printf '%s %s\n' "$table" "$(q -d "$1" -c "SELECT md5(coalesce(string_agg(h, '' ORDER BY h), '')) \
            FROM (SELECT md5(x::text) AS h FROM public.\"$table\" x) q")"
    done
    printf 'odoo_migrate.id_map %s\n' "$(q -d "$1" -c "SELECT md5(string_agg(model || ':' || source_id || ':' || target_id || ':' || how, ',' \
        ORDER BY model, source_id)) FROM odoo_migrate.id_map")"
}
run_to_end() { # TARGET_DB
    "$BIN" --source "$(url "$src")" --target "$(url "$1")" --quiet run "${options[@]}" > "$WORK/run.out" 2> "$WORK/run.err" \
        || { say "the run into $1 failed:"; cat "$WORK/run.err" >&2; return 1; }
}

reference="${TARGET_TEMPLATE}_${FACTOR}_killref"
fresh_target "$reference"
start=$(date +%s.%N)
run_to_end "$reference"
duration=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
digest "$reference" > "$WORK/reference"
say "reference run: $duration s"

failed=0
for trial in $(seq "$TRIALS"); do
    db="${TARGET_TEMPLATE}_${FACTOR}_kill"
    fresh_target "$db"
    kills=0
    while [ "$kills" -lt "$KILLS" ]; do
        delay=$(awk -v d="$duration" -v r="$RANDOM" 'BEGIN { printf "%.2f", d * r / 32768 }')
        "$BIN" --source "$(url "$src")" --target "$(url "$db")" --quiet run "${options[@]}" > /dev/null 2>&1 &
        pid=$!
        sleep "$delay"
        if kill -0 "$pid" 2> /dev/null; then
            kill -9 "$pid"
            kills=$((kills + 1))
        fi
        wait "$pid" 2> /dev/null || true
        [ "$kills" -lt "$KILLS" ] && [ "$(q -d "$db" -c "SELECT status FROM odoo_migrate.runs WHERE command = 'run' ORDER BY id DESC LIMIT 1" 2> /dev/null)" = finished ] && break
    done
    run_to_end "$db" || { failed=1; continue; }
    digest "$db" > "$WORK/trial"
    if diff -q "$WORK/reference" "$WORK/trial" > /dev/null; then
        echo "trial $trial: killed after $delay s ($kills kill(s)), resumed: equal"
    else
        failed=1
        echo "trial $trial: killed after $delay s ($kills kill(s)), resumed: DIFFERS in $(diff "$WORK/reference" "$WORK/trial" | grep '^>' | cut -d' ' -f2 | paste -sd' ')"
    fi
    [ "${BENCH_KEEP:-0}" = 1 ] || q -d postgres -c "DROP DATABASE $db"
done
[ "${BENCH_KEEP:-0}" = 1 ] || q -d postgres -c "DROP DATABASE $reference"
exit "$failed"
