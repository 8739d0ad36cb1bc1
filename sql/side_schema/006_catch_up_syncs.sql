-- Side schema version 6: catch-up runs (`run --catch-up`). A catch-up is a migration run (command
-- `run`) that brings a target holding a finished migration of an older snapshot of the source to a
-- newer snapshot; these tables say what it found and did, so that `rollback` undoes it alone.

-- One row per catch-up: the snapshot it synced from, the sync before it, and its counts.
CREATE TABLE IF NOT EXISTS odoo_migrate.syncs (
    run_id            bigint      PRIMARY KEY REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    -- The migration run this one caught up on (the previous sync).
    previous_run      bigint      REFERENCES odoo_migrate.runs (id) ON DELETE SET NULL,
    -- When the previous sync ended: a target record written after it was changed in the target.
    since             timestamptz NOT NULL,
    on_conflict       text        NOT NULL CHECK (on_conflict IN ('source', 'target', 'fail')),
    -- The snapshot's identity: a digest of each source model table's rows, largest id and last
    -- write, as the plan saw them, and the latest write_date of them all.
    snapshot          text,
    source_last_write timestamp,
    source_database   text        NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    created           bigint      NOT NULL DEFAULT 0,
    updated           bigint      NOT NULL DEFAULT 0,
    deleted           bigint      NOT NULL DEFAULT 0,
    still_referenced  bigint      NOT NULL DEFAULT 0,
    conflicts         bigint      NOT NULL DEFAULT 0
);

-- The records earlier runs mapped that the newer snapshot no longer has, decided with the
-- catch-up's plan: `pending` until the deletion step, then `deleted` (a created record, with its
-- row and external ids in removed_rows), `unmapped` (a matched record: the target's own record
-- stays, its mapping goes) or `referenced` (still referenced in the target: kept and reported).
CREATE TABLE IF NOT EXISTS odoo_migrate.catch_up_deletions (
    run_id        bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    model         text    NOT NULL,
    source_id     integer NOT NULL,
    target_id     integer NOT NULL,
    how           text    NOT NULL,
    -- The run whose plan mapped the record, to give its mapping back on rollback.
    mapped_by     bigint  NOT NULL,
    table_name    text    NOT NULL,
    status        text    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'deleted', 'unmapped', 'referenced')),
    PRIMARY KEY (run_id, model, source_id)
);

-- Rows a catch-up deleted in the target (records, their external ids, many2many pairs), whole,
-- so that `rollback` puts them back.
CREATE TABLE IF NOT EXISTS odoo_migrate.removed_rows (
    run_id      bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    table_name  text    NOT NULL,
    image       jsonb   NOT NULL
);
CREATE INDEX IF NOT EXISTS removed_rows_run ON odoo_migrate.removed_rows (run_id, table_name);
