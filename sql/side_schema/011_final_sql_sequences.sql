-- Side schema version 11: the id sequences of the tables the rules' final SQL names, as they stood
-- before the final SQL first ran in a run, and whether it committed. A final SQL cut off (killed,
-- a lost connection) is rolled back, but not the nextval() calls it made: run again, it starts
-- from the recorded values, so the rows it creates (such as the manual fields of new columns) get
-- the ids an uninterrupted run gives them.
CREATE TABLE IF NOT EXISTS odoo_migrate.final_sql_sequences (
    run_id        bigint NOT NULL REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE,
    sequence_name text   NOT NULL,
    -- NULL for a sequence that never handed out a number.
    last_value    bigint,
    PRIMARY KEY (run_id, sequence_name)
);
CREATE TABLE IF NOT EXISTS odoo_migrate.final_sql_done (
    run_id bigint PRIMARY KEY REFERENCES odoo_migrate.runs (id) ON DELETE CASCADE
);
