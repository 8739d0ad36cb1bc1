-- Side schema of odoo-migrate, version 1. Lives in the TARGET database; every statement is idempotent.

CREATE TABLE IF NOT EXISTS odoo_migrate.schema_version (
    version      integer     NOT NULL,
    tool_version text        NOT NULL,
    upgraded_at  timestamptz NOT NULL DEFAULT now()
);

-- Which source database this target is being filled from; one row at most.
CREATE TABLE IF NOT EXISTS odoo_migrate.source_identity (
    singleton       boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    database_uuid   text        NOT NULL,
    database_name   text        NOT NULL,
    base_version    text        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per `analyze`, `run`, `rehearse` or `verify`.
CREATE TABLE IF NOT EXISTS odoo_migrate.runs (
    id                 bigserial   PRIMARY KEY,
    command            text        NOT NULL,
    status             text        NOT NULL DEFAULT 'running'
                       CHECK (status IN ('running', 'finished', 'failed', 'paused', 'interrupted', 'rolled_back')),
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    last_checkpoint_at timestamptz,
    source_database    text        NOT NULL,
    target_database    text        NOT NULL,
    tool_version       text        NOT NULL,
    options            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    models_ok          integer     NOT NULL DEFAULT 0,
    models_failed      integer     NOT NULL DEFAULT 0,
    rows_created       bigint      NOT NULL DEFAULT 0,
    rows_matched       bigint      NOT NULL DEFAULT 0,
    rows_updated       bigint      NOT NULL DEFAULT 0,
    message            text
);

-- Per-model state of a migration run: the checkpoint a resumed run starts from.
CREATE TABLE IF NOT EXISTS odoo_migrate.model_state (
    run_id          bigint      NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    source_table    text        NOT NULL,
    target_table    text        NOT NULL,
    model           text,
    kind            text        NOT NULL DEFAULT 'model' CHECK (kind IN ('model', 'relation')),
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'copying', 'done', 'failed', 'skipped')),
    rows_total      bigint      NOT NULL DEFAULT 0,
    -- The source table's largest id when the plan was made, to notice a source that changes.
    source_max_id   bigint,
    rows_done       bigint      NOT NULL DEFAULT 0,
    rows_created    bigint      NOT NULL DEFAULT 0,
    rows_matched    bigint      NOT NULL DEFAULT 0,
    rows_updated    bigint      NOT NULL DEFAULT 0,
    rows_rejected   bigint      NOT NULL DEFAULT 0,
    last_source_id  bigint,
    started_at      timestamptz,
    finished_at     timestamptz,
    checkpoint_at   timestamptz,
    error           text,
    PRIMARY KEY (run_id, source_table)
);

-- The id every source record receives in the target, decided before any row moves, so that
-- references can be rewritten in any order and a resumed run decides nothing twice.
CREATE TABLE IF NOT EXISTS odoo_migrate.id_plan (
    model       text    NOT NULL,
    source_id   integer NOT NULL,
    target_id   integer NOT NULL,
    how         text    NOT NULL CHECK (how IN ('xmlid', 'natural_key', 'created')),
    run_id      bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    PRIMARY KEY (model, source_id)
);

-- The mappings of records actually migrated, written in the same transaction as their rows.
CREATE TABLE IF NOT EXISTS odoo_migrate.id_map (
    model       text    NOT NULL,
    source_id   integer NOT NULL,
    target_id   integer NOT NULL,
    how         text    NOT NULL CHECK (how IN ('xmlid', 'natural_key', 'created')),
    run_id      bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    PRIMARY KEY (model, source_id)
);
CREATE INDEX IF NOT EXISTS id_map_target ON odoo_migrate.id_map (model, target_id);

-- Anything a command found wrong or worth a look, with enough context to act on it.
CREATE TABLE IF NOT EXISTS odoo_migrate.problems (
    id           bigserial   PRIMARY KEY,
    run_id       bigint      REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    severity     text        NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
    kind         text        NOT NULL,
    model        text,
    table_name   text,
    column_name  text,
    source_id    bigint,
    message      text        NOT NULL,
    detail       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- The findings of `analyze`, one row each.
CREATE TABLE IF NOT EXISTS odoo_migrate.analysis_findings (
    run_id      bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    category    text    NOT NULL,
    subject     text    NOT NULL,
    detail      text    NOT NULL,
    blocking    boolean NOT NULL DEFAULT false,
    covered_by  text
);
CREATE INDEX IF NOT EXISTS analysis_findings_run ON odoo_migrate.analysis_findings (run_id, category);

-- The results of `verify`, one row per check and subject.
CREATE TABLE IF NOT EXISTS odoo_migrate.verification_results (
    run_id      bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    check_name  text    NOT NULL,
    subject     text    NOT NULL,
    passed      boolean NOT NULL,
    source_value text,
    target_value text,
    detail      text
);

-- The findings of the newest analysis, for people.
CREATE OR REPLACE VIEW odoo_migrate.latest_analysis AS
SELECT f.category, f.subject, f.detail, f.blocking, f.covered_by
FROM odoo_migrate.analysis_findings f
WHERE f.run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'analyze')
ORDER BY f.blocking DESC, f.category, f.subject;

