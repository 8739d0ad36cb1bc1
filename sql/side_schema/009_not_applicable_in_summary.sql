-- Side schema version 9: `verification_summary` says `not applicable` for a check whose every
-- result is "not applicable" (an app check of an app the source does not have: it passes, and
-- compared nothing), instead of `ok`. Same columns as version 5's view.
CREATE OR REPLACE VIEW odoo_migrate.verification_summary AS
SELECT cv.check_name,
       count(v.run_id)                           AS subjects,
       count(*) FILTER (WHERE v.passed)          AS passed,
       count(*) FILTER (WHERE NOT v.passed)      AS failed,
       coalesce(bool_and(v.passed), true)        AS ok,
       CASE WHEN bool_and(v.passed) IS FALSE THEN 'failed'
            WHEN bool_and(v.target_value = 'not applicable') THEN 'not applicable'
            ELSE 'ok' END AS state,
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
