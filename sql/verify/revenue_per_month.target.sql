-- Revenue of the Odoo 19 target, company ids translated back to the source's.
SELECT c.source_id AS company_id,
       to_char(m.invoice_date, 'YYYY-MM') || '|' || m.move_type AS subject,
       count(*) AS documents,
       round(sum(m.amount_untaxed_signed), 2) AS untaxed,
       round(sum(m.amount_total_signed), 2) AS total
FROM account_move m
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = m.company_id
WHERE m.state = 'posted' AND m.move_type IN ('out_invoice', 'out_refund')
GROUP BY 1, 2
