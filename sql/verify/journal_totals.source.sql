-- General ledger totals of the Odoo 16 source: per company and journal code, the posted entries
-- and the debit and credit of their items.
SELECT m.company_id,
       'journal ' || j.code AS subject,
       count(DISTINCT m.id) AS entries,
       round(sum(l.debit), 2) AS debit,
       round(sum(l.credit), 2) AS credit
FROM account_move m
JOIN account_journal j ON j.id = m.journal_id
JOIN account_move_line l ON l.move_id = m.id
WHERE m.state = 'posted'
GROUP BY 1, 2
