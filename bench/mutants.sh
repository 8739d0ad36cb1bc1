#!/usr/bin/env bash
# Mutation testing of the modules that guard data (issue 22), with cargo-mutants (crates.io:
# `cargo install cargo-mutants --locked`). Not in CI: every mutant is a rebuild and a real
# migration, 1–3 minutes each on 2 cores.
#
#   bench/mutants.sh [GROUP …]     default: every group below
#
# Each group mutates some files and runs only the tests that guard them (the unit tests of the
# binary, filtered, and the end-to-end tests named): a mutant a test should catch and does not is
# a "missed" mutant. Mutants that cannot be caught by a test, with the reason for each, are
# excluded in .cargo/mutants.toml. Results go to target/mutants/GROUP/mutants.out (caught.txt,
# missed.txt, timeout.txt, unviable.txt); a summary line per group is printed at the end.
#
# The tests need the test server (PGHOST/PGPORT, as for `cargo test`). Runs in place, in this
# checkout: the source tree is mutated one file at a time and put back (do not edit it meanwhile;
# an interrupted run leaves the file as cargo-mutants restores it on the next start).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants >/dev/null || { echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2; exit 1; }

# group | files (comma separated) | test targets (cargo test's --bins / --test NAME) | test-name filters
#       | unit-test filters (optional)
# The targets are given to every cargo invocation (--cargo-arg), so that a mutant's build makes
# only the test binaries its group runs, not all twenty. A group with unit-test filters runs in two
# tiers: first every mutant against the unit tests alone (`--bins`, seconds once built), then only
# the mutants those missed against the end-to-end tests (`--iterate` skips the caught ones).
#
# MUTANTS_SHARD=k/n tests only the k-th of n slices of each group's mutants (`--shard`), so that
# a long group can be spread over several sittings; MUTANTS_TIMEOUT (default 900 s) bounds a
# mutant's tests.
groups=(
  "sequences|src/copy/sequences.rs|--bins --test migration|sequences numbering run_moves rollback_gives"
  "update|src/pipeline/update.rs|--bins --test migration|update"
  "rollback|src/pipeline/rollback.rs|--bins --test migration --test constraints --test catch_up --test integrator|rollback rolls_back external_ids_and_company_defaults|rollback::"
  "rewrite|src/copy/rows/rewrite.rs|--bins|rewrite|"
  "remap|src/plan/ids/map.rs|--bins --test migration --test hostile --test rules --test catch_up|map:: run_moves dangling huge_ids custom_model every_rule_family a_catch_up|map::"
  "verify|src/verify/business.rs,src/verify/integrity.rs,src/verify/fields.rs,src/verify/deep.rs,src/verify/results.rs,src/verify/mod.rs|--bins --test verify --test migration|verify deep|verify::"
  # The end-to-end tier of the judge runs Odoo 19 (ODOO_MIGRATE_ODOO19): some 7 minutes a mutant.
  "judge|src/verify/judge.rs|--bins --test judge|judge|verify::"
)

wanted=("$@")
summary=()
shard=()
[ -n "${MUTANTS_SHARD:-}" ] && shard=(--shard "$MUTANTS_SHARD")
for group in "${groups[@]}"; do
  IFS='|' read -r name files targets filters unit_filters <<<"$group"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then continue; fi
  file_args=()
  IFS=',' read -ra list <<<"$files"
  for f in "${list[@]}"; do file_args+=(-f "$f"); done
  target_args=()
  for t in $targets; do target_args+=("--cargo-arg=$t"); done
  out="target/mutants/$name"
  mkdir -p "$out"
  # No `--baseline skip`: the unmutated tree runs the same tests first, so a test command that
  # fails by itself (a wrong filter, a missing server) stops the group instead of counting every
  # mutant as caught.
  common=(--in-place --no-shuffle --timeout "${MUTANTS_TIMEOUT:-900}" "${shard[@]}" "${file_args[@]}" -o "$out")
  iterate=()
  if [ -n "$unit_filters" ]; then
    echo "=== $name, unit tests: ${list[*]}"
    # shellcheck disable=SC2086 # unit_filters is a list of test-name filters
    cargo mutants "${common[@]}" --cargo-arg=--bins -- -- $unit_filters || true
    iterate=(--iterate)
  fi
  echo "=== $name: ${list[*]}"
  # The filters go to the test binaries (after the second `--`): `cargo test` itself takes one
  # test name, and refuses a second one, which failed every mutant's tests, so counted it caught.
  # shellcheck disable=SC2086 # filters is a list of test-name filters
  cargo mutants "${common[@]}" "${iterate[@]}" "${target_args[@]}" -- -- $filters || true
  count() { cat "$out/mutants.out/$1.txt" 2>/dev/null | wc -l; }
  # With --iterate, the mutants the unit tests caught are listed as previously caught.
  summary+=("$name: caught $(($(count caught) + $(count previously_caught))), missed $(count missed), timeout $(count timeout), unviable $(count unviable)")
done
printf '\n%s\n' "${summary[@]}"
