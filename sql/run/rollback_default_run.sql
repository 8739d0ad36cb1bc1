-- The run `rollback` takes when none is named: the newest migration run that is not rolled back,
-- or whose rollback was cut off after its rows were removed but before every foreign key and index
-- it had set aside was restored (the message of such a rollback says "run rollback again").
SELECT r.id, r.number::bigint, r.status
  FROM odoo_migrate.runs r
 WHERE r.command = 'run'
   AND (r.status <> 'rolled_back'
        OR EXISTS (SELECT 1 FROM odoo_migrate.deferred_constraints d WHERE d.run_id = r.id)
        OR EXISTS (SELECT 1 FROM odoo_migrate.deferred_indexes d WHERE d.run_id = r.id))
 ORDER BY r.id DESC
 LIMIT 1
