#!/usr/bin/env bash
# Init script for the postgres image (mounted into /docker-entrypoint-initdb.d), run once, on the
# first start of an empty data directory: restores the pg_dump -Fc file named by RESTORE_DUMP into
# POSTGRES_DB, owned by POSTGRES_USER. RESTORE_JOBS (default 4) parallel jobs. Once the dump is
# in, it leaves the file RESTORE_MARKER (default odoo-migrate-restored) in PGDATA, which
# start-postgres.sh requires before it serves an existing data directory.
#
# The entrypoint runs it when it is executable and sources it otherwise, so it neither calls `exit`
# nor changes shell options; it fails (and so stops the first start) when the dump is missing or
# does not restore cleanly.

restore_dump() {
    local dump="${RESTORE_DUMP:-}"
    if [ -z "$dump" ] || [ ! -f "$dump" ]; then
        echo "restore-dump: no dump file at '$dump': put it in ./dumps/ (see dumps/README.md)," \
            "then run 'docker compose down -v' and start again" >&2
        return 1
    fi
    # pg_restore reads archives of its own major version and older ones only.
    if ! pg_restore --list "$dump" >/dev/null; then
        echo "restore-dump: $(pg_restore --version) cannot read '$dump'; if the dump comes from a" \
            "newer pg_dump (pg_restore --list on the host prints 'Dumped by pg_dump version')," \
            "set ODOO_MIGRATE_PG_IMAGE to a postgres image of at least that major version," \
            "then run 'docker compose down -v' and start again" >&2
        return 1
    fi
    echo "restore-dump: restoring $dump into database $POSTGRES_DB"
    pg_restore --no-owner --no-acl --exit-on-error --jobs "${RESTORE_JOBS:-4}" \
        -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$dump" || return 1
    touch "${PGDATA:-/nonexistent}/${RESTORE_MARKER:-odoo-migrate-restored}" || return 1
    echo "restore-dump: done"
}

restore_dump
