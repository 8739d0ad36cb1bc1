-- Trial balance of the Odoo 16 source: per company, calendar year of the entry and account code,
-- the debit, credit and balance of posted journal items.
SELECT l.company_id,
       extract(year FROM l.date)::int || '|' || a.code AS subject,
       round(sum(l.debit), 2) AS debit,
       round(sum(l.credit), 2) AS credit,
       round(sum(l.balance), 2) AS balance
FROM account_move_line l
JOIN account_move m ON m.id = l.move_id AND m.state = 'posted'
JOIN account_account a ON a.id = l.account_id
GROUP BY 1, 2
