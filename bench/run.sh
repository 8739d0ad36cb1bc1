#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md: at each scale factor, on the same databases,
#   1. `odoo-migrate run` from the scaled Odoo 16 demo into a fresh copy of the Odoo 19 dump;
#   2. the baseline: the same tables piped with plain `COPY … TO STDOUT | COPY … FROM STDIN`
#      (binary) into the same target tables of another fresh copy, without any transformation, by
#      examples/copy_pipe.rs: as many workers as the tool has jobs, each with one connection per
#      side kept for all its tables, forwarding the bytes unread;
#   3. the second baseline: `pgcopydb clone --table-jobs 2 --index-jobs 2` of the whole source
#      into an empty database (schema, data, indexes, constraints, sequences; no transformation);
# interleaved, in that order, ROUNDS times (best of each kept: the machine may be shared), and
# prints one Markdown row per factor: rows, MB, wall times, the tool's peak RSS and the ratio of
# each baseline's time to the tool's (100 % = as fast as the baseline), then the phases of the
# tool's fastest run from its JSON log.
#
#   bench/run.sh [FACTOR …]            default: 1 10 100       (10000 works: 4.5 GB, see below)
#
# Settings (environment): PGHOST, PGPORT, PGUSER (default 127.0.0.1, 5432, postgres; the role
# needs CREATEDB), ODOO_MIGRATE_DUMPS (default ../shared/odoo-dumps), JOBS (default 4),
# ROUNDS (default 1), BENCH_FRESH=1 to scale the sources again, BENCH_KEEP=1 to keep the target
# databases, BENCH_PGCOPYDB=0 to skip pgcopydb (Debian package `pgcopydb`), BENCH_STATEMENTS=1 to
# print the server time of the tool's statements (from the server's log; slows the run a little).
# Databases are named omb_* (BENCH_SOURCE_NAME and BENCH_TARGET_TEMPLATE rename the sources and
# the restored Odoo 19 dump, see common.sh); the scaled sources are kept between runs (×1000 takes
# a minute to scale, ×10 000 about fifteen): a source may be a template database.
#
# The baseline cannot write what the target tables do not accept as they are, so its copy of the
# target is prepared first, untimed: the written tables are emptied (the tool matches the rows they
# hold instead), all foreign keys are dropped (the tool switches their checks off and proves them
# afterwards, inside its time), NOT NULL and CHECK constraints are dropped from them, and
# only the columns with the same name and type on both sides are piped. Tables that the tool fills
# from rules (`[[relations]]`) have no baseline; their rows count for the tool only.
. "$(dirname "$0")/common.sh"
DUMPS="${ODOO_MIGRATE_DUMPS:-../shared/odoo-dumps}"
FACTORS=("$@")
[ ${#FACTORS[@]} -gt 0 ] || FACTORS=(1 10 100)

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

[ -f "$DUMPS/odoo16_demo.dump" ] && [ -f "$DUMPS/odoo19_empty.dump" ] \
    || { say "no dumps in $DUMPS (set ODOO_MIGRATE_DUMPS)"; exit 2; }
build_release copy_pipe
PIPE=target/release/examples/copy_pipe
ROUNDS="${ROUNDS:-1}"
PGCOPYDB="${BENCH_PGCOPYDB:-1}"
[ "$PGCOPYDB" = 0 ] || command -v pgcopydb > /dev/null \
    || { say "pgcopydb is needed for the second baseline (apt-get install pgcopydb), or BENCH_PGCOPYDB=0"; exit 2; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }

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

source_for() { # factor → database name, scaled once and kept
    local factor=$1 db; db=$(source_db "$1")
    [ "$factor" = 1 ] && { source_db 1; return; }
    if exists "$db" && [ "${BENCH_FRESH:-0}" != 1 ] \
        && [ "$(q -d "$db" -c "SELECT factor FROM odoo_migrate_bench.scaled" 2>/dev/null)" = "$factor" ]; then
        echo "$db"; return
    fi
    q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE $(source_db 1)"
    local start; start=$(now)
    say "scaling the demo by $factor"
    q -d "$db" -v factor="$factor" -f bench/scale.sql > /dev/null
    say "  scaled in $(since "$start") s"
    echo "$db"
}

echo "| factor | rows | MB | pipe s | pgcopydb s | tool s | tool rows/s | tool MB/s | tool peak RSS MiB | pipe s / tool s | pgcopydb s / tool s |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for factor in "${FACTORS[@]}"; do
    src=$(source_for "$factor")
    prefix="${TARGET_TEMPLATE}_${factor}"
    tool_db="${prefix}_tool"
    pipe_db="${prefix}_pipe"
    clone_db="${prefix}_clone"
    tool_s="" pipe_s="" clone_s="" rss_kb=""
    for round in $(seq "$ROUNDS"); do
    # 1. The tool, timed from process start to exit, with its peak resident memory.
    fresh_target "$tool_db"
    if [ "${BENCH_STATEMENTS:-0}" = 1 ]; then statements_on "$tool_db"; statements_on "$src"; from=$(log_offset); fi
    say "×$factor round $round: odoo-migrate run"
    timed_run "$src" "$tool_db" --jobs "$JOBS"
    if [ "${BENCH_STATEMENTS:-0}" = 1 ]; then
        q -d postgres -c "ALTER DATABASE $src RESET log_min_duration_statement"
        say "server time by statement (source and target):"
        statements_top "$from" >&2
    fi
    read -r round_rss round_s < "$WORK/time"
    say "  $round_s s, peak RSS $((round_rss / 1024)) MiB"
    if [ "$(min "$tool_s" "$round_s")" = "$round_s" ]; then
        tool_s=$round_s rss_kb=$round_rss
        phases "$round_s" > "$WORK/phases"
    fi

    # The tables the tool copied as they are (not the ones rules derive, nor the company-wide
    # ir_property rows that become ir_default rows after the copy), their columns shared with the
    # target, and the data the tool read: rows and on-disk size of every source table it copied.
    q -d "$tool_db" -c "COPY (SELECT DISTINCT source_table, target_table FROM odoo_migrate.model_state \
        WHERE source_table !~ ' → ' AND source_table <> 'ir_property' AND rows_total > 0) TO STDOUT" > "$WORK/pairs"
    tables=$(cut -f1 "$WORK/pairs" | sed "s/.*/'&'/" | paste -sd, -)
    read -r rows bytes < <(q -F ' ' -d "$src" -c "SELECT sum(c.reltuples)::bigint, sum(pg_table_size(c.oid)) \
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
        WHERE c.relkind = 'r' AND c.relname IN ($tables)")

    # 2. The baseline on its own fresh copy, prepared untimed (see the header).
    fresh_target "$pipe_db"
    q -d "$src" -c "COPY (SELECT table_name, column_name, data_type, udt_name FROM information_schema.columns \
        WHERE table_schema = 'public') TO STDOUT" > "$WORK/source_columns"
    q -d "$pipe_db" <<SQL
CREATE SCHEMA odoo_migrate_bench;
CREATE TABLE odoo_migrate_bench.pairs (source_table text, target_table text);
CREATE TABLE odoo_migrate_bench.source_columns (table_name text, column_name text, data_type text, udt_name text);
\copy odoo_migrate_bench.pairs FROM '$WORK/pairs'
\copy odoo_migrate_bench.source_columns FROM '$WORK/source_columns'
CREATE TABLE odoo_migrate_bench.shared AS
SELECT p.source_table, p.target_table, t.column_name, t.ordinal_position
FROM odoo_migrate_bench.pairs p
JOIN information_schema.columns t ON t.table_schema = 'public' AND t.table_name = p.target_table
JOIN odoo_migrate_bench.source_columns s ON s.table_name = p.source_table AND s.column_name = t.column_name
    AND s.data_type = t.data_type AND s.udt_name = t.udt_name;
-- A table whose primary key the source does not have under the same name has no plain copy.
DELETE FROM odoo_migrate_bench.shared s WHERE EXISTS (
    SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indisprimary AND i.indrelid = format('public.%I', s.target_table)::regclass
      AND NOT EXISTS (SELECT 1 FROM odoo_migrate_bench.shared k
                      WHERE k.target_table = s.target_table AND k.source_table = s.source_table
                        AND k.column_name = a.attname));
DELETE FROM odoo_migrate_bench.pairs p
WHERE NOT EXISTS (SELECT 1 FROM odoo_migrate_bench.shared s WHERE s.source_table = p.source_table);
DO \$\$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.conrelid::regclass AS rel, c.conname FROM pg_constraint c
             JOIN pg_namespace n ON n.oid = c.connamespace AND n.nspname = 'public' WHERE c.contype = 'f' LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.rel, r.conname);
        COMMIT; -- one lock at a time: a thousand keys overflow the lock table
    END LOOP;
    FOR r IN SELECT DISTINCT target_table FROM odoo_migrate_bench.pairs LOOP
        EXECUTE format('TRUNCATE public.%I', r.target_table);
        COMMIT;
    END LOOP;
    -- The source's values as they are: NULLs where 19 requires a value, values its checks refuse.
    FOR r IN SELECT DISTINCT p.target_table, a.attname FROM odoo_migrate_bench.pairs p
             JOIN pg_attribute a ON a.attrelid = format('public.%I', p.target_table)::regclass
             WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
               AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
                               AND a.attnum = ANY(i.indkey)) LOOP
        EXECUTE format('ALTER TABLE public.%I ALTER COLUMN %I DROP NOT NULL', r.target_table, r.attname);
        COMMIT;
    END LOOP;
    FOR r IN SELECT DISTINCT c.conrelid::regclass AS rel, c.conname FROM pg_constraint c
             JOIN odoo_migrate_bench.pairs p ON c.conrelid = format('public.%I', p.target_table)::regclass
             WHERE c.contype = 'c' LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.rel, r.conname);
        COMMIT;
    END LOOP;
