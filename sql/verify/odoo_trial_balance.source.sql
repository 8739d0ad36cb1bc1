-- The Odoo 16 source's posted journal items per company and account (source ids), in cents, for
-- the comparison with the trial balance that the Odoo 19 judge reads through the ORM (`verify`
-- with --odoo-bin). Items without an account (section and note lines) group under a NULL account.
SELECT l.company_id,
       l.account_id,
       a.code,
       round(sum(l.debit) * 100)::bigint AS debit,
       round(sum(l.credit) * 100)::bigint AS credit,
       round(sum(l.balance) * 100)::bigint AS balance,
       count(*) AS lines
FROM account_move_line l
JOIN account_move m ON m.id = l.move_id AND m.state = 'posted'
LEFT JOIN account_account a ON a.id = l.account_id
GROUP BY l.company_id, l.account_id, a.code
