-- Applicants of the Odoo 16 source: per company, job position and stage, the applicants: in
-- progress (active, not refused), refused (with a refuse reason) and archived otherwise. 18 moved
-- the person to hr.candidate and 19 took it back onto the applicant (talent pools): the
-- application itself (job, stage, refusal, archiving) kept its meaning and is what is compared.
SELECT a.company_id,
       'job ' || coalesce(a.job_id::text, 'none') || '|stage ' || coalesce(a.stage_id::text, 'none') AS subject,
       count(*) FILTER (WHERE a.active AND a.refuse_reason_id IS NULL) AS ongoing,
       count(*) FILTER (WHERE a.refuse_reason_id IS NOT NULL) AS refused,
       count(*) FILTER (WHERE NOT a.active AND a.refuse_reason_id IS NULL) AS archived
FROM hr_applicant a
GROUP BY 1, 2
