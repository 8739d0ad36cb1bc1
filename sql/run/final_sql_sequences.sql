-- Before the rules' final SQL, committed on its own: the id sequences of the tables the statements
-- name (the placeholder below is their text, as a literal; a name inside another counts too) are
-- recorded the first time, and, while the final SQL of the run has not committed, set back to what
-- was recorded: a final SQL cut off and run again takes the same ids as an uninterrupted run.
-- Once it has committed, nothing is set back (its rows hold those ids).
INSERT INTO odoo_migrate.final_sql_sequences (run_id, sequence_name, last_value)
SELECT {run_id}, format('%I.%I', n.nspname, s.relname), pg_sequence_last_value(s.oid)
  FROM pg_class s
  JOIN pg_namespace n ON n.oid = s.relnamespace
  JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  JOIN pg_class t ON t.oid = d.refobjid
 WHERE s.relkind = 'S' AND n.nspname = 'public' AND strpos({statements}, t.relname) > 0
ON CONFLICT DO NOTHING;

SELECT CASE WHEN f.last_value IS NULL
            THEN setval(f.sequence_name::regclass, q.seqstart, false)
            ELSE setval(f.sequence_name::regclass, f.last_value, true) END
  FROM odoo_migrate.final_sql_sequences f
  JOIN pg_sequence q ON q.seqrelid = f.sequence_name::regclass
 WHERE f.run_id = {run_id}
   AND NOT EXISTS (SELECT 1 FROM odoo_migrate.final_sql_done WHERE run_id = {run_id});
