#!/usr/bin/env bash
# The load tactics of BENCHMARKS.md, measured one at a time: `odoo-migrate run` on the same scaled
# source (made by bench/run.sh) into fresh copies of the Odoo 19 dump, with the default options and
# then with one option changed, each timed from process start to exit.
#
#   bench/tactics.sh [FACTOR]            default: 100
#
# Settings as for bench/run.sh (PGHOST, PGPORT, PGUSER, JOBS); REPEAT (default 2): runs per option,
# the fastest counts. One untimed run first brings the source into the server's cache. The source
# of FACTOR (named by source_db, common.sh) must exist.
. "$(dirname "$0")/common.sh"
FACTOR="${1:-100}"
src="$(source_db "$FACTOR")"
db="omb_tgt_${FACTOR}_tactic"
exists "$src" || { say "no $src: run bench/run.sh $FACTOR first"; exit 2; }
build_release

REPEAT="${REPEAT:-2}"
default_s=
echo "| ×$FACTOR: options | wall s | peak RSS MiB | vs default |"
echo "|---|---:|---:|---:|"
once() { # options → "rss_kb wall" of one run on a fresh target
    fresh_target "$db"
    local jobs=(--jobs "$JOBS")
    [[ "$1" == *--jobs* ]] && jobs=()
    # shellcheck disable=SC2086
    timed_run "$src" "$db" "${jobs[@]}" $1
    cat "$WORK/time"
}
once "" > /dev/null
while IFS= read -r options; do
    best=
    for _ in $(seq "$REPEAT"); do
        read -r r w < <(once "$options")
        if [ -z "$best" ] || awk -v a="$w" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$w rss_kb=$r
        fi
    done
    wall=$best
    default_s="${default_s:-$wall}"
    awk -v o="${options:-(defaults)}" -v w="$wall" -v r="$rss_kb" -v d="$default_s" \
        'BEGIN { printf "| `%s` | %.2f | %.0f | %.2f |\n", o, w, r / 1024, w / d }'
done <<OPTIONS

--foreign-keys set-aside
--rebuild-indexes-from 0
--chunk-size 10000
--chunk-size 200000
--jobs 2
--jobs 8
OPTIONS
q -d postgres -c "DROP DATABASE IF EXISTS $db"
