-- The latest write_date of each source model table when the run was planned, so that records
-- edited in place during the run (Odoo sets write_date on every write) are noticed too, not only
-- records added or deleted.
ALTER TABLE odoo_migrate.model_state ADD COLUMN IF NOT EXISTS source_last_write timestamp;
