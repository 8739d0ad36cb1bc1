# Shared by the benchmark scripts (sourced, not run, as `. "$(dirname "$0")/common.sh"`): strict
# mode, the repository as working directory, the server to use, a scratch directory removed on
# exit, and helpers around psql, the build and timed runs of the tool.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
JOBS="${JOBS:-4}"
BIN="${BENCH_BIN:-target/release/odoo-migrate}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*" >&2; }
q() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
# A URL with the host and the port always named: the tool does not fill a missing port from PGPORT.
url() { printf 'postgres://%s@%s:%s/%s' "$PGUSER" "$PGHOST" "$PGPORT" "$1"; }
exists() { [ "$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]; }
# Database names: the scaled sources (BENCH_SOURCE_NAME, a printf pattern of the factor; default
# omb_src_%s) and the restored Odoo 19 dump every target is copied from (BENCH_TARGET_TEMPLATE).
source_db() { printf "${BENCH_SOURCE_NAME:-omb_src_%s}" "$1"; }
TARGET_TEMPLATE="${BENCH_TARGET_TEMPLATE:-omb_tgt}"
# A fresh copy of the Odoo 19 dump (database $TARGET_TEMPLATE, restored by bench/run.sh) named $1.
fresh_target() { q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 TEMPLATE $TARGET_TEMPLATE"; }
# timed_run SOURCE_DB TARGET_DB OPTION…: `odoo-migrate run` between them, quiet, its output in
# $WORK/run.out and $WORK/run.err, its JSON log in $WORK/run.log; "peak_rss_kb wall_seconds" in
# $WORK/time. Exits on failure.
timed_run() {
    local source=$1 target=$2
    shift 2
    rm -f "$WORK/run.log"
    date +%s.%N > "$WORK/started"
    # --quiet keeps the terminal quiet; the log file still gets the INFO lines of the phases.
    ODOO_MIGRATE_LOG=odoo_migrate=info /usr/bin/time -f '%M %e' -o "$WORK/time" "$BIN" --source "$(url "$source")" --target "$(url "$target")" \
        --quiet --log-format json --log-file "$WORK/run.log" run "$@" > "$WORK/run.out" 2> "$WORK/run.err" \
        || { say "odoo-migrate run $* failed:"; cat "$WORK/run.err" >&2; exit 1; }
}

# phases WALL_SECONDS: the INFO lines of the last timed run's JSON log as a Markdown table, each
# with the seconds since the line before it (the first since the process started) and since the
# start, and the gap from the last line to the exit.
phases() {
    jq -r 'select(.level == "INFO") | [.timestamp, (.message // .fields.message)] | @tsv' "$WORK/run.log" \
        | python3 -c '
import sys, datetime
rows = [l.rstrip("\n").split("\t", 1) for l in sys.stdin if l.strip()]
at = [datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t, _ in rows]
wall = float(sys.argv[1])
start = float(sys.argv[2])
print("| after | s | at s |\n|---|---:|---:|")
prev = start
for (t, message), x in zip(rows, at):
    print(f"| {message} | {x - prev:.2f} | {x - start:.2f} |")
    prev = x
print(f"| (exit) | {start + wall - prev:.2f} | {wall:.2f} |")
' "$1" "$(cat "$WORK/started")"
}

# Server time per statement of a run, for profiling (BENCH_STATEMENTS=1 in bench/run.sh):
# `statements_on DB` makes the server log the duration of every statement of DB's new sessions
# (the server's log must be readable: SERVER_LOG, default the Debian path);
# `statements_top FROM_BYTE` sums them from that offset of the log, by statement with its numbers
# blanked, and prints the 15 costliest as a Markdown table.
SERVER_LOG="${SERVER_LOG:-/var/log/postgresql/postgresql-15-main.log}"
statements_on() { q -d postgres -c "ALTER DATABASE $1 SET log_min_duration_statement = 0"; }
log_offset() { stat -c %s "$SERVER_LOG"; }
statements_top() {
    tail -c +"$(($1 + 1))" "$SERVER_LOG" | python3 -c '
import re, sys, collections
total, count, current = collections.Counter(), collections.Counter(), None
def done():
    if current:
        ms, text = current
        key = re.sub(r"\s+", " ", re.sub(r"\b\d+\b|\x27[^\x27]*\x27", "?", text)).strip()[:150]
        total[key] += ms; count[key] += 1
for line in sys.stdin:
    m = re.search(r"duration: ([0-9.]+) ms\s+(?:statement|execute [^:]*|parse [^:]*|bind [^:]*): (.*)", line)
    if m:
        done(); current = [float(m.group(1)), m.group(2)]
    elif line.startswith(("\t", " ")) and current:
        current[1] += " " + line.strip()
    else:
        done(); current = None
done()
print("| server s | calls | statement |\n|---:|---:|---|")
for key, ms in total.most_common(15):
    print(f"| {ms / 1000:.1f} | {count[key]} | `{key.replace(chr(124), chr(47))}` |")
'
}

command -v /usr/bin/time > /dev/null || { say "GNU time is needed for the peak RSS: apt-get install time"; exit 2; }
# build_release [EXAMPLE …]: the release binary, and the named examples.
build_release() {
    local args=(--bin odoo-migrate) example
    for example in "$@"; do args+=(--example "$example"); done
    say "building the release binary${1:+ and $*}"
    cargo build --release --quiet "${args[@]}"
}