END
\$\$;
SQL
    q -d "$pipe_db" -F $'\t' -c "SELECT source_table, target_table, string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) \
        FROM odoo_migrate_bench.shared GROUP BY 1, 2 ORDER BY 1" > "$WORK/pipes"
    say "×$factor: baseline COPY pipe over $(wc -l < "$WORK/pipes") tables"
    start=$(now)
    "$PIPE" "$(url "$src")" "$(url "$pipe_db")" "$JOBS" < "$WORK/pipes" 2> "$WORK/pipe.err" \
        || { say "the baseline pipe failed:"; cat "$WORK/pipe.err" >&2; exit 1; }
    round_s=$(since "$start")
    say "  pipe $round_s s"
    pipe_s=$(min "$pipe_s" "$round_s")

    # 3. pgcopydb clone of the whole source into an empty database.
    if [ "$PGCOPYDB" != 0 ]; then
        q -d postgres -c "DROP DATABASE IF EXISTS $clone_db" -c "CREATE DATABASE $clone_db TEMPLATE template0"
        rm -rf "$WORK/pgcopydb"
        say "×$factor round $round: pgcopydb clone"
        start=$(now)
        pgcopydb clone --source "$(url "$src")" --target "$(url "$clone_db")" --table-jobs 2 --index-jobs 2 \
            --no-owner --no-acl --dir "$WORK/pgcopydb" > "$WORK/pgcopydb.log" 2>&1 \
            || { say "pgcopydb clone failed:"; tail -20 "$WORK/pgcopydb.log" >&2; exit 1; }
        round_s=$(since "$start")
        say "  pgcopydb $round_s s"
        clone_s=$(min "$clone_s" "$round_s")
        [ "${BENCH_KEEP:-0}" = 1 ] || q -d postgres -c "DROP DATABASE $clone_db"
    fi
    [ "${BENCH_KEEP:-0}" = 1 ] || q -d postgres -c "DROP DATABASE $tool_db" -c "DROP DATABASE $pipe_db"
    done

    awk -v f="$factor" -v rows="$rows" -v bytes="$bytes" -v b="$pipe_s" -v c="${clone_s:-0}" -v t="$tool_s" -v rss="$rss_kb" 'BEGIN {
        mb = bytes / 1048576
        printf "| ×%s | %d | %.1f | %.2f | %s | %.2f | %.0f | %.1f | %.0f | %.0f%% | %s |\n",
            f, rows, mb, b, (c > 0 ? sprintf("%.2f", c) : "–"), t, rows / t, mb / t, rss / 1024, 100 * b / t,
            (c > 0 ? sprintf("%.0f%%", 100 * c / t) : "–")
    }'
    { echo; echo "×$factor, the tool's phases (JSON log of its fastest run, $tool_s s):"; echo; cat "$WORK/phases"; echo; } >&2
done
