-- Applicants of the Odoo 19 target (ids translated back): per company, job position and stage,
-- the applicants in progress, refused and archived (see applicants.source.sql).
SELECT c.source_id AS company_id,
       'job ' || CASE WHEN a.job_id IS NULL THEN 'none' ELSE coalesce(j.source_id::text, 'unmapped') END
           || '|stage ' || CASE WHEN a.stage_id IS NULL THEN 'none' ELSE coalesce(s.source_id::text, 'unmapped') END AS subject,
       count(*) FILTER (WHERE a.active AND a.refuse_reason_id IS NULL) AS ongoing,
       count(*) FILTER (WHERE a.refuse_reason_id IS NOT NULL) AS refused,
       count(*) FILTER (WHERE NOT a.active AND a.refuse_reason_id IS NULL) AS archived
FROM hr_applicant a
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = a.company_id
LEFT JOIN odoo_migrate.id_map j ON j.model = 'hr.job' AND j.target_id = a.job_id
LEFT JOIN odoo_migrate.id_map s ON s.model = 'hr.recruitment.stage' AND s.target_id = a.stage_id
GROUP BY 1, 2