-- External ids of source records that the run creates, recreated in the target's ir_model_data
-- in the same transaction as the records.
CREATE TABLE IF NOT EXISTS odoo_migrate.xmlid_plan (
    model       text    NOT NULL,
    source_id   integer NOT NULL,
    module      text    NOT NULL,
    name        text    NOT NULL,
    noupdate    boolean NOT NULL DEFAULT false,
    create_date timestamp,
    write_date  timestamp,
    -- The id of the ir_model_data row, allocated with the plan so that it never depends on the
    -- order in which tables finish.
    target_id   integer NOT NULL,
    run_id      bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    PRIMARY KEY (module, name)
);
CREATE INDEX IF NOT EXISTS xmlid_plan_record ON odoo_migrate.xmlid_plan (model, source_id);

-- Foreign keys of the target tables set aside during the load, restored and validated at its end.
CREATE TABLE IF NOT EXISTS odoo_migrate.deferred_constraints (
    run_id          bigint NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    table_name      text   NOT NULL,
    constraint_name text   NOT NULL,
    definition      text   NOT NULL,
    PRIMARY KEY (table_name, constraint_name)
);

-- The newest verification, one line per check, for people.
CREATE OR REPLACE VIEW odoo_migrate.verification_summary AS
SELECT v.check_name,
       count(*)                          AS subjects,
       count(*) FILTER (WHERE v.passed)  AS passed,
       count(*) FILTER (WHERE NOT v.passed) AS failed,
       bool_and(v.passed)                AS ok
FROM odoo_migrate.verification_results v
WHERE v.run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'verify')
GROUP BY v.check_name
ORDER BY v.check_name;

-- The failed checks of the newest verification, with their detail.
CREATE OR REPLACE VIEW odoo_migrate.verification_failures AS
SELECT v.check_name, v.subject, v.source_value, v.target_value, v.detail
FROM odoo_migrate.verification_results v
WHERE v.run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'verify')
  AND NOT v.passed
ORDER BY v.check_name, v.subject;

-- Per-model progress of the newest migration run, for people and for watching a run.
CREATE OR REPLACE VIEW odoo_migrate.progress AS
SELECT s.model, s.source_table, s.target_table, s.status, s.rows_done, s.rows_total,
       CASE WHEN s.rows_total > 0 THEN round(100.0 * s.rows_done / s.rows_total, 1) END AS percent,
       s.rows_created, s.rows_matched, s.rows_updated, s.rows_rejected, s.checkpoint_at, s.error
FROM odoo_migrate.model_state s
WHERE s.run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'run')
ORDER BY s.status <> 'copying', s.source_table;

-- What a run changed outside the rows it created, so that `rollback` can undo it exactly.
-- The rows of matched records before `--on-match update` (or the numbering step) changed them.
CREATE TABLE IF NOT EXISTS odoo_migrate.before_images (
    run_id      bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    table_name  text    NOT NULL,
    target_id   integer NOT NULL,
    image       jsonb   NOT NULL,
    PRIMARY KEY (run_id, table_name, target_id)
);

-- Pairs the run added to many2many tables (those already present are not recorded).
CREATE TABLE IF NOT EXISTS odoo_migrate.relation_rows (
    run_id      bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    table_name  text    NOT NULL,
    columns     text[]  NOT NULL,
    row_values  integer[] NOT NULL
);
CREATE INDEX IF NOT EXISTS relation_rows_run ON odoo_migrate.relation_rows (run_id, table_name);

-- The state of every sequence of the target before the run moved any of them.
CREATE TABLE IF NOT EXISTS odoo_migrate.sequence_states (
    run_id        bigint  NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    sequence_name text    NOT NULL,
    last_value    bigint  NOT NULL,
    is_called     boolean NOT NULL,
    PRIMARY KEY (run_id, sequence_name)
);

-- Per-model results of the newest migration run, for project managers.
CREATE OR REPLACE VIEW odoo_migrate.run_report AS
SELECT s.model,
       s.source_table,
       s.target_table,
       s.status,
       s.rows_total                                        AS source_rows,
       s.rows_created                                      AS created,
       s.rows_matched                                      AS matched,
       s.rows_updated                                      AS updated,
       s.rows_rejected                                     AS not_copied,
       round(extract(epoch FROM (s.finished_at - s.started_at))::numeric, 1) AS seconds,
       (SELECT count(*) FROM odoo_migrate.problems p
         WHERE p.run_id = s.run_id AND p.table_name = s.target_table AND p.severity <> 'info') AS problems
FROM odoo_migrate.model_state s
WHERE s.run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'run')
ORDER BY s.source_table;
