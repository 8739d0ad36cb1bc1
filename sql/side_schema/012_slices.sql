-- Side schema version 12: the slices of a big table copied by several jobs at once. A model
-- table of many rows is cut by source id into ranges of about the same number of planned
-- records, each copied by its own job with its own checkpoint here; the table's row in
-- model_state keeps the sums of its slices and says `done` only once every slice is.
CREATE TABLE IF NOT EXISTS odoo_migrate.slices (
    run_id          bigint  NOT NULL,
    -- The plan's key, as model_state.source_table.
    source_table    text    NOT NULL,
    slice           integer NOT NULL,
    -- The slice holds the source ids after after_id (NULL: from the first) up to upto_id
    -- (NULL: to the last, rows added since the plan included).
    after_id        bigint,
    upto_id         bigint,
    rows_total      bigint  NOT NULL DEFAULT 0,
    status          text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'copying', 'done')),
    rows_done       bigint  NOT NULL DEFAULT 0,
    -- The checkpoint: the slice's last copied source id (after_id before its first chunk).
    last_source_id  bigint,
    PRIMARY KEY (run_id, source_table, slice),
    FOREIGN KEY (run_id, source_table) REFERENCES odoo_migrate.model_state (run_id, source_table) ON DELETE CASCADE
);
