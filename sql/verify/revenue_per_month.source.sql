-- Revenue of the Odoo 16 source: per company, invoice month and kind (customer invoices and
-- refunds), the posted documents and their untaxed and taxed signed amounts.
SELECT m.company_id,
       to_char(m.invoice_date, 'YYYY-MM') || '|' || m.move_type AS subject,
       count(*) AS documents,
       round(sum(m.amount_untaxed_signed), 2) AS untaxed,
       round(sum(m.amount_total_signed), 2) AS total
FROM account_move m
WHERE m.state = 'posted' AND m.move_type IN ('out_invoice', 'out_refund')
GROUP BY 1, 2
