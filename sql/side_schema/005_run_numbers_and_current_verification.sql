-- Side schema version 5: every command numbers its own runs, and a verification says which
-- migration run it checked, which checks it ran, and counts only while that run is the current one.

-- The number shown to people: the first `run` is Run 1 whatever `analyze`, `rehearse` or `verify`
-- made before it (the id stays the reference between tables).
ALTER TABLE odoo_migrate.runs ADD COLUMN IF NOT EXISTS number integer;
UPDATE odoo_migrate.runs r SET number = n.number
FROM (SELECT id, row_number() OVER (PARTITION BY command ORDER BY id) AS number FROM odoo_migrate.runs) n
WHERE r.id = n.id AND r.number IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS runs_command_number ON odoo_migrate.runs (command, number);

CREATE OR REPLACE FUNCTION odoo_migrate.number_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.number IS NULL THEN
        -- One numbering per command at a time: a second verify waits for the first to commit.
        PERFORM pg_advisory_xact_lock(hashtext('odoo_migrate.runs.number'), hashtext(NEW.command));
        SELECT coalesce(max(r.number), 0) + 1 INTO NEW.number
        FROM odoo_migrate.runs r WHERE r.command = NEW.command;
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS runs_number ON odoo_migrate.runs;
CREATE TRIGGER runs_number BEFORE INSERT ON odoo_migrate.runs
    FOR EACH ROW EXECUTE FUNCTION odoo_migrate.number_run();

-- For a `verify`: the migration run it checked (NULL when there was none, or for a verification
-- stored before version 5, which did not record it) and the checks it ran (a check may have no
-- subject, so the results alone do not tell).
ALTER TABLE odoo_migrate.runs ADD COLUMN IF NOT EXISTS verified_run bigint
    REFERENCES odoo_migrate.runs (id) ON DELETE SET NULL;
ALTER TABLE odoo_migrate.runs ADD COLUMN IF NOT EXISTS checks text[];
UPDATE odoo_migrate.runs r SET checks = coalesce(
    (SELECT array_agg(DISTINCT v.check_name ORDER BY v.check_name)
     FROM odoo_migrate.verification_results v WHERE v.run_id = r.id), '{}')
WHERE r.command = 'verify' AND r.checks IS NULL;

-- The current migration: the newest `run` not rolled back, whatever its status.
CREATE OR REPLACE VIEW odoo_migrate.current_migration AS
SELECT r.id, r.number, r.status, r.started_at, r.finished_at
FROM odoo_migrate.runs r
WHERE r.command = 'run' AND r.status <> 'rolled_back'
ORDER BY r.id DESC
LIMIT 1;

-- Per check, the newest finished verification of the current migration that ran it, made after
-- that migration last finished. A verification of a run since rolled back or resumed, of an older
-- run, or made while the run was unfinished is not the current state and is not listed. A
-- `verify --check X` replaces the row of X only.
CREATE OR REPLACE VIEW odoo_migrate.current_verification AS
SELECT DISTINCT ON (c.check_name)
       c.check_name, v.id AS verify_id, v.number AS verification, v.finished_at AS verified_at,
       m.number AS migration_run
FROM odoo_migrate.runs v
CROSS JOIN LATERAL unnest(v.checks) AS c (check_name)
LEFT JOIN odoo_migrate.current_migration m ON true
WHERE v.command = 'verify' AND v.status = 'finished'
  AND v.verified_run IS NOT DISTINCT FROM m.id
  AND (m.id IS NULL OR (m.finished_at IS NOT NULL AND v.started_at >= m.finished_at))
ORDER BY c.check_name, v.id DESC;

-- One line per check of the current migration's verification, or one line `not verified` when it
-- has none. `state` is ok, failed or not verified.
DROP VIEW IF EXISTS odoo_migrate.verification_summary;
CREATE VIEW odoo_migrate.verification_summary AS
SELECT cv.check_name,
       count(v.run_id)                           AS subjects,
       count(*) FILTER (WHERE v.passed)          AS passed,
       count(*) FILTER (WHERE NOT v.passed)      AS failed,
       coalesce(bool_and(v.passed), true)        AS ok,
       CASE WHEN bool_and(v.passed) IS FALSE THEN 'failed' ELSE 'ok' END AS state,
       cv.verification, cv.verified_at, cv.migration_run
FROM odoo_migrate.current_verification cv
LEFT JOIN odoo_migrate.verification_results v
       ON v.run_id = cv.verify_id AND v.check_name = cv.check_name
GROUP BY cv.check_name, cv.verification, cv.verified_at, cv.migration_run
UNION ALL
SELECT NULL, 0, 0, 0, false, 'not verified', NULL, NULL, m.number
FROM (SELECT 1) one
LEFT JOIN odoo_migrate.current_migration m ON true
WHERE NOT EXISTS (SELECT 1 FROM odoo_migrate.current_verification)
ORDER BY 1;

-- The failed subjects of the checks listed in verification_summary, with their detail.
DROP VIEW IF EXISTS odoo_migrate.verification_failures;
CREATE VIEW odoo_migrate.verification_failures AS
SELECT v.check_name, v.subject, v.source_value, v.target_value, v.detail,
       cv.verification, cv.verified_at, cv.migration_run
FROM odoo_migrate.current_verification cv
JOIN odoo_migrate.verification_results v
  ON v.run_id = cv.verify_id AND v.check_name = cv.check_name
WHERE NOT v.passed
ORDER BY v.check_name, v.subject;
