#!/usr/bin/env bash
# The catch-up benchmark of BENCHMARKS.md: at each scale factor,
#   1. `odoo-migrate run --prepare-catch-up` from the scaled Odoo 16 demo into a fresh copy of the
#      Odoo 19 dump (timed; it keeps the source rows' hashes, one more read of the source);
#   2. a copy of that source changed by bench/catch_up_change.sql (about 1 % of its records
#      updated, some inserted, some deleted; untimed);
#   3. `odoo-migrate run --catch-up` from the changed copy into the migrated target (timed);
# and prints one Markdown row per factor: rows, rows changed, both wall times and their ratio,
# then the phases of the catch-up from its JSON log (on stderr).
#
#   bench/catch_up.sh [FACTOR …]       default: 100
#
# CATCH_UP_OPTIONS: more options of the timed catch-up, e.g. "--catch-up-compare write-date
# --write-date-margin 0" (the demo's rows were all written within two minutes when it was made:
# any margin of minutes takes them all in).
# Settings as bench/run.sh (common.sh): PGHOST, PGPORT, PGUSER, ODOO_MIGRATE_DUMPS, JOBS,
# BENCH_SOURCE_NAME, BENCH_TARGET_TEMPLATE, BENCH_KEEP=1 to keep the databases. The scaled sources
# are those of bench/run.sh (kept between runs); the changed copy and the target are dropped.
. "$(dirname "$0")/common.sh"
DUMPS="${ODOO_MIGRATE_DUMPS:-../shared/odoo-dumps}"
FACTORS=("$@")
[ ${#FACTORS[@]} -gt 0 ] || FACTORS=(100)

[ -f "$DUMPS/odoo16_demo.dump" ] && [ -f "$DUMPS/odoo19_empty.dump" ] \
    || { say "no dumps in $DUMPS (set ODOO_MIGRATE_DUMPS)"; exit 2; }
build_release

restore() { # database dump
    if ! exists "$1"; then
        say "restoring $2 into $1"
        q -d postgres -c "CREATE DATABASE $1"
        pg_restore --no-owner --no-privileges -j "$JOBS" -d "$1" "$DUMPS/$2"
        q -d "$1" -c "ANALYZE"
    fi
}
restore "$(source_db 1)" odoo16_demo.dump
restore "$TARGET_TEMPLATE" odoo19_empty.dump

scaled() { # factor → the scaled source, made once and kept (as bench/run.sh does)
    local db; db=$(source_db "$1")
    if [ "$1" = 1 ]; then echo "$db"; return; fi
    if ! exists "$db" || [ "$(q -d "$db" -c "SELECT factor FROM odoo_migrate_bench.scaled" 2>/dev/null)" != "$1" ]; then
        q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE $(source_db 1)"
        say "scaling the demo by $1"
        q -d "$db" -v factor="$1" -f bench/scale.sql > /dev/null
    fi
    echo "$db"
}

echo "| factor | source rows | rows changed | run --prepare-catch-up s | catch-up s | catch-up / full run |"
echo "|---:|---:|---:|---:|---:|---:|"
for factor in "${FACTORS[@]}"; do
    src=$(scaled "$factor")
    target="${TARGET_TEMPLATE}_${factor}_catch_up"
    changed="${src}_changed"
    fresh_target "$target"
    say "×$factor: odoo-migrate run --prepare-catch-up (load $(cut -d' ' -f1-3 /proc/loadavg))"
    timed_run "$src" "$target" --jobs "$JOBS" --prepare-catch-up
    read -r _ full_s < "$WORK/time"
    say "  $full_s s (load after: $(cut -d' ' -f1-3 /proc/loadavg))"

    q -d postgres -c "DROP DATABASE IF EXISTS $changed" -c "CREATE DATABASE $changed TEMPLATE $src"
    q -d "$changed" -f bench/catch_up_change.sql > "$WORK/changes"
    rows_changed=$(awk -F'|' '{ s += $2 } END { print s }' "$WORK/changes")
    rows=$(q -d "$src" -c "SELECT sum(n_live_tup)::bigint FROM pg_stat_user_tables WHERE schemaname = 'public'")
    say "  changed in the source: $(tr '\n' ' ' < "$WORK/changes")"

    say "×$factor: odoo-migrate run --catch-up ${CATCH_UP_OPTIONS:-} (load $(cut -d' ' -f1-3 /proc/loadavg))"
    # shellcheck disable=SC2086 # several options in one variable
    timed_run "$changed" "$target" --jobs "$JOBS" --catch-up ${CATCH_UP_OPTIONS:-}
    read -r _ catch_up_s < "$WORK/time"
    say "  $catch_up_s s (load after: $(cut -d' ' -f1-3 /proc/loadavg)): $(cat "$WORK/run.out")"
    phases "$catch_up_s" > "$WORK/phases"

    awk -v f="$factor" -v rows="$rows" -v changed="$rows_changed" -v full="$full_s" -v c="$catch_up_s" 'BEGIN {
        printf "| ×%s | %d | %d (%.2f %%) | %.2f | %.2f | %.0f %% |\n", f, rows, changed, 100 * changed / rows, full, c, 100 * c / full
    }'
    { echo; echo "×$factor, the catch-up's phases (JSON log, $catch_up_s s):"; echo; cat "$WORK/phases"; echo; } >&2
    [ "${BENCH_KEEP:-0}" = 1 ] || q -d postgres -c "DROP DATABASE $target" -c "DROP DATABASE $changed"
done
